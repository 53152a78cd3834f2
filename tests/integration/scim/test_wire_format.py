"""The real ScimClient replayed against cassettes that pin RFC 7643/7644's documented wire format.

The cassettes in ``tests/cassettes/scim/`` are hand-written from the RFCs' examples (each cites
its sections); ``record_mode="none"`` means any request they do not hold fails the test, so
these pin both what the client sends (method, path, query, JSON body) and what it understands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import vcr

from entrasync.adapters.scim.answers import ScimAuthError
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.target import read_target
from entrasync.config.models import Config
from entrasync.core.model import TargetUser
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.secret import Secret
from entrasync.errors import AuthError, ScimError
from entrasync.operations.apply import ChangeResult, apply_plan
from tests.integration.scim.scenario import FAST, ListAudit

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "scim"
BASE = "https://example.com/v2"
EXT_ROLE = "urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User:role"


def _json_body(r1: Any, r2: Any) -> None:
    """Compare bodies as JSON, so the cassettes can be laid out for people to read."""

    def parse(body: Any) -> Any:
        if not body:
            return None
        text = body.decode() if isinstance(body, bytes) else body
        return json.loads(text)

    assert parse(r1.body) == parse(r2.body)


def _replay() -> vcr.VCR:
    player = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "json_body"],
        filter_headers=["authorization"],
    )
    player.register_matcher("json_body", _json_body)
    return player


def _client() -> ScimClient:
    return ScimClient(BASE, Secret("fake-scim-token-for-tests"), policy=FAST)


def _config(role: str = "roles") -> Config:
    return Config.model_validate({"version": 1, "neuraltrust": {"role_attribute": role}})


def test_listing_reads_the_page_size_then_pages_with_start_index_and_count() -> None:
    with _replay().use_cassette("list_users.yaml") as cassette, _client() as client:
        target = read_target(_config(), client)

    assert cassette.all_played
    assert target.users == (
        TargetUser(
            id="2819c223-7f76-453a-919d-413861904646",
            user_name="bjensen@example.com",
            external_id="bjensen",
            display_name="Babs Jensen",
            email="bjensen@example.com",
            active=True,
            role="member",
            products=("trustgate", "trustlens"),
        ),
        TargetUser(
            id="c75ad752-64ae-4823-840d-ffa80929976c",
            user_name="jsmith@example.com",
            display_name="John Smith",
            email="jsmith@example.com",
            active=False,
            role="admin",
            products=None,
        ),
        TargetUser(id="902c246b-6245-4190-8e05-00816be7344a", user_name="owner@example.com"),
    )
    # Versions are not state (no part of equality): read where the server sent one.
    assert [u.version for u in target.users] == ['W/"3694e05e9dff591"', None, None]


def _create_plan() -> Plan:
    change = Change(
        action=Action.CREATE,
        user="bjensen@example.com",
        entra_id="bjensen",
        display_name="Babs Jensen",
        email="bjensen@example.com",
        before=None,
        after=Access("member", ("trustgate", "trustlens"), True),
        groups=("G",),
        decided_by="G",
        reason="new",
        user_name="bjensen@example.com",
        given_name="Barbara",
        family_name="Jensen",
    )
    return Plan("c.yaml", "0" * 64, BASE, "0" * 64, changes=(change,))


def test_create_posts_the_rfc_user_and_a_409_on_the_same_user_is_recognised_as_done() -> None:
    plan = _create_plan()
    with _replay().use_cassette("create_user.yaml") as cassette, _client() as client:
        first = apply_plan(plan, client, _config(), ListAudit())
        again = apply_plan(plan, client, _config(), ListAudit())

    assert cassette.all_played
    [created] = first.results
    assert (created.outcome, created.http_status, created.request_id) == (
        "succeeded",
        201,
        "create-1",
    )
    [converged] = again.results
    assert converged == ChangeResult(
        plan.changes[0],
        "succeeded",
        409,
        "conflict-2",
        detail=(
            "already exists as planned (409 on create; an earlier attempt, of this run or "
            "another, created it): nothing to do"
        ),
    )


def test_patch_sends_patchop_replace_operations_and_reads_204_and_200() -> None:
    ops = [{"op": "replace", "path": "active", "value": False}]
    reactivate: list[dict[str, Any]] = [
        {"op": "replace", "path": "active", "value": True},
        {"op": "replace", "path": EXT_ROLE, "value": "admin"},
        {"op": "replace", "path": "externalId", "value": "bjensen"},
    ]
    user_id = "2819c223-7f76-453a-919d-413861904646"
    with _replay().use_cassette("patch_and_errors.yaml") as cassette, _client() as client:
        no_content = client.patch_user(user_id, ops)
        with_body = client.patch_user(user_id, reactivate)
        with pytest.raises(ScimError) as vanished:
            client.patch_user("gone", ops, "bjensen@example.com")
        with pytest.raises(ScimAuthError) as unauthorized:
            client.page_size()

    assert cassette.all_played
    assert (no_content.status, no_content.resource) == (204, None)
    assert with_body.status == 200
    assert with_body.resource is not None
    assert with_body.resource["externalId"] == "bjensen"
    assert vanished.value.status == 404
    assert "vanished while updating bjensen@example.com" in vanished.value.message
    assert isinstance(unauthorized.value, AuthError)
    assert "expired or invalid" in unauthorized.value.message

"""Real msal + GraphClient code replayed against cassettes of Microsoft's documented exchanges.

``record_mode="none"``: nothing leaves the process, and a request the cassette does not hold
fails the test. Re-recording against a real tenant uses the same filters (see ``VCR``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import vcr

from entrasync.adapters.graph.auth import StaticTokenProvider, make_token_provider
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import read_directory
from entrasync.adapters.graph.groups import GroupResolutionError, resolve_groups
from entrasync.adapters.throttle import ThrottleGate
from entrasync.core.model import Group
from entrasync.core.secret import Secret
from entrasync.errors import AuthError
from tests.unit.fake_time import FakeTime

from .conftest import make_config

CASSETTES = Path(__file__).parents[2] / "cassettes" / "graph"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
GROUP = "45b7d2e7-b882-4a80-ba97-10b7a63b8fa4"
TEST_SECRET = "fake-cassette-secret-for-tests"


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """At record time only: no token leaves in a response body, no cookie in a header."""
    body = response["body"]["string"]
    try:
        data = json.loads(body)
    except ValueError:
        return response
    if isinstance(data, dict):
        for key in ("access_token", "refresh_token", "id_token", "value"):
            if isinstance(data.get(key), str):
                data[key] = "REDACTED"
        body = json.dumps(data).encode()
        response["body"]["string"] = body
        response["headers"]["Content-Length"] = [str(len(body))]
    response["headers"].pop("Set-Cookie", None)
    return response


def _same_form(sent: Any, recorded: Any) -> None:
    """A form body (the token exchange) as the cassette holds it, its secrets redacted on both
    sides by the filters below: a wrong scope or grant is a request the cassette does not hold."""

    def form(request: Any) -> list[tuple[str, str]]:
        body = request.body or b""
        return sorted(parse_qsl(body.decode() if isinstance(body, bytes) else body))

    assert form(sent) == form(recorded)


VCR = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query", "form"],
    filter_headers=[("authorization", "REDACTED")],
    filter_post_data_parameters=[
        ("client_secret", "REDACTED"),
        ("client_assertion", "REDACTED"),
        ("refresh_token", "REDACTED"),
        ("code", "REDACTED"),
    ],
    before_record_response=_scrub_response,
    decode_compressed_response=True,
    record_on_exception=False,
)
VCR.register_matcher("form", _same_form)
ENV = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": TEST_SECRET}
CONFIG = make_config([{"id": GROUP, "name": "Golf Assist", "role": "member"}])


def ready_client(sleeps: list[float] | None = None) -> GraphClient:
    time = FakeTime()
    time.slept = sleeps if sleeps is not None else []
    return GraphClient(
        "https://graph.microsoft.com/v1.0",
        StaticTokenProvider(Secret("x")),
        sleep=time.sleep,
        gate=ThrottleGate(clock=time.clock, sleep=time.sleep),
    )


def test_client_secret_token_exchange_follows_the_documented_wire_format() -> None:
    with VCR.use_cassette("token_client_secret.yaml") as cassette:
        token = make_token_provider(CONFIG, ENV)()
    assert token == "REDACTED"
    assert cassette.all_played  # each request matched one held, its form body included
    form = dict(parse_qsl(cassette.requests[1].body.decode()))
    assert (form["grant_type"], form["scope"]) == (
        "client_credentials",
        "https://graph.microsoft.com/.default",
    )


def test_an_invalid_secret_replays_as_plain_aadsts7000215() -> None:
    with VCR.use_cassette("token_invalid_secret.yaml"), pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, ENV)()
    assert "AADSTS7000215: the client secret is invalid or expired" in caught.value.message
    assert "[correlation id aaaa0000-bb11-2222-33cc-444444dddddd]" in caught.value.message


def test_group_and_paged_members_read_into_a_directory() -> None:
    with VCR.use_cassette("group_members_paging.yaml") as cassette, ready_client() as client:
        directory = read_directory(CONFIG, client)
    assert cassette.all_played
    (group,) = directory.groups
    assert group.group.display_name == "Golf Assist"
    assert group.member_ids == (
        "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "5bde3e51-d13b-4db1-9948-fe4b109d11a7",
        "e8b753b5-4117-464e-9a08-713e1ff266b3",
    )  # the nested group and the device are skipped
    guest = directory.users["5bde3e51-d13b-4db1-9948-fe4b109d11a7"]
    assert (guest.user_principal_name, guest.is_guest) == (
        "admin_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        True,
    )
    assert directory.users["e8b753b5-4117-464e-9a08-713e1ff266b3"].account_enabled is False


def test_a_403_replays_as_the_permission_hint() -> None:
    with (
        VCR.use_cassette("graph_403.yaml"),
        ready_client() as client,
        pytest.raises(AuthError) as caught,
    ):
        read_directory(CONFIG, client)
    assert "request-id 9c0d1e2f-0000-4a1b-8c2d-3e4f00000403" in caught.value.message
    assert "GroupMember.Read.All and User.Read.All" in (caught.value.hint or "")


def test_a_429_is_retried_after_the_servers_retry_after() -> None:
    sleeps: list[float] = []
    with VCR.use_cassette("graph_429.yaml") as cassette, ready_client(sleeps) as client:
        group = client.get(f"groups/{GROUP}", {"$select": "id,displayName"})
    assert group["displayName"] == "Golf Assist"
    assert cassette.all_played
    assert sleeps == [10.0]


def test_a_batch_of_lookups_answered_out_of_order_retries_only_the_throttled_one() -> None:
    missing = "0b3f1c9e-1111-4c1e-9a0b-000000000404"
    config = make_config(
        [
            {"id": GROUP, "name": "golf assist", "role": "member"},
            {"id": "02bd9fd6-8f93-4758-87c3-1fb73740a315", "role": "member"},
            {"id": missing, "role": "member"},
        ]
    )
    sleeps: list[float] = []
    # The body is matched too (as JSON): the second $batch must hold request 2 alone.
    with (
        VCR.use_cassette("group_batch.yaml", match_on=[*VCR.match_on, "body"]) as cassette,
        ready_client(sleeps) as client,
    ):
        found = resolve_groups(client, config.mappings)
    assert cassette.all_played
    assert sleeps == [2.0]  # the inner Retry-After
    golf, hr, gone = found
    assert golf == Group(GROUP, "Golf Assist")
    assert hr == Group("02bd9fd6-8f93-4758-87c3-1fb73740a315", "HR Taskforce")
    assert isinstance(gone, GroupResolutionError)
    assert gone.kind == "missing"
    assert gone.message == (
        f"group {missing} was not found in Entra (HTTP 404 Request_ResourceNotFound, "
        "request-id 5d1e2f3a-0000-4b6c-8d9e-0f1a00000404)"
    )
    assert "replicated" in (gone.hint or "")


@pytest.mark.parametrize("path", sorted(CASSETTES.glob("*.yaml")), ids=lambda p: p.name)
def test_cassettes_cite_their_source_and_hold_no_client_secret(path: Path) -> None:
    # Headers and tokens: tests/unit/test_cassettes_hold_no_credential.py, for every cassette.
    text = path.read_text()
    assert "https://learn.microsoft.com/" in text.split("interactions:")[0]
    for line in text.splitlines():
        if "client_secret=" in line:
            assert "REDACTED" in line

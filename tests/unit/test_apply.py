"""The pure parts of apply: which SCIM writes a change becomes, and when it is already done."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.scim.attributes import Layout
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.throttle import AdaptiveLimit
from entrasync.commands import apply as apply_command
from entrasync.config.models import Config, LoadedConfig
from entrasync.core.apply_rules import UnsafePlanError, in_place, satisfies
from entrasync.core.model import TargetUser
from entrasync.core.plan import Access, Action, Change, Plan, Violation
from entrasync.core.secret import Secret
from entrasync.operations.apply import (
    UNREAD_AFTER_LOST,
    ChangeResult,
    _Outage,
    apply_plan,
    create_body,
    describe,
    patch_operations,
)
from entrasync.operations.stopping import Stopped, StopRequest
from tests.unit.planning_factories import nt, plan_inputs

CORE = Layout.of("roles", "entitlements")


def change(action: Action, after: Access, **extra: Any) -> Change:
    fields: dict[str, Any] = {
        "user": "ann@contoso.com",
        "entra_id": "e-1",
        "display_name": "Ann",
        "email": "ann@contoso.com",
        "before": None if action is Action.CREATE else Access("member", ("a",), True),
        "groups": ("G",),
        "decided_by": "G",
        "reason": "irrelevant to apply",
        "target_id": None if action is Action.CREATE else "id-1",
    }
    fields.update(extra)
    return Change(action=action, after=after, **fields)


ACTIVE = {"op": "replace", "path": "active", "value": True}
INACTIVE = {"op": "replace", "path": "active", "value": False}
ADMIN = {"op": "replace", "path": "roles", "value": [{"value": "admin", "primary": True}]}
MEMBER = {"op": "replace", "path": "roles", "value": [{"value": "member", "primary": True}]}
PRODUCTS_AB = {"op": "replace", "path": "entitlements", "value": [{"value": "a"}, {"value": "b"}]}
EXTERNAL = {"op": "replace", "path": "externalId", "value": "e-1"}


@pytest.mark.parametrize(
    ("the_change", "expected"),
    [
        (change(Action.UPDATE, Access("admin", None, True)), [ADMIN]),
        (change(Action.UPDATE, Access("member", ("a", "b"), True)), [PRODUCTS_AB]),
        (
            change(
                Action.UPDATE,
                Access("admin", ("a", "b"), True),
                before=Access("member", None, True),
            ),
            [ADMIN, PRODUCTS_AB],
        ),
        (change(Action.DEACTIVATE, Access("member", ("a",), False)), [INACTIVE]),
        (
            change(
                Action.REACTIVATE,
                Access("member", ("a", "b"), True),
                before=Access("member", ("a",), False),
            ),
            [ACTIVE, PRODUCTS_AB],
        ),
        (
            change(Action.UPDATE, Access("member", ("a",), True), adopts=True),
            [EXTERNAL],
        ),
        (
            change(Action.UPDATE, Access("admin", ("a",), True), adopts=True),
            [ADMIN, EXTERNAL],
        ),
    ],
    ids=[
        "a role change writes the role alone, products left alone on a non-product role",
        "a product change on an unchanged role writes the products alone",
        "a role and products change writes both",
        "deactivation only sets active=false",
        "reactivation sets active and what differs",
        "an adoption with the access as it is only sets externalId",
        "an adoption that changes the role sets both",
    ],
)
def test_patch_operations_write_only_what_the_plan_shows_changing(
    the_change: Change, expected: list[dict[str, Any]]
) -> None:
    # Rewriting an unchanged role would drop a second role value entrasync does not read.
    assert patch_operations(the_change, CORE) == expected


@pytest.mark.parametrize(
    ("role_attribute", "written"),
    [
        ("Roles", {"Roles": [{"value": "admin", "primary": True}]}),
        ("urn:ietf:params:scim:schemas:core:2.0:User:title", {"title": "admin"}),
        (
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:User:roles",
            {"roles": [{"value": "admin", "primary": True}]},
        ),
    ],
    ids=["a core name in another case", "a core attribute by its full URN", "the URN in capitals"],
)
def test_a_core_attribute_is_written_as_core_however_it_is_named(
    role_attribute: str, written: dict[str, Any]
) -> None:
    layout = Layout.of(role_attribute, "entitlements")
    body = create_body(change(Action.CREATE, Access("admin", None, True)), layout)
    assert {k: v for k, v in body.items() if k.lower() in ("roles", "title")} == written
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    resource = {"id": "1", "userName": "ann@contoso.com", **written}
    assert layout.read_role(resource) == ("admin", True)


def test_an_external_id_in_another_case_is_the_same_entra_user() -> None:
    done = change(Action.UPDATE, Access("admin", None, True), entra_id="e-1a")
    user = TargetUser("id-1", "ann@contoso.com", external_id="E-1A", role="admin")
    assert satisfies(user, done)


def test_the_reason_text_never_changes_what_is_written() -> None:
    after = Access("admin", None, True)
    assert patch_operations(change(Action.UPDATE, after, reason="deactivate everyone"), CORE) == (
        patch_operations(change(Action.UPDATE, after), CORE)
    )


def test_a_create_body_uses_the_upn_and_the_entra_id() -> None:
    body = create_body(
        change(
            Action.CREATE,
            Access("member", ("a",), True),
            user_name="Ann@Contoso.com",
            given_name="Ann",
            family_name=None,
        ),
        CORE,
    )
    assert body == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Ann@Contoso.com",
        "active": True,
        "externalId": "e-1",
        "displayName": "Ann",
        "name": {"givenName": "Ann"},
        "emails": [{"value": "ann@contoso.com", "type": "work", "primary": True}],
        "roles": [{"value": "member", "primary": True}],
        "entitlements": [{"value": "a"}],
    }


def user(**fields: Any) -> TargetUser:
    base: dict[str, Any] = {
        "id": "id-1",
        "user_name": "Ann@Contoso.com",
        "external_id": "e-1",
        "active": True,
        "role": "admin",
        "products": ("x",),
    }
    base.update(fields)
    return TargetUser(**base)


@pytest.mark.parametrize(
    ("the_user", "the_change", "done"),
    [
        (user(), change(Action.UPDATE, Access("admin", None, True)), True),
        (user(role="member"), change(Action.UPDATE, Access("admin", None, True)), False),
        (user(external_id=None), change(Action.UPDATE, Access("admin", None, True)), False),
        (user(products=("a",)), change(Action.UPDATE, Access("admin", ("a", "b"), True)), False),
        (
            user(active=False, role="x"),
            change(Action.DEACTIVATE, Access("admin", None, False)),
            True,
        ),
        (user(active=False), change(Action.REACTIVATE, Access("admin", None, True)), False),
        # A PATCH carried out as an add: the role is there among others, not in place.
        (user(role_alone=False), change(Action.UPDATE, Access("admin", None, True)), False),
        # A role the change leaves as it is was not written: other values beside it stay.
        (
            user(role="member", products=("a", "b"), role_alone=False),
            change(Action.UPDATE, Access("member", ("a", "b"), True)),
            True,
        ),
        (
            user(role="member", products=("a",), role_alone=False),
            change(Action.REACTIVATE, Access("member", ("a",), True)),
            True,
        ),
    ],
    ids=[
        "role and externalId in place",
        "another role",
        "not adopted yet",
        "products differ",
        "deactivated, whatever the role now",
        "still inactive",
        "the role written, read among other values",
        "products written, the role among other values as it was",
        "reactivated, the role among other values as it was",
    ],
)
def test_satisfies(the_user: TargetUser, the_change: Change, done: bool) -> None:
    assert satisfies(the_user, the_change) is done


def test_a_create_is_in_place_when_the_user_name_exists_as_planned_whatever_its_case() -> None:
    create = change(Action.CREATE, Access("admin", None, True), user_name="ann@contoso.com")
    assert in_place(create, [user()])
    assert not in_place(create, [user(user_name="bob@contoso.com")])
    assert not in_place(change(Action.UPDATE, Access("admin", None, True)), [user(id="other")])


class _Sink:
    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def change(self, change: Change, **fields: Any) -> None:
        self.outcomes.append(fields["outcome"])


def _made(request: httpx.Request) -> httpx.Response:
    """A server that makes each role update of :func:`_updates`: answered 204 (no content),
    and read back as updated."""
    user = request.url.path.rsplit("/", 1)[-1]
    if request.method == "GET":
        shown = {"id": user, "userName": user, "externalId": "e-1", "active": True}
        return httpx.Response(200, json={**shown, "roles": [{"value": "admin"}]})
    return httpx.Response(204)


def _updates(count: int) -> Plan:
    """A plan of ``count`` role updates, of users u0, u1, ..."""
    changes = tuple(
        change(Action.UPDATE, Access("admin", None, True), user=f"u{i}", target_id=f"u{i}")
        for i in range(count)
    )
    return Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=changes)


@pytest.mark.parametrize(
    ("status", "outcomes"),
    [
        (401, ["failed", "skipped", "skipped"]),
        (403, ["failed", "succeeded", "succeeded"]),
        (404, ["failed", "succeeded", "succeeded"]),
    ],
    ids=[
        "a rejected token stops every later write",
        "a 403 on one user does not stop the others",
        "a vanished user does not stop the others",
    ],
)
def test_which_failures_stop_the_run(status: int, outcomes: list[str]) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status) if request.url.path.endswith("/u0") else _made(request)

    plan = _updates(3)
    sink = _Sink()
    transport = httpx.MockTransport(server)
    with ScimClient(plan.scim_url, Secret("t"), transport=transport) as client:
        apply_plan(plan, client, Config.model_validate({"version": 1}), sink, parallelism=1)
    assert sink.outcomes == outcomes


def test_a_write_that_waited_for_a_slot_while_the_stop_came_is_never_sent() -> None:
    """A throttled server cut the limit to one: the second write waits for the first's slot,
    the stop comes meanwhile, and the second write is recorded as not attempted, never sent."""
    stop = StopRequest()
    sent: list[str] = []
    waiting = threading.Event()

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        assert waiting.wait(5)  # the other write now waits for this slot
        stop.request(signal.SIGTERM)
        return httpx.Response(204)

    class Watched(AdaptiveLimit):
        def acquire(self) -> None:
            if self.in_flight:
                waiting.set()
            super().acquire()

    plan = _updates(2)
    sink = _Sink()
    transport = httpx.MockTransport(server)
    with (
        ScimClient(plan.scim_url, Secret("t"), transport=transport, limit=Watched(1)) as client,
        pytest.raises(Stopped),
    ):
        apply_plan(
            plan, client, Config.model_validate({"version": 1}), sink, parallelism=2, stop=stop
        )
    assert len(sent) == 1
    assert sorted(sink.outcomes) == ["skipped", "succeeded"]


@pytest.mark.parametrize("fresh", [True, False], ids=["a plan this run made", "a saved plan"])
def test_apply_reports_each_rule_once(fresh: bool) -> None:
    """The plan's percent check left users protected by their Entra name out of its base; the
    re-check at apply has only the NeuralTrust read and words the same rule differently. A plan
    this run made is told as it found it; a saved plan's words are not trusted, so its rule is
    told as apply finds it now."""
    s = plan_inputs({}, [nt(n) for n in "abcd"], on_removed="deactivate")
    said = Violation("max_deactivation_percent", "as the plan found it")
    plan = replace(s.plan, violations=(said,))
    loaded = LoadedConfig(s.config, "c.yaml", "0" * 64)
    with pytest.raises(UnsafePlanError) as caught:
        apply_command._check_safety(plan, s.target, loaded, None, fresh=fresh)
    rules = [v.rule for v in caught.value.violations]
    assert rules.count("max_deactivation_percent") == 1
    assert (said in caught.value.violations) is fresh


QUICK = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001)


def _applied(
    server: Callable[[httpx.Request], httpx.Response],
    plan: Plan,
    policy: RetryPolicy = QUICK,
) -> tuple[list[str], Any]:
    """``plan`` applied one change at a time against ``server``: (outcomes, the report)."""
    sink = _Sink()
    transport = httpx.MockTransport(server)
    with ScimClient(plan.scim_url, Secret("t"), transport=transport, policy=policy) as client:
        report = apply_plan(
            plan, client, Config.model_validate({"version": 1}), sink, parallelism=1
        )
    return sink.outcomes, report


def _made_then_answered(first: int, retries: httpx.Response) -> tuple[int, list[str], Any]:
    """A PATCH carried out and answered ``first``, its retries answered ``retries``, the
    read-back showing it in place: (PATCHes sent, outcomes, the result)."""
    patches: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            patches.append(1)
            return httpx.Response(first) if len(patches) == 1 else retries
        user = {"id": "u0", "userName": "u0", "externalId": "e-1", "active": True}
        return httpx.Response(200, json={**user, "roles": [{"value": "admin"}]})

    outcomes, report = _applied(server, _updates(1))
    return len(patches), outcomes, report.results[0]


def test_a_write_committed_then_answered_504_and_503_on_its_retries_is_read_back() -> None:
    patches, outcomes, result = _made_then_answered(504, httpx.Response(503))
    assert (patches, outcomes) == (3, ["succeeded"])
    assert (result.http_status, (result.detail or "")[:44]) == (
        503,
        "read back in place after the answer was lost",
    )


def test_a_write_answered_504_then_throttled_to_the_end_is_read_back() -> None:
    """The first attempt was made; its retries met 429 until they ran out. Recorded as a
    plain 429, the audit said the change failed while it was in place."""
    throttled = httpx.Response(429, headers={"Retry-After": "0"})
    patches, outcomes, result = _made_then_answered(504, throttled)
    assert (patches, outcomes) == (3, ["succeeded"])
    assert (result.detail or "").startswith("read back in place after the answer was lost")


def _one_lost_patch(
    read_back: dict[str, Any] | None,
    read_back_status: int = 404,
    patched: httpx.Response | None = None,
    plan: Plan | None = None,
) -> tuple[list[str], Any]:
    """A PATCH (of ``plan``'s one change, else a role update) answered 502 (or ``patched``),
    then the read-back answering ``read_back`` (None: ``read_back_status``)."""
    sink = _Sink()

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return patched or httpx.Response(502)
        if read_back is None:
            return httpx.Response(read_back_status)
        return httpx.Response(200, json=read_back)

    policy = RetryPolicy(max_retries=0)
    transport = httpx.MockTransport(server)
    with ScimClient(
        "https://scim.example/v2", Secret("t"), transport=transport, policy=policy
    ) as client:
        written = _updates(1) if plan is None else plan
        report = apply_plan(written, client, Config.model_validate({"version": 1}), sink)
    return sink.outcomes, report.results[0]


def test_a_patch_whose_answer_shows_no_change_and_that_cannot_be_read_back_claims_nothing() -> None:
    """200 with the user unchanged, then the read-back refused: not recorded as succeeded."""
    unchanged = {"id": "u0", "userName": "u0", "roles": [{"value": "member"}]}
    patched = httpx.Response(200, json=unchanged)
    outcomes, result = _one_lost_patch(None, read_back_status=503, patched=patched)
    assert outcomes == ["failed"]
    assert (result.http_status, result.error) == (
        200,
        "NeuralTrust answered 200, but the user it sent back does not show the change, and it "
        "could not be read back: it may not have been made; run `entrasync plan` to see the user "
        "as it is",
    )
    assert "role_attribute" in (result.hint or "")


def test_a_patch_answered_with_another_user_is_read_back_not_taken_as_done() -> None:
    """The answer shows all the change wants, but on someone else: only the read-back of the
    user written can say whether the write was made."""
    other = {"id": "someone-else", "userName": "mallory", "externalId": "e-1", "active": True}
    answer = httpx.Response(200, json={**other, "roles": [{"value": "admin"}]})
    unchanged = {"id": "u0", "userName": "u0", "roles": [{"value": "member"}]}
    outcomes, result = _one_lost_patch(unchanged, patched=answer)
    assert outcomes == ["failed"]
    assert (result.http_status, result.error) == (
        200,
        "NeuralTrust answered 200 with another user than the one written, and read back just "
        "after, it is not in place either: it took the write without carrying all of it out",
    )
    assert "answered in NeuralTrust's place" in (result.hint or "")
    in_place = {"id": "u0", "userName": "u0", "externalId": "e-1", "roles": [{"value": "admin"}]}
    outcomes, result = _one_lost_patch(in_place, patched=answer)
    assert outcomes == ["succeeded"]
    assert result.detail == "its answer held another user; read back just after, it is in place"


def test_a_patch_answered_with_a_list_is_said_to_hold_no_user() -> None:
    listed = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": []}
    in_place = {"id": "u0", "userName": "u0", "externalId": "e-1", "roles": [{"value": "admin"}]}
    outcomes, result = _one_lost_patch(in_place, patched=httpx.Response(200, json=listed))
    assert (outcomes, result.detail) == (
        ["succeeded"],
        "its answer held no user; read back just after, it is in place",
    )


def test_a_deactivation_answered_with_another_inactive_user_keeps_nobody_out() -> None:
    """Taken as done, the user it was meant for would keep their access."""
    leaver = change(Action.DEACTIVATE, Access("member", None, False), user="u0", target_id="u0")
    plan = Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=(leaver,))
    someone = {"id": "someone-else", "userName": "mallory", "externalId": "e-1", "active": False}
    still_in = {"id": "u0", "userName": "u0", "externalId": "e-1", "active": True}
    answer = httpx.Response(200, json=someone)
    outcomes, result = _one_lost_patch(still_in, patched=answer, plan=plan)
    assert (outcomes, result.error[:70]) == (
        ["failed"],
        "NeuralTrust answered 200 with another user than the one written, and r",
    )


def test_a_patch_answered_with_its_user_spelt_in_another_case_is_taken_as_shown() -> None:
    spelt = {"ID": "u0", "UserName": "u0", "externalId": "e-1", "roles": [{"value": "admin"}]}
    outcomes, result = _one_lost_patch(
        None, read_back_status=503, patched=httpx.Response(200, json=spelt)
    )
    assert (outcomes, result.detail) == (["succeeded"], None)


def test_a_patch_answered_200_without_the_user_is_read_back_and_succeeds_in_place() -> None:
    made = {"id": "u0", "userName": "u0", "externalId": "e-1", "active": True}
    in_place = {**made, "roles": [{"value": "admin"}]}
    outcomes, result = _one_lost_patch(in_place, patched=httpx.Response(200))
    assert outcomes == ["succeeded"]
    assert (result.http_status, result.detail) == (
        200,
        "its answer held no user; read back just after, it is in place",
    )
    outcomes, result = _one_lost_patch(None, read_back_status=503, patched=httpx.Response(200))
    assert outcomes == ["failed"]
    assert result.error == (
        "NeuralTrust answered 200 without the user, which a 200 sends, and it could not be read "
        "back: it may not have been made; run `entrasync plan` to see the user as it is"
    )


def test_a_read_back_answered_with_a_user_without_its_id_leaves_the_failure_recorded() -> None:
    # Raised from the read-back, a KeyError escaped apply: a traceback, and no record of a
    # write NeuralTrust may have made.
    outcomes, result = _one_lost_patch({"userName": "u0", "roles": [{"value": "admin"}]})
    assert outcomes == ["failed"]
    assert result.error == f"NeuralTrust answered 502 to updating u0; {UNREAD_AFTER_LOST}"


def test_a_write_answered_502_that_cannot_be_read_back_may_have_been_made() -> None:
    """NeuralTrust made the change, its answer was a gateway's 502 and the read-back met 503:
    recorded as a plain 502, the audit said the change failed while it was in place."""
    outcomes, result = _one_lost_patch(None, read_back_status=503)
    assert outcomes == ["failed"]
    assert result.error == (
        "NeuralTrust answered 502 to updating u0; the user could not be read back after it, "
        "so the change may have been made: run `entrasync plan` to see the user as it is"
    )


def test_a_read_back_that_shows_the_change_not_in_place_says_so() -> None:
    outcomes, result = _one_lost_patch({"id": "u0", "userName": "u0", "externalId": "e-1"})
    assert outcomes == ["failed"]
    assert result.error == (
        "NeuralTrust answered 502 to updating u0; read back just after, the change was not in place"
    )


def test_a_create_met_with_409_while_stopping_is_failed_not_left_unattempted() -> None:
    # The create was sent (an earlier attempt of it may have made the user); the lookup that
    # would tell is not sent once the stop came: the 409 stands, the create is no "skipped".
    stop = StopRequest()

    def server(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        stop.request(signal.SIGTERM)
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409"}
        return httpx.Response(409, json={**body, "scimType": "uniqueness"})

    create = change(Action.CREATE, Access("member", None, True), user_name="ann@contoso.com")
    plan = Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=(create,))
    sink = _Sink()
    transport = httpx.MockTransport(server)
    with ScimClient(plan.scim_url, Secret("t"), transport=transport) as client:
        # Every change was sent: the run is whole, and the caller exits with the signal.
        report = apply_plan(plan, client, Config.model_validate({"version": 1}), sink, stop=stop)
    assert sink.outcomes == ["failed"]
    [result] = report.results
    assert result.http_status == 409
    assert stop.signum == signal.SIGTERM


def test_a_create_met_with_409_whose_lookup_fails_is_recorded_as_the_409() -> None:
    """The lookup's 503 was recorded alone: the audit no longer said the user exists."""

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"status": "409", "detail": "userName taken"})
        return httpx.Response(503)

    create = change(Action.CREATE, Access("member", None, True), user_name="ann@contoso.com")
    plan = Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=(create,))
    sink = _Sink()
    transport = httpx.MockTransport(server)
    policy = RetryPolicy(max_retries=0)
    with ScimClient(plan.scim_url, Secret("t"), transport=transport, policy=policy) as client:
        report = apply_plan(plan, client, Config.model_validate({"version": 1}), sink)
    [result] = report.results
    assert (result.outcome, result.http_status) == ("failed", 409)
    assert result.error == (
        "NeuralTrust refused creating ann@contoso.com: conflict (409): userName taken; looking "
        "the user up failed too: NeuralTrust answered 503 to looking up ann@contoso.com"
    )
    # The user may be this create's own, made by an attempt whose answer was lost.
    assert "an earlier attempt of this write whose answer was lost" in (result.hint or "")


@pytest.mark.parametrize(
    ("first", "said"),
    [
        pytest.param(
            httpx.Response(503, headers={"Retry-After": "0"}),
            "NeuralTrust answered 429 to updating u0",
            id="a throttle's 503: the 429 stands",
        ),
        pytest.param(
            httpx.Response(504),
            "NeuralTrust answered 504 to updating u0; read back just after, the change was not "
            "in place",
            id="a 504: read back",
        ),
    ],
)
def test_a_write_throttled_to_the_end_after_a_5xx_does_not_stop_the_others(
    first: httpx.Response, said: str
) -> None:
    """A throttle is "slow down", not "stop" (docs/neuraltrust-scim.md): the other writes go on."""
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        user = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET" and user == "u0":  # u0 read back: not changed
            return httpx.Response(200, json={"id": user, "userName": user, "externalId": "e-1"})
        asked.append(user)
        if user != "u0":
            return _made(request)
        return (
            first if asked.count("u0") == 1 else httpx.Response(429, headers={"Retry-After": "0"})
        )

    outcomes, report = _applied(server, _updates(3))
    assert outcomes == ["failed", "succeeded", "succeeded"]
    assert report.results[0].error == said


@pytest.mark.parametrize(
    ("read_back", "outcome", "said"),
    [
        pytest.param(
            httpx.Response(200, json={"id": "u0", "userName": "u0", "active": True}),
            "failed",
            "NeuralTrust answered 204 (no content: the write made as sent), and read back just "
            "after, it is not in place: it took the write without carrying all of it out",
            id="read back not in place: failed",
        ),
        pytest.param(
            httpx.Response(503),
            "succeeded",
            "answered 204 (no content); it could not be read back to confirm the change",
            id="not readable: the 204 stands, unconfirmed",
        ),
    ],
)
def test_a_patch_answered_204_is_held_to_what_reading_it_back_shows(
    read_back: httpx.Response, outcome: str, said: str
) -> None:
    # A 204 was taken as done: a server that drops an attribute it does not know (a wrong
    # role_attribute) and answers 204 had every run record a revocation it never made.
    def server(request: httpx.Request) -> httpx.Response:
        return read_back if request.method == "GET" else httpx.Response(204)

    outcomes, report = _applied(server, _updates(1), RetryPolicy(max_retries=0))
    assert outcomes == [outcome]
    (result,) = report.results
    assert (result.error or result.detail) == said


def test_a_patch_answered_with_the_user_but_not_its_user_name_is_taken_as_shown() -> None:
    # The listing's rule that a user has a userName made such an answer "not shown": read
    # back for nothing, and failed when that read-back failed.
    sent: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        shown = {"id": "u0", "externalId": "e-1", "active": True, "roles": [{"value": "admin"}]}
        return httpx.Response(200, json=shown) if request.method == "PATCH" else httpx.Response(503)

    outcomes, report = _applied(server, _updates(1), RetryPolicy(max_retries=0))
    assert (outcomes, sent) == (["succeeded"], ["PATCH"])
    assert report.results[0].detail is None


def test_a_write_that_could_not_connect_is_not_said_to_be_maybe_made() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    outcomes, report = _applied(refused, _updates(2), RetryPolicy(max_retries=0))
    assert outcomes == ["failed", "skipped"]
    assert "may have been made" not in (report.results[0].error or "")
    assert (report.results[0].error or "").startswith("could not reach")


@pytest.mark.parametrize(
    "lookup",
    [
        pytest.param(httpx.ConnectError("connection refused"), id="connection lost"),
        pytest.param(httpx.Response(401), id="token rejected"),
    ],
)
def test_a_409_whose_lookup_loses_the_connection_or_the_token_stops_the_later_writes(
    lookup: httpx.Response | httpx.ConnectError,
) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"status": "409", "detail": "userName taken"})
        if isinstance(lookup, httpx.ConnectError):
            raise httpx.ConnectError("connection refused", request=request)
        return lookup

    creates = tuple(
        change(Action.CREATE, Access("member", None, True), user=f"u{i}", user_name=f"u{i}")
        for i in range(2)
    )
    plan = Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=creates)
    outcomes, report = _applied(server, plan, RetryPolicy(max_retries=0))
    assert outcomes == ["failed", "skipped"]
    assert (report.results[0].error or "").startswith(
        "NeuralTrust refused creating u0: conflict (409): userName taken; looking the user up "
        "failed too: "
    )


def test_a_409_hint_says_the_cause_and_leaves_planning_again_to_apply() -> None:
    # apply's summary ends every failure's hints with "then run `entrasync plan`": a 409's own
    # "run `entrasync plan` again" made it say so twice.
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"status": "409", "detail": "userName taken"})
        return httpx.Response(200, json={"Resources": [], "totalResults": 0})  # not as planned

    made = change(Action.CREATE, Access("member", None, True), user="u0", user_name="u0")
    plan = Plan("c.yaml", "0" * 64, "https://scim.example/v2", "0" * 64, changes=(made,))
    outcomes, report = _applied(server, plan, RetryPolicy(max_retries=0))
    assert outcomes == ["failed"]
    assert report.results[0].hint == (
        "a user in NeuralTrust holds a value this write sets (made by hand, or by another run): "
        "the server's words above say which"
    )
    assert "userName taken" in (report.results[0].error or "")


def test_the_failure_list_quotes_a_user_with_blanks_around_it() -> None:
    # Read as "deactivate carol@contoso.com", it was the real Carol's failed deactivation.
    made = replace(
        change(Action.DEACTIVATE, Access("member", None, False)), user="carol@x.com\u00a0"
    )
    (line,) = describe([ChangeResult(made, "failed", 500, error="NeuralTrust answered 500")])
    assert line.startswith("deactivate 'carol@x.com\u00a0': NeuralTrust answered 500")


def test_server_errors_and_throttling_stop_the_writes_only_five_in_a_row() -> None:
    """Any other answer (a success, a 404 about one user) shows the server is up; a write
    still throttled once its retries are spent is as lost as one met by a 5xx."""
    made = change(Action.CREATE, Access("member", None, True))
    down = ChangeResult(made, "failed", 503, error="NeuralTrust answered 503")
    throttled = ChangeResult(made, "failed", 429, error="NeuralTrust answered 429")
    gone = ChangeResult(made, "failed", 404, error="vanished")
    stopped: list[str] = []
    outage = _Outage(stopped)
    for result in (down, down, down, down, gone, down, throttled, down, throttled):
        outage.note(result)
    assert stopped == []
    outage.note(throttled)
    assert stopped == [
        "5 writes in a row failed with server errors or throttling (the last: NeuralTrust "
        "answered 429): NeuralTrust is not taking writes"
    ]

"""apply_plan against a real SCIM server (scim2-server on loopback), in both attribute layouts."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrasync.adapters.audit import writer as audit_module
from entrasync.adapters.audit.chain import verify_audit
from entrasync.adapters.audit.writer import AuditWriter
from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.scim.target import layout_of, read_target
from entrasync.config.models import Config
from entrasync.core.apply_report import ApplyReport
from entrasync.core.apply_rules import in_place
from entrasync.core.audit_record import record_sha256
from entrasync.core.model import Target, TargetUser
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.errors import AuditError
from entrasync.operations import apply as apply_module
from entrasync.operations.apply import ChangeResult, apply_plan
from entrasync.operations.stopping import Stopped, StopRequest
from entrasync.sandbox.scim_seed import SeedUser
from entrasync.sandbox.scim_server import ScimSandbox
from tests.integration.scim.scenario import (
    EXPECTED,
    LAYOUTS,
    ListAudit,
    client_for,
    config_for,
    scenario_plan,
    state_of,
)

MakeSandbox = Callable[..., ScimSandbox]


@pytest.mark.parametrize("layout", LAYOUTS, ids=["core roles/entitlements", "extension path"])
@pytest.mark.parametrize("parallelism", [1, 8], ids=["one at a time", "eight at once"])
def test_the_server_ends_exactly_as_planned(
    make_sandbox: MakeSandbox, layout: str, parallelism: int
) -> None:
    sandbox = make_sandbox(layout)
    config = config_for(sandbox)
    audit = ListAudit()
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        reads = sandbox.counters.by_method.get("GET", 0)
        report = apply_plan(plan, client, config, audit, parallelism=parallelism)
        read_back = sandbox.counters.by_method.get("GET", 0) - reads
        after = read_target(config, client)

    # scim2-server answers a PATCH 204 (no content): each read back once, the create not (its
    # 201 holds the user, showing the change).
    assert read_back == sandbox.counters.by_method.get("PATCH") == 5
    assert report.counts == {"succeeded": 6, "failed": 0, "skipped": 0}
    assert state_of(after) == EXPECTED
    assert all(in_place(change, after.users) for change in plan.changes)
    assert sorted(r["user"] for r in audit.records) == sorted(c.user for c in plan.changes)
    assert {r["outcome"] for r in audit.records} == {"succeeded"}
    assert sandbox.counters.by_method.get("POST") == 1
    assert sandbox.counters.by_method.get("PATCH") == 5


@pytest.mark.parametrize("layout", LAYOUTS, ids=["core roles/entitlements", "extension path"])
def test_created_user_carries_every_attribute_in_the_configured_place(
    make_sandbox: MakeSandbox, layout: str
) -> None:
    sandbox = make_sandbox(layout)
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        apply_plan(plan, client, config, ListAudit())

    created = next(u for u in sandbox.users() if u["userName"] == "New.Person@contoso.com")
    assert created["externalId"] == "e-new"
    assert created["displayName"] == "New Person"
    assert created["name"] == {"givenName": "New", "familyName": "Person"}
    assert created["emails"] == [
        {"value": "new.person@contoso.com", "type": "work", "primary": True}
    ]
    if layout == "core":
        assert created["roles"] == [{"value": "member", "primary": True}]
        assert created["entitlements"] == [{"value": "trustgate"}, {"value": "trustlens"}]
    else:
        extension = created["urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User"]
        assert extension == {"role": "member", "products": ["trustgate", "trustlens"]}
        assert "roles" not in created


@pytest.mark.parametrize("parallelism", [1, 4], ids=["one at a time", "four at once"])
def test_writes_throttled_with_429_and_503_are_retried_and_none_is_lost(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    # Every 3rd write attempt gets 429 and every 4th 503: at most two faults in a row.
    sandbox = make_sandbox(throttle_writes_every=3, unavailable_writes_every=4)
    config = config_for(sandbox)
    patient = RetryPolicy(max_retries=10, base_delay=0.001, max_delay=0.01)
    with client_for(sandbox, policy=patient) as client:
        plan = scenario_plan(read_target(config, client))
        report = apply_plan(plan, client, config, ListAudit(), parallelism=parallelism)
        after = read_target(config, client)

    assert report.counts["succeeded"] == 6
    assert sandbox.counters.throttled >= 2
    # Every fault carried a Retry-After, so the first one at least halved the client's limit.
    assert 1 <= client.limit.cuts <= sandbox.counters.throttled
    assert client.limit.in_flight == 0
    assert sandbox.counters.writes == 6
    assert state_of(after) == EXPECTED


def _apply_one_at_a_time(
    sandbox: ScimSandbox, audit: ListAudit
) -> tuple[Plan, ApplyReport[ChangeResult]]:
    """The scenario's plan, read from ``sandbox`` and applied to it one write at a time."""
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        return plan, apply_plan(plan, client, config, audit, parallelism=1)


def test_a_write_carried_out_whose_answer_was_lost_is_read_back_and_recorded_succeeded(
    make_sandbox: MakeSandbox,
) -> None:
    # Every 2nd write is carried out and answered 502 (a gateway that lost the answer).
    sandbox = make_sandbox(answer_lost_every=2)
    audit = ListAudit()
    _, report = _apply_one_at_a_time(sandbox, audit)
    with client_for(sandbox) as client:
        after = read_target(config_for(sandbox), client)

    assert sandbox.counters.answers_lost == 3
    assert sandbox.counters.writes == 6  # none sent twice
    assert report.counts == {"succeeded": 6, "failed": 0, "skipped": 0}
    lost = [r for r in audit.records if r["http_status"] == 502]
    assert len(lost) == 3
    for record in lost:
        assert record["outcome"] == "succeeded"
        assert record["detail"].startswith(
            "read back in place after the answer was lost: NeuralTrust answered 502 to "
        )
    assert state_of(after) == EXPECTED


def test_a_patch_answered_without_the_user_as_made_is_read_back_once(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    sandbox.set_faults(patch_answer="bare")  # made, answered with the user's id alone
    audit = ListAudit()
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        reads = sandbox.counters.by_method.get("GET", 0)
        report = apply_plan(plan, client, config, audit, parallelism=1)
        patched = {c.user for c in plan.changes if c.action is not Action.CREATE}
        assert sandbox.counters.by_method.get("GET", 0) == reads + len(patched)  # once each
        after = read_target(config, client)

    assert report.counts == {"succeeded": 6, "failed": 0, "skipped": 0}
    for record in audit.records:
        if record["user"] in patched:
            assert record["detail"] == (
                "its answer did not show the change; read back just after, it is in place"
            )
    assert state_of(after) == EXPECTED


@pytest.mark.parametrize(
    ("answer", "said", "hint"),
    [
        # A server that drops an attribute it does not know (a wrong role_attribute).
        ("not made", ", but the user it sent back does not show the change", "role_attribute"),
        # A gateway that answers with no body and never passes the write on: recorded as
        # succeeded, the audit said a leaver had lost access while NeuralTrust let them in.
        ("empty", " without the user, which a 200 sends", "a proxy, a gateway"),
    ],
)
def test_a_patch_answered_200_but_not_made_is_failed_with_what_to_check(
    make_sandbox: MakeSandbox, answer: str, said: str, hint: str
) -> None:
    sandbox = make_sandbox()
    sandbox.set_faults(patch_answer=answer)
    audit = ListAudit()
    plan, report = _apply_one_at_a_time(sandbox, audit)

    patched = [c for c in plan.changes if c.action is not Action.CREATE]
    assert report.counts == {"succeeded": 1, "failed": len(patched), "skipped": 0}
    for result in report.failed:
        assert result.http_status == 200
        assert result.error == (
            f"NeuralTrust answered 200{said}, and read back just after, it is not in place "
            "either: it took the write without carrying all of it out"
        )
        assert hint in (result.hint or "")
    assert {r["user"]: r["outcome"] for r in audit.records} == {
        c.user: "succeeded" if c.action is Action.CREATE else "failed" for c in plan.changes
    }


def test_a_patch_answered_204_is_read_back_once_as_a_200_that_does_not_show_it_is(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    sandbox.set_faults(patch_answer="no content")  # RFC 7644 §3.5.2: success, no body
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        reads = sandbox.counters.by_method.get("GET", 0)
        report = apply_plan(plan, client, config, ListAudit(), parallelism=1)
        patched = [c for c in plan.changes if c.action is not Action.CREATE]
        assert sandbox.counters.by_method.get("GET", 0) == reads + len(patched)  # once each
        after = read_target(config, client)

    assert report.counts == {"succeeded": 6, "failed": 0, "skipped": 0}
    assert {r.http_status for r in report.results if r.change.action is not Action.CREATE} == {204}
    assert all(r.detail is None for r in report.results)
    assert state_of(after) == EXPECTED


def test_a_patch_answered_204_but_not_made_is_failed_with_what_to_check(
    make_sandbox: MakeSandbox,
) -> None:
    # A server that drops an attribute it does not know (a wrong role_attribute) and answers
    # 204: recorded as succeeded, on every run, while the leaver kept their access.
    sandbox = make_sandbox()
    sandbox.set_faults(patch_answer="no content, not made")
    plan, report = _apply_one_at_a_time(sandbox, ListAudit())

    patched = [c for c in plan.changes if c.action is not Action.CREATE]
    assert report.counts == {"succeeded": 1, "failed": len(patched), "skipped": 0}
    for result in report.failed:
        assert result.http_status == 204
        assert result.error == (
            "NeuralTrust answered 204 (no content: the write made as sent), and read back just "
            "after, it is not in place: it took the write without carrying all of it out"
        )
        assert "role_attribute" in (result.hint or "")


def test_a_write_refused_with_503_is_read_back_once_and_stays_failed(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(unavailable_writes_every=1)  # the server takes no write
    config = config_for(sandbox)
    with client_for(sandbox, policy=RetryPolicy(max_retries=0)) as client:
        plan = scenario_plan(read_target(config, client))
        reads = sandbox.counters.by_method.get("GET", 0)
        report = apply_plan(plan, client, config, ListAudit(), parallelism=1)

    # Five failed in a row with server errors: NeuralTrust is down, the sixth is not tried.
    assert report.counts == {"succeeded": 0, "failed": 5, "skipped": 1}
    assert "5 writes in a row failed with server errors or throttling" in (
        report.skipped[0].error or ""
    )
    assert sandbox.counters.writes + sandbox.counters.throttled == 5
    # One read-back each: a GET of the user, or one userName filter for the create.
    assert sandbox.counters.by_method.get("GET", 0) - reads <= 6


def test_server_errors_between_successes_do_not_stop_the_writes(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(unavailable_writes_every=2)  # every other write: 503
    config = config_for(sandbox)
    with client_for(sandbox, policy=RetryPolicy(max_retries=0)) as client:
        plan = scenario_plan(read_target(config, client))
        report = apply_plan(plan, client, config, ListAudit(), parallelism=1)

    assert report.counts == {"succeeded": 3, "failed": 3, "skipped": 0}


def test_a_lost_create_is_looked_up_by_filter_never_by_listing_every_user(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    with client_for(sandbox) as client:
        listings = sandbox.counters.listings
        assert client.find_user("No.One@contoso.com", list_all=False) is None
        assert sandbox.counters.listings == listings + 2  # the name as given, then lower-cased
        assert client.find_user("No.One@contoso.com") is None
        assert sandbox.counters.listings > listings + 4  # and then the whole listing


def test_server_dying_mid_apply_is_audited_exactly_and_a_rerun_finishes_the_rest(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(fail_after_writes=2)
    config = config_for(sandbox)
    audit = ListAudit()
    plan, report = _apply_one_at_a_time(sandbox, audit)

    assert sandbox.counters.writes == 2
    assert [r["outcome"] for r in audit.records] == ["succeeded"] * 2 + ["failed"] + ["skipped"] * 3
    done = {r["user"] for r in audit.records if r["outcome"] == "succeeded"}
    sandbox.restart()
    with client_for(sandbox) as client:
        now = read_target(config, client)
        # Exactly the audited changes are in place, and nothing else.
        assert {c.user for c in plan.changes if in_place(c, now.users)} == done
        # A fresh plan holds only what is missing; applying it converges.
        rest = scenario_plan(now)
        remaining = [c for c in plan.changes if not in_place(c, now.users)]
        assert len(remaining) == len(report.failed) + len(report.skipped)
        rerun = apply_plan(
            replace(rest, changes=tuple(remaining)),
            client,
            config,
            ListAudit(),
        )
        final = read_target(config, client)
    assert rerun.counts["failed"] == 0
    assert state_of(final) == EXPECTED


def test_creating_a_user_that_already_exists_as_planned_is_success_not_a_duplicate(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        apply_plan(plan, client, config, ListAudit())
        audit = ListAudit()
        # The same plan again, bypassing the stale check: only the create can show a 409.
        report = apply_plan(plan, client, config, audit)

    create = next(r for r in audit.records if r["action"] == "create")
    assert create["outcome"] == "succeeded"
    assert create["http_status"] == 409
    assert "already exists as planned" in create["detail"]
    assert report.counts == {"succeeded": 6, "failed": 0, "skipped": 0}
    assert sum(1 for u in sandbox.users() if u["userName"].lower() == "new.person@contoso.com") == 1


def test_creating_a_user_whose_name_is_taken_by_someone_different_fails_and_keeps_going(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        sandbox.add_user({"user_name": "new.person@CONTOSO.com", "role": "owner"})
        audit = ListAudit()
        report = apply_plan(plan, client, config, audit)

    assert [r.change.action for r in report.failed] == [Action.CREATE]
    failed = report.failed[0]
    assert failed.http_status == 409
    assert "another user already has this userName" in (failed.error or "")
    assert report.counts["succeeded"] == 5
    assert len(audit.records) == 6


def test_a_user_deleted_since_the_plan_fails_as_vanished(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox()
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        leaver = next(c for c in plan.changes if c.action is Action.DEACTIVATE)
        sandbox.delete_user(str(leaver.target_id))
        report = apply_plan(plan, client, config, ListAudit())

    assert [(r.change.user, r.http_status) for r in report.failed] == [("leaver@contoso.com", 404)]
    assert "vanished" in (report.failed[0].error or "")


def test_an_interrupt_starts_no_more_writes_and_every_write_made_is_audited(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    config = config_for(sandbox)
    audit = ListAudit()

    def interrupt(_result: object) -> None:
        raise KeyboardInterrupt

    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        with pytest.raises(KeyboardInterrupt):
            apply_plan(plan, client, config, audit, parallelism=1, on_result=interrupt)

    # The worker may finish the change it already took; nothing after that starts.
    assert 1 <= sandbox.counters.writes < len(plan.changes)
    assert [r["outcome"] for r in audit.records] == ["succeeded"] * sandbox.counters.writes


class _DiskFillsUp:
    """An audit file whose disk fills up mid-run: the real file takes the first ``room``
    writes, then every write goes to /dev/full and the kernel answers ENOSPC."""

    def __init__(self, handle: Any, room: int) -> None:
        self._handle = handle
        self._room = room
        self._full = os.open("/dev/full", os.O_WRONLY)

    def write(self, data: bytes | memoryview) -> int:
        if self._room > 0:
            self._room -= 1
            return int(self._handle.write(data))
        return os.write(self._full, data)

    def flush(self) -> None:
        self._handle.flush()

    def fileno(self) -> int:
        return int(self._handle.fileno())

    def close(self) -> None:
        os.close(self._full)
        self._handle.close()


def _creates(sandbox: ScimSandbox, count: int) -> Plan:
    changes = tuple(
        Change(
            action=Action.CREATE,
            user=f"person{n:02d}@contoso.com",
            entra_id=f"e-person{n:02d}",
            display_name=f"Person {n}",
            email=f"person{n:02d}@contoso.com",
            before=None,
            after=Access("member", None, True),
            groups=("NT-Test",),
            decided_by="NT-Test",
            reason="test",
        )
        for n in range(count)
    )
    return Plan("config/mappings.yaml", "0" * 64, sandbox.url, "1" * 64, changes, unchanged=0)


@pytest.mark.parametrize(
    ("parallelism", "latency"),
    [(1, 0.0), (4, 0.1)],
    ids=["one at a time: the failing record is the last write", "four at once: in flight finish"],
)
def test_when_the_audit_file_fills_up_no_write_starts_and_every_write_made_is_on_record(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parallelism: int,
    latency: float,
) -> None:
    sandbox = make_sandbox(latency=latency)
    config = config_for(sandbox)
    seeded = {u["userName"].lower() for u in sandbox.users()}
    plan = _creates(sandbox, 20)
    real_create = audit_module._create

    def create_filling(*args: Any) -> tuple[Path, Any]:
        path, handle = real_create(*args)
        return path, _DiskFillsUp(handle, room=4)

    # apply_started and three change records reach the disk; the fourth finds it full.
    monkeypatch.setattr(audit_module, "_create", create_filling)
    printed: list[str] = []
    writer = AuditWriter.start(
        tmp_path, plan=plan, environ={}, git_commit=lambda: None, unwritten=printed.append
    )

    with client_for(sandbox) as client, pytest.raises(AuditError) as caught, writer:
        apply_plan(plan, client, config, writer, parallelism=parallelism)

    assert caught.value.message == (
        f"the audit file {writer.path} could not be written: No space left on device"
    )
    assert f"({len(printed)}) are printed above" in (caught.value.hint or "")
    lines = writer.path.read_bytes().splitlines()
    in_file = [json.loads(line) for line in lines[1:]]
    on_stderr = [json.loads(line) for line in printed]
    assert len(in_file) == 3
    # The record that failed, and those of the writes in flight then; no write started after.
    assert 1 <= len(on_stderr) <= parallelism
    assert sandbox.counters.writes == len(in_file) + len(on_stderr)
    created = {u["userName"].lower() for u in sandbox.users()} - seeded
    assert created == {r["user"] for r in in_file + on_stderr}
    assert {r["outcome"] for r in in_file + on_stderr} == {"succeeded"}
    # The file holds whole records only, and the printed ones carry on its chain.
    verdict = verify_audit(writer.path)
    assert (verdict.intact, verdict.complete, verdict.records) == (True, False, 4)
    assert [r["seq"] for r in on_stderr] == list(range(5, 5 + len(on_stderr)))
    assert on_stderr[0]["prev_sha256"] == in_file[-1]["sha256"]
    for record in on_stderr:
        assert record_sha256({k: v for k, v in record.items() if k != "sha256"}) == record["sha256"]


@pytest.mark.parametrize("parallelism", [1, 4], ids=["one at a time", "four at once"])
def test_a_stop_request_starts_no_more_writes_and_every_write_made_is_audited(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(latency=0.05)
    config = config_for(sandbox)
    audit = ListAudit()
    stop = StopRequest()
    plan = _creates(sandbox, 20)

    with client_for(sandbox) as client, pytest.raises(Stopped) as caught:
        apply_plan(
            plan,
            client,
            config,
            audit,
            parallelism=parallelism,
            on_result=lambda _result: stop.request(signal.SIGTERM),
            stop=stop,
        )

    assert caught.value.exit_code == 143
    # The writes in flight when the first one finished finish too; none starts after.
    assert 1 <= sandbox.counters.writes <= parallelism
    assert [r["outcome"] for r in audit.records] == ["succeeded"] * sandbox.counters.writes


def test_a_stop_ends_a_throttled_writes_wait_and_records_it_as_not_carried_out(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    sandbox.set_faults(throttle_writes_every=1, retry_after="60")  # come back in a minute
    config = config_for(sandbox)
    audit = ListAudit()
    stop = StopRequest()
    threading.Timer(0.5, stop.request, (signal.SIGTERM,)).start()
    started = time.monotonic()
    policy = RetryPolicy(max_retries=6, max_delay=60.0)

    with client_for(sandbox, policy=policy) as client:
        with pytest.raises(Stopped):
            apply_plan(_creates(sandbox, 3), client, config, audit, parallelism=1, stop=stop)
        assert client.give_up is None  # later requests of this client retry as usual

    # Within a runner's grace period (GitHub: SIGTERM 7.5 s after SIGINT), not a minute.
    assert time.monotonic() - started < 5
    assert [(r["outcome"], r["http_status"]) for r in audit.records] == [("failed", 429)]
    assert audit.records[0]["detail"] == apply_module.STOPPED_BEFORE_RETRY
    assert sandbox.counters.writes == 0


def test_a_write_asked_to_wait_longer_than_entrasync_waits_starts_no_later_write(
    make_sandbox: MakeSandbox,
) -> None:
    # Each write failed at once and gave its slot back, so every other write was sent to a
    # server that had asked for an hour, and each was refused the same way.
    sandbox = make_sandbox()
    sandbox.set_faults(throttle_writes_every=1, retry_after="3600")
    audit = ListAudit()
    with client_for(sandbox) as client:
        report = apply_plan(_creates(sandbox, 5), client, config_for(sandbox), audit, parallelism=1)

    assert report.counts == {"succeeded": 0, "failed": 1, "skipped": 4}
    (failed,) = report.failed
    assert ", and asked to wait 3,600 s (Retry-After)" in (failed.error or "")
    assert sandbox.counters.throttled == 1


def test_an_unexpected_error_in_one_change_is_audited_and_starts_no_later_write(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug in entrasync while carrying out the second change (injected: no real answer
    # reaches this path): it is on record as failed, the rest as skipped, and apply returns.
    sandbox = make_sandbox()
    config = config_for(sandbox)
    audit = ListAudit()
    real = apply_module._execute
    calls: list[str] = []

    def second_fails(change: Change, *args: Any) -> Any:
        calls.append(change.user)
        if len(calls) == 2:
            raise KeyError("a bug")
        return real(change, *args)

    monkeypatch.setattr(apply_module, "_execute", second_fails)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        report = apply_plan(plan, client, config, audit, parallelism=1)

    assert [r["outcome"] for r in audit.records] == ["succeeded", "failed"] + ["skipped"] * 4
    assert audit.records[1]["error"] == (
        "unexpected error (KeyError, a bug): the change may have been made"
    )
    assert report.counts == {"succeeded": 1, "failed": 1, "skipped": 4}
    assert sandbox.counters.writes == 1
    assert "KeyError: 'a bug'" in caplog.text  # the traceback, for the bug report


def test_a_user_changed_by_hand_since_the_read_is_not_overwritten(
    make_sandbox: MakeSandbox,
) -> None:
    """The writes carry each user's version as read (If-Match). keep@ is made owner by hand
    after the read: the planned demotion to admin would have taken that away, unseen by the
    plan and by min_owners, and put "member" on record as before. prod@ is changed by hand to
    exactly what the plan wants: in place, so it succeeded."""
    sandbox = make_sandbox()
    config = config_for(sandbox)
    audit = ListAudit()
    with client_for(sandbox) as client:
        target = read_target(config, client)
        plan = scenario_plan(target)
        versions = {u.id: u.version for u in target.users if u.version is not None}
        assert len(versions) == len(target.users)  # scim2-server versions every user
        by_name = {u.user_name: u for u in target.users}
        keep, prod = by_name["keep@contoso.com"], by_name["prod@contoso.com"]
        client.patch_user(
            keep.id,
            [{"op": "replace", "path": "roles", "value": [{"value": "owner", "primary": True}]}],
        )
        prod_change = next(c for c in plan.changes if c.target_id == prod.id)
        client.patch_user(prod.id, apply_module.patch_operations(prod_change, layout_of(config)))
        report = apply_plan(plan, client, config, audit, parallelism=1, versions=versions)
        after = {u.user_name: u for u in read_target(config, client).users}

    assert report.counts == {"succeeded": 5, "failed": 1, "skipped": 0}
    assert after["keep@contoso.com"].role == "owner"  # the hand change stands
    (refused,) = [r for r in audit.records if r["outcome"] == "failed"]
    assert (refused["user"], refused["http_status"]) == ("keep@contoso.com", 412)
    assert refused["error"] == apply_module.CHANGED_SINCE_READ
    (converged,) = [r for r in audit.records if r["user"] == "prod@contoso.com"]
    assert converged["outcome"] == "succeeded"
    assert converged["detail"].startswith("read back in place after a 412 (changed since the read:")
    assert after["prod@contoso.com"].products == ("trustgate", "trusttest")


class _LostThen412(httpx.HTTPTransport):
    """A gateway in front of the real server: keep@'s first PATCH is carried out but answered
    504, and keep@ cannot be read back (503); everything else passes through."""

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id
        self.patches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        mine = request.url.path.endswith(f"/Users/{self.user_id}")
        if mine and request.method == "GET":
            return httpx.Response(503, request=request)
        response = super().handle_request(request)
        if mine and request.method == "PATCH":
            self.patches += 1
            if self.patches == 1:
                response.close()
                return httpx.Response(504, request=request)
        return response


def test_a_412_after_a_lost_answer_that_cannot_be_read_back_claims_nothing(
    make_sandbox: MakeSandbox,
) -> None:
    """The retry of a write carried out behind a 504 meets its own new version (412). Read
    back, it would be in place; not readable, the record must not say "not written"."""
    sandbox = make_sandbox()
    config = config_for(sandbox)
    with client_for(sandbox) as reader:
        target = read_target(config, reader)
    keep = next(u for u in target.users if u.user_name == "keep@contoso.com")
    gateway = _LostThen412(keep.id)
    plan = scenario_plan(target)
    plan = replace(plan, changes=tuple(c for c in plan.changes if c.target_id == keep.id))
    audit = ListAudit()
    versions = {keep.id: keep.version or ""}
    with client_for(sandbox, transport=gateway) as client:
        report = apply_plan(plan, client, config, audit, parallelism=1, versions=versions)
    with client_for(sandbox) as reader:
        after = {u.user_name: u for u in read_target(config, reader).users}

    assert gateway.patches == 2  # the first carried out, the retry refused
    assert after["keep@contoso.com"].role == "admin"  # entrasync's own write is there
    assert report.counts == {"succeeded": 0, "failed": 1, "skipped": 0}
    (record,) = audit.records
    assert record["error"] == apply_module.UNREADABLE_AFTER_412
    assert "not written" not in record["error"]


class _FirstWriteGateway(httpx.HTTPTransport):
    """A gateway in front of the real server: reads pass; the first write (POST or PATCH) is
    :meth:`first`'s to answer, the later ones :meth:`later`'s (passed on)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("POST", "PATCH"):
            return super().handle_request(request)
        self.writes += 1
        return self.first(request) if self.writes == 1 else self.later(request)

    def first(self, request: httpx.Request) -> httpx.Response:
        return super().handle_request(request)

    def later(self, request: httpx.Request) -> httpx.Response:
        return super().handle_request(request)


class _HalfThen504(_FirstWriteGateway):
    """The first write passes on only part of itself (a PATCH's first operation; a POST
    without its products), is carried out so, and is answered 504."""

    def __init__(self, products: str, status: int = 504) -> None:
        super().__init__()
        self.products = products
        self.status = status

    def first(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.method == "PATCH":
            body["Operations"] = body["Operations"][:1]
        else:
            body.pop(self.products, None)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        half = httpx.Request(request.method, request.url, headers=headers, content=json.dumps(body))
        super().first(half).close()
        return httpx.Response(self.status, request=request)


class _GatewayTimeoutFirst(_FirstWriteGateway):
    """The first write is answered 504 without being passed on (not made)."""

    def first(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(504, request=request)


class _LostThenRefused(_FirstWriteGateway):
    """The first write is carried out and answered 504; its retry is answered 401 (the token
    revoked meanwhile) without reaching the server."""

    def first(self, request: httpx.Request) -> httpx.Response:
        super().first(request).close()
        return httpx.Response(504, request=request)

    def later(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, request=request)


@pytest.mark.parametrize("status", [504, 503])  # the 5xx a write is sent again after
def test_a_412_after_a_write_made_in_part_says_so_not_that_nothing_was_written(
    make_sandbox: MakeSandbox, status: int
) -> None:
    """back@'s reactivation (active, role) is carried out in part behind a 504: active set,
    role not. Its retry meets its own new version (412), and the user read back is not as
    planned: the record said "not written, so what was done there by hand stands"."""
    sandbox = make_sandbox()
    config, plan = _scenario(sandbox)
    with client_for(sandbox) as reader:
        back = next(
            u for u in read_target(config, reader).users if u.user_name == "back@contoso.com"
        )
    plan = replace(plan, changes=tuple(c for c in plan.changes if c.target_id == back.id))
    audit = ListAudit()
    gateway = _HalfThen504(sandbox.products_attribute, status)
    with client_for(sandbox, transport=gateway) as client:
        report = apply_plan(
            plan, client, config, audit, parallelism=1, versions={back.id: back.version or ""}
        )
    with client_for(sandbox) as reader:
        after = {u.user_name: u for u in read_target(config, reader).users}

    assert gateway.writes == 2
    assert (after["back@contoso.com"].active, after["back@contoso.com"].role) == (True, "member")
    assert report.counts == {"succeeded": 0, "failed": 1, "skipped": 0}
    (record,) = audit.records
    assert record["error"] == apply_module.PARTLY_AFTER_412.format(after=status)
    assert "not written" not in record["error"]
    assert "by hand" not in record["error"]


def test_a_409_after_a_create_made_in_part_says_the_user_is_its_own(
    make_sandbox: MakeSandbox,
) -> None:
    """The create is carried out without its products behind a 504; its retry meets 409, and
    the user holding the name carries this change's Entra id: it was said to be refused, the
    hint naming only a user made by hand or by another run."""
    sandbox = make_sandbox()
    config, plan = _scenario(sandbox)
    plan = replace(plan, changes=plan.changes[:1])  # the create
    with client_for(sandbox, transport=_HalfThen504(sandbox.products_attribute)) as client:
        report = apply_plan(plan, client, config, ListAudit(), parallelism=1)

    [failed] = report.failed
    assert failed.http_status == 409
    assert (failed.error or "").endswith(
        "; an earlier attempt of this create was answered 504, and the user holding the name "
        "carries this change's Entra id: it may be this create's own, made in part (not as "
        "planned)"
    )
    assert "earlier attempt of this write whose answer was lost" in (failed.hint or "")


def test_a_409_on_the_retry_of_a_create_that_timed_out_keeps_its_own_cause(
    make_sandbox: MakeSandbox,
) -> None:
    """The 504 said nothing was known; the retry's 409 says a different user holds the name:
    that is the cause to report (and what a fresh plan adopts), not the 504."""
    sandbox = make_sandbox()
    config, plan = _scenario(sandbox)
    plan = replace(plan, changes=plan.changes[:1])  # the create
    sandbox.add_user({"user_name": "new.person@CONTOSO.com", "role": "owner"})
    with client_for(sandbox, transport=_GatewayTimeoutFirst()) as client:
        report = apply_plan(plan, client, config, ListAudit(), parallelism=1)

    [failed] = report.failed
    assert failed.http_status == 409
    assert "another user already has this userName" in (failed.error or "")
    assert (failed.error or "").endswith("; an earlier attempt of this create was answered 504")


def _scenario(sandbox: ScimSandbox) -> tuple[Config, Plan]:
    """The config for ``sandbox`` and the scenario's plan, read from it."""
    config = config_for(sandbox)
    with client_for(sandbox) as reader:
        return config, scenario_plan(read_target(config, reader))


def test_a_write_answered_504_then_refused_on_its_retry_is_read_back(
    make_sandbox: MakeSandbox,
) -> None:
    """The 401 of the retry does not make the write "not made": the first attempt was."""
    sandbox = make_sandbox()
    config, plan = _scenario(sandbox)
    plan = replace(plan, changes=plan.changes[:1])  # the create
    audit = ListAudit()
    with client_for(sandbox, transport=_LostThenRefused()) as client:
        report = apply_plan(plan, client, config, audit, parallelism=1)

    assert sandbox.counters.writes == 1
    assert report.counts == {"succeeded": 1, "failed": 0, "skipped": 0}
    (record,) = audit.records
    assert record["http_status"] == 504
    assert record["detail"].startswith("read back in place after the answer was lost")


class _SignInPageAfterWrites(httpx.HTTPTransport):
    """A gateway that passes each write on and answers it 502, then answers every read with
    a sign-in page (200, HTML or JSON): the write was made, and nothing can tell."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.written = False
        self.page = page

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self.written:
            if self.page == "json":
                return httpx.Response(200, json={"message": "Please sign in"}, request=request)
            return httpx.Response(200, html="<html>Sign in</html>", request=request)
        response = super().handle_request(request)
        if request.method in ("POST", "PATCH"):
            self.written = True
            response.close()
            return httpx.Response(502, request=request)
        return response


@pytest.mark.parametrize("page", ["html", "json"])
@pytest.mark.parametrize("action", [Action.CREATE, Action.UPDATE], ids=["create", "update"])
def test_a_read_back_answered_with_a_web_page_claims_nothing_about_the_write(
    make_sandbox: MakeSandbox, action: Action, page: str
) -> None:
    """A 200 that is no SCIM answer says nothing of the user: not "the change was not in
    place" (it was), but that it could not be read back and may have been made."""
    sandbox = make_sandbox()
    config, plan = _scenario(sandbox)
    plan = replace(plan, changes=tuple(c for c in plan.changes if c.action is action)[:1])
    audit = ListAudit()
    with client_for(sandbox, transport=_SignInPageAfterWrites(page)) as client:
        report = apply_plan(plan, client, config, audit, parallelism=1)
    with client_for(sandbox) as reader:
        after = read_target(config, reader)

    assert in_place(plan.changes[0], after.users)  # the write was made
    assert report.counts == {"succeeded": 0, "failed": 1, "skipped": 0}
    (record,) = audit.records
    assert "not in place" not in record["error"]
    assert record["error"].endswith(apply_module.UNREAD_AFTER_LOST)


class _GatewayForWrites(httpx.HTTPTransport):
    """A gateway that passes each write on and answers it in its own way."""

    def __init__(self, answer: httpx.Response) -> None:
        super().__init__()
        self.answer = answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method in ("POST", "PATCH"):
            response.close()
            headers = {**self.answer.headers, "x-request-id": "gateway-1"}
            answer = self.answer
            return httpx.Response(answer.status_code, content=answer.content, headers=headers)
        return response


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(200, html="<html>Welcome</html>"), "with a body that is no SCIM resource"),
        (httpx.Response(202), "answered 202 to creating"),
        (httpx.Response(303, headers={"Location": "/sign-in"}), "answered 303 to creating"),
    ],
    ids=["a web page", "202 Accepted", "a redirect to a sign-in page"],
)
def test_a_write_answered_by_something_else_than_neuraltrust_starts_no_later_write(
    make_sandbox: MakeSandbox, answer: httpx.Response, said: str
) -> None:
    # Recorded as failed, a 202 or a redirect left a grant that was made looking refused.
    sandbox = make_sandbox()
    audit = ListAudit()
    config = config_for(sandbox)
    with client_for(sandbox, transport=_GatewayForWrites(answer)) as client:
        plan = scenario_plan(read_target(config, client))
        report = apply_plan(plan, client, config, audit, parallelism=1)

    assert sandbox.counters.writes == 1
    # Read back in place, the first write counts as made; the others are not attempted.
    assert report.counts == {"succeeded": 1, "failed": 0, "skipped": 5}
    (made,) = report.succeeded
    assert (made.http_status, made.request_id) == (answer.status_code, "gateway-1")
    # The write before was made: what stops the others is who answered it, not a failure.
    for skipped in report.skipped:
        assert (skipped.error or "").startswith(
            "not attempted: an earlier write was answered by something other than NeuralTrust: "
        ), skipped.error
        assert said in (skipped.error or "")


OWNER_SWAP_SEED = (
    SeedUser("alice@contoso.com", "Alice", "alice@contoso.com", "e-alice", True, "owner", None),
    SeedUser("bob@contoso.com", "Bob", "bob@contoso.com", "e-bob", True, "admin", None),
)


def _owner_swap(target: Target) -> Plan:
    """Alice hands the owner role to Bob: a plan min_owners passes, as the whole of it."""
    by_name = {u.user_name.lower(): u for u in target.users}
    alice, bob = by_name["alice@contoso.com"], by_name["bob@contoso.com"]

    def update(user: TargetUser, role: str) -> Change:
        return Change(
            Action.UPDATE, user.user_name.lower(), user.external_id, user.display_name,
            user.email, Access(user.role, None, True), Access(role, None, True), ("NT",), "NT",
            "role differs", user.id,
        )  # fmt: skip

    return Plan(
        config_path="config/mappings.yaml",
        config_sha256="0" * 64,
        scim_url=target.scim_url,
        state_sha256=target.state_sha256,
        changes=(update(alice, "admin"), update(bob, "owner")),
        created_at="2026-11-28T12:00:00Z",
    )


@pytest.mark.parametrize("parallelism", [1, 8], ids=["one at a time", "eight at once"])
def test_an_owner_is_taken_away_only_after_the_plans_owner_grants_are_made(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=OWNER_SWAP_SEED)
    config = config_for(sandbox)
    audit = ListAudit()
    with client_for(sandbox) as client:
        plan = _owner_swap(read_target(config, client))
        report = apply_plan(plan, client, config, audit, parallelism=parallelism)
        after = read_target(config, client)

    assert report.counts == {"succeeded": 2, "failed": 0, "skipped": 0}
    # Bob's promotion is recorded before Alice's demotion starts, however many run at once.
    assert [r["user"] for r in audit.records] == ["bob@contoso.com", "alice@contoso.com"]
    assert {u.user_name: u.role for u in after.users} == {
        "alice@contoso.com": "admin",
        "bob@contoso.com": "owner",
    }


def test_a_failed_owner_grant_holds_back_the_demotion_so_an_owner_remains(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(seed=OWNER_SWAP_SEED)
    config = config_for(sandbox)
    audit = ListAudit()
    with client_for(sandbox) as client:
        plan = _owner_swap(read_target(config, client))
        bob = next(c for c in plan.changes if c.user == "bob@contoso.com")
        sandbox.delete_user(str(bob.target_id))  # Bob's promotion fails (404)
        report = apply_plan(plan, client, config, audit, parallelism=8)
        after = read_target(config, client)

    assert [(r.change.user, r.http_status) for r in report.failed] == [("bob@contoso.com", 404)]
    [held] = report.skipped
    assert held.change.user == "alice@contoso.com"
    assert "takes an owner away" in (held.error or "")
    assert "bob@contoso.com did not succeed" in (held.error or "")
    assert [(r["user"], r["outcome"]) for r in audit.records] == [
        ("bob@contoso.com", "failed"),
        ("alice@contoso.com", "skipped"),
    ]
    assert [(u.user_name, u.role, u.active) for u in after.users] == [
        ("alice@contoso.com", "owner", True)
    ]
    assert sandbox.counters.by_method.get("PATCH") == 1  # Bob's; Alice was never written

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import replace
from itertools import count, pairwise
from pathlib import Path
from typing import Any, cast

import pytest
import rfc8785

from entrasync.adapters.audit import writer as audit_module
from entrasync.adapters.audit.chain import verify_audit
from entrasync.adapters.audit.writer import AuditWriter, log_line
from entrasync.cli import main
from entrasync.core import planfile
from entrasync.core.audit_record import GENESIS, record_sha256
from entrasync.core.plan import Plan, Violation
from entrasync.core.secret import Secret
from entrasync.errors import AuditError, EntrasyncError
from tests.golden.plans import golden_plan

GITHUB_ENV = {
    "GITHUB_SHA": "a" * 40,
    "GITHUB_ACTOR": "octocat",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "contoso/access",
    "GITHUB_RUN_ID": "42",
}
OUTCOMES = ("succeeded", "failed", "skipped", "succeeded", "succeeded", "succeeded", "failed")


def _clock() -> Callable[[], str]:
    ticks = count()
    return lambda: f"2026-11-28T12:00:{next(ticks):02d}.000Z"


def _start(directory: Path, plan: Plan, **kwargs: Any) -> AuditWriter:
    options: dict[str, Any] = {"environ": GITHUB_ENV, "clock": _clock(), "git_commit": lambda: None}
    return AuditWriter.start(directory, plan=plan, **{**options, **kwargs})


class _Crash(Exception):
    pass


def _write_run(directory: Path, *, crash: bool = False) -> Path:
    plan = golden_plan()
    writer = _start(directory, plan, force_unsafe=plan.digest[:12])
    with contextlib.suppress(_Crash), writer:
        for change, outcome in zip(plan.changes, OUTCOMES, strict=True):
            failed = outcome == "failed"
            writer.change(
                change,
                outcome=cast(Any, outcome),
                http_status=400 if failed else 200,
                request_id=f"req-{change.user}",
                error="invalid value for roles" if failed else None,
            )
        if crash:
            raise _Crash  # leaving the block by an exception writes no apply_finished
        writer.finish({"succeeded": 4, "failed": 2, "skipped": 1})
    return writer.path


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return _write_run(tmp_path / "audit")


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_written_run_verifies_intact_and_complete(run: Path) -> None:
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.complete, verdict.records) == (True, True, 9)
    assert verdict.counts == {"succeeded": 4, "failed": 2, "skipped": 1}
    assert verdict.head_sha256 == _records(run)[-1]["sha256"]
    assert verdict.describe() == (
        "intact: 9 records, run complete (apply_finished: 4 succeeded, 2 failed, 1 skipped)"
    )


def test_the_file_name_holds_the_start_time_and_the_plan_digest(run: Path) -> None:
    assert run.name == f"entrasync-apply-20261128T120000Z-{golden_plan().digest[:12]}.jsonl"


def test_every_record_is_chained_canonical_json(run: Path) -> None:
    lines = run.read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, 10))
    assert [r["type"] for r in records] == ["apply_started", *["change"] * 7, "apply_finished"]
    assert records[0]["prev_sha256"] == GENESIS
    for previous, record in pairwise(records):
        assert record["prev_sha256"] == previous["sha256"]
    for line, record in zip(lines, records, strict=True):
        assert line == rfc8785.dumps(record)
        # Of every other field, prev_sha256 included, as the format documents it: computed
        # here without the code that writes and checks it.
        body = {key: value for key, value in record.items() if key != "sha256"}
        assert record["sha256"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
        assert re.fullmatch(r"2026-11-28T12:00:\d\d\.000Z", record["time"])
    assert records[-1]["records"] == 8


def test_apply_started_says_who_ran_what_from_where(run: Path) -> None:
    started = _records(run)[0]
    plan = golden_plan()
    assert started["plan_digest"] == plan.digest
    assert started["config_sha256"] == plan.config_sha256
    assert started["git_commit"] == "a" * 40
    assert started["actor"] == "octocat"
    assert started["run_url"] == "https://github.com/contoso/access/actions/runs/42"
    assert started["force_unsafe"] == {
        "given": plan.digest[:12],
        "matched_digest": plan.digest,
        "overridden": [],
    }


def test_the_plan_is_written_beside_the_file_before_any_change(run: Path) -> None:
    # A run killed with writes in flight has no record of them: its plan says what they were.
    beside = run.with_name(run.name.removesuffix(".jsonl") + ".plan.json")
    assert _records(run)[0]["plan_file"] == beside.name
    assert planfile.loads(beside.read_bytes()) == golden_plan()


@pytest.mark.parametrize("planted", ["a symlink", "a FIFO"])
def test_the_plan_beside_the_file_is_put_at_a_free_name_never_through_what_is_there(
    planted: str, tmp_path: Path
) -> None:
    """Its name is foreseeable (the time and the digest a pull request shows): in a folder
    another account may write in, a symlink planted there had apply write the plan over a
    file of the applying user's, and a FIFO held apply until someone read the plan from it."""
    audit, plan = tmp_path / "audit", golden_plan()
    audit.mkdir()
    name = f"entrasync-apply-20261128T120000Z-{plan.digest[:12]}.plan.json"
    private = tmp_path / "notes.txt"
    private.write_text("mine\n")
    if planted == "a symlink":
        (audit / name).symlink_to(private)
    else:
        os.mkfifo(audit / name)
    with pytest.raises(AuditError) as caught:
        _start(audit, plan)
    assert caught.value.message == (
        f"cannot write the plan beside the audit file: {name} is already in the audit folder, "
        "and apply made no such file"
    )
    assert caught.value.hint == (
        "someone else who may write in the --audit-dir put it there: remove it or use a folder "
        "only you may write in; nothing was changed"
    )
    assert private.read_text() == "mine\n"
    assert [p.name for p in audit.iterdir()] == [name]  # left as it was found, no audit file


def test_verifying_the_plan_beside_the_file_says_it_is_a_plan_not_tampering(run: Path) -> None:
    beside = run.with_name(run.name.removesuffix(".jsonl") + ".plan.json")
    with pytest.raises(AuditError) as caught:
        verify_audit(beside)
    assert caught.value.message == f"{beside} is a plan file, not an audit file"
    assert caught.value.hint == f"pass the audit file beside it, {run.name}"
    elsewhere = run.parent / "plan.json"  # as `plan --out plan.json` writes it
    elsewhere.write_bytes(beside.read_bytes())
    with pytest.raises(AuditError) as other:
        verify_audit(elsewhere)
    assert other.value.hint == (
        "pass an audit file: a *.jsonl that apply wrote in its --audit-dir (audit/)"
    )


def test_a_run_cut_short_names_the_plan_its_unrecorded_changes_come_from(tmp_path: Path) -> None:
    verdict = verify_audit(_write_run(tmp_path, crash=True))
    assert verdict.plan_file is not None
    assert verdict.describe().endswith(
        f"; a change of its plan ({verdict.plan_file}, beside the file) that has no record "
        "here may have been made"
    )


def test_a_plan_without_changes_writes_no_plan_beside(tmp_path: Path) -> None:
    writer = _start(tmp_path, replace(golden_plan(), changes=()))
    with writer:
        writer.finish({}, result="no changes")
    assert [p.name for p in tmp_path.iterdir()] == [writer.path.name]
    assert _records(writer.path)[0]["plan_file"] is None


@pytest.mark.parametrize("changes", [True, False], ids=["with its plan beside", "no changes"])
def test_a_stop_before_apply_started_is_written_leaves_no_file(
    tmp_path: Path, changes: bool
) -> None:
    """Ctrl-C while the commit was read (a git call) left an empty file, which verify calls
    tampered and report-apply took for the run's."""

    def stopped_meanwhile() -> str | None:
        raise KeyboardInterrupt

    plan = golden_plan() if changes else replace(golden_plan(), changes=())
    with pytest.raises(KeyboardInterrupt):
        _start(tmp_path, plan, git_commit=stopped_meanwhile)
    assert list(tmp_path.iterdir()) == []


def test_a_plan_that_cannot_be_written_beside_leaves_no_file_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, plan: Plan, *, new: bool) -> None:
        raise EntrasyncError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(audit_module, "write_plan", full)
    with pytest.raises(AuditError) as caught:
        _start(tmp_path, golden_plan())
    assert caught.value.message.startswith("cannot write the plan beside the audit file: ")
    assert caught.value.hint == "free disk space or fix the --audit-dir; nothing was changed"
    assert list(tmp_path.iterdir()) == []


UNSAFE = Violation("max_deactivations", "3 deactivations planned, limit 2")


@pytest.mark.parametrize(
    ("given", "matched"),
    [("CC", True), ("cc", True), ("0" * 12, False)],
    ids=[
        "an upper-case prefix is kept as typed with the full digest it matched",
        "a lower-case prefix matches too",
        "a digest of another plan is kept with no match",
    ],
)
def test_the_override_records_what_was_typed_what_it_matched_and_what_it_let_through(
    tmp_path: Path, given: str, matched: bool
) -> None:
    plan = golden_plan()
    if given in ("CC", "cc"):
        given = plan.digest[:12].upper() if given == "CC" else plan.digest[:16]
    with _start(tmp_path, plan, force_unsafe=given, overridden=(UNSAFE,)) as writer:
        pass
    assert _records(writer.path)[0]["force_unsafe"] == {
        "given": given,
        "matched_digest": plan.digest if matched else None,
        "overridden": [
            {"rule": "max_deactivations", "message": "3 deactivations planned, limit 2"}
        ],
    }


def test_no_override_is_recorded_as_null(tmp_path: Path) -> None:
    with _start(tmp_path, golden_plan()) as writer:
        pass
    assert _records(writer.path)[0]["force_unsafe"] is None


@pytest.mark.parametrize(
    ("result", "reason", "violations", "described"),
    [
        ("no changes", None, (), "0 skipped; no changes)"),
        ("already applied", None, (), "0 skipped; already applied)"),
        ("refused", "the plan breaks 1 safety limit(s)", (UNSAFE,), "0 skipped; refused)"),
    ],
    ids=["a run with no changes", "a run whose plan was already applied", "a refused run"],
)
def test_a_run_that_applied_nothing_is_a_complete_record_saying_why(
    tmp_path: Path,
    result: Any,
    reason: str | None,
    violations: tuple[Violation, ...],
    described: str,
) -> None:
    with _start(tmp_path, golden_plan()) as writer:
        writer.finish(result=result, reason=reason, violations=violations)
    started, finished = _records(writer.path)
    assert started["changes_planned"] == len(golden_plan().changes)
    assert finished["counts"] == {"succeeded": 0, "failed": 0, "skipped": 0}
    assert (finished["result"], finished.get("reason")) == (result, reason)
    assert finished.get("violations", []) == [
        {"rule": v.rule, "message": v.message} for v in violations
    ]
    verdict = verify_audit(writer.path)
    assert verdict.ok
    assert verdict.result == result
    assert verdict.describe().endswith(described)


def test_a_run_that_applied_says_so(run: Path) -> None:
    assert _records(run)[-1]["result"] == "applied"
    assert verify_audit(run).describe().endswith("1 skipped)")


def test_a_change_record_carries_the_outcome_and_the_servers_answer(run: Path) -> None:
    change = _records(run)[2]
    assert change["action"] == "create"
    assert change["user"] == "oscar@contoso.com"
    assert change["before"] is None
    assert change["after"] == {"role": "owner", "products": None, "active": True}
    assert (change["outcome"], change["http_status"]) == ("failed", 400)
    assert (change["request_id"], change["error"]) == (
        "req-oscar@contoso.com",
        "invalid value for roles",
    )


@pytest.mark.parametrize(
    ("environ", "git", "commit", "run_url"),
    [
        ({}, lambda: "b" * 40, "b" * 40, None),
        ({}, lambda: None, None, None),
        ({**GITHUB_ENV, "GITHUB_RUN_ATTEMPT": "2"}, lambda: "b" * 40, "b" * 40,
         "https://github.com/contoso/access/actions/runs/42/attempts/2"),
        ({**GITHUB_ENV}, lambda: None, "a" * 40, "https://github.com/contoso/access/actions/runs/42"),
    ],
    ids=["outside actions the checked-out commit is recorded", "without git there is no commit",
         "in actions the checked-out commit wins (main's tip) and the attempt is in the url",
         "in actions without a checkout GITHUB_SHA is recorded"],
)  # fmt: skip
def test_the_commit_and_run_url_come_from_where_they_can(
    tmp_path: Path, environ: dict[str, str], git: Callable[[], str | None], commit: str | None,
    run_url: str | None,
) -> None:  # fmt: skip
    with _start(tmp_path, golden_plan(), environ=environ, git_commit=git) as writer:
        pass
    started = _records(writer.path)[0]
    assert (started["git_commit"], started["run_url"]) == (commit, run_url)


def test_runs_in_the_same_second_never_overwrite_each_other(tmp_path: Path) -> None:
    first, second = _write_run(tmp_path), _write_run(tmp_path)
    assert first != second
    assert second.name.endswith("-2.jsonl")
    assert verify_audit(first).ok
    assert verify_audit(second).ok


def test_every_record_is_on_disk_before_the_next_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []  # the audit file's records at each fsync of it
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        synced_file = Path(os.readlink(f"/proc/self/fd/{fd}"))  # Linux, as CI runs
        if synced_file.suffix == ".jsonl":  # not the plan beside it, nor the folder
            synced.append(synced_file.read_bytes().count(b"\n"))

    monkeypatch.setattr(os, "fsync", spy)
    plan = golden_plan()
    with _start(tmp_path, plan) as writer:
        writer.change(plan.changes[0], outcome="succeeded")
        on_disk = verify_audit(writer.path)
        assert (on_disk.intact, on_disk.complete, on_disk.records) == (True, False, 2)
    assert synced == [1, 2, 3]  # apply_started, the change, apply_finished: each as written


def test_a_crash_inside_the_run_leaves_it_incomplete(tmp_path: Path) -> None:
    verdict = verify_audit(_write_run(tmp_path, crash=True))
    assert (verdict.intact, verdict.complete, verdict.records) == (True, False, 8)


def _edit(lines: list[bytes]) -> list[bytes]:
    record = json.loads(lines[3])
    record["outcome"] = "succeeded" if record["outcome"] == "failed" else "failed"
    return [*lines[:3], rfc8785.dumps(record), *lines[4:]]


def _edit_and_rehash(lines: list[bytes]) -> list[bytes]:
    record = json.loads(lines[3])
    record["user"] = "mallory@contoso.com"
    record["sha256"] = record_sha256(record)
    return [*lines[:3], rfc8785.dumps(record), *lines[4:]]


TAMPERING: list[tuple[str, Callable[[list[bytes]], list[bytes]], int]] = [
    ("an edited record is named", _edit, 4),
    ("an edited record with a recomputed hash breaks the next link", _edit_and_rehash, 5),
    ("a removed record is named by the seq that is missing", lambda ls: ls[:4] + ls[5:], 5),
    ("reordered records are named where the order breaks",
     lambda ls: [*ls[:2], ls[3], ls[2], *ls[4:]], 3),
    ("a duplicated record is named", lambda ls: [*ls[:5], ls[4], *ls[5:]], 6),
    ("a record added after apply_finished is named", lambda ls: [*ls, ls[1]], 10),
    ("a blank line is named", lambda ls: [*ls[:2], b"", *ls[2:]], 3),
    ("a removed first record is named", lambda ls: ls[1:], 1),
    ("a record cut off mid-way is named", lambda ls: [*ls[:6], ls[6][:40]], 7),
    ("apply_finished moved to the middle is named", lambda ls: [*ls[:3], ls[-1]], 4),
]  # fmt: skip


def _rechained(records: list[dict[str, Any]]) -> list[bytes]:
    """``records`` as a forger who knows the format writes them: each one's prev_sha256 and
    sha256 computed again, so only the rules on what the records say can catch them."""
    lines, previous = [], GENESIS
    for seq, record in enumerate(records, start=1):
        record = {**record, "seq": seq, "prev_sha256": previous}
        record.pop("sha256", None)
        previous = hashlib.sha256(rfc8785.dumps(record)).hexdigest()
        lines.append(rfc8785.dumps({**record, "sha256": previous}))
    return lines


def _counted_again(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    finished = dict(records[-1])
    counts = dict(finished["counts"])
    counts["succeeded"] += 1
    return [*records[:-1], {**finished, "counts": counts}]


FORGED: list[tuple[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]], int, str]] = [
    ("counts that disagree with the change records", _counted_again, 9, "counts"),
    ("a records count that is not the records before",
     lambda rs: [*rs[:-1], {**rs[-1], "records": 7}], 9, "says 7 records"),
    ("a change after apply_finished", lambda rs: [*rs, rs[3]], 10, "follows apply_finished"),
    ("a second apply_started", lambda rs: [*rs[:3], rs[0], *rs[3:]], 4, "only the first"),
    ("apply_finished before the last change",
     lambda rs: [*rs[:-2], {**rs[-1], "records": 7}, rs[-2]], 8, "counts"),
    ("a result apply never writes",
     lambda rs: [*rs[:-1], {**rs[-1], "result": "r" * 2_000_000}], 9, "result 'rrrrrrr"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("forge", "bad_seq", "said"),
    [(f, s, w) for _, f, s, w in FORGED],
    ids=[i for i, _, _, _ in FORGED],
)
def test_a_forged_file_with_an_intact_chain_is_caught_by_what_it_says(
    run: Path,
    forge: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    bad_seq: int,
    said: str,
) -> None:
    run.write_bytes(b"\n".join(_rechained(forge(_records(run)))) + b"\n")
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.first_bad_seq) == (False, bad_seq)
    assert said in verdict.describe()
    assert len(verdict.describe()) < 300  # values from the file are cut where they are shown


def test_a_forged_plan_file_name_is_cut_where_it_is_shown(run: Path) -> None:
    records = _records(run)[:-1]  # no apply_finished: the plan beside the file is named
    started = {**records[0], "plan_file": "p" * 2_000_000}
    run.write_bytes(b"\n".join(_rechained([started, *records[1:]])) + b"\n")
    described = verify_audit(run).describe()
    assert "p" * 80 in described
    assert len(described) < 400


def test_every_field_of_a_record_is_covered_by_its_hash(run: Path) -> None:
    """Each field of a change record changed, the record not hashed again: named at seq 4."""
    lines = run.read_bytes().splitlines()
    record = json.loads(lines[3])
    for field in (key for key in record if key != "sha256"):
        value = record[field]
        edited = {**record, field: value + 1 if isinstance(value, int) else "edited"}
        run.write_bytes(b"\n".join([*lines[:3], rfc8785.dumps(edited), *lines[4:]]) + b"\n")
        verdict = verify_audit(run)
        assert (verdict.intact, verdict.first_bad_seq) == (False, 4), field


@pytest.mark.parametrize(
    ("tamper", "bad_seq"), [(t, s) for _, t, s in TAMPERING], ids=[i for i, _, _ in TAMPERING]
)
def test_tampering_is_detected_at_the_first_bad_seq(
    run: Path, tamper: Callable[[list[bytes]], list[bytes]], bad_seq: int
) -> None:
    run.write_bytes(b"\n".join(tamper(run.read_bytes().splitlines())) + b"\n")
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.ok, verdict.first_bad_seq) == (False, False, bad_seq)
    assert verdict.describe().startswith(f"tampered: seq {bad_seq}: ")


@pytest.mark.parametrize("keep", [8, 1], ids=["cut before apply_finished", "only apply_started"])
def test_a_run_cut_at_a_record_boundary_is_intact_but_incomplete(run: Path, keep: int) -> None:
    lines = run.read_bytes().splitlines(keepends=True)
    run.write_bytes(b"".join(lines[:keep]))
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.complete, verdict.records) == (True, False, keep)
    assert "run incomplete" in verdict.describe()


LEAKED = "fake-audit-leak-for-tests"


class _Leaky:
    def __str__(self) -> str:
        return LEAKED


@pytest.mark.parametrize(
    "secret", [Secret(LEAKED), _Leaky(), 1.5], ids=["a Secret", "any other object", "a float"]
)
def test_only_plain_json_values_are_written(tmp_path: Path, secret: object) -> None:
    plan = golden_plan()
    with _start(tmp_path, plan) as writer:
        with pytest.raises(TypeError, match="refusing to write"):
            writer.change(plan.changes[0], outcome="failed", error=cast(Any, secret))
        with pytest.raises(TypeError, match="refusing to write"):
            writer.change(plan.changes[0], outcome="failed", request_id=cast(Any, [secret]))
    assert LEAKED.encode() not in writer.path.read_bytes()
    assert verify_audit(writer.path).ok  # the refused records left no trace in the chain


def test_a_lone_surrogate_in_a_servers_error_is_recorded_escaped_never_lost(
    tmp_path: Path,
) -> None:
    # A 5xx body's "detail" can hold one (JSON "\\ud800"): RFC 8785 has no spelling for it,
    # and the record of a write that may have happened must still be written.
    plan = golden_plan()
    with _start(tmp_path, plan) as writer:
        writer.change(plan.changes[0], outcome="failed", http_status=502, error="boom \ud800 !")
    assert verify_audit(writer.path).ok
    records = [json.loads(line) for line in writer.path.read_text(encoding="utf-8").splitlines()]
    (failed,) = [r for r in records if r["type"] == "change"]
    assert failed["error"] == "boom \\ud800 !"


def test_a_secret_cannot_be_the_override_either(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Secret"):
        _start(tmp_path, golden_plan(), force_unsafe=cast(Any, Secret(LEAKED)))


def test_counts_that_disagree_with_the_records_are_refused(tmp_path: Path) -> None:
    with _start(tmp_path, golden_plan()) as writer, pytest.raises(ValueError, match="disagree"):
        writer.finish({"succeeded": 3})


def test_an_unknown_outcome_is_refused(tmp_path: Path) -> None:
    plan = golden_plan()
    with _start(tmp_path, plan) as writer, pytest.raises(ValueError, match="unknown outcome"):
        writer.change(plan.changes[0], outcome=cast(Any, "maybe"))


def test_an_unwritable_audit_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "audit"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(AuditError, match="cannot create an audit file"):
        _start(blocker, golden_plan())


def test_an_audit_dir_that_is_a_dangling_symlink_is_named_as_such(tmp_path: Path) -> None:
    link = tmp_path / "audit"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(AuditError) as caught:
        _start(link, golden_plan())
    assert caught.value.message == (
        f"cannot create an audit file in {link}: it is a symbolic link to {tmp_path / 'gone'}, "
        "which does not exist"
    )


class _Failing:
    """An audit file's handle that fails as a full disk or a file size limit makes it fail:
    the real file takes ``room`` bytes (the write that crosses it is cut short there, as the
    kernel does under RLIMIT_FSIZE), then every write raises ``error``; or, with ``at_flush``,
    writes go through and the flush after them raises (a buffered file on a full disk)."""

    def __init__(self, handle: Any, room: int, error: int, *, at_flush: bool = False) -> None:
        self._handle = handle
        self._room = room
        self._error = error
        self._at_flush = at_flush
        self.closed = False

    def _fail(self) -> OSError:
        return OSError(self._error, os.strerror(self._error))

    def write(self, data: bytes | memoryview) -> int:
        if self._room <= 0 and not self._at_flush:
            raise self._fail()
        taken = len(data) if self._at_flush else min(len(data), self._room)
        self._room -= taken
        return int(self._handle.write(data[:taken]))

    def flush(self) -> None:
        if self._at_flush and self._room < 0:
            raise self._fail()

    def fileno(self) -> int:
        return int(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
        self.closed = True
        raise self._fail()  # closing a failed file may fail too: it must not be a second error


def _started_size(tmp_path: Path, plan: Plan) -> int:
    """The size of apply_started for ``plan`` (the same clock gives the same record)."""
    writer = _start(tmp_path / "probe", plan)
    writer.close()
    return len(writer.path.read_bytes())


def _failing_after(
    monkeypatch: pytest.MonkeyPatch, room: int, error: int, *, at_flush: bool = False
) -> list[_Failing]:
    made: list[_Failing] = []
    real = audit_module._create

    def create(*args: Any) -> tuple[Path, _Failing]:
        path, handle = real(*args)
        made.append(_Failing(handle, room, error, at_flush=at_flush))
        return path, made[-1]

    monkeypatch.setattr(audit_module, "_create", create)
    return made


@pytest.mark.parametrize(
    ("error", "at_flush", "reason"),
    [
        (errno.EFBIG, False, "File too large"),
        (errno.ENOSPC, True, "No space left on device"),
        (errno.EIO, False, "Input/output error"),
    ],
    ids=[
        "the file size limit cuts a record short",
        "a full disk fails the flush",
        "an I/O error fails the write",
    ],
)
def test_a_record_the_file_cannot_take_and_every_later_one_go_to_stderr_still_chained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, at_flush: bool, reason: str
) -> None:
    plan = golden_plan()
    room = _started_size(tmp_path, plan) + 300  # apply_started and part of a change record
    made = _failing_after(monkeypatch, room, error, at_flush=at_flush)
    printed: list[str] = []
    writer = _start(tmp_path / "audit", plan, unwritten=printed.append)
    [handle] = made

    raised: list[AuditError] = []
    with writer:
        for change in plan.changes[:3]:
            try:
                writer.change(change, outcome="succeeded", http_status=201)
            except AuditError as exc:
                raised.append(exc)
    # Leaving the block after failures: no apply_finished, and the failed close is not raised.

    assert handle.closed
    assert len(raised) == 3
    assert raised[-1].message == f"the audit file {writer.path} could not be written: {reason}"
    assert "changes made since the file's last record (3) are printed above" in (
        raised[-1].hint or ""
    )
    on_disk = verify_audit(writer.path)
    assert (on_disk.intact, on_disk.records) == (True, 1)  # cut back to apply_started
    records = [json.loads(line) for line in printed]
    assert [r["user"] for r in records] == [c.user for c in plan.changes[:3]]
    assert [r["seq"] for r in records] == [2, 3, 4]
    assert records[0]["prev_sha256"] == on_disk.head_sha256
    for record in records:
        assert record_sha256({k: v for k, v in record.items() if k != "sha256"}) == record["sha256"]


def test_an_audit_file_that_cannot_take_apply_started_says_nothing_was_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_after(monkeypatch, 0, errno.ENOSPC)
    printed: list[str] = []
    with pytest.raises(AuditError) as caught:
        _start(tmp_path, golden_plan(), unwritten=printed.append)
    assert "could not be written: No space left on device" in caught.value.message
    assert caught.value.hint == "free disk space or fix the --audit-dir; nothing was changed"
    assert printed == []
    assert list(tmp_path.iterdir()) == []  # no empty file to be taken for a run


def test_a_missing_apply_finished_alone_says_every_change_is_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = golden_plan()
    _failing_after(monkeypatch, _started_size(tmp_path, plan), errno.ENOSPC)
    printed: list[str] = []
    writer = _start(tmp_path / "audit", plan, unwritten=printed.append)
    with writer, pytest.raises(AuditError) as caught:
        writer.finish()
    assert printed == []
    assert (caught.value.hint or "").startswith("every change made is in the file")


def test_a_log_line_is_the_record_with_nothing_a_terminal_or_a_workflow_would_act_on() -> None:
    record = {"user": "eve\u202e\x1b[2J@contoso.com ##[error]x", "n": 1, "a": None}
    line = log_line(record)
    assert json.loads(line) == record
    assert line.isascii()
    assert "#" not in line
    assert "\x1b" not in line
    assert line.startswith('{"a":null,"n":1,')


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(["audit", "verify", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_verify_exits_0_on_an_intact_complete_run(run: Path, cli: Callable[..., Any]) -> None:
    code, out, _ = cli(str(run))
    assert code == 0
    started = _records(run)[0]
    assert out.splitlines() == [
        "intact: 9 records, run complete (apply_finished: 4 succeeded, 2 failed, 1 skipped)",
        # Which run it is: a file copied over another's name verifies intact all the same.
        f"run: plan {started['plan_digest'][:12]}, started {started['time']}",
        f"last sha256: {_records(run)[-1]['sha256']}",
    ]


def test_the_run_line_of_a_rewritten_file_holds_no_flood(
    run: Path, cli: Callable[..., Any]
) -> None:
    # A file re-hashed whole with a 200,000-character `time`: one line of that length.
    records, prev = _records(run), GENESIS
    records[0]["time"] = "A" * 200_000
    for record in records:
        record["prev_sha256"] = prev
        record["sha256"] = prev = record_sha256({k: v for k, v in record.items() if k != "sha256"})
    run.write_bytes(b"".join(rfc8785.dumps(r) + b"\n" for r in records))
    code, out, _ = cli(str(run))
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("run: ")]
    assert line.endswith(", started " + "A" * 40)


def test_verify_exits_1_naming_the_first_bad_seq(run: Path, cli: Callable[..., Any]) -> None:
    run.write_bytes(b"\n".join(_edit(run.read_bytes().splitlines())) + b"\n")
    code, out, err = cli(str(run))
    assert (code, out) == (1, "")
    assert "tampered: seq 4: sha256 does not match the record's content" in err
    assert "hint:" in err


def test_verify_exits_1_on_an_incomplete_run(tmp_path: Path, cli: Callable[..., Any]) -> None:
    code, _, err = cli(str(_write_run(tmp_path, crash=True)))
    assert code == 1
    assert "intact: 8 records, run incomplete" in err


@pytest.mark.parametrize(
    ("anchor", "exit_code"),
    [("head", 0), ("other", 1)],
    ids=["the anchored hash matches", "a different anchored hash fails"],
)
def test_verify_checks_the_anchored_last_hash(
    run: Path, cli: Callable[..., Any], anchor: str, exit_code: int
) -> None:
    head = _records(run)[-1]["sha256"] if anchor == "head" else "f" * 64
    code, _, err = cli(str(run), "--expect-sha256", head.upper())
    assert code == exit_code
    assert ("not at" in err) == (exit_code == 1)


def test_verify_of_a_missing_file_exits_1(tmp_path: Path, cli: Callable[..., Any]) -> None:
    code, _, err = cli(str(tmp_path / "nope.jsonl"))
    assert code == 1
    assert "cannot read the audit file" in err


@pytest.mark.parametrize("take", [12, 32, 63])
def test_verify_takes_the_whole_anchored_hash_never_a_prefix(
    run: Path, cli: Callable[..., Any], take: int
) -> None:
    # A rewritten file whose last hash starts with 12 anchored characters costs 2**48 tries.
    head = _records(run)[-1]["sha256"]
    code, out, err = cli(str(run), "--expect-sha256", head[:take])
    assert (code, out) == (1, "")  # a usage error: the file is not called tampered
    assert "give the last record's sha256: 64 hex characters" in err
    assert "prefix" not in err

"""How an audit file is verified: each line the canonical JSON of its record, each record
where the hash chain says (docs/plan-and-audit.md).

Kept apart from the writer so ``entrasync audit verify`` reads no more than it needs; the
records themselves (their hash, the strict line reader) are :mod:`entrasync.core.audit_record`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from entrasync.adapters.files import read_whole
from entrasync.core import sanitize
from entrasync.core.apply_report import read_record
from entrasync.core.audit_record import (
    GENESIS,
    OUTCOMES,
    TYPES,
    BadRecord,
    Result,
    parse_record,
    record_sha256,
    tally,
    whole_lines,
)
from entrasync.core.canonical import canonical_text
from entrasync.errors import AuditError


@dataclass(frozen=True)
class AuditVerdict:
    path: Path
    records: int  # records verified, before the first bad one if any
    intact: bool  # every record read is where the chain says and unedited
    complete: bool  # an apply_finished record closes the run
    first_bad_seq: int | None = None
    problem: str | None = None
    counts: Mapping[str, int] | None = None  # from apply_finished
    head_sha256: str | None = None  # the last intact record's hash: compare with the anchor
    result: str | None = None  # from apply_finished: applied, no changes, refused, ...
    plan_file: str | None = None  # from apply_started: the plan written beside the file
    run: str | None = None  # from apply_started: "plan <digest>, started <time>", inert
    cut: bool = False  # a last record cut off mid-write after the intact ones (a crash)
    # A whole record that does not verify, or one after apply_finished: the file was edited.
    # An empty file, or a last record whole but for its line end, may be a crash's too.
    edited: bool = False

    @property
    def ok(self) -> bool:
        return self.intact and self.complete

    def describe(self) -> str:
        """One line; the file's own text in it (its plan's name, its result) made inert: verify
        reads files of unknown origin, and a line break there could forge lines of the output
        or a CI workflow command."""
        if not self.intact:
            return f"tampered: seq {self.first_bad_seq}: {sanitize.text(self.problem)}"
        if self.records == 0:  # an empty file; apply_started is synced before any change
            return (
                "no record (the file is empty): the apply stopped before its first record, so "
                "before any change to NeuralTrust, or the file was emptied since"
            )
        if self.cut:
            described = (
                f"intact: {self.records} records, then seq {self.first_bad_seq} cut off while "
                "it was written (the machine or its disk stopped); run incomplete"
            )
        elif not self.complete:
            described = (
                f"intact: {self.records} records, run incomplete (no apply_finished: the apply "
                "stopped before it finished, or the file was cut short)"
            )
        if not self.complete:
            if self.plan_file:
                described += (
                    f"; a change of its plan ({sanitize.text(self.plan_file[:80])}, beside the "
                    "file) that has no "
                    "record here may have been made"
                )
            return described
        counts = self.counts or {}
        # Files written before `result` existed, and runs that applied, need no word more.
        said = self.result if self.result not in (None, "applied") else None
        ended = f"; {sanitize.text(said[:80])}" if said else ""  # a forged one: cut, as above
        return (
            f"intact: {self.records} records, run complete (apply_finished: {tally(counts)}{ended})"
        )


class _Broken(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def read_audit_file(path: Path) -> bytes:
    """An audit file's bytes, or the error that says it cannot be read."""
    return read_whole(
        path,
        "the audit file",
        "pass a file written by `entrasync apply` (one of audit/*.jsonl, or the run's artifact)",
        AuditError,
    )


class NoAuditFile(AuditError):
    """The audit folder is missing or holds no audit file: the apply it was given to failed
    before its first record, so it changed nothing (a mistyped file is another error)."""


def newest_audit(path: Path) -> Path:
    """``path`` if it is a file, else the newest audit file (``*.jsonl``) in that folder;
    :class:`NoAuditFile` when the folder is missing or holds none. A folder (or a file in it)
    the job may not read is an :class:`AuditError`: glob() finds nothing in a folder it may not
    list, which read as "the apply changed nothing"."""
    try:
        return _newest_audit(path)
    except OSError as exc:  # may not be read, a name too long, an I/O error: said, as read_whole
        raise AuditError(
            f"cannot read the audit folder {path}: {exc.strerror or exc}",
            "let the job read the folder apply wrote its audit file into, and run again",
        ) from None


def _newest_audit(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        os.listdir(path)  # a folder that may not be listed raises here, not in glob()
    # Regular files only: a dangling link among them was a traceback.
    found = [p for p in path.glob("*.jsonl") if p.is_file()]
    files = sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
    if not files and path.suffix == ".jsonl":
        raise AuditError(
            f"no audit file: {path} does not exist",
            "check the path: pass an audit file apply wrote, or the folder it wrote it into",
        )
    if not files:
        raise NoAuditFile(
            f"no audit file (*.jsonl) in {path}"
            if path.is_dir()
            else f"no audit file: {path} does not exist",
            "the apply step wrote none: it failed before its first change; see its log",
        )
    return files[-1]


def verify_audit(path: Path | str) -> AuditVerdict:
    """Check the chain record by record and name the first bad ``seq``."""
    path = Path(path)
    return verify_bytes(read_audit_file(path), path)


def verify_bytes(data: bytes, path: Path) -> AuditVerdict:
    """:func:`verify_audit` of the bytes read from ``path``: a caller that goes on to use
    them checks the very bytes it uses."""
    if data.startswith(b'{\n  "format_version": '):  # a plan file's first lines, as written
        beside = path.with_name(path.name.removesuffix(".plan.json") + ".jsonl")
        raise AuditError(
            f"{path} is a plan file, not an audit file",
            f"pass the audit file beside it, {beside.name}"
            if path.name.endswith(".plan.json") and beside.is_file()
            else "pass an audit file: a *.jsonl that apply wrote in its --audit-dir (audit/)",
        )
    lines, cut = whole_lines(data)
    head, tally = GENESIS, Counter[str]()
    if not lines and not cut:  # a run stopped before its first record (describe says)
        return AuditVerdict(path, 0, True, False, head_sha256=head)
    finished: dict[str, Any] | None = None
    plan_file: str | None = None
    run: str | None = None
    before = head  # the hash before the last record read
    for index, raw in enumerate(lines):
        seq = index + 1
        try:
            if not raw:
                raise _Broken("an empty line, which apply never writes: the file was edited")
            if finished is not None:
                raise _Broken("a record follows apply_finished")
            record = parse_record(raw, seq)
            _check_canonical(record, raw)
            _check(record, seq, head, tally)
        except (_Broken, BadRecord) as broken:
            return AuditVerdict(
                path, index, False, False, seq, broken.problem, None, head, edited=True
            )
        before, head = head, record["sha256"]
        if record["type"] == "apply_started":
            named = record.get("plan_file")
            plan_file = named if isinstance(named, str) else None
            run = _run_of(record)
        elif record["type"] == "change":
            tally[str(record.get("outcome"))] += 1
        elif record["type"] == "apply_finished":
            finished = record
    if cut:
        # What a crash or a power cut leaves: whole records, then a part of the next (or
        # zeros). Cutting a record hides nothing that removing it whole does not.
        seq = len(lines) + 1
        if finished is not None:
            problem = "a record follows apply_finished"
            return AuditVerdict(
                path, len(lines), False, False, seq, problem, None, head, edited=True
            )
        return AuditVerdict(
            path, len(lines), True, False, seq, None, None, head, plan_file=plan_file, cut=True
        )
    if not data.endswith(b"\n"):  # apply ends every record with one
        problem = "its last line has no line end: the file was cut short, or edited"
        return AuditVerdict(path, len(lines) - 1, False, False, len(lines), problem, None, before)
    counts = finished.get("counts") if finished is not None else None
    result = finished.get("result") if finished is not None else None
    return AuditVerdict(
        path,
        len(lines),
        True,
        finished is not None,
        counts=counts,
        head_sha256=head,
        result=result if isinstance(result, str) else None,
        plan_file=plan_file,
        run=run,
    )


def _run_of(started: dict[str, Any]) -> str:
    """Which run a file records, to tell it from another's under its name: the plan's digest
    and the time it started (a file copied over another's verifies as intact)."""
    digest, time = started.get("plan_digest"), started.get("time")
    return sanitize.text(
        f"plan {digest[:12] if isinstance(digest, str) else '?'}, started "
        f"{time[:40] if isinstance(time, str) else '?'}"  # a forged file's cannot flood it
    )


def _check_canonical(record: dict[str, Any], raw: bytes) -> None:
    """The line must be the canonical JSON (RFC 8785) of its record, byte for byte, as apply
    writes it: the hash covers the record's content, so without this a line could be
    re-spaced or its keys reordered and still verify."""
    try:
        canonical = canonical_text(record).encode("utf-8")
    except UnicodeEncodeError:
        raise _Broken("holds text that is not Unicode (a lone surrogate escape)") from None
    if canonical != raw:
        raise _Broken(
            "not the canonical JSON of its record (RFC 8785): its spacing, line ending, key "
            "order or escapes differ from what apply writes"
        )


def _check(record: dict[str, Any], seq: int, prev: str, tally: Counter[str]) -> None:
    # Values from the file are cut where they are shown: a forged one cannot flood the output.
    found = record.get("seq")
    if not _is_count(found) or found != seq:
        raise _Broken(
            f"found seq {repr(found)[:40]} where seq {seq} belongs: a record was removed, "
            "inserted or reordered"
        )
    if record.get("prev_sha256") != prev:
        if seq == 1:
            raise _Broken("prev_sha256 of the first record is not 64 zeros: the chain breaks")
        raise _Broken(f"prev_sha256 does not match the sha256 of seq {seq - 1}: the chain breaks")
    if record.get("sha256") != record_sha256(record):
        raise _Broken("sha256 does not match the record's content: it was edited")
    kind = record.get("type")
    if kind not in TYPES:
        raise _Broken(f"unknown record type {repr(kind)[:40]}")
    if (seq == 1) != (kind == "apply_started"):
        raise _Broken("apply_started must be the first record, and only the first")
    try:
        read_record(record)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        said = sanitize.text(str(exc))[:80]
        raise _Broken(f"a {kind} record report-apply cannot read: {said}") from None
    if kind == "apply_finished":
        if not _is_count(record.get("records")) or record.get("records") != seq - 1:
            raise _Broken(
                f"apply_finished says {repr(record.get('records'))[:40]} records came before it"
            )
        result = record.get("result")  # absent from files written before it was recorded
        if result is not None and result not in get_args(Result):
            raise _Broken(
                f"apply_finished has result {repr(result)[:40]}, which apply never writes"
            )
        counts = record.get("counts")
        counted = isinstance(counts, dict) and all(map(_is_count, counts.values()))
        if not counted or counts != {o: tally[o] for o in OUTCOMES}:
            raise _Broken(
                f"apply_finished counts {repr(counts)[:80]} disagree with the change records"
            )


def _is_count(value: object) -> bool:
    """A JSON integer, as apply writes counts: ``true == 1`` in Python, not in the format."""
    return type(value) is int

"""The audit artifact: one hash-chained JSON Lines file per apply run (docs/plan-and-audit.md).

Each record carries ``seq``, ``prev_sha256`` and ``sha256`` = SHA-256 of the RFC 8785
canonical JSON of the record without ``sha256``; the first record chains from 64 zeros.
Records are written as that canonical JSON, then flushed and fsynced, so a crash loses
nothing already done and the file never holds a half-remembered change.

A record the file cannot take (disk full, the file size limit, an I/O error) is never lost
quietly: the writer stops writing to the file (cutting it back to its last whole record), and
that change record, and every later one, goes to stderr as one JSON line instead
(:func:`log_line`), so the CI log keeps it. Each write that fails raises :class:`AuditError`,
and apply starts no write after the first.

The chain shows that a file is internally consistent; it cannot stop someone from rewriting
the whole file. That is why apply also publishes the last record's hash (job summary, artifact
digest): anchored outside the file, it pins every record before it (as CloudTrail's chained
digest files do).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from entrasync import __version__
from entrasync.adapters.clock import utc_now_ms
from entrasync.adapters.files import write_plan
from entrasync.adapters.github.actions import run_url
from entrasync.core import sanitize
from entrasync.core.audit_record import GENESIS, OUTCOMES, Outcome, Result, record_sha256
from entrasync.core.canonical import canonical_json
from entrasync.core.plan import Change, Plan, Violation, short_digest
from entrasync.errors import AuditError, EntrasyncError

_MAX_NAME_TRIES = 100
log = logging.getLogger(__name__)


def git_head() -> str | None:
    """The checked-out commit; None without git or a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = done.stdout.strip()
    return head if done.returncode == 0 and len(head) in (40, 64) else None


def _recordable(value: object, where: str = "record") -> Any:
    """``value`` as the audit records it. Only JSON's own types go in: a Secret (or any object)
    is refused, never str()-ed. A lone surrogate in a string (a server's error text can hold
    one) has no canonical JSON (RFC 8785), so it is written as the six characters ``\\ud800``,
    as names are printed (entrasync.core.sanitize): the record is kept, never lost."""
    if isinstance(value, str):
        return value if value.isascii() else _LONE_SURROGATE.sub(_escaped, value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | tuple):
        return [_recordable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"audit {where}: key {key!r} is not a string")
        return {
            _recordable(key, where): _recordable(item, f"{where}.{key}")
            for key, item in value.items()
        }
    # Floats are refused too: canonical JSON of floats is where implementations disagree.
    raise TypeError(f"audit {where}: refusing to write a {type(value).__name__} into the audit")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(found: re.Match[str]) -> str:
    return sanitize.escape(ord(found.group()))


def log_line(record: Mapping[str, Any]) -> str:
    """A record as one line of a log: its JSON with sorted keys, everything beyond ASCII and
    every ``#`` escaped, so no name in it can drive a terminal or write a GitHub workflow
    command (``##[...]``); the same record as the file's canonical line, once parsed."""
    text = json.dumps(record, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("#", "\\u0023")


def to_stderr(line: str) -> None:
    """Where the records the audit file could not take go when no one says otherwise."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def violations_json(violations: Sequence[Violation]) -> list[dict[str, str]]:
    return [{"rule": v.rule, "message": v.message} for v in violations]


def override_record(
    plan: Plan, given: str | None, overridden: Sequence[Violation]
) -> dict[str, Any] | None:
    """What ``--force-unsafe`` named: as typed, the full digest it matched, what it overrode."""
    if given is None:
        return None
    given = _recordable(given, "force_unsafe")  # a Secret or any object is refused, not matched
    return {
        "given": given,
        "matched_digest": plan.digest if plan.matches_digest(given) else None,
        "overridden": violations_json(overridden),
    }


def github_context(environ: Mapping[str, str]) -> dict[str, str | None]:
    """Actor and run URL when running in GitHub Actions (None elsewhere)."""
    return {"actor": environ.get("GITHUB_ACTOR") or None, "run_url": run_url(environ)}


def _started_record(
    plan: Plan,
    started: str,
    config_sha256: str | None,
    override: dict[str, Any] | None,
    env: Mapping[str, str],
    git_commit: Callable[[], str | None],
    plan_file: str | None,
) -> dict[str, Any]:
    return {
        "type": "apply_started",
        "time": started,
        "entrasync_version": __version__,
        "plan_digest": plan.digest,
        "plan_created_at": plan.created_at or None,
        "config_path": plan.config_path,
        "config_sha256": config_sha256 or plan.config_sha256,
        "scim_url": plan.scim_url,
        "state_sha256": plan.state_sha256,
        "changes_planned": len(plan.changes),
        "plan_file": plan_file,
        # What was applied: the checked-out commit (apply.yml checks out main's tip, which a
        # re-run of an older run's GITHUB_SHA is not), else the run's commit.
        "git_commit": git_commit() or env.get("GITHUB_SHA"),
        **github_context(env),
        "force_unsafe": override,
    }


class AuditWriter:
    """Writes one run's audit file; use :meth:`start` and then ``with``.

    Leaving the ``with`` block normally writes ``apply_finished`` (if :meth:`finish` was not
    called); leaving it by an exception does not, so the file shows the run as incomplete.
    """

    def __init__(
        self,
        path: Path,
        handle: Any,
        clock: Callable[[], str],
        unwritten: Callable[[str], None] = to_stderr,
    ) -> None:
        """``handle``: the file, unbuffered (or flushed by ``flush``); ``unwritten``: where
        each change record goes once the file cannot take records (one :func:`log_line`)."""
        self.path = path
        self._handle = handle
        self._clock = clock
        self._unwritten = unwritten
        self._lock = threading.Lock()
        self._seq = 0
        self._head = GENESIS
        self._outcomes: Counter[str] = Counter()
        self._planned = 0
        self._size = 0  # bytes of whole records in the file
        self._failure: str | None = None  # why the file takes no more records
        self._diverted = 0  # change records sent to ``unwritten`` instead
        self.finished = False

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        plan: Plan,
        config_sha256: str | None = None,
        force_unsafe: str | None = None,
        overridden: Sequence[Violation] = (),
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], str] = utc_now_ms,
        git_commit: Callable[[], str | None] = git_head,
        unwritten: Callable[[str], None] = to_stderr,
        plan_beside: bool = True,
    ) -> AuditWriter:
        """Create the run's file (never overwriting one) and write ``apply_started``.

        ``overridden``: the safety violations ``force_unsafe`` lets through. ``unwritten``:
        where change records go once the file cannot take them (see :class:`AuditWriter`).
        ``plan_beside``: write the plan beside the file first (a run that may write to
        NeuralTrust and has changes to make); a refused or already applied run writes none.
        """
        env = os.environ if environ is None else environ
        override = override_record(plan, force_unsafe, overridden)
        started = clock()
        path, handle = _create(Path(directory), started, plan.digest)
        writer = cls(path, handle, clock, unwritten)
        writer._planned = len(plan.changes)
        # The plan beside the file, before any write: a run killed with writes in flight (a
        # runner's SIGKILL) leaves no record of them, and its plan says what they may have been.
        beside = path.with_suffix(PLAN_SUFFIX) if plan.changes and plan_beside else None
        made: list[Path] = [path]  # removed should the run stop here
        try:
            if beside is not None:
                _write_plan(beside, plan)
                made.append(beside)
            name = beside.name if beside is not None else None
            record = _started_record(plan, started, config_sha256, override, env, git_commit, name)
            try:
                writer._write(record)
            except AuditError as failed:  # its hint speaks of the changes a run made
                raise AuditError(failed.message, _NOTHING_CHANGED) from None
        except BaseException:  # a write that failed, or a stop (Ctrl-C) meanwhile
            writer.close()
            # Nothing refers to the files yet: an empty one would only be taken for a run.
            for written in made:  # what is at the beside plan's name may be someone else's
                with contextlib.suppress(OSError):
                    written.unlink()
            raise
        _fsync_directory(path.parent)  # the new name itself survives a crash
        return writer

    @property
    def head_sha256(self) -> str:
        """The last record's hash: publish it outside the file to anchor the chain."""
        return self._head

    @property
    def records(self) -> int:
        return self._seq

    def change(
        self,
        change: Change,
        *,
        outcome: Outcome,
        http_status: int | None = None,
        request_id: str | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        self._write(
            {
                "type": "change",
                "time": self._clock(),
                "action": change.action.value,
                "user": change.user,
                "entra_id": change.entra_id,
                "target_id": change.target_id,
                "before": change.before.to_json() if change.before is not None else None,
                "after": change.after.to_json(),
                "outcome": outcome,
                "http_status": http_status,
                "request_id": request_id,
                "error": error,
                "detail": detail,
            }
        )
        with self._lock:
            self._outcomes[outcome] += 1

    def finish(
        self,
        counts: Mapping[str, int] | None = None,
        *,
        result: Result = "applied",
        reason: str | None = None,
        violations: Sequence[Violation] = (),
    ) -> None:
        """Write ``apply_finished``; its counts are this file's own tally of change records.

        ``counts`` (the caller's tally) is accepted for the caller's convenience and must agree.
        ``result`` says how the run ended; a refusal gives its ``reason`` and ``violations``.
        """
        tally = {outcome: self._outcomes[outcome] for outcome in OUTCOMES}
        if counts is not None and {k: counts.get(k, 0) for k in OUTCOMES} != tally:
            raise ValueError(f"counts {dict(counts)} disagree with the audit's own {tally}")
        self._write(
            {
                "type": "apply_finished",
                "time": self._clock(),
                "counts": tally,
                "changes_planned": self._planned,
                "records": self._seq,
                "result": result,
                **({"reason": reason} if reason is not None else {}),
                **({"violations": violations_json(violations)} if violations else {}),
            }
        )
        self.finished = True

    def _write(self, fields: dict[str, Any]) -> None:
        fields = _recordable(fields)
        with self._lock:
            if self.finished:
                raise ValueError("the audit file is finished: no record may follow apply_finished")
            record = {**fields, "seq": self._seq + 1, "prev_sha256": self._head}
            record["sha256"] = record_sha256(record)
            if self._failure is None:
                self._failure = self._append(canonical_json(record) + b"\n")
            # A record that went to stderr still takes its place in the chain: the file and
            # the log together hold every record, in order.
            self._seq += 1
            self._head = record["sha256"]
            if self._failure is None:
                return
            if record["type"] == "change":
                self._diverted += 1
                self._unwritten(log_line(record))
            raise self._error()

    def _append(self, data: bytes) -> str | None:
        """Write one record through to the disk; on failure, why, with the file cut back to
        its last whole record (a partial line would read as tampering)."""
        try:
            view = memoryview(data)
            while view:  # an unbuffered file may take part of it (up to the size limit)
                view = view[self._handle.write(view) :]
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            # If even that fails, the verifier reports the cut-off last line.
            with contextlib.suppress(OSError, ValueError):
                os.ftruncate(self._handle.fileno(), self._size)
            return exc.strerror or str(exc)
        self._size += len(data)
        return None

    def _error(self) -> AuditError:
        message = f"the audit file {self.path} could not be written: {self._failure}"
        fix = "Free disk space (or raise the file size limit) and fix the --audit-dir"
        if self._diverted:
            hint = (
                "no write started after it, and the changes made since the file's last record "
                f"({self._diverted}) are printed above, one JSON line each: keep that log with "
                f"the audit file. {fix}, then run `entrasync plan` to see what is left to do"
            )
        else:
            hint = (
                "every change made is in the file; it lacks only its last record, so "
                f"`entrasync audit verify` calls the run incomplete. {fix}"
            )
        return AuditError(message, hint)

    @property
    def failed(self) -> bool:
        """True once a record could not be written: the file takes no more."""
        return self._failure is not None

    def close(self) -> None:
        """Close the file; never an error of its own (every record was written through, or
        went to stderr, already)."""
        try:
            self._handle.close()
        except OSError as exc:
            log.debug("closing the audit file %s: %s", self.path, exc)

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            # After a failed record the caller has had its error: no apply_finished is tried.
            if exc_type is None and not self.finished and not self.failed:
                self.finish()
        finally:
            self.close()


PLAN_SUFFIX = ".plan.json"  # the plan beside its audit file: entrasync-apply-...plan.json


_NOTHING_CHANGED = "free disk space or fix the --audit-dir; nothing was changed"


def _write_plan(path: Path, plan: Plan) -> None:
    """The plan beside the audit file, at a name nothing holds: its name can be foreseen (the
    time and the digest a pull request shows), and another account sharing the folder could
    have put a symlink or a FIFO there."""
    try:
        write_plan(path, plan, new=True)
    except FileExistsError:
        raise AuditError(
            f"cannot write the plan beside the audit file: {sanitize.file_name(path.name)} is "
            "already in the audit folder, and apply made no such file",
            "someone else who may write in the --audit-dir put it there: remove it or use a "
            "folder only you may write in; nothing was changed",
        ) from None
    except EntrasyncError as exc:
        raise AuditError(
            f"cannot write the plan beside the audit file: {exc.message}", _NOTHING_CHANGED
        ) from None


def _create(directory: Path, started: str, digest: str) -> tuple[Path, Any]:
    stamp = started.replace("-", "").replace(":", "").split(".")[0] + "Z"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(_MAX_NAME_TRIES):
            suffix = f"-{attempt + 1}" if attempt else ""
            path = directory / f"entrasync-apply-{stamp}-{short_digest(digest)}{suffix}.jsonl"
            try:
                # Exclusive: an audit file is never overwritten. Unbuffered: each record goes
                # to the file at once, so a failure is seen at the record that failed, and
                # closing has nothing left to write.
                return path, path.open("xb", buffering=0)
            except FileExistsError:
                continue
    except OSError as exc:
        why = exc.strerror or str(exc)
        if directory.is_symlink() and not directory.exists():  # mkdir says "File exists"
            why = f"it is a symbolic link to {os.readlink(directory)}, which does not exist"
        raise AuditError(
            f"cannot create an audit file in {directory}: {why}",
            "pass a writable --audit-dir; nothing was changed",
        ) from None
    raise AuditError(
        f"cannot create an audit file in {directory}: {_MAX_NAME_TRIES} runs in one second",
        "wait a second and retry; nothing was changed",
    )


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory; NTFS journals the entry anyway
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

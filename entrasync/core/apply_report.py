"""What an apply did, and what it did that nobody reviewed (pure).

:class:`ApplyReport` is each change's outcome, made live by apply or read back from its audit
file (:func:`read_audit`). apply after merge plans afresh: the mappings are what was reviewed,
but Entra membership may have moved since the pull request's last plan. So :func:`compare`
holds what was applied against that reviewed plan, and the comment on the merged pull request
(:mod:`entrasync.render.apply_report`) lists every applied change the plan did not hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from entrasync.core.audit_record import OUTCOMES, BadRecord, Outcome, parse_record, whole_lines
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.strict_json import ShapeError, text, text_or_null
from entrasync.errors import AuditError


class _HasOutcome(Protocol):
    @property
    def outcome(self) -> Outcome: ...


R = TypeVar("R", bound=_HasOutcome)


@dataclass(frozen=True)
class ApplyReport(Generic[R]):
    """Each change an apply took up, with its outcome, in the order they ended."""

    results: tuple[R, ...]

    def with_outcome(self, outcome: Outcome) -> tuple[R, ...]:
        return tuple(r for r in self.results if r.outcome == outcome)

    @property
    def succeeded(self) -> tuple[R, ...]:
        return self.with_outcome("succeeded")

    @property
    def failed(self) -> tuple[R, ...]:
        return self.with_outcome("failed")

    @property
    def skipped(self) -> tuple[R, ...]:
        return self.with_outcome("skipped")

    @property
    def counts(self) -> dict[str, int]:
        return {o: len(self.with_outcome(o)) for o in OUTCOMES}


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One ``change`` record of an audit file."""

    action: Action
    user: str
    after: Access
    outcome: Outcome
    error: str | None = None
    entra_id: str | None = None  # null for a NeuralTrust user no Entra user stands for

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        return _key(self.action, self.user, self.entra_id, self.after)


@dataclass(frozen=True)
class AuditSummary:
    report: ApplyReport[AppliedChange]
    plan_digest: str | None
    finished: bool  # an apply_finished record closes the run
    config_path: str | None = None
    result: str = "applied"  # apply_finished's: applied, no changes, already applied, refused
    reason: str | None = None  # why a refused run refused
    violations: tuple[str, ...] = ()  # "rule: message" that refused the run
    overridden: tuple[str, ...] = ()  # "rule: message" let through by --force-unsafe
    git_commit: str | None = None  # the commit whose config the run applied (its checkout)
    # An apply_started record was read. Apply writes and syncs it before any change: a file
    # without one (empty: the run was stopped first) records a run that changed nothing.
    started: bool = True

    @property
    def applied_nothing(self) -> bool:
        return self.finished and self.result != "applied"


@dataclass(frozen=True)
class Review:
    """An applied run held against the plan reviewed on its pull request."""

    audit: AuditSummary
    reviewed_digest: str | None  # None: no reviewed plan was found
    unreviewed: tuple[AppliedChange, ...]  # attempted, but not in the reviewed plan
    not_applied: tuple[Change, ...]  # reviewed, but not part of this apply


def _key(
    action: Action, user: str, entra_id: str | None, after: Access
) -> tuple[str, str, str | None, str]:
    # The Entra user too: a UPN handed to someone else between review and merge is another
    # person getting the access reviewed for the first.
    return (action.value, user.lower(), entra_id.lower() if entra_id else None, after.canonical())


def read_audit(data: bytes, source: str = "audit file") -> AuditSummary:
    """An audit file's records (docs/plan-and-audit.md), read by the strict reader that
    ``entrasync audit verify`` uses too."""
    changes: list[AppliedChange] = []
    digest: str | None = None
    config_path: str | None = None
    finished = False
    ended: dict[str, Any] = {}
    overridden: tuple[str, ...] = ()
    git_commit: str | None = None
    started = False
    number = 0
    lines, cut = whole_lines(data)  # a record a crash cut off: the run is incomplete
    try:
        for number, raw in enumerate(lines, start=1):
            if finished:  # apply writes nothing after apply_finished
                raise BadRecord(number, "a record follows apply_finished")
            record = parse_record(raw, number)
            kind = record.get("type")
            applied = read_record(record)
            if applied is not None:
                changes.append(applied)
            elif kind == "apply_started":
                started = True
                digest, config_path = record.get("plan_digest"), record.get("config_path")
                commit = record.get("git_commit")
                git_commit = commit if isinstance(commit, str) and commit else None
                override = record.get("force_unsafe")
                if isinstance(override, dict):
                    overridden = _violations(override.get("overridden"))
                elif isinstance(override, str) and override:
                    # entrasync 0.1.0 recorded the digest typed, not the violations overridden.
                    overridden = (f"violations this older audit file does not name ({override})",)
            elif kind == "apply_finished":
                finished, ended = True, record
    except BadRecord as bad:
        raise _not_a_record(source, bad.line, bad.problem) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _not_a_record(source, number, str(exc)) from None
    if cut and finished:  # apply writes nothing after apply_finished
        raise _not_a_record(source, len(lines) + 1, "a record follows apply_finished")
    return AuditSummary(
        ApplyReport(tuple(changes)),
        digest,
        finished,
        config_path,
        result=str(ended.get("result") or "applied"),  # files from before `result`: applied
        reason=ended.get("reason"),
        violations=_violations(ended.get("violations")),
        overridden=overridden,
        git_commit=git_commit,
        started=started,
    )


_DIGEST = re.compile(r"[0-9a-f]{12,64}")  # a plan's digest, or (older files) its first 12


def read_record(record: dict[str, Any]) -> AppliedChange | None:
    """What :func:`read_audit` reads of one record (the change, for a ``change`` record),
    refusing a value apply never writes there with ValueError, KeyError, TypeError or
    AttributeError; ``audit verify`` holds every record to the same."""
    kind = record.get("type")
    if kind == "change":
        return _applied(record)
    if kind == "apply_started":
        digest = text_or_null(record.get("plan_digest"), "plan_digest")
        if digest is not None and not _DIGEST.fullmatch(digest):  # shown in code spans
            raise ShapeError("plan_digest is not a plan's digest (lower-case hex)")
        text_or_null(record.get("config_path"), "config_path")
    elif kind == "apply_finished":
        text_or_null(record.get("reason"), "reason")  # shown as it is
    return None


def _applied(record: dict[str, Any]) -> AppliedChange:
    outcome = record.get("outcome")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    return AppliedChange(
        action=Action(record["action"]),
        user=text(record["user"], "user"),
        after=Access.from_json(record["after"], "after"),  # apply writes every change's
        outcome=outcome,
        error=text_or_null(record.get("error"), "error"),
        entra_id=text_or_null(record.get("entra_id"), "entra_id"),
    )


def _not_a_record(source: str, line: int, problem: str) -> AuditError:
    return AuditError(
        f"{source} line {line} is not an entrasync audit record: {problem}",
        "pass the JSON Lines file written by `entrasync apply --audit-dir`",
    )


def _violations(items: object) -> tuple[str, ...]:
    """``rule: message`` lines of an audit record's list of violations."""
    if not isinstance(items, list):
        return ()
    return tuple(
        f"{item.get('rule')}: {item.get('message')}" for item in items if isinstance(item, dict)
    )


def compare(audit: AuditSummary, reviewed: Plan | None) -> Review:
    """Applied-but-unreviewed and reviewed-but-not-applied changes.

    A change matches when action, user, Entra user and the access after it are all equal:
    the same user getting a different role than the one reviewed is a surprise too. Skipped changes
    were not attempted, so they never count as unreviewed.
    """
    applied = audit.report.results
    attempted = [c for c in applied if c.outcome != "skipped"]
    if reviewed is None:
        return Review(audit, None, tuple(attempted), ())
    reviewed_keys = {_key(c.action, c.user, c.entra_id, c.after) for c in reviewed.changes}
    applied_keys = {c.key for c in applied}
    unreviewed = tuple(c for c in attempted if c.key not in reviewed_keys)
    not_applied = tuple(
        c
        for c in reviewed.changes
        if _key(c.action, c.user, c.entra_id, c.after) not in applied_keys
    )
    return Review(audit, reviewed.digest, unreviewed, not_applied)

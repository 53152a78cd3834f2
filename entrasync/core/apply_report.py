"""The post-apply report: what apply did, and what it did that nobody reviewed (pure).

apply after merge plans afresh: the mappings are what was reviewed, but Entra membership may
have moved since the pull request's last plan. So the comment on the merged pull request
lists every applied change that was not in that reviewed plan, for a human to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from entrasync.core import strict_json
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.wording import plural
from entrasync.errors import GitHubError
from entrasync.render.common import access_brief
from entrasync.render.markdown import escape


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One ``change`` record of an audit file."""

    action: Action
    user: str
    after: Access | None
    outcome: str  # succeeded | failed | skipped
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return _key(self.action, self.user, self.after)


@dataclass(frozen=True)
class AuditSummary:
    changes: tuple[AppliedChange, ...]
    plan_digest: str | None
    finished: bool  # an apply_finished record closes the run
    config_path: str | None = None
    result: str = "applied"  # apply_finished's: applied, no changes, already applied, refused
    reason: str | None = None  # why a refused run refused
    violations: tuple[str, ...] = ()  # "rule: message" that refused the run
    overridden: tuple[str, ...] = ()  # "rule: message" let through by --force-unsafe

    @property
    def applied_nothing(self) -> bool:
        return self.finished and self.result != "applied"


@dataclass(frozen=True)
class ApplyReport:
    audit: AuditSummary
    reviewed_digest: str | None  # None: no reviewed plan was found
    unreviewed: tuple[AppliedChange, ...]  # attempted, but not in the reviewed plan
    not_applied: tuple[Change, ...]  # reviewed, but not part of this apply

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.audit.changes if c.outcome == outcome)

    @property
    def surprises(self) -> bool:
        return bool(self.unreviewed) or self.reviewed_digest is None


def _key(action: Action, user: str, after: Access | None) -> tuple[str, str, str]:
    after_json = json.dumps(after.to_json() if after else None, sort_keys=True)
    return (action.value, user.lower(), after_json)


def read_audit(text: str, source: str = "audit file") -> AuditSummary:
    """The change records of an audit file (JSON Lines, CONTRACT section 7)."""
    changes: list[AppliedChange] = []
    digest: str | None = None
    config_path: str | None = None
    finished = False
    ended: dict[str, Any] = {}
    overridden: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = strict_json.loads(line)
            kind = record.get("type")
            if kind == "apply_started":
                digest = record.get("plan_digest")
                config_path = record.get("config_path")
                override = record.get("force_unsafe")
                # Files from before the override was a record held the typed digest alone.
                if isinstance(override, dict):
                    overridden = _violations(override.get("overridden"))
            elif kind == "apply_finished":
                finished, ended = True, record
            elif kind == "change":
                after = record.get("after")
                changes.append(
                    AppliedChange(
                        action=Action(record["action"]),
                        user=str(record["user"]),
                        after=Access.from_json(after) if after else None,
                        outcome=str(record.get("outcome", "")),
                        error=record.get("error"),
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GitHubError(
                f"{source} line {number} is not an entrasync audit record: {exc}",
                "pass the JSON Lines file written by `entrasync apply --audit-dir`",
            ) from None
    return AuditSummary(
        tuple(changes),
        digest,
        finished,
        config_path,
        result=str(ended.get("result") or "applied"),  # files from before `result`: applied
        reason=ended.get("reason"),
        violations=_violations(ended.get("violations")),
        overridden=overridden,
    )


def _violations(items: object) -> tuple[str, ...]:
    """``rule: message`` lines of an audit record's list of violations."""
    if not isinstance(items, list):
        return ()
    return tuple(
        f"{item.get('rule')}: {item.get('message')}" for item in items if isinstance(item, dict)
    )


def compare(audit: AuditSummary, reviewed: Plan | None) -> ApplyReport:
    """Applied-but-unreviewed and reviewed-but-not-applied changes.

    A change matches when action, user and the access after it are all equal: the same
    user getting a different role than the one reviewed is a surprise too. Skipped changes
    were not attempted, so they never count as unreviewed.
    """
    attempted = [c for c in audit.changes if c.outcome != "skipped"]
    if reviewed is None:
        return ApplyReport(audit, None, tuple(attempted), ())
    reviewed_keys = {_key(c.action, c.user, c.after) for c in reviewed.changes}
    applied_keys = {c.key for c in audit.changes}
    unreviewed = tuple(c for c in attempted if c.key not in reviewed_keys)
    not_applied = tuple(
        c for c in reviewed.changes if _key(c.action, c.user, c.after) not in applied_keys
    )
    return ApplyReport(audit, reviewed.digest, unreviewed, not_applied)


def render_report(
    report: ApplyReport,
    *,
    marker: str,
    run_url: str | None,
    note: str | None = None,
    max_chars: int = 65536,
    workflow: str | None = None,
) -> str:
    """The comment on the merged pull request: outcome counts first, surprises next.

    A run that applied nothing (no changes, already applied, refused) says so and why.
    ``workflow``: the apply workflow's name, for the override instruction of a refusal.
    """
    audit = report.audit
    tail = [f"[Workflow run and audit artifact]({run_url})"] if run_url else []
    if audit.applied_nothing:
        return "\n".join([marker, *_nothing_applied(audit, workflow), "", *tail]) + "\n"
    head = [
        marker,
        f"**Applied: {report.count('succeeded')} succeeded, {report.count('failed')} failed, "
        f"{report.count('skipped')} skipped.**",
        "",
    ]
    if audit.overridden:
        head += [
            "> [!CAUTION]",
            "> Applied with `--force-unsafe`, overriding: "
            + "; ".join(escape(v) for v in audit.overridden),
            "",
        ]
    if not audit.finished:
        head += [
            "> [!CAUTION]",
            "> The audit has no `apply_finished` record: the run stopped "
            "part-way. Re-run the apply workflow.",
            "",
        ]
    if report.reviewed_digest is None:
        why = f" ({escape(note)})" if note else ""
        head += [
            "> [!WARNING]",
            "> No plan reviewed on this pull request was found"
            + why
            + ": every applied change below went unreviewed.",
            "",
        ]
    elif report.unreviewed:
        head += [
            "> [!WARNING]",
            f"> **Not in the plan last reviewed on this pull request: "
            f"{plural(len(report.unreviewed), 'applied change')}** "
            f"(`{report.reviewed_digest[:12]}`): Entra membership or NeuralTrust moved "
            "between review and merge. Check them below.",
            "",
        ]
    else:
        head += [
            "Every applied change was in the plan last reviewed on this pull request "
            f"(`{report.reviewed_digest[:12]}`).",
            "",
        ]
    budget = max_chars - sum(len(x) + 1 for x in head + tail) - 400
    body: list[str] = []
    sections: list[tuple[str, list[AppliedChange] | list[Change]]] = [
        ("Applied but not in the reviewed plan", list(report.unreviewed)),
        (
            "Reviewed but not applied (already in place, or no longer wanted)",
            list(report.not_applied),
        ),
    ]
    for title, items in sections:
        if not items:
            continue
        lines, left_out = _rows(items, budget - sum(len(x) + 1 for x in body))
        body += [
            f"<details><summary>{title} ({len(items)})</summary>",
            "",
            "| action | user | after | outcome |",
            "|---|---|---|---|",
            *lines,
            "",
        ]
        if left_out:
            body.append(f"**{plural(left_out, 'more row')} left out**: see the audit artifact.")
        body += ["</details>", ""]
    return "\n".join(head + body + tail) + "\n"


def _nothing_applied(audit: AuditSummary, workflow: str | None) -> list[str]:
    digest = (audit.plan_digest or "")[:12]
    if audit.result == "no changes":
        return ["**Nothing applied: no changes.** NeuralTrust already matches the config."]
    if audit.result == "already applied":
        return [f"**Nothing applied: the plan `{digest}` was already applied.**"]
    if audit.result != "refused":
        return [f"**Nothing applied ({escape(audit.result)}).**"]
    lines = [
        "**Apply refused: nothing was changed.**",
        "",
        "> [!CAUTION]",
        f"> {escape(audit.reason or 'no reason recorded')}",
    ]
    if audit.violations:
        lines += ["", *(f"- {escape(v)}" for v in audit.violations)]
        if workflow:
            lines += [
                "",
                "Make the change safe in a new pull request, or, once the override is agreed, "
                f"apply anyway: **Actions → {escape(workflow)} → Run workflow → `force_unsafe` = "
                f"`{digest}`** (the run still needs the environment's approval).",
            ]
    return lines


def _rows(items: Iterable[AppliedChange | Change], budget: int) -> tuple[list[str], int]:
    """Table rows that fit in ``budget`` characters, and how many did not."""
    listed = list(items)
    out: list[str] = []
    used = 0
    for item in listed:
        outcome = item.outcome if isinstance(item, AppliedChange) else "not applied"
        row = (
            f"| {item.action.value} | {escape(item.user)} | {escape(access_brief(item.after))} "
            f"| {escape(outcome)} |"
        )
        if used + len(row) + 1 > budget:
            break
        out.append(row)
        used += len(row) + 1
    return out, len(listed) - len(out)

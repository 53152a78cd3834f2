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

from entrasync.errors import GitHubError
from entrasync.plan import Access, Action, Change, Plan
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
    finished: bool
    config_path: str | None = None  # an apply_finished record closes the run


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
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = json.loads(line)
            kind = record.get("type")
            if kind == "apply_started":
                digest = record.get("plan_digest")
                config_path = record.get("config_path")
            elif kind == "apply_finished":
                finished = True
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
    return AuditSummary(tuple(changes), digest, finished, config_path)


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
) -> str:
    """The comment on the merged pull request: outcome counts first, surprises next."""
    audit = report.audit
    head = [
        marker,
        f"**Applied: {report.count('succeeded')} succeeded, {report.count('failed')} failed, "
        f"{report.count('skipped')} skipped.**",
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
            f"> **{len(report.unreviewed)} applied change(s) were not in the plan last "
            f"reviewed on this pull request** (`{report.reviewed_digest[:12]}`): Entra "
            "membership or NeuralTrust moved between review and merge. Check them below.",
            "",
        ]
    else:
        head += [
            "Every applied change was in the plan last reviewed on this pull request "
            f"(`{report.reviewed_digest[:12]}`).",
            "",
        ]
    tail = [f"[Workflow run and audit artifact]({run_url})"] if run_url else []
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
            body.append(f"**{left_out} more rows left out**: see the audit artifact.")
        body += ["</details>", ""]
    return "\n".join(head + body + tail) + "\n"


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

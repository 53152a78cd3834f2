"""The plan for a terminal or a CI log, in the shape Terraform users already read.

Every directory-supplied string goes through :func:`clean`, so a display name cannot carry an
ANSI escape or a newline into the reviewer's terminal. Colour only when asked for.
"""

from __future__ import annotations

from typing import Protocol

import click

from entrasync.plan import Action, Change, Plan
from entrasync.render.common import (
    MARKERS,
    access_differences,
    clean,
    is_adoption,
    override_flag,
    products_text,
    role_text,
    summary_line,
)

_COLORS: dict[Action, str] = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DEACTIVATE: "red",
    Action.REACTIVATE: "green",
}
_LABEL_WIDTH = 12  # "decided by:" plus one space


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as text; the summary line comes last, as in ``terraform plan``."""

    def style(text: str, fg: str | None = None, bold: bool | None = None) -> str:
        return click.style(text, fg=fg, bold=bold) if color else text

    lines: list[str] = []
    if plan.changes:
        lines += ["entrasync will perform the following actions:", ""]
        # One string per change (its lines and the blank line after it): at 85,000 changes
        # that is 85,000 list items instead of 600,000 (benchmarks/: time and peak memory).
        lines += ["\n".join(_change_lines(change, style)) + "\n" for change in plan.changes]
    lines += _orphan_lines(plan)
    if plan.warnings:
        lines.append(style("Warnings:", "yellow", bold=True))
        lines += [f"  ! {clean(w)}" for w in plan.warnings]
        lines.append("")
    if plan.violations:
        lines.append(
            style("Safety violations (apply refuses this plan without the override):", "red", True)
        )
        for violation in plan.violations:
            lines.append(style(f"  x {violation.rule}: {clean(violation.message)}", "red"))
            if violation.override:
                lines.append(f"      override: {override_flag(plan, violation.override)}")
        lines.append("")
    lines.append(style(summary_line(plan), bold=True))
    return "\n".join(lines) + "\n"


class _Style(Protocol):
    def __call__(self, text: str, fg: str | None = None, bold: bool | None = None) -> str: ...


def _change_lines(change: Change, style: _Style) -> list[str]:
    fg = _COLORS[change.action]
    name = f" ({clean(change.display_name)})" if change.display_name else ""
    head = f"  {MARKERS[change.action]} {change.action.value} {clean(change.user)}{name}"
    lines = [style(head, fg, bold=True)]
    if change.before is None:
        lines.append(_field("role", role_text(change.after.role)))
        if change.after.products is not None:
            lines.append(_field("products", products_text(change.after.products)))
    else:
        lines += [_field(key, f"{old} -> {new}") for key, old, new in access_differences(change)]
    if is_adoption(change):
        lines.append(style(f"      + externalId: {clean(change.entra_id)}", "green"))
    if change.groups:
        lines.append(_field("groups", ", ".join(map(clean, change.groups))))
    if change.decided_by:
        lines.append(_field("decided by", clean(change.decided_by)))
    lines.append(_field("reason", clean(change.reason)))
    return lines


def _orphan_lines(plan: Plan) -> list[str]:
    if not plan.orphans:
        return []
    deactivated = {c.user for c in plan.changes if c.action is Action.DEACTIVATE}
    lines = ["Orphans (active managed users no synced mapping wants):"]
    for orphan in plan.orphans:
        fate = "deactivated above" if orphan.user in deactivated else "kept, unchanged"
        lines.append(
            f"  ? {clean(orphan.user)} ({role_text(orphan.role)}): {clean(orphan.reason)} [{fate}]"
        )
    return [*lines, ""]


# Every label a change line uses (access_differences names role, products and active),
# indented and padded once rather than per line.
_PREFIXES = {
    label: f"      {(label + ':').ljust(_LABEL_WIDTH)}"
    for label in ("role", "products", "active", "groups", "decided by", "reason")
}


def _field(label: str, value: str) -> str:
    return _PREFIXES[label] + value

"""The plan for a terminal or a CI log, in the shape Terraform users already read.

Every directory-supplied string goes through :func:`clean` (:mod:`entrasync.core.sanitize`), so a
display name cannot carry an ANSI escape, a bidi override, a newline or a CI workflow command
into the reviewer's terminal or log. Colour only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import click

from entrasync.core.plan import Action, Change, Plan
from entrasync.core.sanitize import text as clean
from entrasync.render.common import (
    MARKERS,
    access_differences,
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
        try:
            lines += _change_blocks(plan.changes, style, share=True)
        except TypeError:
            # A hand-made plan file can hold a value no dict can key (a list as a role, and
            # loads() takes it): render such a plan as before, each change on its own.
            lines += _change_blocks(plan.changes, style, share=False)
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
            lines.append(style(f"  x {clean(violation.rule)}: {clean(violation.message)}", "red"))
            if violation.override:
                lines.append(f"      override: {override_flag(plan, violation.override)}")
        lines.append("")
    lines.append(style(summary_line(plan), bold=True))
    # The empty last item ends the text with a newline; `+ "\n"` would copy it all once more
    # (22 MB at 85,000 changes).
    lines.append("")
    return "\n".join(lines)


class _Style(Protocol):
    def __call__(self, text: str, fg: str | None = None, bold: bool | None = None) -> str: ...


def _change_blocks(changes: Sequence[Change], style: _Style, *, share: bool) -> list[str]:
    """One string per change: its lines, each ending in a newline (the join adds the blank
    line after it). At 85,000 changes that is 85,000 list items instead of 600,000.

    Only the first line (user, display name) and an adoption's externalId are a user's own.
    The access lines and the reason follow from the action, the access before and after and
    the reason; the groups and decided-by lines from those two. Both repeat (at 100,000 users
    85,262 changes have 450 and 11,972 distinct ones), so each is built once and reused.
    """
    heads = {
        action: _around(style, f"  {MARKERS[action]} {action.value} ", _COLORS[action], True)
        for action in Action
    }
    adopt_open, adopt_close = _around(style, "      + externalId: ", "green", None)
    accesses: dict[tuple[object, ...], tuple[str, bool, str]] = {}
    memberships: dict[tuple[tuple[str, ...], str | None], str] = {}
    blocks: list[str] = []
    append = blocks.append
    for change in changes:
        action, after, before = change.action, change.after, change.before
        # Every field _access_lines reads; a create's key is shorter, so never an update's.
        key: tuple[object, ...]
        if before is None:
            key = (action, change.reason, after.role, after.products, after.active)
        else:
            key = (
                action,
                change.reason,
                after.role,
                after.products,
                after.active,
                before.role,
                before.products,
                before.active,
            )
        access = accesses.get(key) if share else None
        if access is None:
            access = _access_lines(change)
            if share:
                accesses[key] = access
        groups = (change.groups, change.decided_by)
        membership = memberships.get(groups) if share else None
        if membership is None:
            membership = _membership_lines(*groups)
            if share:
                memberships[groups] = membership
        user, name = clean(change.user), change.display_name
        name = f" ({clean(name)})" if name else ""
        head_open, head_close = heads[action]
        lines, adoption, reason = access
        if adoption:
            adopted = f"{adopt_open}{clean(change.entra_id)}{adopt_close}\n"
            append(f"{head_open}{user}{name}{head_close}\n{lines}{adopted}{membership}{reason}")
        else:
            append(f"{head_open}{user}{name}{head_close}\n{lines}{membership}{reason}")
    return blocks


def _access_lines(change: Change) -> tuple[str, bool, str]:
    """The access lines (each ending in a newline), whether it is an adoption, the reason line."""
    if change.before is None:
        lines = _field("role", role_text(change.after.role)) + "\n"
        if change.after.products is not None:
            lines += _field("products", products_text(change.after.products)) + "\n"
    else:
        lines = "".join(
            _field(key, f"{old} -> {new}") + "\n" for key, old, new in access_differences(change)
        )
    return lines, is_adoption(change), _field("reason", clean(change.reason)) + "\n"


def _membership_lines(groups: tuple[str, ...], decided_by: str | None) -> str:
    """The groups and decided-by lines, each ending in a newline (either may be absent)."""
    lines = _field("groups", ", ".join(map(clean, groups))) + "\n" if groups else ""
    if decided_by:
        lines += _field("decided by", clean(decided_by)) + "\n"
    return lines


def _around(style: _Style, start: str, fg: str, bold: bool | None) -> tuple[str, str]:
    """What ``style(start + text, fg, bold)`` puts before and after ``text``: click.style
    writes its codes, the text unchanged, then the reset, so styling once is enough."""
    styled = style(start + "\0", fg, bold)
    before, _, after = styled.rpartition("\0")
    return before, after


def _orphan_lines(plan: Plan) -> list[str]:
    if not plan.orphans:
        return []
    deactivate = Action.DEACTIVATE  # a local: the class attribute costs 3 ms at 85,000 changes
    deactivated = {c.user for c in plan.changes if c.action is deactivate}
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

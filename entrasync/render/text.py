"""The plan for a terminal or a CI log, in the shape Terraform users already read.

Every directory-supplied string goes through :func:`clean` (:mod:`entrasync.core.sanitize`), so a
display name cannot carry an ANSI escape, a bidi override, a newline or a CI workflow command
into the reviewer's terminal or log. Colour only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import click

from entrasync.core.plan import Action, Change, Plan
from entrasync.core.sanitize import name_text
from entrasync.core.sanitize import text as clean
from entrasync.render.common import (
    MARKERS,
    POLICY_TITLE,
    WEAKENS,
    access_differences,
    is_adoption,
    policy_parts,
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
    return "".join(text_chunks(plan, color=color))


def text_chunks(plan: Plan, *, color: bool = False) -> Iterator[str]:
    """:func:`render_text` piece by piece, each piece whole lines: a change's block, or a line.

    A 1,000,000-user plan's text is about 250 MB: printed this way it never sits in memory
    as one string (benchmarks/README.md).
    """

    def style(text: str, fg: str | None = None, bold: bool | None = None) -> str:
        return click.style(text, fg=fg, bold=bold) if color else text

    if plan.changes:
        yield "entrasync will perform the following actions:\n\n"
        # A change's lines but the first and an adoption's externalId follow from its action,
        # access, reason, groups and decided-by, which repeat (14,789 distinct among 85,262
        # changes at 100,000 users): built once each, the text plan takes 0.25 s CPU instead
        # of 0.41 s, 7% of the core CPU figure (benchmarks/optimisations.py).
        shared: dict[tuple[object, ...], tuple[str, str]] = {}
        for change in plan.changes:
            yield _change_block(change, style, shared)
    for line in _orphan_lines(plan):
        yield line + "\n"
    if plan.policy_changes:
        # Next to the summary, where a reviewer of a "No changes." plan still sees them.
        yield style(POLICY_TITLE + ":", "red" if plan.weakens_policy else None, bold=True) + "\n"
        for policy in plan.policy_changes:
            marker, key, what = policy_parts(policy)
            line = f"  {marker} {key}: {what}"
            yield (style(f"{line}  [{WEAKENS}]", "red") if policy.weakens else line) + "\n"
        yield "\n"
    if plan.warnings:
        yield style("Warnings:", "yellow", bold=True) + "\n"
        for warning in plan.warnings:
            yield f"  ! {clean(warning)}\n"
        yield "\n"
    if plan.violations:
        header = "Safety violations (apply refuses this plan without the override):"
        yield style(header, "red", True) + "\n"
        for violation in plan.violations:
            yield style(f"  x {clean(violation.rule)}: {clean(violation.message)}", "red") + "\n"
            if violation.override:
                yield f"      override: {plan.override_flag(violation.override)}\n"
        yield "\n"
    yield style(summary_line(plan), bold=True) + "\n"


class _Style(Protocol):
    def __call__(self, text: str, fg: str | None = None, bold: bool | None = None) -> str: ...


def _change_block(
    change: Change, style: _Style, shared: dict[tuple[object, ...], tuple[str, str]]
) -> str:
    """A change's lines, each ending in a newline, and the blank line after them."""
    name = f" ({clean(change.display_name)})" if change.display_name else ""
    head = f"  {MARKERS[change.action]} {change.action.value} {name_text(change.user)}{name}"
    after, before = change.after, change.before
    # The fields _rest reads, the accesses' own rather than the Access values (whose hash is
    # a Python call).
    key: tuple[object, ...] = (change.action, change.reason, change.groups, change.decided_by)
    key += (after.role, after.products, after.active)
    if before is not None:
        key += (before.role, before.products, before.active)
    access, membership = shared.get(key) or shared.setdefault(key, _rest(change))
    adopted = ""
    if is_adoption(change):
        adopted = style(f"      + externalId: {clean(change.entra_id)}", "green") + "\n"
    return f"{style(head, _COLORS[change.action], bold=True)}\n{access}{adopted}{membership}\n"


def _rest(change: Change) -> tuple[str, str]:
    """The access lines, then the groups, decided-by and reason lines (each line ending in a
    newline): what comes before and after an adoption's externalId line."""
    if change.before is None:
        access = [_field("role", role_text(change.after.role))]
        if change.after.products is not None:
            access.append(_field("products", products_text(change.after.products)))
    else:
        access = [_field(key, f"{old} -> {new}") for key, old, new in access_differences(change)]
    membership = []
    if change.groups:
        membership.append(_field("groups", ", ".join(map(clean, change.groups))))
    if change.decided_by:
        membership.append(_field("decided by", clean(change.decided_by)))
    membership.append(_field("reason", clean(change.reason)))
    return "".join(f"{line}\n" for line in access), "\n".join(membership) + "\n"


def _orphan_lines(plan: Plan) -> list[str]:
    if not plan.orphans:
        return []
    deactivated = {c.user for c in plan.changes if c.action is Action.DEACTIVATE}
    lines = ["Orphans (active managed users no synced mapping wants):"]
    for orphan in plan.orphans:
        fate = "deactivated above" if orphan.user in deactivated else "kept, unchanged"
        user, role = name_text(orphan.user), role_text(orphan.role)
        lines.append(f"  ? {user} ({role}): {clean(orphan.reason)} [{fate}]")
    return [*lines, ""]


# Every label a change line uses (access_differences names role, products and active).
_PREFIXES = {
    label: f"      {(label + ':').ljust(_LABEL_WIDTH)}"
    for label in ("role", "products", "active", "groups", "decided by", "reason")
}


def _field(label: str, value: str) -> str:
    return _PREFIXES[label] + value

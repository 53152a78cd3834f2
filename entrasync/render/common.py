"""What the text and Markdown renderers share: the summary line, markers, and access wording.

Kept in one place so the terminal, the PR comment and the job summary never disagree on what a
change means (the summary line in particular is parsed by people's scripts, as Atlantis parses
Terraform's ``Plan: X to add, ...``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.policy import PolicyChange
from entrasync.core.sanitize import name_text
from entrasync.core.sanitize import text as sanitize_text

# ASCII markers so the plan reads the same in a CI log, a terminal without Unicode and a diff.
MARKERS: dict[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DEACTIVATE: "-",
    Action.REACTIVATE: ">",
}


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, 1 to update, 0 to deactivate, 0 to reactivate.`` or ``No changes.``"""
    if not plan.has_changes:
        return "No changes."
    counts = plan.summary
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['deactivate']} to deactivate, {counts['reactivate']} to reactivate."
    )


def products_text(products: tuple[str, ...] | None) -> str:
    # Products and roles as read from NeuralTrust are the server's text, not the config's.
    if products is None:
        return "(not managed)"
    return "[" + ", ".join(map(sanitize_text, products)) + "]"


def role_text(role: str | None) -> str:
    return "(none)" if role is None else name_text(role)


def is_adoption(change: Change) -> bool:
    """The change sets externalId on an existing user that was not yet managed."""
    return change.adopts


def access_differences(change: Change) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field of the access that the change alters."""
    before, after = change.before, change.after
    if before is None:
        return []
    rows: list[tuple[str, str, str]] = []
    if before.role != after.role:
        rows.append(("role", role_text(before.role), role_text(after.role)))
    if before.products != after.products:
        rows.append(("products", products_text(before.products), products_text(after.products)))
    if before.active != after.active:
        rows.append(("active", _bool(before.active), _bool(after.active)))
    return rows


def access_brief(access: Access | None) -> str:
    """One-line access for a table cell: ``member [trustgate, trusttest]``, ``owner, inactive``."""
    if access is None:
        return "-"
    return brief(access.role, access.products, access.active)


def brief(role: str | None, products: tuple[str, ...] | None, active: bool = True) -> str:
    text = role_text(role)
    if products is not None:
        text += " " + products_text(products)
    return text if active else text + ", inactive"


def _bool(value: bool) -> str:
    return "true" if value else "false"


WEAKENS = "weakens a safeguard"
POLICY_TITLE = "Policy changes (settings outside mappings, against the trusted config)"


def policy_parts(change: PolicyChange) -> tuple[str, str, str]:
    """(marker, key, what changed) for one policy change: ``("~", "on_removed", "keep ->
    deactivate")``; an entry added to or removed from a list is ``+`` or ``-`` and the entry."""
    key = sanitize_text(change.key)
    if change.old is None and change.new is not None:
        return "+", key, setting_text(change.new)
    if change.new is None and change.old is not None:
        return "-", key, setting_text(change.old)
    return "~", key, f"{setting_text(change.old)} -> {setting_text(change.new)}"


def setting_text(value: Any) -> str:
    """A setting as the YAML file spells it: ``true``, ``20``, ``[owner, admin, member]``."""
    if isinstance(value, bool):
        return _bool(value)
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(setting_text(v) for v in value) + "]"
    return sanitize_text(str(value))


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, trailing blanks trimmed, aligned as a terminal
    shows them: a wide character (CJK, most emoji) takes two columns, a combining mark or a
    zero-width joiner none."""
    # Names from Entra and the config are untrusted: no escape, line break or workflow command.
    cells = [[sanitize_text(cell) for cell in row] for row in rows]
    shown = [[_width(cell) for cell in row] for row in cells]
    widths = [max(row[i] for row in shown) for i in range(len(shown[0]))] if shown else []
    return [
        "  ".join(
            cell + " " * (width - used)
            for cell, used, width in zip(row, used_row, widths, strict=True)
        ).rstrip()
        for row, used_row in zip(cells, shown, strict=True)
    ]


def _width(text: str) -> int:
    """The columns ``text`` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(
        0 if _joins(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def _joins(character: str) -> bool:
    """Drawn as part of the character before it, in no column of its own: a combining mark,
    a format character (a zero-width joiner or non-joiner, an emoji tag), a Hangul vowel or
    final consonant jamo."""
    code = ord(character)
    category = unicodedata.category(character)
    return (
        category in ("Mn", "Me")
        or (category == "Cf" and code not in _DRAWN_FORMAT)
        or 0x1160 <= code <= 0x11FF
        or 0xD7B0 <= code <= 0xD7FF
    )


# The format characters a terminal draws in a column: the soft hyphen and the number signs
# written before digits (Arabic, Syriac, Kaithi), as glibc's wcwidth counts them.
_DRAWN_FORMAT = frozenset(
    (0xAD, *range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x110BD, 0x110CD)
)

"""Entra groups as tables: ``entrasync groups`` and ``entrasync validate --online``.

USERS counts user members in both, not every member object (docs/commands.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from entrasync.core import sanitize
from entrasync.render.common import columns

if TYPE_CHECKING:
    from entrasync.core.model import GroupCheck, GroupSummary


def groups_text(groups: Sequence[GroupSummary]) -> list[str]:
    """``entrasync groups``: a table of ID, display name and user members; none without groups."""
    if not groups:
        return []
    rows = [("ID", "DISPLAY NAME", "USERS")]
    return columns(rows + [(g.id, g.display_name, str(g.members)) for g in groups])


def groups_json(groups: Sequence[GroupSummary]) -> str:
    """``entrasync groups --format json``: a list of {id, display_name, members}."""
    document = json.dumps([g._asdict() for g in groups], indent=2, ensure_ascii=False)
    return sanitize.json_text(document)


def checks_table(checks: Sequence[GroupCheck]) -> list[str]:
    """One row per mapping: how it names the group, what Entra holds, and the status."""
    rows = [("MAPPING", "GROUP ID", "DISPLAY NAME", "USERS", "STATUS")]
    for c in checks:
        status = c.status if c.synced else f"{c.status} (not synced)"  # auto_sync: false, expired
        members = str(c.members) if c.members is not None else "-"
        rows.append((c.mapping, c.group_id or "-", c.display_name or "-", members, status))
    return columns(rows)


def empty_group_warnings(checks: Sequence[GroupCheck], path: str) -> list[str]:
    """A mapped group without user members: valid, but probably not what was meant."""
    return [
        f"{sanitize.text(path)}: group {sanitize.text(c.display_name)} "
        f"({sanitize.text(c.group_id)}) has no user members: its mapping grants nothing, and "
        "users it granted would become orphans"
        for c in checks
        if c.status == "empty"
    ]


def failure_message(check: GroupCheck, path: str) -> str:
    """A failing mapping told as ``plan`` tells it, for an ``error:`` line."""
    return (
        f"{sanitize.text(path)}: mapping {sanitize.text(check.mapping)}: "
        f"{sanitize.text(check.detail)}"
    )

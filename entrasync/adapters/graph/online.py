"""``entrasync validate --online``: resolve every mapped group in Entra, synced or not.

Each group is read exactly as ``plan`` reads it (same lookups, ids batched 20 to a ``$batch``,
same member ``$select``), so a missing permission, the null-attribute trap or a wrong id shows
up here first, on the pull request that introduces it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import click

from entrasync.adapters.graph.client import GraphClient, GraphNotFoundError
from entrasync.adapters.graph.directory import DUPLICATE_HINT, duplicate_message, read_members
from entrasync.adapters.graph.groups import GroupResolutionError, Resolved, resolve_groups
from entrasync.adapters.pool import run_bounded
from entrasync.config.models import Config, GroupMapping, LoadedConfig
from entrasync.console import Console
from entrasync.core import sanitize
from entrasync.core.model import Group

FAILING = frozenset({"missing", "ambiguous", "mismatch", "duplicate"})


@dataclass(frozen=True)
class GroupCheck:
    mapping: str  # how the mapping names the group (name, else id)
    group_id: str | None
    display_name: str | None
    members: int | None  # user members (transitive when nested_groups)
    status: str  # ok | empty | missing | ambiguous | mismatch | duplicate
    detail: str = ""
    synced: bool = True
    hint: str = ""  # what to do about a failing status, as `plan` would say it


def check_group(
    client: GraphClient, mapping: GroupMapping, resolved: Resolved, nested: bool
) -> GroupCheck:
    label = mapping.label
    if isinstance(resolved, GroupResolutionError):
        # A mismatch still found a group under the id: show its real Entra name.
        name = resolved.group.display_name if resolved.group is not None else None
        return GroupCheck(
            label,
            mapping.id,
            name,
            None,
            resolved.kind,
            resolved.message,
            mapping.auto_sync,
            resolved.hint or "",
        )
    group = resolved
    try:
        members = read_members(client, group, nested)
    except GraphNotFoundError as exc:  # deleted between the lookup and the member read
        return GroupCheck(
            label, mapping.id, None, None, "missing", exc.message, mapping.auto_sync, exc.hint or ""
        )
    status = "ok" if members else "empty"
    return GroupCheck(
        label, group.id, group.display_name, len(members), status, synced=mapping.auto_sync
    )


def check_groups(config: Config, client: GraphClient, parallelism: int = 4) -> list[GroupCheck]:
    nested = config.entra.nested_groups
    resolved = resolve_groups(client, config.mappings, parallelism)
    pairs = list(zip(config.mappings, resolved, strict=True))
    checks = list(
        run_bounded(lambda p: check_group(client, p[0], p[1], nested), pairs, parallelism)
    )
    first_index: dict[str, int] = {}
    for index, check in enumerate(checks):
        if check.group_id is None or check.display_name is None:
            continue
        earlier = first_index.setdefault(check.group_id, index)
        if earlier != index:
            group = Group(check.group_id, check.display_name)
            detail = duplicate_message(config, earlier, index, group)
            checks[index] = replace(check, status="duplicate", detail=detail, hint=DUPLICATE_HINT)
    return checks


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, trailing blanks trimmed."""
    # Names from Entra and the config are untrusted: no escape, line break or workflow command.
    rows = [[sanitize.text(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def render_checks(checks: Sequence[GroupCheck]) -> list[str]:
    # USERS, as in `entrasync groups`: both count user members, not every member object.
    rows = [("MAPPING", "GROUP ID", "DISPLAY NAME", "USERS", "STATUS")]
    for c in checks:
        status = c.status if c.synced else f"{c.status} (auto_sync: false)"
        members = str(c.members) if c.members is not None else "-"
        rows.append((c.mapping, c.group_id or "-", c.display_name or "-", members, status))
    return columns(rows)


def validate_online(
    loaded: LoadedConfig, environ: Mapping[str, str] | None, console: Console
) -> bool:
    """Print one row per mapping; False when a group is missing, ambiguous or misnamed.

    Each failure is told as ``plan`` tells it, an ``error:`` line and its ``hint:`` line."""
    config = loaded.config
    with GraphClient.connect(config, os.environ if environ is None else environ) as client:
        checks = check_groups(config, client)
    for line in render_checks(checks):
        console.result(line)
    path = sanitize.text(loaded.path)
    for c in checks:
        if c.status == "empty":
            console.warn(
                f"{path}: group {sanitize.text(c.display_name)} ({sanitize.text(c.group_id)}) "
                "has no user members: its mapping grants nothing, and users it granted would "
                "become orphans"
            )
    failures = [c for c in checks if c.status in FAILING]
    for c in failures:
        what = f"mapping {sanitize.text(c.mapping)}: {sanitize.text(c.detail)}"
        click.echo(f"error: {path}: {what}", file=console.err)
        if c.hint:
            click.echo(f"hint: {sanitize.text(c.hint)}", file=console.err)
    return not failures

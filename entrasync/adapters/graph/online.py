"""``entrasync validate --online``: resolve every mapped group in Entra, synced or not.

Each group is read exactly as ``plan`` reads it (same lookups, ids batched 20 to a ``$batch``,
same member ``$select``), so a missing permission, the null-attribute trap or a wrong id shows
up here first, on the pull request that introduces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from entrasync.adapters.graph.client import GraphClient, GraphNotFoundError
from entrasync.adapters.graph.directory import DUPLICATE_HINT, duplicate_message, read_members
from entrasync.adapters.graph.groups import GroupResolutionError, Resolved, resolve_groups
from entrasync.adapters.pool import run_bounded
from entrasync.config.models import Config, GroupMapping
from entrasync.core.model import Group, GroupCheck
from entrasync.core.resolve import repeated_groups


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
        count = len(read_members(client, group, nested))
    except GraphNotFoundError as exc:  # deleted between the lookup and the member read
        return GroupCheck(
            label, mapping.id, None, None, "missing", exc.message, mapping.auto_sync, exc.hint or ""
        )
    status = "ok" if count else "empty"
    return GroupCheck(label, group.id, group.display_name, count, status, synced=mapping.auto_sync)


def check_groups(
    config: Config,
    client: GraphClient,
    parallelism: int = 4,
    expired: frozenset[int] = frozenset(),
) -> list[GroupCheck]:
    """``expired``: indices of mappings past their ``expires``, which grant nothing: another
    mapping of their group (a renewal) is no duplicate. Nor is one with ``auto_sync: false``,
    which `plan` does not read: two mappings reach one group only where both are synced."""
    nested = config.entra.nested_groups
    resolved = resolve_groups(client, config.mappings, parallelism)
    pairs = list(zip(config.mappings, resolved, strict=True))
    checks = list(
        run_bounded(lambda p: check_group(client, p[0], p[1], nested), pairs, parallelism)
    )
    found = (
        (i, c.group_id if c.display_name is not None and c.synced and i not in expired else None)
        for i, c in enumerate(checks)
    )
    for earlier, index in list(repeated_groups(found)):
        check = checks[index]
        group = Group(str(check.group_id), str(check.display_name))
        detail = duplicate_message(config, earlier, index, group)
        checks[index] = replace(check, status="duplicate", detail=detail, hint=DUPLICATE_HINT)
    return checks


def validate_online(
    config: Config, environ: Mapping[str, str], expired: frozenset[int] = frozenset()
) -> list[GroupCheck]:
    """One check per mapping, in the file's order."""
    with GraphClient.connect(config, environ) as client:
        return check_groups(config, client, expired=expired)

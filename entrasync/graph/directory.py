"""Read the synced groups and their user members from Microsoft Graph into a :class:`Directory`.

Cost: the groups given by id are looked up together, 20 to a ``POST /$batch`` of
``GET /groups/{id}`` (the lookup is kept even when no name is given, because the plan shows
group display names and a missing group then fails with a clear 404 before any member is
read); each group given by name costs one ``displayName eq`` filter; then every group costs
``max(1, ceil(M / 999))`` member pages, M counting every member object Graph returns (users,
devices, service principals, contacts and, transitively, nested groups).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from entrasync.config import Config, Mapping
from entrasync.errors import AuthError, GraphError
from entrasync.graph.batch import Get, chunks, get_batch
from entrasync.graph.client import GraphClient, GraphNotFoundError
from entrasync.graph.odata import odata_string
from entrasync.model import Directory, DirectoryUser, Group, GroupMembers
from entrasync.pool import run_bounded
from entrasync.wording import plural

USER_TYPE = "#microsoft.graph.user"
# accountEnabled and userType come back only when named in $select
# (https://learn.microsoft.com/graph/api/user-list).
MEMBER_FIELDS = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "accountEnabled",
    "userType",
)
TRAP_HINT = (
    "grant User.Read.All (application permission) with admin consent: with "
    "GroupMember.Read.All alone (or User.ReadBasic.All) Graph returns members with their "
    "attributes set to null (https://learn.microsoft.com/graph/permissions-overview)"
)


class GroupResolutionError(GraphError):
    """A mapping's group is missing, ambiguous, or named differently from its id."""

    def __init__(self, kind: str, message: str, hint: str, group: Group | None = None) -> None:
        super().__init__(message, hint)
        self.kind = kind  # "missing" | "ambiguous" | "mismatch"
        self.group = group  # the group Entra has under the id, on a mismatch


class GroupSummary(NamedTuple):
    id: str
    display_name: str
    members: int  # user members (transitive when nested_groups)


GROUP_SELECT = {"$select": "id,displayName"}
Resolved = Group | GroupResolutionError


def resolve_groups(
    client: GraphClient, mappings: Sequence[Mapping], parallelism: int = 4
) -> list[Resolved]:
    """Each mapping's Entra group, or why it has none, in mapping order.

    Ids are looked up 20 to a ``$batch`` (each id once), names one filter each; the batches and
    the filters run on at most ``parallelism`` threads. Failures other than a missing,
    ambiguous or misnamed group (permissions, throttling past the retries) raise.
    """
    ids: dict[str, str] = {}  # id -> how the first mapping naming it describes it
    for m in mappings:
        if m.id:
            ids.setdefault(m.id, f"group {m.id}" + (f" ({m.name})" if m.name else ""))
    names = list(dict.fromkeys(m.name or "" for m in mappings if not m.id))
    gets = [Get(f"groups/{i}", GROUP_SELECT, what) for i, what in ids.items()]
    jobs: list[Sequence[Get] | str] = [*chunks(gets), *names]

    def run(job: Sequence[Get] | str) -> list[Resolved]:
        if isinstance(job, str):
            return [_by_name(client, job)]
        return [_by_id(found, get) for found, get in zip(get_batch(client, job), job, strict=True)]

    results = [r for part in run_bounded(run, jobs, parallelism) for r in part]
    by_id = dict(zip(ids, results[: len(ids)], strict=True))
    by_name = dict(zip(names, results[len(ids) :], strict=True))
    return [_check_name(m, by_id[m.id]) if m.id else by_name[m.name or ""] for m in mappings]


def _by_id(found: dict[str, Any] | GraphNotFoundError, get: Get) -> Resolved:
    if isinstance(found, GraphNotFoundError):
        return GroupResolutionError("missing", found.message, found.hint or "")
    fallback = get.path.rpartition("/")[2]
    return Group(id=str(found["id"]), display_name=str(found.get("displayName") or fallback))


def _check_name(mapping: Mapping, resolved: Resolved) -> Resolved:
    # Graph's own `eq` on displayName ignores case; the check does too, to agree with it.
    if isinstance(resolved, GroupResolutionError) or not mapping.name:
        return resolved
    if resolved.display_name.casefold() == mapping.name.casefold():
        return resolved
    return GroupResolutionError(
        "mismatch",
        f"group {mapping.id} is named {resolved.display_name!r} in Entra, not {mapping.name!r}",
        "the id decides which group is synced: correct the name in the mappings file "
        "(or remove it), or fix the id",
        resolved,
    )


def _by_name(client: GraphClient, name: str) -> Resolved:
    found = list(
        client.paged(
            "groups",
            {"$filter": f"displayName eq {odata_string(name)}", **GROUP_SELECT},
            what=f"groups named {name!r}",
        )
    )
    if not found:
        return GroupResolutionError(
            "missing",
            f"no Entra group is named {name!r}",
            f"check the spelling (`entrasync groups {name[:3]}` lists groups by prefix), or "
            "map the group by id; a group created minutes ago may not have replicated yet",
        )
    if len(found) > 1:
        ids = ", ".join(sorted(str(g["id"]) for g in found))
        return GroupResolutionError(
            "ambiguous",
            f"{len(found)} Entra groups are named {name!r}: {ids}",
            "display names are not unique in Entra: put the intended group's `id` in the mapping",
        )
    return Group(id=str(found[0]["id"]), display_name=str(found[0].get("displayName") or name))


def _user(item: dict[str, Any], group: Group) -> DirectoryUser:
    upn, enabled = item.get("userPrincipalName"), item.get("accountEnabled")
    if upn is None or enabled is None:
        missing = "userPrincipalName" if upn is None else "accountEnabled"
        raise AuthError(
            f"Microsoft Graph returned user {item.get('id')} of group {group.display_name} "
            f"without its attributes ({missing} is null): the app lacks User.Read.All",
            TRAP_HINT,
        )
    return DirectoryUser(
        id=str(item["id"]),
        user_principal_name=str(upn),
        mail=item.get("mail"),
        display_name=item.get("displayName"),
        given_name=item.get("givenName"),
        surname=item.get("surname"),
        account_enabled=bool(enabled),
        user_type=str(item.get("userType") or "Member"),
    )


def read_members(client: GraphClient, group: Group, nested: bool) -> list[DirectoryUser]:
    """The user members of one group, in the order Graph lists them, users only."""
    relation = "transitiveMembers" if nested else "members"
    users: dict[str, DirectoryUser] = {}
    for item in client.paged(
        f"groups/{group.id}/{relation}",
        {"$select": ",".join(MEMBER_FIELDS)},
        what=f"the members of group {group.display_name} ({group.id})",
    ):
        # Filter client-side: the /microsoft.graph.user cast needs advanced queries.
        if item.get("@odata.type") == USER_TYPE and str(item.get("id")) not in users:
            users[str(item["id"])] = _user(item, group)
    return list(users.values())


def count_user_members(client: GraphClient, group_id: str, nested: bool) -> int:
    relation = "transitiveMembers" if nested else "members"
    items = client.paged(
        f"groups/{group_id}/{relation}", {"$select": "id"}, what=f"group {group_id}"
    )
    return sum(1 for item in items if item.get("@odata.type") == USER_TYPE)


def duplicate_message(config: Config, first: int, second: int, group: Group) -> str:
    return (
        f"mappings {config.mappings[first].label!r} and {config.mappings[second].label!r} both "
        f"resolve to group {group.display_name} ({group.id})"
    )


DUPLICATE_HINT = (
    "map each group once: one mapping names it and another gives its id, so remove one of them"
)


def read_directory(
    config: Config,
    client: GraphClient,
    *,
    progress: Callable[[str], None] | None = None,
    parallelism: int = 4,
) -> Directory:
    """Every synced mapping's group and its user members (transitive when nested_groups)."""
    synced = config.synced_mappings
    nested = config.entra.nested_groups
    resolved: list[Group] = []
    for found in resolve_groups(client, [m for _, m in synced], parallelism):
        if isinstance(found, GroupResolutionError):
            raise found  # the first failing mapping, in mapping order
        resolved.append(found)

    def members_of(group: Group) -> list[DirectoryUser]:
        return read_members(client, group, nested)

    groups: list[GroupMembers] = []
    users: dict[str, DirectoryUser] = {}
    for (index, _), group, members in zip(
        synced, resolved, run_bounded(members_of, resolved, parallelism), strict=True
    ):
        groups.append(GroupMembers(index, group, tuple(u.id for u in members)))
        users.update((u.id, u) for u in members)
        if progress is not None:
            progress(f"read group {group.display_name}: {plural(len(members), 'user')}")
    first_index: dict[str, int] = {}
    for read in groups:
        earlier = first_index.setdefault(read.group.id, read.mapping_index)
        if earlier != read.mapping_index:
            message = duplicate_message(config, earlier, read.mapping_index, read.group)
            raise GraphError(message, DUPLICATE_HINT)
    return Directory(groups=tuple(groups), users=users)


def list_groups(
    client: GraphClient, search: str | None, *, nested: bool = True, parallelism: int = 4
) -> list[GroupSummary]:
    """Groups whose display name starts with ``search`` (all when None), with user counts."""
    params = {"$select": "id,displayName"}
    if search:
        params["$filter"] = f"startsWith(displayName,{odata_string(search)})"
    found = [
        Group(id=str(g["id"]), display_name=str(g.get("displayName") or ""))
        for g in client.paged("groups", params, what="groups")
    ]
    counts = run_bounded(lambda g: count_user_members(client, g.id, nested), found, parallelism)
    summaries = [GroupSummary(g.id, g.display_name, n) for g, n in zip(found, counts, strict=True)]
    return sorted(summaries, key=lambda s: (s.display_name.casefold(), s.id))

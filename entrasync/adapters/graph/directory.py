"""Read the synced groups and their user members from Microsoft Graph into a :class:`Directory`.

Cost: the group lookups of :mod:`entrasync.adapters.graph.groups` (``ceil(ids / 20)`` ``$batch``
requests plus one filter per group given by name), then ``max(1, ceil(M / 999))`` member pages
per group, M counting every member object Graph returns (users, devices, service principals,
contacts and, transitively, nested groups). A group's members are read once its lookup
answers and a thread is free, its lookup or read taken earliest mapping first; each
listing's next page is asked for while the reader works through the current one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from heapq import heappop, heappush
from operator import itemgetter
from threading import Lock
from typing import Any, NamedTuple

from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.groups import (
    GroupResolutionError,
    Key,
    Lookup,
    Resolved,
    key_of,
    lookup,
    lookups,
    resolution,
)
from entrasync.adapters.graph.odata import odata_string
from entrasync.adapters.pool import run_bounded
from entrasync.config.models import Config, GroupMapping
from entrasync.core.model import Directory, DirectoryUser, Group, GroupMembers
from entrasync.core.wording import plural
from entrasync.errors import AuthError, GraphError

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


class GroupSummary(NamedTuple):
    id: str
    display_name: str
    members: int  # user members (transitive when nested_groups)


def _user(item: dict[str, Any], group: Group) -> DirectoryUser:
    upn, enabled = item.get("userPrincipalName"), item.get("accountEnabled")
    if upn is None or enabled is None:
        missing = "userPrincipalName" if upn is None else "accountEnabled"
        raise AuthError(
            f"Microsoft Graph returned user {item.get('id')} of group {group.display_name} "
            f"without its attributes ({missing} is null): the app lacks User.Read.All",
            TRAP_HINT,
        )
    get = item.get
    # Positional, in DirectoryUser's field order: this runs for every member read.
    return DirectoryUser(
        str(item["id"]),
        str(upn),
        get("mail"),
        get("displayName"),
        get("givenName"),
        get("surname"),
        bool(enabled),
        str(get("userType") or "Member"),
    )


def read_members(
    client: GraphClient,
    group: Group,
    nested: bool,
    shared: dict[str, DirectoryUser] | None = None,
) -> list[DirectoryUser]:
    """The user members of one group, in the order Graph lists them, users only.

    ``shared``: the users other groups' reads already built, shared (thread-safe under the
    GIL) so that a user in several groups is built once (63,000 of 163,000 members at
    100,000 users, benchmarks/).
    """
    relation = "transitiveMembers" if nested else "members"
    users: dict[str, DirectoryUser] = {}
    for item in client.paged(
        f"groups/{group.id}/{relation}",
        {"$select": ",".join(MEMBER_FIELDS)},
        what=f"the members of group {group.display_name} ({group.id})",
    ):
        # Filter client-side: the /microsoft.graph.user cast needs advanced queries.
        if item.get("@odata.type") == USER_TYPE:
            user_id = str(item["id"])
            if user_id not in users:
                user = None if shared is None else shared.get(user_id)
                if user is None:
                    user = _user(item, group)
                    if shared is not None:
                        user = shared.setdefault(user_id, user)
                users[user_id] = user
    return list(users.values())


def _read_then(
    client: GraphClient,
    position: int,
    group: Group,
    nested: bool,
    then: Callable[[int, Group, list[DirectoryUser]], None] | None,
    shared: dict[str, DirectoryUser] | None,
) -> list[DirectoryUser]:
    members = read_members(client, group, nested, shared)
    if then is not None:
        then(position, group, members)
    return members


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
    on_group: Callable[[GroupMembers, Mapping[str, DirectoryUser]], None] | None = None,
) -> Directory:
    """Every synced mapping's group and its user members (transitive when nested_groups).

    ``on_group`` is handed each group (and its members by id) as soon as they are read, while
    other groups are still paging, one call at a time: the plan resolves them as they come.
    """
    synced = config.synced_mappings
    nested = config.entra.nested_groups
    built: dict[int, tuple[GroupMembers, dict[str, DirectoryUser]]] = {}
    handing = Lock()

    def read(position: int, group: Group, members: list[DirectoryUser]) -> None:
        by_id = {u.id: u for u in members}
        read_group = GroupMembers(synced[position][0], group, tuple(by_id))
        built[position] = read_group, by_id
        if on_group is not None:
            with handing:
                on_group(read_group, by_id)

    groups: list[GroupMembers] = []
    users: dict[str, DirectoryUser] = {}
    for position, _ in enumerate(
        resolve_and_read(client, [m for _, m in synced], nested, parallelism, read, shared={})
    ):
        group_read, by_id = built[position]
        groups.append(group_read)
        users.update(by_id)
        if progress is not None:
            progress(f"read group {group_read.group.display_name}: {plural(len(by_id), 'user')}")
    first_index: dict[str, int] = {}
    for group_read in groups:
        earlier = first_index.setdefault(group_read.group.id, group_read.mapping_index)
        if earlier != group_read.mapping_index:
            message = duplicate_message(config, earlier, group_read.mapping_index, group_read.group)
            raise GraphError(message, DUPLICATE_HINT)
    return Directory(groups=tuple(groups), users=users)


def resolve_and_read(
    client: GraphClient,
    mappings: Sequence[GroupMapping],
    nested: bool,
    parallelism: int,
    then: Callable[[int, Group, list[DirectoryUser]], None] | None = None,
    shared: dict[str, DirectoryUser] | None = None,
) -> Iterator[tuple[Group, list[DirectoryUser]]]:
    """Each mapping's group and its user members, in mapping order.

    ``then(position, group, members)``, if given, runs on the reading thread as soon as a
    group's members are read (positions index ``mappings``), in the order reads finish;
    ``shared`` is read_members' cache of users already built.

    Lookups and member reads share one pool of ``parallelism`` threads, and a free thread
    takes the earliest mapping's work: its lookup, or once that has answered, its member read.
    A group's pages come one after another, so when the first mappings' reads start decides
    when the largest of them ends (benchmarks/: queued behind all 40 lookups, the four
    20,000-member groups of the benchmark started paging at 0.72 s; in the order lookups
    answered, groups named in the file had waited behind every group given by id).

    A missing, ambiguous or misnamed group stops further member reads; the first such mapping
    (in file order) raises once every lookup has answered, before anything is yielded; so does
    a failed read, the first in file order.
    """
    width = max(1, parallelism)
    first: dict[Key, int] = {}
    for i, m in enumerate(mappings):
        first.setdefault(key_of(m), i)
    jobs = ((_position(job, first), job) for job in lookups(mappings))
    queued = deque(sorted(jobs, key=itemgetter(0)))  # (position, lookup), earliest first
    found: dict[Key, Resolved] = {}
    reads: dict[int, Future[list[DirectoryUser]]] = {}
    ready: list[tuple[int, Group]] = []  # looked up, not yet reading: a heap by position
    with ThreadPoolExecutor(width, thread_name_prefix="graph") as pool:
        try:
            looking: set[Future[list[tuple[Key, Resolved]]]] = set()
            pending: set[Future[Any]] = set()
            stop = False
            unresolved = dict(enumerate(mappings))  # positions whose lookup has not answered
            while True:
                while len(pending) < width:
                    if ready and not stop and (not queued or ready[0][0] < queued[0][0]):
                        at, looked_up = heappop(ready)
                        reads[at] = pool.submit(
                            _read_then, client, at, looked_up, nested, then, shared
                        )
                        pending.add(reads[at])
                    elif queued:  # every lookup runs, even after a stop: see the docstring
                        asked = pool.submit(lookup(client), queued.popleft()[1])
                        looking.add(asked)
                        pending.add(asked)
                    else:
                        break
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                answered = False
                for future in done:
                    if future in looking:
                        found.update(future.result())  # a permission or throttling failure raises
                        answered = True
                    elif future.exception() is not None:
                        stop = True  # raised below, after the reads under way have ended
                if answered:
                    known = {
                        i: resolution(m, found) for i, m in unresolved.items() if key_of(m) in found
                    }
                    for i, group in known.items():
                        del unresolved[i]
                        if isinstance(group, GroupResolutionError):
                            stop = True  # the read will fail: read no (more) members
                        else:
                            heappush(ready, (i, group))
            resolved: list[Group] = []
            for outcome in (resolution(m, found) for m in mappings):
                if isinstance(outcome, GroupResolutionError):
                    raise outcome  # the first failing mapping, in mapping order
                resolved.append(outcome)
            for _, read in sorted(reads.items()):
                read.result()  # the first failed read, in mapping order, raises
            for i, group in enumerate(resolved):
                yield group, reads[i].result()
        finally:
            pool.shutdown(cancel_futures=True)


def _position(job: Lookup, first: Mapping[Key, int]) -> int:
    """The position of the first mapping a lookup answers for."""
    if isinstance(job, str):
        return first[("name", job)]
    return min(first[key_of(get)] for get in job)


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

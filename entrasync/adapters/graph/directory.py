"""Read the synced groups and their user members from Microsoft Graph into a :class:`Directory`.

Cost: the group lookups of :mod:`entrasync.adapters.graph.groups` (``ceil(ids / 20)`` ``$batch``
requests plus one filter per group given by name), then ``max(1, ceil(M / 999))`` member pages
per group, M counting every member object Graph returns (users, devices, service principals,
contacts and, transitively, nested groups). The lookups run first, then the member reads, each
on a bounded pool in mapping order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from entrasync.adapters.graph.client import ODD_ANSWER_HINT, GraphClient, GraphNotFoundError
from entrasync.adapters.graph.groups import GroupResolutionError, resolve_groups
from entrasync.adapters.graph.odata import odata_string
from entrasync.adapters.pool import run_bounded
from entrasync.config.models import Config
from entrasync.core import sanitize
from entrasync.core.model import Directory, DirectoryUser, Group, GroupMembers, GroupSummary
from entrasync.core.resolve import repeated_groups
from entrasync.core.wording import plural
from entrasync.errors import AuthError, GraphError

USER_TYPE = "#microsoft.graph.user"
BASE_TYPE = "#microsoft.graph.directoryObject"
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
TEXT_FIELDS = ("userPrincipalName", "mail", "displayName", "givenName", "surname", "userType")
TRAP_HINT = (
    "grant User.Read.All (application permission) with admin consent: with "
    "GroupMember.Read.All alone (or User.ReadBasic.All) Graph returns members with their "
    "attributes set to null (https://learn.microsoft.com/graph/permissions-overview)"
)


def _user(item: dict[str, Any], group: Group) -> DirectoryUser:
    upn, enabled = item.get("userPrincipalName"), item.get("accountEnabled")
    if upn is None or enabled is None:
        missing = "userPrincipalName" if upn is None else "accountEnabled"
        raise AuthError(
            f"Microsoft Graph returned user {sanitize.text(str(item.get('id')))} of group "
            f"{sanitize.text(group.display_name)} "
            f"without its attributes ({missing} is null): the app lacks User.Read.All",
            TRAP_HINT,
        )
    if enabled is not True and enabled is not False:
        # Read as a truth value, the text "false" was an enabled account.
        raise _odd_member(item, group, "accountEnabled", "true or false")
    get = item.get
    mail, name, given, surname, kind = (
        get("mail"),
        get("displayName"),
        get("givenName"),
        get("surname"),
        get("userType"),
    )
    if not (
        isinstance(upn, str)
        and (mail is None or isinstance(mail, str))
        and (name is None or isinstance(name, str))
        and (given is None or isinstance(given, str))
        and (surname is None or isinstance(surname, str))
        and (kind is None or isinstance(kind, str))
    ):
        # Read as text, a list of addresses matched no one; kept as it came, it broke the plan.
        odd = next(f for f in TEXT_FIELDS if _not_text(item.get(f)))
        raise _odd_member(item, group, odd, "a string")
    # Positional, in DirectoryUser's field order: this runs for every member read.
    return DirectoryUser(
        str(item["id"]), upn, mail, name, given, surname, enabled, kind or "Member"
    )


def _not_text(value: object) -> bool:
    return value is not None and not isinstance(value, str)


def _odd_member(item: dict[str, Any], group: Group, field: str, expected: str) -> GraphError:
    return GraphError(
        f"Microsoft Graph returned user {sanitize.text(str(item.get('id')))} of group "
        f"{sanitize.text(group.display_name)} with {field} "
        f"{sanitize.text(repr(item.get(field))[:80])}, which is not {expected}",
        "nothing was changed; run again, and if it repeats, the Graph URL does not answer "
        "as Microsoft Graph does (https://learn.microsoft.com/graph/api/resources/user)",
    )


def read_members(
    client: GraphClient,
    group: Group,
    nested: bool,
    known: dict[str, DirectoryUser] | None = None,
) -> tuple[str, ...]:
    """The ids of one group's user members, in the order Graph lists them; each user is put
    in ``known``: the users other groups' reads have built, by id, shared with them, so that
    a user met again is taken from it rather than built again.
    """
    relation = "transitiveMembers" if nested else "members"
    known = {} if known is None else known
    listed: dict[str, None] = {}  # in listing order
    named = f"group {sanitize.text(group.display_name)} ({group.id})"
    try:
        for item in client.paged(
            f"groups/{group.id}/{relation}",
            {"$select": ",".join(MEMBER_FIELDS)},
            what=f"the members of {named}",
        ):
            # Filter client-side: the /microsoft.graph.user cast needs advanced queries.
            if _is_user(item, group):
                user_id = item["id"]
                if user_id not in listed:
                    user = known.get(user_id)
                    if user is None:  # two reads may build one at once: setdefault keeps one
                        user = known.setdefault(user_id, _user(item, group))
                    if not _same(user, item):
                        raise _changed_during_read(user, group)
                    listed[user_id] = None
    except GraphNotFoundError as exc:  # the lookup had just found it
        raise GraphNotFoundError(
            f"{named} was found, then its members were not ({exc.message}): it was deleted "
            "meanwhile, or not every Graph replica has it yet",
            "check the group in Entra (`entrasync groups` lists them) and run again; nothing "
            "was changed",
        ) from None
    return tuple(listed)


def _is_user(item: dict[str, Any], group: Group) -> bool:
    """A user member (with its id), or another kind of member to skip; a member whose kind
    or id is not said stops the read: skipped, a user would have lost its access."""
    kind = item.get("@odata.type")
    if kind == USER_TYPE and isinstance(item.get("id"), str) and item["id"]:
        return True
    # Another kind by name (a device, a group, a service principal); not the base type, which
    # names none, nor the user type in another case, which a proxy may have rewritten.
    if (
        isinstance(kind, str)
        and kind.startswith("#microsoft.graph.")
        and kind.casefold() not in (USER_TYPE.casefold(), BASE_TYPE.casefold())
    ):
        return False
    raise GraphError(
        f"Microsoft Graph listed a member of group {sanitize.text(group.display_name)} "
        f"({group.id}) without its id or a kind (@odata.type) entrasync knows: it cannot tell "
        "whether it is a user",
        "nothing was changed; run again, and if it repeats, the Graph URL does not answer as "
        "Microsoft Graph does (https://learn.microsoft.com/graph/api/group-list-members)",
    )


def _same(user: DirectoryUser, item: dict[str, Any]) -> bool:
    """``item`` lists ``user`` (built from another group's listing) as :func:`_user` would."""
    get = item.get
    return (
        get("mail") == user.mail
        and get("displayName") == user.display_name
        and get("givenName") == user.given_name
        and get("surname") == user.surname
        and str(get("userPrincipalName")) == user.user_principal_name
        and get("accountEnabled") is user.account_enabled
        and str(get("userType") or "Member") == user.user_type
    )


def _changed_during_read(user: DirectoryUser, group: Group) -> GraphError:
    # Keeping either copy would make the plan depend on which group's read came first.
    return GraphError(
        f"Microsoft Graph listed user {sanitize.text(user.user_principal_name)} ({user.id}) "
        f"with other attributes in group {sanitize.text(group.display_name)} than in a group "
        "read before it: the user changed while entrasync read Entra",
        "run again: a plan is made from one consistent read of Entra",
    )


def count_user_members(client: GraphClient, group_id: str, nested: bool) -> int:
    relation = "transitiveMembers" if nested else "members"
    items = client.paged(
        f"groups/{group_id}/{relation}", {"$select": "id"}, what=f"group {group_id}"
    )
    group = Group(group_id, group_id)
    return sum(1 for item in items if _is_user(item, group))


def duplicate_message(config: Config, first: int, second: int, group: Group) -> str:
    return (
        f"mappings {config.mappings[first].label!r} and {config.mappings[second].label!r} both "
        f"resolve to group {sanitize.text(group.display_name)} ({group.id})"
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
    """Every synced mapping's group and its user members (transitive when nested_groups).

    Every group is looked up first: a missing, ambiguous or misnamed group (the first in
    mapping order), then two mappings of one group, raise before any member is read. Then the
    members are read on at most ``parallelism`` threads, started in mapping order; a failed
    read (the first in mapping order) raises and cancels the reads not yet started.
    """
    synced = config.synced_mappings
    nested = config.entra.nested_groups
    found = resolve_groups(client, [m for _, m in synced], parallelism)
    resolved: list[Group] = []
    for (index, _), outcome in zip(synced, found, strict=True):
        if isinstance(outcome, GroupResolutionError):
            outcome.mapping_index = index
            raise outcome
        resolved.append(outcome)
    by_index = {index: group for (index, _), group in zip(synced, resolved, strict=True)}
    for earlier, index in repeated_groups((i, g.id) for i, g in by_index.items()):
        message = duplicate_message(config, earlier, index, by_index[index])
        duplicate = GroupResolutionError("duplicate", message, DUPLICATE_HINT, by_index[index])
        duplicate.mapping_index = index  # the later mapping: planning names its line
        raise duplicate
    # Each user is built once, however many groups list it: with a copy per membership held
    # until the end of the read, `plan`'s peak RSS at 1,000,000 users was 1,634 MB when the
    # read ended, 1,312 MB this way (benchmarks/README.md).
    users: dict[str, DirectoryUser] = {}
    reads = run_bounded(
        lambda group: read_members(client, group, nested, users), resolved, parallelism
    )
    groups: list[GroupMembers] = []
    for (index, _), group, members in zip(synced, resolved, reads, strict=True):
        groups.append(GroupMembers(index, group, members))
        if progress is not None:
            said = sanitize.text(group.display_name)
            progress(f"read group {said}: {plural(len(members), 'user')}")
    named = protected_users(client, config.protected, parallelism)
    return Directory(
        groups=tuple(groups),
        users=users,
        protected_ids=frozenset(i for found in named.values() for i in found),
        protected_unknown=frozenset(entry.lower() for entry, found in named.items() if not found),
        protected_users={i: user for found in named.values() for i, user in found.items()},
    )


def protected_users(
    client: GraphClient, entries: Sequence[str], parallelism: int = 4
) -> dict[str, dict[str, DirectoryUser]]:
    """The Entra users each ``protected`` entry names by UPN or mail (by lower-cased id, with
    their UPN and mail), members of a synced group or not: ``GET /users/{entry}`` (a UPN) and a
    ``$filter`` on mail, both, since one user's mail may be another's UPN and the entry
    protects both; entries ``parallelism`` at a time. An entry no Entra user has names none;
    any other failure stops the read, as every read does."""
    select = {"$select": "id,userPrincipalName,mail"}

    def named_by(entry: str) -> dict[str, DirectoryUser]:
        what = f"the protected user {entry}"
        found: list[dict[str, Any]] = []
        with contextlib.suppress(GraphNotFoundError):  # no user has it as UPN
            found.append(client.get(_user_path(entry), select, what=what))
        params = {"$filter": f"mail eq {odata_string(entry)}", **select}
        found += client.paged("users", params, what=what)
        return dict(_protected_user(user, entry) for user in found)

    found = run_bounded(named_by, list(entries), parallelism)
    return dict(zip(entries, found, strict=True))


def _user_path(upn: str) -> str:
    """The path of the user whose UPN is ``upn``: ``users/{upn}``, or, for a UPN that starts
    with ``$`` (which Graph answers 400 there), ``users('{upn}')``, as
    https://learn.microsoft.com/graph/api/user-get says."""
    if upn.startswith("$"):
        key = quote(odata_string(upn), safe="'@$")
        return f"users({key})"
    return f"users/{quote(upn, safe='@')}"


def _protected_user(user: dict[str, Any], entry: str) -> tuple[str, DirectoryUser]:
    """The lower-cased id of a user a ``protected`` entry names, and the user. One answered
    without its id would leave the entry naming no one, and its user unprotected: the read
    stops instead."""
    user_id, upn, mail = user.get("id"), user.get("userPrincipalName"), user.get("mail")
    if not isinstance(user_id, str) or not user_id:
        raise GraphError(
            f"Microsoft Graph answered the protected user {sanitize.text(entry)} without its id",
            "nothing was changed; run again, and if it repeats, the Graph URL does not answer "
            "as Microsoft Graph does (https://learn.microsoft.com/graph/api/resources/user)",
        )
    named = DirectoryUser(
        user_id,
        upn if isinstance(upn, str) else "",  # no key of its own to find a NeuralTrust user by
        mail if isinstance(mail, str) and mail else None,
    )
    return user_id.lower(), named


def list_groups(
    client: GraphClient, search: str | None, *, nested: bool = True, parallelism: int = 4
) -> list[GroupSummary]:
    """Groups whose display name starts with ``search`` (all when None), with user counts."""
    found = find_groups(client, search)
    counts = run_bounded(lambda g: count_user_members(client, g.id, nested), found, parallelism)
    summaries = [GroupSummary(g.id, g.display_name, n) for g, n in zip(found, counts, strict=True)]
    return sorted(summaries, key=lambda s: (s.display_name.casefold(), s.id))


def find_groups(client: GraphClient, search: str | None) -> list[Group]:
    """Groups whose display name starts with ``search`` (any case; all when None), as listed."""
    params = {"$select": "id,displayName"}
    if search:
        params["$filter"] = f"startsWith(displayName,{odata_string(search)})"
    return [_listed_group(g) for g in client.paged("groups", params, what="groups")]


def _listed_group(item: dict[str, Any]) -> Group:
    group_id = item.get("id")
    if not isinstance(group_id, str) or not group_id:
        raise GraphError(
            f"Microsoft Graph listed the group {sanitize.text(str(item.get('displayName')))!r} "
            "without its id",
            ODD_ANSWER_HINT,
        )
    return Group(id=group_id, display_name=str(item.get("displayName") or ""))

"""Pure: the directory as read plus the mappings -> the desired NeuralTrust user per Entra user.

docs/how-it-works.md, "Who gets which role". ``directory.groups`` holds one
:class:`GroupMembers` per synced mapping, with membership already transitive when
``nested_groups`` is on; this module never reads Graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain

from entrasync.config.models import Config, GroupMapping
from entrasync.core.model import (
    DesiredUser,
    Directory,
    DirectoryUser,
    GroupMembers,
    Resolution,
    RoleRanks,
)

PROTECTED = "protected"
DISABLED = "disabled in Entra"
GUEST = "guest user (include_guests: false)"
NOT_READ = "member id not among the users read from Graph"


def _key(match_on: str, user: DirectoryUser, upn: str) -> str | None:
    """The lower-cased key ``match_on`` compares (``upn``: the lower-cased UPN); None when the
    user lacks that attribute (a mail, under ``email``)."""
    if match_on == "email":
        return user.mail.lower() if user.mail else None
    if match_on == "externalId":
        return user.id.lower()
    return upn


def _listed(user: DirectoryUser, upn: str, keys: frozenset[str]) -> bool:
    """Listed in ``protected`` (``keys``: config.protected_keys) by UPN (``upn``, lower-cased)
    or mail."""
    mail = user.mail
    return upn in keys or (mail.lower() in keys if mail else False)


def repeated_groups(found: Iterable[tuple[int, str | None]]) -> Iterator[tuple[int, int]]:
    """(the first mapping's index, this mapping's index) for each mapping whose group id
    (``found``: mapping index and group id, None when not found) an earlier mapping has: one
    mapping names a group another gives by id."""
    first: dict[str, int] = {}
    for index, group_id in found:
        if group_id is not None:
            earlier = first.setdefault(group_id, index)
            if earlier != index:
                yield earlier, index


def empty_groups(directory: Directory) -> tuple[str, ...]:
    """Display names of the synced groups that resolved to zero user members (mapping order)."""
    ordered = sorted(directory.groups, key=lambda g: g.mapping_index)
    return tuple(g.group.display_name for g in ordered if not g.member_ids)


def _exclusion(
    config: Config, user: DirectoryUser, protected: frozenset[str], upn: str
) -> str | None:
    """Why a mapped user gets no desired state, or None. Protected wins: it is the strongest.

    ``upn``: the user's lower-cased UPN, computed once by the caller.
    """
    if protected and _listed(user, upn, protected):
        return PROTECTED
    if not config.entra.include_guests and user.is_guest:
        return GUEST
    if not user.account_enabled and not config.entra.include_disabled:
        return DISABLED
    return None


# (role, products, groups, deciding group): everything resolve() decides from memberships.
Decision = tuple[str, tuple[str, ...] | None, tuple[str, ...], str]


def memberships(directory: Directory) -> dict[str, tuple[int, ...]]:
    """Each member's mapping indices, ascending, once each: one entry per membership, so the
    size and the time grow with the memberships alone, not with how many mappings there are
    (nor with the square of one member's groups)."""
    found: dict[str, tuple[int, ...]] = {}
    # A member of more than _FEW groups: its indices appended to a list, not copied into a
    # longer tuple for each group (4,000 groups each cost 6.4 s: benchmarks/shapes.py). Up to
    # _FEW, tuples: a list for every member of two groups added 5 MB at 100,000 users.
    many: dict[str, list[int]] = {}
    for group in sorted(directory.groups, key=lambda g: g.mapping_index):
        index = group.mapping_index
        alone = (index,)  # one tuple for every member in no earlier group
        for member_id in group.member_ids:
            indices = found.get(member_id)
            if indices is None:
                found[member_id] = alone
            elif len(indices) < _FEW:
                if indices[-1] != index:  # not a member listed twice in one group
                    found[member_id] = (*indices, index)
            elif (listed := many.get(member_id)) is None:
                if indices[-1] != index:
                    many[member_id] = [*indices, index]
            elif listed[-1] != index:
                listed.append(index)
    for member_id, listed in many.items():
        found[member_id] = tuple(listed)
    return found


_FEW = 8


def _decide(config: Config, names: Mapping[int, str], indices: tuple[int, ...]) -> Decision:
    """Access from a user's set of mapping indices (ascending), and nothing else."""
    mappings = config.mappings
    if config.precedence == "highest-privilege":
        rank = {i: config.roles.index(mappings[i].role) for i in indices}  # 0 = most privileged
        best = min(rank.values())
        granting = [i for i in indices if rank[i] == best]
    else:
        granting = [indices[0]]
    role = mappings[granting[0]].role
    products = None
    if role in config.effective_product_roles:
        products = _products(config, (mappings[i] for i in granting))
    groups = tuple(dict.fromkeys(names[i] for i in indices))
    return role, products, groups, names[granting[0]]


def _products(config: Config, granting: Iterable[GroupMapping]) -> tuple[str, ...]:
    union: set[str] = set()
    for mapping in granting:
        # An omitted `products` on a product role means every product of the vocabulary.
        union.update(mapping.products if mapping.products is not None else config.products)
    return tuple(sorted(union))


def _read_empty_above(config: Config, groups: Sequence[GroupMembers]) -> frozenset[int]:
    """Under first-match, the indices of the synced mappings a mapping read empty comes before
    and grants less than (a lower role, or fewer products): the members such a mapping decides
    may be in the empty group, which then caps them (docs/safety.md, ``source_health``)."""
    if config.precedence != "first-match":
        return frozenset()
    mappings = config.mappings
    ranks = RoleRanks(config.roles)
    grants = {g.mapping_index: _grant(config, mappings[g.mapping_index]) for g in groups}
    empty = [g.mapping_index for g in groups if not g.member_ids]
    return frozenset(
        i
        for i, (role, products) in grants.items()
        if any(e < i and _less(ranks, grants[e], role, products) for e in empty)
    )


def _grant(config: Config, mapping: GroupMapping) -> tuple[str, frozenset[str] | None]:
    """The role and products (None off a product role) ``mapping`` alone grants."""
    if mapping.role not in config.effective_product_roles:
        return mapping.role, None
    return mapping.role, frozenset(_products(config, (mapping,)))


def _less(
    ranks: RoleRanks,
    grant: tuple[str, frozenset[str] | None],
    role: str,
    products: frozenset[str] | None,
) -> bool:
    """Whether ``grant`` gives less than ``role`` with ``products``: a later role of the
    vocabulary (or one it does not rank: it may be), or the same role without all of the
    products."""
    given, wanted = ranks.of(grant[0]), ranks.of(role)
    if given is None or wanted is None or given != wanted:
        return given is None or wanted is None or given > wanted
    return grant[1] is not None and products is not None and not products <= grant[1]


def resolve(config: Config, directory: Directory) -> Resolution:
    """Desired users by Entra id, the users excluded (with why) and the warnings to show."""
    ordered = sorted(directory.groups, key=lambda g: g.mapping_index)
    warnings = [f"group {m.label} has auto_sync: false" for m in config.mappings if not m.auto_sync]
    warnings += [
        f"group {g.group.display_name} resolved to 0 members" for g in ordered if not g.member_ids
    ]
    names = {g.mapping_index: g.group.display_name for g in ordered}
    capped = _read_empty_above(config, ordered)
    uncapped: set[str] = set()  # decided by one of `capped`: see Resolution.uncapped
    protected = config.protected_keys
    match_on = config.neuraltrust.match_on
    # Users sharing a set of groups share a decision: decided once per distinct set.
    decided: dict[tuple[int, ...], Decision] = {}
    desired: dict[str, DesiredUser] = {}
    excluded: dict[str, str] = {}
    owner_of_key: dict[str, str] = {}  # the first Entra user met with each match key
    sharing: dict[str, list[str]] = {}  # a match key -> every Entra user met with it
    # A match key -> the Entra users left out (protected, or a guest or disabled member left
    # out) who have it, by lower-cased id: the NeuralTrust user it finds may be theirs.
    left_out: dict[str, dict[str, str]] = {}
    said: list[tuple[str, str]] = []  # (Entra id, warning): said in id order
    held: set[str] = set()
    protected_ids: set[str] = set()
    # The users in the order they were read, which is the order they lie in memory (by sorted
    # id, 0.2 s more at 100,000 users: benchmarks/README.md). The resolution does not depend
    # on it (a match key several users share names them all, sorted). Only the order of
    # `desired` follows it, so a caller that picks among desired users sorts them first.
    member_of = memberships(directory)
    for entra_id, indices in member_of.items():
        user = directory.users.get(entra_id)
        if user is None:
            excluded[entra_id] = NOT_READ
            held.add(entra_id.lower())
            continue
        upn = user.user_principal_name.lower()
        key = _key(match_on, user, upn)
        reason = _exclusion(config, user, protected, upn)
        if reason is not None:
            excluded[entra_id] = reason
            if key:
                left_out.setdefault(key, {}).setdefault(entra_id.lower(), entra_id)
            if reason is PROTECTED:
                protected_ids.add(entra_id.lower())
            continue
        if key is None:
            # No mail under match_on: email. Its NeuralTrust user, found by its externalId,
            # is kept in line; none is adopted or created for it (matching says so). Keyed by
            # its id, which no mail can be.
            key = entra_id.lower()
        first = owner_of_key.setdefault(key, entra_id)
        if first != entra_id:
            sharing.setdefault(key, [first]).append(entra_id)
        decision = decided.get(indices)
        if decision is None:
            decision = decided[indices] = _decide(config, names, indices)
        role, products, groups, decided_by = decision
        desired[entra_id] = DesiredUser(user, key, role, products, groups, decided_by)
        if capped and indices[0] in capped:
            uncapped.add(entra_id)
    shared_keys: dict[str, tuple[str, ...]] = {}
    for key, ids in sharing.items():
        spelt: dict[str, str] = {}  # an Entra id, lower-cased -> its first spelling, kept
        for entra_id in sorted(ids):
            kept = spelt.setdefault(entra_id.lower(), entra_id)
            if kept != entra_id:  # one user under two spellings of its id: planned once,
                # from the groups of both
                del desired[entra_id]
                excluded[entra_id] = f"same user as Entra user {kept}"
                said.append((entra_id, f"Entra user {kept} is listed as {entra_id} too: once"))
                both = tuple(sorted({*member_of[kept], *member_of[entra_id]}))
                member_of[kept] = both
                role, products, groups, decided_by = _decide(config, names, both)
                user = desired[kept].user
                desired[kept] = DesiredUser(user, key, role, products, groups, decided_by)
                uncapped.discard(entra_id)
                if capped and both[0] in capped:
                    uncapped.add(kept)
                else:
                    uncapped.discard(kept)
        if len(spelt) > 1:
            # Which of them is the NeuralTrust user found by the key would be a guess: matching
            # pairs each only by its own externalId (docs/how-it-works.md).
            shared_keys[key] = tuple(spelt.values())
    for entra_id, user in directory.protected_users.items():  # members of no group too
        if key := _key(match_on, user, user.user_principal_name.lower()):
            left_out.setdefault(key, {}).setdefault(entra_id.lower(), user.id)
    for key, left in left_out.items():
        # A wanted user sharing the key with one left out is held as one sharing it with
        # another wanted user is: the NeuralTrust user the key finds may be the other's (a
        # break-glass account's, whose mail an admin's own account has too).
        holders = shared_keys.get(key) or ((owner_of_key[key],) if key in owner_of_key else ())
        taken = {holder.lower() for holder in holders}
        others = sorted(i for lowered, i in left.items() if lowered not in taken)
        if holders and others:
            shared_keys[key] = (*holders, *others)
    warnings += [warning for _, warning in sorted(said)]
    for entra_id in directory.protected_ids:  # protected by their Entra name, in no group
        excluded.setdefault(entra_id, PROTECTED)
        protected_ids.add(entra_id.lower())
    upn_owners: dict[str, str] = {}
    if match_on == "email":
        for user in chain(directory.users.values(), directory.protected_users.values()):
            upn_owners.setdefault(user.user_principal_name.lower(), user.id)
    return Resolution(
        desired=desired,
        excluded=excluded,
        warnings=tuple(warnings),
        held=frozenset(held),
        protected=frozenset(protected_ids),
        protected_unknown=directory.protected_unknown,
        shared_keys=shared_keys,
        upn_owners=upn_owners,
        uncapped=frozenset(uncapped),
    )

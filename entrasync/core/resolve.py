"""Pure: the directory as read plus the mappings -> the desired NeuralTrust user per Entra user.

CONTRACT.md section 2. ``directory.groups`` holds one :class:`GroupMembers` per synced mapping,
with membership already transitive when ``nested_groups`` is on; this module never reads Graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from entrasync.config.models import Config, GroupMapping
from entrasync.core.model import DesiredUser, Directory, DirectoryUser, GroupMembers, Resolution

PROTECTED = "protected"
DISABLED = "disabled in Entra"
GUEST = "guest user (include_guests: false)"
NO_MAIL = "no mail address (match_on: email)"
NOT_READ = "member id not among the users read from Graph"


def match_key(config: Config, user: DirectoryUser) -> str | None:
    """The lower-cased key ``match_on`` compares; None when the user lacks that attribute."""
    match_on = config.neuraltrust.match_on
    if match_on == "email":
        return user.mail.lower() if user.mail else None
    if match_on == "externalId":
        return user.id.lower()
    return user.user_principal_name.lower()


def is_protected_user(
    config: Config, user: DirectoryUser, keys: frozenset[str] | None = None
) -> bool:
    """Listed in ``protected`` by UPN or mail (``keys``: config.protected_keys, if at hand)."""
    keys = config.protected_keys if keys is None else keys
    mail = (user.mail or "").lower()
    return user.user_principal_name.lower() in keys or (bool(mail) and mail in keys)


def empty_groups(directory: Directory) -> tuple[str, ...]:
    """Display names of the synced groups that resolved to zero user members (mapping order)."""
    ordered = sorted(directory.groups, key=lambda g: g.mapping_index)
    return tuple(g.group.display_name for g in ordered if not g.member_ids)


def _exclusion(
    config: Config, user: DirectoryUser, protected: frozenset[str], key: str | None
) -> str | None:
    """Why a mapped user gets no desired state, or None. Protected wins: it is the strongest.

    ``key``: the user's match_key(), computed once by the caller (it needs it too).
    """
    if is_protected_user(config, user, protected):
        return PROTECTED
    if user.is_guest and not config.entra.include_guests:
        return GUEST
    if not user.account_enabled and not config.entra.include_disabled:
        return DISABLED
    if key is None:
        return NO_MAIL
    return None


# (role, products, groups, deciding group): everything resolve() decides from memberships.
Decision = tuple[str, tuple[str, ...] | None, tuple[str, ...], str]


def _indices(mask: int) -> tuple[int, ...]:
    """The mapping indices whose bits are set, ascending (mapping order)."""
    found = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return tuple(found)


class _Decider:
    """Decides access from the set of a user's mapping indices, given as a bit mask.

    The decision depends on nothing but that set, and at enterprise size most users share
    their set of groups with many others: each distinct set is decided once (benchmarks/).
    """

    def __init__(self, config: Config, names: dict[int, str]) -> None:
        self.config = config
        self.names = names  # mapping index -> the display name of its group
        self.rank = [config.roles.index(m.role) for m in config.mappings]  # 0 = most privileged
        self.decided: dict[int, Decision] = {}

    def decide(self, mask: int) -> Decision:
        decision = self.decided.get(mask)
        if decision is None:
            decision = self.decided[mask] = self._decide(_indices(mask))
        return decision

    def _decide(self, indices: tuple[int, ...]) -> Decision:
        config, mappings = self.config, self.config.mappings
        if config.precedence == "highest-privilege":
            best = min(self.rank[i] for i in indices)
            granting = [i for i in indices if self.rank[i] == best]
        else:
            granting = [indices[0]]
        role = mappings[granting[0]].role
        products = None
        if role in config.effective_product_roles:
            products = _products(config, (mappings[i] for i in granting))
        groups = tuple(dict.fromkeys(self.names[i] for i in indices))
        return role, products, groups, self.names[granting[0]]


def _products(config: Config, granting: Iterable[GroupMapping]) -> tuple[str, ...]:
    union: set[str] = set()
    for mapping in granting:
        # An omitted `products` on a product role means every product of the vocabulary.
        union.update(mapping.products if mapping.products is not None else config.products)
    return tuple(sorted(union))


class Resolver:
    """resolve() one group at a time, in any order: the plan folds each group in as soon as
    Graph has delivered it, while the largest groups are still paging (benchmarks/).

    Each user's membership is a bit mask of mapping indices (set union: the order groups
    arrive in cannot matter), and what depends on the user alone (its match key, and why it
    is excluded) is worked out the first time the user is seen. Not thread-safe: a caller
    feeding it from several threads serialises :meth:`add`.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._protected = config.protected_keys
        self._masks: dict[str, int] = {}
        # Entra id -> (the user, its match key, why it is excluded); None: not read from Graph.
        self._seen: dict[str, tuple[DirectoryUser, str | None, str | None] | None] = {}
        self._names: dict[int, str] = {}
        self._groups: list[GroupMembers] = []
        self._resolved: Resolution | None = None

    def add(self, group: GroupMembers, users: Mapping[str, DirectoryUser]) -> None:
        """Fold in one synced group; ``users`` holds (at least) its members as read."""
        self._resolved = None
        self._groups.append(group)
        self._names[group.mapping_index] = group.group.display_name
        bit = 1 << group.mapping_index
        masks, seen = self._masks, self._seen
        for member_id in group.member_ids:
            mask = masks.get(member_id)
            if mask is not None:
                masks[member_id] = mask | bit
                continue
            masks[member_id] = bit
            user = users.get(member_id)
            if user is None:
                seen[member_id] = None
                continue
            key = match_key(self.config, user)
            seen[member_id] = (user, key, _exclusion(self.config, user, self._protected, key))

    def resolution(self) -> Resolution:
        """Desired users by Entra id, the users excluded (with why) and the warnings to show.

        Worked out once per set of groups: plan and the users view both ask for it."""
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> Resolution:
        config = self.config
        ordered = sorted(self._groups, key=lambda g: g.mapping_index)
        warnings = [
            f"group {m.label} has auto_sync: false" for m in config.mappings if not m.auto_sync
        ]
        warnings += [
            f"group {g.group.display_name} resolved to 0 members"
            for g in ordered
            if not g.member_ids
        ]
        decide = _Decider(config, self._names).decide
        desired: dict[str, DesiredUser] = {}
        excluded: dict[str, str] = {}
        owner_of_key: dict[str, str] = {}
        masks, seen = self._masks, self._seen
        for entra_id in sorted(masks):  # sorting the ids alone: no tuple comparisons
            facts = seen[entra_id]
            if facts is None:
                excluded[entra_id] = NOT_READ
                continue
            user, key, reason = facts
            if reason is not None:
                excluded[entra_id] = reason
                if reason == NO_MAIL:
                    warnings.append(
                        f"{user.user_principal_name} has no mail: skipped (match_on: email)"
                    )
                continue
            assert key is not None  # _exclusion() ruled out a missing key
            owner = owner_of_key.get(key)
            if owner is not None:
                # Two Entra users cannot own one NeuralTrust user: keep the first (by id), say so.
                excluded[entra_id] = f"same match key as Entra user {owner}"
                warnings.append(
                    f"Entra users {owner} and {entra_id} share the match key {key}: "
                    f"{entra_id} is skipped"
                )
                continue
            owner_of_key[key] = entra_id
            role, products, groups, decided_by = decide(masks[entra_id])
            desired[entra_id] = DesiredUser(user, key, role, products, groups, decided_by)
        return Resolution(desired=desired, excluded=excluded, warnings=tuple(warnings))


def resolve(config: Config, directory: Directory) -> Resolution:
    """Desired users by Entra id, the users excluded (with why) and the warnings to show."""
    resolver = Resolver(config)
    for group in directory.groups:
        resolver.add(group, directory.users)
    return resolver.resolution()

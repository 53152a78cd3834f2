"""Pure: the directory as read plus the mappings -> the desired NeuralTrust user per Entra user.

CONTRACT.md section 2. ``directory.groups`` holds one :class:`GroupMembers` per synced mapping,
with membership already transitive when ``nested_groups`` is on; this module never reads Graph.
"""

from __future__ import annotations

from collections.abc import Iterable

from entrasync.config import Config, Mapping
from entrasync.model import DesiredUser, Directory, DirectoryUser, GroupMembers, Resolution

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


class _Decider:
    """Decides access from the mapping indices of a user's groups (in mapping order).

    The decision depends on nothing but those indices, and at enterprise size most users share
    their set of groups with many others: each distinct set is decided once (benchmarks/).
    """

    def __init__(self, config: Config, names: dict[int, str]) -> None:
        self.config = config
        self.names = names  # mapping index -> the display name of its group
        self.rank = [config.roles.index(m.role) for m in config.mappings]  # 0 = most privileged
        self.decided: dict[tuple[int, ...], Decision] = {}

    def decide(self, indices: tuple[int, ...]) -> Decision:
        decision = self.decided.get(indices)
        if decision is None:
            decision = self.decided[indices] = self._decide(indices)
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


def _products(config: Config, granting: Iterable[Mapping]) -> tuple[str, ...]:
    union: set[str] = set()
    for mapping in granting:
        # An omitted `products` on a product role means every product of the vocabulary.
        union.update(mapping.products if mapping.products is not None else config.products)
    return tuple(sorted(union))


def _memberships(directory: Directory) -> dict[str, list[int]]:
    """Entra id -> the mapping indices of its groups, in mapping order, each group once."""
    result: dict[str, list[int]] = {}
    ordered: list[GroupMembers] = sorted(directory.groups, key=lambda g: g.mapping_index)
    for group in ordered:
        index = group.mapping_index
        for member_id in dict.fromkeys(group.member_ids):
            found = result.get(member_id)
            if found is None:
                result[member_id] = [index]
            else:
                found.append(index)
    return result


def resolve(config: Config, directory: Directory) -> Resolution:
    """Desired users by Entra id, the users excluded (with why) and the warnings to show."""
    warnings = [f"group {m.label} has auto_sync: false" for m in config.mappings if not m.auto_sync]
    warnings += [f"group {name} resolved to 0 members" for name in empty_groups(directory)]
    decider = _Decider(config, {g.mapping_index: g.group.display_name for g in directory.groups})
    protected = config.protected_keys
    desired: dict[str, DesiredUser] = {}
    excluded: dict[str, str] = {}
    owner_of_key: dict[str, str] = {}
    memberships = _memberships(directory)
    for entra_id in sorted(memberships):  # sorting the ids alone: no tuple comparisons
        indices = memberships[entra_id]
        user = directory.users.get(entra_id)
        if user is None:
            excluded[entra_id] = NOT_READ
            continue
        key = match_key(config, user)
        reason = _exclusion(config, user, protected, key)
        if reason is not None:
            excluded[entra_id] = reason
            if reason == NO_MAIL:
                warnings.append(
                    f"{user.user_principal_name} has no mail: skipped (match_on: email)"
                )
            continue
        assert key is not None  # _exclusion() ruled out a missing key
        if key in owner_of_key:
            # Two Entra users cannot own one NeuralTrust user: keep the first (by id), say so.
            excluded[entra_id] = f"same match key as Entra user {owner_of_key[key]}"
            warnings.append(
                f"Entra users {owner_of_key[key]} and {entra_id} share the match key {key}: "
                f"{entra_id} is skipped"
            )
            continue
        owner_of_key[key] = entra_id
        role, products, groups, decided_by = decider.decide(tuple(indices))
        desired[entra_id] = DesiredUser(user, key, role, products, groups, decided_by)
    return Resolution(desired=desired, excluded=excluded, warnings=tuple(warnings))

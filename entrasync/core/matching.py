"""Pure: which NeuralTrust user is which Entra user. One matcher, used by diff and users view.

docs/how-it-works.md, "Which NeuralTrust user is which Entra user": a managed user carries
``externalId`` = its Entra object id, so that matches first; otherwise ``match_on``
(case-insensitive). A user found by ``match_on`` whose externalId names a different Entra user
(a reused UPN) is never changed at all: not taken over by the new Entra user, and not
deactivated as an orphan of the old one either, even when that old Entra user has left the
groups (it is still found by ``match_on`` for a wanted user).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter

from entrasync.config.models import Config
from entrasync.core.model import DesiredUser, Resolution, Target, TargetUser
from entrasync.core.sanitize import name_text
from entrasync.core.wording import joined, plural


class Standing(StrEnum):
    """What a NeuralTrust user that no desired user claimed is to entrasync."""

    PROTECTED = "protected"  # listed in `protected`: never changed
    UNMANAGED = "unmanaged"  # no externalId, or held back by a warning: never changed
    INACTIVE = "inactive"  # managed and already inactive: not an orphan
    ORPHAN = "orphan"  # managed, active, and no synced mapping wants it


@dataclass(frozen=True, slots=True)
class Pair:
    """A desired user and the NeuralTrust user it maps to (None: it is to be created)."""

    desired: DesiredUser
    target: TargetUser | None  # without externalId: found by match_on, the plan adopts it


@dataclass(frozen=True)
class Matching:
    pairs: tuple[Pair, ...]  # desired users that entrasync may act on, in the order read
    leftovers: tuple[tuple[TargetUser, Standing], ...]  # NeuralTrust users no pair claimed
    warnings: tuple[str, ...] = ()  # desired users held back, and why

    def one_pair_each(self, config: Config) -> tuple[list[Pair], list[str]]:
        """The pairs whose NeuralTrust user no other pair has, and a warning for each of the
        others: two changes of one user would each undo the other. (One Entra user listed
        under two spellings of its id, with two keys, pairs twice; ``init`` reads both.)"""
        targets = [p.target.id for p in self.pairs if p.target is not None]
        if len(set(targets)) == len(targets):  # as good as always: 7 ms at 100,000 users
            return list(self.pairs), []
        by_target: dict[str, list[Pair]] = {}
        for pair in self.pairs:
            if pair.target is not None:
                by_target.setdefault(pair.target.id, []).append(pair)
        held: list[tuple[str, str]] = []
        for target_id, twice in by_target.items():
            user = twice[0].target
            if len(twice) > 1 and user is not None:
                ids = " and ".join(sorted(p.desired.user.id for p in twice))
                held += [
                    (
                        p.desired.key,
                        f"{p.desired.key}: Entra users {ids} all pair with the NeuralTrust "
                        f"user {target_key(config, user)} (SCIM id {target_id}): not changed",
                    )
                    for p in twice
                ]
        kept = [p for p in self.pairs if p.target is None or len(by_target[p.target.id]) == 1]
        return kept, [warning for _, warning in sorted(held)]


def target_key(config: Config, user: TargetUser) -> str:
    """A NeuralTrust user's key per ``match_on``, falling back to userName when it lacks one."""
    match_on = config.neuraltrust.match_on
    value = {"email": user.email, "externalId": user.external_id}.get(match_on)
    return (value or user.user_name).lower()


def is_protected_target(
    config: Config,
    user: TargetUser,
    resolution: Resolution | None = None,
    keys: frozenset[str] | None = None,
) -> bool:
    """Listed by userName or email, or managed for an Entra user resolve() found protected.

    ``keys``: config.protected_keys when the caller has it at hand (it is built on each read).
    """
    if _listed(user, config.protected_keys if keys is None else keys):
        return True
    return resolution is not None and _protected_id(resolution, user.external_id)


def _listed(user: TargetUser, keys: frozenset[str]) -> bool:
    """Named in ``protected`` (lower-cased ``keys``) by userName or email."""
    return user.user_name.lower() in keys or (user.email or "").lower() in keys


def _protected_id(resolution: Resolution, external_id: str | None) -> bool:
    """Whether resolve() left this Entra id out because `protected` lists it."""
    return external_id is not None and external_id.lower() in resolution.protected


def exclusion(resolution: Resolution, external_id: str | None) -> str | None:
    """resolve()'s reason for leaving this Entra id out, if any (ids compare case-blind)."""
    if external_id is None:
        return None
    excluded = resolution.excluded
    return excluded.get(external_id) or excluded.get(external_id.lower())


def is_managed_active(
    config: Config,
    user: TargetUser,
    keys: frozenset[str] | None = None,
    resolution: Resolution | None = None,
) -> bool:
    """Counts for the deactivation limits: active, carries externalId, not protected (by its
    NeuralTrust names, or, given ``resolution``, as an Entra user resolve() found protected).

    ``keys``: config.protected_keys when the caller has it at hand (it is built on each read).
    """
    return (
        user.active
        and user.external_id is not None
        and not is_protected_target(config, user, resolution, keys)
    )


_MANAGED = (Standing.ORPHAN, Standing.INACTIVE)
# Users named in one warning said for each of them: each is named in its own.
_NAMED = 5


@dataclass(frozen=True)
class _Index:
    """The NeuralTrust users by SCIM id order, indexed the ways matching looks them up.

    Duplicates keep the first by SCIM id, so the outcome never depends on read order; users
    sharing an externalId are also kept together in ``shared``: none of them is changed for
    that Entra user, since the first by SCIM id may be anyone."""

    users: list[TargetUser]
    by_external_id: dict[str, TargetUser]
    by_user_name: dict[str, TargetUser]
    by_key: dict[str, TargetUser]  # by the key match_on compares
    listed: set[str]  # SCIM ids of the users named in ``protected`` (by userName or email)
    named: set[str]  # the ``protected`` entries (lower-cased) some of them carry
    shared: dict[str, list[TargetUser]]  # lower-cased externalId -> the 2+ users carrying it
    key_shared: dict[str, list[TargetUser]]  # the same, for the key match_on compares

    @classmethod
    def of(cls, config: Config, target: Target) -> _Index:
        users = sorted(target.users, key=attrgetter("id"))
        by_external_id: dict[str, TargetUser] = {}
        by_user_name: dict[str, TargetUser] = {}
        by_email: dict[str, TargetUser] = {}
        listed: set[str] = set()
        named: set[str] = set()
        keys = config.protected_keys
        shared: dict[str, list[TargetUser]] = {}
        shared_names: dict[str, list[TargetUser]] = {}
        shared_emails: dict[str, list[TargetUser]] = {}
        for user in users:
            if user.external_id:
                _index(by_external_id, shared, user.external_id.lower(), user)
            name = user.user_name.lower()
            if name:
                _index(by_user_name, shared_names, name, user)
            email = user.email.lower() if user.email else ""
            if email:
                _index(by_email, shared_emails, email, user)
            if name in keys or email in keys:  # as _listed() decides, each lowered once
                listed.add(user.id)
                named.update(keys.intersection((name, email)))
        by_key = {"userName": by_user_name, "email": by_email, "externalId": by_external_id}
        key_shared = {"userName": shared_names, "email": shared_emails, "externalId": shared}
        match_on = config.neuraltrust.match_on
        return cls(
            users,
            by_external_id,
            by_user_name,
            by_key[match_on],
            listed,
            named,
            shared,
            key_shared[match_on],
        )

    def protected(self, user: TargetUser, resolution: Resolution) -> bool:
        """:func:`is_protected_target` of one of these users."""
        return user.id in self.listed or _protected_id(resolution, user.external_id)


def _index(
    by: dict[str, TargetUser], shared: dict[str, list[TargetUser]], key: str, user: TargetUser
) -> None:
    """Index ``user`` under ``key``: the first keeps it, a second makes the key shared."""
    first = by.setdefault(key, user)
    if first is not user:
        shared.setdefault(key, [first]).append(user)


def match(config: Config, resolution: Resolution, target: Target) -> Matching:
    """Pair each desired user with its NeuralTrust user."""
    index = _Index.of(config, target)
    pairs: list[Pair] = []
    held: list[tuple[str, str]] = []  # (desired key, warning): said in key order
    reused: set[str] = set()  # SCIM ids found by match_on but owned by another Entra user
    wanted = {entra_id.lower() for entra_id in resolution.desired}
    for desired in resolution.desired.values():
        found = _pair_or_warning(config, resolution, index, desired, wanted)
        if isinstance(found, Pair):
            pairs.append(found)
        else:
            held.append((desired.key, found[0]))
            reused.update(found[1])
    warnings = [warning for _, warning in sorted(held)]
    warnings += _protecting_no_one(config, resolution, index)
    claimed = {p.target.id for p in pairs if p.target is not None}
    leftovers: list[tuple[TargetUser, Standing]] = []
    for user in (u for u in index.users if u.id not in claimed):
        place = _standing(index.protected(user, resolution), user)
        if place is Standing.ORPHAN and user.id in reused:
            # docs/how-it-works.md: a reused UPN is never changed, so it is no orphan of its
            # old Entra user either; the warning already names both ids.
            place = Standing.UNMANAGED
        elif place in _MANAGED and (user.external_id or "").lower() in resolution.held:
            # Still in a synced group, only not matchable (resolve() said why): not an orphan.
            place = Standing.UNMANAGED
        elif place in _MANAGED and (user.external_id or "").lower() in wanted:
            # One of the NeuralTrust users sharing a wanted Entra id (the held-back user's
            # warning names them all): never deactivate either.
            place = Standing.UNMANAGED
        leftovers.append((user, place))
    return Matching(tuple(pairs), tuple(leftovers), tuple(warnings))


def _protecting_no_one(config: Config, resolution: Resolution, index: _Index) -> list[str]:
    """A ``protected`` entry that names no Entra user and no NeuralTrust user: a misspelt
    break-glass account protects no one, and nothing else would say so."""
    unknown = resolution.protected_unknown - index.named
    return [
        f"protected entry {entry} names no user in Entra or NeuralTrust: it "
        "protects no one; check its spelling"
        for entry in dict.fromkeys(config.protected)
        if entry.lower() in unknown
    ]


def _pair_or_warning(
    config: Config,
    resolution: Resolution,
    index: _Index,
    desired: DesiredUser,
    wanted: Set[str],
) -> Pair | tuple[str, tuple[str, ...]]:
    """The desired user's pair, or the warning that says why entrasync holds it back with the
    SCIM ids of the NeuralTrust users it found that belong to another Entra user."""
    entra_id = desired.user.id.lower()
    twins = index.shared.get(entra_id)
    if twins is not None:
        named = " and ".join(f"{name_text(target_key(config, u))} (SCIM id {u.id})" for u in twins)
        return (
            f"{desired.key}: NeuralTrust users {named} all carry its Entra id {desired.user.id} "
            "as externalId: not changed; remove it from those that are not this user",
            (),
        )
    found = index.by_external_id.get(entra_id)
    if found is None and config.neuraltrust.match_on == "email" and not desired.user.mail:
        # Keyed by its id (resolve()), which is no one's mail: its externalId alone finds it.
        return (
            f"{desired.user.user_principal_name} has no mail, and no NeuralTrust user carries "
            f"its Entra id {desired.user.id} as externalId: neither adopted nor created "
            "(match_on: email)",
            (),
        )
    sharers = resolution.shared_keys.get(desired.key) if found is None else None
    if sharers is not None:
        # Entra side: the NeuralTrust user the key finds (or would create) is at most one of
        # them, and which one no id order tells: adopting it gave one's access to the other.
        by_key = index.by_key.get(desired.key)
        found_by_key = index.key_shared.get(desired.key, [by_key] if by_key else [])
        # Each one another Entra user manages: never changed for this one, nor an orphan (as a
        # reused UPN's), and named, so that no one is left active unseen.
        # Not those of wanted Entra users: each is theirs to change (or hold) by its externalId.
        managed = [u for u in found_by_key if u.external_id and u.external_id.lower() not in wanted]
        field = "mail" if config.neuraltrust.match_on == "email" else "userPrincipalName"
        kept = "".join(
            f"; the NeuralTrust user {name_text(u.user_name)} (SCIM id {u.id}) of Entra user "
            f"{u.external_id} has it too: not changed"
            for u in managed[:_NAMED]
        )
        if len(managed) > _NAMED:
            more = plural(len(managed) - _NAMED, "more NeuralTrust user")
            kept += f"; and {more} of Entra users the groups do not want: not changed"
        return (
            f"{desired.key}: Entra users {joined(sharers, _NAMED)} all have it as their match "
            f"key: Entra user {desired.user.id} is neither adopted nor created by it; give "
            f"each its own {field}, or set the externalId of its NeuralTrust user to its id"
            f"{kept}",
            tuple(u.id for u in managed),
        )
    if found is None and desired.key in index.key_shared:
        # Case-blind, two NeuralTrust users answer to one key: adopting the first by SCIM id
        # could give this Entra user's access to the other.
        users = index.key_shared[desired.key]
        named = " and ".join(f"SCIM id {u.id}" for u in users)
        others = tuple(u.id for u in users if u.external_id and u.external_id.lower() != entra_id)
        return (
            f"{desired.key}: NeuralTrust users {named} all have it as their "
            f"{config.neuraltrust.match_on} (in any case): not changed; keep one of them",
            others,  # another Entra user's, found by this key: never changed (a reused UPN)
        )
    found = found or index.by_key.get(desired.key)
    if found is None:
        clash = index.by_user_name.get(desired.user.user_principal_name.lower())
        if clash is None:
            return Pair(desired, None)
        # SCIM userName is unique: a create would fail at apply, so say so at plan time.
        return (
            f"{desired.key}: NeuralTrust already has userName {name_text(clash.user_name)} "
            f"(SCIM id {clash.id}), which match_on: {config.neuraltrust.match_on} does not match: "
            "not created",
            (),
        )
    owner = found.external_id
    if owner is not None and owner.lower() != entra_id:
        return (
            f"{desired.key}: the NeuralTrust user {name_text(found.user_name)} "
            f"(SCIM id {found.id}) belongs to Entra user {owner}, not to Entra user "
            f"{desired.user.id} (reused UPN?): not changed",
            (found.id,),
        )
    if index.protected(found, resolution):
        return f"{desired.key} is protected: not changed", ()
    if owner is None:
        said = _someone_elses(resolution, found, desired) or _lookalike(config, found, desired.key)
        if said is not None:
            return said, ()
    return Pair(desired, found)


def _someone_elses(resolution: Resolution, found: TargetUser, desired: DesiredUser) -> str | None:
    """Why ``found``, found by ``desired``'s mail, is another Entra user's: its userName is that
    user's UPN. An admin account whose mail is its owner's UPN took the owner's NeuralTrust user,
    and demoted it, when the mail alone decided (``upn_owners`` is empty unless
    match_on: email)."""
    other = resolution.upn_owners.get(found.user_name.lower())
    if other is None or other.lower() == desired.user.id.lower():
        return None
    return (
        f"{desired.key}: the NeuralTrust user {name_text(found.user_name)} (SCIM id {found.id}) "
        f"has this mail, but its userName is the UPN of Entra user {other}: not adopted; if it "
        f"is Entra user {desired.user.id}'s, set its externalId to that id in NeuralTrust"
    )


def _lookalike(config: Config, found: TargetUser, key: str) -> str | None:
    """Why ``found``, about to be adopted by ``key``, is not that user: its name only lower-cases
    to the key (``\u212aate@…``, with a Kelvin sign, is ``kate@…`` to ``str.lower``). Entra
    names are ASCII; a name outside ASCII that matches one is a lookalike."""
    match_on = config.neuraltrust.match_on
    name = found.user_name if match_on == "userName" else found.email
    if name is None or name.isascii() or not key.isascii():
        return None
    return (
        f"{key}: the NeuralTrust user {name!a} (SCIM id {found.id}) only "
        f"looks like it: its {match_on} holds characters outside ASCII that lower-case to it: "
        "not adopted; rename or remove that user in NeuralTrust"
    )


def _standing(protected: bool, user: TargetUser) -> Standing:
    if protected:
        return Standing.PROTECTED
    if user.external_id is None:
        return Standing.UNMANAGED
    return Standing.ORPHAN if user.active else Standing.INACTIVE

"""Pure: which NeuralTrust user is which Entra user. One matcher, used by diff and users view.

CONTRACT.md section 2: a managed user carries ``externalId`` = its Entra object id, so that
matches first; otherwise ``match_on`` (case-insensitive). A user found by ``match_on`` whose
externalId names a different Entra user (a reused UPN) is never taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from entrasync.config import Config
from entrasync.model import DesiredUser, Resolution, Target, TargetUser
from entrasync.resolve import PROTECTED


class Standing(StrEnum):
    """What a NeuralTrust user that no desired user claimed is to entrasync."""

    PROTECTED = "protected"  # listed in `protected`: never changed
    UNMANAGED = "unmanaged"  # no externalId: never changed
    INACTIVE = "inactive"  # managed and already inactive: not an orphan
    ORPHAN = "orphan"  # managed, active, and no synced mapping wants it


@dataclass(frozen=True, slots=True)
class Pair:
    """A desired user and the NeuralTrust user it maps to (None: it is to be created)."""

    desired: DesiredUser
    target: TargetUser | None

    @property
    def adopts(self) -> bool:
        """Found by ``match_on`` on a user without externalId: the plan sets externalId."""
        return self.target is not None and self.target.external_id is None


@dataclass(frozen=True)
class Matching:
    pairs: tuple[Pair, ...]  # desired users that entrasync may act on, by key
    blocked: tuple[tuple[DesiredUser, TargetUser, str], ...]  # never changed: (.., .., warning)
    leftovers: tuple[tuple[TargetUser, Standing], ...]  # NeuralTrust users no pair claimed


def target_key(config: Config, user: TargetUser) -> str:
    """A NeuralTrust user's key per ``match_on``, falling back to userName when it lacks one."""
    match_on = config.neuraltrust.match_on
    value = {"email": user.email, "externalId": user.external_id}.get(match_on)
    return (value or user.user_name).lower()


def is_protected_target(
    config: Config, user: TargetUser, resolution: Resolution | None = None
) -> bool:
    """Listed by userName or email, or managed for an Entra user resolve() found protected."""
    keys = config.protected_keys
    if user.user_name.lower() in keys or (user.email or "").lower() in keys:
        return True
    excluded = resolution.excluded if resolution is not None else {}
    return user.external_id is not None and excluded.get(user.external_id) == PROTECTED


def is_managed_active(config: Config, user: TargetUser) -> bool:
    """Counts for the deactivation limits: active, carries externalId, not protected."""
    return user.active and user.external_id is not None and not is_protected_target(config, user)


def _index(users: list[TargetUser], attribute: str) -> dict[str, TargetUser]:
    index: dict[str, TargetUser] = {}
    for user in users:
        value = getattr(user, attribute)
        if value:
            # Duplicates keep the first by SCIM id, so the outcome never depends on read order.
            index.setdefault(str(value).lower(), user)
    return index


def match(config: Config, resolution: Resolution, target: Target) -> Matching:
    users = sorted(target.users, key=lambda u: u.id)
    by_external_id = _index(users, "external_id")
    key_attribute = {"userName": "user_name", "email": "email", "externalId": "external_id"}
    by_key = _index(users, key_attribute[config.neuraltrust.match_on])
    pairs: list[Pair] = []
    blocked: list[tuple[DesiredUser, TargetUser, str]] = []
    claimed: set[str] = set()
    for desired in sorted(resolution.desired.values(), key=lambda d: d.key):
        found = by_external_id.get(desired.user.id.lower()) or by_key.get(desired.key)
        owner = found.external_id if found is not None else None
        if found is not None and owner is not None and owner.lower() != desired.user.id.lower():
            blocked.append((desired, found, _reused_warning(desired, found, owner)))
        elif found is not None and is_protected_target(config, found, resolution):
            blocked.append((desired, found, f"{desired.key} is protected: not changed"))
        else:
            if found is not None:
                claimed.add(found.id)
            pairs.append(Pair(desired, found))
    leftovers = tuple((u, standing(config, resolution, u)) for u in users if u.id not in claimed)
    return Matching(tuple(pairs), tuple(blocked), leftovers)


def _reused_warning(desired: DesiredUser, found: TargetUser, owner: str) -> str:
    return (
        f"{desired.key}: the NeuralTrust user {found.user_name} (SCIM id {found.id}) belongs to "
        f"Entra user {owner}, not to Entra user {desired.user.id} (reused UPN?): not changed"
    )


def standing(config: Config, resolution: Resolution, user: TargetUser) -> Standing:
    if is_protected_target(config, user, resolution):
        return Standing.PROTECTED
    if user.external_id is None:
        return Standing.UNMANAGED
    return Standing.ORPHAN if user.active else Standing.INACTIVE

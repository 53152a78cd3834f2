"""Pure: the ``entrasync users`` view, every NeuralTrust user beside what the mappings want.

docs/commands.md, ``entrasync users`` (NeuralTrust's "Synced Users" view). It uses the same
matcher as diff and takes drift from the plan itself, so the view can never disagree with what
the plan does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from entrasync.config.models import Config
from entrasync.core.diff import access_as_read
from entrasync.core.matching import Standing, match, target_key
from entrasync.core.model import Resolution, Target
from entrasync.core.plan import Access, Action, Plan


class UserStatus(StrEnum):
    IN_SYNC = "in_sync"  # wanted, and NeuralTrust already matches
    DRIFT = "drift"  # wanted, and the plan updates or reactivates it
    ORPHAN = "orphan"  # managed, active, wanted by no synced mapping
    TO_CREATE = "to_create"  # wanted, not in NeuralTrust yet
    UNMANAGED = "unmanaged"  # no externalId and unwanted, a reused UPN, or held back: left alone
    PROTECTED = "protected"  # listed in `protected`: never changed
    INACTIVE = "inactive"  # managed, inactive, wanted by no mapping: not an orphan


_BY_STANDING = {
    Standing.PROTECTED: UserStatus.PROTECTED,
    Standing.UNMANAGED: UserStatus.UNMANAGED,
    Standing.INACTIVE: UserStatus.INACTIVE,
    Standing.ORPHAN: UserStatus.ORPHAN,
}


@dataclass(frozen=True, slots=True)
class Grant:
    """What the mappings want for a user: a role, and products on product roles."""

    role: str
    products: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        products = list(self.products) if self.products is not None else None
        return {"role": self.role, "products": products}


@dataclass(frozen=True, slots=True)
class UserRow:
    user: str  # the match key, lower-cased, as in the plan
    display_name: str | None
    status: UserStatus
    current: Access | None  # None: not in NeuralTrust yet
    desired: Grant | None  # None: no synced mapping wants the user
    groups: tuple[str, ...] = ()
    decided_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "display_name": self.display_name,
            "status": self.status.value,
            "current": self.current.to_json() if self.current is not None else None,
            "desired": self.desired.to_json() if self.desired is not None else None,
            "groups": list(self.groups),
            "decided_by": self.decided_by,
        }


def users_view(
    config: Config, resolution: Resolution, target: Target, plan: Plan
) -> tuple[UserRow, ...]:
    """Every NeuralTrust user plus every user to create, sorted by user key."""
    matching = match(config, resolution, target)
    changed = {c.target_id for c in plan.changes if c.action is not Action.CREATE}
    rows: list[UserRow] = []
    # As the plan pairs them: a NeuralTrust user several Entra users pair with is held back,
    # not changed (its warning says why), so it is shown once, unmanaged.
    pairs, _ = matching.one_pair_each(config)
    kept = {id(pair) for pair in pairs}
    held = {p.target.id: p.target for p in matching.pairs if id(p) not in kept and p.target}
    leftovers = [*matching.leftovers, *((user, Standing.UNMANAGED) for user in held.values())]
    for pair in pairs:
        desired, found = pair.desired, pair.target
        if found is None:
            status, current = UserStatus.TO_CREATE, None
        else:
            status = UserStatus.DRIFT if found.id in changed else UserStatus.IN_SYNC
            current = access_as_read(config, found)
        display_name = desired.user.display_name or (found.display_name if found else None)
        grant = Grant(desired.role, desired.products)
        rows.append(
            UserRow(
                desired.key,
                display_name,
                status,
                current,
                grant,
                desired.groups,
                desired.decided_by,
            )
        )
    for user, standing in leftovers:
        key = target_key(config, user)
        current = access_as_read(config, user)
        rows.append(UserRow(key, user.display_name, _BY_STANDING[standing], current, None))
    return tuple(sorted(rows, key=lambda r: (r.user, r.status.value)))

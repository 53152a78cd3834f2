"""Pure: what a saved plan must equal before apply acts on it (CONTRACT.md section 8).

A plan file's digest proves only that the file is whole, not who wrote it: anyone who can
replace the artifact can edit a change and recompute the digest. So apply recomputes the plan
from the config, Entra and NeuralTrust as read now, and acts only on changes the recomputation
makes identically (``compare_changes``). Independently of that, no change may write a user
named in ``protected`` (``protected_writes``): a plan entrasync makes never holds one.

No I/O here: plain values in, plain values out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from entrasync.core.items import Action, Change
from entrasync.core.model import TargetUser

# Shown in a refusal (the whole list is in the plan file and the fresh plan).
MAX_LISTED = 10


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A change of the saved plan that the fresh computation does not make."""

    change: Change
    # The fields in which the fresh plan's change for the same user differs; empty when the
    # fresh plan makes no change for that user at all.
    differs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """A saved plan's changes held against a fresh computation of the same plan."""

    matching: tuple[Change, ...]  # made identically by the fresh plan: these may be applied
    unproduced: tuple[Mismatch, ...]  # not made (identically) by the fresh plan
    unreviewed: tuple[Change, ...]  # made by the fresh plan, absent from the saved one


def compare_changes(saved: Sequence[Change], fresh: Sequence[Change]) -> PlanCheck:
    """Hold each saved change against the fresh plan's changes, the whole value compared.

    Every field counts, ``reason``, groups and names included: they come from the same
    inputs, and a plan made from the same inputs is byte-identical (CONTRACT.md section 5).
    Each fresh change vouches for one saved change only, so a change repeated in the saved
    plan is not vouched for twice.
    """
    available = Counter(fresh)
    matching: list[Change] = []
    unmatched: list[Change] = []
    for change in saved:
        if available[change] > 0:
            available[change] -= 1
            matching.append(change)
        else:
            unmatched.append(change)
    unreviewed: list[Change] = []
    for change in fresh:
        if available[change] > 0:
            available[change] -= 1
            unreviewed.append(change)
    by_user: dict[str, Change] = {}
    for change in fresh:
        by_user.setdefault(change.user, change)
    unproduced = tuple(Mismatch(c, _differences(c, by_user.get(c.user))) for c in unmatched)
    return PlanCheck(tuple(matching), unproduced, tuple(unreviewed))


_FIELDS = tuple(f.name for f in fields(Change))


def _differences(saved: Change, fresh: Change | None) -> tuple[str, ...]:
    if fresh is None:
        return ()
    return tuple(name for name in _FIELDS if getattr(saved, name) != getattr(fresh, name))


@dataclass(frozen=True, slots=True)
class ProtectedWrite:
    change: Change
    listed: str  # the `protected` entry it would write


def protected_writes(
    changes: Iterable[Change], protected_keys: frozenset[str], users: Sequence[TargetUser]
) -> tuple[ProtectedWrite, ...]:
    """The changes that would write a user named in ``protected`` (``protected_keys``: the
    entries lower-cased).

    A change is held by every name it carries (match key, userName, email) and, when it names
    a SCIM id, by the NeuralTrust user with that id as read now: the id is what apply writes
    to, whatever names an edited plan puts beside it.
    """
    if not protected_keys:
        return ()
    by_id: Mapping[str, TargetUser] = {u.id: u for u in users}
    found: list[ProtectedWrite] = []
    for change in changes:
        names = [change.user, change.user_name, change.email]
        target = by_id.get(change.target_id) if change.target_id else None
        if target is not None:
            names += [target.user_name, target.email]
        listed = next((n.lower() for n in names if n and n.lower() in protected_keys), None)
        if listed is not None:
            found.append(ProtectedWrite(change, listed))
    return tuple(found)


def describe_change(change: Change) -> str:
    """``create mallory@contoso.com (owner)``: what a change does, in a few words."""
    after = change.after
    if change.action is Action.DEACTIVATE:
        return f"{change.action.value} {change.user}"
    access = after.role or "no role"
    if after.products is not None:
        access += ", products " + (", ".join(after.products) or "none")
    return f"{change.action.value} {change.user} ({access})"


def describe_mismatch(mismatch: Mismatch) -> str:
    """A saved change and how the fresh plan differs: ``update bob@… (owner): differs in after``."""
    what = describe_change(mismatch.change)
    if not mismatch.differs:
        return f"{what}: a fresh plan makes no such change"
    return f"{what}: a fresh plan differs in {', '.join(mismatch.differs)}"


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """``a; b; c`` with at most ``limit`` items and ``and N more``."""
    shown = "; ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown}; and {rest} more" if rest > 0 else shown

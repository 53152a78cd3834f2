"""Pure: the safety pass over a plan, run at plan time (the PR shows it) and again at apply.

Every rule guards a way the tool could take access away from many people, or from the people
who could repair it, by mistake. A plan with violations is applied only with
``--force-unsafe <plan digest>``, which binds the override to the reviewed plan (compare
Entra provisioning's accidental-deletion quarantine and peribolos ``--min-admins``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from entrasync.config.models import Config
from entrasync.core.matching import is_managed_active
from entrasync.core.model import Resolution, RoleRanks, Target, may_be_role
from entrasync.core.plan import Action, Change, Plan, Violation
from entrasync.core.sanitize import name_text
from entrasync.core.wording import plural


def check_safety(
    plan: Plan,
    target: Target,
    config: Config,
    *,
    empty_groups: Sequence[str] = (),
    resolution: Resolution | None = None,
) -> tuple[Violation, ...]:
    """``resolution``: the plan's, when at hand, so users protected by their Entra UPN or mail
    are left out of the managed users the percent limit counts (docs/safety.md)."""
    deactivations = [c for c in plan.changes if c.action is Action.DEACTIVATE]
    found = [
        _max_deactivations(config, len(deactivations)),
        _max_percent(config, target, len(deactivations), resolution),
        _min_owners(config, target, plan.changes),
        _source_health(
            tuple(empty_groups),
            len(deactivations),
            config,
            plan.changes,
            resolution.uncapped if resolution is not None else frozenset(),
        ),
    ]
    return tuple(v for v in found if v is not None)


def _max_deactivations(config: Config, planned: int) -> Violation | None:
    limit = config.limits.max_deactivations
    if planned <= limit:
        return None
    return Violation(
        "max_deactivations",
        f"the plan deactivates {plural(planned, 'user')}, more than "
        f"limits.max_deactivations ({limit}) per apply",
    )


def _max_percent(
    config: Config, target: Target, planned: int, resolution: Resolution | None
) -> Violation | None:
    limit = config.limits.max_deactivation_percent
    keys = config.protected_keys  # built once, not once per user
    managed = sum(1 for u in target.users if is_managed_active(config, u, keys, resolution))
    # Integer arithmetic: "strictly above" must not depend on float rounding at the boundary.
    if planned == 0 or planned * 100 <= limit * managed:
        return None
    share = round(planned * 100 / managed, 1) if managed else 100.0
    if managed and share <= limit:  # 2,001 of 10,000 read "20.0%, more than 20%": round up
        share = -(-planned * 1000 // managed) / 10
    return Violation(
        "max_deactivation_percent",
        f"the plan deactivates {planned} of {plural(managed, 'active managed user')} "
        f"({share:.1f}%), more than limits.max_deactivation_percent ({limit}%)",
    )


def _min_owners(config: Config, target: Target, changes: Sequence[Change]) -> Violation | None:
    """Owners are active users with the first role, protected ones included.

    A role spelt in another case or with blanks around it (:func:`may_be_role`) may be the
    owner role to NeuralTrust, or not: such a user counts among the owners a plan takes away,
    never among those it leaves. So the count after the plan is of users certain to be owners.
    So does a user whose role was not sent at all, and an owner whose ``active`` was not sent
    (a server that leaves out false values), or whose role came among other values, is never
    certain.
    """
    owner = config.owner_role
    # A user whose role NeuralTrust did not send (the attribute left out of its answer, or
    # role_attribute naming another one) may be an owner; one whose `active` it did not send
    # may be inactive.
    maybe_users = [
        u for u in target.users if u.active and (u.role is None or may_be_role(u.role, owner))
    ]
    maybe = {u.id for u in maybe_users}
    certain = {
        u.id
        for u in target.users
        if u.active and u.active_said and u.role_alone and u.role == owner
    }
    # Only a create or a reactivation writes `active`: an update of a user whose activity was
    # not sent leaves it as unknown as it was.
    activity_unknown = {u.id for u in target.users if not u.active_said}
    # A change that leaves the role as it is leaves it among the other values it came with.
    role_unsure = {u.id for u in target.users if not u.role_alone}
    lost: list[str] = []
    for change in changes:
        is_owner_after = change.after.active and change.after.role == owner
        if change.target_id in maybe and not is_owner_after:
            lost.append(change.user)
        sure = change.action is not Action.UPDATE or change.target_id not in activity_unknown
        sure = sure and (change.writes_role or change.target_id not in role_unsure)
        if is_owner_after and sure:
            certain.add(change.target_id or f"new:{change.user}")
        elif change.target_id in certain:
            certain.discard(change.target_id)
    after, before = len(certain), len(maybe)
    # Never lower the count below min_owners, and never to zero even with min_owners: 0 (the
    # SCIM token belongs to an owner). A plan that takes no owner away never violates.
    floor = max(config.limits.min_owners, 1)
    if not lost or after >= before or after >= floor:
        return None
    spelt = sorted({repr(u.role) for u in maybe_users if u.role not in (None, owner)})
    unread = sum(1 for u in maybe_users if u.role is None)
    unsaid = sum(1 for u in maybe_users if u.role == owner and not u.active_said)
    among = sum(1 for u in maybe_users if u.role == owner and not u.role_alone)
    notes = []
    if spelt:
        notes.append(
            f"counting those whose role is spelt {', '.join(spelt)}, which NeuralTrust may not "
            f"take for {owner}"
        )
    if unread:
        notes.append(
            f"counting {plural(unread, 'user')} whose role NeuralTrust did not send "
            f"({config.neuraltrust.role_attribute}), any of whom may be {owner}"
        )
    if unsaid:
        notes.append(
            f"counting {plural(unsaid, f'{owner} user')} whose active NeuralTrust did not "
            "send as active before the plan, not after it"
        )
    if among:
        notes.append(
            f"counting {plural(among, 'user')} whose {owner} role came among other values of "
            f"{config.neuraltrust.role_attribute}, which NeuralTrust may not go by, before the "
            "plan only"
        )
    counting = f" ({'; '.join(notes)})" if notes else ""
    return Violation(
        "min_owners",
        f"the plan leaves {plural(after, f'active {owner} user')}, down from {before}{counting}, "
        f"below limits.min_owners ({config.limits.min_owners}, and never 0): it demotes or "
        f"deactivates {', '.join(name_text(user) for user in sorted(lost))}",
    )


def _moves(config: Config, changes: Sequence[Change], uncapped: frozenset[str]) -> Counter[str]:
    """What the changes other than deactivations do that a group read empty may have caused,
    each counted once (:data:`_SAID`):

    - ``demotes``: an active user left with a later role of ``roles`` than the one they hold
      (the first is the owner role). A role NeuralTrust did not send may be any, so a change
      to any but the first counts; a role the vocabulary does not rank is not counted;
    - ``takes products``: an active user left without products they hold;
    - ``gives more``: a user of ``uncapped`` (Resolution.uncapped) created, reactivated,
      promoted (or given a role where NeuralTrust sent none) or given products."""
    ranks = RoleRanks(config.roles)
    counted: Counter[str] = Counter()
    for change in changes:
        if change.action is Action.DEACTIVATE:
            continue
        before, after = change.before, change.after
        to = ranks.of(after.role)
        held = None if before is None else ranks.of(before.role)
        if before is not None and before.active:
            was = 0 if before.role is None else held
            if was is not None and to is not None and to > was:
                counted["demotes"] += 1
                continue
            if _lacks(after.products, before.products):
                counted["takes products"] += 1
                continue
        if change.entra_id in uncapped and (
            before is None
            or not before.active
            or held is None
            or (to is not None and to < held)
            or _lacks(before.products, after.products)
        ):
            counted["gives more"] += 1
    return counted


def _lacks(one: tuple[str, ...] | None, other: tuple[str, ...] | None) -> bool:
    """Whether products ``one`` lack one of ``other`` (None: not on a product role, or not
    sent: nothing to compare)."""
    return one is not None and other is not None and not set(other) <= set(one)


_SAID = {
    "demotes": ("demotes", "user"),
    "takes products": ("takes products from", "user"),
    "gives more": ("gives more access than a mapping above theirs would to", "user"),
}


def _source_health(
    empty_groups: tuple[str, ...],
    deactivations: int,
    config: Config,
    changes: Sequence[Change],
    uncapped: frozenset[str],
) -> Violation | None:
    if not empty_groups:
        return None
    moves = _moves(config, changes, uncapped)
    if deactivations + sum(moves.values()) == 0:
        return None
    taken = [f"deactivates {plural(deactivations, 'managed user')}"] if deactivations else []
    taken += [
        f"{verb} {plural(moves[kind], noun)}" for kind, (verb, noun) in _SAID.items() if moves[kind]
    ]
    return Violation(
        "source_health",
        f"synced {'group' if len(empty_groups) == 1 else 'groups'} {', '.join(empty_groups)} "
        f"resolved to 0 members while the plan {' and '.join(taken)}; an empty group is more "
        "often a renamed, emptied or unreadable source than an intended change, so none of "
        "these runs while one is empty",
    )

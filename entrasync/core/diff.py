"""Pure: desired users + the NeuralTrust users as read -> the Plan (docs/how-it-works.md).

Apply decides from a change's action alone; ``reason`` is for humans. The Plan sorts its
changes and orphans itself, so the same inputs give byte-identical plans.
"""

from __future__ import annotations

from dataclasses import replace

from entrasync.config.models import Config
from entrasync.core.items import ADOPT
from entrasync.core.matching import Pair, Standing, exclusion, match, target_key
from entrasync.core.model import Resolution, Target, TargetUser, may_be_role
from entrasync.core.plan import Access, Action, Change, Orphan, Plan

LEFT_GROUPS = "no longer in a mapped group"


def access_as_read(config: Config, user: TargetUser) -> Access:
    """A NeuralTrust user's access as the plan shows it: products only on product roles."""
    return _as_read(user, config.effective_product_roles)


def _as_read(user: TargetUser, product_roles: tuple[str, ...]) -> Access:
    role = user.role
    if role not in product_roles and not any(may_be_role(role, r) for r in product_roles):
        return Access(role, None, user.active)
    # A product role NeuralTrust spells in another case (`Member`) may be it: its products are
    # read, so a plan that takes some away says so (and source_health counts it).
    # On a product role an absent attribute means no product: show it as an empty list.
    return Access(user.role, user.products or (), user.active)


def pair_change(
    config: Config, pair: Pair, product_roles: tuple[str, ...] | None = None
) -> Change | None:
    """The change one desired user needs, or None when NeuralTrust already matches it.

    ``product_roles``: config.effective_product_roles, when the caller has it at hand.
    """
    desired, found = pair.desired, pair.target
    user = desired.user
    # Positional, in Change's field order, and each Change built once: this runs for every
    # desired user (dataclasses.replace on a base Change was a quarter of diff's CPU).
    if found is None:
        return Change(
            Action.CREATE,
            desired.key,
            user.id,
            user.display_name,
            user.mail,
            None,
            Access(desired.role, desired.products, True),
            desired.groups,
            desired.decided_by,
            f"in {desired.decided_by}, not in NeuralTrust",
            None,
            user.user_principal_name,
            user.given_name,
            user.surname,
        )
    if product_roles is None:
        product_roles = config.effective_product_roles
    before = _as_read(found, product_roles)
    reasons = []
    if before.role != desired.role:
        reasons.append(f"role differs ({before.role or 'none'} -> {desired.role})")
    if desired.products is not None and before.products != desired.products:
        reasons.append("products differ")
    if found.external_id is None:  # found by match_on: the plan sets externalId
        reasons.append(ADOPT)
    if found.active:
        if not reasons:
            return None
        action = Action.UPDATE
    else:
        reasons.insert(0, f"inactive in NeuralTrust, back in {desired.decided_by}")
        action = Action.REACTIVATE
    return Change(
        action,
        desired.key,
        user.id,
        user.display_name,
        user.mail,
        before,
        Access(desired.role, desired.products, True),
        desired.groups,
        desired.decided_by,
        "; ".join(reasons),
        found.id,
        adopts=found.external_id is None,
    )


def orphan_reason(resolution: Resolution, user: TargetUser) -> str:
    """Why no synced mapping wants a managed user: resolve()'s exclusion, else left groups."""
    return exclusion(resolution, user.external_id) or LEFT_GROUPS


def _deactivation(config: Config, user: TargetUser, reason: str) -> Change:
    before = access_as_read(config, user)
    return Change(
        Action.DEACTIVATE,
        user=target_key(config, user),
        entra_id=user.external_id,
        display_name=user.display_name,
        email=user.email,
        before=before,
        after=replace(before, active=False),
        groups=(),
        decided_by=None,
        reason=reason,
        target_id=user.id,
    )


def diff(
    config: Config,
    resolution: Resolution,
    target: Target,
    *,
    config_path: str,
    config_sha256: str,
    created_at: str,
) -> Plan:
    matching = match(config, resolution, target)
    pairs, paired_twice = matching.one_pair_each(config)
    changes: list[Change] = []
    unchanged = 0
    product_roles = config.effective_product_roles
    for pair in pairs:
        change = pair_change(config, pair, product_roles)
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    orphans: list[Orphan] = []
    for user, standing in matching.leftovers:
        if standing is not Standing.ORPHAN:
            continue  # protected, unmanaged and inactive users are left as they are
        reason = orphan_reason(resolution, user)
        key = target_key(config, user)
        orphans.append(Orphan(key, user.role, reason, user.external_id, user.id))
        if config.on_removed == "deactivate":
            changes.append(_deactivation(config, user, reason))
    warnings = resolution.warnings + matching.warnings + tuple(paired_twice)
    return Plan(
        config_path=config_path,
        config_sha256=config_sha256,
        scim_url=target.scim_url,
        state_sha256=target.state_sha256,
        changes=tuple(changes),
        orphans=tuple(orphans),
        warnings=warnings,
        unchanged=unchanged,
        created_at=created_at,
    )

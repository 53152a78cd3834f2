"""The pull request labels a plan earns (docs/review-platforms.md, "Labels").

Every label the tool sets starts with :data:`PREFIX`; a platform adapter removes the ones of an
earlier plan that no longer hold and never touches a label it does not set, prefix or not.
"""

from __future__ import annotations

from entrasync.core.items import Action, Change
from entrasync.core.model import may_be_role
from entrasync.core.plan import Plan

PREFIX = "entrasync: "
NO_CHANGES = PREFIX + "no changes"
CHANGES = PREFIX + "changes"
DEACTIVATIONS = PREFIX + "deactivations"
PRIVILEGED = PREFIX + "privileged"
UNSAFE = PREFIX + "unsafe"
POLICY = PREFIX + "policy"
ALL = (NO_CHANGES, CHANGES, DEACTIVATIONS, PRIVILEGED, UNSAFE, POLICY)


_OURS = frozenset(label.casefold() for label in ALL)


def is_ours(label: str) -> bool:
    """One of the labels a plan sets (:data:`ALL`), in any case: GitHub matches label names
    case-blind, so a label created beforehand as ``Entrasync: Changes`` is the one a plan adds.
    Another label with the prefix (``entrasync: signed-off``, a team's own) is not ours."""
    return label.casefold() in _OURS


def plan_labels(
    plan: Plan, owner_roles: frozenset[str], *, settings_compared: bool = True
) -> frozenset[str]:
    """The labels ``plan`` earns; ``owner_roles``: the config's first (highest) role, and the
    trusted config's when a change moves it (granting either is privileged).
    ``settings_compared``: False when the trusted config could be read for its routing keys
    only, so whether a safeguard is weakened is not known: labelled as if it were."""
    labels = {CHANGES if plan.has_changes else NO_CHANGES}
    if any(c.action is Action.DEACTIVATE for c in plan.changes):
        labels.add(DEACTIVATIONS)
    if any(_privileged(c, role) for c in plan.changes for role in owner_roles):
        labels.add(PRIVILEGED)
    if plan.violations:
        labels.add(UNSAFE)
    if plan.weakens_policy or not settings_compared:
        labels.add(POLICY)
    return frozenset(labels)


def _privileged(change: Change, role: str) -> bool:
    """The change grants or takes ``role``: either side may hold it, and the role or the active
    flag changes. A side holds it in any spelling NeuralTrust may take for it
    (:func:`may_be_role`): respelling ``Owner`` as ``owner`` is one, since NeuralTrust may
    compare roles exactly. A user whose role NeuralTrust did not send may hold it too, as
    ``min_owners`` counts it."""
    before, after = change.before, change.after
    unknown = before is not None and before.active and before.role is None
    holds = unknown or any(
        a is not None and a.active and may_be_role(a.role, role) for a in (before, after)
    )
    return holds and (before is None or (before.role, before.active) != (after.role, after.active))

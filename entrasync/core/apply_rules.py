"""Pure: the rules apply checks before it writes anything (docs/safety.md).

A plan file's digest proves only that the file is whole, not who wrote it: anyone who can
replace the artifact can edit a change and recompute the digest. So apply recomputes the plan
from the config, Entra and NeuralTrust as read now, and acts only on changes the recomputation
makes identically (``compare_changes``). A plan is applied only against the NeuralTrust it was
made from (:func:`check_fresh`), never writes a user named in ``protected``
(:func:`check_protected`), and passes the safety checks unless ``--force-unsafe`` names it
(:func:`guard`).

No I/O here: plain values in, plain values out, or an error that says why not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING

from entrasync import __version__
from entrasync.core import sanitize
from entrasync.core.expiry import expired_since
from entrasync.core.items import Action, Change, Violation
from entrasync.core.model import Target, TargetUser, may_be_role
from entrasync.core.plan import DIGEST_PREFIX, Plan, short_digest
from entrasync.core.wording import joined, plural
from entrasync.errors import SafetyError, StalePlanError

if TYPE_CHECKING:
    from entrasync.config.models import Config

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
    inputs, and a plan made from the same inputs is byte-identical (docs/plan-and-audit.md).
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
        return f"{change.action.value} {sanitize.name_text(change.user)}"
    access = after.role or "no role"
    if after.products is not None:
        access += ", products " + (", ".join(after.products) or "none")
    return f"{change.action.value} {sanitize.name_text(change.user)} ({access})"


def describe_mismatch(mismatch: Mismatch) -> str:
    """A saved change and how the fresh plan differs: ``update bob@… (owner): differs in after``."""
    what = describe_change(mismatch.change)
    if not mismatch.differs:
        return f"{what}: a fresh plan makes no such change"
    return f"{what}: a fresh plan differs in {', '.join(mismatch.differs)}"


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """``a; b; c`` with at most ``limit`` items and ``and N more``, each one line: an item
    may quote a plan file, whose text a forger chose."""
    return joined([sanitize.text(item) for item in items], limit, "; ", "; and ")


def satisfies(user: TargetUser, change: Change) -> bool:
    """True when NeuralTrust already shows what ``change`` wants (a re-run's test)."""
    after = change.after
    if user.active != after.active:
        return False
    if change.action is Action.DEACTIVATE:
        return True
    if after.role is not None and user.role != after.role:
        return False
    if change.writes_role and not user.role_alone:  # written, the role replaced every value
        return False
    if after.products is not None and tuple(user.products or ()) != after.products:
        return False
    return change.entra_id is None or carries_entra_id(user, change)


def carries_entra_id(user: TargetUser, change: Change) -> bool:
    """Whether ``user``'s externalId is ``change``'s Entra object id: ids compare case-blind,
    as matching compares them."""
    return (user.external_id or "").lower() == (change.entra_id or "").lower()


def written_name(change: Change) -> str:
    """The userName a create writes: the Entra UPN, else the match key."""
    return change.user_name or change.user


def in_place(change: Change, users: Sequence[TargetUser]) -> bool:
    """True when ``users`` (a fresh read) already show ``change`` carried out."""
    return count_in_place((change,), users) == 1


def count_in_place(changes: Sequence[Change], users: Sequence[TargetUser]) -> int:
    """How many of ``changes`` a fresh read already shows carried out (one pass over users)."""
    by_id = {u.id: u for u in users}
    by_name: dict[str, TargetUser] = {}
    for user in users:
        by_name.setdefault(user.user_name.lower(), user)
    done = 0
    for change in changes:
        if change.action is Action.CREATE:
            found = by_name.get(written_name(change).lower())
        else:
            found = by_id.get(change.target_id) if change.target_id else None
        done += found is not None and satisfies(found, change)
    return done


def grants_owner(change: Change, owner: str) -> bool:
    """The change makes an active ``owner`` of a user who was not one."""
    after, before = change.after, change.before
    was_owner = before is not None and before.active and before.role == owner
    return after.active and after.role == owner and not was_owner


def takes_owner(change: Change, owner: str) -> bool:
    """The change may take an owner away: an active user whose role is, or may be, ``owner``
    (or was not sent) ends up no active ``owner``, as ``core.safety`` counts owners."""
    after, before = change.after, change.before
    if before is None or not before.active or (after.active and after.role == owner):
        return False
    return before.role is None or may_be_role(before.role, owner)


def owner_hold(grants: Sequence[Change], done: Sequence[bool]) -> str | None:
    """Why no owner may be taken away in this run, or None: ``min_owners`` was checked on the
    plan with all its owner ``grants`` made, so a grant not ``done`` holds every removal back
    (a demotion applied without its promotion can leave no owner at all)."""
    missing = [change.user for change, made in zip(grants, done, strict=True) if not made]
    if not missing:
        return None
    return (
        f"not attempted: this change takes an owner away, and the plan's owner "
        f"{'grant' if len(missing) == 1 else 'grants'} to {listing(missing)} did not succeed, "
        "so it could leave fewer owners than limits.min_owners; run `entrasync plan` to plan "
        "again from NeuralTrust as it is"
    )


def check_fresh(plan: Plan, target: Target, check: PlanCheck | None = None) -> bool:
    """False when the plan is already applied (a no-op); raise when it is stale or edited.

    ``check``: the saved plan held against a plan made now (None for a plan made by this run).

    A plan applied in part (a failed or interrupted run) is not finished by re-running it:
    NeuralTrust no longer matches its ``state_sha256``, so it is refused as stale unless every
    change is in place, and a new plan, which holds exactly the changes still to make, finishes
    the job. So the recomputation is compared only against a NeuralTrust that is as the plan saw
    it, where every change of a genuine plan is one a fresh plan makes too.
    """
    if target.scim_url.rstrip("/") != plan.scim_url.rstrip("/"):
        raise StalePlanError(
            f"the plan was made against {sanitize.text(plan.scim_url)}, not {target.scim_url}",
            "point NEURALTRUST_SCIM_URL at the plan's endpoint, or make a new plan",
        )
    if target.state_sha256 == plan.state_sha256:
        if check is not None:
            _refuse_unproduced(check)
        return True
    done = count_in_place(plan.changes, target.users)
    if done == len(plan.changes):
        return False
    hint = "nothing was changed; run `entrasync plan` again and apply the new plan"
    if plan.entrasync_version != __version__:  # each release may fingerprint more of a user
        hint += (
            f" (the plan was made by entrasync {sanitize.text(plan.entrasync_version)}, this is "
            f"{__version__}: use one version for plan and apply)"
        )
    raise StalePlanError(
        "stale plan: NeuralTrust changed since the plan was made (state "
        f"{short_digest(plan.state_sha256)} then, {short_digest(target.state_sha256)} now; "
        f"{done} of {len(plan.changes)} planned changes already in place)",
        hint,
    )


def _refuse_unproduced(check: PlanCheck) -> None:
    """Refuse a plan holding changes a fresh plan does not make (from the same config and
    NeuralTrust state, so only Entra, a mapping's expiry or an edit of the file can explain
    them)."""
    if not check.unproduced:
        return
    listed = listing([describe_mismatch(m) for m in check.unproduced])
    raise StalePlanError(
        "stale plan: Entra changed since the plan, a mapping expired, or the plan file was "
        f"edited after it was written. It holds {plural(len(check.unproduced), 'change')} a "
        f"fresh plan does not make: {listed}; nothing was changed (NeuralTrust and the config "
        "are as the plan saw them)",
        "make a new plan with `entrasync plan --out FILE`, review it, and apply it",
    )


def check_not_expired_since(config: Config, made: Plan, today: date, *, fresh: bool) -> None:
    """Refuse to write a plan made on an earlier UTC day than ``today`` when a mapping expired
    in between: the plan may grant through it. ``made``: the plan this run made (a saved plan
    is checked against the one made now), whose ``created_at`` is the moment its mappings'
    expiry was held against."""
    expired = expired_since(config, date.fromisoformat(made.created_at[:10]), today)
    if not expired:
        return
    listed = listing([f"{m.label} on {m.expires}" for m in expired])
    rerun = (
        "run `entrasync apply` again: a plan made now leaves the expired mapping out"
        if fresh
        else "make a new plan with `entrasync plan --out FILE`, review it, and apply it"
    )
    raise StalePlanError(
        f"stale plan: {plural(len(expired), 'mapping')} expired after the plan was made at "
        f"{made.created_at} ({listed}), and the plan may grant through "
        f"{'it' if len(expired) == 1 else 'them'}; nothing was changed",
        rerun,
    )


def check_protected(plan: Plan, target: Target, protected_keys: frozenset[str]) -> None:
    """No path writes a ``protected`` user: a plan holding such a change is refused whole."""
    found = protected_writes(plan.changes, protected_keys, target.users)
    if not found:
        return
    listed = listing([f"{describe_change(w.change)} (protected: {w.listed})" for w in found])
    raise SafetyError(
        f"the plan {plan.short_digest} would write {plural(len(found), 'protected user')}, "
        f"which entrasync never changes: {listed}; nothing was changed",
        "entrasync never plans such a change: if the plan file was edited, make a new plan "
        "with `entrasync plan --out FILE`; otherwise report this as a bug",
    )


class UnsafePlanError(SafetyError):
    """A refusal for safety: the violations are kept for the audit and the job summary."""

    def __init__(self, message: str, hint: str, violations: tuple[Violation, ...]) -> None:
        super().__init__(message, hint)
        self.violations = violations


def unshown_violations(
    stored: Sequence[Violation], found: Sequence[Violation]
) -> tuple[Violation, ...]:
    """The rules found at apply that a saved plan does not show, each once, as found now: a
    file edited to drop a violation, or one that only the state read now breaks (a synced group
    emptied since, a plan made now of which the file holds part). Its reviewers never saw
    them, so ``--force-unsafe`` does not cover them (:func:`guard`)."""
    shown = {v.rule for v in stored}
    unshown: dict[str, Violation] = {}
    for violation in found:
        if violation.rule not in shown:
            unshown.setdefault(violation.rule, violation)
    return tuple(unshown.values())


def saved_plan_violations(
    stored: Sequence[Violation], found: Sequence[Violation]
) -> tuple[Violation, ...]:
    """What a saved plan is held to: each violation found now, in apply's words (a file may be
    edited to make one read as harmless), and each rule the file shows broken that apply does
    not find broken now, still to be overridden: the plan its reviewers saw was refused for it,
    and a change in Entra since (a group no longer empty) does not approve it."""
    now = {violation.rule for violation in found}
    gone = dict.fromkeys(v.rule for v in stored if v.rule not in now)
    said = (
        "the plan file shows this limit broken; apply does not find it broken now: apply the "
        "plan reviewed with its override, or make a new plan, which will not show it"
    )
    return (*found, *(Violation(rule, said) for rule in gone))


def held_to(
    stored: Sequence[Violation], found: Sequence[Violation], *, fresh: bool
) -> tuple[tuple[Violation, ...], tuple[Violation, ...]]:
    """The violations apply holds a plan to, and those of them its file does not show
    (:func:`unshown_violations`). A plan this run made carries what it found; a saved plan's
    own texts are not trusted (:func:`saved_plan_violations`)."""
    unshown = unshown_violations(stored, found)
    held = (*stored, *unshown) if fresh else saved_plan_violations(stored, found)
    return held, unshown


def whole_plan_violations(check: PlanCheck | None, fresh: Plan | None) -> tuple[Violation, ...]:
    """The violations of the plan made now, when the saved plan holds only part of it.

    Every change of such a file is one a fresh plan makes, so it passes the freshness check;
    but a plan cut down from a refused one (its digest recomputed) must not slip under the
    limits the whole plan breaks, a few deactivations at a time."""
    if check is None or fresh is None or not check.unreviewed:
        return ()
    part = f"a plan made now breaks it, and this plan holds {len(check.matching)} of its "
    part += f"{len(fresh.changes)} changes"
    return tuple(Violation(v.rule, f"{v.message} ({part})", v.override) for v in fresh.violations)


NEW_PLAN_HINT = (
    "make a new plan with `entrasync plan --out FILE`, review it, and apply that file (with "
    "`--force-unsafe` and its digest if you accept the limits it breaks): an override covers "
    "only what the plan it names shows"
)


def refuse_other_digest(
    plan: Plan, force_unsafe: str | None, violations: tuple[Violation, ...] = ()
) -> None:
    """Refuse a ``--force-unsafe`` digest that does not name ``plan``; apply checks it even
    where nothing is to be written, since the audit would record it as given for this plan."""
    if force_unsafe is None or plan.matches_digest(force_unsafe):
        return
    given = force_unsafe.strip().lower()
    if len(given) < DIGEST_PREFIX and plan.digest.startswith(given):
        said = f"is too short: a digest prefix needs at least {DIGEST_PREFIX} characters"
    else:
        said = "does not name this plan"
    raise UnsafePlanError(
        f"--force-unsafe {force_unsafe} {said} (digest {plan.short_digest}); nothing was changed",
        f"copy the digest from the plan output: at least its first {DIGEST_PREFIX} characters",
        violations,
    )


def guard(
    plan: Plan,
    violations: tuple[Violation, ...],
    force_unsafe: str | None,
    instruction: str | None = None,
    unshown: tuple[Violation, ...] = (),
) -> tuple[Violation, ...]:
    """Refuse violations unless ``--force-unsafe`` names this plan; a wrong digest is refused.

    ``instruction``: how to apply anyway from GitHub, when that applies (a plan made by this
    run in a workflow: re-running it makes the same plan, whose digest leaves out
    ``created_at``). ``unshown``: those of ``violations`` the plan does not show
    (:func:`unshown_violations`), refused whatever the override: a digest approves what the
    plan it names shows, and an override typed for one rule must not let through another
    found since, unseen.
    """
    if unshown and force_unsafe is not None:  # first: no digest would let it through
        listed = "; ".join(sanitize.text(f"{v.rule}: {v.message}") for v in unshown)
        raise UnsafePlanError(
            f"the plan {plan.short_digest} breaks {plural(len(unshown), 'safety limit')} it "
            f"does not show, nothing was changed: {listed}",
            NEW_PLAN_HINT,
            violations,
        )
    refuse_other_digest(plan, force_unsafe, violations)
    if violations and force_unsafe is None:
        # One line: a violation quotes names from Entra and NeuralTrust (an empty group's).
        listed = "; ".join(sanitize.text(f"{v.rule}: {v.message}") for v in violations)
        hint = f"make the change safe, or apply anyway with {plan.override_flag()}"
        if unshown:
            hint = f"make the change safe, or {NEW_PLAN_HINT}"
        elif instruction:
            hint += f"; from GitHub: {instruction}"
        raise UnsafePlanError(
            f"the plan {plan.short_digest} breaks {plural(len(violations), 'safety limit')}, "
            f"nothing was changed: {listed}",
            hint,
            violations,
        )
    return violations

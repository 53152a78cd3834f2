"""plan_check: a saved plan held against a fresh one, and no write to a protected user."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from entrasync import __version__
from entrasync.core.apply_rules import (
    NEW_PLAN_HINT,
    Mismatch,
    UnsafePlanError,
    check_fresh,
    compare_changes,
    describe_change,
    describe_mismatch,
    grants_owner,
    guard,
    held_to,
    listing,
    owner_hold,
    protected_writes,
    saved_plan_violations,
    takes_owner,
    unshown_violations,
)
from entrasync.core.items import Access, Action, Change, Violation
from entrasync.core.model import Target, TargetUser
from entrasync.core.plan import Plan
from entrasync.errors import StalePlanError

MEMBER = Access("member", ("trustgate",), True)


def change(action: Action, user: str, **fields: object) -> Change:
    values: dict[str, object] = {
        "action": action,
        "user": user,
        "entra_id": f"id-{user}",
        "display_name": user.split("@")[0].title(),
        "email": user,
        "before": None if action is Action.CREATE else MEMBER,
        "after": MEMBER,
        "groups": ("NT-Platform",),
        "decided_by": "NT-Platform",
        "reason": "test",
        "target_id": None if action is Action.CREATE else f"scim-{user}",
        "user_name": user,
    }
    values.update(fields)
    return Change(**values)  # type: ignore[arg-type]


ALICE = change(Action.UPDATE, "alice@contoso.com", after=Access("admin", None, True))
BOB = change(Action.UPDATE, "bob@contoso.com", after=Access("member", ("trusttest",), True))
CAROL = change(Action.DEACTIVATE, "carol@contoso.com", after=replace(MEMBER, active=False))
DAN = change(Action.CREATE, "dan@contoso.com")
FRESH = (DAN, ALICE, BOB, CAROL)
OWNER = Access("owner", None, True)

# (id, saved changes, fresh changes, matching, unproduced, unreviewed count): an edited change
# leaves the fresh change for that user unreviewed
COMPARISONS: list[tuple[str, tuple[Change, ...], tuple[Change, ...], int, list[Mismatch], int]] = [
    ("a plan equal to the fresh one holds only fresh changes", FRESH, FRESH, 4, [], 0),
    (
        "an added create of an outsider as owner is not made by a fresh plan",
        (*FRESH, change(Action.CREATE, "mallory@evil.example", after=OWNER)),
        FRESH,
        4,
        [Mismatch(change(Action.CREATE, "mallory@evil.example", after=OWNER))],
        0,
    ),
    (
        "a role promoted on an update differs in after",
        (DAN, replace(BOB, after=OWNER), ALICE, CAROL),
        FRESH,
        3,
        [Mismatch(replace(BOB, after=OWNER), ("after",))],
        1,
    ),
    (
        "an edited target id is caught although the names are the same",
        (DAN, replace(ALICE, target_id="scim-breakglass"), BOB, CAROL),
        FRESH,
        3,
        [Mismatch(replace(ALICE, target_id="scim-breakglass"), ("target_id",))],
        1,
    ),
    (
        "an edited before is caught",
        (DAN, replace(ALICE, before=OWNER), BOB, CAROL),
        FRESH,
        3,
        [Mismatch(replace(ALICE, before=OWNER), ("before",))],
        1,
    ),
    (
        "the whole change is compared, the reason and groups included",
        (DAN, replace(ALICE, reason="x", groups=("NT-Owners",)), BOB, CAROL),
        FRESH,
        3,
        [Mismatch(replace(ALICE, reason="x", groups=("NT-Owners",)), ("groups", "reason"))],
        1,
    ),
    (
        "an update turned into a deactivation differs in action",
        (DAN, replace(ALICE, action=Action.DEACTIVATE), BOB, CAROL),
        FRESH,
        3,
        [Mismatch(replace(ALICE, action=Action.DEACTIVATE), ("action",))],
        1,
    ),
    (
        "a change held twice is vouched for once",
        (DAN, DAN, ALICE, BOB, CAROL),
        FRESH,
        4,
        [Mismatch(DAN, ())],
        0,
    ),
    (
        "a change the fresh plan adds is counted, not matched",
        (ALICE, BOB, CAROL),
        FRESH,
        3,
        [],
        1,
    ),
    ("a plan without changes leaves every fresh change unreviewed", (), FRESH, 0, [], 4),
    (
        "a change Entra overtook (the user left the group) is not made now",
        FRESH,
        (ALICE, BOB, CAROL),
        3,
        [Mismatch(DAN, ())],
        0,
    ),
]


@pytest.mark.parametrize(
    ("saved", "fresh", "matching", "unproduced", "unreviewed"),
    [c[1:] for c in COMPARISONS],
    ids=[c[0] for c in COMPARISONS],
)
def test_compare_changes(
    saved: tuple[Change, ...],
    fresh: tuple[Change, ...],
    matching: int,
    unproduced: list[Mismatch],
    unreviewed: int,
) -> None:
    check = compare_changes(saved, fresh)

    assert len(check.matching) == matching
    assert list(check.unproduced) == unproduced
    assert len(check.unreviewed) == unreviewed
    assert all(c in fresh for c in check.matching)


def test_the_unreviewed_changes_are_the_ones_the_saved_plan_lacks() -> None:
    check = compare_changes((ALICE, CAROL), FRESH)
    assert check.unreviewed == (DAN, BOB)


BREAKGLASS = TargetUser(
    "scim-breakglass", "BreakGlass@Contoso.com", None, "Break Glass", "bg@contoso.com"
)
KEYS = frozenset({"breakglass@contoso.com", "bg@contoso.com"})

# (id, change, the `protected` entry it writes, or None)
PROTECTED: list[tuple[str, Change, str | None]] = [
    (
        "a deactivation of a protected user by match key",
        change(Action.DEACTIVATE, "breakglass@contoso.com", target_id="scim-breakglass"),
        "breakglass@contoso.com",
    ),
    (
        "a create whose userName is protected, in another case",
        change(Action.CREATE, "x@contoso.com", user_name="BREAKGLASS@contoso.com", email=None),
        "breakglass@contoso.com",
    ),
    (
        "a change whose email is protected",
        change(Action.UPDATE, "other@contoso.com", email="BG@contoso.com", target_id=None),
        "bg@contoso.com",
    ),
    (
        "a change that names someone else but targets the protected user's SCIM id",
        change(Action.DEACTIVATE, "mallory@contoso.com", target_id="scim-breakglass"),
        "breakglass@contoso.com",
    ),
    ("a change of an unprotected user", ALICE, None),
]


@pytest.mark.parametrize(
    ("item", "listed"), [p[1:] for p in PROTECTED], ids=[p[0] for p in PROTECTED]
)
def test_protected_writes(item: Change, listed: str | None) -> None:
    found = protected_writes([ALICE, item], KEYS, [BREAKGLASS])

    assert [(w.change, w.listed) for w in found] == ([(item, listed)] if listed else [])


def test_a_user_protected_by_email_alone_is_found_by_the_scim_id_a_change_targets() -> None:
    item = change(Action.DEACTIVATE, "mallory@contoso.com", target_id="scim-breakglass")
    found = protected_writes([item], frozenset({"bg@contoso.com"}), [BREAKGLASS])
    assert [(w.change, w.listed) for w in found] == [(item, "bg@contoso.com")]


def test_no_protected_entries_means_no_protected_writes() -> None:
    assert protected_writes([ALICE, CAROL], frozenset(), [BREAKGLASS]) == ()


@pytest.mark.parametrize(
    ("mismatch", "text"),
    [
        (
            Mismatch(change(Action.CREATE, "mallory@evil.example", after=OWNER)),
            "create mallory@evil.example (owner): a fresh plan makes no such change",
        ),
        (
            Mismatch(replace(BOB, after=OWNER), ("after", "reason")),
            "update bob@contoso.com (owner): a fresh plan differs in after, reason",
        ),
        (Mismatch(CAROL), "deactivate carol@contoso.com: a fresh plan makes no such change"),
    ],
    ids=["a create nobody plans", "an update that differs", "a deactivation"],
)
def test_describe_mismatch(mismatch: Mismatch, text: str) -> None:
    assert describe_mismatch(mismatch) == text


def test_describe_names_the_products_of_a_product_role() -> None:
    assert describe_change(BOB) == "update bob@contoso.com (member, products trusttest)"


def test_describe_quotes_a_user_with_blanks_around_it() -> None:
    # "carol@contoso.com " is another NeuralTrust user than the real carol@contoso.com.
    assert describe_change(replace(CAROL, user="carol@contoso.com ")) == (
        "deactivate 'carol@contoso.com '"
    )


def test_listing_stops_at_its_limit_and_says_how_many_more() -> None:
    assert listing(["a", "b", "c"], limit=2) == "a; b; and 1 more"
    assert listing(["a", "b"], limit=2) == "a; b"


def test_the_module_is_pure() -> None:
    code = (
        "import sys, entrasync.core.apply_rules\n"
        "print(sorted(m for m in ('httpx', 'click', 'msal', 'socket',"
        " 'entrasync.adapters.scim.client')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


SCIM_URL = "https://nt.example/api/scim/v2"


def _user(name: str, role: str) -> TargetUser:
    return TargetUser(f"scim-{name}", name, f"id-{name}", None, name, True, role, None)


def _saved(*changes: Change) -> Plan:
    return Plan("c.yaml", "0" * 64, SCIM_URL, "a" * 64, changes=changes)


def test_a_plan_made_against_another_endpoint_is_refused_even_if_its_users_match() -> None:
    plan = _saved(ALICE)
    elsewhere = Target("https://other.example/api/scim/v2", (), state_sha256=plan.state_sha256)
    with pytest.raises(StalePlanError, match="the plan was made against"):
        check_fresh(plan, elsewhere)


def test_a_plan_files_text_in_a_refusal_forges_no_line() -> None:
    # A plan file edited, its digest recomputed: its text printed an "Apply complete" line.
    forged = "x\nApply complete: 7 succeeded, 0 failed, 0 skipped."
    plan = replace(_saved(ALICE), scim_url=SCIM_URL + forged)
    with pytest.raises(StalePlanError) as caught:
        check_fresh(plan, Target(SCIM_URL, (), state_sha256=plan.state_sha256))
    assert "\n" not in caught.value.message
    assert "\n" not in listing([forged, "b"])


@pytest.mark.parametrize("since", ["role_alone", "active_said"])
def test_a_plan_is_stale_when_a_role_or_active_says_more_or_less_than_it_did(since: str) -> None:
    """A role value added beside the one read (`member` and `billing-viewer`) leaves the role
    read as it was, but the plan's write of the role would drop it unseen; so would an `active`
    no longer sent leave it read as true."""
    erin = change(Action.UPDATE, "erin@contoso.com", after=Access("admin", None, True))
    before = _user("erin@contoso.com", "member")
    after = (
        replace(before, role_alone=False)
        if since == "role_alone"
        else replace(before, active_said=False)
    )
    now = Target.of(SCIM_URL, (after,))
    plan = replace(_saved(erin), state_sha256=Target.of(SCIM_URL, (before,)).state_sha256)
    assert check_fresh(plan, Target.of(SCIM_URL, (before,))) is True
    with pytest.raises(StalePlanError, match="NeuralTrust changed since the plan was made"):
        check_fresh(plan, now)
    with pytest.raises(StalePlanError) as caught:
        check_fresh(replace(plan, entrasync_version="0.1.0"), now)
    assert (caught.value.hint or "").endswith(
        f"(the plan was made by entrasync 0.1.0, this is {__version__}: use one version for "
        "plan and apply)"
    )


def test_a_plan_with_one_change_not_yet_in_place_is_stale_not_already_applied() -> None:
    alice = change(Action.UPDATE, "alice@contoso.com", after=Access("admin", None, True))
    erin = change(Action.UPDATE, "erin@contoso.com", after=Access("admin", None, True))
    plan = _saved(alice, erin)
    users = (_user("alice@contoso.com", "admin"), _user("erin@contoso.com", "member"))
    with pytest.raises(StalePlanError, match="1 of 2 planned changes already in place"):
        check_fresh(plan, Target(SCIM_URL, users, state_sha256="b" * 64))
    done = (users[0], _user("erin@contoso.com", "admin"))
    assert check_fresh(plan, Target(SCIM_URL, done, state_sha256="b" * 64)) is False


@pytest.mark.parametrize(
    ("given", "matches"),
    [(12, True), (64, True), (11, False), (1, False), (0, False)],
    ids=["the shown 12 characters", "the whole digest", "11 characters", "one", "nothing"],
)
def test_force_unsafe_names_a_plan_by_at_least_12_characters_of_its_digest(
    given: int, matches: bool
) -> None:
    plan = _saved(ALICE)
    assert plan.matches_digest(plan.digest[:given]) is matches


def test_a_correct_but_short_override_is_told_it_is_too_short_not_another_plans() -> None:
    plan = _saved(ALICE)
    unsafe = (Violation("min_owners", "x"),)
    with pytest.raises(UnsafePlanError) as short:
        guard(plan, unsafe, plan.digest[:8])
    assert short.value.message.startswith(
        f"--force-unsafe {plan.digest[:8]} is too short: a digest prefix needs at least 12 "
    )
    with pytest.raises(UnsafePlanError) as other:
        guard(plan, unsafe, "0" * 12)
    assert f"--force-unsafe {'0' * 12} does not name this plan" in other.value.message


def test_the_rules_found_at_apply_that_a_saved_plan_does_not_show_are_each_named_once() -> None:
    stored = (Violation("max_deactivations", "as the plan found it"),)
    found = (
        Violation("max_deactivations", "as found now"),
        Violation("min_owners", "dropped from the file"),
        Violation("min_owners", "dropped from the file"),
        # The same rule broken by the plan made now, of which the saved plan is part: once.
        Violation("min_owners", "(a plan made now breaks it, …)"),
    )
    assert unshown_violations(stored, found) == (Violation("min_owners", "dropped from the file"),)
    assert unshown_violations(stored, stored) == ()
    assert unshown_violations((), ()) == ()


def test_a_fresh_plan_is_held_to_its_own_violations_and_a_saved_one_to_those_found_now() -> None:
    stored = (Violation("max_deactivations", "as the plan found it"),)
    found = (Violation("max_deactivations", "as found now"), Violation("min_owners", "new"))
    # A plan this run made: its own texts, then what it does not show.
    assert held_to(stored, found, fresh=True) == (
        (stored[0], found[1]),
        (found[1],),
    )
    # A saved plan: what is found now, in apply's words, and what only the file shows.
    shown_only = (*stored, Violation("source_health", "only in the file"))
    held, unshown = held_to(shown_only, found, fresh=False)
    assert held == saved_plan_violations(shown_only, found)
    assert [v.rule for v in held] == ["max_deactivations", "min_owners", "source_health"]
    assert held[0].message == "as found now"
    assert unshown == (found[1],)


def test_an_override_covers_the_violations_its_plan_shows_and_no_other() -> None:
    plan = _saved(ALICE)
    shown, unshown = Violation("max_deactivations", "shown"), Violation("source_health", "new")
    assert guard(plan, (shown,), plan.short_digest) == (shown,)
    with pytest.raises(UnsafePlanError) as refused:
        guard(plan, (shown, unshown), plan.short_digest, unshown=(unshown,))
    assert refused.value.message == (
        f"the plan {plan.short_digest} breaks 1 safety limit it does not show, nothing was "
        "changed: source_health: new"
    )
    assert refused.value.hint == NEW_PLAN_HINT
    assert refused.value.violations == (shown, unshown)  # both on record
    # Another plan's digest meets the same refusal: its hint to copy the digest would not help.
    with pytest.raises(UnsafePlanError) as other:
        guard(plan, (shown, unshown), "0" * 12, unshown=(unshown,))
    assert other.value.message == refused.value.message
    # Without an override, the way on offered is a new plan, not this plan's digest.
    with pytest.raises(UnsafePlanError) as asked:
        guard(plan, (shown, unshown), None, "re-run with force_unsafe", unshown=(unshown,))
    assert asked.value.hint == f"make the change safe, or {NEW_PLAN_HINT}"
    with pytest.raises(UnsafePlanError) as shown_only:
        guard(plan, (shown,), None, "re-run with force_unsafe")
    assert shown_only.value.hint == (
        f"make the change safe, or apply anyway with --force-unsafe {plan.short_digest}; "
        "from GitHub: re-run with force_unsafe"
    )


OWNER, ADMIN = Access("owner", None, True), Access("admin", None, True)


@pytest.mark.parametrize(
    ("action", "before", "after", "grants", "takes"),
    [
        (Action.CREATE, None, OWNER, True, False),
        (Action.UPDATE, ADMIN, OWNER, True, False),
        (Action.REACTIVATE, replace(OWNER, active=False), OWNER, True, False),
        (Action.UPDATE, OWNER, ADMIN, False, True),
        (Action.DEACTIVATE, OWNER, replace(OWNER, active=False), False, True),
        # NeuralTrust may take these for owners: min_owners counts them as owners taken away.
        (Action.UPDATE, Access("Owner ", None, True), ADMIN, False, True),
        (Action.UPDATE, Access(None, None, True), ADMIN, False, True),
        # Neither: an owner kept, an inactive owner, an admin made member.
        (Action.UPDATE, replace(OWNER, products=("trustgate",)), OWNER, False, False),
        (
            Action.DEACTIVATE,
            replace(OWNER, active=False),
            replace(OWNER, active=False),
            False,
            False,
        ),
        (Action.UPDATE, ADMIN, Access("member", None, True), False, False),
    ],
)
def test_owner_grants_and_removals_are_told_apart_as_min_owners_counts_them(
    action: Action, before: Access | None, after: Access, grants: bool, takes: bool
) -> None:
    made = change(action, "ann@contoso.com", before=before, after=after)
    assert grants_owner(made, "owner") is grants
    assert takes_owner(made, "owner") is takes


def test_owner_removals_are_held_back_only_while_a_grant_is_not_made() -> None:
    grants = [change(Action.UPDATE, f"{n}@contoso.com", before=ADMIN, after=OWNER) for n in "ab"]
    assert owner_hold(grants, [True, True]) is None
    assert owner_hold([], []) is None
    held = owner_hold(grants, [True, False])
    assert held is not None
    assert "grant to b@contoso.com did not succeed" in held
    assert "a@contoso.com" not in held
    assert "grants to a@contoso.com; b@contoso.com" in (owner_hold(grants, [False, False]) or "")

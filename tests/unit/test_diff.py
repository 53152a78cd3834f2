"""diff(): desired users plus the NeuralTrust users as read -> the plan."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from entrasync.core import planfile
from entrasync.core.diff import LEFT_GROUPS, diff
from entrasync.core.items import ADOPT
from entrasync.core.model import DirectoryUser, TargetUser
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.resolve import DISABLED, GUEST, resolve
from tests.unit.planning_factories import (
    ALL_PRODUCTS,
    make_config,
    make_directory,
    make_target,
    nt,
    person,
    plan_inputs,
    scenario_of,
)

ALICE, BOB = person("alice"), person("bob")
PLATFORM = ("trustgate", "trusttest")
ALL = tuple(sorted(ALL_PRODUCTS))
DEACTIVATE: dict[str, Any] = {"on_removed": "deactivate"}


def plan_for(
    members: dict[str, list[DirectoryUser]], users: list[TargetUser], **overrides: Any
) -> Plan:
    return plan_inputs(members, users, **overrides).plan


def outline(plan: Plan) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], int]:
    changes = [(c.action.value, c.user, c.reason) for c in plan.changes]
    return changes, [(o.user, o.reason) for o in plan.orphans], plan.unchanged


A = "alice@contoso.com"
B = "bob@contoso.com"
ROLE_MEMBER_TO_ADMIN = "role differs (member -> admin)"

# (id, config overrides, {group: members}, NeuralTrust users, (changes, orphans, unchanged))
SCENARIOS: list[tuple[str, dict[str, Any], dict[str, Any], list[TargetUser], Any]] = [
    (
        "a new group member is created",
        {},
        {"NT-Platform": [ALICE]},
        [],
        ([("create", A, "in NT-Platform, not in NeuralTrust")], [], 0),
    ),
    (
        "a user already in sync is unchanged",
        {},
        {"NT-Platform": [ALICE]},
        [nt("alice", products=PLATFORM)],
        ([], [], 1),
    ),
    (
        "a different role is an update saying role differs",
        {},
        {"NT-Admins": [ALICE]},
        [nt("alice")],
        ([("update", A, ROLE_MEMBER_TO_ADMIN)], [], 0),
    ),
    (
        "different products on a product role are an update saying products differ",
        {},
        {"NT-Lens": [ALICE]},
        [nt("alice", products=PLATFORM)],
        ([("update", A, "products differ")], [], 0),
    ),
    (
        "products are left alone on a role outside product_roles",
        {},
        {"NT-Admins": [ALICE]},
        [nt("alice", "admin", ["trustgate"])],
        ([], [], 1),
    ),
    (
        "an existing user without externalId is adopted",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id=None)],
        ([("update", A, ADOPT)], [], 0),
    ),
    (
        "adoption finds the userName case-insensitively and says every difference",
        {},
        {"NT-Admins": [ALICE]},
        [nt("alice", external_id=None, user_name="ALICE@Contoso.com")],
        ([("update", A, f"{ROLE_MEMBER_TO_ADMIN}; {ADOPT}")], [], 0),
    ),
    (
        "matching on email adopts the user with that email",
        {"neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [ALICE]},
        [nt("x", external_id=None, email="Alice@contoso.com")],
        ([("update", A, ADOPT)], [], 0),
    ),
    (
        "a managed user is found by externalId even after a UPN rename",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("old", external_id="id-alice")],
        ([], [], 1),
    ),
    (
        "a reused UPN owned by another Entra user is never changed nor an orphan under keep",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice")],
        ([], [], 0),
    ),
    (
        "a reused UPN owned by another Entra user is never deactivated under deactivate",
        DEACTIVATE,
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice")],
        ([], [], 0),
    ),
    (
        "a reused UPN whose old Entra user is disabled is still never deactivated",
        DEACTIVATE,
        {"NT-Everyone": [ALICE, person("prev", id="id-previous-alice", account_enabled=False)]},
        [nt("alice", external_id="id-previous-alice")],
        ([], [], 0),
    ),
    (
        "a reused UPN whose old Entra user is still wanted stays that user's, by externalId",
        DEACTIVATE,
        {"NT-Everyone": [ALICE], "NT-Admins": [person("prev", id="id-previous-alice")]},
        [nt("alice", external_id="id-previous-alice")],
        ([("update", "prev@contoso.com", ROLE_MEMBER_TO_ADMIN)], [], 0),
    ),
    (
        "an inactive reused UPN is not reactivated for the new Entra user",
        DEACTIVATE,
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice", active=False)],
        ([], [], 0),
    ),
    (
        "a managed user who left every group is an orphan, unchanged under keep",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice"), nt("bob")],
        ([], [(B, LEFT_GROUPS)], 1),
    ),
    (
        "a managed user who left every group is deactivated under deactivate",
        DEACTIVATE,
        {},
        [nt("bob")],
        ([("deactivate", B, LEFT_GROUPS)], [(B, LEFT_GROUPS)], 0),
    ),
    (
        "a managed user disabled in Entra is an orphan saying so",
        DEACTIVATE,
        {"NT-Everyone": [person("bob", account_enabled=False)]},
        [nt("bob")],
        ([("deactivate", B, DISABLED)], [(B, DISABLED)], 0),
    ),
    (
        "an externalId in another case still finds the Entra user's exclusion reason",
        DEACTIVATE,
        {"NT-Everyone": [person("bob", account_enabled=False)]},
        [nt("bob", external_id="ID-BOB")],
        ([("deactivate", B, DISABLED)], [(B, DISABLED)], 0),
    ),
    (
        "an externalId in another case still finds the Entra user's protection",
        {**DEACTIVATE, "protected": ["bob.breakglass@contoso.com"]},
        {"NT-Everyone": [person("bob", mail="bob.breakglass@contoso.com")]},
        [nt("bob", email=None, external_id="ID-BOB")],
        ([], [], 0),
    ),
    (
        "an externalId in another case is matched to its Entra user",
        {},
        {"NT-Everyone": [BOB]},
        [nt("bob", external_id="ID-BOB", user_name="renamed@contoso.com")],
        ([], [], 1),
    ),
    (
        "a disabled Entra user is never created",
        {},
        {"NT-Everyone": [person("bob", account_enabled=False)]},
        [],
        ([], [], 0),
    ),
    (
        "a managed user without mail under match_on: email is found by its externalId",
        {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [person("bob", mail=None)]},
        [nt("bob")],
        ([], [], 1),
    ),
    (
        # It was held back with a warning, and kept its owner role in NeuralTrust.
        "a managed user without mail under match_on: email is demoted, keyed by its Entra id",
        {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [person("bob", mail=None)]},
        [nt("bob", role="owner")],
        ([("update", "id-bob", "role differs (owner -> member); products differ")], [], 0),
    ),
    (
        "a deactivated user without mail under match_on: email, back in a group, is reactivated",
        {"neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [person("bob", mail=None)]},
        [nt("bob", active=False)],
        ([("reactivate", "id-bob", "inactive in NeuralTrust, back in NT-Everyone")], [], 0),
    ),
    (
        "a user without mail under match_on: email is neither adopted nor created",
        {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [person("bob", mail=None)]},
        [nt("bob", external_id=None)],
        ([], [], 0),
    ),
    *(
        (
            f"Entra users sharing a match key adopt no one, the admin account's id sorting {at}",
            {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
            {"NT-Admins": [person(name, mail=A)], "NT-Everyone": [ALICE]},
            [nt("alice", external_id=None)],
            ([], [], 0),
        )
        for at, name in (("first", "aa-admin"), ("last", "zz-admin"))
    ),
    (
        "NeuralTrust users of a key Entra users share, managed for others, are never orphans",
        {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
        {"NT-Admins": [person("zz-admin", mail=A)], "NT-Everyone": [ALICE]},
        [nt("u1", external_id="id-gone1", email=A), nt("u2", external_id="id-gone2", email=A)],
        ([], [], 0),
    ),
    *(
        (
            f"one Entra user listed under two spellings of its id is planned once ({order})",
            {},
            members,
            [nt("alice", "owner")],
            ([("update", A, "role differs (owner -> admin)")], [], 0),
        )
        for order, members in (
            (
                "admin first",
                {"NT-Admins": [person("alice", id="ID-ALICE")], "NT-Everyone": [ALICE]},
            ),
            (
                "admin second",
                {"NT-Admins": [ALICE], "NT-Everyone": [person("alice", id="ID-ALICE")]},
            ),
        )
    ),
    (
        "Entra users sharing a match key create no one",
        {"neuraltrust": {"match_on": "email"}},
        {"NT-Admins": [person("zz-admin", mail=A)], "NT-Everyone": [ALICE]},
        [],
        ([], [], 0),
    ),
    (
        "users sharing a match key are each kept in line by their own externalId",
        {**DEACTIVATE, "neuraltrust": {"match_on": "email"}},
        {"NT-Everyone": [ALICE, person("bob", mail="alice@contoso.com")]},
        [nt("alice"), nt("bob", email="bob@contoso.com")],
        ([], [], 2),
    ),
    (
        "a managed guest under include_guests: false is an orphan still",
        {**DEACTIVATE, "entra": {"include_guests": False}},
        {"NT-Everyone": [person("bob", user_type="Guest")]},
        [nt("bob")],
        ([("deactivate", B, GUEST)], [(B, GUEST)], 0),
    ),
    (
        "an inactive managed user no mapping wants is not an orphan",
        DEACTIVATE,
        {},
        [nt("bob", active=False)],
        ([], [], 0),
    ),
    (
        "an inactive managed user back in a mapped group is reactivated",
        {},
        {"NT-Everyone": [BOB]},
        [nt("bob", active=False)],
        ([("reactivate", B, "inactive in NeuralTrust, back in NT-Everyone")], [], 0),
    ),
    (
        "a user without externalId that no mapping wants is untouched",
        DEACTIVATE,
        {},
        [nt("bob", external_id=None)],
        ([], [], 0),
    ),
    (
        "a protected NeuralTrust user is never deactivated",
        {**DEACTIVATE, "protected": [B]},
        {},
        [nt("bob")],
        ([], [], 0),
    ),
    (
        "a managed user protected by Entra mail is never an orphan",
        {**DEACTIVATE, "protected": ["bob.breakglass@contoso.com"]},
        {"NT-Everyone": [person("bob", mail="bob.breakglass@contoso.com")]},
        [nt("bob", email=None)],
        ([], [], 0),
    ),
    (
        "matching on externalId never adopts, and a taken userName blocks the create",
        {"neuraltrust": {"match_on": "externalId"}},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id=None)],
        ([], [], 0),
    ),
    (
        "a second NeuralTrust user carrying a wanted Entra id is never deactivated",
        DEACTIVATE,
        {"NT-Everyone": [ALICE]},
        [nt("alice"), nt("alice2", external_id="id-alice")],
        ([], [], 0),  # held back, not counted unchanged: either might be the Entra user
    ),
    (
        "a protected NeuralTrust user a mapping wants is not changed",
        {"protected": ["alice.admin@contoso.com"]},
        {"NT-Admins": [ALICE]},
        [nt("alice", email="alice.admin@contoso.com")],
        ([], [], 0),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "members", "users", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_diff_plans_the_expected_changes(
    overrides: dict[str, Any], members: dict[str, Any], users: list[TargetUser], expected: Any
) -> None:
    assert outline(plan_for(members, users, **overrides)) == expected


def test_a_create_carries_the_upn_as_in_entra_and_the_names() -> None:
    alice = person("alice", user_principal_name="Alice@Contoso.com", mail="a.smith@contoso.com")
    (change,) = plan_for({"NT-Platform": [alice], "NT-Lens": [alice]}, []).changes
    assert (change.user, change.user_name, change.email) == (
        A,
        "Alice@Contoso.com",
        "a.smith@contoso.com",
    )
    assert (change.given_name, change.family_name, change.display_name) == (
        "Alice",
        "Example",
        "Alice",
    )
    assert (change.before, change.after) == (None, Access("member", PLATFORM, True))
    assert (change.groups, change.decided_by, change.target_id) == (
        ("NT-Platform", "NT-Lens"),
        "NT-Platform",
        None,
    )


@pytest.mark.parametrize(
    ("members", "user", "before", "after"),
    [
        pytest.param({"NT-Admins": [ALICE]}, nt("alice", products=["trustgate"]),
                     Access("member", ("trustgate",), True), Access("admin", None, True),
                     id="a promotion out of a product role shows products only before"),
        pytest.param({"NT-Lens": [ALICE]}, nt("alice", "admin", ["trustgate"]),
                     Access("admin", None, True), Access("member", ("trustlens",), True),
                     id="a demotion to a product role shows products only after"),
        pytest.param({"NT-Lens": [ALICE]}, nt("alice", products=None),
                     Access("member", (), True), Access("member", ("trustlens",), True),
                     id="an absent products attribute on a product role reads as none"),
        pytest.param({"NT-Admins": [ALICE]}, nt("alice", "admin", active=False),
                     Access("admin", None, False), Access("admin", None, True),
                     id="a reactivation keeps the role and sets active"),
        pytest.param({"NT-Lens": [ALICE]}, nt("alice", "admin", active=False),
                     Access("admin", None, False), Access("member", ("trustlens",), True),
                     id="a reactivation also applies the desired role and products"),
    ],
)  # fmt: skip
def test_before_and_after_follow_the_products_rule(
    members: dict[str, Any], user: TargetUser, before: Access, after: Access
) -> None:
    (change,) = plan_for(members, [user]).changes
    assert (change.before, change.after, change.target_id) == (before, after, "scim-alice")


def test_a_deactivation_keeps_role_and_products_and_names_the_entra_id() -> None:
    (change,) = plan_for({}, [nt("bob", products=["trustgate"])], **DEACTIVATE).changes
    assert change.action is Action.DEACTIVATE
    assert (change.before, change.after) == (
        Access("member", ("trustgate",), True),
        Access("member", ("trustgate",), False),
    )
    assert (change.entra_id, change.target_id, change.groups, change.decided_by) == (
        "id-bob",
        "scim-bob",
        (),
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "users", "warning"),
    [
        pytest.param({}, [nt("alice", external_id="id-previous-alice")],
                     f"{A}: the NeuralTrust user {A} (SCIM id scim-alice) belongs to Entra user "
                     "id-previous-alice, not to Entra user id-alice (reused UPN?): not changed",
                     id="a reused UPN names both Entra ids"),
        pytest.param({"neuraltrust": {"match_on": "email"}},
                     [nt("alice", external_id=None, email="other@contoso.com")],
                     f"{A}: NeuralTrust already has userName {A} (SCIM id scim-alice), which "
                     "match_on: email does not match: not created",
                     id="a create that would collide on userName says why it is held back"),
        pytest.param({}, [nt("alice"), nt("alice2", external_id="id-alice")],
                     f"{A}: NeuralTrust users {A} (SCIM id scim-alice) and alice2@contoso.com "
                     "(SCIM id scim-alice2) all carry its Entra id id-alice as externalId: not "
                     "changed; remove it from those that are not this user",
                     id="a duplicate externalId is named"),
        pytest.param({}, [nt("alice"),
                          nt("alice2", external_id="id-alice", user_name=f"{A}\u00a0")],
                     f"{A}: NeuralTrust users {A} (SCIM id scim-alice) and '{A}\u00a0' "
                     "(SCIM id scim-alice2) all carry its Entra id id-alice as externalId: not "
                     "changed; remove it from those that are not this user",
                     id="a twin named with a blank around it is shown quoted"),
        pytest.param({}, [nt("alice", "admin"), nt("aaron", external_id="ID-ALICE")],
                     f"{A}: NeuralTrust users aaron@contoso.com (SCIM id scim-aaron) and {A} "
                     "(SCIM id scim-alice) all carry its Entra id id-alice as externalId: not "
                     "changed; remove it from those that are not this user",
                     id="a duplicate externalId on a user whose SCIM id sorts first"),
        pytest.param({}, [nt("alice", external_id=None),
                          nt("aaron", external_id=None, user_name="ALICE@Contoso.com")],
                     f"{A}: NeuralTrust users SCIM id scim-aaron and SCIM id scim-alice all have "
                     "it as their userName (in any case): not changed; keep one of them",
                     id="two userNames that differ only in case are not adopted at random"),
        pytest.param({"neuraltrust": {"match_on": "email"}},
                     [nt("bob", external_id=None, email=A), nt("carol", external_id=None, email=A)],
                     f"{A}: NeuralTrust users SCIM id scim-bob and SCIM id scim-carol all have it "
                     "as their email (in any case): not changed; keep one of them",
                     id="two users with the email match_on compares are not adopted at random"),
        pytest.param({"protected": ["alice.admin@contoso.com"]},
                     [nt("alice", email="alice.admin@contoso.com")],
                     f"{A} is protected: not changed",
                     id="a protected user a mapping wants is named"),
        pytest.param({}, [nt("kate", external_id=None, user_name="\u212aate@contoso.com")],
                     "kate@contoso.com: the NeuralTrust user '\\u212aate@contoso.com' "
                     "(SCIM id scim-kate) only looks like it: its userName holds characters "
                     "outside ASCII that lower-case to it: not adopted; rename or remove that "
                     "user in NeuralTrust",
                     id="a userName with a Kelvin sign is a lookalike, not adopted"),
        pytest.param({"neuraltrust": {"match_on": "email"}},
                     [nt("kate", external_id=None, user_name="x@contoso.com",
                         email="\u212aate@contoso.com")],
                     "kate@contoso.com: the NeuralTrust user '\\u212aate@contoso.com' "
                     "(SCIM id scim-kate) only looks like it: its email holds characters "
                     "outside ASCII that lower-case to it: not adopted; rename or remove that "
                     "user in NeuralTrust",
                     id="an email with a Kelvin sign is a lookalike, not adopted"),
    ],
)  # fmt: skip
def test_held_back_users_are_explained_in_a_warning(
    overrides: dict[str, Any], users: list[TargetUser], warning: str
) -> None:
    wanted = person("kate") if warning.startswith("kate") else ALICE
    plan = plan_for({"NT-Everyone": [wanted]}, users, **overrides)
    assert plan.warnings[-1] == warning
    assert plan.changes == ()


def test_identical_inputs_give_byte_identical_plans_whatever_the_read_order() -> None:
    people = [person(n) for n in ("dave", "carol", "bob", "alice")]
    users = [nt("erin"), nt("bob", "admin"), nt("carol", external_id=None), nt("frank")]
    members = {"NT-Admins": people[:2], "NT-Platform": people}
    first = plan_for(members, users, **DEACTIVATE)
    second = plan_for(
        {"NT-Platform": people[::-1], "NT-Admins": people[1::-1]}, users[::-1], **DEACTIVATE
    )
    assert planfile.dumps(first) == planfile.dumps(second)
    assert [c.action.value for c in first.changes] == [
        "create",
        "create",
        "update",
        "update",
        "deactivate",
        "deactivate",
    ]


@pytest.mark.parametrize(
    ("groups", "target", "adopts"),
    [
        ({"NT-Everyone": [ALICE]}, nt("alice", external_id=None), True),
        ({"NT-Admins": [ALICE]}, nt("alice", external_id=None), True),
        ({"NT-Everyone": [ALICE]}, nt("alice", external_id=None, active=False), True),
        ({"NT-Admins": [ALICE]}, nt("alice"), False),
        ({"NT-Everyone": [ALICE]}, nt("alice", active=False), False),
    ],
    ids=[
        "an update that only sets externalId adopts",
        "an update that changes the role and sets externalId adopts",
        "a reactivation that sets externalId adopts",
        "a role change of a managed user does not adopt",
        "a reactivation of a managed user does not adopt",
    ],
)
def test_the_change_says_whether_it_adopts_and_a_saved_plan_keeps_it(
    groups: dict[str, list[DirectoryUser]], target: TargetUser, adopts: bool
) -> None:
    plan = plan_for(groups, [target])
    (change,) = plan.changes
    assert change.adopts is adopts
    (read,) = planfile.loads(planfile.dumps(plan)).changes
    assert read == change
    assert ('"adopts":true' in planfile.dumps(plan)) is adopts


def test_adoption_is_read_from_its_key_never_from_the_reason() -> None:
    """The reason is for people: a file without the key adopts no one, whatever it says."""
    plan = plan_for({"NT-Everyone": [ALICE]}, [nt("alice", external_id=None)])
    (change,) = plan.changes
    assert change.adopts
    assert ADOPT in change.reason
    data = change.to_json()
    del data["adopts"]
    assert Change.from_json(data) == replace(change, adopts=False)


def test_a_user_protected_by_entra_name_in_no_synced_group_is_never_deactivated() -> None:
    # The break-glass owner: in no synced group, known to NeuralTrust by an older name, listed
    # in `protected` by its Entra UPN. The Graph reader finds its id (Directory.protected_ids).
    bg = nt("bg", role="owner", user_name="bg.old@contoso.com", email="bg.old@contoso.com")
    s = plan_inputs({"NT-Everyone": [ALICE]}, [nt("alice"), bg], **DEACTIVATE)
    assert [c.user for c in s.plan.changes] == ["bg.old@contoso.com"]  # not yet protected
    directory = replace(s.directory, protected_ids=frozenset({"id-bg"}))
    resolution = resolve(s.config, directory)
    plan = diff(
        s.config,
        resolution,
        s.target,
        config_path="c.yaml",
        config_sha256="0" * 64,
        created_at="2026-11-28T12:00:00Z",
    )
    assert plan.changes == ()
    assert plan.orphans == ()


def test_a_protected_entry_that_names_no_user_anywhere_is_warned_about() -> None:
    # A misspelt break-glass entry protected no one, and nothing said so. Named by Entra only
    # (Graph found it) or by NeuralTrust only (its userName or email), an entry protects.
    entries = [
        "Breakglas@contoso.com",
        "bg.old@contoso.com",
        "root@contoso.com",
        "entra@contoso.com",
    ]
    bg = nt("bg", role="owner", user_name="bg.old@contoso.com", email="bg@contoso.com")
    root = nt("root", role="owner", user_name="r00t@contoso.com", email="ROOT@contoso.com")
    s = plan_inputs({"NT-Everyone": [ALICE]}, [nt("alice"), bg, root], protected=entries)
    unknown = frozenset({"breakglas@contoso.com", "bg.old@contoso.com", "root@contoso.com"})
    directory = replace(s.directory, protected_unknown=unknown)
    plan = diff(
        s.config,
        resolve(s.config, directory),
        s.target,
        config_path="c.yaml",
        config_sha256="0" * 64,
        created_at="2026-11-28T12:00:00Z",
    )
    said = [w for w in plan.warnings if w.startswith("protected entry")]
    assert said == [
        "protected entry Breakglas@contoso.com names no user in Entra or NeuralTrust: it "
        "protects no one; check its spelling",
    ]
    assert not any(w.startswith("protected entry") for w in s.plan.warnings)  # no Graph word


@pytest.mark.parametrize(
    ("user_name", "email"),
    [("root@contoso.com", "root.alt@contoso.com"), ("r00t@contoso.com", "root@contoso.com")],
    ids=["protected by its userName", "protected by its email"],
)
def test_a_neuraltrust_user_protected_by_either_name_is_never_deactivated(
    user_name: str, email: str
) -> None:
    root = nt("root", role="owner", user_name=user_name, email=email)
    s = plan_inputs(
        {"NT-Everyone": [ALICE]}, [nt("alice"), root], protected=["root@contoso.com"], **DEACTIVATE
    )
    assert s.plan.changes == ()


def test_a_reused_upn_among_users_sharing_the_key_is_never_deactivated() -> None:
    """Held back because two users share the match_on key, the one that belongs to another
    Entra user (a reused UPN) must stay out of the orphans as it did alone."""
    users = [
        nt("alice", "owner", external_id="id-previous-alice", email=A),
        nt("zed", external_id=None, email=A.upper()),
    ]
    overrides = {**DEACTIVATE, "neuraltrust": {"match_on": "email"}}
    plan = plan_for({"NT-Everyone": [ALICE]}, users, **overrides)
    assert plan.changes == ()
    assert plan.warnings[-1] == (
        f"{A}: NeuralTrust users SCIM id scim-alice and SCIM id scim-zed all have it as their "
        "email (in any case): not changed; keep one of them"
    )


def test_each_entra_user_sharing_a_key_gets_a_warning_naming_them_all() -> None:
    admin = person("zz-admin", mail=A)
    plan = plan_for(
        {"NT-Admins": [admin], "NT-Everyone": [ALICE]},
        [nt("alice", external_id=None)],
        neuraltrust={"match_on": "email"},
    )
    assert [w for w in plan.warnings if "match key" in w] == [
        f"{A}: Entra users {ALICE.id} and {admin.id} all have it as their match key: Entra "
        f"user {user.id} is neither adopted nor created by it; give each its own mail, or set "
        "the externalId of its NeuralTrust user to its id"
        for user in (ALICE, admin)
    ]


def test_a_held_sharer_names_the_neuraltrust_users_of_the_key_it_leaves_to_others() -> None:
    # A disabled admin's NeuralTrust user carries the mail two Entra accounts share: it is not
    # deactivated for them (as a reused UPN's), and the warning says so by name.
    disabled = person("aa-admin", mail=A, account_enabled=False)
    plan = plan_for(
        {"NT-Admins": [disabled], "NT-Everyone": [ALICE, person("zz-admin", mail=A)]},
        [nt("aa-admin", "admin", email=A), nt("alice", user_name="alice2@contoso.com")],
        on_removed="deactivate",
        neuraltrust={"match_on": "email"},
    )
    assert [c.action for c in plan.changes] == []
    (held,) = [w for w in plan.warnings if "neither adopted nor created" in w]
    assert held.endswith(
        "; the NeuralTrust user aa-admin@contoso.com (SCIM id scim-aa-admin) of Entra user "
        "id-aa-admin has it too: not changed"
    )


def test_a_disabled_sharers_own_user_is_an_orphan_when_no_sharer_is_held() -> None:
    # The same key, but each wanted sharer has its own NeuralTrust user by externalId: nothing
    # is held back, so the disabled admin's user is deactivated as any disabled user's is.
    disabled = person("aa-admin", mail=A, account_enabled=False)
    plan = plan_for(
        {"NT-Admins": [disabled], "NT-Everyone": [ALICE]},
        [nt("aa-admin", "admin", email=A), nt("alice", user_name="alice2@contoso.com")],
        on_removed="deactivate",
        neuraltrust={"match_on": "email"},
    )
    assert [(c.action, c.target_id, c.reason) for c in plan.changes] == [
        (Action.DEACTIVATE, "scim-aa-admin", DISABLED)
    ]
    assert not [w for w in plan.warnings if "neither adopted nor created" in w]


@pytest.mark.parametrize("left_out", ["protected", "protected, in no group", "disabled"])
def test_a_wanted_user_sharing_a_key_with_a_user_left_out_does_not_take_its_neuraltrust_user(
    left_out: str,
) -> None:
    # A break-glass account with an admin's mail, and the admin's own account: with the
    # break-glass account listed in `protected` (or disabled), the admin's account adopted the
    # NeuralTrust owner the mail finds, and demoted it to member. Not protected, both were held.
    shared = "admin@contoso.com"
    admin = person("admin", mail=shared)
    bg = person("bg", user_principal_name="bg@contoso.onmicrosoft.com", mail=shared)
    if left_out == "disabled":
        bg = replace(bg, account_enabled=False)
    config = make_config(
        mappings=[
            {"name": "NT-Owners", "role": "owner"},
            {"name": "NT-Everyone", "role": "member"},
        ],
        neuraltrust={"match_on": "email"},
        protected=[bg.user_principal_name] if left_out.startswith("protected") else [],
    )
    owners = [person("o2")] + ([] if left_out == "protected, in no group" else [bg])
    directory = make_directory(config, {"NT-Owners": owners, "NT-Everyone": [admin]})
    if left_out.startswith("protected"):  # as the Graph reader looks `protected` up
        directory = replace(
            directory, protected_ids=frozenset({bg.id}), protected_users={bg.id: bg}
        )
    bg_owner = nt("bg", "owner", external_id=None, user_name=shared, email=shared)
    target = make_target(bg_owner, nt("o2", "owner"))
    plan = scenario_of(config, directory, target).plan
    assert [c.target_id for c in plan.changes] == []
    assert [w for w in plan.warnings if "match key" in w] == [
        f"{shared}: Entra users {admin.id} and {bg.id} all have it as their match key: Entra "
        f"user {admin.id} is neither adopted nor created by it; give each its own mail, or set "
        "the externalId of its NeuralTrust user to its id"
    ]


@pytest.mark.parametrize(
    "alice_is", ["an owner", "protected by her mail, in no group", "an owner, spelt otherwise"]
)
def test_a_user_found_by_mail_whose_username_is_another_entra_users_upn_is_not_adopted(
    alice_is: str,
) -> None:
    # Alice's admin account has her UPN as its mail. Under match_on: email it found Alice's
    # hand-made NeuralTrust owner by that mail, adopted it and demoted it to member; with Alice
    # protected, without a word. (UPNs and userNames compare in any case.)
    upn = "Alice@contoso.com" if alice_is.endswith("otherwise") else A
    alice = person("alice", mail="alice.smith@contoso.com", user_principal_name=upn)
    admin = person("adm-alice", mail=A)
    config = make_config(
        neuraltrust={"match_on": "email"},
        protected=[alice.mail] if alice_is.startswith("protected") else [],
    )
    owners = [person("carol")] if alice_is.startswith("protected") else [alice, person("carol")]
    directory = make_directory(config, {"NT-Owners": owners, "NT-Everyone": [admin]})
    if alice_is.startswith("protected"):  # as the Graph reader looks `protected` up
        directory = replace(
            directory, protected_ids=frozenset({alice.id}), protected_users={alice.id: alice}
        )
    name = "ALICE@contoso.com" if alice_is.endswith("otherwise") else A
    alices = nt("alice", "owner", external_id=None, user_name=name)
    plan = scenario_of(config, directory, make_target(alices, nt("carol", "owner"))).plan
    assert [c.target_id for c in plan.changes if c.target_id == "scim-alice"] == []
    assert (
        f"{A}: the NeuralTrust user {name} (SCIM id scim-alice) has this mail, but its userName "
        "is the UPN of Entra user id-alice: not adopted; if it is Entra user id-adm-alice's, "
        "set its externalId to that id in NeuralTrust"
    ) in plan.warnings


def test_a_user_found_by_mail_whose_username_is_its_own_upn_or_no_ones_is_adopted() -> None:
    admin = person("adm-alice", mail=A)
    for user_name in ("adm-alice@contoso.com", "someone-not-read@contoso.com"):
        plan = plan_for(
            {"NT-Everyone": [admin]},
            [nt("alice", external_id=None, user_name=user_name)],
            neuraltrust={"match_on": "email"},
        )
        assert [(c.action, c.target_id, c.reason) for c in plan.changes] == [
            (Action.UPDATE, "scim-alice", ADOPT)
        ], user_name


def test_each_of_many_users_sharing_a_mail_is_warned_of_without_all_named_each_time() -> None:
    # 4,000 users sharing one mail each got a warning naming all 4,000: 236 MB of warnings.
    sharers = [person(f"s{n:02}", mail=A) for n in range(12)]
    gone = [nt(f"g{n:02}", external_id=f"id-gone-{n:02}", email=A) for n in range(7)]
    plan = plan_for({"NT-Everyone": sharers}, gone, neuraltrust={"match_on": "email"})
    held = [w for w in plan.warnings if "match key" in w]
    assert len(held) == 12
    assert held[0] == (
        f"{A}: Entra users id-s00 and id-s01 and id-s02 and id-s03 and id-s04 and 7 more all "
        "have it as their match key: Entra user id-s00 is neither adopted nor created by it; "
        "give each its own mail, or set the externalId of its NeuralTrust user to its id"
        + "".join(
            f"; the NeuralTrust user g{n:02}@contoso.com (SCIM id scim-g{n:02}) of Entra user "
            f"id-gone-{n:02} has it too: not changed"
            for n in range(5)
        )
        + "; and 2 more NeuralTrust users of Entra users the groups do not want: not changed"
    )
    assert [c.target_id for c in plan.changes] == []
    assert plan.orphans == ()  # the 7 are held as a reused UPN's are, the last 2 too


def test_a_held_sharer_does_not_call_unchanged_a_neuraltrust_user_the_plan_changes() -> None:
    # bob's NeuralTrust user carries the mail alice and zz-admin share: the plan makes it an
    # admin for bob, so the sharers' warnings must not say it is left alone.
    bob = person("bob")
    plan = plan_for(
        {"NT-Admins": [person("zz-admin", mail=A), bob], "NT-Everyone": [ALICE]},
        [nt("bob", email=A)],
        neuraltrust={"match_on": "email"},
    )
    assert [(c.action, c.target_id) for c in plan.changes] == [(Action.UPDATE, "scim-bob")]
    assert not [w for w in plan.warnings if "scim-bob" in w and "not changed" in w]


def test_two_entra_users_paired_with_one_neuraltrust_user_change_it_for_neither() -> None:
    # One Entra user under two spellings of its id, with two mails, paired twice with its
    # NeuralTrust user: the plan held two updates of it, each undoing the other.
    renamed = person("alice", id="ID-ALICE", mail="new@contoso.com")
    plan = plan_for(
        {"NT-Admins": [renamed], "NT-Everyone": [ALICE]},
        [nt("alice")],
        on_removed="deactivate",
        neuraltrust={"match_on": "email"},
    )
    assert plan.changes == ()
    assert plan.orphans == ()
    twice = [w for w in plan.warnings if "all pair with the NeuralTrust user" in w]
    assert twice == [
        f"{key}: Entra users ID-ALICE and id-alice all pair with the NeuralTrust user {A} "
        "(SCIM id scim-alice): not changed"
        for key in (A, "new@contoso.com")
    ]


def test_a_user_without_mail_under_match_on_email_whose_user_no_externalid_finds_is_told() -> None:
    plan = plan_for(
        {"NT-Everyone": [person("bob", mail=None)]}, [], neuraltrust={"match_on": "email"}
    )
    assert plan.changes == ()
    assert (
        "bob@contoso.com has no mail, and no NeuralTrust user carries its Entra id id-bob as "
        "externalId: neither adopted nor created (match_on: email)"
    ) in plan.warnings


def test_a_user_without_mail_adopts_no_one_whose_email_is_its_entra_id() -> None:
    """Keyed by its id, it found a NeuralTrust user by that key as if it were a mail."""
    plan = plan_for(
        {"NT-Everyone": [person("bob", mail=None)]},
        [nt("carol", "owner", external_id=None, email="ID-BOB")],
        neuraltrust={"match_on": "email"},
    )
    assert plan.changes == ()
    assert any(w.startswith("bob@contoso.com has no mail") for w in plan.warnings)

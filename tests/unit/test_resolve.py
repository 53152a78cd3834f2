"""resolve(): the mappings plus group membership -> the desired state of each Entra user."""

from __future__ import annotations

import itertools
import random
import sys
from dataclasses import replace
from typing import Any

import pytest

from entrasync.core.model import Directory, DirectoryUser, Group, GroupMembers
from entrasync.core.resolve import (
    DISABLED,
    GUEST,
    NOT_READ,
    PROTECTED,
    empty_groups,
    memberships,
    repeated_groups,
    resolve,
)
from tests.unit.planning_factories import ALL_PRODUCTS, make_config, make_directory, person

ALICE = person("alice")
GUEST_UPN = "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com"
MEMBER_FIRST = [
    {"name": "NT-Platform", "role": "member", "products": ["trustgate", "trusttest"]},
    {"name": "NT-Lens", "role": "member", "products": ["trustlens"]},
    {"name": "NT-Everyone", "role": "member"},
    {"name": "NT-Admins", "role": "admin"},
]
ALL = tuple(sorted(ALL_PRODUCTS))

# (id, config overrides, {group: members}, {entra id: (role, products, decided_by)}, excluded)
PRECEDENCE: list[tuple[str, dict[str, Any], dict[str, list[DirectoryUser]], Any]] = [
    (
        "user in two groups gets the first mapping's role under first-match",
        {},
        {"NT-Owners": [ALICE], "NT-Platform": [ALICE]},
        ("owner", None, "NT-Owners"),
    ),
    (
        "first-match follows file order, not privilege",
        {"mappings": MEMBER_FIRST},
        {"NT-Platform": [ALICE], "NT-Admins": [ALICE]},
        ("member", ("trustgate", "trusttest"), "NT-Platform"),
    ),
    (
        "first-match takes products from the deciding mapping only",
        {},
        {"NT-Lens": [ALICE], "NT-Platform": [ALICE]},
        ("member", ("trustgate", "trusttest"), "NT-Platform"),
    ),
    (
        "highest-privilege picks the highest role whatever the file order",
        {"mappings": MEMBER_FIRST, "precedence": "highest-privilege"},
        {"NT-Platform": [ALICE], "NT-Admins": [ALICE]},
        ("admin", None, "NT-Admins"),
    ),
    (
        "highest-privilege unions the products of every mapping granting the winning role",
        {"precedence": "highest-privilege"},
        {"NT-Lens": [ALICE], "NT-Platform": [ALICE]},
        ("member", ("trustgate", "trustlens", "trusttest"), "NT-Platform"),
    ),
    (
        "highest-privilege with an all-products mapping grants every product",
        {"precedence": "highest-privilege"},
        {"NT-Lens": [ALICE], "NT-Everyone": [ALICE]},
        ("member", ALL, "NT-Lens"),
    ),
    (
        "highest-privilege ignores products of mappings granting a lower role",
        {"precedence": "highest-privilege", "product_roles": ["admin", "member"]},
        {"NT-Lens": [ALICE], "NT-Admins": [ALICE]},
        ("admin", ALL, "NT-Admins"),
    ),
    (
        "an omitted products list on a product role means every product, sorted",
        {},
        {"NT-Everyone": [ALICE]},
        ("member", ALL, "NT-Everyone"),
    ),
    (
        "a role outside product_roles carries no products",
        {},
        {"NT-Admins": [ALICE]},
        ("admin", None, "NT-Admins"),
    ),
    (
        "a nested member, delivered transitively by the reader, gets the group's role",
        {"entra": {"nested_groups": True}},
        {"NT-Lens": [person("nested", id="id-alice")]},
        ("member", ("trustlens",), "NT-Lens"),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "members", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in PRECEDENCE],
)
def test_precedence_decides_role_and_products(
    overrides: dict[str, Any], members: dict[str, list[DirectoryUser]], expected: Any
) -> None:
    config = make_config(**overrides)
    desired = resolve(config, make_directory(config, members)).desired["id-alice"]
    assert (desired.role, desired.products, desired.decided_by) == expected


def test_groups_lists_every_synced_group_in_mapping_order() -> None:
    config = make_config()
    members = {"NT-Everyone": [ALICE], "NT-Admins": [ALICE], "NT-Lens": [ALICE]}
    desired = resolve(config, make_directory(config, members)).desired["id-alice"]
    assert desired.groups == ("NT-Admins", "NT-Lens", "NT-Everyone")


# (id, config overrides, the user, excluded reason or None when desired)
FILTERS: list[tuple[str, dict[str, Any], DirectoryUser, str | None]] = [
    ("a guest is synced by default", {}, person("g", user_type="Guest"), None),
    (
        "a guest is excluded when include_guests is false",
        {"entra": {"include_guests": False}},
        person("g", user_type="Guest"),
        GUEST,
    ),
    ("a disabled user is excluded by default", {}, person("d", account_enabled=False), DISABLED),
    (
        "a disabled user is synced when include_disabled is true",
        {"entra": {"include_disabled": True}},
        person("d", account_enabled=False),
        None,
    ),
    (
        "a protected user listed by UPN is never desired",
        {"protected": ["P@contoso.com"]},
        person("p"),
        PROTECTED,
    ),
    (
        "a protected user listed by mail is never desired",
        {"protected": ["break.glass@contoso.com"]},
        person("p", mail="Break.Glass@contoso.com"),
        PROTECTED,
    ),
    (
        "a protected disabled user is recorded as protected",
        {"protected": ["p@contoso.com"]},
        person("p", account_enabled=False),
        PROTECTED,
    ),
    (
        "a user without mail is desired when matching on email (found by externalId alone)",
        {"neuraltrust": {"match_on": "email"}},
        person("n", mail=None),
        None,
    ),
]


@pytest.mark.parametrize(
    ("overrides", "user", "reason"), [pytest.param(*row[1:], id=row[0]) for row in FILTERS]
)
def test_filters_exclude_users_with_a_reason(
    overrides: dict[str, Any], user: DirectoryUser, reason: str | None
) -> None:
    config = make_config(**overrides)
    resolution = resolve(config, make_directory(config, {"NT-Everyone": [user]}))
    assert resolution.excluded.get(user.id) == reason
    assert (user.id in resolution.desired) is (reason is None)


@pytest.mark.parametrize(
    ("match_on", "user", "key"),
    [
        pytest.param("userName", person("a", user_principal_name="Alice@Contoso.COM"),
                     "alice@contoso.com", id="userName keys on the lower-cased UPN"),
        pytest.param("userName", person("g", user_principal_name=GUEST_UPN), GUEST_UPN.lower(),
                     id="a guest's key is its EXT UPN"),
        pytest.param("email", person("a", mail="A.Smith@Contoso.com"), "a.smith@contoso.com",
                     id="email keys on the lower-cased mail"),
        pytest.param("externalId", person("a", id="0B3F-ABC"), "0b3f-abc",
                     id="externalId keys on the lower-cased Entra id"),
        pytest.param("email", person("a", id="0B3F-ABC", mail=None), "0b3f-abc",
                     id="without a mail, email keys on the Entra id, which no mail can be"),
    ],
)  # fmt: skip
def test_match_key_follows_match_on(match_on: str, user: DirectoryUser, key: str) -> None:
    config = make_config(neuraltrust={"match_on": match_on})
    resolution = resolve(config, make_directory(config, {"NT-Everyone": [user]}))
    assert resolution.desired[user.id].key == key


def test_warnings_name_unsynced_and_empty_groups() -> None:
    mappings = [
        {"name": "NT-Admins", "role": "admin"},
        {"name": "NT-Contractors", "role": "member", "auto_sync": False},
        {"name": "NT-Everyone", "role": "member"},
    ]
    config = make_config(mappings=mappings, neuraltrust={"match_on": "email"})
    directory = make_directory(config, {"NT-Everyone": [person("nomail", mail=None)]})
    assert resolve(config, directory).warnings == (
        "group NT-Contractors has auto_sync: false",
        "group NT-Admins resolved to 0 members",
    )  # a user without mail is told by matching, only when no externalId finds its user
    assert empty_groups(directory) == ("NT-Admins",)


def test_members_of_an_unsynced_mapping_are_not_desired() -> None:
    mappings = [{"name": "NT-Contractors", "role": "member", "auto_sync": False}]
    config = make_config(mappings=mappings)
    # The reader builds groups only for synced mappings, so a contractor arrives in none.
    directory = make_directory(config, {"NT-Contractors": [ALICE]})
    assert resolve(config, directory).desired == {}


@pytest.mark.parametrize("listed", list(itertools.permutations("abc")))
def test_users_sharing_a_key_are_all_desired_and_the_key_names_them_in_any_listing_order(
    listed: tuple[str, ...],
) -> None:
    # Keeping the first by id let that one adopt, or create, the NeuralTrust user of the key:
    # which of them it is, no id order tells (matching pairs each by its externalId alone).
    config = make_config(neuraltrust={"match_on": "email"})
    users = [
        person(name, mail="Shared@contoso.com" if name == "b" else "shared@contoso.com")
        for name in listed
    ]
    resolution = resolve(config, make_directory(config, {"NT-Everyone": users}))
    assert sorted(resolution.desired) == ["id-a", "id-b", "id-c"]
    assert resolution.excluded == {}
    assert resolution.held == frozenset()
    assert resolution.shared_keys == {"shared@contoso.com": ("id-a", "id-b", "id-c")}


def test_the_order_groups_were_read_in_does_not_change_the_resolution() -> None:
    # Graph delivers groups in whatever order reads finish: the outcome must not depend on it,
    # whatever the precedence.
    bob, carol, erin = person("bob"), person("carol", mail=None), person("erin")
    dave = person("dave", mail=ALICE.mail)  # alice's key under match_on: email
    members = {
        "NT-Owners": [ALICE],
        "NT-Platform": [ALICE, bob, dave],
        "NT-Lens": [bob, carol, bob, erin],
        "NT-Everyone": [carol, ALICE, erin],
    }
    for precedence in ("first-match", "highest-privilege"):
        config = make_config(
            precedence=precedence, neuraltrust={"match_on": "email"}, protected=[erin.mail]
        )
        directory = make_directory(config, members)
        whole = resolve(config, directory)
        # A user left out (protected), one keyed by its id (no mail), and a key two users
        # share are in play.
        assert set(whole.excluded) == {erin.id}
        assert whole.desired[carol.id].key == carol.id.lower()
        assert whole.shared_keys == {ALICE.mail: tuple(sorted((ALICE.id, dave.id)))}
        assert len(whole.warnings) == 1  # NT-Admins resolved to 0
        for order in itertools.permutations(directory.groups):
            assert resolve(config, replace(directory, groups=order)) == whole


def test_a_member_missing_from_the_users_read_is_excluded_not_desired() -> None:
    config = make_config()
    directory = make_directory(config, {"NT-Everyone": [ALICE]})
    resolution = resolve(config, replace(directory, users={}))
    assert resolution.excluded == {ALICE.id: NOT_READ}
    assert resolution.held == frozenset({ALICE.id.lower()})  # never an orphan for it
    assert not resolution.desired


def _tenant(users: int) -> Directory:
    """``users`` users, one group per 10 of them, each user in its group and the next one."""
    groups = users // 10
    member_ids: list[list[str]] = [[] for _ in range(groups)]
    for n in range(users):
        member_ids[n // 10].append(f"id-{n}")
        member_ids[(n // 10 + 1) % groups].append(f"id-{n}")
    return Directory(
        groups=tuple(
            GroupMembers(i, Group(f"gid-{i}", f"G-{i}"), tuple(ids))
            for i, ids in enumerate(member_ids)
        ),
        users={},
    )


def _footprint(directory: Directory) -> int:
    """Bytes the per-user mapping sets take (deterministic: object sizes, not timings)."""
    found = memberships(directory)
    return sum(sys.getsizeof(v) + sum(map(sys.getsizeof, v)) for v in found.values())


def test_the_per_user_mapping_sets_grow_linearly_with_users_and_groups() -> None:
    # The workload keeps its proportions as it grows (a group per 10 users here): a bit mask
    # per user as wide as the mappings grew as users x groups (exponent ~1.7 from 100k to 1M).
    small, large = _footprint(_tenant(2_000)), _footprint(_tenant(20_000))
    assert large <= 10 * 1.1 * small
    found = memberships(_tenant(2_000))
    assert sum(map(len, found.values())) == 2 * 2_000  # one entry per membership
    assert found["id-15"] == (1, 2)
    assert found["id-1995"] == (0, 199)  # ascending, whatever the order read


def test_a_member_listed_twice_in_one_group_counts_once() -> None:
    group = GroupMembers(3, Group("gid", "G"), ("a", "b", "a"))
    assert memberships(Directory(groups=(group,), users={})) == {"a": (3,), "b": (3,)}


def test_each_members_groups_are_every_group_it_is_in_once_ascending() -> None:
    # Members of many groups (each group's tuple was copied once per group: k groups cost k²),
    # listed twice in a first or a later group, the groups given in any order.
    rng = random.Random(7)
    ids = [f"id-{n}" for n in range(40)]
    listed = {i: [rng.choice(ids) for _ in range(rng.randrange(0, 60))] for i in range(30)}
    groups = [GroupMembers(i, Group(f"gid-{i}", f"G-{i}"), tuple(m)) for i, m in listed.items()]
    rng.shuffle(groups)
    expected = {
        member: tuple(sorted({i for i, members in listed.items() if member in members}))
        for member in ids
        if any(member in members for members in listed.values())
    }
    assert memberships(Directory(groups=tuple(groups), users={})) == expected


@pytest.mark.parametrize(
    ("found", "repeats"),
    [
        ([(0, "g1"), (1, "g2")], []),
        ([(0, "g1"), (1, "g1"), (2, "g1")], [(0, 1), (0, 2)]),
        ([(0, None), (1, None)], []),
        ([(2, "g1"), (5, None), (7, "g1")], [(2, 7)]),
    ],
    ids=[
        "distinct groups",
        "a group met thrice is repeated twice, each against the first",
        "groups not found are never repeats",
        "indices are the mappings' own",
    ],
)
def test_repeated_groups_pair_each_repeat_with_the_first_mapping(
    found: list[tuple[int, str | None]], repeats: list[tuple[int, int]]
) -> None:
    assert list(repeated_groups(found)) == repeats

"""users_view(): every NeuralTrust user beside what the mappings want (entrasync users)."""

from __future__ import annotations

from typing import Any

import pytest

from entrasync.core.model import TargetUser
from entrasync.core.plan import Access
from entrasync.core.users_view import Grant, UserRow, UserStatus, users_view
from tests.unit.planning_factories import nt, person, plan_inputs

ALICE = person("alice")
PLATFORM = ("trustgate", "trusttest")


def rows_for(members: dict[str, Any], users: list[TargetUser], **overrides: Any) -> list[UserRow]:
    s = plan_inputs(members, users, **overrides)
    return list(users_view(s.config, s.resolution, s.target, s.plan))


# (id, config overrides, {group: members}, NeuralTrust users, [(user, status)])
STATUSES: list[tuple[str, dict[str, Any], dict[str, Any], list[TargetUser], Any]] = [
    (
        "a wanted user NeuralTrust already matches is in sync",
        {},
        {"NT-Platform": [ALICE]},
        [nt("alice", products=PLATFORM)],
        [("alice@contoso.com", "in_sync")],
    ),
    (
        "a wanted user with another role is drift",
        {},
        {"NT-Admins": [ALICE]},
        [nt("alice")],
        [("alice@contoso.com", "drift")],
    ),
    (
        "a wanted user to adopt is drift",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id=None)],
        [("alice@contoso.com", "drift")],
    ),
    (
        "a wanted inactive user to reactivate is drift",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice", active=False)],
        [("alice@contoso.com", "drift")],
    ),
    (
        "a wanted user missing from NeuralTrust is to create",
        {},
        {"NT-Everyone": [ALICE]},
        [],
        [("alice@contoso.com", "to_create")],
    ),
    (
        "an active managed user nobody wants is an orphan, under keep too",
        {},
        {},
        [nt("bob")],
        [("bob@contoso.com", "orphan")],
    ),
    (
        "an inactive managed user nobody wants is inactive",
        {},
        {},
        [nt("bob", active=False)],
        [("bob@contoso.com", "inactive")],
    ),
    (
        "a user without externalId nobody wants is unmanaged",
        {},
        {},
        [nt("bob", external_id=None)],
        [("bob@contoso.com", "unmanaged")],
    ),
    (
        "a protected user is protected even when a mapping wants it",
        {"protected": ["alice@contoso.com"]},
        {"NT-Admins": [ALICE]},
        [nt("alice")],
        [("alice@contoso.com", "protected")],
    ),
    (
        "a reused UPN held back by a warning is unmanaged, not an orphan, under keep",
        {},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice")],
        [("alice@contoso.com", "unmanaged")],
    ),
    (
        "a reused UPN held back by a warning is unmanaged, not an orphan, under deactivate",
        {"on_removed": "deactivate"},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice")],
        [("alice@contoso.com", "unmanaged")],
    ),
    (
        "an inactive reused UPN held back by a warning stays inactive",
        {"on_removed": "deactivate"},
        {"NT-Everyone": [ALICE]},
        [nt("alice", external_id="id-previous-alice", active=False)],
        [("alice@contoso.com", "inactive")],
    ),
    (
        # One Entra user under two spellings of its id, with two mails: it paired twice with
        # its NeuralTrust user, shown twice as in sync (one row member against admin) while the
        # plan holds it back, unchanged.
        "a NeuralTrust user two Entra users pair with is unmanaged, once",
        {"neuraltrust": {"match_on": "email"}},
        {
            "NT-Admins": [person("alice", id="ID-ALICE", mail="new@contoso.com")],
            "NT-Everyone": [ALICE],
        },
        [nt("alice")],
        [("alice@contoso.com", "unmanaged")],
    ),
    (
        "every NeuralTrust user and every user to create appears once, sorted",
        {},
        {"NT-Everyone": [ALICE, person("carol")]},
        [nt("carol", "admin"), nt("bob"), nt("dave", external_id=None)],
        [
            ("alice@contoso.com", "to_create"),
            ("bob@contoso.com", "orphan"),
            ("carol@contoso.com", "drift"),
            ("dave@contoso.com", "unmanaged"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "members", "users", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in STATUSES],
)
def test_status_of_each_user(
    overrides: dict[str, Any], members: dict[str, Any], users: list[TargetUser], expected: Any
) -> None:
    assert [(r.user, r.status.value) for r in rows_for(members, users, **overrides)] == expected


def test_a_row_shows_current_and_desired_side_by_side_with_the_source_groups() -> None:
    members = {"NT-Admins": [ALICE], "NT-Everyone": [ALICE]}
    (row,) = rows_for(members, [nt("alice", products=["trustgate"])])
    assert row == UserRow(
        "alice@contoso.com",
        "Alice",
        UserStatus.DRIFT,
        Access("member", ("trustgate",), True),
        Grant("admin", None),
        ("NT-Admins", "NT-Everyone"),
        "NT-Admins",
    )
    assert row.to_json() == {
        "user": "alice@contoso.com",
        "display_name": "Alice",
        "status": "drift",
        "current": {"role": "member", "products": ["trustgate"], "active": True},
        "desired": {"role": "admin", "products": None},
        "groups": ["NT-Admins", "NT-Everyone"],
        "decided_by": "NT-Admins",
    }


def test_rows_outside_the_mappings_have_no_desired_state() -> None:
    (row,) = rows_for({}, [nt("bob", "admin", active=False)])
    assert row.to_json() == {
        "user": "bob@contoso.com",
        "display_name": "Bob",
        "status": "inactive",
        "current": {"role": "admin", "products": None, "active": False},
        "desired": None,
        "groups": [],
        "decided_by": None,
    }

"""Member parsing and the bounded worker pool of the directory reader."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
import pytest

from entrasync.adapters.graph.auth import StaticTokenProvider
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import read_members
from entrasync.adapters.pool import run_bounded
from entrasync.core.model import DirectoryUser, Group
from entrasync.core.secret import Secret
from entrasync.errors import AuthError, GraphError

GROUP = Group("g1", "NT-Test")
FULL = {
    "@odata.type": "#microsoft.graph.user",
    "id": "u1",
    "userPrincipalName": "a@contoso.com",
    "mail": None,
    "displayName": "A",
    "givenName": None,
    "surname": None,
    "accountEnabled": True,
    "userType": None,
}


def members_of(*items: dict[str, Any]) -> GraphClient:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": list(items)})

    return GraphClient(
        "https://graph.example.test/v1.0",
        StaticTokenProvider(Secret("t")),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
    )


@pytest.mark.parametrize(
    ("missing", "why"),
    [
        ("userPrincipalName", "GroupMember.Read.All alone: only ids come back"),
        ("accountEnabled", "User.ReadBasic.All: no accountEnabled/userType"),
    ],
    ids=["a null UPN", "a null accountEnabled"],
)
def test_null_member_attributes_mean_a_missing_permission(missing: str, why: str) -> None:
    client = members_of({**FULL, missing: None})
    with pytest.raises(AuthError, match=f"{missing} is null") as caught:
        read_members(client, GROUP, nested=True)
    assert "User.Read.All" in (caught.value.hint or ""), why


@pytest.mark.parametrize("enabled", ["false", "False", 0, 1, "yes"])
def test_account_enabled_other_than_true_or_false_stops_the_read(enabled: object) -> None:
    """Read as a truth value, the text "false" was an enabled account: a disabled user kept."""
    with pytest.raises(GraphError, match=r"with accountEnabled .* which is not true or false"):
        read_members(members_of({**FULL, "accountEnabled": enabled}), GROUP, nested=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("userPrincipalName", ["a@contoso.com"]),
        ("mail", ["a@contoso.com"]),
        ("displayName", {"text": "A"}),
        ("givenName", 7),
        ("surname", True),
        ("userType", ["Member"]),
    ],
)
def test_a_member_attribute_that_is_not_a_string_stops_the_read(field: str, value: object) -> None:
    """Read as text, a list of addresses matched no one; kept as it came, it broke the plan."""
    with pytest.raises(GraphError) as caught:
        read_members(members_of({**FULL, field: value}), GROUP, nested=True)
    assert caught.value.message == (
        f"Microsoft Graph returned user u1 of group NT-Test with {field} {value!r}, which is "
        "not a string"
    )


def test_users_only_with_member_as_the_default_user_type() -> None:
    device = {"@odata.type": "#microsoft.graph.device", "id": "d1", "displayName": "pc"}
    nested = {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "child"}
    known: dict[str, DirectoryUser] = {}
    assert read_members(members_of(FULL, device, nested), GROUP, True, known) == ("u1",)
    user = known["u1"]
    assert (user.id, user.user_type, user.account_enabled) == ("u1", "Member", True)


@pytest.mark.parametrize(
    ("items", "said"),
    [
        ([{**FULL, "@odata.type": None}], "without its id or a kind (@odata.type)"),
        (
            [{k: v for k, v in FULL.items() if k != "@odata.type"}],
            "without its id or a kind (@odata.type)",
        ),
        ([{**FULL, "id": None}], "without its id or a kind (@odata.type)"),
        # Skipped as if a device, each was a user who lost their access, within the limits.
        (
            [{**FULL, "@odata.type": "#microsoft.graph.directoryObject"}],
            "without its id or a kind (@odata.type)",
        ),
        (
            [{**FULL, "@odata.type": "#microsoft.graph.User"}],
            "without its id or a kind (@odata.type)",
        ),
        ([FULL, FULL], "listed u1 twice while listing the members of group NT-Test"),
    ],
    ids=[
        "a null type",
        "no type",
        "a user without id",
        "the base type, which names no kind",
        "the user type in another case",
        "a user twice in one listing",
    ],
)
def test_a_member_that_cannot_be_told_apart_stops_the_read(
    items: list[dict[str, Any]], said: str
) -> None:
    """Skipped, a user without its type lost its access; taken once, a repeated user hid that
    the server's paging repeats."""
    with pytest.raises(GraphError, match=re.escape(said)):
        read_members(members_of(*items), GROUP, nested=True)


def test_a_user_in_two_groups_is_built_once() -> None:
    known: dict[str, DirectoryUser] = {}
    assert read_members(members_of(FULL), GROUP, nested=True, known=known) == ("u1",)
    first = known["u1"]
    other = Group("g2", "NT-Other")
    assert read_members(members_of(FULL), other, nested=True, known=known) == ("u1",)
    assert known == {"u1": first}
    assert known["u1"] is first


def test_bounded_pool_keeps_input_order_and_the_bound() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01 * (5 - n))  # later items finish first
        with lock:
            running[0] -= 1
        return n * n

    assert list(run_bounded(work, [1, 2, 3, 4], 2)) == [1, 4, 9, 16]
    assert peak[0] == 2


def test_bounded_pool_raises_the_first_failure_in_input_order() -> None:
    def work(n: int) -> int:
        if n >= 2:
            time.sleep(0.01 * (4 - n))
            raise ValueError(f"item {n}")
        return n

    with pytest.raises(ValueError, match="item 2"):
        list(run_bounded(work, [1, 2, 3], 3))

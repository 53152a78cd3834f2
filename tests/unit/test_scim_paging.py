"""The checks that prove a SCIM listing complete, as a table over ListResponse bodies (pure).

The servers that misbehave this way are in tests/integration/scim/test_complete_reads.py;
here are the answers no sandbox knob produces (a page that is not JSON, ids missing, numbers
as strings) and the request budget's arithmetic.
"""

from __future__ import annotations

from typing import Any

import pytest

from entrasync.adapters.scim.attributes import Layout, names_extension
from entrasync.adapters.scim.paging import IncompleteListingError, Listing, Page, parse_page

EXT = "urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User"


def users(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "userName": f"{i}@contoso.com"} for i in ids]


@pytest.mark.parametrize(
    ("body", "start", "expected"),
    [
        pytest.param(
            {"totalResults": 3, "startIndex": 2, "Resources": users("b")},
            2,
            Page(2, users("b"), 3),
            id="a page answering the startIndex asked",
        ),
        pytest.param(
            {"totalResults": "3", "startIndex": "2", "Resources": users("b")},
            2,
            Page(2, users("b"), 3),
            id="numbers sent as strings are read",
        ),
        pytest.param(
            {"totalResults": 3, "Resources": users("b")},
            2,
            Page(2, users("b"), 3),
            id="a page without startIndex is checked by its users instead",
        ),
        pytest.param(
            {"totalResults": 0}, 1, Page(1, [], 0), id="no Resources when there is no one"
        ),
        pytest.param(
            {"totalResults": 1, "Resources": [{"id": 7}]},
            1,
            Page(1, [{"id": 7}], 1),
            id="a numeric id is an id",
        ),
    ],
)
def test_pages_that_are_read(body: dict[str, Any], start: int, expected: Page) -> None:
    assert parse_page(body, start) == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(None, "is not a SCIM ListResponse", id="an answer that is not JSON"),
        pytest.param([], "is not a SCIM ListResponse", id="a JSON list"),
        pytest.param({"Resources": users("a")}, "no valid totalResults", id="no totalResults"),
        pytest.param(
            {"totalResults": True, "Resources": []}, "no valid totalResults", id="a boolean total"
        ),
        pytest.param(
            {"totalResults": -1, "Resources": []}, "no valid totalResults", id="a negative total"
        ),
        pytest.param(
            {"totalResults": 10_000_001}, "claims 10,000,001 users", id="a total past the cap"
        ),
        pytest.param(
            {"totalResults": 9, "startIndex": 1, "Resources": users("a")},
            "came back as startIndex 1",
            id="another startIndex",
        ),
        pytest.param(
            {"totalResults": 9, "startIndex": "x", "Resources": users("a")},
            "came back as an invalid startIndex",
            id="a startIndex that is no number",
        ),
        pytest.param(
            {"totalResults": 9, "Resources": [{"userName": "a"}]},
            "holds a user without an id",
            id="a user without an id",
        ),
        pytest.param(
            {"totalResults": 9, "Resources": {"id": "a"}},
            "holds Resources that are not a list of users",
            id="Resources that is not a list",
        ),
    ],
)
def test_pages_that_are_refused(body: object, fragment: str) -> None:
    with pytest.raises(IncompleteListingError) as caught:
        parse_page(body, 4)
    assert caught.value.message.startswith(
        "the NeuralTrust user list could not be read completely: the page asked for at "
        "startIndex 4 "
    )
    assert fragment in caught.value.message


def test_a_page_repeating_a_user_within_itself_is_refused() -> None:
    listing = Listing(Page(1, users("a"), 3), count=10, ahead=0)
    listing.accept(Page(1, users("a"), 3))
    with pytest.raises(IncompleteListingError, match="repeats 1 of its 2 users already read"):
        listing.accept(Page(2, users("b", "b"), 3))


def test_a_page_listing_past_the_total_is_refused() -> None:
    first = Page(1, users("a", "b", "c"), 2)
    with pytest.raises(IncompleteListingError, match="lists more users than the server claims"):
        Listing(first, count=10, ahead=0).accept(first)


@pytest.mark.parametrize(
    ("total", "count", "ahead", "budget"),
    [
        pytest.param(0, 100, 0, 3, id="an empty listing: the first page and the slack"),
        pytest.param(23, 5, 8, 16, id="pages of five, eight asked ahead"),
        pytest.param(23, 1000, 0, 6, id="a large count is held to pages of ten"),
        pytest.param(100_000, 1000, 32, 10_035, id="a hundred thousand users"),
    ],
)
def test_the_request_budget_follows_the_total(
    total: int, count: int, ahead: int, budget: int
) -> None:
    listing = Listing(Page(1, [], total), count=count, ahead=ahead)
    assert listing.budget == budget
    for _ in range(budget - 1):
        listing.charge()
    with pytest.raises(IncompleteListingError, match=f"needs more than {budget:,} requests"):
        listing.charge()


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("userName,roles", False),
        ("userName,urn:ietf:params:scim:schemas:core:2.0:User:userName", False),
        (f"userName,{EXT}:role", True),
        (f"userName, {EXT.upper()}:ROLE", True),
        ("", False),
    ],
    ids=["core names", "a core URN", "an extension URN", "any case, spaces", "nothing"],
)
def test_names_extension(attributes: str, expected: bool) -> None:
    assert names_extension(attributes) is expected


def test_an_extension_layout_asks_for_schemas_too_and_a_core_one_does_not() -> None:
    extension = Layout.of(f"{EXT}:role", f"{EXT}:products").read_attributes
    assert extension[-3:] == ("schemas", f"{EXT}:role", f"{EXT}:products")
    assert "schemas" not in Layout.of("roles", "entitlements").read_attributes

"""Complete reads or none (docs/safety.md): SCIM listings against scim2-server with read faults.

Each server here misbehaves the way a real one does (scim_faults.ReadFaults); the reader
either proves the listing complete or stops with an IncompleteListingError, within a number
of requests bounded by the totals, counted by the server itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from entrasync.adapters.scim.paging import IncompleteListingError
from entrasync.adapters.scim.target import layout_of, read_target
from entrasync.core.model import Target
from entrasync.core.plan import Action
from entrasync.errors import ScimError
from entrasync.operations.apply import apply_plan
from entrasync.sandbox.scim_server import ReadFaults, ScimSandbox
from entrasync.sandbox.tenant import SeedScimUser
from tests.integration.scim.scenario import (
    LAYOUTS,
    ListAudit,
    client_for,
    config_for,
    scenario_plan,
)

MakeSandbox = Callable[..., ScimSandbox]
USERS, PAGE = 23, 5  # five pages: 5 + 5 + 5 + 5 + 3
SEED = [
    SeedScimUser(f"user{i:02}@contoso.com", f"e-{i}", f"User {i}", None, True, "member", ("a",))
    for i in range(USERS)
]
WIDTHS = pytest.mark.parametrize("parallelism", [1, 4], ids=["page by page", "four at a time"])


def read(sandbox: ScimSandbox, parallelism: int) -> Target:
    with client_for(sandbox) as client:
        return read_target(config_for(sandbox), client, parallelism)


def refused(sandbox: ScimSandbox, parallelism: int) -> IncompleteListingError:
    with pytest.raises(IncompleteListingError) as caught:
        read(sandbox, parallelism)
    assert "nothing was changed in NeuralTrust" in str(caught.value.hint)
    return caught.value


@WIDTHS
def test_a_server_that_ignores_start_index_is_refused_at_its_second_page(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=ReadFaults(ignore_start_index=True))
    error = refused(sandbox, parallelism)
    assert error.message == (
        "the NeuralTrust user list could not be read completely: the page asked for at "
        "startIndex 6 came back as startIndex 1: the server does not page by startIndex"
    )
    assert sandbox.counters.listings <= 1 + 2 * parallelism


@WIDTHS
def test_page_one_for_every_page_is_refused_even_when_it_claims_the_start_index_asked(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    faults = ReadFaults(ignore_start_index=True, echo_start_index=True)
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=faults)
    error = refused(sandbox, parallelism)
    assert error.message.startswith(
        "the NeuralTrust user list could not be read completely: the page at startIndex 6 "
        "repeats 5 of its 5 users already read: the server does not page by startIndex"
    )
    assert "(5 of the 23 users claimed read" in error.message


@pytest.mark.parametrize("layout", LAYOUTS)
@WIDTHS
def test_a_server_that_caps_its_pages_is_read_whole(
    make_sandbox: MakeSandbox, layout: str, parallelism: int
) -> None:
    sandbox = make_sandbox(layout, seed=SEED, max_results=PAGE)
    whole = read(sandbox, 1)
    sandbox.reads.max_page_size = 3  # fewer than the 5 it announces and is asked for
    before = sandbox.counters.listings
    capped = read(sandbox, parallelism)
    assert capped == whole
    assert capped.state_sha256 == whole.state_sha256
    # and the page after the last: pages short of count do not show where the list ends
    assert sandbox.counters.listings - before == math.ceil(USERS / 3) + 1


@WIDTHS
def test_an_inflated_total_is_refused_within_a_bounded_number_of_requests(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    faults = ReadFaults(inflate_total=1000)
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=faults)
    error = refused(sandbox, parallelism)
    assert error.message.startswith(
        "the NeuralTrust user list could not be read completely: the page at startIndex 24 "
        "came back empty (23 of the 1,023 users claimed read"
    )
    pages = math.ceil(USERS / PAGE) + 1  # 5 pages of users, then one empty
    if parallelism == 1:
        assert sandbox.counters.listings == pages
    else:  # pages asked ahead of the short one are wasted, but at most 3 * parallelism
        assert pages <= sandbox.counters.listings <= pages + 3 * parallelism


@WIDTHS
def test_an_absurd_total_is_refused_at_the_first_page(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=ReadFaults(inflate_total=10**9))
    error = refused(sandbox, parallelism)
    assert error.message == (
        "the NeuralTrust user list could not be read completely: the page asked for at "
        "startIndex 1 claims 1,000,000,023 users (totalResults), more than the 10,000,000 "
        "entrasync will read"
    )
    assert sandbox.counters.listings == 1


def test_pages_that_shrink_after_the_first_stop_the_read_at_the_request_budget(
    make_sandbox: MakeSandbox,
) -> None:
    """Ten users, then one a page: 1 + ceil(23 / 10) + 2 ahead + 2 slack requests."""
    faults = ReadFaults(max_page_size=10, later_page_size=1)
    sandbox = make_sandbox(seed=SEED, reads=faults)
    error = refused(sandbox, 1)
    assert error.message == (
        "the NeuralTrust user list could not be read completely: listing 23 users needs more "
        "than 8 requests, its pages being shorter than 10 users (17 of the 23 users claimed "
        "read, 8 page requests sent)"
    )
    assert sandbox.counters.listings == 8


@WIDTHS
def test_a_server_that_holds_every_page_to_one_user_is_read_whole(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    """RFC 7644 §3.4.2.4 lets a server send fewer than asked: its first page shows how many."""
    sandbox = make_sandbox(seed=SEED, reads=ReadFaults(max_page_size=1))
    target = read(sandbox, parallelism)
    assert len({u.id for u in target.users}) == 23 == len(target.users)
    # One page a user; pages asked ahead of where a short one ends are at most 3 * parallelism.
    assert 23 <= sandbox.counters.listings <= 23 + 3 * parallelism


@WIDTHS
def test_a_server_refusing_extension_urns_in_attributes_is_read_without_them(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox("extension", seed=SEED, max_results=PAGE)
    expected = read(sandbox, 1)
    assert {(u.role, u.products) for u in expected.users} == {("member", ("a",))}
    sandbox.reads.reject_extension_attributes = True
    before = sandbox.counters.listings
    assert read(sandbox, parallelism) == expected
    # One 400, then every page without attributes=.
    assert sandbox.counters.listings - before == 1 + math.ceil(USERS / PAGE)


def test_find_user_retries_without_attributes_when_the_extension_urn_is_refused(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox("extension", seed=SEED[:3], reads=ReadFaults())
    sandbox.reads.reject_extension_attributes = True
    layout = layout_of(config_for(sandbox))
    with client_for(sandbox) as client:
        found = client.find_user("user01@contoso.com", layout.read_attributes)
    assert found is not None
    assert (layout.read_role(found), layout.read_products(found)) == (("member", True), ("a",))
    assert sandbox.counters.listings == 2  # the refused filter, then the same without attributes


# A case-exact `userName eq` filter (RFC 7643 §4.1.1 says userName is case-insensitive).
CASES = [
    pytest.param("Manual@Contoso.com", 1, id="the name as stored is found by the first filter"),
    pytest.param("keep@CONTOSO.com", 2, id="a lower-case stored name by the lower-cased filter"),
    pytest.param("MANUAL@contoso.com", 3, id="a mixed-case stored name by listing every user"),
]


@pytest.mark.parametrize(("asked", "requests"), CASES)
def test_find_user_is_case_insensitive_on_a_case_exact_server(
    make_sandbox: MakeSandbox, asked: str, requests: int
) -> None:
    sandbox = make_sandbox(reads=ReadFaults(case_exact_filter=True))
    with client_for(sandbox) as client:
        found = client.find_user(asked, ("userName",))
    assert found is not None
    assert found["userName"].lower() == asked.lower()
    assert sandbox.counters.listings == requests


def test_find_user_on_a_case_exact_server_finds_no_one_who_is_not_there(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(reads=ReadFaults(case_exact_filter=True))
    with client_for(sandbox) as client:
        assert client.find_user("Nobody@Contoso.com") is None
    # two filters, then the listing: its one short page, the one-user page that shows it
    # counts what it holds, and the page after it, empty
    assert sandbox.counters.listings == 5


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_create_meeting_409_on_a_case_exact_server_is_recognised_as_done(
    make_sandbox: MakeSandbox, layout: str
) -> None:
    sandbox = make_sandbox(layout)
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        plan = scenario_plan(read_target(config, client))
        apply_plan(plan, client, config, ListAudit())
        sandbox.reads.case_exact_filter = True
        create = next(c for c in plan.changes if c.action is Action.CREATE)
        assert create.user_name is not None
        shouted = replace(create, user_name=create.user_name.upper())  # stored in lower case
        audit = ListAudit()
        report = apply_plan(replace(plan, changes=(shouted,)), client, config, audit)

    [record] = audit.records
    assert (record["outcome"], record["http_status"]) == ("succeeded", 409)
    assert "already exists as planned" in record["detail"]
    assert report.counts == {"succeeded": 1, "failed": 0, "skipped": 0}


def test_get_user_retries_without_attributes_when_the_extension_urn_is_refused(
    make_sandbox: MakeSandbox,
) -> None:
    """apply PLAN_FILE writes with a client that never listed: its read-backs (after a lost
    answer or a 412) met the 400 and read nothing, so a write in place was recorded failed."""
    sandbox = make_sandbox("extension", seed=SEED[:3], reads=ReadFaults())
    layout = layout_of(config_for(sandbox))
    with client_for(sandbox) as reader:
        (user, *_) = read_target(config_for(sandbox), reader).users
    sandbox.reads.reject_extension_attributes = True
    before = sandbox.counters.by_method.get("GET", 0)
    with client_for(sandbox) as client:
        found = client.get_user(user.id, layout.read_attributes)
    assert found is not None
    assert (layout.read_role(found), layout.read_products(found)) == (("member", True), ("a",))
    assert sandbox.counters.by_method["GET"] - before == 2  # refused, then without attributes


@WIDTHS
@pytest.mark.parametrize("users", [USERS, 8], ids=["more than a page past", "a short page past"])
def test_a_total_that_is_each_page_length_is_refused_by_the_page_after_the_end(
    make_sandbox: MakeSandbox, parallelism: int, users: int
) -> None:
    faults = ReadFaults(total_is_page=True)
    sandbox = make_sandbox(seed=SEED[:users], max_results=PAGE, reads=faults)
    error = refused(sandbox, parallelism)
    assert error.message == (
        "the NeuralTrust user list could not be read completely: the page at startIndex 6, "
        f"after the 5 users the server claims (totalResults), lists {min(users - 5, 5)} more: "
        "its totalResults is not the length of the list (5 of the 5 users claimed read, "
        "2 page requests sent)"
    )
    assert sandbox.counters.listings == 2


@WIDTHS
@pytest.mark.parametrize(
    ("users", "listings"), [(PAGE, 2), (3, 3)], ids=["one full page", "one short page"]
)
def test_a_list_in_one_page_is_shown_whole_by_the_page_after_it(
    make_sandbox: MakeSandbox, parallelism: int, users: int, listings: int
) -> None:
    """A short page is one more: the one-user page shows its totalResults is no page's length,
    and only the page after it shows the server did not cap its page and its totalResults."""
    sandbox = make_sandbox(seed=SEED[:users], max_results=PAGE)
    assert len(read(sandbox, parallelism).users) == users
    assert sandbox.counters.listings == listings


PAST_END = {
    "empty": ReadFaults(),
    "empty, claiming 0 users": ReadFaults(zero_total_past_end=True),
    "refused": ReadFaults(refuse_past_end=True),
}


@WIDTHS
@pytest.mark.parametrize(
    ("users", "past_end"),
    [(PAGE, "empty"), (PAGE, "empty, claiming 0 users"), *((20, p) for p in PAST_END)],
)
def test_a_list_of_full_pages_is_shown_whole_by_the_page_after_it(
    make_sandbox: MakeSandbox, parallelism: int, past_end: str, users: int
) -> None:
    """An empty page, whatever totalResults it claims (a server counting the rows it answers
    says 0), after the last full page; after several, a 400 too (RFC 7644 leaves it open; one
    page refused so is unproven, above)."""
    sandbox = make_sandbox(seed=SEED[:users], max_results=PAGE, reads=PAST_END[past_end])
    assert len(read(sandbox, parallelism).users) == users
    # Refused: once more, the last user alone in a page reaching past it (below).
    assert sandbox.counters.listings == users // PAGE + 1 + (past_end == "refused")


@WIDTHS
def test_a_total_capped_at_a_window_the_server_refuses_to_page_past_is_refused(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    """A search index's result window: totalResults says 20 of 23 users, and a page reaching
    past the 20th is refused. That refusal was taken for the end of the list, and the plan
    created users NeuralTrust had, and left the three unread users' leavers active."""
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=ReadFaults(window=20))
    error = refused(sandbox, parallelism)
    assert error.message.startswith(
        "the NeuralTrust user list could not be proven complete: the page after its last user "
        "(startIndex 21) was refused (NeuralTrust answered 400 (invalidValue) to listing users"
    ), error.message
    assert error.message.endswith(
        "and the page of that last user and the one after it (startIndex 20, count 2) did not "
        "show the list ends there: a server that caps totalResults at a window of its index and "
        "refuses to page past it answers so"
    ), error.message


@WIDTHS
def test_a_list_ending_in_a_short_page_needs_no_request_more(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED[:18], max_results=PAGE)
    assert len(read(sandbox, parallelism).users) == 18
    assert sandbox.counters.listings == 4


@WIDTHS
def test_a_total_short_of_the_list_by_whole_pages_is_refused(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    """A server capping totalResults at a page boundary: the read ended there, and the plan
    created users that were in NeuralTrust all along."""
    sandbox = make_sandbox(seed=SEED[:20], max_results=PAGE, reads=ReadFaults(inflate_total=-5))
    error = refused(sandbox, parallelism)
    assert error.message.startswith(
        "the NeuralTrust user list could not be read completely: the page at startIndex 16, "
        "after the 15 users the server claims (totalResults), lists 5 more: its totalResults is "
        "not the length of the list"
    ), error.message


@WIDTHS
def test_a_list_shorter_than_a_page_on_a_server_refusing_past_its_end_is_read_whole(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED[:4], max_results=PAGE, reads=ReadFaults(refuse_past_end=True))
    assert len(read(sandbox, parallelism).users) == 4
    # the page, one user of it, the page after it (refused), and the last user still listed
    assert sandbox.counters.listings == 4


@WIDTHS
@pytest.mark.parametrize(
    "faults",
    [
        ReadFaults(max_page_size=5, inflate_total=-18),
        ReadFaults(max_page_size=5, window=5),
        ReadFaults(later_page_size=3, inflate_total=-3),
    ],
    ids=[
        "one page below count, its total capped at it",
        "one page below count, a result window at it",
        "pages shrinking after the first, the total capped at one of them",
    ],
)
def test_a_total_capped_where_pages_short_of_count_end_is_refused(
    make_sandbox: MakeSandbox, parallelism: int, faults: ReadFaults
) -> None:
    """Read as the whole list: 5 or 20 of the 23 users, and plan created users that were in
    NeuralTrust all along."""
    max_results = 100 if faults.max_page_size else PAGE
    sandbox = make_sandbox(seed=SEED, max_results=max_results, reads=faults)
    error = refused(sandbox, parallelism)
    assert error.message.startswith("the NeuralTrust user list could not be "), error.message


@WIDTHS
def test_short_pages_each_claiming_their_length_are_refused_by_the_one_user_page(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    faults = ReadFaults(total_is_page=True, max_page_size=3)  # 3 a page, 5 announced and asked
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=faults)
    error = refused(sandbox, parallelism)
    assert error.message == (
        "the NeuralTrust user list could not be read completely: the page of one user claims 1 "
        "user (totalResults), the list's only page 3: the server gives each page's own length "
        "as totalResults, or users were deleted meanwhile"
    )


@WIDTHS
def test_one_full_page_on_a_server_refusing_past_its_end_is_read_whole(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    """It was refused as unproven, though the page ending at its last user lists it there, as
    for a list of several pages."""
    sandbox = make_sandbox(
        seed=SEED[:PAGE], max_results=PAGE, reads=ReadFaults(refuse_past_end=True)
    )
    assert len(read(sandbox, parallelism).users) == PAGE


@WIDTHS
def test_one_full_page_capped_by_a_result_window_is_refused(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, reads=ReadFaults(window=PAGE))
    error = refused(sandbox, parallelism)
    assert error.message.startswith("the NeuralTrust user list could not be "), error.message


def test_a_user_created_before_the_page_after_the_end_is_a_list_that_moved(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(seed=SEED[:5], max_results=PAGE)
    with client_for(sandbox) as client:
        users = client.list_users()
        first = [next(users) for _ in range(5)]  # the whole first page, as full as asked
        sandbox.add_user({"user_name": "late@contoso.com"})
        with pytest.raises(IncompleteListingError) as caught:
            list(users)
    assert len(first) == 5
    assert caught.value.message.startswith("the NeuralTrust user list changed while it was read")


class _SignInPage(httpx.HTTPTransport):
    """A proxy in front of NeuralTrust that answers the listing with its sign-in page."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/Users"):
            return httpx.Response(200, html="<html>Sign in</html>", request=request)
        return super().handle_request(request)


def test_a_listing_answered_with_a_web_page_points_at_what_answered_in_its_place(
    make_sandbox: MakeSandbox,
) -> None:
    # It was blamed on the server's paging, with "report this to NeuralTrust support".
    sandbox = make_sandbox(seed=SEED)
    with (
        client_for(sandbox, transport=_SignInPage()) as client,
        pytest.raises(ScimError) as caught,
    ):
        read_target(config_for(sandbox), client)
    assert caught.value.message == (
        "NeuralTrust answered 200 to listing users with a body that is not JSON"
    )
    assert (caught.value.hint or "").startswith("something answered in NeuralTrust's place")

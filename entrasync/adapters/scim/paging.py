"""Proving a SCIM listing complete (docs/safety.md, "Complete reads or none").

RFC 7644 §3.4.2.4 paging is by offset, and nothing stops a server from answering page one to
every ``startIndex`` (scimmy-routers on Express 5 does), from claiming more users than it
lists, or from shifting users between pages while they are read. Planning on such a read
would create users who exist and miss leavers, so a listing is accepted only when:

- every page answers the ``startIndex`` asked for (its ListResponse ``startIndex``, if given);
- every page announces the ``totalResults`` of the first (the collection did not move);
- no page repeats a user already read (by ``id``);
- the distinct users read equal ``totalResults``;
- a list read in one page is shown whole by one more request (a server may give each page's
  own length as ``totalResults``): the page after it is empty when it was as full as asked,
  and a one-user page claims the same ``totalResults`` when it was shorter;

and the requests stay within a budget derived from ``totalResults``. A page may hold fewer
users than ``count`` asked for: the reader pages on from where it ended.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from entrasync.adapters.scim.attributes import LIST_SPELLING, SpeltTwice, as_spelt
from entrasync.errors import ScimError

MAX_TOTAL_RESULTS = 10_000_000  # far past any NeuralTrust organisation; 10**9 is a lie
MIN_SANE_PAGE = 10  # pages shorter than this, and than the first, spend the budget
BUDGET_SLACK = 2
BROKEN_HINT = (
    "nothing was changed in NeuralTrust. The SCIM server's paging does not follow RFC 7644 "
    "§3.4.2.4 (startIndex/count/totalResults): run again, and if it repeats, report this "
    "message to the SCIM provider (NeuralTrust support)"
)
MOVED_HINT = (
    "nothing was changed in NeuralTrust: users were created or deleted there while entrasync "
    "read them, so the read is not one consistent list; run again"
)


class IncompleteListingError(ScimError):
    """A SCIM user listing that could not be proven complete: nothing may be planned on it."""


@dataclass(frozen=True, slots=True)
class Page:
    """One ListResponse: the ``startIndex`` asked for, its users and its ``totalResults``."""

    start: int
    resources: list[dict[str, Any]]
    total: int


def as_integer(value: object) -> int | None:
    """A count a server sent, as a number or as digits (some send "42"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        return int(value)
    return None


def _has_id(resource: object) -> bool:
    """An id that can address its user: ``.`` and ``..`` stay dot segments however they are
    encoded in ``/Users/{id}``, and would name the collection or its parent."""
    if not isinstance(resource, dict):
        return False
    key = resource.get("id")
    return (isinstance(key, str) and key not in ("", ".", "..")) or as_integer(key) is not None


def _broken(what: str) -> IncompleteListingError:
    return IncompleteListingError(
        f"the NeuralTrust user list could not be read completely: {what}", BROKEN_HINT
    )


PAGE_LENGTH_HINT = (
    "nothing was changed in NeuralTrust. A server that gives each page's own length as "
    "totalResults looks like a list that fits in one page, so entrasync asks for one more page "
    "to tell them apart; run again, and if it repeats, report this message to NeuralTrust "
    "support"
)


def unproven(refusal: ScimError) -> IncompleteListingError:
    """The one-user page that counts a one-page list was refused."""
    return IncompleteListingError(
        "the NeuralTrust user list could not be proven complete: it came in one page, and "
        "one user (startIndex 1, count 1), asked to show it is all there is, was "
        f"refused: {refusal.message}",
        PAGE_LENGTH_HINT,
    )


def end_unproven(after: int, refusal: ScimError) -> IncompleteListingError:
    """The page after the last user read was refused, and the last user was not listed again
    alone in a page reaching past it: the refusal may be a window's, not the list's end."""
    return IncompleteListingError(
        "the NeuralTrust user list could not be proven complete: the page after its last user "
        f"(startIndex {after}) was refused ({refusal.message}), and the page of that last user "
        f"and the one after it (startIndex {after - 1}, count 2) did not show the list ends "
        "there: a server that caps totalResults at a window of its index and refuses to page "
        "past it answers so",
        BROKEN_HINT,
    )


def one_user_page_disagrees(said: int, total: int) -> IncompleteListingError:
    """A one-user page counted the list otherwise than its one full page did."""
    if said == 1 < total:
        return IncompleteListingError(
            f"the NeuralTrust user list could not be read completely: the page of one user "
            f"claims 1 user (totalResults), the list's only page {total:,}: the server gives "
            "each page's own length as totalResults, or users were deleted meanwhile",
            "nothing was changed in NeuralTrust; run again, and if it repeats, report this "
            "message to NeuralTrust support: its paging does not follow RFC 7644 §3.4.2.4",
        )
    return IncompleteListingError(
        f"the NeuralTrust user list changed while it was read: the page of one user claims "
        f"{said:,} users (totalResults), the list's only page {total:,}",
        MOVED_HINT,
    )


def parse_page(body: object, start: int) -> Page:
    """The page that answers ``startIndex=start``, or the error saying how it does not."""
    at = f"the page asked for at startIndex {start}"
    if not isinstance(body, dict):
        raise _broken(f"{at} is not a SCIM ListResponse")
    try:
        body = as_spelt(body, LIST_SPELLING)  # names in any case (RFC 7643 §2.1)
    except SpeltTwice as twice:
        raise _broken(f"{at} holds {twice.name} twice ({twice.first}, {twice.second})") from None
    total = as_integer(body.get("totalResults"))
    if total is None or total < 0:
        raise _broken(f"{at} carries no valid totalResults")
    if total > MAX_TOTAL_RESULTS:
        raise _broken(
            f"{at} claims {total:,} users (totalResults), more than the {MAX_TOTAL_RESULTS:,} "
            "entrasync will read"
        )
    answered = body.get("startIndex")
    if answered is not None and as_integer(answered) != start:
        said = as_integer(answered)
        shown = "an invalid startIndex" if said is None else f"startIndex {said}"
        raise _broken(f"{at} came back as {shown}: the server does not page by startIndex")
    resources = body.get("Resources")
    if resources is None:  # RFC 7644 §3.4.2: may be left out when there is nothing to list
        resources = []
    if not isinstance(resources, list):
        raise _broken(f"{at} holds Resources that are not a list of users")
    if not all(_has_id(r) for r in resources):
        raise _broken(f"{at} holds a user without an id")
    return Page(start, resources, total)


class Listing:
    """The checks of one listing, fed its pages in startIndex order."""

    def __init__(self, first: Page, count: int, ahead: int) -> None:
        self.total = first.total
        self.seen: set[str] = set()
        self.last: str | None = None  # the id of the last user read, in startIndex order
        self.requests = 1
        # A server may hold its pages below `count` (RFC 7644 §3.4.2.4), as its first page shows.
        self.smallest = max(1, min(count, MIN_SANE_PAGE, len(first.resources) or count))
        # Every page but the last holds at least `smallest` users, plus the pages fetched ahead
        # that a short page makes useless: a server cannot keep the reader paging for ever.
        self.budget = 1 + math.ceil(self.total / self.smallest) + ahead + BUDGET_SLACK

    @property
    def read(self) -> int:
        return len(self.seen)

    def _counts(self) -> str:
        return (
            f"{self.read:,} of the {self.total:,} users claimed read, "
            f"{self.requests:,} page requests sent"
        )

    def charge(self) -> None:
        """Count one more page request; past the budget, stop the read."""
        if self.requests >= self.budget:
            raise _broken(
                f"listing {self.total:,} users needs more than {self.budget:,} requests, its "
                f"pages being shorter than {self.smallest} users ({self._counts()})"
            )
        self.requests += 1

    def accept(self, page: Page) -> list[dict[str, Any]]:
        """The page's users, once the page is shown to continue the listing consistently."""
        at = f"the page at startIndex {page.start}"
        if page.start > self.total and page.resources and page.total <= self.total:
            raise _broken(
                f"{at}, after the {self.total:,} users the server claims (totalResults), lists "
                f"{len(page.resources):,} more: its totalResults is not the length of the list "
                f"({self._counts()})"
            )
        if page.total != self.total:
            raise IncompleteListingError(
                f"the NeuralTrust user list changed while it was read: {at} claims "
                f"{page.total:,} users (totalResults), the first page {self.total:,} "
                f"({self._counts()})",
                MOVED_HINT,
            )
        before = self.read
        self.seen.update(str(r["id"]) for r in page.resources)
        repeated = len(page.resources) - (self.read - before)
        if repeated:
            raise _broken(
                f"{at} repeats {repeated:,} of its {len(page.resources):,} users already read: "
                f"the server does not page by startIndex ({self._counts()})"
            )
        if self.read > self.total:
            raise _broken(f"{at} lists more users than the server claims ({self._counts()})")
        if not page.resources and self.read < self.total:
            raise _broken(f"{at} came back empty ({self._counts()})")
        if page.resources:
            self.last = str(page.resources[-1]["id"])
        return page.resources


def fetch_ahead(
    fetch: Callable[[int], Page],
    starts: Iterable[int],
    parallelism: int,
    charge: Callable[[], None],
) -> Generator[Page, None, None]:
    """``fetch(start)`` for each start, results in order, at most ``parallelism`` in flight.

    A request goes out only as an earlier page is taken (at most ``2 * parallelism`` asked
    and not taken), so a reader that stops at a bad page leaves few requests behind it;
    ``charge`` is called before each one.
    """
    upcoming = iter(starts)
    queue: deque[Future[Page]] = deque()
    with ThreadPoolExecutor(max(1, parallelism), thread_name_prefix="scim-page") as pool:

        def ask(count: int) -> None:
            for start in islice(upcoming, count):
                charge()
                queue.append(pool.submit(fetch, start))

        try:
            ask(2 * parallelism)
            while queue:
                page = queue.popleft().result()
                ask(1)
                yield page
        finally:
            for future in queue:
                future.cancel()  # the pages not asked yet; those in flight are waited for

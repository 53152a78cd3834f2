"""read_target fetches the pages after the first concurrently, against scim2-server on loopback.

A wrapping transport watches the wire from the client side (requests in flight, one page
throttled or cut short, a user created mid-read) while the real server answers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from entrasync.adapters.scim.paging import IncompleteListingError
from entrasync.adapters.scim.target import read_target
from entrasync.core.model import Target
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import SeedScimUser
from tests.integration.scim.scenario import client_for, config_for

MakeSandbox = Callable[..., ScimSandbox]
USERS, PAGE = 23, 5  # five pages: 5 + 5 + 5 + 5 + 3
SEED = [
    SeedScimUser(f"user{i:02}@contoso.com", f"e-{i}", f"User {i}", None, True, "member", ("a",))
    for i in range(USERS)
]


class Wire(httpx.BaseTransport):
    """A real HTTP transport that counts requests in flight and can rewrite one page.

    ``on_page(start_index, response_json)`` may return a replacement body (a short page) or
    act on the server (create a user) before the client sees the answer; ``throttle`` lists
    startIndex values answered once with 429 before the request reaches the server.
    """

    def __init__(
        self,
        on_page: Callable[[int, dict[str, Any]], dict[str, Any] | None] | None = None,
        throttle: Iterable[int] = (),
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.on_page = on_page
        self.throttle = set(throttle)
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0
        self.starts: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("startIndex", "0"))
        with self.lock:
            self.starts.append(start)
            if start in self.throttle:
                self.throttle.discard(start)
                return httpx.Response(429, headers={"Retry-After": "0"})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            response = self.inner.handle_request(request)
            if not start or self.on_page is None:
                return response
            response.read()
            body = self.on_page(start, response.json())
            if body is None:
                return response
            return httpx.Response(response.status_code, headers=response.headers, json=body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def close(self) -> None:
        self.inner.close()


def read(sandbox: ScimSandbox, parallelism: int, wire: Wire | None = None) -> Target:
    with client_for(sandbox, transport=wire) as client:
        return read_target(config_for(sandbox), client, parallelism)


def user_names(target: Target) -> list[str]:
    return [u.user_name for u in target.users]


@pytest.mark.parametrize("layout", ["core", "extension"])
def test_a_concurrent_read_equals_a_page_by_page_read_in_requests_too(
    make_sandbox: MakeSandbox, layout: str
) -> None:
    sandbox = make_sandbox(layout, seed=SEED, max_results=PAGE)
    sequential = read(sandbox, parallelism=1)
    before = sandbox.counters.by_method["GET"]
    concurrent = read(sandbox, parallelism=4)

    assert concurrent == sequential  # same users, same order
    assert concurrent.state_sha256 == sequential.state_sha256
    assert len(concurrent.users) == USERS
    pages = sandbox.counters.by_method["GET"] - before
    assert pages == math.ceil(USERS / PAGE) + 1 == 6  # ServiceProviderConfig + 5 pages


@pytest.mark.parametrize("parallelism", [2, 3], ids=["two at a time", "three at a time"])
def test_pages_in_flight_never_exceed_the_parallelism(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, latency=0.05)
    wire = Wire()
    target = read(sandbox, parallelism, wire)
    assert len(target.users) == USERS
    assert wire.peak == parallelism  # four pages after the first: the bound is reached, not passed


def test_the_client_default_width_is_its_max_connections(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE, latency=0.05)
    wire = Wire()
    with client_for(sandbox, transport=wire, max_connections=2) as client:
        read_target(config_for(sandbox), client)
    assert wire.peak == 2


def test_a_throttled_page_is_retried_and_nothing_is_lost(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE)
    wire = Wire(throttle=[11])
    assert read(sandbox, 4, wire) == read(sandbox, 1)
    assert sorted(wire.starts) == [0, 1, 6, 11, 11, 16, 21]  # 0: ServiceProviderConfig


def test_a_short_page_falls_back_to_paging_on_from_where_it_ended(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(seed=SEED, max_results=PAGE)

    def cut(start: int, body: dict[str, Any]) -> dict[str, Any] | None:
        if start != 11:
            return None
        # The short page is answered once the pages after it are on the wire: a page not yet
        # sent when the reader sees it is cancelled, and the requests would depend on timing.
        deadline = time.monotonic() + 10
        while not {16, 21} <= set(wire.starts) and time.monotonic() < deadline:
            time.sleep(0.005)
        return {**body, "Resources": body["Resources"][:2], "itemsPerPage": 2}

    wire = Wire(on_page=cut)
    target = read(sandbox, 4, wire)
    assert target == read(sandbox, 1)  # no user missed, none twice
    # Prefetched 6, 11, 16 and 21; page 11 held 11-12 only, so from 13 on one page at a time,
    # and the page after the last: a server that kept no page to count shows no end by one.
    assert sorted(wire.starts) == [0, 1, 6, 11, 13, 16, 18, 21, 23, 24]


@pytest.mark.parametrize("parallelism", [1, 4], ids=["page by page", "four at a time"])
def test_a_user_created_mid_read_stops_the_read_and_a_rerun_is_complete(
    make_sandbox: MakeSandbox, parallelism: int
) -> None:
    """Offset paging is no snapshot: a user created mid-read shifts another onto the next page
    (read twice) or, deleted, past the reader (never read). Either way the read is not one
    list, and its totalResults moved: it stops rather than plan on it."""
    sandbox = make_sandbox(seed=SEED, max_results=PAGE)
    wire = Wire(on_page=lambda start, _body: create_once(sandbox, start))
    with pytest.raises(IncompleteListingError) as caught:
        read(sandbox, parallelism, wire)
    assert caught.value.message.startswith(
        "the NeuralTrust user list changed while it was read: the page at startIndex 6 claims "
        "24 users (totalResults), the first page 23"
    )
    assert "run again" in str(caught.value.hint)
    assert len(user_names(read(sandbox, parallelism))) == USERS + 1


def create_once(sandbox: ScimSandbox, start: int) -> None:
    """After the first page's answer, before any later page is asked for."""
    if start == 1 and len(sandbox.users()) == USERS:
        sandbox.add_user({"user_name": "late@contoso.com"})

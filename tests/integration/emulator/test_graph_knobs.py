"""The emulator's failure knobs and $batch: throttling, 503s, permissions, concurrency, TLS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from entrasync.sandbox.graph_api import PermissionMode
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxTenant
from tests.integration.emulator.conftest import BIG, CHILD, PARENT, Graph, user_id


@pytest.fixture
def make_graph(tenant: SandboxTenant) -> Iterator[Any]:
    """Start an emulator with knobs and hand back a Graph caller with a token."""
    opened: list[tuple[GraphEmulator, Graph]] = []

    def start(**knobs: Any) -> Graph:
        emulator = GraphEmulator(tenant, **knobs).start()
        caller = Graph(emulator)
        emulator.reset_counters()
        opened.append((emulator, caller))
        return caller

    yield start
    for emulator, caller in opened:
        caller.close()
        emulator.stop()


def statuses(graph: Graph, count: int) -> list[int]:
    return [graph.get(f"/groups/{PARENT}").status_code for _ in range(count)]


def test_every_nth_request_is_throttled_with_retry_after(make_graph: Any) -> None:
    graph = make_graph(throttle_every=3, retry_after="2.5")
    assert statuses(graph, 5) == [200, 200, 429, 200, 200]
    throttled = graph.get(f"/groups/{PARENT}")  # the 6th
    assert throttled.headers["Retry-After"] == "2.5"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert graph.emulator.counters["throttled"] == 2


def test_every_nth_request_is_a_503_without_retry_after(make_graph: Any) -> None:
    graph = make_graph(fail_503_every=2)
    assert statuses(graph, 4) == [200, 503, 200, 503]
    assert statuses(graph, 1) == [200]  # the 5th
    failed = graph.get(f"/groups/{PARENT}")  # the 6th
    assert failed.json()["error"]["code"] == "serviceNotAvailable"
    assert "Retry-After" not in failed.headers
    assert graph.emulator.counters["503"] == 3


def test_token_requests_are_never_throttled(make_graph: Any) -> None:
    graph = make_graph(throttle_every=1)
    assert graph.token  # the fixture's token call succeeded although every Graph call fails
    assert statuses(graph, 2) == [429, 429]


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        pytest.param("denied", 403, "Authorization_RequestDenied", id="no permission is a 403"),
        pytest.param(
            "no_roles", 401, "InvalidAuthenticationToken", id="a token without roles is a 401"
        ),
    ],
)
def test_permission_modes_refuse_every_read(
    make_graph: Any, mode: PermissionMode, status: int, code: str
) -> None:
    graph = make_graph(permission_mode=mode)
    for path in (f"/groups/{PARENT}", f"/groups/{PARENT}/members", f"/users/{user_id(1)}"):
        response = graph.get(path)
        assert response.status_code == status
        assert response.json()["error"]["code"] == code


def test_group_member_only_returns_ids_and_types_with_every_other_field_null(
    make_graph: Any,
) -> None:
    graph = make_graph(permission_mode="groupmember_only")
    members = graph.get(f"/groups/{PARENT}/members?$select=id,userPrincipalName,accountEnabled")
    assert members.status_code == 200
    first = members.json()["value"][0]
    assert first == {
        "@odata.type": "#microsoft.graph.user",
        "id": user_id(1),
        "userPrincipalName": None,
        "accountEnabled": None,
    }
    assert graph.get(f"/groups/{PARENT}").status_code == 200  # groups stay readable
    assert graph.get(f"/users/{user_id(1)}").status_code == 403  # User.Read.All is missing


def batch_item(n: int, url: str | None = None) -> dict[str, Any]:
    return {"id": str(n), "method": "GET", "url": url or f"/users/{user_id(n)}?$select=id"}


def test_a_batch_of_20_answers_each_request_by_id(graph: Graph) -> None:
    response = graph.batch([batch_item(n) for n in range(20)])
    assert response.status_code == 200
    replies = response.json()["responses"]
    assert [r["id"] for r in replies] != [str(n) for n in range(20)]  # any order, here reversed
    by_id = {r["id"]: r for r in replies}
    assert all(by_id[str(n)]["body"]["id"] == user_id(n) for n in range(20))
    assert graph.emulator.counters["batch"] == 1
    assert graph.emulator.counters["user_get"] == 20


def test_a_denied_apps_batch_is_answered_200_with_each_request_refused(make_graph: Any) -> None:
    # Graph authorizes each request of a $batch, not the batch: the client must read the 403
    # inside (a whole $batch answered 403 was what the emulator sent, never Graph).
    graph = make_graph(permission_mode="denied")
    response = graph.batch([batch_item(n) for n in range(3)])
    assert response.status_code == 200
    replies = response.json()["responses"]
    assert [r["status"] for r in replies] == [403, 403, 403]
    assert {r["body"]["error"]["code"] for r in replies} == {"Authorization_RequestDenied"}


def test_a_batch_of_21_is_refused(graph: Graph) -> None:
    response = graph.batch([batch_item(n) for n in range(21)])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    ("item", "status"),
    [
        pytest.param(batch_item(1, f"/groups/{CHILD}?$select=id"), 200, id="a relative url"),
        pytest.param(batch_item(1, f"groups/{CHILD}"), 200, id="a url without leading slash"),
        pytest.param(
            batch_item(1, f"https://graph.microsoft.com/v1.0/groups/{CHILD}"),
            400,
            id="an absolute url is refused",
        ),
        pytest.param(batch_item(1, "/groups/nope"), 404, id="a missing group is an inner 404"),
        pytest.param({**batch_item(2), "dependsOn": ["1"]}, 424, id="a failed dependency is a 424"),
    ],
)
def test_inner_batch_statuses(graph: Graph, item: dict[str, Any], status: int) -> None:
    first = batch_item(1, "/groups/nope")
    requests = [first, item] if item.get("dependsOn") else [item]
    replies = {r["id"]: r for r in graph.batch(requests).json()["responses"]}
    assert replies[item["id"]]["status"] == status


def test_inner_batch_requests_are_throttled_with_their_own_retry_after(make_graph: Any) -> None:
    graph = make_graph(throttle_every=3, retry_after="7")
    response = graph.batch([batch_item(n) for n in range(6)])
    assert response.status_code == 200  # the batch itself succeeds
    throttled = [r for r in response.json()["responses"] if r["status"] == 429]
    assert sorted(r["id"] for r in throttled) == ["2", "5"]
    assert all(r["headers"]["Retry-After"] == "7" for r in throttled)


def test_max_concurrency_makes_extra_requests_wait(make_graph: Any) -> None:
    graph = make_graph(latency=0.05, max_concurrency=2)
    results: list[int] = []

    def one() -> None:
        results.append(graph.get(f"/groups/{BIG}?$select=id").status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6
    assert graph.emulator.peak_concurrency == 2
    assert time.monotonic() - started >= 0.15  # three waves of two


def test_plain_http_serves_the_same_api(make_graph: Any) -> None:
    graph = make_graph(tls=False)
    assert graph.emulator.base_url.startswith("http://127.0.0.1:")
    assert graph.emulator.ca_pem_path is None
    assert graph.get(f"/groups/{PARENT}").json()["displayName"] == "NT-Platform"


@pytest.mark.parametrize(
    ("loop", "repeats"),
    [
        pytest.param("same", True, id="same: the second page links to itself by the same URL"),
        pytest.param("fresh", False, id="fresh: to itself by a new link each time"),
    ],
)
def test_the_next_link_loop_knob_never_ends_a_listing(
    make_graph: Any, loop: str, repeats: bool
) -> None:
    graph = make_graph(next_link_loop=loop)
    first = graph.get(f"/groups/{BIG}/members?$select=id&$top=999").json()
    links = [first["@odata.nextLink"]]
    ids: list[list[object]] = []
    for _ in range(3):
        page = graph.get(links[-1]).json()
        ids.append([item["id"] for item in page["value"]])
        links.append(page["@odata.nextLink"])
    assert ids[0] == [user_id(i) for i in range(999, 1998)]  # the second page, again and again
    assert ids[0] == ids[1] == ids[2]
    assert len(set(links)) == (1 if repeats else 4)
    assert graph.emulator.counters["members_page"] == 4


def test_without_the_loop_knob_a_listing_ends(make_graph: Any) -> None:
    graph = make_graph()
    link = graph.get(f"/groups/{BIG}/members?$select=id&$top=999").json()["@odata.nextLink"]
    second = graph.get(link).json()
    assert "@odata.nextLink" not in graph.get(second["@odata.nextLink"]).json()

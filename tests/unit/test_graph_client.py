"""GraphClient against httpx.MockTransport: paging, retries, 401 refresh, error translation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from entrasync.adapters.graph.auth import StaticTokenProvider
from entrasync.adapters.graph.batch import Get, get_batch
from entrasync.adapters.graph.client import (
    ODD_ANSWER_HINT,
    PERMISSION_HINT,
    GraphClient,
    GraphNotFoundError,
)
from entrasync.adapters.graph.directory import find_groups, protected_users, read_members
from entrasync.adapters.graph.groups import resolve_groups
from entrasync.adapters.graph.odata import odata_string, query
from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.throttle import ThrottleGate
from entrasync.config.models import GroupMapping
from entrasync.core.model import DirectoryUser, Group
from entrasync.core.redact import remember
from entrasync.core.secret import Secret
from entrasync.errors import AuthError, GraphError
from tests.unit.fake_time import FakeTime

BASE = "https://graph.example.test/v1.0"
Handler = Callable[[httpx.Request], httpx.Response]


class Tokens:
    """A renewable token provider: token-1, then token-2 once token-1 is rejected."""

    mode = "client secret"

    def __init__(self) -> None:
        self.issued = 0

    def __call__(self, *, rejected: str | None = None) -> str:
        if not self.issued or rejected == f"token-{self.issued}":
            self.issued += 1
        return f"token-{self.issued}"


def graph_error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "innerError": {}}}
    return httpx.Response(status, json=body, headers={"request-id": "rid-1", **(headers or {})})


def make_client(
    handler: Handler, tokens: Any = None, sleeps: list[float] | None = None
) -> tuple[GraphClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    time = FakeTime()
    time.slept = sleeps if sleeps is not None else []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = GraphClient(
        BASE,
        tokens or Tokens(),
        http=httpx.Client(transport=httpx.MockTransport(record)),
        policy=RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01),
        sleep=time.sleep,
        gate=ThrottleGate(0.01, clock=time.clock, sleep=time.sleep),
    )
    return client, seen


def test_paging_follows_next_links_as_given_through_an_empty_page() -> None:
    pages = {
        "/v1.0/groups/g/members": {
            "value": [{"id": "1"}],
            "@odata.nextLink": f"{BASE}/groups/g/members?$skiptoken=A&$top=999",
        },
        "A": {"value": [], "@odata.nextLink": f"{BASE}/groups/g/members?$skiptoken=B"},
        "B": {"value": [{"id": "2"}, {"id": "3"}]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("$skiptoken")
        return httpx.Response(200, json=pages[token or request.url.path])

    client, seen = make_client(handler)
    items = list(client.paged("groups/g/members", {"$select": "id"}))
    assert [i["id"] for i in items] == ["1", "2", "3"]
    assert seen[0].url.raw_path == b"/v1.0/groups/g/members?$top=999&$select=id"
    assert seen[1].url == httpx.URL(f"{BASE}/groups/g/members?$skiptoken=A&$top=999")
    # Headers are resent on every page, each with its own client-request-id.
    assert all(r.headers["Authorization"] == "Bearer token-1" for r in seen)
    assert len({r.headers["client-request-id"] for r in seen}) == 3


@pytest.mark.parametrize(
    "page", [{}, {"value": None}, {"value": {"id": "1"}}, {"value": [{"id": "2"}, "3"]}]
)
def test_a_page_without_its_list_stops_the_read_rather_than_end_it(page: dict[str, Any]) -> None:
    # Complete reads or none: such a page (a proxy's, a misdirected ENTRASYNC_GRAPH_URL) would
    # otherwise end the listing early, and its missing members would look like leavers.
    first = {"value": [{"id": "1"}], "@odata.nextLink": f"{BASE}/groups/g/members?$skiptoken=A"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page if request.url.params.get("$skiptoken") else first)

    client, _seen = make_client(handler)
    with pytest.raises(GraphError) as caught:
        list(client.paged("groups/g/members", {"$select": "id"}, what="the members of g"))
    assert caught.value.message == (
        "Microsoft Graph answered a page of the members of g without its list of items "
        "(value, each an object)"
    )


@pytest.mark.parametrize(
    "retry_after",
    ["0.005", "0", "Wed, 21 Oct 2015 07:28:00 GMT"],
    ids=["a decimal Retry-After", "an integer Retry-After", "an HTTP-date Retry-After"],
)
def test_throttled_page_is_retried_honouring_retry_after(retry_after: str) -> None:
    answers = [graph_error(429, "TooManyRequests", {"Retry-After": retry_after})] * 2

    def handler(_request: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else httpx.Response(200, json={"value": [{"id": "1"}]})

    sleeps: list[float] = []
    client, seen = make_client(handler, sleeps=sleeps)
    assert [i["id"] for i in client.paged("groups")] == ["1"]
    assert len(seen) == 3
    # Each retry waits at the client's gate until the Retry-After instant (capped); a
    # Retry-After of 0 or in the past leaves the gate open, so nothing sleeps.
    assert sleeps == pytest.approx([0.005] * 2 if retry_after == "0.005" else [])


def test_throttling_beyond_the_bound_is_a_graph_error_naming_the_request_id() -> None:
    client, seen = make_client(lambda _r: graph_error(503, "serviceNotAvailable"))
    with pytest.raises(GraphError, match=r"kept answering 503 .* through every retry .*rid-1"):
        client.get("groups/g", what="group g")
    assert len(seen) == 4


def test_an_expired_token_is_refreshed_once_and_the_request_repeated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-1":
            return graph_error(401, "InvalidAuthenticationToken")
        return httpx.Response(200, json={"id": "g"})

    client, seen = make_client(handler)
    assert client.get("groups/g") == {"id": "g"}
    assert [r.headers["Authorization"] for r in seen] == ["Bearer token-1", "Bearer token-2"]


def test_a_token_rejected_twice_is_an_auth_error_with_a_consent_hint() -> None:
    client, seen = make_client(lambda _r: graph_error(401, "InvalidAuthenticationToken"))
    with pytest.raises(AuthError) as caught:
        client.get("groups/g")
    assert len(seen) == 2
    assert "admin consent" in (caught.value.hint or "")


def test_a_ready_token_is_not_retried_and_the_hint_names_its_variable() -> None:
    static = StaticTokenProvider(Secret("ready"))
    client, seen = make_client(lambda _r: graph_error(401, "InvalidAuthenticationToken"), static)
    with pytest.raises(AuthError) as caught:
        client.get("groups/g")
    assert len(seen) == 1
    assert "ENTRASYNC_GRAPH_TOKEN" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("status", "code", "error", "text"),
    [
        (403, "Authorization_RequestDenied", AuthError, "GroupMember.Read.All and User.Read.All"),
        (404, "Request_ResourceNotFound", GraphNotFoundError, "replicated"),
        (400, "Request_BadRequest", GraphError, "request-id"),
    ],
    ids=[
        "403 asks for the two application permissions",
        "404 mentions replication lag",
        "400 is reported with its request id",
    ],
)
def test_errors_are_translated_once_at_the_edge(
    status: int, code: str, error: type[Exception], text: str
) -> None:
    client, seen = make_client(lambda _r: graph_error(status, code))
    with pytest.raises(error) as caught:
        client.get("groups/0b3f", what="group 0b3f")
    assert len(seen) == 1  # never retried
    rendered = f"{caught.value} {getattr(caught.value, 'hint', '')}"
    assert text in rendered
    assert "group 0b3f" in str(caught.value)


def test_an_expired_page_token_restarts_the_listing_without_repeating_items() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if request.url.params.get("$skiptoken"):
            if calls["n"] == 2:
                return graph_error(400, "Directory_ExpiredPageToken")
            return httpx.Response(200, json={"value": [{"id": "2"}]})
        return httpx.Response(
            200, json={"value": [{"id": "1"}], "@odata.nextLink": f"{BASE}/groups?$skiptoken=x"}
        )

    client, seen = make_client(handler)
    assert [i["id"] for i in client.paged("groups")] == ["1", "2"]
    assert len(seen) == 4


def test_an_expired_page_token_outside_a_listing_is_an_error_not_a_crash() -> None:
    """Only a listing starts over; a GET or a $batch answered so (a proxy, another server) is
    an error like any other (it was an exception no one caught: a traceback)."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return graph_error(400, "Directory_ExpiredPageToken")

    client, _ = make_client(handler)
    with pytest.raises(GraphError, match="Directory_ExpiredPageToken"):
        client.get("groups/g", what="group g")
    with pytest.raises(GraphError, match="Directory_ExpiredPageToken"):
        client.post_read("$batch", {"requests": []}, what="groups by id")


def test_a_group_listed_without_its_id_stops_the_search() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [{"displayName": "NT-Admins"}]})

    client, _ = make_client(handler)
    with pytest.raises(GraphError, match="listed the group 'NT-Admins' without its id") as caught:
        find_groups(client, "NT-")
    # The message cannot name the answer's request-id: the hint says where to find it.
    assert caught.value.hint == ODD_ANSWER_HINT
    assert "-vv" in ODD_ANSWER_HINT


class LongTokens(Tokens):
    """A token longer than the request-id a hint shows (Graph's are JWTs of 1,500 or more)."""

    def __call__(self, *, rejected: str | None = None) -> str:
        return "fake-graph-token-for-tests-" + "A1b2C3d4" * 20


def test_a_batch_request_id_echoing_the_token_shows_none_of_it() -> None:
    """Cut to 80 characters before it was masked, a long token a gateway echoed as the
    request-id was no longer found, and its first 80 characters were printed."""

    def echoed(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return httpx.Response(200, json={"responses": 5}, headers={"request-id": token})

    client, _ = make_client(echoed, tokens=LongTokens())
    with pytest.raises(GraphError) as caught:
        get_batch(client, [Get(f"groups/{G1}", what=f"group {G1}"), Get(f"groups/{G2}")])
    assert "A1b2C3d4" not in (caught.value.hint or "")
    assert "fake-graph-token" not in (caught.value.hint or "")


def test_a_batch_answer_graph_never_gives_names_the_batchs_request_id() -> None:
    """The hint said to report it "with the request-id of the $batch", which nothing showed."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"responses": 5}, headers={"request-id": "rid-7"})

    client, _ = make_client(handler)
    with pytest.raises(GraphError) as caught:
        get_batch(client, [Get(f"groups/{G1}", what=f"group {G1}"), Get(f"groups/{G2}")])
    assert caught.value.hint == (
        "run again; if it repeats, report it with the request-id of the $batch (rid-7)"
    )


@pytest.mark.parametrize(
    ("link", "said"),
    [
        ("https://evil.example/v1.0/groups?x=1", "a nextLink to another host (evil.example)"),
        # Same host: httpx sent the link's user and password in place of the token.
        (BASE.replace("://", "://user:pass@") + "/groups?x=1", "a user name or password"),
        ("http://[::1", "a nextLink that is not a valid URL"),  # httpx's InvalidURL, a traceback
        # Each was said to go "to another host", the host entrasync was reading.
        (
            BASE.replace("https:", "http:") + "/groups",
            "a nextLink over http:// instead of https://",
        ),
        (BASE.replace(".test/", ".test:8443/") + "/groups", "a nextLink to another port (8443)"),
        ("/v1.0/groups?$skiptoken=x", "a nextLink that is not an absolute URL"),
    ],
    ids=["another host", "user info", "no URL", "plain http", "another port", "relative"],
)
def test_a_next_link_to_another_host_is_refused_so_the_token_stays_home(
    link: str, said: str
) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [], "@odata.nextLink": link})

    client, seen = make_client(handler)
    with pytest.raises(GraphError, match=re.escape(said)):
        list(client.paged("groups"))
    assert len(seen) == 1


def test_a_group_deleted_between_its_lookup_and_its_members_is_said_so() -> None:
    # The 404 said to check the group id in the mappings file, of a group found by its name.
    def handler(_request: httpx.Request) -> httpx.Response:
        error = {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}
        return httpx.Response(404, json=error)

    client, _ = make_client(handler)
    with pytest.raises(GraphNotFoundError) as caught:
        read_members(client, Group("g-1", "NT-Platform"), nested=True)
    assert caught.value.message.startswith(
        "group NT-Platform (g-1) was found, then its members were not (the members of group "
        "NT-Platform (g-1) was not found in Entra (HTTP 404 Request_ResourceNotFound"
    ), caught.value.message
    assert caught.value.message.endswith(
        "): it was deleted meanwhile, or not every Graph replica has it yet"
    )
    assert caught.value.hint == (
        "check the group in Entra (`entrasync groups` lists them) and run again; nothing was "
        "changed"
    )


def test_a_next_link_to_another_listing_is_refused() -> None:
    """Followed, a nextLink from one group's members to another's made the other's members
    this group's (and this group's own, never read, lost their access)."""

    def handler(request: httpx.Request) -> httpx.Response:
        link = f"{BASE}/groups/other/members?$skiptoken=x"
        return httpx.Response(200, json={"value": [{"id": "1"}], "@odata.nextLink": link})

    client, seen = make_client(handler)
    with pytest.raises(GraphError, match="a nextLink to another listing while listing"):
        list(client.paged("groups/g/members", what="the members of g"))
    assert len(seen) == 1


def test_empty_pages_page_after_page_stop_the_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = int(request.url.params.get("$skiptoken") or 0)
        link = f"{BASE}/groups/g/members?$skiptoken={token + 1}"
        return httpx.Response(200, json={"value": [], "@odata.nextLink": link})

    client, seen = make_client(handler)
    with pytest.raises(GraphError, match="1,001 empty pages in a row while listing"):
        list(client.paged("groups/g/members"))
    assert len(seen) == 1001  # the bound: the 1,001st empty page's link is not followed


def test_plain_http_graph_urls_are_refused_except_loopback() -> None:
    with pytest.raises(Exception, match="https"):
        GraphClient("http://graph.example.test/v1.0", Tokens())
    assert GraphClient("http://127.0.0.1:9/v1.0", Tokens()).api_base.startswith("http://127")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"$select": "id,displayName"}, "$select=id,displayName"),
        (
            {"$filter": "displayName eq " + odata_string("O'Brien #1 + co")},
            "$filter=displayName%20eq%20'O''Brien%20%231%20%2B%20co'",
        ),
        (
            {"$filter": f"startsWith(displayName,{odata_string('NT-&')})"},
            "$filter=startsWith(displayName,'NT-%26')",
        ),
    ],
    ids=["select stays readable", "quotes double and # + are encoded", "& is encoded"],
)
def test_odata_queries_are_encoded_like_graphs_documentation(
    params: dict[str, str], expected: str
) -> None:
    assert query(params) == expected


def test_non_json_success_is_a_graph_error() -> None:
    client, _ = make_client(lambda _r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(GraphError, match="non-JSON"):
        client.get("groups/g")


def test_an_error_sent_with_200_is_that_error_not_a_broken_page() -> None:
    body = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}
    client, _ = make_client(
        lambda _r: httpx.Response(200, json=body, headers={"request-id": "r-9"})
    )
    with pytest.raises(AuthError) as caught:  # its code's meaning: a permission, not "no"
        list(client.paged("groups/g/members", what="the members of group g"))
    assert caught.value.message == (
        "Microsoft Graph denied reading the members of group g (HTTP 200 "
        "Authorization_RequestDenied, request-id r-9)"
    )
    assert (caught.value.hint or "").startswith(PERMISSION_HINT)


def test_a_not_found_sent_with_200_never_reads_as_a_user_that_is_not_there() -> None:
    # Translated as a 404, the protected lookup took it for "no user has this UPN": the entry
    # named no one, and its break-glass account lost its protection behind such a proxy.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users"):  # the mail filter: none
            return httpx.Response(200, json={"value": []})
        return httpx.Response(200, json={"error": {"code": "Request_ResourceNotFound"}})

    client, _ = make_client(handler)
    with pytest.raises(GraphError) as caught:
        protected_users(client, ["bg@contoso.com"])
    assert not isinstance(caught.value, GraphNotFoundError)
    assert caught.value.message == (
        "the protected user bg@contoso.com was not found in Entra (HTTP 200 "
        "Request_ResourceNotFound)"
    )


def test_an_error_sent_with_200_inside_a_batch_is_that_error() -> None:
    # It was taken for a group, and said to be "group None", the batch mixing up its answers.
    error = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}
    client, _ = make_client(
        batch_answering(
            {"id": "1", "status": 200, "body": error}, {"id": "2", "status": 200, "body": error}
        )
    )
    with pytest.raises(AuthError) as caught:
        resolve_groups(client, [GroupMapping(id=G1, role="owner"), GroupMapping(id=G2, role="x")])
    assert caught.value.message.startswith("Microsoft Graph denied reading group ")
    assert "(HTTP 200 Authorization_RequestDenied)" in caught.value.message


def test_error_bodies_without_json_still_name_the_status() -> None:
    client, _ = make_client(lambda _r: httpx.Response(500, text="boom"))
    with pytest.raises(GraphError, match="HTTP 500"):
        client.get("groups/g")


def test_json_error_shape_is_read_from_inner_error_when_no_header() -> None:
    body = {"error": {"code": "X", "message": "m", "innerError": {"request-id": "inner-7"}}}
    client, _ = make_client(lambda _r: httpx.Response(400, content=json.dumps(body).encode()))
    with pytest.raises(GraphError, match="inner-7"):
        client.get("groups/g")


NEAREST = """
from entrasync.adapters.graph.groups import _nearest
class Listing:
    def paged(self, *_, **__):
        return [{"displayName": n} for n in ("nt-admins", "NT-ADMINS", "NT-Admins", "NT-AdminS")]
print(_nearest(Listing(), "NT-Adminz"))
"""


def test_the_nearest_group_names_are_the_same_whatever_the_hash_seed() -> None:
    # Several spellings of one name: which one a "did you mean" shows must not vary per run.
    shown = {
        subprocess.run(
            [sys.executable, "-c", NEAREST],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(shown) == 1, shown


def test_a_user_listed_differently_by_two_groups_stops_the_read() -> None:
    member = {
        "@odata.type": "#microsoft.graph.user",
        "id": "u1",
        "userPrincipalName": "carol@contoso.com",
        "mail": "carol@contoso.com",
        "displayName": "Carol New",
        "accountEnabled": True,
        "userType": "Member",
    }
    client, _ = make_client(lambda request: httpx.Response(200, json={"value": [member]}))
    # Read before by another group's listing, before Carol's name was changed.
    seen = DirectoryUser("u1", "carol@contoso.com", "carol@contoso.com", "Carol Old")
    with pytest.raises(GraphError, match="the user changed while entrasync read Entra"):
        read_members(client, Group("g2", "NT-Two"), True, {"u1": seen})
    same = replace(seen, display_name="Carol New")
    known = {"u1": same}
    assert read_members(client, Group("g2", "NT-Two"), True, known) == ("u1",)
    assert known == {"u1": same}  # the user built before is kept, not built again


G1, G2 = "0b3f1c9e-1111-4c1e-9a0b-000000000001", "0b3f1c9e-1111-4c1e-9a0b-000000000002"


def batch_answering(*answers: dict[str, Any]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1.0/$batch"
        return httpx.Response(200, json={"responses": list(answers)})

    return handler


def _raw(status: int, text: str) -> Handler:
    return lambda request: httpx.Response(
        status, content=text.encode(), headers={"Content-Type": "application/json"}
    )


DEEP = "[" * 100_000 + "]" * 100_000  # past what Python's parser reads: RecursionError


@pytest.mark.parametrize(
    ("handler", "said"),
    [
        (_raw(200, '{"responses": 5}'), f"$batch answer has no response for group {G1}"),
        (
            _raw(200, '{"responses": [{"id": "1", "status": 200, "body": {"id": NaN}}]}'),
            f"$batch answer for group {G1} holds a number JSON does not have (NaN or Infinity)",
        ),
        (_raw(200, DEEP), "Microsoft Graph sent a non-JSON answer for group"),
        (
            batch_answering(
                {"id": "1", "status": 404, "body": {}},
                {"id": "1", "status": 200, "body": {"id": G1, "displayName": "NT-A"}},
                {"id": "2", "status": 200, "body": {"id": G2, "displayName": "NT-B"}},
            ),
            f"$batch answer for group {G1} and 1 more answers the request 1 twice",
        ),
    ],
    ids=[
        "responses not a list",
        "NaN in an answer",
        "a body nested 100,000 deep",
        "one request answered twice (the last answer was taken)",
    ],
)
def test_a_batch_answer_graph_never_gives_is_an_error_not_a_traceback(
    handler: Handler, said: str
) -> None:
    client, _ = make_client(handler)
    gets = [Get(f"groups/{G1}", what=f"group {G1}"), Get(f"groups/{G2}", what=f"group {G2}")]
    with pytest.raises(GraphError) as caught:
        get_batch(client, gets)
    assert said in caught.value.message


def test_a_group_name_holding_a_lone_surrogate_reads_in_a_batch_as_alone() -> None:
    """JSON allows "\\ud800", and a GET of the group reads it (init writes such a group by
    id): the $batch failed on it, so a run worked or not by how many groups it looked up."""
    named = {"id": G1, "displayName": "NT-sur\ud800"}
    answer = {"id": "1", "status": 200, "body": named}
    other = {"id": "2", "status": 200, "body": {"id": G2, "displayName": "NT-ok"}}
    client, _ = make_client(_raw(200, json.dumps({"responses": [answer, other]})))
    found = get_batch(client, [Get(f"groups/{G1}"), Get(f"groups/{G2}")])
    assert [f["displayName"] for f in found if isinstance(f, dict)] == ["NT-sur\ud800", "NT-ok"]


def test_an_inner_header_that_is_not_ascii_is_left_out_not_a_traceback() -> None:
    """httpx refuses a header that is not ASCII (UnicodeEncodeError): no header entrasync
    reads is, so such a one is dropped and the answer read as it would be without it."""
    gone = {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}
    inner = {"id": "1", "status": 404, "headers": {"x-ms-ags-diagnostic": "Montréal"}}
    other = {"id": "2", "status": 200, "body": {"id": G2, "displayName": "NT-ok"}}
    client, _ = make_client(_raw(200, json.dumps({"responses": [{**inner, "body": gone}, other]})))
    found = get_batch(client, [Get(f"groups/{G1}"), Get(f"groups/{G2}")])
    assert isinstance(found[0], GraphNotFoundError)
    assert found[1] == {"id": G2, "displayName": "NT-ok"}


def test_a_page_nested_past_the_parser_is_not_json_not_a_traceback() -> None:
    client, _ = make_client(_raw(200, DEEP))
    with pytest.raises(GraphError) as caught:
        list(client.paged("groups/g/members", {"$select": "id"}))
    assert "sent a non-JSON answer" in caught.value.message


@pytest.mark.parametrize(
    ("name", "why"),
    [("NT-\udcff", "text that is not UTF-8"), ("a" * 70_000, "longer than 65,536 characters")],
    ids=["a byte that is not UTF-8 (argv's surrogate escape)", "70,000 characters"],
)
def test_a_name_that_cannot_go_into_a_url_is_an_error_before_any_request(
    name: str, why: str
) -> None:
    """`entrasync groups $'\\xff'`, or a `protected` entry of 70,000 characters, was a
    traceback (UnicodeEncodeError from the quoting, httpx's InvalidURL)."""
    client, seen = make_client(lambda request: httpx.Response(200, json={"value": []}))
    for ask in (
        lambda: client.get("users", {"$filter": f"mail eq {odata_string(name)}"}),
        lambda: list(client.paged("groups", {"$filter": f"startswith(displayName,'{name}')"})),
    ):
        with pytest.raises(GraphError) as caught:
            ask()
        assert caught.value.message.startswith("cannot ask Microsoft Graph what entrasync needs")
        assert why in caught.value.message
    assert seen == []


@pytest.mark.parametrize(
    "escape",
    [lambda said: said, lambda said: said.replace("-", "\\u002d")],
    ids=["as sent", "its dashes escaped (it has no run of 6 letters or digits)"],
)
def test_an_answer_that_echoes_the_token_into_a_name_is_not_used(
    escape: Callable[[str], str],
) -> None:
    """A Graph URL (or a proxy) that puts the request's Authorization header into a member's
    name: read, the token would reach the text plan, the plan file and the pull request."""
    token = "fake-graph-token-for-tests"
    remember(token)  # as the token provider does with every token it gets

    def echo(request: httpx.Request) -> httpx.Response:
        said = escape(request.headers["Authorization"])
        page = '{"value": [{"id": "1", "displayName": "' + said + '"}]}'
        return httpx.Response(200, content=page.encode())

    client, _ = make_client(echo, tokens=lambda **_: token)
    with pytest.raises(GraphError) as caught:
        list(client.paged("groups/g/members", {"$select": "id"}))
    assert "holds a credential entrasync sent it" in caught.value.message
    assert token not in caught.value.message + (caught.value.hint or "")


def test_a_batch_answer_naming_another_group_than_asked_stops_the_read() -> None:
    """Two answers whose bodies were swapped, ids right: taken as answered, the owner mapping
    read the members' group and every member became an owner."""
    client, _ = make_client(
        batch_answering(
            {"id": "1", "status": 200, "body": {"id": G2, "displayName": "NT-Members"}},
            {"id": "2", "status": 200, "body": {"id": G1, "displayName": "NT-Owners"}},
        )
    )
    mappings = [GroupMapping(id=G1, role="owner"), GroupMapping(id=G2, role="member")]
    with pytest.raises(GraphError) as caught:
        resolve_groups(client, mappings)
    assert caught.value.message == (
        f"Microsoft Graph answered the lookup of group {G1} with group '{G2}'"
    )


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"status": "OK", "body": {}}, "has no valid status ('OK')"),
        ({"status": True, "body": {}}, "has no valid status (True)"),
    ],
    ids=["a status in words", "a boolean status"],
)
def test_a_batch_answer_without_a_valid_status_is_an_error(
    answer: dict[str, Any], said: str
) -> None:
    client, _ = make_client(batch_answering({"id": "1", **answer}, {"id": "2", **answer}))
    with pytest.raises(GraphError, match=re.escape(said)):
        resolve_groups(client, [GroupMapping(id=G1, role="owner"), GroupMapping(id=G2, role="x")])


def test_a_batch_retry_after_sent_as_a_number_is_honoured() -> None:
    """An inner answer's headers may carry numbers: read as text, not an httpx TypeError."""
    sleeps: list[float] = []
    names = {G1: "A", G2: "B"}
    throttled = {G1}

    def answer(inner: dict[str, Any]) -> dict[str, Any]:
        group = inner["url"].split("?")[0].rpartition("/")[2]
        if group in throttled:
            throttled.discard(group)
            return {"id": inner["id"], "status": 429, "headers": {"Retry-After": 2}, "body": {}}
        body = {"id": group, "displayName": names[group]}
        return {"id": inner["id"], "status": 200, "body": body}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/$batch":
            inner = json.loads(request.content)["requests"]
            return httpx.Response(200, json={"responses": [answer(i) for i in inner]})
        group = request.url.path.rpartition("/")[2]  # a batch of one goes as a plain GET
        return httpx.Response(200, json={"id": group, "displayName": names[group]})

    client, _ = make_client(handler, sleeps=sleeps)
    mappings = [GroupMapping(id=G1, role="owner"), GroupMapping(id=G2, role="x")]
    groups = resolve_groups(client, mappings)
    assert [g.id for g in groups if isinstance(g, Group)] == [G1, G2]
    assert sleeps == [0.01]  # Retry-After 2, capped at this policy's max_delay


def test_after_a_restart_an_item_without_an_id_is_still_handed_on() -> None:
    """After an expired page token the listing restarts and skips what it already handed on;
    an item without an id was taken as already handed on, so a user without its id was
    skipped instead of stopping the read."""
    calls = {"n": 0}
    device = {"@odata.type": "#microsoft.graph.device", "id": ""}
    user = {"@odata.type": "#microsoft.graph.user", "userPrincipalName": "a@b.c"}  # no id

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if request.url.params.get("$skiptoken"):
            if calls["n"] == 2:
                return graph_error(400, "Directory_ExpiredPageToken")
            return httpx.Response(200, json={"value": [user]})
        link = f"{BASE}/groups/g/members?$skiptoken=x"
        return httpx.Response(200, json={"value": [device], "@odata.nextLink": link})

    client, _ = make_client(handler)
    with pytest.raises(GraphError, match=r"without its id or a kind \(@odata\.type\)"):
        read_members(client, Group("g", "NT-G"), nested=False)


def test_a_group_found_by_name_without_its_id_stops_the_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [{"displayName": "NT-Admins"}]})

    client, _ = make_client(handler)
    with pytest.raises(GraphError) as caught:
        resolve_groups(client, [GroupMapping(name="NT-Admins", role="admin")])
    assert (
        caught.value.message == "Microsoft Graph listed the group named 'NT-Admins' without its id"
    )


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (429, "TooManyRequests", "Graph is throttling this app in this tenant"),
        (503, "serviceNotAvailable", "Graph is unavailable"),
    ],
)
def test_a_wait_too_long_to_wait_out_is_told_as_throttling_or_as_an_outage(
    status: int, code: str, hint: str
) -> None:
    sleeps: list[float] = []
    client, seen = make_client(
        lambda _: graph_error(status, code, {"Retry-After": "3600"}), sleeps=sleeps
    )
    with pytest.raises(GraphError) as caught:
        client.get("groups/g", what="group g")
    assert caught.value.message.startswith(
        f"Microsoft Graph answered {status} reading group g, and asked to wait 3,600 s"
    )
    assert (caught.value.hint or "").startswith(hint)
    assert (len(seen), sleeps) == (1, [])


def test_an_inner_retry_after_given_as_a_date_counts_from_the_batchs_own_date() -> None:
    # The inner answers carry no Date of their own: counted from this machine's clock, a 5 s
    # wait from a server whose clock ran ten minutes ahead read as 605 s and ended the read.
    ahead = time.time() + 600
    date, until = formatdate(ahead, usegmt=True), formatdate(ahead + 5, usegmt=True)
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        ids = [r["id"] for r in json.loads(request.content)["requests"]]
        throttled = {"status": 429, "headers": {"Retry-After": until}, "body": {}}
        found = {"status": 200, "body": {"id": G1, "displayName": "NT-A"}}
        inner = [{"id": i, **(throttled if len(sent) == 1 else found)} for i in ids]
        return httpx.Response(200, json={"responses": inner}, headers={"Date": date})

    client, _ = make_client(handler)
    found = get_batch(client, [Get(f"groups/{G1}"), Get(f"groups/{G2}")])
    assert found[0] == {"id": G1, "displayName": "NT-A"}
    assert len(sent) == 2


def test_the_default_gate_holds_the_client_for_a_whole_retry_after() -> None:
    # Built with the backoff's 60 s cap, the gate sent the request again at 60 s of 120.
    answers = [graph_error(429, "TooManyRequests", {"Retry-After": "120"})]
    slept: list[float] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json={"id": G1})

    client = GraphClient(
        BASE,
        Tokens(),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=slept.append,
    )
    assert client.get(f"groups/{G1}", what="group") == {"id": G1}
    assert slept[:1] == [pytest.approx(120.0, abs=1.0)]

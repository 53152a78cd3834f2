"""ScimClient edge cases a real server rarely shows, on an httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from entrasync.adapters.http import RetryPolicy, TransportError
from entrasync.adapters.scim.answers import ScimAuthError
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.paging import IncompleteListingError
from entrasync.adapters.scim.target import read_target
from entrasync.adapters.throttle import AdaptiveLimit
from entrasync.config.models import DEFAULT_SCIM_URL, Config
from entrasync.core.secret import Secret
from entrasync.errors import AuthError, EntrasyncError, ScimError
from tests.unit.fake_time import FakeTime

BASE = "https://scim.example.com/v2"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
Handler = Callable[[httpx.Request], httpx.Response]
Refused = pytest.ExceptionInfo[ScimError]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


def client(handler: Handler, url: str = BASE) -> tuple[ScimClient, Recorder]:
    recorder = Recorder(handler)
    scim = ScimClient(
        url,
        Secret("fake-scim-token-for-tests"),
        transport=httpx.MockTransport(recorder),
        policy=RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0),
        sleep=lambda _s: None,
    )
    return scim, recorder


def patch_refused(answer: httpx.Response, error: type[ScimError] = ScimError) -> Refused:
    """What deactivating u1 raises when NeuralTrust answers ``answer``."""
    scim, _ = client(lambda r: answer)
    with pytest.raises(error) as caught:
        scim.patch_user("1", [{"op": "replace", "path": "active", "value": False}], "u1")
    return caught


def scim_error(status: int, scim_type: str | None = None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(status),
        "detail": "server said no",
    }
    if scim_type:
        body["scimType"] = scim_type
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    "url",
    ["http://scim.contoso.com/v2", "ftp://scim.contoso.com/v2", "http://10.0.0.5/v2"],
    ids=["plain http to a remote host", "another scheme", "plain http to a private address"],
)
def test_an_unsafe_url_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(EntrasyncError, match="is not an https:// URL"):
        client(lambda r: httpx.Response(200), url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v2", "http://localhost:1/v2", "http://[::1]:9/v2", BASE],
    ids=["ipv4 loopback", "localhost", "ipv6 loopback", "https anywhere"],
)
def test_loopback_http_and_any_https_are_accepted(url: str) -> None:
    scim, _ = client(lambda r: httpx.Response(200), url)
    assert scim.url == url


@pytest.mark.parametrize(
    ("environ", "config_url", "expected"),
    [
        (
            {"NEURALTRUST_SCIM_URL": "https://env.example/scim/v2"},
            "https://cfg.example/v2",
            "https://env.example/scim/v2",
        ),
        ({}, "https://cfg.example/v2", "https://cfg.example/v2"),
        ({}, None, DEFAULT_SCIM_URL),
    ],
    ids=["the environment wins", "then the config", "then NeuralTrust's hosted endpoint"],
)
def test_the_endpoint_comes_from_env_then_config_then_default(
    environ: dict[str, str], config_url: str | None, expected: str
) -> None:
    config = Config.model_validate({"version": 1, "neuraltrust": {"scim_url": config_url}})
    scim = ScimClient.from_env(config, {**environ, "NEURALTRUST_SCIM_TOKEN": "t"})
    assert scim.url == expected


def test_a_missing_token_says_which_variable_to_set_and_where_the_token_comes_from() -> None:
    config = Config.model_validate({"version": 1})
    with pytest.raises(AuthError) as caught:
        ScimClient.from_env(config, {"NEURALTRUST_SCIM_TOKEN": "  "})
    assert caught.value.message.startswith("NEURALTRUST_SCIM_TOKEN is not set")
    assert str(caught.value.hint).startswith("export NEURALTRUST_SCIM_TOKEN=<token>")
    assert "Settings → SSO → SCIM Provisioning" in str(caught.value.hint)


def _users(start: int, count: int, total: int) -> list[dict[str, Any]]:
    stop = min(start - 1 + count, total)
    return [{"id": str(i), "userName": f"u{i}"} for i in range(start, stop + 1)]


def empty_list_after(config_response: httpx.Response) -> Handler:
    """A server answering ``config_response`` to /ServiceProviderConfig, with no users."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return config_response
        return httpx.Response(200, json={"totalResults": 0, "Resources": []})

    return handler


@pytest.mark.parametrize(
    ("config_response", "expected_count"),
    [
        (httpx.Response(404), 100),
        (httpx.Response(200, json={"filter": {"supported": True, "maxResults": 50}}), 50),
        (httpx.Response(200, json={"filter": {"supported": True, "maxResults": 5000}}), 1000),
        (httpx.Response(200, json={"patch": {"supported": True}}), 100),
        (httpx.Response(200, text="<html>"), 100),
    ],
    ids=[
        "no ServiceProviderConfig falls back to 100",
        "the announced maxResults is used",
        "a huge maxResults is capped at 1000",
        "no filter section falls back to 100",
        "a non-JSON answer falls back to 100",
    ],
)
def test_the_page_size_follows_service_provider_config(
    config_response: httpx.Response, expected_count: int
) -> None:
    scim, recorder = client(empty_list_after(config_response))
    assert list(scim.list_users()) == []
    assert recorder.requests[-1].url.params["count"] == str(expected_count)


@pytest.mark.parametrize(
    ("config_response", "said"),
    [
        (scim_error(429, **{"Retry-After": "3600"}), "429 to reading /ServiceProviderConfig"),
        (httpx.Response(429), "429 to reading /ServiceProviderConfig"),
        (httpx.Response(503), "503 to reading /ServiceProviderConfig"),
        (httpx.Response(500), "500 to reading /ServiceProviderConfig"),
        (httpx.Response(408), "408 to reading /ServiceProviderConfig"),
    ],
    ids=["a long throttle", "a throttle to the end", "an outage", "a server error", "a timeout"],
)
def test_a_service_provider_config_that_fails_for_now_stops_the_read(
    config_response: httpx.Response, said: str
) -> None:
    """Its defaults would drop If-Match too: a write would overwrite a hand change unseen."""
    scim, recorder = client(empty_list_after(config_response))
    with pytest.raises(ScimError) as caught:
        list(scim.list_users())
    assert said in caught.value.message
    assert all(r.url.path.endswith("/ServiceProviderConfig") for r in recorder.requests)


def test_service_provider_config_and_list_members_are_read_in_any_case() -> None:
    """RFC 7643 §2.1: an `eTag` read as no ETags dropped If-Match; a `resources` page was
    "empty", blamed on the server's paging."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(
                200, json={"Filter": {"MaxResults": 2}, "eTag": {"Supported": True}}
            )
        start = int(request.url.params["startIndex"])
        users = _users(start, int(request.url.params["count"]), 3)
        return httpx.Response(
            200, json={"TotalResults": 3, "StartIndex": start, "resources": users}
        )

    scim, _ = client(handler)
    assert [u["id"] for u in scim.list_users()] == ["1", "2", "3"]
    assert (scim.page_size(), scim.etags) == (2, True)


def test_a_lookup_answered_with_resources_in_two_spellings_says_so() -> None:
    """It was told as something answering in NeuralTrust's place: check the URL."""
    users = _users(1, 1, 1)
    answer = {"totalResults": 1, "Resources": users, "resources": users}
    scim, _ = client(lambda r: httpx.Response(200, json=answer))
    with pytest.raises(ScimError) as caught:
        scim.find_user("u1", list_all=False)
    assert caught.value.message == (
        "NeuralTrust answered looking up u1 with Resources twice (Resources, resources): which "
        "one holds the users is a guess"
    )


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_server_without_service_provider_config_falls_back_without_etags(status: int) -> None:
    scim, recorder = client(empty_list_after(httpx.Response(status)))
    assert list(scim.list_users()) == []
    assert (scim.page_size(), scim.etags) == (100, False)
    assert recorder.requests[-1].url.params["count"] == "100"


def test_a_short_list_on_a_server_ignoring_count_and_refusing_past_its_end_is_read_whole() -> None:
    """The page after it was asked twice, the first time with a refusal taken as unproven."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(200, json={"filter": {"maxResults": 10}})
        start = int(request.url.params["startIndex"])
        if start > 5:
            return scim_error(400, "invalidValue")
        return httpx.Response(200, json={"totalResults": 5, "Resources": _users(start, 10, 5)})

    scim, recorder = client(handler)
    assert [u["id"] for u in scim.list_users()] == ["1", "2", "3", "4", "5"]
    asked = [(r.url.params["startIndex"], r.url.params["count"]) for r in recorder.requests[1:]]
    # the page, one user of it (all five came), the page after (refused), the last user there
    assert asked == [("1", "10"), ("1", "1"), ("6", "10"), ("5", "2")]


def test_paging_follows_a_server_that_returns_fewer_than_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(404)
        start = int(request.url.params["startIndex"])
        page = _users(start, 3, 7)  # caps every page at 3 whatever count says
        return httpx.Response(
            200, json={"totalResults": 7, "startIndex": start, "itemsPerPage": 3, "Resources": page}
        )

    scim, recorder = client(handler)
    users = list(scim.list_users(("userName", "roles")))

    assert [u["id"] for u in users] == [str(i) for i in range(1, 8)]
    # Pages after the first go out concurrently, so their order on the wire may vary.
    starts = sorted(int(r.url.params["startIndex"]) for r in recorder.requests[1:])
    assert starts == [1, 4, 7, 8]  # and the page after the last: pages short of count
    assert recorder.requests[1].url.params["attributes"] == "userName,roles"


@pytest.mark.parametrize(
    ("status", "error_type", "said"),
    [
        (503, ScimError, "NeuralTrust answered 503 to listing users"),
        (401, ScimAuthError, "the NeuralTrust SCIM token is expired or invalid"),
        (400, IncompleteListingError, "could not be proven complete: it came in one page, and one"),
    ],
    ids=["a server not answering", "a credential refused", "the one-user page refused"],
)
def test_the_request_that_shows_a_one_page_list_whole_reports_its_own_failure(
    status: int, error_type: type[ScimError], said: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(404)
        if request.url.params["count"] == "1":
            return scim_error(status)
        page = _users(1, 3, 3)
        return httpx.Response(
            200, json={"totalResults": 3, "startIndex": 1, "itemsPerPage": 3, "Resources": page}
        )

    scim, _ = client(handler)
    with pytest.raises(error_type) as caught:
        list(scim.list_users())
    assert said in caught.value.message
    assert type(caught.value) is error_type


def test_a_server_ignoring_count_with_page_length_totals_is_refused_past_its_page() -> None:
    """It answers its 50-user page to count=1 too, with the same total: only the page after
    it shows the list goes on."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(404)
        start = int(request.url.params["startIndex"])
        page = _users(start, 50, 250)
        return httpx.Response(200, json={"totalResults": len(page), "Resources": page})

    scim, recorder = client(handler)
    with pytest.raises(IncompleteListingError) as caught:
        list(scim.list_users())
    assert "the page at startIndex 51, after the 50 users the server claims" in (
        caught.value.message
    )
    asked = [(r.url.params.get("startIndex"), r.url.params.get("count")) for r in recorder.requests]
    assert asked[1:] == [("1", "100"), ("1", "1"), ("51", "100")]


@pytest.mark.parametrize("name", [None, "", "  "], ids=["null", "empty", "blank"])
def test_a_listed_user_without_a_user_name_stops_the_read(name: str | None) -> None:
    # Read as "", it was planned on as a user no reviewer could tell: "- deactivate  ()".
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ServiceProviderConfig"):
            return httpx.Response(404)
        user = {"id": "7", "userName": name, "displayName": "Frank Miller"}
        return httpx.Response(200, json={"totalResults": 1, "startIndex": 1, "Resources": [user]})

    scim, _ = client(handler)
    with pytest.raises(IncompleteListingError) as caught:
        read_target(Config.model_validate({"version": 1}), scim)
    assert caught.value.message == (
        f"NeuralTrust listed user 7 with userName {name!r}, which is not a user's name: "
        "entrasync plans nothing on a user it cannot read"
    )


def test_every_request_carries_the_bearer_token_and_scim_media_type() -> None:
    scim, recorder = client(lambda r: httpx.Response(201, json={"id": "1"}))
    scim.create_user({"userName": "a"})
    request = recorder.requests[0]
    assert request.headers["Authorization"] == "Bearer fake-scim-token-for-tests"
    assert request.headers["Content-Type"] == "application/scim+json"
    assert "fake-scim-token" not in repr(scim.__dict__)


@pytest.mark.parametrize(
    ("response", "error_type", "fragment"),
    [
        (scim_error(401), ScimAuthError, "the NeuralTrust SCIM token is expired or invalid"),
        (scim_error(403), ScimAuthError, "NeuralTrust refused updating u1 (403 Forbidden)"),
        (scim_error(404), ScimError, "the NeuralTrust user vanished while updating u1"),
        (
            scim_error(409, "uniqueness"),
            ScimError,
            # Which value, the server's detail says: kept, not replaced by a guess.
            "another user already has a unique value it sets: server said no",
        ),
        # The scimType too (RFC 7644 section 3.12: the detail is optional).
        (
            scim_error(400, "invalidPath"),
            ScimError,
            "answered 400 (invalidPath) to updating u1: server said no",
        ),
        (scim_error(500, **{"x-request-id": "req-42"}), ScimError, "(request id req-42)"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ScimError, "answered 502"),
    ],
    ids=[
        "401 names the token and how to regenerate it",
        "403 is a refusal",
        "404 means the user vanished",
        "409 uniqueness names the clash",
        "another 4xx keeps the server's detail",
        "the server's request id is kept",
        "a non-SCIM error body still gives a message",
    ],
)
def test_errors_are_translated_once(
    response: httpx.Response, error_type: type[ScimError], fragment: str
) -> None:
    caught = patch_refused(response, error_type)
    assert fragment in caught.value.message
    assert caught.value.status == response.status_code


@pytest.mark.parametrize(
    ("scim_type", "hint"),
    [
        ("invalidPath", "check neuraltrust.role_attribute and neuraltrust.products_attribute"),
        ("noTarget", "check neuraltrust.role_attribute and neuraltrust.products_attribute"),
        ("invalidValue", "NeuralTrust refused the request itself"),
    ],
)
def test_a_refusal_naming_no_such_attribute_points_at_the_attribute_settings(
    scim_type: str, hint: str
) -> None:
    scim, _ = client(lambda r: scim_error(400, scim_type))
    with pytest.raises(ScimError) as caught:
        scim.patch_user("1", [{"op": "replace", "path": "roles", "value": []}], "u1")
    assert f"answered 400 ({scim_type}) to updating u1" in caught.value.message
    assert hint in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (scim_error(409, "uniqueness"), "another run): the server's words above say which"),
        (httpx.Response(409), "(made by hand, or by another run)"),
        (scim_error(409, "mutability"), "NeuralTrust refused the request itself"),
    ],
    ids=["a clash the server names", "a clash it does not", "another conflict"],
)
def test_a_409s_hint_points_at_the_servers_words_only_when_there_are_some(
    answer: httpx.Response, hint: str
) -> None:
    caught = patch_refused(answer)
    said = caught.value.hint or ""
    assert said.endswith(hint) if "words" in hint else hint in said
    assert ("the server's words" in said) == ("words" in hint)


@pytest.mark.parametrize(
    ("status", "retried"), [(400, False), (422, False), (408, True), (500, True), (502, True)]
)
def test_only_an_answer_a_retry_may_change_says_to_retry(status: int, retried: bool) -> None:
    """A 400 refuses the request itself: "retry later" would send the same one again."""
    caught = patch_refused(scim_error(status))
    hint = caught.value.hint or ""
    assert hint.startswith("retry later") is retried, hint
    assert ("a retry sends the same one" in hint) is not retried, hint


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            httpx.Response(502, text="upstream connect error before headers"),
            "answered 502 to updating u1: upstream connect error before headers",
        ),
        (
            httpx.Response(500, json={"message": "database connection pool exhausted"}),
            "answered 500 to updating u1: database connection pool exhausted",
        ),
        (
            httpx.Response(
                500,
                json={"timestamp": "2026-12-07T15:00:00Z", "status": 500, "message": "pool gone"},
            ),
            "answered 500 to updating u1: pool gone",
        ),
        (httpx.Response(500), "answered 500 to updating u1"),
    ],
    ids=["a gateway's text", "a framework's JSON message", "Spring's, with a status", "no body"],
)
def test_an_error_that_is_no_scim_error_keeps_the_servers_words(
    answer: httpx.Response, said: str
) -> None:
    caught = patch_refused(answer)
    assert caught.value.message.endswith(said)
    # No request id to give: the hint asks for none.
    assert caught.value.hint == "retry later; if it persists, contact NeuralTrust support"


def test_a_create_refused_for_uniqueness_names_the_user_name() -> None:
    # An update sets no userName: only a create's 409 can be about it.
    scim, _ = client(lambda r: scim_error(409, "uniqueness"))
    with pytest.raises(ScimError, match="conflict \\(409, uniqueness\\): another user already has"):
        scim.create_user({"userName": "a@contoso.com"})


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (
            "401",
            ScimAuthError,
            f"the NeuralTrust SCIM token is expired or invalid (HTTP 401 from {BASE})",
        ),
        ("500", ScimError, "NeuralTrust answered 500 to listing users: server said no"),
        ("ok", ScimError, "NeuralTrust answered 200 to listing users: server said no"),
        ("\u00b2", ScimError, "NeuralTrust answered 200 to listing users: server said no"),
    ],
    ids=[
        "a 401 Error",
        "a 500 Error",
        "an Error without a valid status",
        "a superscript two (a traceback)",
    ],
)
def test_a_scim_error_sent_with_200_is_that_error_not_a_broken_page(
    status: str, error_type: type[ScimError], message: str
) -> None:
    body = scim_error(400).json() | {"status": status}
    scim, _ = client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(error_type) as caught:
        list(scim.list_users())
    assert caught.value.message == message


def test_a_write_answered_with_a_scim_error_and_200_is_that_error_not_a_success() -> None:
    """Taken as the success its status claims, a refused write was recorded as done."""
    body = scim_error(400).json() | {"status": "403"}
    scim, _ = client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(ScimAuthError) as patched:
        scim.patch_user("1", [{"op": "replace", "path": "active", "value": False}], "u1")
    assert patched.value.message.startswith("NeuralTrust refused ")
    assert patched.value.status == 403
    with pytest.raises(ScimAuthError):
        scim.create_user({"userName": "a@contoso.com"})


def test_a_user_read_answered_with_a_scim_error_and_200_is_that_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        status = "404" if request.url.path.endswith("/gone") else "500"
        return httpx.Response(200, json=scim_error(400).json() | {"status": status})

    scim, _ = client(handler)
    assert scim.get_user("gone") is None
    with pytest.raises(ScimError) as caught:
        scim.get_user("1")
    assert caught.value.status == 500


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>signed out</html>"),
        httpx.Response(200, json=["not", "a", "resource"]),
        httpx.Response(200, json={"message": "Request accepted"}),
    ],
    ids=["a proxy's HTML page", "JSON that is no resource", "an object that is no resource"],
)
def test_a_write_answered_with_no_resource_may_or_may_not_have_been_made(
    answer: httpx.Response,
) -> None:
    """Recorded as succeeded, such a write may never have reached NeuralTrust: it is a lost
    answer, which apply reads back, and it starts no other write."""
    scim, _ = client(lambda r: answer)
    with pytest.raises(TransportError) as caught:
        scim.create_user({"userName": "a@contoso.com"})
    assert "with a body that is no SCIM resource" in caught.value.message
    with pytest.raises(TransportError):
        scim.patch_user("1", [{"op": "replace", "path": "active", "value": False}], "u1")
    empty = httpx.Response(200)
    scim, _ = client(lambda r: empty)
    assert scim.patch_user("1", [], "u1").resource is None  # no body at all is fine


def test_a_404_on_listing_points_at_the_endpoint_url_not_at_a_user() -> None:
    scim, _ = client(lambda r: httpx.Response(404, text="Not Found"))
    with pytest.raises(ScimError) as caught:
        list(scim.list_users())
    assert f"{BASE} is not a SCIM endpoint" in caught.value.message
    assert "NEURALTRUST_SCIM_URL" in str(caught.value.hint)


def test_a_refused_token_names_the_url_it_went_to_and_where_that_came_from() -> None:
    # A misspelt NEURALTRUST_SCIM_URL sent the token to the default endpoint, and the hint's
    # advice to regenerate it revoked a token that was fine.
    config = Config.model_validate({"version": 1})
    answer = httpx.MockTransport(lambda r: httpx.Response(401, text="Unauthorized"))
    environ = {"NEURALTRUST_URL": "https://nt.internal/api/scim/v2", "NEURALTRUST_SCIM_TOKEN": "t"}
    scim = ScimClient.from_env(config, environ, transport=answer)
    with scim, pytest.raises(ScimAuthError) as caught:
        list(scim.list_users())
    where = f"{DEFAULT_SCIM_URL} (the default neuraltrust.scim_url)"
    assert caught.value.message == (
        f"the NeuralTrust SCIM token is expired or invalid (HTTP 401 from {where})"
    )
    assert str(caught.value.hint).startswith(
        f"check that {where} is the organization's SCIM endpoint; if it is, generate a new token"
    )


def test_once_the_users_were_read_a_refused_token_is_not_blamed_on_the_url() -> None:
    # A token revoked during an apply: the URL took it a moment ago.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # /ServiceProviderConfig (anyone may read it), /Users
            return httpx.Response(200, json={"schemas": [LIST], "totalResults": 0})
        return httpx.Response(401, text="Unauthorized")

    scim, _ = client(handler)
    list(scim.list_users())
    with pytest.raises(ScimAuthError) as caught:
        scim.create_user({"userName": "a@contoso.com"})
    assert f"(HTTP 401 from {BASE})" in caught.value.message
    assert str(caught.value.hint).startswith("generate a new token")


def test_blanks_around_the_url_are_dropped_as_they_are_around_the_token() -> None:
    config = Config.model_validate({"version": 1})
    environ = {"NEURALTRUST_SCIM_URL": f" {BASE} \n", "NEURALTRUST_SCIM_TOKEN": "t"}
    with ScimClient.from_env(config, environ) as scim:
        assert scim.url == BASE


def test_429_and_503_on_writes_are_retried_honouring_retry_after_and_slow_the_client() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(503, headers={"Retry-After": "1.5"}),
            httpx.Response(204, headers={"request-id": "r-9"}),
        ]
    )
    time = FakeTime()
    recorder = Recorder(lambda r: next(answers))
    scim = ScimClient(
        BASE,
        Secret("t"),
        transport=httpx.MockTransport(recorder),
        sleep=time.sleep,
        max_connections=8,
        limit=AdaptiveLimit(8, clock=time.clock),
    )
    result = scim.patch_user("1", [{"op": "replace", "path": "active", "value": True}])

    assert (result.status, result.request_id) == (204, "r-9")
    assert time.slept == [2.0, 1.5]  # each request sleeps its own Retry-After
    # Each throttle came after the other's window: 8 -> 4 -> 2; the 204 grew it by 1/2.
    assert (scim.limit.cuts, scim.limit.in_flight, scim.limit.limit) == (2, 0, 2)
    bodies = {r.content for r in recorder.requests}
    assert len(bodies) == 1  # the same PatchOp each time
    assert json.loads(bodies.pop())["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]


@pytest.mark.parametrize("attribute", ["userName", "UserName"])
def test_find_user_matches_user_name_case_insensitively_with_a_quoted_filter(
    attribute: str,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"totalResults": 1, "Resources": [{"id": "7", attribute: 'A"B@x.com'}]}
        )

    scim, recorder = client(handler)
    found = scim.find_user('a"b@X.com')
    assert found is not None
    assert found["id"] == "7"
    assert recorder.requests[0].url.params["filter"] == 'userName eq "a\\"b@X.com"'


def test_the_client_limit_defaults_to_its_max_connections() -> None:
    scim = ScimClient(BASE, Secret("t"), max_connections=5)
    assert (scim.limit.maximum, scim.limit.limit) == (5, 5)


def test_a_read_back_is_one_try_while_other_reads_retry() -> None:
    asked: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(503, request=request)  # retried, unlike 500

    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.001)
    with ScimClient(
        "https://nt.example/scim/v2",
        Secret("fake-scim-token-for-tests"),
        transport=httpx.MockTransport(unavailable),
        policy=policy,
        sleep=lambda _: None,
    ) as client:
        with pytest.raises(EntrasyncError):
            client.get_user("u1", retries=False)
        assert len(asked) == 1
        with pytest.raises(EntrasyncError):
            client.find_user("a@contoso.com", list_all=False, retries=False)
        assert len(asked) == 2
        with pytest.raises(EntrasyncError):
            client.get_user("u1")
        assert len(asked) == 2 + 1 + policy.max_retries


def test_a_read_back_leaves_out_attributes_once_the_server_refused_an_extension_in_them() -> None:
    asked: list[httpx.URL] = []
    extension = "urn:example:params:scim:schemas:extension:nt:2.0:User:role"

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        if "attributes" in request.url.params and extension in request.url.params["attributes"]:
            return httpx.Response(400, json={"detail": "extension attributes are not supported"})
        if request.url.path.endswith("/Users"):
            return httpx.Response(200, json={"totalResults": 0, "Resources": []})
        return httpx.Response(200, json={"id": "u1", "userName": "a@contoso.com"})

    with ScimClient(
        "https://nt.example/scim/v2",
        Secret("fake-scim-token-for-tests"),
        transport=httpx.MockTransport(server),
    ) as client:
        assert client.find_user("a@contoso.com", ("userName", extension), list_all=False) is None
        assert client.get_user("u1", ("userName", extension)) == {
            "id": "u1",
            "userName": "a@contoso.com",
        }
    assert "attributes" not in asked[-1].params


@pytest.mark.parametrize(
    "escaped",
    [
        lambda text: text.encode(),
        lambda text: text.replace("/", "\\/").replace("+", "\\u002B").encode(),
        lambda text: text.replace("Review", "\\u0052eview").encode(),
        lambda text: text.encode("utf-16"),
    ],
    ids=["as sent", "\\/ and \\u002B", "a letter as \\u0052", "UTF-16"],
)
def test_a_listing_that_echoes_the_token_into_a_name_is_not_used(
    escaped: Callable[[str], bytes],
) -> None:
    """A server (or a proxy) that puts the request's Authorization header into the users it
    lists: read, the token would reach the text plan, the plan file and the pull request."""

    def echo(request: httpx.Request) -> httpx.Response:
        named = {"id": "u1", "userName": request.headers["Authorization"], "active": True}
        page = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 1,
            "startIndex": 1,
            "itemsPerPage": 1,
            "Resources": [named],
        }
        text = escaped(json.dumps(page))
        return httpx.Response(200, content=text, headers={"Content-Type": "application/json"})

    recorder = Recorder(echo)
    scim = ScimClient(
        BASE,
        Secret("fake-Scim+Token/For=Review-for-tests"),
        transport=httpx.MockTransport(recorder),
        policy=RetryPolicy(max_retries=0),
        sleep=lambda _s: None,
    )
    for read in (lambda: list(scim.list_users()), lambda: scim.get_user("u1")):
        with pytest.raises(ScimError) as caught:
            read()
        assert "holds the token entrasync sent it" in caught.value.message
        said = caught.value.message + (caught.value.hint or "")
        assert "Token/For" not in said
        assert "Review" not in said


@pytest.mark.parametrize(
    ("user_id", "path"),
    [
        ("team#7", "/v2/Users/team%237"),
        ("a?b", "/v2/Users/a%3Fb"),
        ("../Groups/g1", "/v2/Users/..%2FGroups%2Fg1"),
        ("a%41", "/v2/Users/a%2541"),
        ("2819c223-7f76-453a-919d-413861904646", "/v2/Users/2819c223-7f76-453a-919d-413861904646"),
    ],
)
def test_a_user_id_is_sent_percent_encoded_so_it_addresses_that_user(
    user_id: str, path: str
) -> None:
    # RFC 7643 §3.1: the id is any string the server chose. Sent as is, "team#7" lost its
    # "#7" and the write went to user "team", recorded as succeeded.
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"schemas": [USER], "id": user_id, "userName": "u"})
        return httpx.Response(204)

    scim, recorder = client(server)
    scim.patch_user(user_id, [{"op": "replace", "path": "active", "value": False}], "u1")
    scim.get_user(user_id)
    assert [r.url.raw_path.decode() for r in recorder.requests] == [path, path]


@pytest.mark.parametrize("user_id", [".", ".."])
def test_a_listing_holding_a_dot_segment_id_is_refused(user_id: str) -> None:
    # However encoded, "." and ".." stay dot segments in /Users/{id}: no write can reach them.
    users = [{"id": user_id, "userName": "a@contoso.com"}]
    body = {"schemas": [LIST], "totalResults": 1, "startIndex": 1, "Resources": users}
    scim, _ = client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(IncompleteListingError, match="a user without an id"):
        list(scim.list_users())


def test_members_an_error_adds_beyond_rfc_7644_keep_its_detail_and_scim_type() -> None:
    body = scim_error(409, "mutability").json() | {"timestamp": "2026-12-07T04:00:00Z"}
    scim, _ = client(lambda r: httpx.Response(409, json=body | {"traceId": "t-1"}))
    with pytest.raises(ScimError) as caught:
        scim.create_user({"userName": "a@contoso.com"})
    assert "conflict (409, mutability): server said no" in caught.value.message


def test_a_server_long_scim_type_and_request_id_are_cut() -> None:
    response = scim_error(409, "u" * 3000, **{"x-request-id": "r" * 20000})
    caught = patch_refused(response)
    assert caught.value.request_id == "r" * 100
    assert "u" * 100 in caught.value.message
    assert "u" * 101 not in caught.value.message
    assert len(caught.value.message) < 600

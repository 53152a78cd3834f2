"""A server that echoes the request's Authorization header in its error: the token never
reaches the message entrasync prints, records in the audit file or posts in a comment."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from entrasync.adapters.graph.auth import StaticTokenProvider
from entrasync.adapters.graph.batch import Get, get_batch
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.odata import GraphFailure
from entrasync.adapters.http import RetryPolicy, error_detail, server_text
from entrasync.adapters.scim.answers import error_for
from entrasync.core.redact import WITHHELD
from entrasync.core.secret import Secret
from entrasync.errors import EntrasyncError

TOKEN = "fake-scim-token-for-tests"


def echoing(status: int, **body: Any) -> httpx.Response:
    request = httpx.Request("PATCH", "https://nt.example/scim/v2/Users/1")
    request.headers["Authorization"] = f"Bearer {TOKEN}"
    return httpx.Response(status, json=body, request=request)


def test_a_scim_error_that_echoes_the_token_is_shown_without_it() -> None:
    detail = f"bad request; Authorization=Bearer {TOKEN}"
    response = echoing(400, schemas=["urn:ietf:params:scim:api:messages:2.0:Error"], detail=detail)
    error = error_for(response, "updating bob@contoso.com")
    assert TOKEN not in error.message
    assert "Authorization=Bearer ***" in error.message


def test_neuraltrust_asking_for_longer_than_entrasync_waits_says_how_long() -> None:
    request = httpx.Request("GET", "https://nt.example/scim/v2/Users")
    response = httpx.Response(429, headers={"Retry-After": "3600"}, request=request)
    error = error_for(response, "listing users")
    assert error.message.startswith(
        "NeuralTrust answered 429 to listing users, and asked to wait 3,600 s (Retry-After), "
        "longer than entrasync waits"
    )
    assert error.hint == "run again once that time has passed"


def test_a_graph_error_that_echoes_the_token_is_shown_without_it() -> None:
    response = echoing(400, error={"code": "BadRequest", "message": f"token {TOKEN} rejected"})
    assert GraphFailure.of(response).message == "token *** rejected"


@pytest.mark.parametrize(
    "response",
    [
        echoing(401, message=f"Bad credentials: Bearer {TOKEN}"),
        httpx.Response(
            502,
            text=f"<html>gateway: Bearer {TOKEN}</html>",
            request=httpx.Request("GET", "https://x", headers={"Authorization": f"token {TOKEN}"}),
        ),
    ],
    ids=["a JSON message", "a page that is not JSON"],
)
def test_a_review_platforms_error_that_echoes_the_token_is_shown_without_it(
    response: httpx.Response,
) -> None:
    detail = error_detail(response, "message")
    assert TOKEN not in detail
    assert "***" in detail


def test_text_without_the_credential_is_unchanged_and_a_short_one_is_left_alone() -> None:
    response = echoing(400)
    assert server_text(response, "nothing secret here") == "nothing secret here"
    short = httpx.Response(
        400, request=httpx.Request("GET", "https://x", headers={"Authorization": "Bearer t"})
    )
    assert server_text(short, "a text") == "a text"  # "t" would cut every t out of it


def test_a_batch_answer_that_echoes_the_token_is_shown_without_it() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        echo = {"code": "BadRequest", "message": f"echo: {request.headers['authorization']}"}
        inner = [{"id": str(i), "status": 400, "body": {"error": echo}} for i in (1, 2)]
        return httpx.Response(200, json={"responses": inner})

    client = GraphClient(
        "https://graph.example.test/v1.0",
        StaticTokenProvider(Secret(TOKEN)),
        http=httpx.Client(transport=httpx.MockTransport(answer)),
        policy=RetryPolicy(max_retries=0),
    )
    gets = [Get(f"groups/{g}", {"$select": "id"}, f"group {g}") for g in ("g", "h")]
    with pytest.raises(EntrasyncError) as caught:
        get_batch(client, gets)
    assert TOKEN not in caught.value.message
    # A 200 holding the token is not read at all (core.redact.holds_credential).
    assert "holds a credential entrasync sent it" in caught.value.message


def test_a_gitlab_answer_that_echoes_its_private_token_is_shown_without_it() -> None:
    request = httpx.Request("POST", "https://gitlab.example/api/v4/x")
    request.headers["PRIVATE-TOKEN"] = "fake-gitlab-token-for-tests"
    response = httpx.Response(
        502, text="upstream error; PRIVATE-TOKEN: fake-gitlab-token-for-tests", request=request
    )
    assert error_detail(response, "message") == "upstream error; PRIVATE-TOKEN: ***"


ODD_TOKEN = "fake-SCIM+Token/For=Review-for-tests"  # escaped characters, and case


@pytest.mark.parametrize(
    "echo",
    [
        f"debug: echo Bearer%20{ODD_TOKEN.replace('+', '%2B').replace('=', '%3D')}",
        '{"authorization": "Bearer ' + ODD_TOKEN.replace("/", "\\/") + '"}',
        f"got authorization: bearer {ODD_TOKEN.lower()}",
        f"Bearer {ODD_TOKEN[:12]}\n{ODD_TOKEN[12:24]}\n{ODD_TOKEN[24:]}",
    ],
    ids=["percent-encoded", "JSON-escaped", "in another case", "cut over lines"],
)
def test_a_credential_echoed_in_another_form_withholds_the_whole_text(echo: str) -> None:
    request = httpx.Request("GET", "https://nt.example/scim/v2/Users")
    request.headers["Authorization"] = f"Bearer {ODD_TOKEN}"
    response = httpx.Response(500, json={"detail": echo}, request=request)
    assert server_text(response, echo) == WITHHELD
    assert ODD_TOKEN.lower()[:20] not in error_for(response, "listing users").message.lower()


def test_the_fields_a_server_sends_beside_its_message_are_searched_too() -> None:
    secret = Secret("fake-client-secret-for-tests")  # held by this process: known everywhere
    scim = echoing(
        409,
        schemas=["urn:ietf:params:scim:api:messages:2.0:Error"],
        scimType=f"uniqueness; sent Bearer {TOKEN}",
    )
    scim.headers["X-Request-Id"] = f"echo {secret.reveal()}"
    error = error_for(scim, "creating bob@contoso.com")
    assert TOKEN not in error.message
    assert secret.reveal() not in error.message
    assert error.request_id is not None
    assert secret.reveal() not in error.request_id
    graph = echoing(401, error={"code": f"InvalidAuthenticationToken:{TOKEN}", "message": "no"})
    graph.headers["request-id"] = TOKEN
    failure = GraphFailure.of(graph)
    assert TOKEN not in failure.label()


def test_any_error_told_is_searched_for_every_credential_this_process_holds() -> None:
    secret = Secret("fake-federated-assertion-for-tests")
    error = EntrasyncError(f"the authority said: {secret.reveal()}", f"hint {secret.reveal()}")
    assert error.message == "the authority said: ***"
    assert error.hint == "hint ***"
    assert str(error) == "the authority said: ***"


def test_a_servers_text_is_one_line_that_cannot_pass_for_entrasyncs_own() -> None:
    detail = "bad request\nerror: forged line\r\nhint: rm -rf"
    response = echoing(400, schemas=["urn:ietf:params:scim:api:messages:2.0:Error"], detail=detail)
    message = error_for(response, "updating bob@contoso.com").message
    assert "\n" not in message
    assert "\r" not in message
    assert "forged line" in message

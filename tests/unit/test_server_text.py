"""A server that echoes the request's Authorization header in its error: the token never
reaches the message entrasync prints, records in the audit file or posts in a comment."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from entrasync.adapters.graph.odata import GraphFailure
from entrasync.adapters.http import server_text
from entrasync.adapters.review.client import error_detail
from entrasync.adapters.scim.client import error_for

TOKEN = "NT-SCIM-SECRET-0123456789"


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

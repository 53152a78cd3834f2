"""A JSON body nested past what Python's parser reads raises RecursionError, not ValueError:
every reader of a server's answer takes it as a body that is not JSON, never a traceback."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from entrasync.adapters.graph.credentials import unverified_claims
from entrasync.adapters.http import RetryPolicy, error_detail, json_of
from entrasync.adapters.scim.client import ScimClient
from entrasync.core.secret import Secret
from entrasync.errors import EntrasyncError

DEEP = b"[" * 100_000 + b"]" * 100_000


def _deep(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=DEEP, headers={"Content-Type": "application/json"})


def test_json_of_reads_a_body_too_deep_as_one_that_is_not_json() -> None:
    with pytest.raises(ValueError, match="nested too deep"):
        json_of(httpx.Response(200, content=DEEP))


@pytest.mark.parametrize(
    "read",
    [lambda scim: list(scim.list_users()), lambda scim: scim.get_user("u1")],
    ids=["the listing", "one user"],
)
def test_a_scim_answer_too_deep_is_an_error_not_a_traceback(
    read: Callable[[ScimClient], object],
) -> None:
    scim = ScimClient(
        "https://scim.example.com/v2",
        Secret("fake-scim-token-for-tests"),
        transport=httpx.MockTransport(_deep),
        policy=RetryPolicy(max_retries=0),
        sleep=lambda _s: None,
    )
    with pytest.raises(EntrasyncError):
        read(scim)


def test_a_review_platforms_error_too_deep_is_shown_as_text() -> None:
    response = httpx.Response(400, content=DEEP, request=httpx.Request("GET", "https://x"))
    assert error_detail(response, "message").startswith("[[[")


def test_a_token_whose_claims_are_too_deep_has_none() -> None:
    header, payload = (base64.urlsafe_b64encode(b).decode() for b in (b'{"alg":"none"}', DEEP))
    assert unverified_claims(f"{header}.{payload}.") == {}

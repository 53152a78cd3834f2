"""The GitHub Actions OIDC token request, against a token endpoint on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from entrasync.adapters.graph.credentials import fetch_github_id_token
from entrasync.core.secret import Secret
from entrasync.errors import AuthError
from tests.fake_tokens import fake_jwt
from tests.integration.loopback_http import Quiet, serving

TOKEN = fake_jwt({"sub": "repo:contoso/access:ref:refs/heads/main"})
REQUEST_TOKEN = "fake-oidc-request-token-for-tests"  # ACTIONS_ID_TOKEN_REQUEST_TOKEN's
# Paths that answer as a failing endpoint does, whatever the request token.
FAILURES = {
    "/forbidden": (403, b"{}"),
    "/failing": (500, b"{}"),
    "/redirect": (302, b""),
    "/sign-in": (200, b"<html>sign in</html>"),
}


class _OidcHandler(Quiet):
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - per-test reset below

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        status, body = 200, json.dumps({"count": 1, "value": TOKEN}).encode()
        if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
            status = 401
        status, body = FAILURES.get(self.path.partition("?")[0], (status, body))
        self.answer(status, body, {"Content-Type": "application/json"})


@pytest.fixture
def oidc_url() -> Iterator[str]:
    _OidcHandler.seen = []
    with serving(_OidcHandler) as url:
        yield f"{url}/_apis/token?api-version=2.0&x=1"


def test_github_token_request_keeps_the_urls_query_and_adds_the_audience(oidc_url: str) -> None:
    token = fetch_github_id_token(oidc_url, Secret(REQUEST_TOKEN), "api://AzureADTokenExchange", {})
    assert token == TOKEN
    path, auth = _OidcHandler.seen[0]
    assert path == "/_apis/token?api-version=2.0&x=1&audience=api%3A%2F%2FAzureADTokenExchange"
    assert auth == f"bearer {REQUEST_TOKEN}"


def test_github_refusing_the_request_token_says_so(oidc_url: str) -> None:
    with pytest.raises(AuthError) as caught:
        fetch_github_id_token(
            oidc_url, Secret("fake-other-request-token-for-tests"), "api://AzureADTokenExchange", {}
        )
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN was refused" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("answer", "said", "hint"),
    [
        ("/forbidden", "(HTTP 403)", "permissions: id-token: write"),
        ("/failing", "(HTTP 500)", "GitHub's OIDC endpoint is failing: run the job again"),
        ("/redirect", "(HTTP 302)", "something other than GitHub's OIDC endpoint answered"),
        ("/sign-in", "carried no token", "something other than GitHub's OIDC endpoint answered"),
    ],
)
def test_each_failure_of_the_token_request_gets_its_own_hint(
    oidc_url: str, answer: str, said: str, hint: str
) -> None:
    """The permission is the fix for a refusal alone: GitHub sets these variables only in a
    job that has it, so an outage or a proxy's page was sent after the wrong fix."""
    url = oidc_url.replace("/_apis/token", answer)
    with pytest.raises(AuthError) as caught:
        fetch_github_id_token(url, Secret(REQUEST_TOKEN), "api://AzureADTokenExchange", {})
    assert said in caught.value.message
    assert hint in (caught.value.hint or "")

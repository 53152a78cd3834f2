"""The GitHub Actions OIDC token request, against a token endpoint on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from entrasync.adapters.graph.credentials import fetch_github_id_token
from entrasync.core.secret import Secret
from entrasync.errors import AuthError
from tests.integration.loopback_http import Quiet, serving


class _OidcHandler(Quiet):
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - per-test reset below

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"count": 1, "value": "header.payload.sig"}).encode()
        status = 200 if self.headers.get("Authorization") == "bearer req" else 401
        self.answer(status, body, {"Content-Type": "application/json"})


@pytest.fixture
def oidc_url() -> Iterator[str]:
    _OidcHandler.seen = []
    with serving(_OidcHandler) as url:
        yield f"{url}/_apis/token?api-version=2.0&x=1"


def test_github_token_request_keeps_the_urls_query_and_adds_the_audience(oidc_url: str) -> None:
    token = fetch_github_id_token(oidc_url, Secret("req"), "api://AzureADTokenExchange", {})
    assert token == "header.payload.sig"
    path, auth = _OidcHandler.seen[0]
    assert path == "/_apis/token?api-version=2.0&x=1&audience=api%3A%2F%2FAzureADTokenExchange"
    assert auth == "bearer req"


def test_github_refusing_the_request_token_says_so(oidc_url: str) -> None:
    with pytest.raises(AuthError) as caught:
        fetch_github_id_token(oidc_url, Secret("other"), "api://AzureADTokenExchange", {})
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN was refused" in (caught.value.hint or "")

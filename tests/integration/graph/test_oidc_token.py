"""The GitHub Actions OIDC token request, against a token endpoint on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from entrasync.adapters.graph.credentials import fetch_github_id_token
from entrasync.core.secret import Secret
from entrasync.errors import AuthError


class _OidcHandler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - per-test reset below

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"count": 1, "value": "header.payload.sig"}).encode()
        self.send_response(200 if self.headers.get("Authorization") == "bearer req" else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def oidc_url() -> Iterator[str]:
    _OidcHandler.seen = []
    server = HTTPServer(("127.0.0.1", 0), _OidcHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/_apis/token?api-version=2.0&x=1"
    server.shutdown()
    server.server_close()


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

"""msal's requests session sends what every entrasync client sends, over loopback."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from entrasync.adapters.graph.msal_session import requests_session
from entrasync.adapters.http import USER_AGENT
from entrasync.adapters.trust import ssl_context
from entrasync.sandbox.graph_emulator import GraphEmulator
from tests.integration.graph.conftest import TENANT_ID


class Recording(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        Recording.seen.append(self.headers.get("User-Agent"))
        self.send_response(307)  # a redirect the token endpoint never needs
        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    with ThreadingHTTPServer(("127.0.0.1", 0), Recording) as running:
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        yield running
        running.shutdown()


def test_the_token_request_carries_entrasyncs_user_agent_and_follows_no_redirect(
    server: ThreadingHTTPServer,
) -> None:
    Recording.seen.clear()
    session = requests_session(ssl.create_default_context())
    url = f"http://127.0.0.1:{server.server_address[1]}/token"
    with pytest.raises(requests.TooManyRedirects):
        session.post(url, data={"client_secret": "fake-client-secret-for-tests"})
    assert Recording.seen == [USER_AGENT]


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_stale_ca_path_in_a_requests_variable_is_not_read(
    variable: str, emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ssl_context() chose the trust (SSL_CERT_FILE here); requests still checked the path
    its own variables name, and a stale one was an OSError: a traceback called a bug."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # which requests reads before CURL_CA_BUNDLE
    context = ssl_context(os.environ, for_requests=True)  # a stale one of its own is an error
    monkeypatch.setenv(variable, "/nonexistent/ca-bundle.pem")
    session = requests_session(context)
    url = f"{emulator.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    assert session.get(url).status_code == 200

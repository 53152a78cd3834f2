"""What a token endpoint that is not Entra's can do with the client's credential: a loopback
authority over HTTPS (the sandbox's CA) whose token endpoint redirects or answers HTML."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from entrasync.adapters.graph.auth import make_token_provider
from entrasync.adapters.http import RetryPolicy
from entrasync.console import configure_logging
from entrasync.errors import AuthError
from entrasync.sandbox.graph_identity import openid_configuration
from entrasync.sandbox.tls import sandbox_ca

from .conftest import CLIENT_ID, TENANT_ID, make_config

SECRET = "fake-client-secret-for-tests"


class _Authority(ThreadingHTTPServer):
    answer = "redirect"  # or "html"
    collected: list[bytes]
    posts = 0  # token requests received
    throttled = 0  # how many of the first token requests are answered 429 ("throttled")
    token_endpoint: str | None = None  # what the discovery document names, when set


class _Handler(BaseHTTPRequestHandler):
    server: _Authority

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.server.answer == "discovery 500":
            self._reply(500, b"<html>upstream failed</html>", "text/html")
            return
        if self.server.answer == "deep discovery":  # past what Python's parser reads
            self._reply(200, b"[" * 100_000 + b"]" * 100_000, "application/json")
            return
        if self.server.answer.startswith("discovery "):  # JSON, but no discovery document
            self._reply(200, self.server.answer.partition(" ")[2].encode(), "application/json")
            return
        base = f"https://127.0.0.1:{self.server.server_port}"
        document = openid_configuration(base, TENANT_ID, base)
        if self.server.token_endpoint is not None:
            document["token_endpoint"] = self.server.token_endpoint
        self._reply(200, json.dumps(document).encode(), "application/json")

    def do_POST(self) -> None:
        form = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts += 1
        if self.server.answer == "throttled":  # Entra's answer when it throttles the app
            if self.server.posts <= self.server.throttled:
                busy = {"error": "temporarily_unavailable", "error_description": "slow down"}
                self._reply(429, json.dumps(busy).encode(), "application/json", **_AT_ONCE)
            else:
                token = {"access_token": "x" * 40, "token_type": "Bearer", "expires_in": 3600}
                self._reply(200, json.dumps(token).encode(), "application/json")
        elif "/collect" in self.path:  # where the redirect points: it must receive nothing
            self.server.collected.append(form)
            self._reply(200, b"{}", "application/json")
        elif self.server.answer == "redirect":
            self._reply(307, b"", "text/plain", Location="/collect")
        elif self.server.answer == "echo":  # an OAuth error whose fields echo the form
            said = {"error": "invalid_client", "error_description": f"rejected {form.decode()}"}
            body = json.dumps({**said, "correlation_id": form.decode()}).encode()
            self._reply(401, body, "application/json")
        elif self.server.answer == "echo in a token":  # a token answer with the form beside it
            token = {"access_token": "x" * 40, "token_type": "Bearer", "expires_in": 3600}
            body = json.dumps({**token, "debug": form.decode()}).encode()
            self._reply(200, body, "application/json")
        elif self.server.answer == "forged lines":
            said = {"error": "invalid_client", "error_description": "echo eyJhbGci.eyJzdWIi.c2ln"}
            forged = {**said, "correlation_id": "c0ffee\nerror: forged\nhint: run"}
            self._reply(401, json.dumps(forged).encode(), "application/json")
        elif self.server.answer == "503":  # an outage, or a proxy in front of it
            failed = {"error": "server_error", "error_description": "try later"}
            self._reply(503, json.dumps(failed).encode(), "application/json", **_AT_ONCE)
        elif self.server.answer == "deep token":  # past what Python's parser reads
            self._reply(200, b"[" * 100_000 + b"]" * 100_000, "application/json")
        elif self.server.answer.startswith("expires_in "):  # msal reads it with int()
            expires: object = {"echo": form.decode(), "1e400": 1e400}.get(self.server.answer[11:])
            token = {"access_token": "x" * 40, "token_type": "Bearer", "expires_in": expires or "?"}
            self._reply(200, json.dumps(token).encode(), "application/json")
        elif self.server.answer == "no object":
            self._reply(200, b'"a string, not a token answer"', "application/json")
        else:  # a firewall's page that echoes the form it blocked
            self._reply(400, b"<html>blocked: " + form + b"</html>", "text/html")


_AT_ONCE = {"Retry-After": "0"}  # each retry sent at once: the test waits for none


@pytest.fixture
def authority() -> Iterator[_Authority]:
    server = _Authority(("127.0.0.1", 0), _Handler)
    server.socket = sandbox_ca().server_context().wrap_socket(server.socket, server_side=True)
    server.collected = []
    Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _token(server: _Authority, scheme: str = "https") -> AuthError:
    env = {
        "AZURE_TENANT_ID": TENANT_ID,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": SECRET,
        "AZURE_AUTHORITY_HOST": f"{scheme}://127.0.0.1:{server.server_port}",
        "ENTRASYNC_GRAPH_URL": f"https://127.0.0.1:{server.server_port}",
        "ENTRASYNC_CA_BUNDLE": sandbox_ca().pem_path,
    }
    with pytest.raises(AuthError) as caught:
        make_token_provider(make_config([]), env)()
    return caught.value


def test_a_redirect_from_the_token_endpoint_is_not_followed(authority: _Authority) -> None:
    # requests would send the same form, client_secret included, wherever Location points.
    error = _token(authority)
    assert authority.collected == []
    assert "answered with a redirect, which entrasync does not follow" in error.message
    assert "AZURE_AUTHORITY_HOST" in (error.hint or "")


@pytest.mark.parametrize("scheme", ["https", "HTTPS"])  # a URL's scheme is any case
def test_a_token_answer_that_is_not_json_is_an_error_that_logs_nothing_of_it(
    authority: _Authority, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    authority.answer = "html"
    configure_logging(0)
    with caplog.at_level(logging.WARNING):
        error = _token(authority, scheme)
    assert "answered something that is not JSON" in error.message
    assert SECRET not in caplog.text
    assert "blocked" not in caplog.text


def test_an_error_answer_that_echoes_the_client_secret_is_told_without_it(
    authority: _Authority,
) -> None:
    # The message goes to the log and, from `plan --comment`, into the pull request.
    authority.answer = "echo"
    error = _token(authority)
    assert "could not get a Microsoft Graph token (client secret)" in error.message
    assert SECRET not in error.message + (error.hint or "")
    assert "client_secret=***" in error.message


def test_msal_debug_lines_do_not_show_a_token_answers_other_fields(
    authority: _Authority, caplog: pytest.LogCaptureFixture
) -> None:
    authority.answer = "echo in a token"
    configure_logging(2)
    env = {
        "AZURE_TENANT_ID": TENANT_ID,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": SECRET,
        "AZURE_AUTHORITY_HOST": f"https://127.0.0.1:{authority.server_port}",
        "ENTRASYNC_GRAPH_URL": f"https://127.0.0.1:{authority.server_port}",
        "ENTRASYNC_CA_BUNDLE": sandbox_ca().pem_path,
    }
    with caplog.at_level(logging.DEBUG):
        assert make_token_provider(make_config([]), env)() == "x" * 40
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("no object", "answered JSON that is no token answer"),
        ("deep token", "answered something that is not JSON"),  # RecursionError in msal
        ("expires_in text", "answered JSON that is no token answer"),  # ValueError in msal
        ("expires_in 1e400", "answered JSON that is no token answer"),  # OverflowError
        ("expires_in echo", "answered JSON that is no token answer"),
    ],
    ids=[
        "JSON but no object",
        "nested past the parser",
        "expires_in not a number",
        "expires_in infinite",
        "expires_in the form echoed",
    ],
)
def test_a_token_answer_that_is_no_token_answer_is_an_error(
    authority: _Authority, answer: str, said: str
) -> None:
    authority.answer = answer
    error = _token(authority)
    assert said in error.message
    assert SECRET not in error.message + (error.hint or "")


def test_the_authoritys_fields_are_one_line_and_carry_no_signed_token(
    authority: _Authority,
) -> None:
    # A certificate's client assertion is a JWT msal signs, never a Secret; the fields are
    # printed on the command line and posted in comments.
    authority.answer = "forged lines"
    error = _token(authority)
    assert "\n" not in error.message
    assert "eyJ" not in error.message
    assert "[correlation id c0ffee\\x0aerror: forged\\x0ahint: run]" in error.message


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://localhost:{port}/collect",
        # urlsplit reads the host after "@" (127.0.0.1, the authority's), and urllib3, which
        # sends msal's request, the one before the backslash: the secret went to "localhost".
        "https://localhost:{port}\\@127.0.0.1:{port}/collect",
        "https://127.0.0.1:{port} /collect",
        "https://127.0.0.1:port/collect",  # a port no reader takes: was a traceback
    ],
    ids=["another host", "a backslash before a user part", "a blank", "a port that is no number"],
)
def test_a_token_endpoint_not_plainly_on_the_authoritys_host_never_receives_the_credential(
    authority: _Authority, endpoint: str
) -> None:
    # The discovery document decides where msal posts the secret: "localhost" is another
    # host than the authority's 127.0.0.1 (this same server, so nothing leaves the machine).
    authority.token_endpoint = endpoint.format(port=authority.server_port)
    error = _token(authority)
    assert authority.collected == []
    assert error.message == (
        f"the token authority https://127.0.0.1:{authority.server_port}/{TENANT_ID} names a "
        "token endpoint that is not plainly on its own host "
        f"({authority.token_endpoint}): the client's credential is not sent there"
    )


@pytest.mark.parametrize(
    ("answer", "status"),
    [("503", "503"), ("discovery 500", "500")],
    ids=["the token endpoint answers 503", "its discovery document answers 500"],
)
def test_an_authority_that_fails_is_an_error_that_says_to_run_again(
    authority: _Authority, answer: str, status: str
) -> None:
    # msal raises its own exception for a status of 500 or more: it was a traceback, and
    # `plan --comment` left the previous push's plan on the pull request.
    authority.answer = answer
    error = _token(authority)
    assert error.message == (
        f"the token authority https://127.0.0.1:{authority.server_port}/{TENANT_ID} answered "
        f"with an error (HTTP Error: {status}): Entra's sign-in service is failing, or a proxy "
        "between the runner and it is"
    )
    assert (error.hint or "").startswith("nothing was read or changed; run again in a few minutes")
    # msal retries nothing when given its HTTP client: entrasync retries as for Graph.
    assert authority.posts == (1 + RetryPolicy().max_retries if answer == "503" else 0)


def _secret_env(server: _Authority) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": TENANT_ID,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": SECRET,
        "AZURE_AUTHORITY_HOST": f"https://127.0.0.1:{server.server_port}",
        "ENTRASYNC_GRAPH_URL": f"https://127.0.0.1:{server.server_port}",
        "ENTRASYNC_CA_BUNDLE": sandbox_ca().pem_path,
    }


def test_a_token_endpoint_that_throttles_is_asked_again_after_its_retry_after(
    authority: _Authority,
) -> None:
    authority.answer, authority.throttled = "throttled", 2
    assert make_token_provider(make_config([]), _secret_env(authority))() == "x" * 40
    assert authority.posts == 3


def test_a_token_endpoint_throttling_past_the_retries_says_to_run_again(
    authority: _Authority,
) -> None:
    """Not "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential": nothing is wrong."""
    authority.answer, authority.throttled = "throttled", 100
    error = _token(authority)
    assert authority.posts == 1 + RetryPolicy().max_retries
    assert "temporarily_unavailable: slow down" in error.message
    assert (error.hint or "").startswith("Entra's sign-in service is throttling or failing")
    assert "AZURE_TENANT_ID" not in (error.hint or "")


@pytest.mark.parametrize(
    "answer",
    [
        "deep discovery",
        "discovery {}",
        "discovery []",
        'discovery "x"',
        'discovery {"authorization_endpoint": 1, "token_endpoint": 2, "issuer": 3}',
    ],
    ids=["nested past the parser", "an empty object", "a list", "a string", "numbers"],
)
def test_a_discovery_document_msal_cannot_read_is_an_error_not_a_traceback(
    authority: _Authority, answer: str
) -> None:
    authority.answer = answer
    error = _token(authority)
    assert "did not answer as an Entra tenant" in error.message

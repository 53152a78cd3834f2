"""A token that cannot go in a header, a proxy that refuses, an answer that cannot be decoded:
each is an ``error:`` naming what to fix, exit 1, no traceback, and no token in the output."""

from __future__ import annotations

import gzip
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from entrasync.adapters.azure_devops import AzureDevOpsContext
from entrasync.adapters.github.rest import GitHubContext
from entrasync.adapters.gitlab import TOKEN_VARIABLE, GitLabContext
from entrasync.adapters.http import RetryPolicy, TransportError, send
from entrasync.adapters.scim.client import WHAT as SCIM
from entrasync.cli import main
from entrasync.errors import GitHubError, ReviewError
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import Served, serve_both
from tests.integration.loopback_http import Quiet, serving

HIDDEN = "fake-tail-of-a-token-for-tests"
POLICY = RetryPolicy(max_retries=0)


def _serve_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContextManager[Served]:
    """The demo tenant and its NeuralTrust users on loopback, the environment pointing there."""
    demo = demo_tenant()
    return serve_both(demo.tenant, demo.scim_users, demo.config_yaml, tmp_path, monkeypatch)


def _plan_with(
    variable: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """``entrasync plan`` against the demo's servers, with ``variable`` set to ``value``."""
    with _serve_demo(tmp_path, monkeypatch):
        monkeypatch.setenv(variable, value)
        code = main(["plan"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("NEURALTRUST_SCIM_TOKEN", f"first-line\n{HIDDEN}", id="SCIM token, two lines"),
        pytest.param("ENTRASYNC_GRAPH_TOKEN", f"pasted {HIDDEN}", id="Graph token, a space"),
        pytest.param("NEURALTRUST_SCIM_TOKEN", f"\u201c{HIDDEN}\u201d", id="SCIM token, quotes"),
    ],
)
def test_a_token_no_header_can_carry_is_an_error_naming_the_variable_not_the_value(
    variable: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _plan_with(variable, value, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert f"\nerror: {variable} holds a character no token has" in err
    assert f"set {variable} to the token alone, on one line" in err
    assert "Traceback" not in err
    assert HIDDEN not in out + err


@pytest.mark.parametrize(
    ("value", "said", "hint"),
    [
        pytest.param(
            f'"{HIDDEN}"',
            "is wrapped in quotes, which would be sent as part of it",
            "without the quotes around it",
            id="double quotes from a .env line",
        ),
        pytest.param(
            f"'{HIDDEN}'",
            "is wrapped in quotes, which would be sent as part of it",
            "without the quotes around it",
            id="single quotes",
        ),
        pytest.param(
            f"Bearer {HIDDEN}",
            "starts with 'Bearer ': entrasync adds that word itself",
            "to the token alone",
            id="the header's word too",
        ),
    ],
)
def test_a_token_as_pasted_from_somewhere_else_is_named_before_it_is_sent(
    value: str,
    said: str,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Sent, it was refused as "expired or invalid", with the hint to make a new token: that
    # revokes the one that works.
    with _serve_demo(tmp_path, monkeypatch) as served:
        monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", value)
        code = main(["plan"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"\nerror: NEURALTRUST_SCIM_TOKEN {said}" in err
    assert f"hint: set NEURALTRUST_SCIM_TOKEN {hint}" in err
    assert "expired" not in err
    assert HIDDEN not in out + err
    assert served.scim.counters.requests == 0


def test_an_azure_pipelines_macro_left_unexpanded_is_named_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A variable group without the secret: Azure Pipelines passes "$(NAME)" as it is. Sent,
    it would read as an expired token, and the hint would have a working one revoked."""
    with _serve_demo(tmp_path, monkeypatch) as s:
        monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", "$(NEURALTRUST_SCIM_TOKEN)")
        code = main(["plan"])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "error: NEURALTRUST_SCIM_TOKEN holds the Azure Pipelines macro "
        "$(NEURALTRUST_SCIM_TOKEN), not expanded" in err
    )
    assert "expired" not in err
    assert s.scim.counters.requests == 0


class _Answers(Quiet):
    """A proxy that refuses every tunnel, and a server whose gzip answer is not gzip."""

    def do_CONNECT(self) -> None:
        self.answer(407, b"")

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1)
        body = b"this is not gzip" if self.path == "/broken" else gzip.compress(b"{}")
        self.answer(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    do_POST = do_GET


def _server() -> ContextManager[str]:
    return serving(_Answers)  # a client that gives up on /slow closes its end: no traceback


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_proxy_that_refuses_the_tunnel_is_a_transport_error_naming_the_proxy() -> None:
    with _server() as proxy, httpx.Client(proxy=proxy) as client:
        url = f"https://127.0.0.1:{_free_port()}/v1.0/groups"
        with pytest.raises(TransportError) as caught:
            send(client, "GET", url, policy=POLICY, what="Microsoft Graph")
    assert caught.value.message == (
        "the proxy refused the connection to Microsoft Graph (ProxyError)"
    )
    assert caught.value.hint is not None
    assert "HTTPS_PROXY" in caught.value.hint


REFUSED = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"


@contextmanager
def _counting_proxy() -> Iterator[tuple[str, list[int]]]:
    """A proxy that counts the connections made to it and refuses each request: 407."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    seen: list[int] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            seen.append(1)
            with connection:
                connection.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request and (chunk := connection.recv(4096)):
                    request += chunk
                connection.sendall(REFUSED)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        done.set()
        thread.join()
        listener.close()


def test_loopback_servers_are_reached_directly_whatever_proxy_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sandbox, or a tunnel to a console, on loopback: a proxy would take the traffic (and
    a plain-http credential) off the machine. Both the token request (msal, requests) and the
    Graph and SCIM reads (httpx) go direct."""
    with (
        _counting_proxy() as (proxy, seen),
        _serve_demo(tmp_path, monkeypatch),
    ):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        code = main(["plan"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Plan:" in out
    assert seen == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ALL_PROXY", "socks5://127.0.0.1:9"), ("HTTPS_PROXY", "ftp://proxy.example:9")],
)
def test_loopback_servers_are_reached_whatever_proxy_variable_httpx_cannot_use(
    variable: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo talks to loopback alone: a SOCKS proxy set for the rest of the machine
    stopped it, asking to install SOCKS support it never needs."""
    monkeypatch.setitem(sys.modules, "socksio", None)  # as where it is not installed
    code, out, err = _plan_with(variable, value, tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "Plan:" in out


def test_a_proxy_that_drops_the_token_request_is_named_with_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        _counting_proxy() as (proxy, seen),
        _serve_demo(tmp_path, monkeypatch),
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy)  # the listener: nothing leaves the machine
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com")
        code = main(["plan"])
    err = capsys.readouterr().err
    assert code == 1
    assert "could not reach the token authority https://login.microsoftonline.com/" in err
    assert "ProxyError" in err
    assert "hint: check HTTPS_PROXY, HTTP_PROXY and NO_PROXY" in err
    assert seen  # the request went to the proxy, and no further


def test_an_answer_that_cannot_be_decoded_says_whether_a_write_may_have_been_made() -> None:
    with _server() as base, httpx.Client() as client:
        assert send(client, "GET", f"{base}/fine", policy=POLICY).json() == {}
        with pytest.raises(TransportError) as write:
            send(client, "POST", f"{base}/broken", policy=POLICY, what=SCIM)
        with pytest.raises(TransportError) as read:
            send(client, "GET", f"{base}/broken", policy=POLICY, what=SCIM)
    assert write.value.message == (
        "the NeuralTrust SCIM endpoint answered a write, but the answer could not be decoded "
        "(DecodingError): the write may have been carried out"
    )
    assert read.value.message == (
        "the NeuralTrust SCIM endpoint answered, but its answer could not be decoded "
        "(DecodingError)"
    )


@contextmanager
def _resetting_server() -> Iterator[str]:
    """Reads a request, starts its answer, then resets the connection (RST): httpx's ReadError."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
            time.sleep(0.1)  # the client reads the head, then waits for the body
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(timeout=10)


def test_a_write_whose_answer_never_came_may_have_been_made_a_read_could_not_reach() -> None:
    with _server() as base, httpx.Client(timeout=0.2) as client:
        with pytest.raises(TransportError) as write:
            send(client, "POST", f"{base}/slow", policy=POLICY, what=SCIM)
        with pytest.raises(TransportError) as read:
            send(client, "GET", f"{base}/slow", policy=POLICY, what=SCIM)
    with (
        _resetting_server() as base,
        httpx.Client() as client,
        pytest.raises(TransportError) as reset,
    ):
        send(client, "PATCH", f"{base}/Users/1", policy=POLICY, what=SCIM, json={})
    unanswered = "sent a write to the NeuralTrust SCIM endpoint but got no answer"
    assert write.value.message == f"{unanswered} (ReadTimeout): it may have been carried out"
    assert reset.value.message == f"{unanswered} (ReadError): it may have been carried out"
    assert read.value.message.startswith(
        "could not reach the NeuralTrust SCIM endpoint: ReadTimeout"
    )


def test_a_header_httpx_refuses_is_named_by_its_kind_never_quoted() -> None:
    with _server() as base, httpx.Client() as client, pytest.raises(TransportError) as caught:
        send(
            client,
            "GET",
            f"{base}/fine",
            policy=POLICY,
            what=SCIM,
            headers={"Authorization": f"Bearer one\r\n{HIDDEN}"},
        )
    assert "(LocalProtocolError)" in caught.value.message
    assert HIDDEN not in f"{caught.value.message} {caught.value.hint}"


@pytest.mark.parametrize(
    ("make", "variable", "error"),
    [
        pytest.param(GitHubContext.from_environ, "GITHUB_TOKEN", GitHubError, id="GitHub"),
        pytest.param(GitLabContext.from_environ, TOKEN_VARIABLE, ReviewError, id="GitLab"),
        pytest.param(
            AzureDevOpsContext.from_environ, "SYSTEM_ACCESSTOKEN", ReviewError, id="Azure DevOps"
        ),
    ],
)
def test_a_review_platforms_token_is_refused_as_that_platforms_error(
    make: Callable[[dict[str, str]], object], variable: str, error: type[ReviewError]
) -> None:
    environ = {
        "GITHUB_REPOSITORY": "acme/identity",
        "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
        "CI_PROJECT_ID": "7",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
        "SYSTEM_TEAMPROJECT": "identity",
        "BUILD_REPOSITORY_ID": "repo",
        variable: f"line-one\n{HIDDEN}",
    }
    with pytest.raises(error) as caught:
        make(environ)
    assert caught.value.message.startswith(f"{variable} holds a character no token has")
    assert HIDDEN not in str(caught.value)
    environ[variable] = f"  {HIDDEN}\n"  # a trailing newline from a file is dropped
    assert make(environ).token.reveal() == HIDDEN  # type: ignore[attr-defined]
    environ[variable] = " \n"  # blank is not set, said as such, not sent as an empty token
    with pytest.raises(error) as blank:
        make(environ)
    assert variable in blank.value.message
    assert "holds a character" not in blank.value.message

"""An answer is read within its deadline, its status line and headers too: a server trickling
them a byte at a time, or sending ``100 Continue`` without end, resets the per-read timeout
of httpx and of requests (msal's) at every byte; the TLS socket keeps the deadline."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import trustme

from entrasync.adapters.graph import msal_session
from entrasync.adapters.http import RetryPolicy, TransportError, new_client, send
from entrasync.adapters.trust import ssl_context
from tests.integration.loopback_http import Quiet, serving

POLICY = RetryPolicy(max_retries=0, answer_deadline=1.0)
PIECES = {
    "status line a byte at a time": [bytes([b]) for b in b"HTTP/1.1 200 OK\r\n"] * 100,
    "100 Continue without end": [b"HTTP/1.1 100 Continue\r\n\r\n"] * 100,
    "a body a byte at a time": [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"] + [b"x"] * 100,
}


def _trickling(pieces: list[bytes]) -> type[Quiet]:
    class Trickling(Quiet):
        def _trickle(self) -> None:
            try:
                for piece in pieces:  # one every 0.2 s: each read waits far less than 5 s
                    self.wfile.write(piece)
                    time.sleep(0.2)
            except OSError:  # the client gave up: what the test wants
                pass

        do_GET = do_POST = _trickle

    return Trickling


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _failing_within(seconds: float, call: Callable[[], object]) -> Exception:
    """What ``call`` raised, which it did within ``seconds`` (the trickle lasts 20 s)."""
    started = time.monotonic()
    try:
        call()
    except Exception as exc:  # the caller checks which
        assert time.monotonic() - started < seconds
        return exc
    pytest.fail("the answer was read whole")


@pytest.mark.parametrize("pieces", PIECES.values(), ids=PIECES.keys())
def test_httpx_answer_is_cut_at_its_deadline(
    pieces: list[bytes], ca: tuple[trustme.CA, Path]
) -> None:
    authority, path = ca
    env = {"ENTRASYNC_CA_BUNDLE": str(path)}
    with (
        serving(_trickling(pieces), _server_context(authority)) as url,
        new_client(env, timeout=5.0) as client,
    ):
        error = _failing_within(4, lambda: send(client, "GET", f"{url}/x", policy=POLICY, what="X"))
    assert isinstance(error, TransportError)
    assert "ReadTimeout: the answer took more than 1 s to arrive" in error.message


@pytest.mark.parametrize("pieces", PIECES.values(), ids=PIECES.keys())
def test_the_token_request_is_cut_at_its_deadline(
    pieces: list[bytes], ca: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    authority, path = ca
    monkeypatch.setattr(msal_session, "RetryPolicy", lambda: POLICY)
    session = msal_session.requests_session(
        ssl_context({"ENTRASYNC_CA_BUNDLE": str(path)}, for_requests=True)
    )
    with serving(_trickling(pieces), _server_context(authority)) as url:
        error = _failing_within(4, lambda: session.post(f"{url}/token", data={"a": "b"}, timeout=5))
    assert isinstance(error, requests.RequestException)
    assert "Read timed out" in str(error)  # urllib3's words for the socket's timeout

"""A client that goes away mid-request (a stopped command's connections) leaves the sandbox's
servers quiet: socketserver printed its traceback among the demo's last lines."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from entrasync.sandbox.runner import RunningSandbox, running_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def _reset_mid_request(url: str, tls: bool) -> None:
    parts = urlsplit(url)
    raw = socket.create_connection((parts.hostname, parts.port))
    conn: socket.socket = raw
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = context.wrap_socket(raw, server_hostname=parts.hostname)
    conn.sendall(b"GET /v1.0/groups HTTP/1.1\r\nHost: x\r\n")  # the headers never end
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset, not a close


@pytest.mark.parametrize("server", ["Graph emulator", "SCIM server"])
def test_a_client_gone_mid_request_prints_no_traceback(
    sandbox: RunningSandbox, server: str, capfd: pytest.CaptureFixture[str]
) -> None:
    graph = server == "Graph emulator"
    url = sandbox.graph.base_url if graph else sandbox.scim.url
    for _ in range(5):
        _reset_mid_request(url, tls=graph)
    time.sleep(0.3)  # the server's threads meet the reset
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Exception occurred during processing of request" not in err

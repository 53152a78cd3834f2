"""The sandbox's servers take a reader's burst of connections at once: their listen backlog
(``LISTEN_BACKLOG``) is deep enough that the kernel drops none of them.

At socketserver's default of 5, the SYNs past the backlog were dropped and their clients
retried a second later, which stalled a plan's first requests by a second.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from socketserver import TCPServer

import pytest

from benchmarks.lean_scim import LeanScim
from entrasync.sandbox.graph_server import LISTEN_BACKLOG
from entrasync.sandbox.runner import RunningSandbox, running_sandbox

BURST = 32  # connections opened at once, as a reader at --parallelism 32 does


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def servers(sandbox: RunningSandbox) -> dict[str, TCPServer]:
    graph = sandbox.graph._server._server
    assert graph is not None, "the Graph emulator is not serving"
    return {"Graph emulator": graph, "SCIM server": sandbox.scim._server}


def test_the_backlog_holds_a_readers_connections() -> None:
    assert LISTEN_BACKLOG >= 64


def test_the_sandbox_servers_listen_with_the_backlog(sandbox: RunningSandbox) -> None:
    for name, server in servers(sandbox).items():
        assert server.request_queue_size == LISTEN_BACKLOG, name


def test_the_benchmarks_lean_scim_server_listens_with_the_backlog() -> None:
    with LeanScim("token") as lean:
        assert lean._server.request_queue_size == LISTEN_BACKLOG


def connected_at_once(address: tuple[str, int], count: int, within: float) -> int:
    """How many of ``count`` connections opened at once to ``address`` are established within
    ``within`` seconds (a SYN the kernel dropped is retried only after a second)."""
    opened = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        with selectors.DefaultSelector() as selector:
            for each in opened:
                each.setblocking(False)
                each.connect_ex(address)
                selector.register(each, selectors.EVENT_WRITE)
            connected = 0
            deadline = time.monotonic() + within
            while connected < count and (left := deadline - time.monotonic()) > 0:
                for key, _ in selector.select(left):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    selector.unregister(sock)
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                    connected += 1
            return connected
    finally:
        for each in opened:
            each.close()


@pytest.mark.parametrize("name", ["Graph emulator", "SCIM server"])
def test_a_burst_of_connections_is_taken_at_once(sandbox: RunningSandbox, name: str) -> None:
    host, port = servers(sandbox)[name].socket.getsockname()
    assert connected_at_once((host, port), BURST, within=1.0) == BURST

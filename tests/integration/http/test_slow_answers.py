"""An answer that trickles in: the client's timeout bounds each read, not the whole answer, so
a server sending a byte every few seconds held a run for days; now each answer has a
deadline, and one past it is a timeout like any other (retried for a read)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from entrasync.adapters.http import RetryPolicy, TransportError, send


@pytest.fixture
def trickling() -> Iterator[tuple[str, list[float]]]:
    """A loopback server that sends its headers, then one byte of a 1,000-byte body every
    0.05 s; the time each request arrived."""
    listener = socket.create_server(("127.0.0.1", 0))
    arrivals: list[float] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                arrivals.append(time.monotonic())
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(1000):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        break
                    time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/Users", arrivals
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_an_answer_past_its_deadline_is_a_timeout_retried_then_an_error(
    trickling: tuple[str, list[float]],
) -> None:
    url, arrivals = trickling
    policy = RetryPolicy(max_retries=1, base_delay=0.01, answer_deadline=0.5)
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, pytest.raises(TransportError) as caught:
        send(client, "GET", url, policy=policy, what="NeuralTrust", sleep=lambda _: None)
    assert caught.value.message == (
        "could not reach NeuralTrust: ReadTimeout: the answer took more than 0.5 s to arrive"
    )
    assert len(arrivals) == 2  # the read was retried once, as any timed-out read is
    assert time.monotonic() - started < 3  # each read timed out, the trickle never did

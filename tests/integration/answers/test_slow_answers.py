"""An answer that trickles in: the client's timeout bounds each read, not the whole answer, so
a server sending a byte every few seconds held a run for days. Now each answer's body has a
deadline, which grows with what has arrived (a slow link that keeps moving is not cut off);
past it, it is a timeout like any other (retried for a read)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from entrasync.adapters.http import RetryPolicy, TransportError, send

Serve = Callable[[int, int, float], tuple[str, list[float]]]


@pytest.fixture
def slow_server() -> Iterator[Serve]:
    """A loopback server that sends its headers, then a body of ``chunks`` pieces of ``size``
    bytes, one every ``pause`` seconds; the time each request arrived."""
    listener = socket.create_server(("127.0.0.1", 0))
    arrivals: list[float] = []
    stop = threading.Event()
    shape: list[tuple[int, int, float]] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            chunks, size, pause = shape[0]
            with conn:
                conn.recv(65536)
                arrivals.append(time.monotonic())
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {chunks * size}\r\n\r\n".encode())
                for _ in range(chunks):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(b"x" * size)
                    except OSError:
                        break
                    time.sleep(pause)

    thread = threading.Thread(target=serve, daemon=True)

    def start(chunks: int, size: int, pause: float) -> tuple[str, list[float]]:
        shape.append((chunks, size, pause))
        thread.start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/Users", arrivals

    try:
        yield start
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(5)
        listener.close()


def test_an_answer_past_its_deadline_is_a_timeout_retried_then_an_error(
    slow_server: Serve,
) -> None:
    url, arrivals = slow_server(1000, 1, 0.05)  # a byte every 0.05 s
    policy = RetryPolicy(max_retries=1, base_delay=0.01, answer_deadline=0.5)
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, pytest.raises(TransportError) as caught:
        send(client, "GET", url, policy=policy, what="NeuralTrust", sleep=lambda _: None)
    assert re.fullmatch(
        r"could not reach NeuralTrust: ReadTimeout: the answer took more than \d+ s to arrive "
        r"\([\d,]+ bytes so far\)",
        caught.value.message,
    ), caught.value.message
    assert len(arrivals) == 2  # the read was retried once, as any timed-out read is
    assert time.monotonic() - started < 3  # each read timed out, the trickle never did


def test_a_slow_answer_that_keeps_moving_is_read_whole(slow_server: Serve) -> None:
    url, arrivals = slow_server(8, 32 * 1024, 0.15)  # 256 KB over 1.2 s, past the 0.5 s
    policy = RetryPolicy(max_retries=0, answer_deadline=0.5)
    with httpx.Client(timeout=5) as client:
        response = send(client, "GET", url, policy=policy)
    assert len(response.content) == 8 * 32 * 1024
    assert len(arrivals) == 1

"""An answer that trickles in: the client's timeout bounds each read, not the whole answer, so
a server sending a byte every few seconds held a run for days. Now each answer's body has a
deadline, which grows with what has arrived (a slow link that keeps moving is not cut off);
past it, it is a timeout like any other (retried for a read)."""

from __future__ import annotations

import gzip
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from entrasync.adapters.http import RetryPolicy, TransportError, send

Serve = Callable[..., tuple[str, list[float]]]


@pytest.fixture
def slow_server() -> Iterator[Serve]:
    """A loopback server that sends its headers, then ``body`` in pieces of ``piece`` bytes,
    one every ``pause`` seconds; the time each request arrived."""
    listener = socket.create_server(("127.0.0.1", 0))
    arrivals: list[float] = []
    stop = threading.Event()
    shape: list[tuple[bytes, int, float, str]] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            body, piece, pause, extra = shape[0]
            with conn:
                conn.recv(65536)
                arrivals.append(time.monotonic())
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
                conn.sendall(head.encode())
                for at in range(0, len(body), piece):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(body[at : at + piece])
                    except OSError:
                        break
                    time.sleep(pause)

    thread = threading.Thread(target=serve, daemon=True)

    def start(body: bytes, piece: int, pause: float, extra: str = "") -> tuple[str, list[float]]:
        shape.append((body, piece, pause, extra))
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
    url, arrivals = slow_server(b"x" * 1000, 1, 0.05)  # a byte every 0.05 s
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
    url, arrivals = slow_server(b"x" * 8 * 32 * 1024, 32 * 1024, 0.15)  # 1.2 s, past 0.5 s
    policy = RetryPolicy(max_retries=0, answer_deadline=0.5)
    with httpx.Client(timeout=5) as client:
        response = send(client, "GET", url, policy=policy)
    assert len(response.content) == 8 * 32 * 1024
    assert len(arrivals) == 1


def test_a_compressed_trickle_earns_no_time_for_what_it_decodes_to(slow_server: Serve) -> None:
    """Counted as decoded, a few gzip bytes a second that decode to megabytes bought a second
    per 16 KB: hours per attempt."""
    body = gzip.compress(b"\0" * 8 * 1024 * 1024)
    url, _ = slow_server(body, 64, 0.02, "Content-Encoding: gzip\r\n")
    policy = RetryPolicy(max_retries=0, answer_deadline=0.5)
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, pytest.raises(TransportError, match="ReadTimeout"):
        send(client, "GET", url, policy=policy)
    assert time.monotonic() - started < 2.5  # 0.5 s, and at most 3 times more for what moved


def test_pieces_that_decode_to_nothing_still_count_against_the_deadline(
    slow_server: Serve,
) -> None:
    """Empty gzip blocks decode to nothing, so a check made on decoded bytes never ran."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    empty_block = b"\x00\x00\x00\xff\xff"  # a stored deflate block holding nothing
    end = b"\x03\x00" + b"\x00" * 8  # the last (empty) block, then the CRC and size of nothing
    body = header + empty_block * 400 + end
    url, _ = slow_server(body, len(empty_block), 0.02, "Content-Encoding: gzip\r\n")
    policy = RetryPolicy(max_retries=0, answer_deadline=0.5)
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, pytest.raises(TransportError, match="ReadTimeout"):
        send(client, "GET", url, policy=policy)
    assert time.monotonic() - started < 2.5  # not the 8 s the whole body takes

"""The shared retry policy and the throttle gate: one 429 holds every worker of a client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from entrasync.http import RetryPolicy, ThrottleGate, TransportError, parse_retry_after, send
from tests.unit.fake_time import FakeTime

URL = "https://api.example.test/thing"
POLICY = RetryPolicy(max_retries=3, base_delay=0.25, max_delay=5.0, jitter=lambda: 1.0)
Handler = Callable[[httpx.Request], httpx.Response]


def http(handler: Handler, time_: FakeTime, arrivals: list[float]) -> httpx.Client:
    """A client whose server notes the (fake) instant each request arrives."""

    def record(request: httpx.Request) -> httpx.Response:
        arrivals.append(time_.clock())
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record))


def answers(*responses: httpx.Response) -> Handler:
    queue = list(responses)
    return lambda _request: queue.pop(0) if queue else httpx.Response(200)


def throttled(status: int = 429, retry_after: str | None = "2") -> httpx.Response:
    return httpx.Response(status, headers={"Retry-After": retry_after} if retry_after else {})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10", 10.0),
        ("2.128", 2.128),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
    ids=[
        "whole seconds are read as seconds",
        "fractional seconds are kept",
        "zero with spaces is zero",
        "a negative value means no wait",
        "an HTTP date in the past means no wait",
        "garbage is no Retry-After at all",
        "a missing header is no Retry-After",
    ],
)
def test_retry_after_is_parsed(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_an_http_date_retry_after_counts_from_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_a_429_on_one_worker_delays_the_other_workers_next_send_until_retry_after() -> None:
    clock = FakeTime()
    gate = ThrottleGate(POLICY.max_delay, clock=clock.clock, sleep=clock.sleep)
    first: list[float] = []
    other: list[float] = []
    one = http(answers(throttled(retry_after="2")), clock, first)
    two = http(answers(), clock, other)
    # Worker one is throttled and has no retries left: it gives up, but the gate stays shut.
    no_retry = RetryPolicy(max_retries=0)
    assert send(one, "POST", URL, policy=no_retry, gate=gate).status_code == 429
    clock.advance(0.5)  # worker two comes along half a second later
    assert send(two, "GET", URL, policy=POLICY, gate=gate).status_code == 200
    assert (first, other) == ([0.0], [2.0])  # not a moment before the Retry-After instant
    assert clock.slept == [1.5]


@pytest.mark.parametrize(
    ("response", "holds_others"),
    [
        (throttled(429, "2"), True),
        (throttled(429, None), True),
        (throttled(503, "2"), True),
        (throttled(503, None), False),
        (throttled(504, "2"), False),
    ],
    ids=[
        "a 429 with Retry-After holds every worker",
        "a 429 without Retry-After holds every worker for the backoff",
        "a 503 with Retry-After holds every worker",
        "a 503 without Retry-After only delays its own retry",
        "a 504 only delays its own retry",
    ],
)
def test_which_answers_hold_the_whole_client(response: httpx.Response, holds_others: bool) -> None:
    clock = FakeTime()
    gate = ThrottleGate(POLICY.max_delay, clock=clock.clock, sleep=clock.sleep)
    own: list[float] = []
    sent = send(
        http(answers(response), clock, own), "GET", URL, policy=POLICY, sleep=clock.sleep, gate=gate
    )
    assert sent.status_code == 200
    backoff = 2.0 if response.headers.get("Retry-After") else POLICY.base_delay
    assert own == [0.0, backoff]
    assert gate.wait() == 0.0  # open again once the retry went out
    assert gate.holds == (1 if holds_others else 0)


def test_the_gate_never_waits_longer_than_the_cap() -> None:
    clock = FakeTime()
    gate = ThrottleGate(5.0, clock=clock.clock, sleep=clock.sleep)
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="3600")), clock, arrivals)
    assert send(client, "GET", URL, policy=POLICY, gate=gate).status_code == 200
    assert gate.hold(10_000.0) == 5.0
    assert gate.wait() == 5.0
    assert arrivals == [0.0, 5.0]
    assert clock.slept == [5.0, 5.0]


def test_a_shorter_retry_after_never_opens_the_gate_early() -> None:
    clock = FakeTime()
    gate = ThrottleGate(60.0, clock=clock.clock, sleep=clock.sleep)
    gate.hold(4.0)
    clock.advance(1.0)
    assert gate.hold(1.0) == 3.0  # the earlier, later instant stands
    assert gate.wait() == 3.0
    assert clock.now == 4.0


def test_a_hold_made_while_a_worker_sleeps_extends_its_wait() -> None:
    clock = FakeTime()
    gate = ThrottleGate(60.0, clock=clock.clock, sleep=lambda s: sleeping(s))

    def sleeping(seconds: float) -> None:
        if not clock.slept:  # a second worker is throttled one second into this wait
            clock.advance(1.0)
            gate.hold(4.0)
            clock.advance(seconds - 1.0)
            clock.slept.append(seconds)
        else:
            clock.sleep(seconds)

    gate.hold(2.0)
    assert gate.wait() == 5.0
    assert clock.slept == [2.0, 3.0]
    assert clock.now == 5.0


def test_a_sleep_that_returns_early_does_not_make_the_gate_spin() -> None:
    naps: list[float] = []
    gate = ThrottleGate(60.0, clock=lambda: 0.0, sleep=naps.append)
    gate.hold(2.0)
    gate.wait()
    assert naps == [2.0]  # one sleep per instant, however the sleep behaves


def test_without_a_gate_each_request_backs_off_alone() -> None:
    clock = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="2"), throttled(retry_after="1")), clock, arrivals)
    assert send(client, "GET", URL, policy=POLICY, sleep=clock.sleep).status_code == 200
    assert arrivals == [0.0, 2.0, 3.0]


def test_a_connection_error_neither_holds_the_gate_nor_retries_a_post() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = FakeTime()
    gate = ThrottleGate(60.0, clock=clock.clock, sleep=clock.sleep)
    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError, match="could not reach the server: ConnectError"):
        send(client, "POST", URL, policy=POLICY, sleep=clock.sleep, gate=gate)
    assert (gate.holds, clock.slept) == (0, [])


class RecordingGate(ThrottleGate):
    """Notes when each hold took effect (real monotonic time)."""

    def __init__(self, max_delay: float) -> None:
        super().__init__(max_delay)
        self.held_at: list[float] = []

    def hold(self, delay: float) -> float:
        seconds = super().hold(delay)
        self.held_at.append(time.monotonic())
        return seconds


def test_parallel_workers_share_one_gate_without_deadlock_and_none_is_lost() -> None:
    """Real threads and time: every 7th answer is a 429 with Retry-After 0.05 s."""
    lock = threading.Lock()
    log: list[tuple[float, int]] = []  # (arrival, status) as the server saw them

    def server(_request: httpx.Request) -> httpx.Response:
        with lock:
            status = 429 if len(log) % 7 == 6 else 200
            log.append((time.monotonic(), status))
        return throttled(retry_after="0.05") if status == 429 else httpx.Response(200)

    gate = RecordingGate(1.0)
    client = httpx.Client(transport=httpx.MockTransport(server))
    done: list[int] = []

    def worker() -> None:
        for _ in range(10):
            policy = RetryPolicy(max_retries=10, max_delay=1.0)
            done.append(send(client, "GET", URL, policy=policy, gate=gate).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert done == [200] * 80
    throttles = sum(1 for _, status in log if status == 429)
    assert len(log) == 80 + throttles
    assert len(gate.held_at) == throttles
    for held in gate.held_at:
        # Only requests already past the gate (one per other worker) may land inside the
        # Retry-After window; without the gate dozens would.
        inside = [at for at, _ in log if held < at < held + 0.03]
        assert len(inside) <= 7

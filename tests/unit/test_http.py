"""The shared retry policy, the throttle gate (Graph: one 429 holds every worker of a client)
and the adaptive limit (SCIM: a 429 halves the requests in flight, successes grow them back)."""

from __future__ import annotations

import base64
import gc
import gzip
import os
import shlex
import socket
import ssl
import sys
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
import requests
import requests.adapters

from entrasync.adapters.graph.msal_session import requests_session
from entrasync.adapters.http import (
    AnswerTooLarge,
    RetryPolicy,
    TransportError,
    answered_after,
    asked_to_wait,
    new_client,
    parse_retry_after,
    retry_after,
    send,
)
from entrasync.adapters.proxy import proxy_for, proxy_variables
from entrasync.adapters.throttle import (
    Abandoned,
    AdaptiveLimit,
    ThrottleGate,
    end_waits,
    pause,
    reset_waits,
)
from entrasync.core.redact import WITHHELD, redact
from entrasync.errors import EntrasyncError
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
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        (None, None),
        ("Mon, 01 Jan 99999999999 00:00:00 GMT", None),
    ],
    ids=[
        "whole seconds are read as seconds",
        "fractional seconds are kept",
        "zero with spaces is zero",
        "a negative value is no Retry-After (seconds are digits)",
        "nan is no Retry-After (it was an immediate retry)",
        "infinity is no Retry-After",
        "a number past any float is no Retry-After",
        "an HTTP date in the past means no wait",
        "garbage is no Retry-After at all",
        "a missing header is no Retry-After",
        "a date past any calendar is no Retry-After (it was an OverflowError)",
    ],
)
def test_retry_after_is_parsed(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_an_http_date_retry_after_counts_from_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


@pytest.mark.parametrize(
    ("date", "seconds"),
    [
        ("Wed, 21 Oct 2015 07:27:55 GMT", 5.0),
        ("Wed, 21 Oct 2015 07:27:55 -0000", 5.0),
        (None, 0.0),  # from this machine's clock, long past that date
        ("yesterday", 0.0),  # no date: this machine's clock
    ],
    ids=["from the answer's Date", "a Date in -0000", "no Date", "a Date that is none"],
)
def test_an_http_date_retry_after_counts_from_the_answers_own_date(
    date: str | None, seconds: float
) -> None:
    # A server whose clock ran ten minutes ahead asked for 5 s, and entrasync read 605 s: over
    # the 300 s it waits out, which stopped the whole apply.
    headers = httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    if date is not None:
        headers["Date"] = date
    assert retry_after(headers) == seconds


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
    # Longer than the cap, not than longest_asked: waited out, for the cap at most.
    client = http(answers(throttled(retry_after="200")), clock, arrivals)
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


@pytest.mark.parametrize("gated", [False, True], ids=["alone", "at the shared gate"])
def test_a_retry_after_longer_than_any_backoff_is_waited_out_in_full(gated: bool) -> None:
    # Capped at the backoff's 5 s, the request went out again at 5, 10 and 15 s, each answered
    # 429 while the server still said to wait, and the read ended "kept answering 429".
    clock = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="20")), clock, arrivals)
    gate = ThrottleGate(POLICY.longest_asked, clock=clock.clock, sleep=clock.sleep)
    shared = gate if gated else None
    response = send(client, "GET", URL, policy=POLICY, sleep=clock.sleep, gate=shared)
    assert (response.status_code, arrivals) == (200, [0.0, 20.0])


def test_one_requests_waits_together_stop_at_the_longest_wait_asked() -> None:
    # Each Retry-After of 120 s is waited out, but a third would pass 300 s in all: six of
    # them held an apply at one write at a time for twelve minutes a write.
    clock = FakeTime()
    arrivals: list[float] = []
    client = http(lambda _request: throttled(retry_after="120"), clock, arrivals)
    policy = replace(POLICY, max_retries=6)
    response = send(client, "GET", URL, policy=policy, sleep=clock.sleep)
    assert (response.status_code, arrivals) == (429, [0.0, 120.0, 240.0])


@pytest.mark.parametrize(
    ("refused_is_throttle", "arrivals_then"), [(True, [0.0, 2.0]), (False, [0.0])]
)
def test_a_403_with_retry_after_is_a_throttle_only_where_the_client_says_so(
    refused_is_throttle: bool, arrivals_then: list[float]
) -> None:
    # GitHub answers a secondary rate limit with a 403 or a 429: the 403 failed the job, though
    # GitHub had said to wait 2 s.
    clock = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(403, retry_after="2")), clock, arrivals)
    response = send(
        client,
        "GET",
        URL,
        policy=POLICY,
        sleep=clock.sleep,
        refused_is_throttle=refused_is_throttle,
    )
    assert (response.status_code, arrivals) == (
        200 if refused_is_throttle else 403,
        arrivals_then,
    )
    plain = http(answers(httpx.Response(403)), clock, arrivals := [])
    assert send(plain, "GET", URL, policy=POLICY, refused_is_throttle=True).status_code == 403
    assert len(arrivals) == 1  # a 403 without Retry-After is a refusal


def test_a_server_asking_for_longer_than_entrasync_waits_is_not_retried_and_says_so() -> None:
    # Waited 60 s and asked again six times, then "run again in a few minutes": an hour was asked.
    clock = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="3600"), httpx.Response(200)), clock, arrivals)
    response = send(client, "GET", URL, policy=POLICY, sleep=clock.sleep)
    assert (response.status_code, arrivals) == (429, [0.0])
    assert asked_to_wait(response) == (
        ", and asked to wait 3,600 s (Retry-After), longer than entrasync waits"
    )
    assert asked_to_wait(throttled(retry_after="300")) == ""  # waited out, as before
    refused = httpx.Response(400, headers={"Retry-After": "3600"})  # a gateway's, on any error
    assert asked_to_wait(refused) == ""


@pytest.mark.parametrize(("resend", "sent"), [(None, 1), (True, 2)])
def test_a_write_answered_504_is_sent_again_only_when_a_second_copy_does_no_harm(
    resend: bool | None, sent: int
) -> None:
    """A 504 may follow a write the server made: a comment posted again is two comments."""
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(504, retry_after=None), httpx.Response(201)), time_, arrivals)
    response = send(client, "POST", URL, policy=POLICY, sleep=time_.sleep, resend=resend)
    assert (response.status_code, len(arrivals)) == ((504, 201)[sent - 1], sent)


@pytest.mark.parametrize(
    ("first", "outcome"),
    [
        (throttled(504, retry_after=None), 504),
        (throttled(504, "1"), 504),
        (throttled(503, "0"), 429),
    ],
    ids=[
        "a 504: the outcome, so that apply reads the user back (and goes on with the others)",
        "a 504 with Retry-After: a gateway's, which may follow a write carried out",
        "a 503 with Retry-After: a throttle, which the server did not carry out",
    ],
)
def test_which_first_answer_a_write_throttled_to_the_end_ends_as(
    first: httpx.Response, outcome: int
) -> None:
    """The last answer, a 429, says nothing of the first attempt the server may have made."""
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(first, *[throttled(429, "0")] * 3), time_, arrivals)
    response = send(client, "PATCH", URL, policy=POLICY, sleep=time_.sleep, resend=True)
    assert (response.status_code, len(arrivals)) == (outcome, 4)


@pytest.mark.parametrize(
    ("resend", "retry", "outcome"),
    [
        (True, 401, 503),  # a SCIM write: the token revoked meanwhile; apply reads it back
        (True, 409, 409),  # the server's own word on the write: apply looks the user up
        (True, 412, 412),
        (None, 401, 401),  # a comment: the platform's refusal keeps its hint
        (None, 422, 422),
    ],
)
def test_which_refusal_of_a_retry_gives_way_to_the_5xx_that_may_have_made_the_write(
    resend: bool | None, retry: int, outcome: int
) -> None:
    time_ = FakeTime()
    client = http(answers(throttled(503, retry_after=None), httpx.Response(retry)), time_, [])
    response = send(client, "POST", URL, policy=POLICY, sleep=time_.sleep, resend=resend)
    assert response.status_code == outcome


def test_a_write_answered_504_whose_retry_cannot_connect_may_have_been_made() -> None:
    sent: list[httpx.Request] = []

    def first_504_then_refused(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(504)
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(first_504_then_refused))
    time_ = FakeTime()
    with pytest.raises(TransportError) as caught:
        send(client, "PATCH", URL, policy=POLICY, sleep=time_.sleep, resend=True, what="X")
    assert caught.value.message == (
        "sent a write to X, answered 504, then lost the connection retrying it (ConnectError): "
        "it may have been carried out"
    )
    assert len(sent) == 2


@pytest.mark.parametrize(
    ("statuses", "after"),
    [((504, 412), 504), ((504, 504), 504), ((504,), None), ((412,), None)],
    ids=["a 412 after a 504", "a 504 after a 504", "one 504, not sent again", "one 412"],
)
def test_a_final_answer_says_the_5xx_of_an_earlier_attempt_and_only_that(
    statuses: tuple[int, ...], after: int | None
) -> None:
    left = list(statuses)

    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(left.pop(0) if len(left) > 1 else left[0])

    client = httpx.Client(transport=httpx.MockTransport(server))
    policy = replace(POLICY, max_retries=len(statuses) - 1)
    response = send(client, "PATCH", URL, policy=policy, sleep=FakeTime().sleep, resend=True)
    assert (response.status_code, answered_after(response)) == (statuses[-1], after)


def test_a_read_answered_5xx_then_throttled_to_the_end_is_the_last_answer() -> None:
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(504, None), *[throttled(429, "0")] * 3), time_, arrivals)
    response = send(client, "GET", URL, policy=POLICY, sleep=time_.sleep)
    assert (response.status_code, len(arrivals)) == (429, 4)


def test_a_connection_error_neither_holds_the_gate_nor_retries_a_post() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = FakeTime()
    gate = ThrottleGate(60.0, clock=clock.clock, sleep=clock.sleep)
    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError, match="could not reach the server: ConnectError"):
        send(client, "POST", URL, policy=POLICY, sleep=clock.sleep, gate=gate)
    assert (gate.holds, clock.slept) == (0, [])


def in_threads(workers: int, call: Callable[[], int], each: int = 10) -> list[int]:
    """``call`` ``each`` times on each of ``workers`` threads; fails on a deadlock."""
    done: list[int] = []

    def worker() -> None:
        done.extend(call() for _ in range(each))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    return done


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

    policy = RetryPolicy(max_retries=10, max_delay=1.0)
    done = in_threads(8, lambda: send(client, "GET", URL, policy=policy, gate=gate).status_code)
    assert done == [200] * 80
    throttles = sum(1 for _, status in log if status == 429)
    assert len(log) == 80 + throttles
    assert len(gate.held_at) == throttles
    for held in gate.held_at:
        # Only requests already past the gate (one per other worker) may land inside the
        # Retry-After window; without the gate dozens would.
        inside = [at for at, _ in log if held < at < held + 0.03]
        assert len(inside) <= 7


def throttle_at(
    limit: AdaptiveLimit, clock: FakeTime, at: float, retry_after: float | None
) -> None:
    clock.now = at
    limit.acquire()
    limit.release(True, retry_after=retry_after)


@pytest.mark.parametrize(
    ("retry_after", "window"),
    [(2.0, 2.0), (None, 1.0), (0.0, 1.0)],
    ids=[
        "the window is the Retry-After",
        "without a Retry-After the window is one second",
        "a Retry-After of zero still opens a one-second window",
    ],
)
def test_a_burst_of_throttles_halves_the_limit_once_per_window(
    retry_after: float | None, window: float
) -> None:
    clock = FakeTime()
    limit = AdaptiveLimit(16, clock=clock.clock)
    for _ in range(10):  # ten 429s from one overload
        throttle_at(limit, clock, 0.0, retry_after)
    assert (limit.limit, limit.cuts) == (8, 1)
    throttle_at(limit, clock, window - 0.01, retry_after)
    assert (limit.limit, limit.cuts) == (8, 1)
    throttle_at(limit, clock, window, retry_after)  # a new window: a new overload
    assert (limit.limit, limit.cuts) == (4, 2)


def test_the_limit_never_drops_below_one_and_grows_back_additively_to_the_maximum() -> None:
    clock = FakeTime()
    limit = AdaptiveLimit(4, clock=clock.clock)
    limits = []
    for second in range(4):
        throttle_at(limit, clock, float(second), None)
        limits.append(limit.limit)
    assert limits == [2, 1, 1, 1]
    grown = []
    for _ in range(10):  # +1/limit each: 1 -> 2 -> 2.5 -> 2.9 -> 3.24 -> 3.55 -> 3.84 -> 4 (cap)
        limit.acquire()
        limit.release()
        grown.append(limit.limit)
    assert grown == [2, 2, 2, 3, 3, 3, 4, 4, 4, 4]
    assert (limit.in_flight, limit.peak) == (0, 1)


def test_right_after_a_throttle_fewer_requests_may_be_in_flight() -> None:
    limit = AdaptiveLimit(4)
    for _ in range(4):
        limit.acquire()
    limit.release(True)  # limit 4 -> 2 with three still in flight
    started = threading.Event()

    def take() -> None:
        limit.acquire()
        started.set()

    waiter = threading.Thread(target=take)
    waiter.start()
    assert not started.wait(0.05)  # 3 in flight >= 2
    limit.release()
    assert not started.wait(0.05)  # 2 in flight >= 2
    limit.release()
    assert started.wait(5)  # 1 in flight < 2: the waiter is woken, not polling
    waiter.join(5)
    assert limit.in_flight == 2


def test_a_throttled_request_sleeps_its_retry_after_without_holding_a_slot() -> None:
    clock = FakeTime()
    limit = AdaptiveLimit(1, clock=clock.clock)
    held_while_asleep: list[int] = []

    def sleep(seconds: float) -> None:
        held_while_asleep.append(limit.in_flight)
        clock.sleep(seconds)

    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="2"), throttled(503, "1")), clock, arrivals)
    assert send(client, "POST", URL, policy=POLICY, sleep=sleep, limit=limit).status_code == 200
    assert (arrivals, held_while_asleep, clock.slept) == ([0.0, 2.0, 3.0], [0, 0], [2.0, 1.0])
    # The 503 came after the 429's 2 s window: a second cut, which 1 survives as 1.
    assert (limit.in_flight, limit.cuts, limit.limit) == (0, 2, 1)


@pytest.mark.parametrize(
    "response",
    [throttled(503, None), throttled(504, "2"), httpx.Response(500)],
    ids=[
        "a 503 without Retry-After neither halves nor grows the limit",
        "a 504 neither halves nor grows the limit",
        "a final 500 counts as an answer: it grows the limit",
    ],
)
def test_only_throttles_halve_the_limit(response: httpx.Response) -> None:
    clock = FakeTime()
    limit = AdaptiveLimit(4, clock=clock.clock)
    throttle_at(limit, clock, 0.0, None)  # 2
    client = http(answers(response), clock, [])
    send(client, "GET", URL, policy=RetryPolicy(max_retries=0), sleep=clock.sleep, limit=limit)
    grew = response.status_code == 500
    assert (limit.limit, limit.cuts, limit.in_flight) == (2, 1, 0)
    # Two successes: 2.5 -> 2.9 -> 3.24 after a growth, 2.0 -> 2.5 -> 2.9 without one.
    for _ in range(2):
        limit.acquire()
        limit.release()
    assert limit.limit == (3 if grew else 2)


def test_a_connection_error_gives_the_slot_back_and_leaves_the_limit_alone() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    limit = AdaptiveLimit(3)
    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError):
        send(client, "GET", URL, policy=POLICY, sleep=lambda _s: None, limit=limit)
    assert (limit.in_flight, limit.limit, limit.cuts) == (0, 3, 0)


def test_many_workers_share_one_limit_without_deadlock_never_above_its_maximum() -> None:
    """Real threads: 12 workers, a limit of 4, every 7th answer a 429 (Retry-After 0.01 s)."""
    lock = threading.Lock()
    statuses: list[int] = []
    on_wire = [0, 0]  # now, peak

    def server(_request: httpx.Request) -> httpx.Response:
        with lock:
            status = 429 if len(statuses) % 7 == 6 else 200
            statuses.append(status)
            on_wire[0] += 1
            on_wire[1] = max(on_wire[1], on_wire[0])
        time.sleep(0.002)
        with lock:
            on_wire[0] -= 1
        return throttled(retry_after="0.01") if status == 429 else httpx.Response(200)

    limit = AdaptiveLimit(4, window=0.01)
    client = httpx.Client(transport=httpx.MockTransport(server))
    policy = RetryPolicy(max_retries=20, max_delay=0.05)
    done = in_threads(12, lambda: send(client, "GET", URL, policy=policy, limit=limit).status_code)
    assert done == [200] * 120
    assert len(statuses) == 120 + statuses.count(429)
    assert max(on_wire[1], limit.peak) <= 4
    assert (limit.in_flight, limit.cuts >= 1) == (0, True)
    assert 1 <= limit.limit <= 4


@pytest.mark.parametrize("limited", [False, True])
def test_a_response_and_its_body_are_freed_when_dropped_without_a_cyclic_collection(
    limited: bool,
) -> None:
    # httpx's closed stream points back at its response; with that cycle every page body
    # of a read stayed alive until the collector ran (and the plan pauses it while reading).
    body = b'{"value": []}' * 1000
    client = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    )
    gc.disable()
    try:
        response = send(
            client,
            "GET",
            "https://graph.example/v1.0/x",
            limit=AdaptiveLimit(2) if limited else None,
        )
        assert response.content == body  # the body is still there for the caller
        gone = weakref.ref(response)
        del response
        assert gone() is None
    finally:
        gc.enable()


def test_a_retry_wait_ends_within_a_quarter_second_once_the_caller_gives_up() -> None:
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="60")), time_, arrivals)
    asked: list[float] = []

    def give_up() -> bool:  # a stop arrives half a second into the wait
        asked.append(time_.clock())
        return time_.clock() >= 0.5

    response = send(client, "PATCH", URL, policy=POLICY, sleep=time_.sleep, give_up=give_up)
    assert response.status_code == 429  # the throttled write is final: it was not carried out
    assert len(arrivals) == 1
    assert sum(time_.slept) == 0.5


def test_a_caller_that_has_given_up_gets_no_retry_at_all() -> None:
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="60")), time_, arrivals)
    response = send(client, "PATCH", URL, policy=POLICY, sleep=time_.sleep, give_up=lambda: True)
    assert (response.status_code, len(arrivals), time_.slept) == (429, 1, [])


def test_a_connection_error_is_not_retried_once_the_caller_gives_up() -> None:
    time_ = FakeTime()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError):
        send(client, "GET", URL, policy=POLICY, sleep=time_.sleep, give_up=lambda: True)
    assert time_.slept == []


def test_a_signal_ending_the_command_cuts_short_every_wait_before_a_retry() -> None:
    """The clients' default wait: a reader's thread that is waiting out a Retry-After when a
    signal ends the command stops waiting, and sends nothing more."""
    arrivals: list[float] = []
    client = http(answers(throttled(retry_after="60"), httpx.Response(200)), FakeTime(), arrivals)
    threading.Timer(0.2, end_waits).start()
    started = time.monotonic()
    try:
        with pytest.raises(Abandoned):
            send(client, "GET", URL, policy=POLICY)  # the default wait, cut short
        assert time.monotonic() - started < 2
        assert len(arrivals) == 1
        with pytest.raises(Abandoned):
            pause(0.01)  # and every later one, until the next command resets it
    finally:
        reset_waits()
    pause(0.01)


def test_no_request_starts_once_a_signal_ends_the_command() -> None:
    arrivals: list[float] = []
    client = http(answers(httpx.Response(200)), FakeTime(), arrivals)
    end_waits()
    try:
        with pytest.raises(Abandoned):
            send(client, "GET", URL, policy=POLICY)
    finally:
        reset_waits()
    assert arrivals == []


class _StopAtTheSecondSlot(AdaptiveLimit):
    """A one-slot limit whose second taker (the retry) finds the stop requested."""

    def __init__(self) -> None:
        super().__init__(1)
        self.stopping = False

    def acquire(self) -> None:
        if self.peak:  # a slot was taken before: this is the retry
            self.stopping = True
        super().acquire()


def _send_stopping_before_the_retry(
    client: httpx.Client, method: str, sleep: Callable[[float], None]
) -> httpx.Response:
    """``send`` whose retry waits for the slot the first attempt took, and finds the stop."""
    limit = _StopAtTheSecondSlot()
    give_up = lambda: limit.stopping  # noqa: E731
    return send(
        client, method, URL, policy=POLICY, sleep=sleep, limit=limit, give_up=give_up, resend=True
    )


def test_a_retry_not_sent_after_a_stop_leaves_the_last_answer_final() -> None:
    """A write answered 504 (it may have been made) whose retry waited for a slot while the
    stop came: the 504 is the outcome, recorded as failed, never "not attempted"."""
    time_ = FakeTime()
    arrivals: list[float] = []
    client = http(answers(throttled(504, retry_after=None), httpx.Response(200)), time_, arrivals)
    response = _send_stopping_before_the_retry(client, "PATCH", time_.sleep)
    assert (response.status_code, len(arrivals)) == (504, 1)


def test_a_read_whose_connection_failed_and_whose_retry_a_stop_held_back_is_an_error() -> None:
    """No answer to make final: the read says it could not reach the server, and stops."""
    time_ = FakeTime()
    sent: list[httpx.Request] = []

    def refuse_once(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse_once))
    with pytest.raises(TransportError) as caught:
        _send_stopping_before_the_retry(client, "GET", time_.sleep)
    assert "and entrasync stopped before retrying" in caught.value.message
    assert len(sent) == 1


def test_an_answer_that_decodes_past_the_size_bound_is_not_read_further() -> None:
    """A gzip answer of a few KB that decodes to gigabytes ended in a MemoryError traceback."""
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
        )
    )
    policy = RetryPolicy(max_answer_bytes=1024 * 1024)
    with pytest.raises(AnswerTooLarge) as caught:
        send(client, "GET", "https://scim.example/Users", policy=policy)
    assert caught.value.message == (
        "scim.example answered with more than 1 MB; entrasync read no further"
    )


def test_a_compressed_answer_within_the_bound_reads_as_sent() -> None:
    body = b'{"value": [' + b'{"id": "1"},' * 1000 + b'{"id": "2"}]}'
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(
                200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
            )
        )
    )
    response = send(client, "GET", "https://graph.example/v1.0/x")
    assert response.content == body
    assert len(response.json()["value"]) == 1001
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(body))


def test_an_answer_with_a_header_that_is_not_ascii_is_read_as_sent() -> None:
    """A gateway's localised header (a 401's error_description): decoded and encoded again as
    ASCII, it ended every read in a UnicodeEncodeError traceback."""
    said = 'Bearer error_description="Jeton expiré"'.encode()
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(401, headers=[(b"WWW-Authenticate", said)], content=b"{}")
        )
    )
    response = send(client, "GET", "https://scim.example/Users")
    assert response.status_code == 401
    assert response.headers.raw == [(b"WWW-Authenticate", said), (b"Content-Length", b"2")]


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ALL_PROXY", "socks5://127.0.0.1:9", "ALL_PROXY names a SOCKS proxy, and httpx's SOCKS"),
        ("all_proxy", "socks://127.0.0.1:9/", "all_proxy holds a URL that cannot be used"),
        ("HTTPS_PROXY", "ftp://user:fake-proxy-password@proxy:9", "HTTPS_PROXY holds a URL"),
        ("HTTP_PROXY", "http://[::1", "HTTP_PROXY holds a URL that cannot be used"),
        ("NO_PROXY", "localhost,fd00::/8", "NO_PROXY (or no_proxy) holds an entry that cannot"),
    ],
)
def test_a_proxy_variable_httpx_cannot_use_is_an_error_naming_it(
    variable: str, value: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx reads them when the client is made: a ValueError or an ImportError, which the
    demo and every real run called a bug. The URL is not quoted: it may hold a password."""
    monkeypatch.setitem(sys.modules, "socksio", None)  # as where it is not installed
    for name in ("ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(variable, value)
    with new_client({}) as client, pytest.raises(EntrasyncError) as caught:
        client.get("https://graph.example.com/v1.0/groups")
    assert said in caught.value.message
    assert "fake-proxy-password" not in f"{caught.value.message} {caught.value.hint}"


def test_the_socks_hint_is_the_pip_of_entrasyncs_own_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bare `pip install` installs into whatever pip is first on PATH (not pipx's venv)."""
    monkeypatch.setitem(sys.modules, "socksio", None)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:9")
    with new_client({}) as client, pytest.raises(EntrasyncError) as caught:
        client.get("https://graph.example.com/v1.0/groups")
    pip = [sys.executable, "-m", "pip", "install", "httpx[socks]", "requests[socks]"]
    assert caught.value.hint == f"install it for both ({shlex.join(pip)}) or unset HTTPS_PROXY"


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTPS_PROXY": "http://a:1"},
        {"https_proxy": "http://a:1", "HTTPS_PROXY": "http://b:1"},
        {"https_proxy": "", "HTTPS_PROXY": "http://b:1"},
        {"https_proxy": "http://a:1", "HTTPS_PROXY": ""},
        {"Https_Proxy": "http://a:1"},
        {"HTTPS_proxy": "http://a:1"},
        {"HTTPS_PROXY": "http://a:1", "HTTPS_proxy": ""},
        {"ALL_PROXY": "http://a:1"},
        {"http_proxy": "http://a:1"},
        {"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://a:1"},
        {"REQUEST_METHOD": "GET", "http_proxy": "http://a:1"},
        {"REQUEST_METHOD": "GET", "HTTPS_PROXY": "http://a:1"},
        {"FTP_PROXY": "http://a:1", "no_proxy": "x"},
    ],
)
def test_the_proxy_variables_are_those_urllib_reads(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx and requests take their proxies from urllib: the variable an error names must be
    the one it read, whatever the case of its name."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    read = urllib.request.getproxies_environment()
    wanted = {s: v for s, v in read.items() if s in ("https", "http", "all")}
    assert {s: os.environ[name] for s, name in proxy_variables().items()} == wanted


@pytest.mark.parametrize("proxy", ["squid:3128", "u:fake-proxy-password@proxy.example:3128"])
def test_a_proxy_without_a_scheme_is_read_as_requests_reads_it(
    proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests reads `squid:3128` as the scheme `squid`: msal then told it as a tenant that
    does not answer. httpx reads it as http://squid:3128."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    session = requests_session(ssl.create_default_context())
    with pytest.raises(EntrasyncError) as caught:
        session.request("GET", "https://login.example.com/tenant/v2.0/.well-known/openid")
    said = f"{caught.value.message} {caught.value.hint}"
    assert caught.value.message.startswith("HTTPS_PROXY holds a URL requests "), said
    assert "fake-proxy-password" not in said


@pytest.mark.parametrize("builder", ["httpx", "requests"])
def test_a_proxy_password_is_masked_wherever_a_proxy_echoes_it(
    builder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's refusal may quote the credentials it was sent (urllib3 logs it at -vv): the
    password, as written in the URL, decoded, or inside the Basic header's base64."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    password = f"fake-proxy-{builder}-pass%40word-for-tests"
    monkeypatch.setenv("HTTPS_PROXY", f"http://proxyuser:{password}@proxy.example:3128")
    decoded = password.replace("%40", "@")
    basic = base64.b64encode(f"proxyuser:{decoded}".encode()).decode()
    echoes = [f"407 for proxyuser:{password}", f"407 for {decoded}", f"Basic {basic}"]
    assert [redact(echo) for echo in echoes] == echoes  # nothing known before a client is made
    if builder == "httpx":
        new_client().close()
    else:
        requests_session(ssl.create_default_context()).close()
    told = [redact(echo) for echo in echoes]
    assert told[1:] == ["407 for ***", "Basic ***"]
    assert told[0] in ("407 for proxyuser:***", "407 for ***", WITHHELD)  # escaped: masked, or
    # the text withheld


@pytest.mark.parametrize(
    ("password", "echo"),
    [
        # Too short alone to mask (it would mask words): with its user, it is not.
        ("Pr0xy!7", "407 bad credentials alice:Pr0xy!7"),
        # requests (msal's token session) encodes Basic in Latin-1, httpx in UTF-8.
        ("cäsar-fake-9", "Proxy-Authorization: Basic YWxpY2U6Y+RzYXItZmFrZS05"),
    ],
    ids=["a short password, with its user", "Basic in Latin-1"],
)
def test_a_proxy_password_is_masked_in_the_forms_a_proxy_echoes(
    password: str, echo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("https_proxy", f"http://alice:{password}@proxy.example:3128")
    assert redact(echo) == echo
    new_client().close()
    assert password not in redact(echo)
    assert echo.split()[-1] not in redact(echo)


def test_the_proxy_named_is_the_first_httpx_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx builds the http proxy first: with both broken, that is the one it refused."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HTTPS_PROXY", "ftp://a:1")
    monkeypatch.setenv("HTTP_PROXY", "socks4://b:1")
    with new_client({}) as client, pytest.raises(EntrasyncError) as caught:
        client.get("https://graph.example.com/v1.0/groups")
    assert caught.value.message.startswith("HTTP_PROXY holds a URL that cannot be used"), (
        caught.value.message
    )


def test_a_request_the_proxy_did_not_fail_is_not_blamed_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    session = requests_session(ssl.create_default_context())
    with pytest.raises(ValueError, match="99999"):
        session.request("GET", "https://login.example.com:99999/tenant")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://[bad:9"}, "https_proxy"),
        ({"HTTPS_PROXY": "socks4://h:1", "https_proxy": "http://[bad:9"}, "https_proxy"),
        (
            {"HTTPS_PROXY": "http://[bad:9", "https_proxy": "", "ALL_PROXY": "http://[bad2:9"},
            "ALL_PROXY",
        ),
    ],
    ids=["both spellings", "the other spelling httpx refuses", "an empty one turns its other off"],
)
def test_the_proxy_variable_named_is_the_one_requests_read(
    environ: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests reads the lower-case one, which is then the one to fix (urllib's order)."""
    for name in ("ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    session = requests_session(ssl.create_default_context())
    with pytest.raises(EntrasyncError) as caught:
        session.request("GET", "https://login.example.com/tenant/v2.0/.well-known/openid")
    assert caught.value.message.startswith(f"{named} holds a URL requests "), caught.value.message


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "ALL_PROXY",
            "socks5://127.0.0.1:9",
            "ALL_PROXY names a SOCKS proxy, and requests' SOCKS support is not installed",
        ),
        (
            "HTTPS_PROXY",
            "ftp://proxy.example:9",
            "HTTPS_PROXY holds a URL requests (which fetches the token) cannot use as a proxy",
        ),
        (
            "HTTPS_PROXY",
            "http://[bad:9",  # httpx takes it (and then cannot reach it), requests does not
            "HTTPS_PROXY holds a URL requests (which fetches the token) cannot use as a proxy",
        ),
        (  # requests failed with a TypeError, which msal told as the tenant's
            "HTTPS_PROXY",
            "http://user:fake-proxy-password@",
            "HTTPS_PROXY holds a URL requests (which fetches the token) cannot use as a proxy",
        ),
    ],
)
def test_the_token_request_through_a_proxy_it_cannot_use_says_so(
    variable: str, value: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests (msal's) raised a ValueError, which msal told as "Unable to get authority
    configuration": the tenant blamed for a proxy variable."""
    monkeypatch.setitem(sys.modules, "socks", None)  # PySocks, as where it is not installed
    for name in ("ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(variable, value)
    session = requests_session(ssl.create_default_context())
    with pytest.raises(EntrasyncError) as caught:
        session.request("GET", "https://login.example.com/tenant/v2.0/.well-known/openid")
    assert caught.value.message == said


def test_a_connection_that_fails_where_a_proxy_is_set_names_the_proxy_in_its_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead proxy was "could not reach Microsoft Graph: ConnectError", with a hint to check
    the URL: nothing said a proxy was in the way. (Whether NO_PROXY exempts the host is
    httpx's to read, so the hint names the variable without claiming the proxy failed.)"""
    for name in ("ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with socket.socket() as unused:  # a loopback port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    with new_client({}) as client, pytest.raises(TransportError) as caught:
        send(
            client,
            "GET",
            "https://graph.example.com/v1.0/groups",
            policy=RetryPolicy(max_retries=0),
            what="Microsoft Graph",
        )
    assert caught.value.message.startswith("could not reach Microsoft Graph: ConnectError")
    assert caught.value.hint == (
        "check the URL and the network; HTTPS_PROXY is set: unless NO_PROXY names this host, "
        "the request goes through that proxy, so check it too"
    )
    assert proxy_for(httpx.URL("https://127.0.0.1:8443/v2")) is None  # loopback: direct


@pytest.mark.parametrize("no_proxy", ["*", "login.example.com"])
def test_a_proxy_variable_no_request_uses_is_not_refused(
    no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token request's proxy NO_PROXY keeps it from (`*`: every request) is not checked:
    the check before the request refused such setups, which worked."""
    for name in ("ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:fake-proxy-password@")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    session = requests_session(ssl.create_default_context())
    session.mount("https://login.example.com", _Answering())  # no socket: answered here
    response = session.request("GET", "https://login.example.com/tenant/v2.0/.well-known")
    assert response.status_code == 200


class _Answering(requests.adapters.BaseAdapter):
    """Answers every request 200 itself."""

    def send(  # type: ignore[override]  # the options requests passes are not read
        self, request: requests.PreparedRequest, **_: Any
    ) -> requests.Response:
        response = requests.Response()
        response.status_code, response.url = 200, str(request.url)
        return response

    def close(self) -> None:
        pass

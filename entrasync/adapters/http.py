"""The one place HTTP retries, Retry-After and transport safety live (Graph and SCIM share it).

Policy (https://learn.microsoft.com/graph/throttling): retry 429/503/504 on any method,
honouring ``Retry-After`` (seconds, fractional seconds or an HTTP date), else exponential
backoff with full jitter, both capped; retry connection errors and timeouts only for
idempotent requests; never retry any other 4xx.

A throttle is about the client, not one request, and the two APIs answer it differently:

- Microsoft Graph documents its throttling as a budget shared per app and tenant, so a 429 on
  one request means every other request would meet it too: a :class:`ThrottleGate` shared by
  every worker of the client holds them all back until the server's Retry-After instant.
- NeuralTrust's SCIM endpoint documents no limits, and a 429 there may be one busy moment
  rather than an exhausted budget: stopping every writer for each one would cap apply at one
  Retry-After per throttle. An :class:`AdaptiveLimit` slows down instead (AIMD, as TCP
  congestion control and the AWS SDKs' adaptive retry mode do): a throttle halves the requests
  allowed in flight, successes grow them back, and only the throttled request waits its
  Retry-After.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from entrasync.adapters.pool import DEFAULT_PARALLELISM as DEFAULT_PARALLELISM
from entrasync.adapters.urls import is_loopback_host as is_loopback_host
from entrasync.adapters.urls import require_safe_url as require_safe_url
from entrasync.errors import EntrasyncError

RETRY_STATUSES = frozenset({429, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: ``10``, ``2.128`` or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = float(when.timestamp()) - (time.time() if now is None else now)
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0  # cap for one wait, Retry-After included
    jitter: Callable[[], float] = random.random

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + float(self.jitter()) / 2)


class ThrottleGate:
    """A "not before" instant shared by every request of one API client; thread-safe.

    A 429 (or a 503 with Retry-After) on any worker closes the gate until ``now + delay``
    (a later instant already set is kept); every request waits for it before it is sent.
    One wait never exceeds ``max_delay``; the clock is monotonic and waiting is sleeping.
    """

    def __init__(
        self,
        max_delay: float = RetryPolicy.max_delay,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._not_before = float("-inf")
        self.holds = 0  # how many throttles closed or extended the gate (for logs and tests)

    def hold(self, delay: float) -> float:
        """Close the gate for ``delay`` seconds (capped) from now; the seconds until it opens."""
        with self._lock:
            now = self._clock()
            until = now + min(max(0.0, delay), self.max_delay)
            if until > self._not_before:
                self._not_before = until
                self.holds += 1
            return max(0.0, self._not_before - now)

    def wait(self) -> float:
        """Block until the gate is open; the seconds slept (0.0 when it was open)."""
        slept = 0.0
        waited_for: float | None = None
        while True:
            with self._lock:
                until = self._not_before
                remaining = until - self._clock()
            # Sleep once per instant: a sleep that returns early (a test's) cannot make this
            # spin, and an instant pushed later while asleep is waited for in turn.
            if remaining <= 0 or until == waited_for:
                return slept
            pause = min(remaining, self.max_delay)
            self._sleep(pause)
            slept += pause
            waited_for = until


class AdaptiveLimit:
    """How many requests of one client may be in flight: an AIMD limit up to ``maximum``.

    Every request holds a slot while it is on the wire (:meth:`slot`). A throttle halves the
    limit (never below 1) at most once per throttle window (the Retry-After, else
    ``window`` seconds), so a burst of 429s from one overload counts once; each success then
    adds ``1 / limit``, about one slot per limit's worth of successes, back up to ``maximum``.
    A throttled request gives its slot back before it sleeps: sleepers never hold one.
    Thread-safe; waiting for a slot blocks on a condition, never polls.
    """

    def __init__(
        self,
        maximum: int,
        *,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.window = window
        self._clock = clock
        self._limit = float(self.maximum)
        self._in_flight = 0
        self._calm_from = float("-inf")  # a throttle before this instant is the same overload
        self._changed = threading.Condition()
        self.cuts = 0  # how many throttles halved the limit (for logs and tests)
        self.peak = 0  # most requests in flight at once

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        with self._changed:
            return int(self._limit)

    @property
    def in_flight(self) -> int:
        with self._changed:
            return self._in_flight

    def acquire(self) -> None:
        """Block until fewer than :attr:`limit` requests are in flight, then take a slot."""
        with self._changed:
            while self._in_flight >= int(self._limit):
                self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)

    def release(
        self, throttled: bool = False, *, retry_after: float | None = None, grow: bool = True
    ) -> None:
        """Give a slot back: throttled, it may halve the limit; else a success grows it.

        ``grow=False`` for an answer that says nothing about load (a dropped connection).
        """
        with self._changed:
            self._in_flight -= 1
            if throttled:
                now = self._clock()
                if now >= self._calm_from:
                    self._limit = max(1.0, self._limit / 2)
                    self._calm_from = now + (retry_after or self.window)
                    self.cuts += 1
            elif grow:
                self._limit = min(float(self.maximum), self._limit + 1.0 / self._limit)
            self._changed.notify_all()

    def slot(self) -> Slot:
        """``with limit.slot() as slot:`` holds a slot; ``slot.throttled(...)`` marks it."""
        return Slot(self)


class Slot:
    """One request's hold on an :class:`AdaptiveLimit`, released on exit of the ``with``.

    The exit counts a success unless :meth:`throttled` or :meth:`neutral` said otherwise; an
    exception is neutral (it says nothing about the server's load).
    """

    def __init__(self, limit: AdaptiveLimit) -> None:
        self._limit = limit
        self._throttled = False
        self._grow = True
        self._retry_after: float | None = None

    def __enter__(self) -> Slot:
        self._limit.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        grow = self._grow and kind is None
        self._limit.release(self._throttled, retry_after=self._retry_after, grow=grow)

    def throttled(self, retry_after: float | None) -> None:
        self._throttled, self._retry_after = True, retry_after

    def neutral(self) -> None:
        self._grow = False


def gates(status: int, retry_after: float | None) -> bool:
    """A throttle holds every request back: a 429, or a 503 that says for how long."""
    return status == 429 or (status == 503 and retry_after is not None)


class TransportError(EntrasyncError):
    """The server could not be reached, after retries where retrying was safe."""


def send(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[httpx.Response | None, float], None] | None = None,
    what: str = "the server",
    idempotent: bool | None = None,
    gate: ThrottleGate | None = None,
    limit: AdaptiveLimit | None = None,
    give_up: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request, retrying per the policy; return the final response (any status).

    ``give_up``: asked before each retry; when it answers True the last response is final (or
    the connection error raised). A stopping apply uses it so that the writes in flight end
    within a runner's grace period instead of waiting out Retry-After: a throttled write was
    not carried out, and is recorded as failed.

    ``gate``: the client's shared :class:`ThrottleGate` (Graph). The request waits at it
    before every attempt, and a throttle it meets closes it for every other request too (the
    retry of this one then waits at the gate instead of sleeping on its own).

    ``limit``: the client's shared :class:`AdaptiveLimit` (SCIM). Each attempt holds a slot
    only while on the wire; a throttle it meets halves the limit, and the retry sleeps its own
    Retry-After without a slot. A client may pass both.

    ``idempotent`` overrides the method's own answer: a POST that only reads (Graph's
    ``$batch`` of GETs) is as safe to resend after a dropped connection as a GET.
    Raises :class:`TransportError` when the connection fails and retrying is not safe or
    the retries are used up.
    """
    if idempotent is None:
        idempotent = method.upper() in IDEMPOTENT_METHODS
    attempt = 0
    while True:
        attempt += 1
        if gate is not None:
            gate.wait()
        try:
            response, retry_after = _attempt(client, method, url, limit, policy, kwargs)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            delay = policy.backoff(attempt, None)
            if (
                not idempotent
                or attempt > policy.max_retries
                or not _pause(sleep, delay, give_up, on_retry)
            ):
                raise TransportError(
                    f"could not reach {what}: {type(exc).__name__}: {exc}",
                    "check the URL and the network, then run again",
                ) from None
            continue
        status = response.status_code
        if status not in RETRY_STATUSES:
            return response
        delay = policy.backoff(attempt, retry_after)
        shared = gate is not None and gates(status, retry_after)
        if gate is not None and shared:
            # Even a last answer holds the others back: the server asked the client to wait.
            delay = gate.hold(delay)
        if attempt > policy.max_retries:
            return response
        if shared:  # the retry waits at the gate, with every other request
            if on_retry is not None:
                on_retry(response, delay)
        elif not _pause(sleep, delay, give_up, on_retry, response):
            return response
        response.close()


def _pause(
    sleep: Callable[[float], None],
    delay: float,
    give_up: Callable[[], bool] | None,
    on_retry: Callable[[httpx.Response | None, float], None] | None,
    response: httpx.Response | None = None,
) -> bool:
    """Wait ``delay`` before a retry; False (no retry) when ``give_up`` answers True before or
    during the wait, which is cut into short naps so a stop ends it within a quarter second."""
    if give_up is not None and give_up():
        return False
    if on_retry is not None:
        on_retry(response, delay)
    if give_up is None:
        sleep(delay)
        return True
    left = delay
    while left > 0:
        nap = min(left, 0.25)
        sleep(nap)
        left -= nap
        if give_up():
            return False
    return True


def _attempt(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    limit: AdaptiveLimit | None,
    policy: RetryPolicy,
    kwargs: dict[str, Any],
) -> tuple[httpx.Response, float | None]:
    """One request on the wire (holding a slot of ``limit``, if any) and its Retry-After."""
    if limit is None:
        response = _detached(client.request(method, url, **kwargs))
        return response, parse_retry_after(response.headers.get("Retry-After"))
    with limit.slot() as slot:
        response = _detached(client.request(method, url, **kwargs))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if gates(response.status_code, retry_after):
            window = None if retry_after is None else min(retry_after, policy.max_delay)
            slot.throttled(window)
        elif response.status_code in RETRY_STATUSES:
            slot.neutral()  # a 503/504 without Retry-After: an outage, not a rate
    return response, retry_after


def _detached(response: httpx.Response) -> httpx.Response:
    """The response, freed as soon as the caller drops it: httpx's read-and-closed stream
    still points back at its response (BoundSyncStream), a cycle that kept every page body
    (a 999-member page is ~200 KB) alive until a cyclic collection found it (benchmarks/)."""
    response.stream = httpx.ByteStream(response.content)
    return response

"""The one place HTTP retries, Retry-After and transport safety live (Graph and SCIM share it).

Policy (https://learn.microsoft.com/graph/throttling): retry 429/503/504 on any method,
honouring ``Retry-After`` (seconds, fractional seconds or an HTTP date), else exponential
backoff with full jitter, both capped; retry connection errors and timeouts only for
idempotent requests; never retry any other 4xx.

A throttle is about the client, not one request: a :class:`ThrottleGate` shared by every
worker of one API client makes all of them hold back until the server's Retry-After instant,
so the others do not keep the server throttling while one request waits.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from entrasync.errors import EntrasyncError

DEFAULT_PARALLELISM = 8  # concurrent requests per API; both CLIs expose --parallelism
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
    **kwargs: Any,
) -> httpx.Response:
    """Send one request, retrying per the policy; return the final response (any status).

    ``gate``: the client's shared :class:`ThrottleGate`. The request waits at it before every
    attempt, and a throttle it meets closes it for every other request too (the retry of this
    one then waits at the gate instead of sleeping on its own).

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
            response = client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if not idempotent or attempt > policy.max_retries:
                raise TransportError(
                    f"could not reach {what}: {type(exc).__name__}: {exc}",
                    "check the URL and the network, then run again",
                ) from None
            delay = policy.backoff(attempt, None)
            if on_retry is not None:
                on_retry(None, delay)
            sleep(delay)
            continue
        status = response.status_code
        if status not in RETRY_STATUSES:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        delay = policy.backoff(attempt, retry_after)
        shared = gate is not None and gates(status, retry_after)
        if gate is not None and shared:
            # Even a last answer holds the others back: the server asked the client to wait.
            delay = gate.hold(delay)
        if attempt > policy.max_retries:
            return response
        response.close()
        if on_retry is not None:
            on_retry(response, delay)
        if not shared:  # else the retry waits at the gate, with every other request
            sleep(delay)


def is_loopback_host(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_safe_url(url: str, what: str) -> httpx.URL:
    """Refuse to send credentials over plain http:// except to loopback addresses."""
    parsed = httpx.URL(url)
    if parsed.scheme == "https":
        return parsed
    if parsed.scheme == "http" and is_loopback_host(parsed.host):
        return parsed
    raise EntrasyncError(
        f"{what} {url!r} is not an https:// URL; credentials are only sent over https "
        "(or plain http to a loopback address)",
        f"use the https:// address of {what}",
    )

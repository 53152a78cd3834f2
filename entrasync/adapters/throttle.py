"""Throttling: how one API client's requests hold back when the server says it is overloaded.

A throttle is about the client, not one request, and the two APIs answer it differently:

- Microsoft Graph documents its throttling as a budget shared per app and tenant
  (https://learn.microsoft.com/graph/throttling), so a 429 on one request means every other
  request would meet it too: a :class:`ThrottleGate` shared by every worker of the client holds
  them all back until the server's Retry-After instant.
- NeuralTrust's SCIM endpoint documents no limits, and a 429 there may be one busy moment
  rather than an exhausted budget: stopping every writer for each one would cap apply at one
  Retry-After per throttle. An :class:`AdaptiveLimit` slows down instead (AIMD, as TCP
  congestion control and the AWS SDKs' adaptive retry mode do): a throttle halves the requests
  allowed in flight, successes grow them back, and only the throttled request waits its
  Retry-After.

:func:`entrasync.adapters.http.send` applies them; this module knows nothing of HTTP itself.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

# The longest wait entrasync chooses itself (seconds), RetryPolicy's default cap; a server's
# Retry-After is waited out up to LONGEST_ASKED, and a longer one ends the read.
MAX_DELAY = 60.0
LONGEST_ASKED = 300.0


class _Flag:
    """A flag set from a signal handler: the signal's number, or None. Never a lock: a handler
    runs in the main thread between two of its bytecodes, and a lock the interrupted code holds
    (a ``threading.Event`` sets under one) would make the handler wait for ever; two Ctrl-C in
    a row hung ``plan`` that way."""

    raised: int | None = None


_ENDING = _Flag()
_POLL = 0.05  # seconds between two looks at the flag while a wait runs


class Abandoned(Exception):
    """A wait before a retry was cut short: a signal is ending the command."""


def end_waits(signum: int = signal.SIGINT) -> None:
    """Cut short every :func:`pause` of this process, now and until :func:`reset_waits`: the
    signal ``signum`` ends the command, and the readers' threads, which it must wait for, may be
    waiting out Retry-Afters of up to five minutes in all. Safe in a signal handler."""
    if _ENDING.raised is None:
        _ENDING.raised = signum


def reset_waits() -> None:
    _ENDING.raised = None


def waits_ended() -> bool:
    """Whether :func:`end_waits` was called (and not reset since): no new request starts."""
    return _ENDING.raised is not None


def ended_by() -> int | None:
    """The signal that ended the waits first, None when none did."""
    return _ENDING.raised


def pause(seconds: float) -> None:
    """``time.sleep`` that :func:`end_waits` cuts short (within :data:`_POLL`), raising
    :class:`Abandoned`: the clients' default for their waits before a retry."""
    deadline = time.monotonic() + seconds
    while _ENDING.raised is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _POLL))
    raise Abandoned()


class ThrottleGate:
    """A "not before" instant shared by every request of one API client; thread-safe.

    A 429 (or a 503 with Retry-After) on any worker closes the gate until ``now + delay``
    (a later instant already set is kept); every request waits for it before it is sent.
    One wait never exceeds ``max_delay``; the clock is monotonic and waiting is sleeping.
    """

    def __init__(
        self,
        max_delay: float = LONGEST_ASKED,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = pause,
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

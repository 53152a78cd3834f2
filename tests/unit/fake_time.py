"""A monotonic clock whose sleeps return at once and move the clock (for throttle tests)."""

from __future__ import annotations

import threading


class FakeTime:
    """``clock`` and ``sleep`` to inject together: ``sleep(s)`` records ``s`` and adds it to
    the clock, so a wait for an instant ends exactly at that instant. Thread-safe."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

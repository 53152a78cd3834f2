"""No cyclic garbage collection while a command runs.

A 100,000-user plan allocates millions of small acyclic containers (parsed JSON, the users,
the changes). Reference counting frees them as they go; the cyclic collector would only walk
each of them once more, stopping every reader thread while it does. A whole ``plan`` or
``apply`` leaves about 2,000 objects in cycles, so nothing piles up with the collector off.
The collector comes back on afterwards (tests call the CLI in-process), and
``entrasync sandbox``, which serves until it is stopped, turns it back on for its servers.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    # At 100,000 users, against the tuned thresholds (100,000, 50, 100) this replaced: plan
    # 8.09 -> 7.67 s wall, 6.97 -> 6.56 s CPU (medians of 8 alternating runs); the core's CPU
    # 2.7 -> 2.2 s (benchmarks/README.md). Its pauses (30-70 ms each) stalled every reader.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collector_running() -> Iterator[None]:
    """The collector on again inside :func:`collector_paused`, for a command that serves
    until it is stopped: the sandbox's servers leave a few dozen objects in cycles with every
    plan they answer, which would pile up for as long as it runs."""
    enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()

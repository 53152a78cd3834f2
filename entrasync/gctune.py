"""Memory upkeep for big runs: fewer cyclic-GC passes.

entrasync's data is many small acyclic objects.

A 100,000-user plan holds millions of containers (parsed JSON, frozen values, plan dicts).
CPython's cyclic collector re-scans every live container on each full collection, and the
default thresholds (700, 10, 10) run one each time the heap grows by a quarter: a third of the
plan's CPU went there (benchmarks/: ``plan`` 16.5 s -> 11.1 s wall, 14.2 s -> 8.7 s CPU).
Reference counting frees these objects as they go; the collector still runs, just less often,
and the previous thresholds come back afterwards (tests call the CLI in-process).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

THRESHOLDS = (100_000, 50, 100)


@contextmanager
def fewer_collections() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.unfreeze()  # what paused() froze is scanned again, as usual, from here on
        gc.set_threshold(*previous)


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection at all, for work that makes (almost) no cycles: reading both sides
    (http.send frees each response as it goes) and making and rendering a plan. Each pass would
    only re-scan the values just built: under THRESHOLDS a 100,000-user plan still ran ~110
    gen-0 passes (0.41 s) that found next to nothing, those during the read stalling every
    reader thread for up to 60 ms (benchmarks/).

    On the way out the objects alive are frozen (``gc.freeze``) before collection resumes:
    otherwise the first allocation after it scans everything made meanwhile in one pass (0.3 s
    at that size). Frozen objects are still freed by reference counting; fewer_collections()
    unfreezes them when the command ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()

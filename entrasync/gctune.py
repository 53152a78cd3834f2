"""Fewer cyclic-GC passes while a command runs.

A 100,000-user plan holds millions of small acyclic containers (parsed JSON, frozen values);
CPython's cyclic collector re-scans every live container on each full collection, and the
default thresholds (700, 10, 10) run one each time the heap grows by a quarter. Reference
counting frees these objects as they go, so the collector runs less often here; the previous
thresholds come back afterwards (tests call the CLI in-process).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Core CPU at 100,000 users: 3.2-3.4 s with the default thresholds, 2.4-2.5 s with these
# (benchmarks/core_cpu.py --size full, its "default GC thresholds" figure); target < 3 s.
THRESHOLDS = (100_000, 50, 100)


@contextmanager
def fewer_collections() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)

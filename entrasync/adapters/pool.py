"""Bounded concurrency for the readers (Graph and SCIM share it): results in input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from threading import Event
from typing import TypeVar

# Here, not in entrasync.adapters.http, so that --parallelism's default costs no httpx import.
DEFAULT_PARALLELISM = 8  # concurrent requests per API; both CLIs expose --parallelism

T = TypeVar("T")
R = TypeVar("R")


def run_bounded(
    work: Callable[[T], R], items: Sequence[T], parallelism: int
) -> Generator[R, None, None]:
    """``work`` over ``items`` on at most ``parallelism`` threads; results in input order.

    The first failure (in input order) is raised; no work starts once any has failed, and
    queued work is cancelled when the caller closes the generator early (a reader that stops
    halfway sends nothing more). Work starts in input order, so whatever comes before a
    failure has run.
    """
    if not items:
        return
    failed = Event()

    def guarded(item: T) -> R:
        if failed.is_set():
            raise CancelledError  # an earlier item failed, and is what the caller sees
        try:
            return work(item)
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(items)))) as pool:
        # Each result is let go once handed over: a reader's pages are not all held to the end.
        futures: deque[Future[R]] = deque(pool.submit(guarded, item) for item in items)
        try:
            while futures:
                yield futures.popleft().result()
        finally:
            for future in futures:
                future.cancel()

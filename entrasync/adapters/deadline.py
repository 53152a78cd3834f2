"""An answer's deadline, kept by the TLS socket that reads it.

httpx's and requests' timeouts bound each read, not the answer: a server (or a proxy) that
sends its status line and headers a byte a second, or ``100 Continue`` after ``100 Continue``,
resets them at every byte and holds a run for ever. Every HTTPS connection entrasync opens
wraps its socket through the SSL context of :func:`entrasync.adapters.trust.ssl_context`,
whose :attr:`ssl.SSLContext.sslsocket_class` is :class:`DeadlineSocket`: while the thread
that reads holds a deadline (:func:`answer_within`), each read waits at most until it, and one
past it fails as a timeout (``socket.timeout``, which both libraries report as a read
timeout). Plain ``http://`` is for loopback only (docs/safety.md), where no deadline applies.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_held = threading.local()  # .until (time.monotonic()), .seconds: the reading thread's deadline


@contextmanager
def answer_within(seconds: float, started: float | None = None) -> Iterator[None]:
    """Reads in this thread end ``seconds`` after ``started`` (now by default)."""
    before = getattr(_held, "until", None), getattr(_held, "seconds", None)
    _held.until = (time.monotonic() if started is None else started) + seconds
    _held.seconds = seconds
    try:
        yield
    finally:
        _held.until, _held.seconds = before


class DeadlineSocket(ssl.SSLSocket):
    """A TLS socket whose reads keep the reading thread's deadline, if it holds one."""

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        with self._deadline():
            return super().recv(buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        with self._deadline():
            return super().recv_into(buffer, nbytes, flags)

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        until = getattr(_held, "until", None)
        if until is None:
            yield
            return
        late = TimeoutError(f"the answer took more than {_held.seconds:.0f} s to arrive")
        left = until - time.monotonic()
        if left <= 0:
            raise late
        previous = self.gettimeout()
        if previous is not None and previous <= left:  # the read's own timeout comes first
            yield
            return
        self.settimeout(left)
        try:
            yield
        except TimeoutError:
            raise late from None
        finally:
            self.settimeout(previous)


def keeping_deadlines(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context``, its TLS sockets :class:`DeadlineSocket`."""
    context.sslsocket_class = DeadlineSocket
    return context

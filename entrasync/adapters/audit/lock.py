"""One apply at a time per audit folder: an advisory lock held for the length of an apply.

Two applies at once would each check NeuralTrust and then both write, each unaware of what
the other changed. So apply holds ``flock(2)`` on ``.entrasync-apply.lock`` in ``--audit-dir``
from before its first read to its end; a second apply on that folder exits at once, naming the
one that holds it (pid, host, since when: the holder writes them into the file).

The kernel releases the lock when its holder's file is closed, which happens when the process
ends however it ends (SIGKILL and crashes included), so a lock is never stale. The file itself
stays: removing it would race with a process about to lock it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from entrasync.adapters.clock import utc_now_ms
from entrasync.errors import AuditError, EntrasyncError

LOCK_NAME = ".entrasync-apply.lock"
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


class ApplyRunningError(EntrasyncError):
    """Another apply holds the audit folder's lock."""


@contextmanager
def apply_lock(audit_dir: Path, clock: Callable[[], str] = utc_now_ms) -> Iterator[None]:
    """Hold the audit folder's lock while inside; raise :class:`ApplyRunningError` at once
    when another process holds it.

    A folder that cannot be created or written is not locked: no audit file can be made there
    either, and apply writes nothing to NeuralTrust without one (it stops with that error).
    """
    fd = _open(audit_dir)
    if fd is None:
        yield
        return
    try:
        _take(fd, audit_dir)
        _describe(fd, clock())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader sees no holder rather than an old one
    finally:
        os.close(fd)  # releases the lock


def _open(directory: Path) -> int | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: the holder's description stays readable until this process holds it.
        return os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if directory.is_dir() and os.access(directory, os.W_OK | os.X_OK):
            raise AuditError(
                f"cannot open the lock file {directory / LOCK_NAME}: {exc.strerror or exc}",
                "make it a regular file this user can write (or remove it); nothing was changed",
            ) from None
        return None


def _take(fd: int, directory: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ApplyRunningError(
            f"another entrasync apply is running with the audit folder {directory} "
            f"({_holder(fd)}); nothing was changed",
            "wait for it to end (its lock goes with its process), then run `entrasync plan` "
            "again: that apply may have changed NeuralTrust",
        ) from None
    except OSError as exc:
        raise AuditError(
            f"cannot lock the audit folder {directory}: {exc.strerror or exc}",
            "put --audit-dir on a local file system that supports flock; nothing was changed",
        ) from None


def _describe(fd: int, since: str) -> None:
    """Say who holds the lock; the lock holds whether or not this can be written."""
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode() + b"\n", 0)


def _holder(fd: int) -> str:
    """Who holds the lock, as far as its file says; only well-formed values are shown (the
    file is in a folder others may write)."""
    try:
        found = json.loads(os.pread(fd, 4096, 0))
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict):
        return "it has not said who it is yet"
    pid, host, since = found.get("pid"), found.get("host"), found.get("since")
    parts = [f"pid {pid}" if isinstance(pid, int) and not isinstance(pid, bool) else "pid unknown"]
    if isinstance(host, str) and _HOST.fullmatch(host):
        parts.append(f"on {host}")
    if isinstance(since, str) and _TIME.fullmatch(since):
        parts.append(f"since {since}")
    return " ".join(parts)

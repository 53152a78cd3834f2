"""One apply at a time per audit folder: an advisory lock held for the length of an apply.

Two applies at once would each check NeuralTrust and then both write, each unaware of what
the other changed. So apply holds ``flock(2)`` on ``.entrasync-apply.lock`` in ``--audit-dir``
from before its first read to its end; a second apply on that folder exits at once, naming the
one that holds it (pid, host, since when: the holder writes them into the file).

The lock itself, and why it is never stale, is :mod:`entrasync.adapters.lockfile`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from entrasync.adapters.clock import utc_now_ms
from entrasync.adapters.lockfile import holding, open_lock
from entrasync.errors import AuditError, EntrasyncError

LOCK_NAME = ".entrasync-apply.lock"


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
    with holding(
        fd,
        clock(),
        busy=lambda holder: ApplyRunningError(
            f"another entrasync apply is running with the audit folder {audit_dir} "
            f"({holder}); nothing was changed",
            "wait for it to end (its lock goes with its process), then run `entrasync plan` "
            "again: that apply may have changed NeuralTrust",
        ),
        failed=lambda exc: AuditError(
            f"cannot lock the audit folder {audit_dir}: {exc.strerror or exc}",
            "put --audit-dir on a local file system that supports flock; nothing was changed",
        ),
    ):
        yield


def _open(directory: Path) -> int | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return open_lock(directory / LOCK_NAME)
    except OSError as exc:
        if directory.is_dir() and os.access(directory, os.W_OK | os.X_OK):
            raise AuditError(
                f"cannot open the lock file {directory / LOCK_NAME}: {exc.strerror or exc}",
                "make it a regular file this user can read; remove it only when no apply runs "
                "(one holding it would go on beside the next); nothing was changed",
            ) from None
        return None

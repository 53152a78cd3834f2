"""Writing files so that a crash never leaves half of one behind."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from entrasync.errors import EntrasyncError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    A folder that cannot be made or written is an :class:`EntrasyncError`, not a traceback.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def start_write_atomic(path: Path, text: str) -> Future[None]:
    """:func:`write_atomic` on a thread of its own, so the caller can go on meanwhile (most of
    a large file's write is the fsync, which leaves the GIL free). ``result()`` waits for it
    and raises what it raised; the write completes even if the caller fails first."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="entrasync-write")
    try:
        return pool.submit(write_atomic, path, text)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the write has


def _cannot_write(path: Path, exc: OSError) -> EntrasyncError:
    return EntrasyncError(
        f"cannot write {path}: {exc.strerror or exc}",
        "choose a path in a folder that exists (or can be created) and that you can write to",
    )

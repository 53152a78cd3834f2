"""An advisory lock on a file in a folder, naming its holder: one apply per audit folder
(:mod:`entrasync.adapters.audit.lock`), one sandbox per sandbox folder.

The lock is ``flock(2)``: the kernel releases it when its holder's file is closed, which happens
when the process ends however it ends (SIGKILL and crashes included), so a lock is never stale.
The holder writes its pid, host and start time into the file for a second process to quote.
The file itself stays: removing it would race with a process about to lock it.

Windows has no ``flock``: there the lock cannot be taken, and apply and the sandbox refuse to
run (docs/install.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from entrasync.errors import EntrasyncError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # only Windows lacks it, where holding() refuses

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_COMMAND = re.compile(r"[a-z][a-z-]{0,30}")


def open_lock(path: Path) -> int:
    """The lock file, opened for reading and writing (created if missing, as the umask allows,
    as audit files are; never through a symlink); raises OSError.

    A lock file another user made and this one cannot write (a folder two accounts share) is
    opened for reading: flock needs no more, and such a holder cannot describe itself."""
    # No O_TRUNC: the holder's description stays readable until this process holds it.
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o666)
    except PermissionError as refused:
        try:
            return os.open(path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:  # not there, and not to be made: the folder is read-only
            raise refused from None


def require_flock() -> None:
    """Raise where the lock cannot be taken at all: Windows has no ``flock``."""
    if fcntl is None:
        raise EntrasyncError(
            "this system has no flock(2), the lock that keeps two runs of apply (or two "
            "sandboxes) apart; nothing was started",
            "run this command on Linux or macOS, or on Windows in WSL 2 "
            "(https://learn.microsoft.com/windows/wsl/)",
        )


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as far as its file says."""

    text: str  # "pid 42 on host since 2026-…Z"
    command: str | None = None  # the command it runs (``sandbox``, ``demo``), if it said

    def __str__(self) -> str:
        return self.text


@contextmanager
def holding(
    fd: int,
    since: str,
    *,
    busy: Callable[[Holder], EntrasyncError],
    failed: Callable[[OSError], EntrasyncError],
    command: str | None = None,
) -> Iterator[None]:
    """Hold the lock on ``fd`` (from :func:`open_lock`) while inside, and close ``fd``
    (which releases it) on the way out, whichever way that is; the lock's file says who holds
    it, and ``command``, what it runs.

    Raises ``busy(holder)`` at once when another process holds it, ``failed(error)`` when the
    file system cannot lock.
    """
    try:
        require_flock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy(_holder(fd)) from None
        except OSError as exc:
            raise failed(exc) from None
        _describe(fd, since, command)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader sees no holder rather than an old one
    finally:
        os.close(fd)


def _describe(fd: int, since: str, command: str | None) -> None:
    """Say who holds the lock; the lock holds whether or not this can be written."""
    holder: dict[str, object] = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
    if command is not None:
        holder["command"] = command
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode() + b"\n", 0)


def _holder(fd: int) -> Holder:
    """Who holds the lock, as far as its file says; only well-formed values are taken (the
    file is in a folder others may write)."""
    try:
        found = json.loads(os.pread(fd, 4096, 0))
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict) or _gone(found):
        return Holder("it has not said who it is yet")
    pid, host, since = found.get("pid"), found.get("host"), found.get("since")
    parts = [f"pid {pid}" if isinstance(pid, int) and not isinstance(pid, bool) else "pid unknown"]
    if isinstance(host, str) and _HOST.fullmatch(host):
        parts.append(f"on {host}")
    if isinstance(since, str) and _TIME.fullmatch(since):
        parts.append(f"since {since}")
    command = found.get("command")
    said = command if isinstance(command, str) and _COMMAND.fullmatch(command) else None
    return Holder(" ".join(parts), said)


def _gone(holder: dict[str, object]) -> bool:
    """A description left by a process of this host that has ended: a holder that could only
    open the file for reading (another account's file) cannot replace it with its own."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        pass
    return False

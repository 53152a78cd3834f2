"""The audit folder's lock: one holder at a time, released on every way out, and the holder's
description shown only when it is well formed."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from entrasync.adapters.audit.lock import LOCK_NAME, ApplyRunningError, apply_lock
from entrasync.errors import AuditError

SINCE = "2026-11-28T12:00:00.000Z"


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    with (
        apply_lock(tmp_path, clock=lambda: SINCE),
        pytest.raises(ApplyRunningError) as caught,
        apply_lock(tmp_path),
    ):
        pytest.fail("two holders at once")
    assert caught.value.message == (
        f"another entrasync apply is running with the audit folder {tmp_path} "
        f"(pid {os.getpid()} on {socket.gethostname()} since {SINCE}); nothing was changed"
    )


class _Boom(Exception):
    pass


def test_the_lock_is_released_when_its_holder_fails(tmp_path: Path) -> None:
    with pytest.raises(_Boom), apply_lock(tmp_path / "new" / "audit"):
        raise _Boom
    with apply_lock(tmp_path / "new" / "audit"):
        pass


def test_a_description_left_by_a_process_that_died_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text('{"pid": 999999, "host": "gone", "since": "' + SINCE + '"}')
    with apply_lock(tmp_path, clock=lambda: "2026-11-28T13:00:00.000Z"):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
    assert holder == {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": "2026-11-28T13:00:00.000Z",
    }


def test_a_hostile_description_is_not_echoed(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_NAME
    lock.write_text(json.dumps({"pid": 42, "host": "\x1b]8;;https://evil\x07x", "since": "\n::"}))
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ApplyRunningError) as caught, apply_lock(tmp_path):
            pytest.fail("two holders at once")
    finally:
        os.close(fd)
    assert "(pid 42); nothing was changed" in caught.value.message


_SECOND_HOLDER = """
import os
import sys
from pathlib import Path
from entrasync.adapters.audit.lock import ApplyRunningError, apply_lock
if sys.argv[2] == "nobody":  # root may write any file: become a user who may not
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
try:
    with apply_lock(Path(sys.argv[1])):
        print("held")
except ApplyRunningError as exc:
    print("busy:", exc.message)
"""


def _as_another_user(folder: Path) -> str:
    """Try the lock as a user who can read the lock file but not write it: nobody when this
    runs as root (who may write any file), else this user with the file made read-only."""
    lock = folder / LOCK_NAME
    as_root = os.geteuid() == 0
    if not as_root:
        lock.chmod(0o444)
    done = subprocess.run(
        [sys.executable, "-c", _SECOND_HOLDER, str(folder), "nobody" if as_root else "self"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_lock_file_another_user_made_still_locks_for_a_user_who_cannot_write_it() -> None:
    """An audit folder two accounts share: the lock file is the first one's, read-only to the
    second, who still takes the lock (flock needs only a descriptor) and is still refused
    while the first holds it."""
    folder = Path(tempfile.mkdtemp(prefix="entrasync-shared-"))
    try:
        folder.chmod(0o777)
        with apply_lock(folder, clock=lambda: SINCE):
            umask = os.umask(0o022)
            os.umask(umask)
            assert stat.S_IMODE((folder / LOCK_NAME).stat().st_mode) == 0o666 & ~umask
            assert _as_another_user(folder).startswith(
                "busy: another entrasync apply is running with the audit folder"
            )
        assert _as_another_user(folder) == "held"
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


_IN_A_READ_ONLY_FOLDER = """
import os
import sys
from entrasync.adapters.lockfile import open_lock
if os.geteuid() == 0:  # root may write anywhere: become a user who may not
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
try:
    open_lock(sys.argv[1])
except OSError as exc:
    print(type(exc).__name__, exc.strerror)
"""


def test_a_read_only_folder_without_a_lock_file_says_permission_denied() -> None:
    # The read-only retry found no file: "No such file or directory" hid the real cause.
    folder = Path(tempfile.mkdtemp(prefix="entrasync-read-only-"))
    try:
        folder.chmod(0o555)
        done = subprocess.run(
            [sys.executable, "-c", _IN_A_READ_ONLY_FOLDER, str(folder / LOCK_NAME)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.strip() == "PermissionError Permission denied", done.stderr
    finally:
        folder.rmdir()


def test_a_folder_that_cannot_be_created_is_left_to_the_audit_files_own_error() -> None:
    with apply_lock(Path("/proc/nope")):  # no audit file can be made there: apply writes nothing
        pass


def test_a_lock_path_that_cannot_be_opened_in_a_writable_folder_is_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AuditError, match="cannot open the lock file"), apply_lock(tmp_path):
        pytest.fail("locked through a symlink")


def test_a_description_of_a_process_of_this_host_that_ended_is_not_shown(tmp_path: Path) -> None:
    """A holder that opened another account's lock file read-only cannot replace what an
    earlier holder wrote: a dead process must not be named as the one to wait for."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(ended.stdout)
    lock = tmp_path / LOCK_NAME
    lock.write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "since": SINCE}))
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held, as a read-only holder holds it
        with pytest.raises(ApplyRunningError) as caught, apply_lock(tmp_path):
            pytest.fail("two holders at once")
    finally:
        os.close(fd)
    assert "(it has not said who it is yet); nothing was changed" in caught.value.message

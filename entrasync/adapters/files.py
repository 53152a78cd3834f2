"""Writing files so that a crash never leaves half of one behind, and nothing is replaced that
is not a regular file (docs/safety.md, "Files are written, not replaced").

- A regular file (or a new one) is written to a temporary file in its folder and renamed over
  it: readers see the old content or the new, never half. An existing file keeps its mode and
  group (without the group's permissions where this user may not give it that group), and
  its owner when root writes it; a new one is readable by its owner only (a plan lists every
  user's access).
- A symlink is followed: its target is written as above, and the link stays a link.
- A FIFO or a character device (``/dev/null``, ``/dev/stdout``, a terminal) is opened and
  written through, as a shell's ``>`` would: renaming over it would replace ``/dev/null``
  itself when run as root.
- A folder, socket or block device is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from entrasync.core import planfile
from entrasync.core.planfile import loads
from entrasync.errors import EntrasyncError, PlanFileError

if TYPE_CHECKING:
    from entrasync.core.plan import Plan


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as the module docstring says."""
    write_atomic_chunks(path, (text,))


def write_new(path: Path, text: str) -> None:
    """Write ``text`` to a ``path`` nothing is at, as :func:`write_atomic` does, but put in
    place by a hard link instead of a rename: a file another process made there meanwhile is
    never replaced, and :class:`FileExistsError` says so. A filesystem without hard links
    takes the name by an exclusive create first, then renames the written file over it."""
    make_folder(path.parent)
    _replace(path, path, lambda handle: handle.write(text), None, place=_link_new)


def _link_new(tmp: str, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some network shares)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        taken = os.fstat(fd)
        os.close(fd)
        try:
            os.replace(tmp, target)
        except OSError:
            # The empty file that took the name would refuse the next run: removed, unless
            # something else stands there by now.
            if os.path.samestat(taken, os.lstat(target)):
                os.unlink(target)
            raise
        return
    os.unlink(tmp)


def write_atomic_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Write the ``chunks`` one after another to ``path`` as the module docstring says, so a
    large file (a 1,000,000-user plan file is 450 MB) need not be one string in memory.

    A folder that cannot be made or written, or a path that is not a file, is an
    :class:`EntrasyncError`, not a traceback.
    """
    target, mode = _target(path)
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        _write_through(path, target, chunks)
    else:
        _replace(path, target, lambda handle: handle.writelines(chunks), mode)


def make_folder(path: Path) -> None:
    """``mkdir -p path``: a folder that cannot be made is an :class:`EntrasyncError`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # os.path's answers False where Path's raises (a name too long to look up).
        why = "a file of that name is there" if os.path.isfile(path) else exc.strerror or exc
        raise EntrasyncError(
            f"cannot make the folder {path}: {why}",
            "choose a folder that exists or can be created, and that you can write to",
        ) from None


def write_plan(path: Path, plan: Plan, *, new: bool = False) -> None:
    """Write ``plan``'s file (``entrasync.core.planfile``) to ``path`` as
    :func:`write_atomic_chunks` does, and fill ``plan.digest`` on the way.

    A regular file is written in one pass, its digest put in place before it is renamed
    (``planfile.write_once``): 0.3 s less at 100,000 users than making the canonical lines once
    for the digest and once for the file (benchmarks/README.md). A FIFO or a device cannot be
    written back into, so it gets the digest first and the lines made twice; so does any file
    where the system has no ``pwrite`` (Windows).

    ``new``: ``path`` is put in place as :func:`write_new` puts a file, never through what is
    there (:class:`FileExistsError`): in a folder others may write in (an audit folder), a
    symlink or a FIFO someone put at a name they can foresee is neither followed nor written
    through.
    """

    def fill(handle: TextIO) -> None:
        offset = planfile.write_once(plan, handle.write)
        handle.flush()
        os.pwrite(handle.fileno(), plan.digest.encode("ascii"), offset)

    def lines(handle: TextIO) -> None:
        handle.writelines(planfile.file_lines(plan))

    one_pass = hasattr(os, "pwrite")
    if new:
        _replace(path, path, fill if one_pass else lines, None, place=_link_new)
        return
    target, mode = _target(path)
    if (mode is not None and not stat.S_ISREG(mode)) or not one_pass:
        write_atomic_chunks(path, planfile.file_lines(plan))
        return
    _replace(path, target, fill, mode)


def _target(path: Path) -> tuple[Path, int | None]:
    """What writing to ``path`` writes: a symlink's target, the path itself if none; and its
    ``st_mode``, None when there is nothing there yet. Refuses what cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        through = _written_through(path)
        if through is not None:
            return path, through
        target = Path(os.path.realpath(path))
        mode = _existing_mode(target)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise EntrasyncError(
            f"cannot write {path}: it is {_kind(mode)}, not a file",
            "pass the path of a file (an existing one is replaced), a FIFO or a character "
            "device such as /dev/stdout",
        )
    return target, mode


def _written_through(path: Path) -> int | None:
    """The ``st_mode`` of the FIFO or character device ``path`` leads to, None when it is none:
    one is opened as named, since /dev/stdout on a pipe resolves to a "pipe:[N]" that is no
    path."""
    try:
        mode = path.stat().st_mode
    except OSError:  # nothing there yet, or a path the write names the trouble of
        return None
    return mode if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) else None


def _existing_mode(target: Path) -> int | None:
    """The target's ``st_mode``, None when there is nothing there yet."""
    try:
        return target.stat().st_mode
    except FileNotFoundError:
        return None


def _replace(
    path: Path,
    target: Path,
    fill: Callable[[TextIO], object],
    mode: int | None,
    place: Callable[[str, Path], None] = os.replace,
) -> None:
    """Write a file next to ``target`` with ``fill``, sync it, give it a hidden temporary
    name and ``place`` it (rename it over, by default).

    On Linux the file has no name until it is whole (``O_TMPFILE``): a process killed while
    it writes (a cancelled job's SIGKILL) leaves nothing behind. Elsewhere it has its hidden
    name from the start, and only an error the process lives through removes it.
    """
    tmp: str | None = None
    try:
        fd = _unnamed(target.parent)
        if fd is None:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
            if tmp is None:
                tmp = _name(handle.fileno(), target)
            if mode is not None and hasattr(os, "fchmod"):  # Windows keeps no such mode
                # Named first: the kernel links no file of another owner (protected_hardlinks).
                _keep_owner(handle.fileno(), target, stat.S_IMODE(mode))  # a new one is 0600
        place(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise _cannot_write(path, exc) from None
        raise


def _keep_owner(fd: int, target: Path, mode: int) -> None:
    """Give the new file the ``mode``, group and owner of the one it replaces, as far as this
    user may: the owner only as root, the group where this user is in it (a shell's ``>``
    keeps both, writing into the same file). A group it may not give, its permissions go: kept,
    they opened the file to the writer's own group."""
    try:
        found = target.stat()
    except OSError:  # gone meanwhile: the rename makes a new file
        found = None
    if found is None or not hasattr(os, "fchown"):  # Windows: no owners of this kind
        os.fchmod(fd, mode)
        return
    given = True
    try:
        os.fchown(fd, found.st_uid, found.st_gid)
    except OSError:  # EPERM, or EINVAL for an id a user namespace does not map
        try:
            os.fchown(fd, -1, found.st_gid)
        except OSError:
            given = False
    # Root giving the file away without CAP_FOWNER may not set its mode: it stays 0600.
    with contextlib.suppress(PermissionError):
        os.fchmod(fd, mode if given else mode & ~0o070)


_TMPFILE = getattr(os, "O_TMPFILE", 0)  # Linux only


def _unnamed(folder: Path) -> int | None:
    """A new file in ``folder`` that has no name (mode 0600), or None where the system or the
    file system makes none, or where /proc, through which :func:`_name` names it, is not
    mounted: the caller then makes a named temporary file (and meets any error there)."""
    if not _TMPFILE:
        return None
    try:
        fd = os.open(folder, os.O_WRONLY | _TMPFILE, 0o600)
    except OSError:
        return None
    if not os.path.exists(f"/proc/self/fd/{fd}"):
        os.close(fd)
        return None
    return fd


def _name(fd: int, target: Path) -> str:
    """A hidden temporary name beside ``target`` for the unnamed file ``fd``, now whole."""
    # O_PATH: a folder one may write in but not list (a drop folder, 0333) is named in too.
    folder = os.open(target.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        for _ in range(100):
            name = f".{target.name}.{secrets.token_hex(4)}"
            try:
                # A folder's descriptor makes os.link call linkat(..., AT_SYMLINK_FOLLOW),
                # which names the file /proc/self/fd/N stands for; link() would not.
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder)
            except FileExistsError:
                continue
            return str(target.parent / name)
    finally:
        os.close(folder)
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _write_through(path: Path, target: Path, chunks: Iterable[str]) -> None:
    """Open the FIFO or device and write; no fsync (neither keeps data to sync)."""
    try:
        # Opening a FIFO waits for its reader, as `>` in a shell does.
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))  # Windows: NUL
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(chunks)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a special file"


def _nearest_there(path: Path) -> Path:
    """``path``, or its nearest parent that is there (a link to nothing counts as there)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _loops(link: Path) -> bool:
    try:
        link.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _cannot_write(path: Path, exc: OSError) -> EntrasyncError:
    # "File exists" for a file where a folder should be: said as what it is.
    said = _folder_problem(path) or exc.strerror or str(exc)
    return EntrasyncError(
        f"cannot write {path}: {said}",
        "choose a path in a folder that exists (or can be created) and that you can write to",
    )


def read_plan(path: Path) -> Plan:
    """A plan file as `entrasync plan --out` wrote it: read as bytes, checked by ``loads``."""
    raw = read_whole(path, "the plan file", "pass the file written by `entrasync plan --out`")
    return loads(raw, source=str(path))


# Far above what entrasync writes (a 1,000,000-user plan file is 450 MB, its audit file less):
# a file past it, or a device that never ends (/dev/zero), is refused, not read until memory
# runs out.
MAX_READ_BYTES = 2 * 1024**3
_READ_PIECE = 16 * 1024**2


def read_whole(
    path: Path, what: str, hint: str, error: type[EntrasyncError] = PlanFileError
) -> bytes:
    """The bytes of a file entrasync wrote (``what``: "the plan file"), or ``error`` saying why
    it cannot be read: a folder or a device, more than :data:`MAX_READ_BYTES`, or more than
    this machine's memory holds."""
    too_large = f"{what} {path} is larger than {MAX_READ_BYTES:,} bytes: not one entrasync wrote"
    try:
        found = path.stat()
        if not (stat.S_ISREG(found.st_mode) or stat.S_ISFIFO(found.st_mode)):
            kind = _kind(found.st_mode)
            raise error(f"cannot read {what} {path}: it is {kind}, not a file", hint)
        if found.st_size > MAX_READ_BYTES:
            raise error(too_large, hint)
        with path.open("rb") as handle:
            if stat.S_ISREG(found.st_mode):
                data = handle.read()  # one buffer of the file's size
            else:  # a pipe's size is unknown: in pieces, never a buffer of the cap at once
                pieces, size = [], 0
                while size <= MAX_READ_BYTES and (piece := handle.read(_READ_PIECE)):
                    pieces.append(piece)
                    size += len(piece)
                data = b"".join(pieces)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}", hint) from None
    except MemoryError:
        said = "it is larger than this machine's memory"
        raise error(f"cannot read {what} {path}: {said}", hint) from None
    if len(data) > MAX_READ_BYTES:
        raise error(too_large, hint)
    return data


def refuse_unwritable(target: Path) -> None:
    """Refuse, before the reads (minutes on a large tenant), a file the write could not make:
    the nearest folder that exists must be a writable folder (the write makes the missing
    ones). A FIFO or a device is written through, not in its folder: it is not checked."""
    if _written_through(target) is not None:
        return
    problem = _folder_problem(target)
    if problem is not None:
        raise EntrasyncError(
            f"cannot write {target}: {problem}", "pass --out FILE in a folder you can write to"
        )


def _folder_problem(target: Path) -> str | None:
    """Why no file can be made at ``target``'s place, said of the nearest folder that exists
    (a file where a folder should be, a folder that cannot be written); None when it can."""
    # The folder the write uses: a symlink's target's (the temporary file goes beside it),
    # which the write does not make.
    real = Path(os.path.realpath(target))
    if os.path.islink(target) and not os.path.lexists(real.parent):
        return f"it leads to {real}, in a folder that does not exist"
    if os.path.islink(target) and _loops(target):
        return "it is a symbolic link that leads back to itself"
    # A folder on the way that is a link to nothing: mkdir would say only "File exists".
    on_the_way = _nearest_there(Path(os.path.abspath(target)).parent)
    if os.path.islink(on_the_way) and not os.path.exists(on_the_way):
        return f"{on_the_way} leads to {os.path.realpath(on_the_way)}, which does not exist"
    nearest = _nearest_there(real.parent)
    if not nearest.is_dir():
        return f"{nearest} is not a folder"
    try:  # what the write will do there, undone: permissions alone miss /proc and the like
        os.rmdir(tempfile.mkdtemp(prefix=".entrasync-check-", dir=nearest))
    except OSError as exc:
        return f"the folder {nearest} cannot be written ({exc.strerror or exc})"
    return None

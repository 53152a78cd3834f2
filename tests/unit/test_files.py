"""write_atomic and its streaming form: the whole file or none of it, errors without traces."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters import files
from entrasync.adapters.files import (
    read_plan,
    read_whole,
    write_atomic,
    write_atomic_chunks,
    write_new,
)
from entrasync.errors import EntrasyncError, PlanFileError


def test_chunks_make_the_whole_file_and_leave_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "plan.json"
    write_atomic_chunks(target, ("{}\n" for _ in range(100_000)))
    assert target.read_text(encoding="utf-8") == "{}\n" * 100_000
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]


@pytest.fixture(params=["unnamed until whole", "named throughout"])
def either_way(request: pytest.FixtureRequest) -> None:
    if request.param == "named throughout":
        request.getfixturevalue("no_unnamed_files")


@pytest.mark.usefixtures("either_way")
def test_chunks_that_fail_halfway_leave_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old\n")

    def chunks() -> Iterator[str]:
        yield "new, half\n"
        raise RuntimeError("the renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_atomic_chunks(target, chunks())
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


_WRITER = """
import sys
from pathlib import Path
from entrasync.adapters.files import write_atomic_chunks

def chunks():
    yield "new, half\\n"
    print("writing", flush=True)
    sys.stdin.readline()  # killed here
    yield "never\\n"

write_atomic_chunks(Path(sys.argv[1]), chunks())
"""


def test_a_write_killed_halfway_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    """A plan (or the plan beside an audit file) killed while it was written (a cancelled
    job's SIGKILL, which no handler sees) left a hidden half of it beside the target for good:
    on Linux the file has no name until it is whole."""
    target = tmp_path / "plan.json"
    target.write_text("old\n")
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == "writing\n"
    writer.kill()
    writer.communicate(timeout=30)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def _without_root(command: list[str]) -> list[str]:
    """``command`` as a user whom permissions hold: root without the capabilities that let it
    read and write whatever it likes (CI runs as a user already)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *command]


@pytest.mark.parametrize("writer", ["write_atomic", "write_new"])
def test_a_folder_one_may_write_in_but_not_list_takes_the_file(writer: str, tmp_path: Path) -> None:
    """A drop folder (0333): the unnamed file was named through a descriptor of the folder
    opened for reading, which such a folder refuses."""
    drop = tmp_path / "drop"
    drop.mkdir(mode=0o333)
    drop.chmod(0o333)
    script = (
        f"from pathlib import Path; from entrasync.adapters import files; "
        f"files.{writer}(Path({str(drop / 'plan.json')!r}), 'plan\\n')"
    )
    done = subprocess.run(
        _without_root([sys.executable, "-c", script]), capture_output=True, text=True
    )
    drop.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert (drop / "plan.json").read_text() == "plan\n"
    assert [p.name for p in drop.iterdir()] == ["plan.json"]


@pytest.mark.usefixtures("either_way")
def test_a_new_file_is_written_whole_and_owned_by_its_writer(tmp_path: Path) -> None:
    target = tmp_path / "draft.yaml"
    write_new(target, "version: 1\n")
    assert target.read_text(encoding="utf-8") == "version: 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["draft.yaml"]


def test_a_file_made_while_the_new_one_is_written_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two `init --out X` started together: both found no X, and the second replaced the first.
    target = tmp_path / "draft.yaml"
    sync = os.fsync

    def meanwhile(fd: int) -> None:
        target.write_text("the other run's draft\n", encoding="utf-8")
        sync(fd)

    monkeypatch.setattr(os, "fsync", meanwhile)
    with pytest.raises(FileExistsError):
        write_new(target, "version: 1\n")
    assert target.read_text(encoding="utf-8") == "the other run's draft\n"
    assert [p.name for p in tmp_path.iterdir()] == ["draft.yaml"]


@pytest.fixture
def no_unnamed_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A system or file system without O_TMPFILE (macOS, FAT): the file is named throughout."""
    opened = os.open
    unnamed = getattr(os, "O_TMPFILE", 0)

    def without_tmpfile(path: str | Path, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if unnamed and flags & unnamed == unnamed:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return opened(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", without_tmpfile)


@pytest.fixture
def no_hard_links(monkeypatch: pytest.MonkeyPatch, no_unnamed_files: None) -> None:
    """A filesystem without hard links (FAT, some network shares): link() is refused, and
    so are unnamed files."""

    def refused(src: str, dst: Path, **kw: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)


@pytest.mark.usefixtures("no_hard_links")
def test_without_hard_links_the_name_is_taken_by_an_exclusive_create(tmp_path: Path) -> None:
    target = tmp_path / "draft.yaml"
    write_new(target, "version: 1\n")
    assert target.read_text(encoding="utf-8") == "version: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["draft.yaml"]
    with pytest.raises(FileExistsError):
        write_new(target, "version: 2\n")
    assert target.read_text(encoding="utf-8") == "version: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["draft.yaml"]


@pytest.mark.usefixtures("no_hard_links")
def test_without_hard_links_a_failed_rename_leaves_no_empty_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The empty file that took the name stayed, and the next `init` refused: "already exists".
    def held_open(src: str, dst: Path) -> None:
        raise PermissionError(13, "Access is denied")

    monkeypatch.setattr(os, "replace", held_open)
    with pytest.raises(EntrasyncError, match=r"cannot write .*draft\.yaml: Access is denied"):
        write_new(tmp_path / "draft.yaml", "version: 1\n")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EntrasyncError, match="cannot write"):
        write_atomic(blocker / "plan.json", "{}\n")
    assert blocker.read_text() == "not a folder"


def test_a_symlink_stays_a_link_and_its_target_gets_the_content(tmp_path: Path) -> None:
    target = tmp_path / "real" / "plan.json"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "plan.json"
    link.symlink_to(Path("real") / "plan.json")  # relative, as `ln -s` makes them
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("real") / "plan.json")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.json"]  # no temporary


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "plan.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    write_atomic(link, "{}\n")
    assert link.is_symlink()
    assert (tmp_path / "elsewhere.json").read_text() == "{}\n"


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    text = "{}\n" * 50_000  # more than a pipe holds: the reader must drain it as it comes
    write_atomic(fifo, text)
    reader.join(timeout=10)
    assert received == [text.encode()]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_character_device_is_written_through_and_stays_one() -> None:
    before = os.stat("/dev/null")
    write_atomic(Path("/dev/null"), "{}\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_symlink_to_a_device_writes_through_it(tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to("/dev/null")
    write_atomic(link, "{}\n")
    assert link.is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("via_link", [False, True], ids=["a folder", "a symlink to a folder"])
def test_a_folder_is_refused_and_left_alone(tmp_path: Path, via_link: bool) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    path = folder
    if via_link:
        path = tmp_path / "link"
        path.symlink_to(folder)
    with pytest.raises(EntrasyncError, match="is a folder, not a file") as caught:
        write_atomic(path, "{}\n")
    assert caught.value.hint
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_a_socket_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(EntrasyncError, match="is a socket, not a file"):
            write_atomic(path, "{}\n")
        assert stat.S_ISSOCK(path.lstat().st_mode)


def test_a_replaced_file_keeps_its_mode_and_a_new_one_is_the_owners(tmp_path: Path) -> None:
    shared = tmp_path / "shared.json"
    shared.write_text("old\n")
    shared.chmod(0o644)
    write_atomic(shared, "new\n")
    assert shared.read_text() == "new\n"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    fresh = tmp_path / "fresh.json"
    write_atomic(fresh, "{}\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("mode", "overrides"),
    [(0o640, True), (0o600, False)],
    ids=["as root", "as root without its overrides (CAP_FOWNER and the DAC ones)"],
)
def test_a_replaced_file_keeps_its_owner_group_and_mode(
    mode: int, overrides: bool, tmp_path: Path
) -> None:
    """A shell's `>` writes into the file, which keeps its owner and group: the new file had
    the writer's, and a 0640 plan became readable by the writer's own group. Given away before
    it was linked into the folder, the kernel linked it for no one else (protected_hardlinks)
    and root without its overrides failed. (Run as a user, the file is that user's own.)"""
    target = tmp_path / "plan.json"
    target.write_text("old\n")
    target.chmod(mode)
    if os.geteuid() == 0:
        os.chown(target, 65534, 65534)
    before = target.stat()
    if overrides:
        write_atomic(target, "new\n")
    else:
        script = (
            "from pathlib import Path; from entrasync.adapters import files; "
            f"files.write_atomic(Path({str(target)!r}), 'new\\n')"
        )
        done = subprocess.run(
            _without_root([sys.executable, "-c", script]), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    after = target.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
        before.st_uid,
        before.st_gid,
        mode,
    )
    assert target.read_text() == "new\n"


@pytest.mark.parametrize(
    "refusal",
    [PermissionError(errno.EPERM, "Operation not permitted"), OSError(errno.EINVAL, "Invalid")],
    ids=["not permitted", "an id a user namespace does not map"],
)
def test_a_group_this_user_may_not_give_takes_the_groups_permissions_with_it(
    refusal: OSError, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's file, in a group this user is not in: the new file is this user's, in
    its own group, which must not read what only the old group could. In a user namespace
    (a rootless container) an owner it does not map is refused with EINVAL: the write
    failed."""

    def not_permitted(fd: int, uid: int, gid: int) -> None:
        raise refusal

    target = tmp_path / "plan.json"
    target.write_text("old\n")
    target.chmod(0o640)
    monkeypatch.setattr(os, "fchown", not_permitted)
    write_atomic(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "new\n"


def test_a_symlink_loop_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(EntrasyncError, match="cannot write"):
        write_atomic(a, "{}\n")
    assert a.is_symlink()
    assert b.is_symlink()


def test_a_plan_file_is_read_through_a_pipe_as_process_substitution_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `apply <(cat plan.json)`: a pipe's size is unknown, so it is read in pieces up to the cap.
    text = b'{"format_version": 1}\n' * 1000
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(text,), daemon=True)
    writer.start()
    assert read_whole(fifo, "the plan file", "hint") == text
    writer.join(timeout=10)

    monkeypatch.setattr(files, "MAX_READ_BYTES", 100)
    writer = threading.Thread(target=fifo.write_bytes, args=(text,), daemon=True)
    writer.start()
    with pytest.raises(PlanFileError, match="is larger than 100 bytes: not one entrasync wrote"):
        read_whole(fifo, "the plan file", "hint")
    writer.join(timeout=10)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_as_a_plan_file(device: str) -> None:
    with pytest.raises(PlanFileError, match="it is a character device, not a file"):
        read_plan(Path(device))

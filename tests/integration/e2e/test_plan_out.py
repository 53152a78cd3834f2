"""`entrasync plan --out`: written through FIFOs and devices, to a symlink's target, never over
anything that is not a regular file (docs/safety.md, "Files are written, not replaced")."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import serve
from tests.integration.e2e.pipes import proc_pipe


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo tenant on loopback; yields the working folder."""
    tenant = demo_tenant()
    with serve(tenant.tenant, tenant.scim_users, tenant.config_yaml, tmp_path, monkeypatch):
        yield tmp_path


def plan_out(capsys: pytest.CaptureFixture[str], out: Path) -> tuple[int, str]:
    code = main(["plan", "--out", str(out)])
    return code, capsys.readouterr().err


def assert_a_plan(text: str) -> None:
    assert json.loads(text)["summary"]["create"] >= 1


def test_a_symlink_stays_a_link_and_its_target_gets_the_plan(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo / "plans").mkdir()
    target = demo / "plans" / "latest.json"
    target.write_text("an older plan\n")
    link = demo / "plan.json"
    link.symlink_to(Path("plans") / "latest.json")
    code, err = plan_out(capsys, link)
    assert code == 0, err
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("plans") / "latest.json")
    assert_a_plan(target.read_text())


def test_a_fifo_hands_the_plan_to_its_reader_and_stays_a_fifo(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = demo / "plan.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    code, err = plan_out(capsys, fifo)
    reader.join(timeout=30)
    assert code == 0, err
    assert len(received) == 1
    assert_a_plan(received[0])
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_dev_null_takes_the_plan_and_stays_a_character_device(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.stat("/dev/null")
    code, err = plan_out(capsys, Path("/dev/null"))
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert "Saved the plan to /dev/null" in err


def test_a_folder_is_an_error_and_stays_a_folder(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = demo / "plans"
    folder.mkdir()
    code, err = plan_out(capsys, folder)
    assert code == 1
    assert "Traceback" not in err
    assert "plans" in err
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_a_symlink_to_a_folder_is_an_error_and_both_stay(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = demo / "plans"
    folder.mkdir()
    link = demo / "plan.json"
    link.symlink_to(folder)
    code, err = plan_out(capsys, link)
    assert code == 1
    assert "Traceback" not in err
    assert link.is_symlink()
    assert list(folder.iterdir()) == []


def test_a_file_where_its_folder_should_be_is_named_as_such(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It said "File exists". Written after the plan is shown (and commented), as every
    # unsaveable plan file is: reviewers see the plan all the same.
    (demo / "plans").write_text("a file, not a folder\n")
    code, err = plan_out(capsys, demo / "plans" / "plan.json")
    assert code == 1
    assert f"cannot write {demo / 'plans' / 'plan.json'}: {demo / 'plans'} is not a folder" in err
    assert (demo / "plans").read_text() == "a file, not a folder\n"


def test_a_pipe_named_through_proc_takes_the_plan(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `plan --out /dev/stdout | reader`: /dev/stdout leads to /proc/self/fd/1, whose target is
    # a "pipe:[N]" that is no path; the pipe is opened as named.
    with proc_pipe(demo) as (link, received):
        code, err = plan_out(capsys, link)
    assert code == 0, err
    assert_a_plan(received[0].decode("utf-8"))

"""The whole loop through the real entry point: `entrasync demo` on the loopback sandbox."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.audit.chain import verify_audit
from entrasync.cli import main
from entrasync.console import configure_logging
from entrasync.errors import ExitCode
from entrasync.gctune import collector_paused
from entrasync.operations import stopping
from entrasync.operations.stopping import Stopped
from entrasync.sandbox import runner

KNOWN_SECRETS = ("fake-demo-client-secret-for-tests", "fake-demo-scim-token-for-tests")


@pytest.fixture
def known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    values = iter(KNOWN_SECRETS)
    monkeypatch.setattr(runner, "new_credential", lambda: next(values))


@pytest.fixture
def one_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every demo run of the test with one credential, as a folder's runs share its files."""
    monkeypatch.setattr(runner, "new_credential", lambda: "a-credential-for-every-demo-run")


def _demo_done(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A whole demo run in ``folder``, its output set aside."""
    assert main(["demo", "--dir", str(folder)]) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_demo_runs_the_loop_and_ends_in_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], known_secrets: None
) -> None:
    code = main(["demo", "--dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    for step in ("1. Check the mappings", "2. Plan", "3. Apply", "4. Plan again", "5. Verify"):
        assert step in out
    first_plan, _, after_apply = out.partition("$ entrasync apply plan.json")
    assert "to create" in first_plan
    assert "No changes." in after_apply
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["summary"]["create"] >= 1
    assert plan["summary"]["deactivate"] == 1
    # After the sync, init drafts mappings that reproduce the demo's: nothing left over.
    assert "Residue: none. `entrasync plan` of this file changes nothing." in out
    assert (tmp_path / "config" / "drafted.yaml").is_file()
    assert "is removed" not in out
    audits = list((tmp_path / "audit").glob("*.jsonl"))
    assert len(audits) == 1
    verdict = verify_audit(audits[0])
    assert verdict.ok, verdict.describe()


def test_demo_without_a_folder_says_its_draft_is_gone_and_how_to_keep_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # init's line says "Wrote config/drafted.yaml": that file went with the demo's folder.
    assert "The demo's folder (its config/drafted.yaml, plan.json and audit/) is removed;" in out
    assert "`entrasync demo --dir DIR` keeps them." in out
    assert "Files kept in" not in out


@pytest.mark.usefixtures("one_credential")
def test_demo_runs_again_in_the_same_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _demo_done(tmp_path, capsys)
    code = main(["demo", "--dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Residue: none." in out
    assert len(list((tmp_path / "audit").glob("*.jsonl"))) == 2


def test_demo_never_shows_or_writes_its_credentials(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    known_secrets: None,
) -> None:
    caplog.set_level(logging.DEBUG)  # -vv's lines: pytest's own handler takes them here
    assert main(["demo", "--dir", str(tmp_path), "-vv"]) == 0
    out, err = capsys.readouterr()
    written = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in tmp_path.rglob("*") if p.is_file()
    )
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "entrasync" in {r.name.partition(".")[0] for r in caplog.records}  # -vv logged
    for secret in KNOWN_SECRETS:
        assert secret not in out
        assert secret not in err
        assert secret not in written
        assert secret not in logs


def test_demo_is_plain_when_not_on_a_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrasync", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout + result.stderr
    assert "No changes." in result.stdout


def test_demo_will_not_take_a_folder_of_someone_elses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It planned the user's own config/mappings.yaml there and wrote over their plan.json."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mappings.yaml").write_text("version: 1\n")
    (tmp_path / "plan.json").write_text('{"mine": 1}\n')

    assert main(["demo", "--dir", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert f"error: {tmp_path} holds files the demo did not make" in err
    assert (tmp_path / "plan.json").read_text() == '{"mine": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "plan.json"]


def _edited_then_refused(folder: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Edit ``name`` in a folder a demo used: the next demo there refuses it, edits kept."""
    edited = (folder / "config" / name).read_text() + "# mine\n"
    _written_then_refused(folder, f"config/{name}", edited, capsys)


def _written_then_refused(
    folder: Path, name: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Write ``text`` to ``name`` in a folder a demo used: the next demo there refuses the
    folder, and the file keeps ``text``."""
    kept = folder / name
    kept.write_text(text)
    capsys.readouterr()

    assert main(["demo", "--dir", str(folder)]) == 1

    err = capsys.readouterr().err
    why = "changed" if name == "plan.json" else "edited"
    assert f"error: {folder} has its {name} {why} since the demo wrote it" in err
    # A file a step writes may be one a killed demo wrote and could not mark: its way out.
    # The mappings are marked before they are written.
    killed = (
        ", or, if you did not change it (a demo killed just after writing it), delete "
        f"{kept.as_posix()} and run again"
        if name != "config/mappings.yaml"
        else ""
    )
    assert err.endswith(f"hint: pass a new or empty folder to --dir{killed}\n")
    assert kept.read_text() == text


@pytest.mark.usefixtures("one_credential")
@pytest.mark.parametrize("name", ["plan.json", "config/drafted.yaml"])
def test_a_demo_killed_after_writing_a_file_before_marking_it_names_the_way_out(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL (no handler runs) after a step wrote plan.json or the draft and before the
    marker took its hash: the file is the demo's, but the marker cannot say so. The refusal
    names the file to delete, and deleting it gives the folder back."""
    _demo_done(tmp_path, capsys)
    marker = tmp_path / ".entrasync-demo"
    hashes = marker.read_text().split()
    hashes[1 if name == "config/drafted.yaml" else 2] = "0" * 64  # the file before the kill
    marker.write_text("\n".join(hashes) + "\n")

    assert main(["demo", "--dir", str(tmp_path)]) == 1
    assert f"delete {(tmp_path / name).as_posix()} and run again" in capsys.readouterr().err
    (tmp_path / name).unlink()
    assert main(["demo", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", ["mappings.yaml", "drafted.yaml"])
def test_demo_passes_q_to_its_steps_and_keeps_its_files_edited_in_its_folder(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later demo unlinked config/mappings.yaml in a folder it had used, edits and all (a
    sandbox there says "edit them freely"), and deleted config/drafted.yaml, which the demo
    says to review."""
    assert main(["demo", "--dir", str(tmp_path), "-q"]) == 0
    assert "Using config/mappings.yaml" not in capsys.readouterr().err  # -q reaches the steps
    _edited_then_refused(tmp_path, name, capsys)


def test_a_demo_that_failed_before_its_draft_still_keeps_an_edited_draft(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--dir", str(tmp_path), "-q"]) == 0
    (tmp_path / "plan.json").unlink()
    (tmp_path / "plan.json").mkdir()  # its plan cannot be saved: the demo stops at step 2
    assert main(["demo", "--dir", str(tmp_path), "-q"]) == 1
    (tmp_path / "plan.json").rmdir()
    _edited_then_refused(tmp_path, "drafted.yaml", capsys)


def test_a_marker_that_is_no_demos_is_a_folder_the_demo_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".entrasync-demo").write_bytes(b"\xff\xfe\n")
    assert main(["demo", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path} holds files the demo did not make" in err
    assert "Traceback" not in err


def test_a_demo_stopped_while_writing_its_files_leaves_a_folder_it_takes_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stopped (Ctrl-C) after config/ was made and before the marker was written, the folder
    # held "files the demo did not make", and the next demo there refused it.
    def stopped(directory: Path, config_yaml: str) -> Path:
        (directory / "config").mkdir()
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(runner, "write_workspace", stopped)
        assert main(["demo", "--dir", str(tmp_path), "-q"]) == ExitCode.INTERRUPTED
    code = main(["demo", "--dir", str(tmp_path), "-q"])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("taken", ["sandbox.env", "config"])
def test_demo_leaves_a_folder_a_sandbox_uses_or_whose_config_is_a_link(
    taken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo"
    assert main(["demo", "--dir", str(demo), "-q"]) == 0
    if taken == "config":
        (demo / "config").rename(tmp_path / "repository-config")
        (demo / "config").symlink_to(tmp_path / "repository-config")
    else:
        (demo / taken).write_text("export A=b\n")
    capsys.readouterr()

    assert main(["demo", "--dir", str(demo)]) == 1
    assert "is an `entrasync sandbox` folder, or its config/ is a link" in capsys.readouterr().err


def _demo_interrupted_at(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo in ``folder`` stopped by Ctrl-C when a step calls ``name`` (module.function)."""

    def interrupted(*_args: object, **_kwargs: object) -> object:
        raise KeyboardInterrupt

    with monkeypatch.context() as stopping:
        stopping.setattr(name, interrupted)
        assert main(["demo", "--dir", str(folder)]) == ExitCode.INTERRUPTED


@pytest.mark.usefixtures("one_credential")
def test_demo_stopped_while_it_shows_who_has_access_ends_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Step 6's exit code went unread: Ctrl-C there printed "interrupted", and the demo ran on.
    _demo_done(tmp_path, capsys)
    _demo_interrupted_at("entrasync.commands.users.users_view", tmp_path, monkeypatch)
    assert "── 7." not in capsys.readouterr().out
    # Its own plan.json, written after the stopped run's marker, is no user's change.
    assert main(["demo", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


def test_a_stop_python_drops_in_a_finalizer_still_ends_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a step ran a weakref callback: the handler's Stopped was reported as
    "Exception ignored", with a traceback, and dropped, and the demo ran on to exit 0."""
    from entrasync.core.users_view import users_view as shown

    def stopped_in_a_callback(*args: Any, **kwargs: Any) -> Any:
        _signal_in_a_weakref_callback()
        return shown(*args, **kwargs)

    monkeypatch.setattr("entrasync.commands.users.users_view", stopped_in_a_callback)
    assert main(["demo", "--dir", str(tmp_path)]) == ExitCode.TERMINATED
    assert not (tmp_path / "config" / "drafted.yaml").exists()


def test_a_stop_python_drops_in_the_demos_own_code_ends_it_after_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same between steps, where the demo's own handler is the one called."""
    from entrasync.commands import demo

    hashed = demo._sha256
    calls: list[bool] = []

    def stopped_once(data: bytes) -> str:
        if not calls:
            calls.append(True)
            _signal_in_a_weakref_callback()
        return hashed(data)

    monkeypatch.setattr(demo, "_sha256", stopped_once)
    assert main(["demo", "--dir", str(tmp_path)]) == ExitCode.TERMINATED
    assert "── 2." not in capsys.readouterr().out


@pytest.mark.usefixtures("one_credential")
def test_a_runners_second_signal_after_a_step_stopped_is_only_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cancelled job gets SIGINT, then SIGTERM: the step said "interrupted" and exited 130,
    # then the demo's own handler said "stopped by SIGTERM", exit 143, and cut short the
    # marking of the draft init had written, which the next demo then refused as edited.
    with monkeypatch.context() as patched:
        _signal_as_the_run_ends(patched, signal.SIGTERM)
        _demo_interrupted_at("entrasync.commands.init.residue_lines", tmp_path, monkeypatch)
    err = capsys.readouterr().err
    assert err.count("interrupted") == 1
    assert "stopped by SIGTERM" not in err
    assert "SIGTERM: already stopping" in err
    assert main(["demo", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


def _signal_as_the_run_ends(patched: pytest.MonkeyPatch, signum: int) -> None:
    """``signum`` to this process as the demo marks its files a third time: at the start,
    after step 2, then as the run ends."""
    from entrasync.commands import demo

    mark = demo._mark
    marks: list[int] = []

    def marked(work: Path, mappings_sha256: str) -> None:
        marks.append(1)
        if len(marks) == 3:
            os.kill(os.getpid(), signum)
        mark(work, mappings_sha256)

    patched.setattr(demo, "_mark", marked)


@pytest.mark.usefixtures("one_credential")
def test_a_stop_while_the_run_marks_its_files_still_marks_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        _signal_as_the_run_ends(patched, signal.SIGINT)  # every step done
        assert main(["demo", "--dir", str(tmp_path)]) == ExitCode.INTERRUPTED
    capsys.readouterr()
    assert main(["demo", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


def test_a_stop_while_the_demo_removes_its_folder_still_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    remove = shutil.rmtree
    stopped: list[Path] = []

    def stopped_once(path: Path, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith("entrasync-demo-") and not stopped:
            stopped.append(Path(path))
            remove(Path(path) / "config")  # part of it removed, then SIGTERM
            raise Stopped(signal.SIGTERM)
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", stopped_once)
    assert main(["demo", "-q"]) == ExitCode.TERMINATED
    assert stopped
    assert not stopped[0].exists()


def _signal_in_a_weakref_callback() -> None:
    """SIGTERM to this process from a weakref callback: its handler's exception is dropped."""

    class Referent:
        pass

    referent = Referent()
    _ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.SIGTERM))
    del referent  # the callback runs, and the signal's handler in it


@pytest.mark.usefixtures("one_credential")
def test_a_first_demo_stopped_after_init_wrote_its_draft_leaves_a_folder_taken_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The marker said "no draft yet": the next demo took init's draft for the user's edit.
    _demo_interrupted_at("entrasync.commands.init.residue_lines", tmp_path, monkeypatch)
    assert (tmp_path / "config" / "drafted.yaml").exists()
    capsys.readouterr()
    assert main(["demo", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


@pytest.mark.usefixtures("one_credential")
def test_a_demo_stopped_before_init_wrote_its_draft_keeps_a_draft_written_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The marker said "init is writing the draft" after the stop too, and the next demo took
    # any draft there for init's and wrote over it.
    _demo_interrupted_at("entrasync.commands.init.bootstrap", tmp_path, monkeypatch)
    assert not (tmp_path / "config" / "drafted.yaml").exists()
    _written_then_refused(tmp_path, "config/drafted.yaml", "mine\n", capsys)


@pytest.mark.usefixtures("one_credential")
def test_a_demo_stopped_before_its_plan_keeps_the_plan_of_the_run_before_protected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run stopped before step 2 dropped plan.json's hash, and the next one wrote over it.
    _demo_done(tmp_path, capsys)
    _demo_interrupted_at("entrasync.commands.validate.summary", tmp_path, monkeypatch)
    _written_then_refused(tmp_path, "plan.json", '{"mine": 1}\n', capsys)


@pytest.mark.usefixtures("one_credential")
def test_demo_in_its_folder_again_keeps_a_changed_plan_and_verifies_its_own_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It wrote over a plan.json of the user's, and verified whichever audit file sorted last:
    one of the user's failed it, and the demo asked for a bug report."""
    _demo_done(tmp_path, capsys)
    (tmp_path / "audit" / "zzz-mine.jsonl").write_text("not an audit file\n")

    assert main(["demo", "--dir", str(tmp_path)]) == 0  # its own audit file verified

    _written_then_refused(tmp_path, "plan.json", '{"mine": 1}\n', capsys)


def test_a_stop_python_drops_as_a_step_starts_ends_the_demo_before_the_step_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's own handler ran in a weakref callback as apply's step set up its logging:
    the stop was dropped, the step then cleared the flag that refuses new requests, and apply
    wrote every change before the demo stopped."""
    calls: list[int] = []

    def configured(verbose: int) -> None:
        calls.append(verbose)
        if len(calls) == 4:  # the demo's own, then steps 1, 2 and 3 (apply)
            _signal_in_a_weakref_callback()
        configure_logging(verbose)

    monkeypatch.setattr("entrasync.cli.configure_logging", configured)
    assert main(["demo", "--dir", str(tmp_path)]) == ExitCode.TERMINATED
    out, err = capsys.readouterr()
    assert "── 3. Apply" in out
    assert "Apply complete" not in out
    assert not list(tmp_path.glob("audit/*.jsonl"))
    assert err.count("stopped by SIGTERM") == 1


def test_a_stop_after_a_steps_own_handlers_is_told_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as a step's command returned, once its handlers were gone: the step said
    "stopped by SIGTERM" and exited 143, and the demo said it again."""

    @contextmanager
    def paused_then_signalled() -> Iterator[None]:
        in_a_step = stopping._command_stop is not None
        with collector_paused():
            yield
            if in_a_step:
                os.kill(os.getpid(), signal.SIGTERM)  # the demo's handler is the one called

    monkeypatch.setattr("entrasync.cli.collector_paused", paused_then_signalled)
    assert main(["demo", "--dir", str(tmp_path)]) == ExitCode.TERMINATED
    out, err = capsys.readouterr()
    assert "── 2." not in out
    assert err.count("stopped by SIGTERM") == 1


def test_a_second_demo_in_the_folder_exits_at_once_and_the_first_runs_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two started together applied each other's plan.json: both failed, "report it as a bug"."""
    first = subprocess.Popen(
        [sys.executable, "-m", "entrasync", "demo", "--dir", str(tmp_path), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None
    for line in first.stdout:  # the folder is taken and the first step has begun
        if line.startswith("── 1."):
            break
    try:
        assert main(["demo", "--dir", str(tmp_path), "-q"]) == 1
        demo_err = capsys.readouterr().err
        assert main(["sandbox", "--dir", str(tmp_path)]) == 1
        sandbox_err = capsys.readouterr().err
    finally:
        _, first_err = first.communicate(timeout=120)
    for err, command in ((demo_err, "demo"), (sandbox_err, "sandbox")):
        assert f"error: another entrasync demo is running in {tmp_path} (pid " in err
        # A demo writes no sandbox.env to use.
        assert f"hint: wait for it to end, or pass --dir to run a second {command} in" in err
    assert first.returncode == 0, first_err


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_demo_exits_as_stopped_not_as_a_bug(
    signum: signal.Signals, code: int, tmp_path: Path
) -> None:
    """A step stopped by Ctrl-C ended in "the demo stopped ... report it as a bug", exit 1."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "entrasync", "demo", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A child of a non-interactive shell may start with SIGINT ignored; this one must not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert demo.stdout is not None
    for line in demo.stdout:  # the servers run and the first step has begun
        if line.startswith("── 1."):
            break
    demo.send_signal(signum)
    _, err = demo.communicate(timeout=60)

    assert demo.returncode == code, err
    assert "bug" not in err
    assert "Traceback" not in err

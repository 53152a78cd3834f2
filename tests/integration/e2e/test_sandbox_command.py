"""`entrasync sandbox`: servers stay up, the environment file points plan at them, and
SIGTERM (like Ctrl-C) stops everything and removes the now-useless credentials file.

The file keeps out of the way (docs/sandbox.md): the sandbox's CA is trusted by entrasync
alone (ENTRASYNC_CA_BUNDLE), the file is 0600 whatever was there before, one sandbox runs per
folder, and settings left from a stopped sandbox say to source the new file.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import pty
import resource
import select
import shlex
import signal
import stat
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from entrasync.adapters.throttle import reset_waits
from entrasync.cli import main

STANDARD_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} not printed; got:\n{seen}")


def _read_env_file(path: Path) -> dict[str, str]:
    """What sourcing the file exports (its first line unsets a real tenant's variables)."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
    return env


def _start(directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "entrasync", "sandbox", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def _sandbox(directory: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running `entrasync sandbox` and its banner; stopped with SIGTERM on the way out."""
    proc = _start(directory)
    try:
        yield proc, _wait_for(proc, "Press Ctrl-C to stop.")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _entrasync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """entrasync with exactly ``env`` (plus PATH): nothing inherited from this shell."""
    return subprocess.run(
        [sys.executable, "-m", "entrasync", *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sandbox_serves_plan_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    env_file.write_text("export LEFT=over\n")
    env_file.chmod(0o644)  # as a copy, an editor or an older entrasync may have left it
    proc = _start(tmp_path)
    try:
        banner = _wait_for(proc, "Press Ctrl-C to stop.")
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        sandbox_env = _read_env_file(env_file)
        for secret in ("AZURE_CLIENT_SECRET", "NEURALTRUST_SCIM_TOKEN"):
            assert sandbox_env[secret] not in banner
        # The CA is entrasync's business: pip, git and curl in that shell keep their trust.
        assert not set(STANDARD_CA_VARIABLES) & set(sandbox_env)
        assert Path(sandbox_env["ENTRASYNC_CA_BUNDLE"]).is_file()
        mappings = tmp_path / "config" / "mappings.yaml"
        assert yaml.safe_load(mappings.read_text())["version"] == 1
        schema_hint = mappings.read_text().splitlines()[0].split("$schema=")[1]
        assert (mappings.parent / schema_hint).resolve().is_file()

        out = str(tmp_path / "plan.json")
        plan = _entrasync(sandbox_env, "-vv", "plan", "--detailed-exitcode", "--out", out)
        assert plan.returncode == 2, plan.stderr
        assert "to create" in plan.stdout
        assert plan.stdout.rstrip().splitlines()[-1].startswith("Plan: ")
        assert json.loads((tmp_path / "plan.json").read_text())["summary"]["create"] >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    assert not env_file.exists()
    ca_file = Path(sandbox_env["ENTRASYNC_CA_BUNDLE"])
    assert not ca_file.exists()

    # A shell that sourced the file before the sandbox stopped: an error that says what to do.
    stale = _entrasync(sandbox_env, "plan")
    assert stale.returncode == 1
    assert f"error: ENTRASYNC_CA_BUNDLE names {ca_file}, which does not exist" in stale.stderr
    assert "has stopped or restarted" in stale.stderr
    assert "`source` the sandbox.env it writes" in stale.stderr
    assert "Traceback" not in stale.stderr


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_closed_terminal_stops_the_sandbox_as_ctrl_c_does(
    tmp_path: Path, unbuffered: bool
) -> None:
    """The sandbox in a terminal of its own that then closes: SIGHUP, and a terminal that can
    no longer show "sandbox stopped". Buffered (Python's default, which PYTHONUNBUFFERED on
    CI machines hides), the exit's flush of that line failed again: exit 120."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        environ["PYTHONUNBUFFERED"] = "1"
    controller, terminal = pty.openpty()
    with (tmp_path / "err.txt").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entrasync", "sandbox", "--dir", str(tmp_path)],
            env=environ,
            stdin=terminal,
            stdout=terminal,
            stderr=err,
            start_new_session=True,  # a session whose controlling terminal is this one
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 30
    while b"Press Ctrl-C to stop." not in seen and time.monotonic() < deadline:
        if select.select([controller], [], [], 1)[0]:
            seen += os.read(controller, 4096)
    assert (tmp_path / "sandbox.env").exists(), seen
    os.close(controller)  # the terminal closes: the kernel hangs up its session
    assert (proc.wait(timeout=30), (tmp_path / "err.txt").read_text()) == (0, "")
    assert not (tmp_path / "sandbox.env").exists()


def test_a_symlinked_sandbox_env_is_kept_and_its_target_emptied_on_stop(tmp_path: Path) -> None:
    """Never replace a non-regular file: the link was written through, then deleted on stop,
    while its target kept the credentials."""
    target = tmp_path / "real.env"
    target.write_text("export LEFT=over\n")
    (tmp_path / "sb").mkdir()
    link = tmp_path / "sb" / "sandbox.env"
    link.symlink_to(target)
    with _sandbox(tmp_path / "sb"):
        assert link.is_symlink()
        assert "NEURALTRUST_SCIM_TOKEN" in _read_env_file(target)
    assert link.is_symlink()
    assert target.read_text() == ""


def test_a_second_sandbox_in_the_folder_exits_naming_the_first(tmp_path: Path) -> None:
    with _sandbox(tmp_path) as (first, _):
        env_file = tmp_path / "sandbox.env"
        before = env_file.read_text()
        second = _entrasync(dict(os.environ), "sandbox", "--dir", str(tmp_path))
        assert second.returncode == 1
        assert f"another entrasync sandbox is running in {tmp_path} (pid {first.pid}" in (
            second.stderr
        )
        assert "Traceback" not in second.stderr
        assert env_file.read_text() == before
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert first.poll() is None  # the first one serves on


def test_a_killed_sandbox_leaves_a_hint_and_no_lock(tmp_path: Path) -> None:
    """SIGKILL leaves sandbox.env and the CA file behind, with nothing listening."""
    proc = _start(tmp_path)
    try:
        _wait_for(proc, "Press Ctrl-C to stop.")
        sandbox_env = _read_env_file(tmp_path / "sandbox.env")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    try:
        plan = _entrasync(sandbox_env, "plan")
        assert plan.returncode == 1
        assert "could not reach the token authority https://127.0.0.1:" in plan.stderr
        assert "if it came from sandbox.env, the sandbox that wrote" in plan.stderr
        assert "Traceback" not in plan.stderr
        with _sandbox(tmp_path):  # the kernel released the killed one's lock
            assert _read_env_file(tmp_path / "sandbox.env") != sandbox_env
    finally:
        Path(sandbox_env["ENTRASYNC_CA_BUNDLE"]).unlink(missing_ok=True)


def test_the_sandbox_serves_with_the_cyclic_collector_on(tmp_path: Path) -> None:
    # Every other command runs with the collector paused (entrasync.gctune); the sandbox serves
    # until it is stopped, and its servers' cycles would pile up meanwhile. Run in-process, a
    # thread sees the collector's state once the sandbox is up, then stops it as SIGTERM does.
    # Only while the command runs: once `main` has returned, SIGTERM would kill pytest itself
    # (no report), so a sandbox that failed to start is left to the assertions below.
    seen: list[bool] = []
    returned = threading.Event()

    def look_then_stop() -> None:
        env_file = tmp_path / "sandbox.env"
        deadline = time.monotonic() + 30
        while not env_file.exists() and time.monotonic() < deadline:
            if returned.wait(0.05):
                return
        if env_file.exists():
            seen.append(gc.isenabled())
        # Past the deadline without the file, the command still runs: stopping it fails the
        # test (nothing seen) instead of hanging it.
        if not returned.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    # A SIGTERM sent just as `main` returns lands here, not in pytest's default handling.
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    watcher = threading.Thread(target=look_then_stop)
    watcher.start()
    try:
        code = main(["sandbox", "--dir", str(tmp_path)])
    finally:
        returned.set()
        watcher.join()
        signal.signal(signal.SIGTERM, previous)
        # A command stopped by a signal leaves the waits ended (the next `main` starts them
        # afresh): a later test calling the readers directly met Abandoned at once.
        reset_waits()

    assert code == 0
    assert seen == [True]
    assert gc.isenabled()


def test_the_source_line_it_prints_works_pasted_in_another_folder(tmp_path: Path) -> None:
    """It printed `source my sandbox/sandbox.env`: split at the space, and relative."""
    with _sandbox(tmp_path / "my sandbox") as (_, banner):
        [line] = [s.strip() for s in banner.splitlines() if s.strip().startswith("source ")]
        pasted = subprocess.run(
            ["bash", "-c", f'{line.partition("#")[0]} && echo "$NEURALTRUST_SCIM_URL"'],
            cwd="/",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert pasted.returncode == 0, pasted.stderr
    assert pasted.stdout.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("command", [["demo"], ["sandbox", "--dir", "{dir}"]])
def test_a_temporary_folder_that_cannot_take_the_tls_files_is_an_error_not_a_bug(
    command: list[str], tmp_path: Path
) -> None:
    """A file size limit (or a full $TMPDIR) met writing the sandbox CA ended in "unexpected
    error (a bug)" with a traceback."""

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    args = [part.replace("{dir}", str(tmp_path / "sandbox")) for part in command]
    done = subprocess.run(
        [sys.executable, "-m", "entrasync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("error: cannot write the sandbox's TLS files in ")
    assert "Traceback" not in done.stderr
    assert "hint: free space there (or raise the file size limit, `ulimit -f`)" in done.stderr

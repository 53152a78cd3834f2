"""The program's entry point: a Ctrl-C before the CLI's handlers are in place is an interrupt
like any other (exit 130, no traceback)."""

from __future__ import annotations

import importlib.abc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from entrasync import cli
from entrasync.errors import ExitCode
from entrasync.launch import INTERRUPTED, TERMINATED, run

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def _signals_given_back() -> Iterator[None]:
    """The program run in this process ends with the stop signals ignored: given back here,
    or the next test's child process would start with them ignored."""
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


class _CtrlCWhileLoading(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == "entrasync.cli":
            raise KeyboardInterrupt


def test_ctrl_c_while_the_cli_loads_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "entrasync.cli")
    monkeypatch.setattr(sys, "meta_path", [_CtrlCWhileLoading(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "\ninterrupted\n"


def test_a_second_ctrl_c_while_the_first_is_reported_exits_130_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted_twice(_argv: Sequence[str] | None = None, *, last: bool = False) -> int:
        raise KeyboardInterrupt  # escaped main(): raised inside its own "interrupted" report

    monkeypatch.setattr(cli, "main", interrupted_twice)
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 130
    assert "Traceback" not in capsys.readouterr().err


def test_the_exit_code_of_the_command_is_the_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["entrasync", "--version"])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 0


def test_the_entry_point_knows_the_interrupted_exit_code_as_the_cli_does() -> None:
    assert INTERRUPTED == ExitCode.INTERRUPTED


def test_scripts_installed_before_the_entry_point_moved_still_start() -> None:
    # An editable install's script keeps `from entrasync.cli import run` until reinstalled.
    assert cli.run is run


def test_an_interrupt_inside_an_exec_ends_python_m_with_130_not_by_sigint(
    tmp_path: Path,
) -> None:
    """A Ctrl-C that lands while a dataclass is made (exec of a string) as a command's module
    loads: under `python -m entrasync` the process died of SIGINT (-2), not exit 130."""
    (tmp_path / "interrupted_in_exec.py").write_text(
        "from entrasync import cli\n"
        "from entrasync.launch import run\n"
        "def main(last=False):\n"
        "    exec('raise KeyboardInterrupt')\n"
        "cli.main = main\n"
        "run()\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "interrupted_in_exec"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == INTERRUPTED, done.stderr
    assert done.stderr == "\ninterrupted\n"


def _run_script(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    """``source`` run as a script of its own (a signal ends a process, never pytest's)."""
    script = folder / "script.py"
    script.write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
    )


def _run_with_main(folder: Path, before: str, main: str) -> subprocess.CompletedProcess[str]:
    """The program, its CLI a module whose ``main`` is ``main`` (its body's lines), with the
    lines ``before`` first."""
    return _run_script(
        folder,
        "import os, signal, types, sys, weakref\n"
        f"{before}"
        "fake = types.ModuleType('entrasync.cli')\n"
        f"def main(last=False):\n{main}"
        "fake.main = main\n"
        "sys.modules['entrasync.cli'] = fake\n"
        "from entrasync.launch import run\n"
        "run()\n",
    )


@pytest.mark.parametrize(
    ("ignored", "code", "err"),
    [(False, TERMINATED, "\nstopped by SIGHUP\n"), (True, 0, "")],
    ids=["exit 143 as in a command", "ignored from the start (nohup): ignored"],
)
def test_sighup_outside_a_commands_handlers_ends_as_it_does_inside(
    tmp_path: Path, ignored: bool, code: int, err: str
) -> None:
    # While the CLI loads, or once a command's handlers are gone: it ended silently with 129.
    done = _run_with_main(
        tmp_path,
        f"if {ignored}:\n    signal.signal(signal.SIGHUP, signal.SIG_IGN)\n",
        "    os.kill(os.getpid(), signal.SIGHUP)\n    return 0\n",
    )
    assert (done.returncode, done.stderr) == (code, err)


@pytest.mark.parametrize(
    ("signum", "code", "err"),
    [("SIGTERM", TERMINATED, "\nstopped by SIGTERM\n"), ("SIGINT", INTERRUPTED, "\ninterrupted\n")],
)
def test_a_stop_python_drops_once_the_command_returned_ends_the_program_as_stopped(
    tmp_path: Path, signum: str, code: int, err: str
) -> None:
    # Raised in a weakref callback, as a stop unwinds: "Exception ignored", a traceback of
    # launch._Ended, and the command's own exit code.
    done = _run_with_main(
        tmp_path,
        "class Referent: pass\n",
        "    referent = Referent()\n"
        f"    ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.{signum}))\n"
        "    del referent\n"
        "    return 0\n",
    )
    assert (done.returncode, done.stderr) == (code, err)


def test_signals_once_the_command_has_ended_change_nothing(tmp_path: Path) -> None:
    # The collection after a command that succeeded ran weakref callbacks: a Ctrl-C raised in
    # one was dropped, a SIGTERM then raised in the hook that took it (a traceback, exit 0).
    done = _run_with_main(
        tmp_path,
        "from entrasync.operations.stopping import signals_interrupt\n"
        "class Referent: pass\n"
        "def both(_):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n",
        "    with signals_interrupt(last=last):\n"
        "        pass\n"
        "    referent = Referent()\n"
        "    ref = weakref.ref(referent, both)\n"
        "    del referent\n"
        "    return 0\n",
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(
    "stop", ["", "            os.kill(os.getpid(), signal.SIGINT)\n"], ids=["failed", "stopped"]
)
def test_a_signal_while_the_program_waits_for_a_request_at_its_exit_ends_it_at_once(
    tmp_path: Path, stop: str
) -> None:
    # A command that failed, or was stopped, while a page request hung: the interpreter joins
    # that thread at its exit, and with the stop signals ignored only SIGKILL ended the wait.
    started = time.monotonic()
    done = _run_with_main(
        tmp_path,
        "import threading, time\nfrom entrasync.operations.stopping import signals_interrupt\n",
        "    try:\n"
        "        with signals_interrupt(last=last):\n"
        "            threading.Thread(target=time.sleep, args=(60,)).start()\n"
        f"{stop}"
        "    finally:\n"
        "        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
        "    return 1\n",
    )
    assert done.returncode == -signal.SIGTERM
    assert time.monotonic() - started < 30


def test_a_stop_python_drops_while_the_cli_loads_runs_no_command(tmp_path: Path) -> None:
    # Taken by the program's hook, it let the whole command run (an apply's every write), and
    # only then said "interrupted".
    done = _run_script(
        tmp_path,
        "import os, signal, types, sys, weakref\n"
        "class Referent: pass\n"
        "def __getattr__(name):\n"  # `from entrasync.cli import main`, as the module loads
        "    referent = Referent()\n"
        "    ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.SIGINT))\n"
        "    del referent\n"
        "    return lambda: print('ran') or 0\n"
        "fake = types.ModuleType('entrasync.cli')\n"
        "fake.__getattr__ = __getattr__\n"
        "sys.modules['entrasync.cli'] = fake\n"
        "from entrasync.launch import run\n"
        "run()\n",
    )
    assert (done.returncode, done.stdout, done.stderr) == (INTERRUPTED, "", "\ninterrupted\n")


def test_a_second_signal_while_the_first_is_reported_changes_nothing(tmp_path: Path) -> None:
    # A runner's cancel sends one signal after another: the second raised again, uncaught.
    done = _run_script(
        tmp_path,
        "import os, signal, types, sys\n"
        "class Err:\n"
        "    def __init__(self, s): self.s = s\n"
        "    def write(self, t):\n"
        "        if 'stopped by' in t: os.kill(os.getpid(), signal.SIGHUP)\n"
        "        return self.s.write(t)\n"
        "    def flush(self): self.s.flush()\n"
        "fake = types.ModuleType('entrasync.cli')\n"
        "def main(last=False):\n"
        "    sys.stderr = Err(sys.stderr)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return 0\n"
        "fake.main = main\n"
        "sys.modules['entrasync.cli'] = fake\n"
        "from entrasync.launch import run\n"
        "run()\n",
    )
    assert (done.returncode, done.stderr) == (TERMINATED, "\nstopped by SIGTERM\n")


def test_the_program_ends_with_the_stop_signals_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its exit code is decided once its command has ended, and its exit handlers run.
    monkeypatch.setattr(sys, "argv", ["entrasync", "--version"])
    with pytest.raises(SystemExit):
        run()
    assert [signal.getsignal(s) for s in STOP_SIGNALS] == [signal.SIG_IGN] * 3


def test_the_entry_point_knows_the_terminated_exit_code_as_the_cli_does() -> None:
    assert TERMINATED == ExitCode.TERMINATED

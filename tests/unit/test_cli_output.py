"""Output that cannot be written is the user's situation to fix, not a bug with a traceback."""

from __future__ import annotations

import errno
import io
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from entrasync import __version__, cli
from entrasync.adapters.throttle import Abandoned, end_waits, reset_waits
from entrasync.cli import main
from entrasync.commands import validate
from entrasync.console import Console
from entrasync.core.redact import MASK, WITHHELD, remember

CONFIG = Path(__file__).resolve().parents[2] / "config" / "mappings.yaml"


class Refusing(io.StringIO):
    """A stdout whose device refuses every write."""

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def write(self, _text: str) -> int:
        raise OSError(self.code, "No space left on device")


@pytest.mark.parametrize(
    "args",
    [["validate", str(CONFIG)], ["validate", "--help"], ["--version"]],
    ids=["a result", "help, which click writes", "the version, which click writes"],
)
def test_a_full_disk_under_the_output_is_an_error_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with monkeypatch.context() as scoped:  # undone before capsys ends its own stdout (`-s`)
        scoped.setattr("sys.stdout", Refusing(errno.ENOSPC))
        assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: could not write the output: No space left on device\n"
        "hint: free space where the output goes, or send it elsewhere, then run again\n"
    )


def test_the_same_os_error_elsewhere_is_still_reported_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only writing the output is the user's to fix: a full temporary folder met inside a
    command, unexplained there, is a bug to report (with its traceback)."""

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(validate, "load_reviewed_config", full)
    assert main(["validate", str(CONFIG)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "hit an unexpected error (a bug)" in err


def test_a_bugs_traceback_masks_every_credential_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception's text may quote what a server sent back, which may echo the credential it
    was sent: the traceback went to the log unmasked."""
    secret = "fake-echoed-client-secret-for-tests-0123456789"
    remember(secret)

    def echoed(*_args: object, **_kwargs: object) -> None:
        raise ValueError(f"invalid literal for int(): 'client_id=x&client_secret={secret}'")

    monkeypatch.setattr(validate, "load_reviewed_config", echoed)
    assert main(["validate", str(CONFIG)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert f"client_secret={MASK}" in err
    assert secret not in err
    assert "hit an unexpected error (a bug)" in err


def test_a_bugs_traceback_with_a_credential_in_another_form_keeps_its_frames(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Withheld whole, the bug report held no frame and no exception type, and ran into the
    line that points to it."""
    secret = "fake-upper-cased-secret-for-tests-0123456789"
    remember(secret)

    def echoed(*_args: object, **_kwargs: object) -> None:
        try:
            raise KeyError("the first failure")
        except KeyError:
            raise ValueError(f"answer: {secret.upper()}") from None

    monkeypatch.setattr(validate, "load_reviewed_config", echoed)
    assert main(["validate", str(CONFIG)]) == 1
    err = capsys.readouterr().err
    assert secret.upper() not in err.upper()
    lines = err.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any(line.startswith('  File "') and line.endswith(", in echoed") for line in lines)
    assert lines[-2:] == [
        f"ValueError: {WITHHELD}",
        f"entrasync {__version__} hit an unexpected error (a bug): please report it with the "
        "traceback above",
    ]


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGINT, 130, "\ninterrupted\n"),
        (signal.SIGTERM, 143, "\nstopped by SIGTERM\n"),
        (signal.SIGHUP, 143, "\nstopped by SIGHUP\n"),
    ],
)
def test_an_error_after_a_stop_signal_is_the_stop_not_a_bug(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
    code: int,
    said: str,
) -> None:
    """Python swallows a KeyboardInterrupt raised in a finaliser or an import hook; what then
    reaches the command is a reader abandoned by the signal: the user stopped it, and the exit
    code is the signal's (docs/commands.md: 130 for SIGINT, 143 for SIGTERM and SIGHUP)."""

    def abandoned(*_args: object, **_kwargs: object) -> None:
        end_waits(signum)  # what the signal handler does before its exception is lost
        raise Abandoned()

    def cut(*_args: object, **_kwargs: object) -> None:
        end_waits(signum)
        raise OSError(errno.ECONNRESET, "Connection reset by peer")  # a socket the stop closed

    for after_the_stop in (abandoned, cut):
        monkeypatch.setattr(validate, "load_reviewed_config", after_the_stop)
        try:
            assert main(["validate", str(CONFIG)]) == code
        finally:
            reset_waits()  # as the next command would
        assert capsys.readouterr().err == said


def test_running_out_of_memory_is_an_error_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never a traceback or MemoryError, whatever the input's size."""

    def too_large(*_args: object, **_kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(validate, "load_reviewed_config", too_large)
    assert main(["validate", str(CONFIG)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: entrasync ran out of memory\nhint: run it where more memory")
    assert "Traceback" not in err


def test_json_or_csv_written_as_bytes_to_a_full_disk_is_the_output_too() -> None:
    """On a stdout that is not UTF-8, data formats go to its byte buffer, not through echo."""

    class FullBuffer(io.BytesIO):
        def write(self, _data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    out = io.TextIOWrapper(FullBuffer(), encoding="ascii")
    with pytest.raises(OSError, match="No space left") as caught:
        Console(out=out).result_lines(['{"a": 1}\n'], data=True)
    assert cli._writing_output(caught.value)
    with pytest.raises(OSError, match="No space left") as elsewhere:
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not cli._writing_output(elsewhere.value)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_output_cut_short_by_the_file_size_limit_is_an_error_whatever_the_buffering(
    unbuffered: bool, tmp_path: Path
) -> None:
    """Under PYTHONUNBUFFERED (many CI images set it) stdout is a raw file, whose short write
    the text stream ignored: the help cut at 1,024 bytes, exit 0. Buffered, the error was
    said, and the interpreter's flush at exit failed again ("Exception ignored", exit 120)."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        environ["PYTHONUNBUFFERED"] = "1"
    out = tmp_path / "help.txt"

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    with out.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "entrasync", "plan", "--help"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=environ,
            preexec_fn=limited,
            check=False,
        )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err == (
        "error: could not write the output: File too large\n"
        "hint: free space where the output goes, or send it elsewhere, then run again\n"
    )
    assert out.stat().st_size == 1024


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_a_warning_the_full_stderr_refuses_after_a_success_is_exit_1_not_120(
    unbuffered: bool, tmp_path: Path
) -> None:
    """The warning stayed in stderr's buffer, and the interpreter's flush of it at exit failed:
    "Exception ignored" (to the full device) and exit 120. The result itself is whole."""
    config = tmp_path / "m.yaml"
    config.write_text(
        "version: 1\nmappings:\n  - name: NT-Old\n    role: member\n    expires: 2020-01-01\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        environ["PYTHONUNBUFFERED"] = "1"
    with open(os.devnull, "w") as nowhere, open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "entrasync", "validate", str(config)],
            stdout=subprocess.PIPE,
            stderr=full,
            stdin=nowhere,
            env=environ,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout.decode().startswith(f"{config} is valid: 1 mapping (0 synced)")

"""Console: a command's result on stdout, never with terminal escapes when colour is off."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import struct
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from entrasync import cli
from entrasync.commands.plan import show
from entrasync.console import Console, LogHandler, configure_logging
from entrasync.core.redact import MASK, WITHHELD, remember
from entrasync.errors import EntrasyncError
from tests.golden.plans import golden_plan


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("Plan: 1 to create\n  + create ada", "Plan: 1 to create\n  + create ada\n"),
        ("\x1b[31mred\x1b[0m and plain", "red and plain\n"),
    ],
)
def test_a_result_without_colour_carries_no_ansi_codes(text: str, printed: str) -> None:
    out = io.StringIO()  # not a terminal: no colour
    Console(out=out, err=io.StringIO()).result(text)
    assert out.getvalue() == printed


@pytest.mark.parametrize(
    "text", ["Plan: 1 to create", "Plan: 1 to create\n", "Plan: 1 to create\n\n"]
)
def test_a_result_ends_in_exactly_one_newline(text: str) -> None:
    out = io.StringIO()
    Console(out=out, err=io.StringIO()).result(text)
    assert out.getvalue() == "Plan: 1 to create\n"


def test_a_long_result_is_written_piece_by_piece_as_it_comes() -> None:
    out = io.StringIO()
    printed: list[int] = []

    def lines() -> Iterator[str]:
        for n in range(2500):
            printed.append(len(out.getvalue()))
            yield f"line {n}\n"

    Console(out=out, err=io.StringIO()).result_lines(lines())
    assert out.getvalue() == "".join(f"line {n}\n" for n in range(2500))
    assert printed[1000] > 0  # the first thousand lines were out before the rest was made


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


HOSTILE = "NT\x1b[2J\x1b]8;;https://evil\x07click\x1b]8;;\x07\u202e\r\n::error::pwned"
SHOWN = "NT\\x1b[2J\\x1b]8;;https://evil\\x07click\\x1b]8;;\\x07\\u202e\\x0d\\x0a::error::pwned"


def test_a_progress_line_shows_a_name_escaped_on_its_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", "500")
    err = _Terminal()
    Console(out=io.StringIO(), err=err).progress(f"read group {HOSTILE}: 3 users")
    # The line's own "\r ESC[K" (return, clear the line), then the text, nothing raw of it.
    assert err.getvalue() == f"\r\x1b[Kread group {SHOWN}: 3 users"


def test_a_warning_is_coloured_only_where_stderr_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A terminal for the results and `2>warnings.log`: the log got escape codes.
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    err = io.StringIO()
    Console(out=_Terminal(), err=err).warn("mapping X expired on 2026-12-01")
    assert err.getvalue() == "warning: mapping X expired on 2026-12-01\n"
    terminal = _Terminal()
    Console(out=_Terminal(), err=terminal).warn("w")
    assert "\x1b[" in terminal.getvalue()


def test_a_progress_line_is_cut_to_the_terminals_width(monkeypatch: pytest.MonkeyPatch) -> None:
    # Wrapped, its "clear the line" reached the last row only, and the rest stayed on screen.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", "30")
    err = _Terminal()
    Console(out=io.StringIO(), err=err).progress("read group " + "N" * 256 + ": 3 users")
    assert err.getvalue() == "\r\x1b[Kread group " + "N" * 18


def test_a_progress_line_is_cut_to_its_own_terminals_width_not_stdouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `entrasync plan > out.txt` on a 40-column terminal: stdout's size said 80.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    with os.fdopen(follower, "w") as err:
        Console(out=io.StringIO(), err=err).progress("read group " + "N" * 256 + ": 3 users")
    drawn = os.read(leader, 4096)
    os.close(leader)
    assert drawn == b"\r\x1b[Kread group " + b"N" * 28


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> _Terminal:
    """One terminal for stdout and stderr, as a shell gives a command."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    return _Terminal()


def test_each_line_written_while_a_progress_line_shows_starts_on_a_cleared_line(
    terminal: _Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error, a warning, a log line or a result started in the middle of the progress line
    ("read group NT-Owners: 1 usererror: could not reach ...")."""
    monkeypatch.setattr(sys, "stderr", terminal)  # where errors are printed
    console = Console(verbose=1, out=terminal, err=terminal)
    log = LogHandler(terminal)
    log.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    written: list[Callable[[], object]] = [
        lambda: console.warn("w"),
        lambda: console.info("i"),
        lambda: console.detail("d"),
        lambda: console.result("r"),
        lambda: console.result_lines(["l\n"]),
        lambda: log.handle(logging.makeLogRecord({"msg": "m", "levelname": "INFO"})),
        lambda: cli._print_error(EntrasyncError("e", "h")),
    ]
    for write in written:
        console.progress("read group G")
        write()
    console.progress_done()
    console.progress_done()  # nothing more to clear
    assert terminal.getvalue().split("\r\x1b[Kread group G\r\x1b[K") == [
        "",
        "warning: w\n",
        "i\n",
        "d\n",
        "r\n",
        "l\n",
        "INFO m\n",
        "error: e\nhint: h\n",
    ]


def test_a_line_from_another_thread_waits_for_the_progress_line_being_drawn(
    terminal: _Terminal,
) -> None:
    """Readers and apply's writers draw the progress line from their own threads: a warning
    written while one was being drawn went out uncleared, after it."""
    drawing, drawn = threading.Event(), threading.Event()

    class Slow(_Terminal):
        def write(self, text: str) -> int:
            written = super().write(text)
            if "read group" in text:  # the progress line, held half drawn
                drawing.set()
                drawn.wait(10)
            return written

    screen = Slow()
    console = Console(out=io.StringIO(), err=screen)
    progress = threading.Thread(target=console.progress, args=("read group G",))
    warning = threading.Thread(target=console.warn, args=("w",))
    progress.start()
    assert drawing.wait(10)
    warning.start()
    warning.join(0.5)  # waits for the progress line
    drawn.set()
    progress.join(10)
    warning.join(10)
    assert screen.getvalue() == "\r\x1b[Kread group G\r\x1b[Kwarning: w\n"


def test_nothing_clears_a_line_no_progress_line_holds(
    terminal: _Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", terminal)
    console = Console(out=terminal, err=terminal)
    console.warn("w")
    console.progress_done()
    cli._print_error(EntrasyncError("e"))
    assert terminal.getvalue() == "warning: w\nerror: e\n"


def test_a_progress_line_of_wide_characters_is_cut_to_the_terminals_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cut to as many characters as columns, a line of CJK names took twice the width, wrapped,
    and its clear left the first row on the screen."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "30")
    err = _Terminal()
    console = Console(out=io.StringIO(), err=err)
    console.progress("read group 営業部" * 5)  # "read group " is 11 columns, each kanji 2
    console.progress("read group Zoë Ångström-Ærø and more")  # narrow, though not ASCII
    assert err.getvalue().split("\r\x1b[K") == [
        "",
        "read group 営業部read group ",
        "read group Zoë Ångström-Ærø a",
    ]


@pytest.mark.parametrize(("value", "colour"), [("", True), ("1", False), ("0", False)])
def test_no_color_turns_colour_off_when_set_and_not_empty(
    value: str, colour: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """https://no-color.org: "present and not an empty string"."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", value)
    assert Console(out=_Terminal(), err=_Terminal()).color is colour


@pytest.mark.parametrize("method", ["warn", "info", "detail"])
def test_a_message_line_cannot_repaint_the_terminal_or_write_a_workflow_command(
    method: str,
) -> None:
    # The last defence: a line break in a message is kept (the caller may list things one a
    # line), but every line is inert. Callers escape the names they quote, line breaks too.
    err = _Terminal()
    console = Console(verbose=1, out=io.StringIO(), err=err)
    getattr(console, method)(f"group {HOSTILE}\n  ##[add-mask]x ##vso[task.setsecret]x")
    printed = err.getvalue()
    for raw in ("\x1b", "\x07", "\u202e", "\r", "##[", "##vso["):
        assert raw not in printed, raw
    if method == "warn":  # one line always: each warning is one, whatever it quotes
        assert len(printed.splitlines()) == 1
        assert "\\x0d\\x0a::error::pwned\\x0a  ##\\x5badd-mask]x" in printed
        return
    assert printed.splitlines()[1:] == [
        "\\x3a:error::pwned",
        "  ##\\x5badd-mask]x ##vso\\x5btask.setsecret]x",
    ]


def test_log_lines_are_printed_inert() -> None:
    import logging

    from entrasync.console import InertFormatter

    record = logging.LogRecord(
        "entrasync.adapters.graph", logging.INFO, __file__, 1, "read %s", ("G\x1b[2J\u202e",), None
    )
    line = InertFormatter("%(name)s: %(message)s").format(record)
    assert line == "entrasync.adapters.graph: read G\\x1b[2J\\u202e"


def _logged_failure(secret: str) -> logging.LogRecord:
    try:
        raise ValueError(f"the server said {secret}")
    except ValueError as exc:
        info = (type(exc), exc, exc.__traceback__)
    return logging.LogRecord(
        "entrasync.operations.apply",
        logging.ERROR,
        __file__,
        1,
        "unexpected error applying %s",
        ("bob@contoso.com",),
        info,
    )


def test_a_logged_traceback_with_a_credential_in_another_form_keeps_its_line_and_frames() -> None:
    """Withheld whole, apply's "unexpected error" line lost its message, frames and type."""
    from entrasync.console import InertFormatter

    secret = "fake-logged-secret-for-tests-0123456789"
    remember(secret)
    record = _logged_failure(secret.upper())
    # Another handler formatted it first, caching the traceback unmasked in exc_text.
    logging.Formatter().format(record)
    lines = InertFormatter("%(levelname)s %(message)s").format(record).splitlines()

    assert secret.upper() not in "\n".join(lines).upper()
    assert lines[0] == "ERROR unexpected error applying bob@contoso.com"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[2].startswith('  File "')
    assert lines[2].endswith(", in _logged_failure")
    assert lines[-1] == f"ValueError: {WITHHELD}"


def test_a_withheld_traceback_keeps_each_exception_of_its_chain_in_order() -> None:
    from entrasync.console import masked_traceback

    secret = "fake-chained-secret-for-tests-0123456789"
    remember(secret)
    try:
        try:
            raise KeyError(secret.upper())
        except KeyError as cause:
            raise ValueError(f"the server said {secret.upper()}") from cause
    except ValueError as exc:
        caught = exc
    lines = masked_traceback(caught).splitlines()
    assert secret.upper() not in "\n".join(lines).upper()
    assert lines.count("Traceback (most recent call last):") == 2
    assert [line for line in lines if not line.startswith(("Traceback", "  File"))] == [
        f"KeyError: {WITHHELD}",
        f"ValueError: {WITHHELD}",
    ]
    # A chain that loops back on itself (a context set by hand) ends.
    caught.__cause__, caught.__suppress_context__ = None, False
    other = RuntimeError(secret.upper())
    other.__context__, caught.__context__ = caught, other
    assert masked_traceback(caught).count("Traceback (most recent call last):") == 2


def test_a_logged_traceback_with_a_credential_as_sent_is_masked_in_place() -> None:
    from entrasync.console import InertFormatter

    secret = "fake-logged-secret-as-sent-for-tests-0123456789"
    remember(secret)
    text = InertFormatter("%(message)s").format(_logged_failure(secret))
    assert secret not in text
    assert text.endswith(f"ValueError: the server said {MASK}")


@pytest.mark.parametrize(
    ("verbose", "level"), [(0, logging.ERROR), (1, logging.ERROR), (2, logging.DEBUG)]
)
def test_urllib3s_retry_warnings_show_at_vv_only(verbose: int, level: int) -> None:
    # They came before entrasync's own error naming the authority it could not reach.
    configure_logging(verbose)
    assert logging.getLogger("urllib3").level == level


@pytest.mark.parametrize(("verbose", "shown"), [(0, False), (1, False), (2, True)])
def test_the_sandbox_scim_servers_tracebacks_show_at_vv_only(verbose: int, shown: bool) -> None:
    # A stop landing as it added its seed users printed one among the demo's lines.
    configure_logging(verbose)
    assert logging.getLogger("scim2_server").isEnabledFor(logging.ERROR) is shown


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "utf-8"])
def test_data_is_written_in_utf8_whatever_the_streams_encoding(encoding: str) -> None:
    """`plan --format json > plan.json` on a Windows agent's cp1252 stdout: the file must be
    the plan file's bytes, not Python escapes (refused by apply and every JSON reader)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
    console = Console(out=out)
    console.result("text first")
    console.result_lines(['{"name": "Fränk 🚀 Đ"}\n'], data=True)
    console.result_lines(["Fränk\n"])
    out.flush()
    shown = "Fränk".encode(encoding, errors="backslashreplace")
    assert raw.getvalue() == b"text first\n" + '{"name": "Fränk 🚀 Đ"}\n'.encode() + shown + b"\n"


def test_a_markdown_plan_on_a_cp1252_stdout_is_utf8_as_the_comment_is() -> None:
    # `plan --format markdown > plan.md` on a Windows agent: names became \u escapes that read
    # like the sanitiser's own.
    plan = golden_plan()
    plan = replace(plan, changes=(replace(plan.changes[0], display_name="Łukasz Żółć"),))
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="cp1252", errors="backslashreplace", newline="")
    show(plan, "markdown", Console(out=out), config_path="config/mappings.yaml")
    out.flush()
    assert "Łukasz Żółć".encode() in raw.getvalue()


@pytest.mark.parametrize(("term", "plain"), [("xterm-256color", False), ("dumb", True)])
def test_a_dumb_terminal_gets_no_colour_and_no_progress_line(
    term: str, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TERM=dumb (an Emacs shell buffer) shows escape codes as text."""
    monkeypatch.setenv("TERM", term)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    console = Console(out=_Terminal(), err=_Terminal())
    assert console.color is not plain
    assert console.interactive is not plain

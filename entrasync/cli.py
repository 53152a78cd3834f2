"""The command line: parse, build the pieces, call the core, and map every error to an exit code.

This module is the one error boundary. Expected failures (:class:`EntrasyncError`) print
``error:`` and a hint and exit 1; usage errors exit 1 too (2 is reserved for "changes present"
under ``--detailed-exitcode``); Ctrl-C exits 130, SIGTERM and SIGHUP 143
(:mod:`entrasync.operations.stopping`); anything else prints a traceback and the version,
because it is a bug. Each command's module is imported only when that command runs, so
``entrasync --help`` and ``validate`` never load the HTTP, Graph or sandbox code.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, TextIO, cast

import click

from entrasync import __version__
from entrasync.adapters.throttle import ended_by
from entrasync.console import (
    AppContext,
    configure_logging,
    global_options,
    masked_traceback,
    own_line,
)
from entrasync.core import sanitize
from entrasync.errors import EntrasyncError, ExitCode, error_lines, output_refused
from entrasync.gctune import collector_paused

# The entry point before it moved to entrasync.launch: an editable install's script calls it
# until it is installed again.
from entrasync.launch import drop_pending
from entrasync.launch import run as run
from entrasync.operations.stopping import Stopped, signals_interrupt

log = logging.getLogger(__name__)

# name -> (module under entrasync.commands, attribute, one-line summary for `--help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": (
        "validate",
        "command",
        "Check the mappings file: YAML, schema and rules; --online: Entra too.",
    ),
    "plan": ("plan", "command", "Read Entra and NeuralTrust and show what apply would change."),
    "apply": ("apply", "command", "Apply a saved plan exactly, or plan afresh and apply."),
    "users": ("users", "command", "NeuralTrust users beside what the mappings want for them."),
    "groups": ("groups", "command", "Entra groups by display-name prefix, with ids and members."),
    "init": ("init", "command", "Draft a mappings file from Entra groups and NeuralTrust users."),
    "audit": ("audit", "audit_group", "Check audit files written by apply."),
    "demo": ("demo", "demo", "The whole loop on a built-in sandbox: no credentials needed."),
    "sandbox": ("demo", "sandbox", "Run the sandbox's Entra and NeuralTrust until Ctrl-C."),
    "report-apply": (
        "report",
        "command",
        "Comment the apply result on the merged PR (GitHub, GitLab, Azure DevOps).",
    ),
    "github": ("github_cmd", "group", "GitHub steps of the workflows besides plan --comment."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _summary = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"entrasync.commands.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The summaries are kept here so `--help` imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_m, _a, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="entrasync")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Keep NeuralTrust users in line with Microsoft Entra ID groups, the GitOps way."""
    ctx.ensure_object(AppContext)


def _print_error(exc: EntrasyncError) -> None:
    # Messages quote names from Entra, NeuralTrust and the config: each line is made inert
    # (no control, bidi or workflow command), keeping the line breaks the message is built with.
    with own_line():
        for line in error_lines(exc):
            click.echo(sanitize.lines(line), file=sys.stderr)


def _printable_anywhere() -> None:
    """Output to a terminal or pipe that is not UTF-8 (LC_ALL=C, a Windows agent's cp1252)
    shows a character it cannot encode as an escape (``\\xe9``) instead of failing.

    Under ``PYTHONUNBUFFERED`` (``-u``, set by many CI images) the streams write straight to a
    raw file, and a text stream ignores a short write: output cut short by a full disk or a
    closed pipe ended with exit 0. Such a stream is opened again, buffered (a buffered writer
    writes all or raises) and flushed at each line, as unbuffered output is seen."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, io.TextIOWrapper):
            continue
        if isinstance(stream.buffer, io.RawIOBase):
            stream.flush()
            setattr(
                sys,
                name,
                open(  # noqa: SIM115 (the stream of the process, never closed: closefd=False)
                    stream.fileno(),
                    "w",
                    encoding=stream.encoding,
                    errors="backslashreplace",
                    closefd=False,
                    buffering=1,  # line by line
                ),
            )
        else:
            stream.reconfigure(errors="backslashreplace")


def _open_closed_streams() -> None:
    """stdin or stderr closed at start (`<&-`, `2>&-`) is opened on /dev/null. Python leaves
    the stream None: click then printed every message and error to stdout, among the JSON or
    CSV a script reads, and apply's terminal check was a traceback. And the descriptor left
    free would be the next file opened (a plan file), which anything writing to it would
    write into."""
    for fd in (0, 2):  # both descriptors first: a stream opened between would take one
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    # On the descriptors themselves, never closing them: no new descriptor is taken.
    if sys.stdin is None:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115


class _Unfailing:
    """stderr that drops what it cannot write. Messages are not the command's output: a
    terminal closed under it (SIGHUP, then EIO on every write) failed an apply that was winding
    down in order with exit 1, and a cancel at its prompt before its audit record was written.
    Everything else is the stream's own."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def _unfailing_stderr() -> Iterator[None]:
    given = sys.stderr
    if not isinstance(given, _Unfailing):  # a command the demo runs in its own
        sys.stderr = cast(TextIO, _Unfailing(given))
    try:
        yield
    finally:
        sys.stderr = given


def main(argv: Sequence[str] | None = None, *, last: bool = False) -> int:
    """Run the command ``argv`` (sys.argv's by default) and return its exit code. ``last``:
    the program ends with it (:func:`entrasync.launch.run`), so once a signal stopped it,
    later ones are ignored up to the exit: the stop, being told, keeps its code."""
    _open_closed_streams()
    _printable_anywhere()
    with _unfailing_stderr():
        return _main(argv, last)


def _main(argv: Sequence[str] | None, last: bool) -> int:
    if sys.stdout is None:  # started with its stdout closed (`>&-`): click would print nothing
        _print_error(
            EntrasyncError(
                "stdout is closed: what the command prints (its plan, its result) would be lost",
                "run it with stdout open; send it to /dev/null to drop the output on purpose",
            )
        )
        return ExitCode.ERROR
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = sum(a.count("v") for a in args if a.startswith("-v") and set(a[1:]) == {"v"})
    verbose += args.count("--verbose")
    configure_logging(verbose)
    if args and _folder_gone() and not {"-h", "--help", "--version"} & set(args):
        # Every relative path (the default config/mappings.yaml, --out, --audit-dir) would fail
        # as if the file alone were missing, and the demo's own folder cannot be left.
        _print_error(_FOLDER_GONE)
        return ExitCode.ERROR
    try:
        with collector_paused(), signals_interrupt(last=last):
            result = cli.main(args=args, prog_name="entrasync", standalone_mode=False)
    except EntrasyncError as exc:
        _print_error(exc)
        return ExitCode.ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return ExitCode.ERROR
    except (click.Abort, KeyboardInterrupt, Stopped) as exc:
        return _stopped(exc)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and _folder_gone():  # deleted while it ran
            _print_error(_FOLDER_GONE)
            return ExitCode.ERROR
        if exc.errno == errno.EPIPE or not _writing_output(exc):
            return _after_stop() or _bug()
        # The output's device refused it (a full disk under a redirect): not a bug.
        drop_pending(sys.stdout)  # else the interpreter's flush at exit fails again
        _print_error(output_refused(exc))
        return ExitCode.ERROR
    except MemoryError:
        # A file or an answer larger than this machine holds: an error, never a traceback.
        _print_error(
            EntrasyncError(
                "entrasync ran out of memory",
                "run it where more memory is free; a plan or audit file it did not write, or "
                "an answer far larger than the tenant, is a mistake to look into first",
            )
        )
        return ExitCode.ERROR
    except Exception:
        return _after_stop() or _bug()
    return int(result) if isinstance(result, int) else ExitCode.OK


_FOLDER_GONE = EntrasyncError(
    "the current folder no longer exists (it was deleted or moved)",
    "cd to an existing folder and run the command again",
)


def _folder_gone() -> bool:
    """Whether the folder the command runs in was deleted (or moved) under it: every relative
    path, and Python's own ``Path.cwd()``, then fail with a bare FileNotFoundError."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def _stopped(stop: click.Abort | KeyboardInterrupt | Stopped) -> int:
    if not isinstance(stop, Stopped) or stop.exit_code == ExitCode.INTERRUPTED:
        click.echo("\ninterrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    click.echo(f"\nstopped by {stop.name}", file=sys.stderr)
    return stop.exit_code


def _after_stop() -> int | None:
    """The exit of a command a stop signal came before this error, None when none did.

    Python swallows a KeyboardInterrupt or a :class:`Stopped` raised where it cannot raise
    one (a finaliser, an import hook); what then reaches here is a reader the signal
    abandoned. The user stopped the command: not a bug (its traceback is logged with -vv)."""
    signum = ended_by()
    if signum is None:
        return None
    log.debug("after the stop signal", exc_info=True)
    return _stopped(Stopped(signum))


_OUTPUT_WRITERS = (
    (f"click{os.sep}utils.py", "echo"),  # results, help, version and usage text
    (f"entrasync{os.sep}console.py", "result_lines"),  # JSON and CSV written as UTF-8 bytes
)


def _writing_output(exc: BaseException) -> bool:
    """Whether ``exc`` was raised writing to stdout, by the frames it went through."""
    return any(
        f.filename.endswith(path) and f.name == name
        for f in traceback.extract_tb(exc.__traceback__)
        for path, name in _OUTPUT_WRITERS
    )


def _bug() -> int:
    with own_line():
        click.echo(sanitize.lines(masked_traceback(sys.exc_info()[1])), file=sys.stderr, nl=False)
        click.echo(
            f"entrasync {__version__} hit an unexpected error (a bug): please report it "
            "with the traceback above",
            file=sys.stderr,
        )
    return ExitCode.ERROR

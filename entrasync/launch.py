"""The ``entrasync`` program: the console script and ``python -m entrasync`` start here.

The CLI's modules take a quarter of a second to load, before its signal handlers are in
place; a Ctrl-C then, or a second one while the first is being reported, ends the program as
any interrupt does (exit 130, "interrupted") instead of with a traceback. SIGTERM and SIGHUP
then, or once a command's own handlers are gone, end it as they do while it runs (exit 143,
"stopped by SIGTERM"), not silently with the signal's own status (129 for SIGHUP). So this
module imports nothing of its own before it is ready to catch them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import NoReturn

# entrasync.errors.ExitCode's, known before anything is loaded
INTERRUPTED = 130
TERMINATED = 143
_ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Ended(BaseException):
    """SIGTERM or SIGHUP outside a command's own handlers."""


def _end(signum: int, _frame: FrameType | None) -> None:
    for ending in _ENDING:  # once: a later one, while this one is reported, is let go
        signal.signal(ending, signal.SIG_IGN)
    raise _Ended(signum)


def _stop(signum: int) -> BaseException:
    """The exception a stop by ``signum`` ends the program with."""
    return KeyboardInterrupt() if signum == signal.SIGINT else _Ended(signum)


def run() -> NoReturn:
    caught: list[int] = []  # the signals handled here, given back their default on the way out
    # A stop raised where Python cannot raise it (a weakref callback, as a stop unwinds) is
    # reported as "Exception ignored", with a traceback, and dropped: taken here instead.
    lost: list[int] = []
    reported = sys.unraisablehook

    def dropped(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, _Ended | KeyboardInterrupt):
            ended = unraisable.exc_value
            lost.append(ended.args[0] if isinstance(ended, _Ended) else signal.SIGINT)
        else:
            reported(unraisable)

    sys.unraisablehook = dropped
    try:
        try:
            # A signal the program started with ignored (nohup) stays ignored, as in a command.
            for signum in _ENDING:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    caught.append(signum)
                    signal.signal(signum, _end)
            from entrasync.cli import main  # here, so that a Ctrl-C while it loads is caught

            if lost:  # dropped while it loaded: the command does not start
                raise _stop(lost[0])
            code = main(last=True)
            if lost and code == 0:  # the command ran to its end; the stop came before the exit
                raise _stop(lost[0])
        except KeyboardInterrupt:
            _say("\ninterrupted\n")
            code = INTERRUPTED
        # Under `python -m entrasync`, CPython marks a KeyboardInterrupt that left an exec() of
        # a string (a dataclass made while a command's module loads) as unhandled, caught or
        # not, and then ends the process by SIGINT instead of with this code; an exec() that
        # completes clears the mark (run_eval_code_obj in Python/pythonrun.c).
        exec("")
    except _Ended as ended:
        _say(f"\nstopped by {signal.Signals(ended.args[0]).name}\n")
        code = TERMINATED
    finally:
        for signum in caught:  # but those a stop left ignored, up to the exit
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
        sys.unraisablehook = reported
    sys.exit(_flushed(code))


def _flushed(code: int) -> int:
    """``code``, once stdout and stderr are flushed. Where one can no longer be written (a
    terminal closed under it answers EIO, a full disk ENOSPC), what it still holds goes to
    /dev/null: the interpreter's own flush at exit failed again, printing "Exception ignored"
    and exiting 120 in place of the command's code (143 for a closed terminal's SIGHUP).
    Output a device refused (a full disk) after a command that succeeded is an error all the
    same; output no one is left to read (a closed terminal or pipe) is not."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError) as exc:
            drop_pending(stream)
            if isinstance(exc, OSError) and code == 0 and exc.errno not in (errno.EIO, errno.EPIPE):
                from entrasync.errors import error_lines, output_refused  # loaded by now

                code = 1
                _say("".join(f"{line}\n" for line in error_lines(output_refused(exc))))
    return code


def _say(text: str) -> None:
    """Write to stderr, which may be a terminal already closed (then nothing is said)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def drop_pending(stream: Any) -> None:
    """Send what ``stream`` still holds to /dev/null, by pointing its descriptor there: a
    buffered stream keeps what a failed write did not take, and tries it again at exit."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)

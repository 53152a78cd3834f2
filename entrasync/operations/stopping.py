"""Stopping on a signal: SIGTERM and SIGHUP as Ctrl-C, and an apply that winds down in order.

A runner that cancels a job signals the process (GitHub Actions sends SIGINT, then SIGTERM
7.5 s later, then SIGKILL; ``timeout`` and most supervisors send SIGTERM; a closed terminal
sends SIGHUP). Outside apply's writes a signal stops the command where it is, as Ctrl-C does
(:func:`signals_interrupt`): nothing is being written. While apply writes, a signal only asks
it to stop (:func:`deferred_stop`): no new write starts, the writes in flight finish and are
recorded, and any further signal is noted but cannot cut that short, so no write that reached
NeuralTrust goes unrecorded.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from entrasync.adapters.throttle import end_waits, reset_waits
from entrasync.errors import ExitCode

if TYPE_CHECKING:  # `entrasync --help` loads this module: not the plan's core for a type
    from entrasync.core.apply_report import ApplyReport

# SIGTERM, and SIGHUP where there is one (Windows has none): stops, as Ctrl-C is.
_ENDING: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
STOP_SIGNALS = (signal.SIGINT, *_ENDING)

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class Stopped(BaseException):
    """The command was stopped by a signal. A BaseException, as KeyboardInterrupt is: it is
    not an error of the command's, and no ``except Exception`` may swallow it."""

    def __init__(self, signum: int, report: ApplyReport[Any] | None = None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.report = report  # an apply's results up to the stop

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return ExitCode.INTERRUPTED if self.signum == signal.SIGINT else ExitCode.TERMINATED


class StopRequest:
    """Set by the first signal: apply starts no write once it is set."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.lost = False  # its exception raised where Python dropped it, and not raised since

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum


@contextmanager
def _handlers(
    signals: tuple[int, ...], handler: Handler, left: Callable[[], Any] = lambda: None
) -> Iterator[None]:
    """Install ``handler`` for ``signals``, restoring the previous ones on the way out, or
    leaving the handling ``left()`` gives where it gives one. Only the main thread may set
    handlers: elsewhere (a command run in-process from another thread) the signals keep
    whatever handling they have. A signal the process was started with ignored (SIGINT for a
    background job, SIGHUP under ``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = [s for s in signals if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, handler) for signum in handled}
    try:
        yield
    finally:
        then = left()
        for signum, old in previous.items():
            signal.signal(signum, old if then is None else then)


@contextmanager
def ending_as_ctrl_c() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP (a closed terminal) alike raise KeyboardInterrupt, once:
    for a command whose usual end is a stop (``entrasync sandbox`` runs until stopped, then
    removes its files and exits 0, whichever signal stopped it)."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        stop = _command_stop
        if stop is not None:  # the command's stop: a later one cuts no cleanup short,
            if stop.requested and not stop.lost:  # unless the first one's was dropped
                return
            stop.request(signum)
            stop.lost = False
        end_waits(signum)
        raise KeyboardInterrupt

    def dropped(exc: BaseException) -> bool:
        """One dropped (in a finalizer) is not reported, nor taken for a Ctrl-C of its own; a
        later signal raises it again (a command waiting for its stop would wait for ever)."""
        if not isinstance(exc, KeyboardInterrupt):
            return False
        if _command_stop is not None:
            _command_stop.lost = True
        return True

    with _taking_dropped(dropped), _handlers(STOP_SIGNALS, interrupt):
        yield


def _joined_at_exit() -> bool:
    """Whether a thread is left that the interpreter waits for at its exit."""
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def wait_for_stop(every: float = 0.5) -> NoReturn:
    """Wait until a stop signal ends the command (inside :func:`ending_as_ctrl_c`). A stop
    whose exception Python dropped (raised in a finalizer) is raised here within ``every``
    seconds: waiting on for a later signal left a sandbox running until one came."""
    while True:
        stop = _command_stop
        if stop is not None and stop.requested and stop.lost:
            stop.lost = False
            raise KeyboardInterrupt
        time.sleep(every)


@contextmanager
def _taking_dropped(take: Callable[[BaseException], bool]) -> Iterator[None]:
    """While inside (in the main thread, which gets the signals), an exception Python drops
    that ``take`` takes is not reported: raised by a signal's handler in a finalizer or a
    weakref callback, it would be told as "Exception ignored", with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reported = sys.unraisablehook

    def dropped(unraisable: Any) -> None:
        if not take(unraisable.exc_value):
            reported(unraisable)

    sys.unraisablehook = dropped
    try:
        yield
    finally:
        sys.unraisablehook = reported


def note(text: str) -> None:
    """A line on stderr from a signal handler; never an error of its own (the handler may run
    while this thread is itself writing to stderr)."""
    try:
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()
    except (OSError, RuntimeError, ValueError):
        pass


@contextmanager
def signals_interrupt(say: Callable[[str], None] = note, *, last: bool = False) -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Stopped` where the program is, as SIGINT raises
    KeyboardInterrupt: the command ends without a traceback, exit 143 (130 for SIGINT). Once:
    a later signal is only noted, so it can neither cut short the cleanup the first one set
    going nor change the exit code (a runner's cancel sends SIGINT, then SIGTERM); only Ctrl-C
    pressed again after Ctrl-C interrupts again, as a user insisting expects. Each of them also
    cuts short the readers' waits before a retry (:func:`end_waits`): the command waits for
    its threads, and a throttled read would hold it for minutes.

    ``last``: the program ends with this command. Once it has ended, the stop signals are left
    ignored on the way out, so that none can change the exit while a stop is told and the
    interpreter ends (a runner's SIGTERM after its SIGINT ended the run with 143; two in the
    collection after a command that succeeded printed a traceback), and its exit handlers run
    (the sandbox's CA file is removed). But a command that ended, by a stop or not, with a
    request still in flight (a thread the interpreter joins at its exit: a hung server) leaves
    them to the system's default, so that a signal still ends the process at once."""
    global _command_stop
    raised = StopRequest()
    # Only the main thread's command gets the signals (_handlers): one run in another thread
    # keeps the request it had.
    in_main = threading.current_thread() is threading.main_thread()
    outer = _command_stop
    if in_main and outer is not None and outer.requested:
        # The outer command (the demo) was asked to stop and Python dropped its exception:
        # no command starts inside it, and its waits stay ended. This one tells the stop.
        outer.lost = False
        raise_if_stopped()
    if in_main:
        _command_stop = raised
    # Set by a signal, the flag stays set after the command: a reader's paused generator may
    # be joined only when it is collected, and its threads must not wait to retry then. The
    # next command run in this process starts afresh (one in another thread gets no signal,
    # and leaves the flag to the main thread's command).
    if in_main:
        reset_waits()

    def requested(signum: int) -> None:
        raised.request(signum)
        if outer is not None:  # the outer command's (the demo's) stop too, from now on
            outer.request(signum)
        end_waits(signum)

    def handler(signum: int, _frame: FrameType | None) -> None:
        if raised.requested:
            say(f"{signal.Signals(signum).name}: already stopping")
            return
        requested(signum)
        raise Stopped(signum)

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        if raised.requested and raised.signum != signal.SIGINT:
            say(f"{signal.Signals(signum).name}: already stopping")
            return
        requested(signum)
        raise KeyboardInterrupt

    def lost(exc: BaseException) -> bool:
        """A handler's exception Python dropped: raised again when the command returns."""
        if raised.requested and isinstance(exc, Stopped | KeyboardInterrupt):
            raised.lost = True
            return True
        return False

    try:

        def left() -> Any:
            if not (last and in_main and outer is None):
                return None  # the handlers before the command's
            return signal.SIG_DFL if _joined_at_exit() else signal.SIG_IGN

        with (
            _taking_dropped(lost),
            _handlers(_ENDING, handler, left),
            _handlers((signal.SIGINT,), interrupt, left),
        ):
            yield
            # A command run inside another (the demo's steps) ends as stopped too: the outer
            # command's handlers were not the ones called.
            if in_main and (raised.lost or outer is not None):
                raise_if_stopped()
    finally:
        if in_main:
            _command_stop = outer


def stopped_by_step(signum: int) -> None:
    """The running command's stop, told by a command it ran (a demo step that exited 130 or
    143): a later signal is then only noted, as after the command's own first one."""
    if _command_stop is not None:
        _command_stop.request(signum)


def raise_if_stopped() -> None:
    """Raise the running command's stop when a signal asked for it but its exception was lost:
    raised in a finalizer or a weakref callback, Python reports it and drops it, and the
    command ran on. For a command that runs others (the demo, between its steps)."""
    stop = _command_stop
    if stop is not None and stop.signum is not None:
        raise KeyboardInterrupt if stop.signum == signal.SIGINT else Stopped(stop.signum)


# The running command's stop request (signals_interrupt's): a signal deferred_stop took during
# apply's writes is its first signal too, so a later one after the writes is only noted.
_command_stop: StopRequest | None = None


@contextmanager
def deferred_stop(say: Callable[[str], None] = note) -> Iterator[StopRequest]:
    """While inside, SIGINT, SIGTERM and SIGHUP set the yielded :class:`StopRequest` instead of
    interrupting: the first asks to stop, later ones are only noted (``say``)."""
    stop = StopRequest()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            say(f"{name}: already stopping; waiting for the writes in flight to be recorded")
            return
        stop.request(signum)
        if _command_stop is not None:  # the command's first signal too: a later one is noted
            _command_stop.request(signum)
        say(
            f"{name}: stopping; no new write starts, and the writes in flight finish and are "
            "recorded"
        )

    with _handlers(STOP_SIGNALS, handler):
        yield stop

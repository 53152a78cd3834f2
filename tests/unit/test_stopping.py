"""Signals in this process: SIGTERM and SIGHUP stop a command as Ctrl-C does; during apply's
writes every stop signal only asks to stop, once."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from entrasync.adapters.throttle import Abandoned, end_waits, pause, reset_waits, waits_ended
from entrasync.operations.stopping import (
    STOP_SIGNALS,
    Stopped,
    StopRequest,
    deferred_stop,
    ending_as_ctrl_c,
    signals_interrupt,
    wait_for_stop,
)


@pytest.fixture(autouse=True)
def _waits_reset() -> Iterator[None]:
    """A signal handled here ends the waits of this process, as it would end a command's."""
    yield
    reset_waits()


def _send(signum: signal.Signals) -> None:
    os.kill(os.getpid(), signum)  # delivered to this (main) thread before kill returns


def _send_and_look(signum: signal.Signals, ended: list[bool]) -> None:
    """Send ``signum``; whatever it raises, note whether the waits to retry were ended."""
    try:
        _send(signum)
    finally:
        ended.append(waits_ended())


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 143)],
    ids=["SIGTERM stops the command with 143", "SIGHUP stops the command with 143"],
)
def test_sigterm_and_sighup_interrupt_like_ctrl_c(signum: signal.Signals, code: int) -> None:
    previous = signal.getsignal(signum)
    ended: list[bool] = []
    with pytest.raises(Stopped) as caught, signals_interrupt():
        _send_and_look(signum, ended)  # the readers' threads stop waiting to retry
    assert (caught.value.signum, caught.value.exit_code) == (signum, code)
    assert signal.getsignal(signum) is previous  # restored on the way out
    assert ended == [True]
    with signals_interrupt():
        assert not waits_ended()  # the next command starts afresh


def test_ctrl_c_ends_the_waits_too_and_a_signal_started_ignored_stays_ignored() -> None:
    ended: list[bool] = []
    with pytest.raises(KeyboardInterrupt), signals_interrupt():
        _send_and_look(signal.SIGINT, ended)
    assert ended == [True]
    ignored = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGHUP)}
    try:  # a background job's SIGINT, nohup's SIGHUP
        with signals_interrupt():
            _send(signal.SIGINT)  # still ignored: nothing raised
            _send(signal.SIGHUP)
            assert not waits_ended()
            with deferred_stop() as stop:  # during apply's writes too
                _send(signal.SIGINT)
                _send(signal.SIGHUP)
            assert not stop.requested
    finally:
        for signum, previous in ignored.items():
            signal.signal(signum, previous)


def test_a_second_sigterm_cannot_cut_short_the_cleanup_the_first_set_going() -> None:
    said: list[str] = []
    cleaned: list[bool] = []

    def command() -> None:
        try:
            _send(signal.SIGTERM)
        finally:
            _send(signal.SIGHUP)  # would raise out of this finally without the one-shot
            cleaned.append(True)

    with pytest.raises(Stopped) as caught, signals_interrupt(said.append):
        command()
    assert cleaned == [True]
    assert caught.value.signum == signal.SIGTERM
    assert said == ["SIGHUP: already stopping"]


@pytest.mark.parametrize(
    ("first", "then", "stopped_by"),
    [
        (signal.SIGINT, signal.SIGTERM, KeyboardInterrupt),  # a runner's cancel: exit 130
        (signal.SIGTERM, signal.SIGINT, Stopped),  # exit 143
        (signal.SIGHUP, signal.SIGINT, Stopped),
    ],
)
def test_a_later_signal_of_another_kind_is_only_noted(
    first: signal.Signals, then: signal.Signals, stopped_by: type[BaseException]
) -> None:
    said: list[str] = []
    cleaned: list[bool] = []

    def command() -> None:
        try:
            _send(first)
        finally:
            _send(then)  # would replace the first's exit code
            cleaned.append(True)

    with pytest.raises(stopped_by), signals_interrupt(said.append):
        command()
    assert (cleaned, said) == ([True], [f"{then.name}: already stopping"])


def test_a_signal_taken_during_the_writes_is_the_commands_first_after_them_too() -> None:
    """A runner's SIGINT during apply's writes, its SIGTERM while apply says what it did: the
    exit is still SIGINT's, and the summary is not cut short."""
    said: list[str] = []
    summarised: list[bool] = []

    def apply() -> None:
        with deferred_stop(said.append) as stop:
            _send(signal.SIGINT)
        _send(signal.SIGTERM)  # after the writes, while the summary is written
        summarised.append(True)
        assert stop.signum is not None
        raise Stopped(stop.signum)

    with pytest.raises(Stopped) as caught, signals_interrupt(said.append):
        apply()
    assert (caught.value.exit_code, summarised) == (130, [True])
    assert said[-1] == "SIGTERM: already stopping"


def test_a_command_run_meanwhile_in_another_thread_takes_no_signal_of_the_main_ones() -> None:
    """Only the main thread's command gets signals: one started in another thread during the
    writes must not take the hand-off of the main command's first signal."""
    said: list[str] = []
    entered, leave = threading.Event(), threading.Event()

    def other_command() -> None:
        with signals_interrupt(said.append):
            entered.set()
            leave.wait(5)

    def apply() -> None:
        other = threading.Thread(target=other_command)
        other.start()
        entered.wait(5)
        try:
            with deferred_stop(said.append):
                _send(signal.SIGINT)
            _send(signal.SIGTERM)  # after the writes: only noted
        finally:
            leave.set()
            other.join()

    with signals_interrupt(said.append):
        apply()
    assert said[-1] == "SIGTERM: already stopping"


def test_a_signal_as_the_writes_end_is_noted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM the moment the writes' handlers are taken down: the first signal is already
    the command's, so it is only noted."""
    said: list[str] = []
    restoring = signal.signal
    armed: list[bool] = []

    def restore(signum: int, handler: Any) -> Any:
        previous = restoring(signum, handler)
        if armed and signum == STOP_SIGNALS[-1]:  # the last of the writes' handlers taken down
            armed.clear()
            _send(signal.SIGTERM)
        return previous

    with signals_interrupt(said.append):
        with deferred_stop(said.append):
            _send(signal.SIGINT)
            monkeypatch.setattr(signal, "signal", restore)
            armed.append(True)
        monkeypatch.undo()
    assert said[-1] == "SIGTERM: already stopping"


def test_a_first_signal_as_the_writes_handlers_come_down_is_the_commands_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No signal during the writes; SIGTERM while their handlers are being taken down (still
    theirs: the run stops with it); another SIGTERM after them is only noted."""
    said: list[str] = []
    restoring = signal.signal
    armed: list[bool] = []

    def restore(signum: int, handler: Any) -> Any:
        if armed and signum == STOP_SIGNALS[0]:  # before the first handler is put back
            armed.clear()
            _send(signal.SIGTERM)
        return restoring(signum, handler)

    with signals_interrupt(said.append):
        with deferred_stop(said.append) as stop:
            monkeypatch.setattr(signal, "signal", restore)
            armed.append(True)
        monkeypatch.undo()
        assert stop.signum == signal.SIGTERM
        _send(signal.SIGTERM)
    assert said[-1] == "SIGTERM: already stopping"


def test_a_command_in_another_thread_leaves_the_main_commands_waits_ended() -> None:
    with signals_interrupt(), pytest.raises(Stopped):
        _send(signal.SIGTERM)
    assert waits_ended()  # until the main thread's next command
    other = threading.Thread(target=lambda: signals_interrupt().__enter__())
    other.start()
    other.join()
    assert waits_ended()


def test_ctrl_c_pressed_again_interrupts_again() -> None:
    cleaned: list[bool] = []

    def command() -> None:
        try:
            _send(signal.SIGINT)
        finally:
            _send(signal.SIGINT)  # the user insists: raised out of the cleanup
            cleaned.append(True)

    with pytest.raises(KeyboardInterrupt), signals_interrupt():
        command()
    assert cleaned == []


def test_during_the_writes_signals_only_ask_to_stop_and_later_ones_are_noted() -> None:
    said: list[str] = []
    with deferred_stop(said.append) as stop:
        _send(signal.SIGINT)
        _send(signal.SIGTERM)
        _send(signal.SIGHUP)
        assert stop.signum == signal.SIGINT  # the first decides; nothing was raised
    assert said == [
        "SIGINT: stopping; no new write starts, and the writes in flight finish and are recorded",
        "SIGTERM: already stopping; waiting for the writes in flight to be recorded",
        "SIGHUP: already stopping; waiting for the writes in flight to be recorded",
    ]
    assert stop.signum is not None
    assert Stopped(stop.signum).exit_code == 130
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_a_command_ending_on_it_drops_is_not_reported_as_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `entrasync sandbox` ends on SIGTERM, exit 0: a second SIGTERM dropped in a finalizer as
    # it ended reached the program's own hook, which took it for a Ctrl-C: exit 130.
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Referent:
        pass

    with ending_as_ctrl_c():
        referent = Referent()
        _ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del referent  # the callback runs, and the signal's handler in it
    assert reported == []
    assert sys.unraisablehook == reported.append  # given back


def test_a_stop_not_requested_is_not_requested() -> None:
    stop = StopRequest()
    assert (stop.requested, stop.signum) == (False, None)


def test_ending_the_waits_takes_no_lock_a_signal_could_find_held() -> None:
    # A handler runs between two bytecodes of the main thread: a lock taken in it may be the
    # one the interrupted code holds (a second Ctrl-C landing inside the first handler's
    # Event.set() hung `plan` for good). Every C call ending the waits makes is recorded.
    calls: list[str] = []

    def profile(_frame: object, event: str, arg: object) -> None:
        if event == "c_call":
            calls.append(getattr(arg, "__qualname__", repr(arg)))

    sys.setprofile(profile)
    try:
        end_waits()
    finally:
        sys.setprofile(None)
    assert waits_ended()
    assert not [c for c in calls if "acquire" in c or "__enter__" in c or "lock" in c.lower()]


def test_a_wait_already_running_is_cut_short_when_the_waits_end() -> None:
    started = time.monotonic()
    timer = threading.Timer(0.1, end_waits)
    timer.start()
    with pytest.raises(Abandoned):
        pause(30)
    timer.join()
    assert time.monotonic() - started < 5


def test_a_stop_in_a_command_run_inside_another_is_the_outer_commands_too() -> None:
    """A demo step stopped by Ctrl-C tells it and returns; a runner's SIGTERM before the demo
    learned of it was the demo's own first signal: exit 143 after a Ctrl-C."""
    said: list[str] = []
    with signals_interrupt(said.append):
        with contextlib.suppress(KeyboardInterrupt), signals_interrupt(said.append):
            _send(signal.SIGINT)
        _send(signal.SIGTERM)
    assert said == ["SIGTERM: already stopping"]


def test_a_command_ending_on_a_stop_takes_it_as_its_stop() -> None:
    """`entrasync sandbox` stopped by SIGTERM: a second one while it removed its files ended
    it as stopped (143, or killed at its exit) instead of 0."""
    said: list[str] = []
    with signals_interrupt(said.append):
        with contextlib.suppress(KeyboardInterrupt), ending_as_ctrl_c():
            _send(signal.SIGTERM)
        _send(signal.SIGTERM)  # while the sandbox removes its files
    assert said == ["SIGTERM: already stopping"]


@pytest.mark.parametrize("then", [signal.SIGTERM, signal.SIGINT])
def test_a_command_ending_on_a_stop_whose_first_was_dropped_ends_on_the_next(
    then: signal.Signals,
) -> None:
    """Dropped in a finalizer as `entrasync sandbox` started, the first SIGTERM was taken as
    its stop, and every later one returned (a Ctrl-C only said "already stopping"): the
    sandbox waited for ever. Ended, it tells no stop of its own on the way out."""

    class Referent:
        pass

    def sandbox() -> None:
        with ending_as_ctrl_c():
            referent = Referent()
            _ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.SIGTERM))
            del referent  # the first: its exception dropped
            _send(then)  # the next one ends it

    said: list[str] = []
    # It removes its files and exits 0: the command ends without a stop raised again.
    with signals_interrupt(said.append), contextlib.suppress(KeyboardInterrupt):
        sandbox()
        raise AssertionError("the next signal did not end it")
    assert said == []


def test_waiting_for_the_stop_raises_one_python_dropped_without_a_later_signal() -> None:
    """Two Ctrl-C's, both dropped in finalizers, left a sandbox waiting for ever for a third."""

    class Referent:
        pass

    said: list[str] = []
    started = time.monotonic()
    with signals_interrupt(said.append), contextlib.suppress(KeyboardInterrupt):
        with ending_as_ctrl_c():
            referent = Referent()
            _ref = weakref.ref(referent, lambda _: os.kill(os.getpid(), signal.SIGINT))
            del referent  # its exception dropped
            wait_for_stop(every=0.05)
        raise AssertionError("the dropped stop did not end the wait")
    assert time.monotonic() - started < 5
    assert said == []

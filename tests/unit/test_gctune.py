"""The CLI collects cycles less often while a command runs, and restores the thresholds after;
the program leaves what a command kept for the process's end."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref

import pytest

from entrasync.gctune import THRESHOLDS, fewer_collections, paused


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_command_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_collection_is_paused_inside_and_resumes_after_even_on_failure() -> None:
    seen: list[bool] = []

    def fail_inside() -> None:
        with paused():
            seen.append(gc.isenabled())
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        fail_inside()
    assert seen == [False]
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_collection_paused_until_the_outer_one_ends() -> None:
    with paused():
        with paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_a_pause_made_is_frozen_after_it_and_thawed_when_the_command_ends() -> None:
    with fewer_collections():
        with paused():
            made = [[] for _ in range(1000)]  # containers: tracked by the collector
        assert gc.get_freeze_count() >= len(made)
    assert gc.get_freeze_count() == 0


# A process that keeps a value whose finaliser would print, and an atexit handler that prints.
_EXIT = """
import atexit, sys, threading, time
from entrasync import gctune

class Loud:
    def __del__(self):
        print("freed", flush=True)

atexit.register(lambda: print("atexit ran"))
if "--keep" in sys.argv:
    gctune.keep_until_exit(Loud())
if "--thread" in sys.argv:  # still running at the exit: the usual exit waits for it
    threading.Thread(target=lambda: (time.sleep(0.2), print("thread ended"))).start()
if "--release" in sys.argv:
    gctune.release_kept()
print("done", end="")
gctune.exit_now(3)
"""


def _exit_with(*flags: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(_EXIT)
    return subprocess.run(
        [sys.executable, "-c", script, *flags], capture_output=True, text=True, check=False
    )


def test_the_exit_flushes_runs_atexit_and_never_frees_what_was_kept() -> None:
    kept = _exit_with("--keep")
    assert (kept.returncode, kept.stdout, kept.stderr) == (3, "doneatexit ran\n", "")


def test_with_another_thread_alive_the_usual_exit_waits_for_it() -> None:
    usual = _exit_with("--keep", "--thread")
    assert usual.returncode == 3
    assert usual.stdout.startswith("donethread ended\natexit ran\n")


def test_released_values_are_freed_at_once_and_the_exit_is_the_usual_one() -> None:
    usual = _exit_with("--keep", "--release")
    assert (usual.returncode, usual.stdout) == (3, "freed\ndoneatexit ran\n")


def test_output_that_cannot_be_flushed_takes_the_usual_exit() -> None:
    script = textwrap.dedent(
        """
        import logging, sys
        from entrasync import gctune

        class ClosedPipe:
            def write(self, text):
                return len(text)
            def flush(self):
                raise BrokenPipeError(32, "Broken pipe")

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(message)s")
        gctune.keep_until_exit(object())
        sys.stdout = ClosedPipe()
        gctune.exit_now(3)
        """
    )
    usual = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    # The usual exit, not os._exit and no traceback from exit_now: Python reports the closed
    # pipe its own way, with the exit status it keeps for that (120).
    assert usual.stderr.startswith("Exception ignored in: <__main__.ClosedPipe")
    assert "exiting without freeing" not in usual.stderr
    assert "exit_now" not in usual.stderr
    assert usual.returncode == 120


def test_each_command_run_in_process_frees_what_the_one_before_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from entrasync import gctune
    from entrasync.cli import main

    class Plan:  # something a command kept, as plan keeps its plan
        pass

    kept = Plan()
    alive = weakref.ref(kept)
    gctune.keep_until_exit(kept)
    del kept
    assert alive() is not None
    assert main(["--version"]) == 0
    capsys.readouterr()
    assert alive() is None

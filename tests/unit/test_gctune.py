"""The CLI collects cycles less often while a command runs, and restores the thresholds after;
the program leaves what a command kept for the process's end."""

from __future__ import annotations

import gc

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

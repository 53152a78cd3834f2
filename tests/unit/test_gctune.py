"""The CLI pauses the cyclic collector while a command runs, and turns it back on after."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.commands import validate
from entrasync.config.models import LoadedConfig
from entrasync.config.routing import load_reviewed_config
from entrasync.gctune import collector_paused, collector_running

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings.yaml"


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_command_fails() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_cli_run_leaves_the_collector_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert gc.isenabled()


def test_a_command_runs_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `validate` reads the file in its run: the collector's state is looked at right there.
    seen: list[bool] = []

    def load_and_look(path: Path, trusted: Path | None) -> LoadedConfig:
        seen.append(gc.isenabled())
        return load_reviewed_config(path, trusted)

    monkeypatch.setattr(validate, "load_reviewed_config", load_and_look)
    assert gc.isenabled()

    assert main(["validate", "--config", str(MAPPINGS)]) == 0

    assert seen == [False]
    assert gc.isenabled()
    assert "is valid: 3 mappings" in capsys.readouterr().out


def test_a_serving_command_turns_the_collector_back_on_for_as_long_as_it_serves() -> None:
    with collector_paused():
        with collector_running():
            assert gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()

"""Fixtures for the GitHub area: the loopback REST emulator and a workflow-like environment."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.integration.github.emulator import Emulator
from tests.integration.github.env import MakeEnv, environ


@pytest.fixture
def github() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def make_env(tmp_path: Path) -> MakeEnv:
    """The variables a pull_request_target job sees, pointing at an emulator."""
    return partial(environ, event_dir=tmp_path)

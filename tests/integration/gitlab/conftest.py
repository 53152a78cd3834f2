"""Fixtures for the GitLab area: the loopback REST emulator and a merge request pipeline's env."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.gitlab.emulator import GitLab
from tests.integration.gitlab.env import MakeEnv, environ


@pytest.fixture
def gitlab() -> Iterator[GitLab]:
    with GitLab() as emulator:
        yield emulator


@pytest.fixture
def make_env() -> MakeEnv:
    return environ

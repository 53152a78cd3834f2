"""Fixtures for the Azure DevOps area: the loopback REST emulator and a PR build's env."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.azure_devops.emulator import AzureDevOps
from tests.integration.azure_devops.env import MakeEnv, environ


@pytest.fixture
def ado() -> Iterator[AzureDevOps]:
    with AzureDevOps() as emulator:
        yield emulator


@pytest.fixture
def make_env() -> MakeEnv:
    return environ

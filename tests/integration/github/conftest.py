"""Fixtures for the GitHub area: the loopback REST emulator and a workflow-like environment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.github.emulator import TOKEN, Emulator

MakeEnv = Callable[..., dict[str, str]]


@pytest.fixture
def github() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def make_env(tmp_path: Path) -> MakeEnv:
    """The variables a pull_request_target job sees, pointing at an emulator."""

    def make(emulator: Emulator, pr: int = 7, **extra: str) -> dict[str, str]:
        event = tmp_path / f"event-{pr}.json"
        event.write_text(json.dumps({"pull_request": {"number": pr}}), encoding="utf-8")
        return {
            "GITHUB_ACTIONS": "true",
            "GITLAB_CI": "",  # the other platforms' marks are off, whatever runs the tests
            "TF_BUILD": "",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": "contoso/access",
            "GITHUB_API_URL": emulator.url,
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_SHA": "abc123def4567890",
            **extra,
        }

    return make

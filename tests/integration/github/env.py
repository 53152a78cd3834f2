"""The variables a GitHub Actions pull_request_target job sees, pointing at an emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.integration.github.emulator import TOKEN, Emulator

MakeEnv = Callable[..., dict[str, str]]


def environ(
    emulator: Emulator, pr: int = 7, *, event_dir: Path, head: str = "", **extra: str
) -> dict[str, str]:
    """The job's variables, with the event payload of pull request ``pr`` (its ``head``
    commit, when given) written in ``event_dir``."""
    event = event_dir / f"event-{pr}.json"
    pull: dict[str, object] = {"number": pr} | ({"head": {"sha": head}} if head else {})
    event.write_text(json.dumps({"pull_request": pull}), encoding="utf-8")
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

"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _shell_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)]


def test_the_first_command_installs_and_runs_the_demo() -> None:
    first = _shell_blocks()[0]
    assert first.startswith("python3 -m venv .venv && ")
    assert first.endswith("entrasync demo")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    second = _shell_blocks()[1]
    assert second.endswith("python -m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert second in ci_lines

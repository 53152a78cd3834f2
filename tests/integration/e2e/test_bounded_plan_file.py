"""`entrasync apply PLAN_FILE` with a JSON bomb for a plan, against the sandbox, capped at 1 GiB.

Each is refused with exit 1 and an `error:` line naming what is wrong, no traceback, and
nothing is written to the SCIM server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.core import planfile
from entrasync.sandbox.runner import RunningSandbox, running_sandbox
from tests.golden.plans import golden_plan
from tests.unit.limited_run import assert_refused, run_limited


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def plan_with(value: str) -> str:
    """The golden plan's text with the value of ``unchanged`` written as ``value``."""
    text = planfile.dumps(golden_plan())
    unchanged = json.loads(text)["summary"]["unchanged"]
    return text.replace(f'"unchanged": {unchanged}', f'"unchanged": {value}', 1)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("[" * 100_000 + "]" * 100_000, "nested more than 64 levels", id="deep"),
        pytest.param("1" * 5000, "is too large (at most 2**53 - 1)", id="5,000 digits"),
        pytest.param("1e999", "1e999 is not a finite number", id="1e999"),
        pytest.param("NaN", "NaN is not a finite number", id="NaN"),
        pytest.param('1, "unchanged": 2', 'duplicate key "unchanged"', id="duplicate key"),
    ],
)
def test_apply_refuses_a_plan_file_bomb_under_1_gib(
    sandbox: RunningSandbox, tmp_path: Path, value: str, problem: str
) -> None:
    config = tmp_path / "mappings.yaml"
    config.write_text(sandbox.config_yaml)
    plan = tmp_path / "plan.json"
    plan.write_text(plan_with(value))
    writes = sandbox.scim.counters.writes

    done = run_limited(
        "--config",
        str(config),
        "apply",
        str(plan),
        "--auto-approve",
        "--audit-dir",
        str(tmp_path / "audit"),
        cwd=tmp_path,
        env=sandbox.environ,
    )

    assert_refused(done, f"error: {plan} is refused: ", problem)
    assert sandbox.scim.counters.writes == writes

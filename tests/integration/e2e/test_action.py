"""The composite action's steps (action.yml), run by bash as a runner runs them, with the real
entrasync against the sandbox (Graph emulator, SCIM server) and the GitHub REST emulator.

The scheduled sync is replayed step by step as sync.yml runs it: a fresh apply with sync.yml's
own arguments, then the drift command on what is left. Installing from the lock is checked in
tests/unit/test_action_lock.py (and by ci.yml's `action` job on each supported Python).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import SECRET as CLIENT_SECRET
from tests.integration.e2e.loopback import TOKEN as SCIM_TOKEN
from tests.integration.e2e.loopback import serve_both
from tests.integration.github.emulator import TOKEN as GITHUB_TOKEN
from tests.integration.github.emulator import Emulator

ROOT = Path(__file__).resolve().parents[3]


def action_step(step_id: str) -> dict[str, Any]:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    return dict(step)


def sync_step(name_start: str) -> dict[str, Any]:
    workflow = yaml.safe_load((ROOT / ".github/workflows/sync.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["sync"]["steps"]
    (step,) = [s for s in steps if s.get("name", "").startswith(name_start)]
    return dict(step)


class Ran(NamedTuple):
    code: int
    outputs: dict[str, str]
    out: str
    err: str


def run_step(step_id: str, cwd: Path, temp: Path, **inputs: str) -> Ran:
    """One step of the action, its `env:` filled from ``inputs`` as the runner fills it."""
    output = temp / f"output-{step_id}"
    output.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(output),
        "VENV": sys.prefix,  # the environment the install step makes: entrasync and python
        "COMMAND": inputs.get("command", ""),
        "CONFIG": inputs.get("config", ""),
        "ARGS": inputs.get("args", ""),
        "PYTHON_VERSION": inputs.get("python-version", "3.12"),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", action_step(step_id)["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = dict(
        line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if line
    )
    return Ran(done.returncode, outputs, done.stdout, done.stderr)


@pytest.fixture
def temp(tmp_path: Path) -> Path:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    return runner_temp


# Inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "version", "accepted"),
    [
        ("validate", "3.12", True),
        ("install", "3.11", True),
        ("drift", "3.13.1", True),
        ("destroy", "3.12", False),
        ("validate; touch pwned", "3.12", False),
        ("plan", "3.12; touch pwned", False),
        ("plan", "../../tmp", False),
        ("plan", "3.10", False),
        ("plan", "3.9.18", False),
        ("plan", "3.09", False),
    ],
    ids=[
        "validate is a command",
        "install only installs",
        "drift is a command",
        "another word is refused",
        "a shell command in command is refused, not run",
        "a shell command in python-version is refused, not run",
        "a path in python-version is refused",
        "a Python entrasync does not support is refused (3.10)",
        "a Python entrasync does not support is refused (3.9.18)",
        "a minor version is read as decimal",
    ],
)
def test_the_inputs_are_checked_before_anything_is_installed(
    command: str, version: str, accepted: bool, tmp_path: Path, temp: Path
) -> None:
    ran = run_step("env", tmp_path, temp, command=command, **{"python-version": version})
    assert (ran.code == 0) is accepted, ran.out
    assert not (tmp_path / "pwned").exists()
    if accepted:
        assert ran.outputs["venv"] == f"{temp}/entrasync-action/python-{version}"
        assert "installed" not in ran.outputs  # nothing there yet: the install steps run
    else:
        assert ran.out.startswith("::error::entrasync action: ")


def test_the_environment_is_made_once_per_job(tmp_path: Path, temp: Path) -> None:
    bin_dir = temp / "entrasync-action" / "python-3.12" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "entrasync").write_text("#!/bin/sh\n", encoding="utf-8")
    (bin_dir / "entrasync").chmod(0o755)
    assert run_step("env", tmp_path, temp, command="plan").outputs["installed"] == "true"


def test_args_are_split_like_a_shell_but_never_run_by_one(tmp_path: Path, temp: Path) -> None:
    folder = tmp_path / "my access"
    folder.mkdir()
    (folder / "mappings.yaml").write_text("version: 1\n", encoding="utf-8")
    ran = run_step("run", tmp_path, temp, command="validate", args="'my access/mappings.yaml'")
    assert ran.code == 0, ran.err
    assert ran.out.startswith("my access/mappings.yaml is valid")
    assert ran.outputs["exit-code"] == "0"

    ran = run_step("run", tmp_path, temp, command="validate", args="$(touch pwned) `touch pwned`")
    assert ran.code == 1
    # Four literal words, each a file that does not exist: nothing substituted, nothing run.
    assert "error: config file $(touch not found" in ran.err
    assert "error: config file pwned` not found" in ran.err
    assert not (tmp_path / "pwned").exists()

    # `#` starts no comment (as documented): what follows it is more words, here a file that
    # does not exist, so a "commented-out" argument fails the step instead of passing silently.
    ran = run_step("run", tmp_path, temp, command="validate", args="'my access/mappings.yaml' # x")
    assert ran.code == 1
    assert "error: config file # not found" in ran.err


def test_a_backslash_ending_a_line_of_args_continues_it_as_in_a_shell(
    tmp_path: Path, temp: Path
) -> None:
    # `args: |` with lines continued by `\`: split into a word "\n", and for apply that word
    # would have been taken for the plan file.
    (tmp_path / "mappings.yaml").write_text("version: 1\n", encoding="utf-8")
    ran = run_step("run", tmp_path, temp, command="validate", args="mappings.yaml \\\n  -q\n")
    assert ran.code == 0, ran.err
    assert ran.out.startswith("mappings.yaml is valid")
    # An escaped backslash ending a line is a word of its own, as in a shell: `\\` then `-q`.
    ran = run_step("run", tmp_path, temp, command="validate", args="\\\\\n-q")
    assert ran.code == 1
    assert "error: config file \\ not found" in ran.err


def test_drift_refuses_an_out_of_its_own_before_running(tmp_path: Path, temp: Path) -> None:
    # The plan went where args said, and the drift issue, fed the action's own file, was
    # silently never updated.
    for out in ("--out elsewhere.json", "--out=elsewhere.json"):
        ran = run_step("run", tmp_path, temp, command="drift", args=out)
        assert ran.code == 1
        assert "drift writes its own plan file" in ran.out
        assert "exit-code" not in ran.outputs
        assert not (tmp_path / "elsewhere.json").exists()


def test_an_unclosed_quote_in_args_runs_nothing(tmp_path: Path, temp: Path) -> None:
    (tmp_path / "mappings.yaml").write_text("version: 1\n", encoding="utf-8")
    ran = run_step("run", tmp_path, temp, command="validate", args="'mappings.yaml")
    assert ran.code == 1
    assert "args has an unclosed quote" in ran.out
    assert "Traceback" not in ran.err
    assert "is valid" not in ran.out
    assert "exit-code" not in ran.outputs


def test_a_broken_config_fails_the_step_naming_file_and_line(tmp_path: Path, temp: Path) -> None:
    (tmp_path / "pr" / "config").mkdir(parents=True)
    (tmp_path / "pr" / "config" / "mappings.yaml").write_text(
        "version: 1\nroles: [owner, member]\nmappings:\n  - {name: A, role: admn}\n",
        encoding="utf-8",
    )
    ran = run_step("run", tmp_path / "pr", temp, command="validate", config="config/mappings.yaml")
    assert ran.code == 1
    assert ran.outputs["exit-code"] == "1"
    assert "config/mappings.yaml:4:" in ran.err


# The scheduled sync against the sandbox ----------------------------------------------------


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Emulator]]:
    """The demo tenant, a GitHub emulator, and the environment sync.yml's job gets."""
    demo = demo_tenant()
    work = tmp_path / "workspace"
    work.mkdir()
    config = demo.config_yaml
    with (
        serve_both(demo.tenant, demo.scim_users, config, work, monkeypatch),
        Emulator() as github,
    ):
        for name, value in {
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_REPOSITORY": "contoso/access",
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_ACTIONS": "true",
        }.items():
            monkeypatch.setenv(name, value)
        yield work, github


def sync_inputs(name_start: str) -> dict[str, str]:
    step = sync_step(name_start)
    assert step["uses"] == "./"
    return {k: str(v) for k, v in step["with"].items()}


def drift_issues(github: Emulator) -> list[dict[str, Any]]:
    return [i for i in github.state.issues if "pull_request" not in i]


def test_the_scheduled_sync_applies_then_closes_the_drift_issue(
    tenant: tuple[Path, Emulator], temp: Path
) -> None:
    work, github = tenant
    drift = sync_inputs("Report what is left")
    assert drift == {"command": "drift"}

    before = run_step("run", work, temp, **drift)
    assert before.code == 0, before.err  # drift found (2) is a result, not a failure
    assert before.outputs["exit-code"] == "2"
    (issue,) = drift_issues(github)
    assert issue["state"] == "open"
    assert Path(before.outputs["plan-file"]).is_file()

    apply = run_step("run", work, temp, **sync_inputs("Apply a fresh plan"))
    assert apply.code == 0, apply.err
    assert "Apply complete:" in apply.out
    assert len(list((work / "audit").glob("*.jsonl"))) == 1

    after = run_step("run", work, temp, **drift)
    assert after.code == 0, after.err
    assert after.outputs["exit-code"] == "0"
    assert issue["state"] == "closed"
    # No credential in what the steps print, their outputs, the plan file or the issue.
    shown = "".join(r.out + r.err + str(r.outputs) for r in (before, apply, after))
    shown += "".join(f.read_text(encoding="utf-8") for f in temp.glob("output-*"))
    shown += Path(before.outputs["plan-file"]).read_text(encoding="utf-8")
    shown += str(github.state.issues) + str(github.state.comments)
    for secret in (SCIM_TOKEN, CLIENT_SECRET, GITHUB_TOKEN):
        assert secret not in shown


def test_drift_with_the_config_input_opens_the_drift_issue(
    tenant: tuple[Path, Emulator], temp: Path
) -> None:
    """The config input goes to the plan; `github drift-issue` reads the plan file alone."""
    work, github = tenant
    drift = run_step("run", work, temp, command="drift", config="mappings.yaml")
    assert drift.code == 0, drift.err
    assert drift.outputs["exit-code"] == "2"
    assert "--config is ignored" not in drift.err
    (issue,) = drift_issues(github)
    assert issue["state"] == "open"


def test_a_refused_scheduled_sync_fails_and_shows_on_the_drift_issue(
    tenant: tuple[Path, Emulator], temp: Path
) -> None:
    work, github = tenant
    mappings = work / "mappings.yaml"
    mappings.write_text(
        mappings.read_text(encoding="utf-8").replace(
            "max_deactivations: 10", "max_deactivations: 0"
        ),
        encoding="utf-8",
    )
    apply = run_step("run", work, temp, **sync_inputs("Apply a fresh plan"))
    assert apply.code == 1
    assert apply.outputs["exit-code"] == "1"
    assert "max_deactivations" in apply.err
    assert "--force-unsafe" not in sync_inputs("Apply a fresh plan")["args"]
    # Refusals leave their audit file, which sync.yml uploads.
    assert len(list((work / "audit").glob("*.jsonl"))) == 1

    left = run_step("run", work, temp, **sync_inputs("Report what is left"))
    assert left.code == 1, left.err  # the plan breaks a limit: the step fails after reporting
    (issue,) = drift_issues(github)
    assert issue["state"] == "open"
    assert "**Safety violations**" in issue["body"]
    assert "**max\\_deactivations**: the plan deactivates 1 user" in issue["body"]

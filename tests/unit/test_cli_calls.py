"""The check of ``entrasync`` calls in workflows, pipelines and docs (tests/unit/cli_calls.py):
global options before the command, as entrasync takes them, and errors that name what is wrong."""

from __future__ import annotations

import pytest

from entrasync.cli import main
from tests.unit.cli_calls import assert_real_call


@pytest.mark.parametrize(
    "words",
    [
        pytest.param(["--config", "c.yaml", "plan", "--out", "p.json"], id="--config X plan"),
        pytest.param(["-vv", "--no-color", "--config=c.yaml", "validate", "a.yaml"], id="several"),
        pytest.param(["-q", "github", "report-apply", "--audit", "audit/"], id="a subcommand"),
        pytest.param(["plan", "--config", "c.yaml", "--out", "p.json"], id="after the command"),
        pytest.param(["audit", "-v", "verify", "a.jsonl"], id="before a subcommand"),
    ],
)
def test_a_real_call_passes(words: list[str]) -> None:
    assert_real_call(words)


@pytest.mark.parametrize(
    ("words", "said"),
    [
        pytest.param(["plna"], "entrasync has no command 'plna'", id="an unknown command"),
        pytest.param(
            ["--config", "c.yaml", "github", "report"],
            "entrasync github has no command 'report'",
            id="an unknown subcommand",
        ),
        pytest.param(
            ["--config", "c.yaml"], "entrasync --config c.yaml names no command", id="none"
        ),
        pytest.param(["github"], "entrasync github names no command", id="a group alone"),
        pytest.param(
            ["--out", "p.json", "plan"],
            "entrasync --out p.json plan: No such option",  # then click's words, which vary
            id="not global",
        ),
        pytest.param(
            ["--config", "c.yaml", "audit", "verify", "a.jsonl"],
            "verify has no option --config",
            id="global, but not the command's",
        ),
        pytest.param(["plan", "--outt", "p.json"], "plan has no option --outt", id="a typo"),
        pytest.param(
            ["--config", "c.yaml", "report-apply", "audit/"],
            "entrasync report-apply takes no argument ['audit/']",
            id="a stray argument",
        ),
        pytest.param(
            ["-v", "report-apply", "--pr", "5"],
            "entrasync report-apply -v --pr 5 lacks ['audit_path']",
            id="a required option missing",
        ),
    ],
)
def test_a_call_that_entrasync_would_refuse_fails_saying_why(words: list[str], said: str) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_real_call(words)
    assert said in str(caught.value)


@pytest.mark.parametrize("group", ["audit", "github"])
def test_global_options_work_between_a_group_and_its_command(
    group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/commands.md: global options work before or after the command, a group's too."""
    command = {"audit": "verify", "github": "find-plan"}[group]
    assert main([group, "-q", "--no-color", command, "--help"]) == 0
    assert f"Usage: entrasync {group} {command}" in capsys.readouterr().out

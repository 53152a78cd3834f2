"""`entrasync apply` without a plan file (as apply.yml runs it): sandbox tenant and SCIM server.

Every run that read NeuralTrust leaves an audit file, whatever it ended as; a plan with safety
violations is applied only with ``--force-unsafe`` naming the fresh plan's digest.
"""

from __future__ import annotations

import io
import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.audit.chain import verify_audit
from entrasync.adapters.audit.writer import AuditWriter
from entrasync.adapters.scim.client import ScimClient
from entrasync.cli import main
from entrasync.commands import apply as apply_command
from entrasync.config.loading import load_config
from entrasync.config.models import LoadedConfig
from entrasync.console import Console
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.errors import AuditError
from entrasync.operations.stopping import Stopped
from entrasync.sandbox.runner import RunningSandbox, running_sandbox

WORKFLOW_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "entrasync apply"}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        for name, value in running.environ.items():
            monkeypatch.setenv(name, value)
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_WORKFLOW"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "mappings.yaml").write_text(running.config_yaml)
        yield running


def apply(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["apply", "--auto-approve", "--audit-dir", "audit", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def last_audit() -> list[dict[str, Any]]:
    newest = max(Path("audit").glob("*.jsonl"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    assert verify_audit(newest).ok
    return [json.loads(line) for line in newest.read_text().splitlines()]


def test_a_run_with_nothing_to_apply_says_so_and_leaves_an_audit_file(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(capsys)[0] == 0

    code, out, _ = apply(capsys)

    assert code == 0
    assert "No changes." in out
    assert len(list(Path("audit").glob("*.jsonl"))) == 2
    started, finished = last_audit()
    assert started["type"] == "apply_started"
    assert (finished["result"], finished["records"]) == ("no changes", 1)
    assert finished["counts"] == {"succeeded": 0, "failed": 0, "skipped": 0}


def test_a_fresh_plan_applied_by_someone_else_meanwhile_says_so(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_confirm = apply_command._confirm

    def someone_else_applies_it_first(auto_approve: bool) -> bool:
        from entrasync.operations.apply import apply_plan
        from entrasync.operations.planning import plan_from_sources

        loaded = load_config(Path("config/mappings.yaml"))
        plan = plan_from_sources(loaded, sandbox.environ, Console(quiet=True))
        with (
            ScimClient.from_env(loaded.config, sandbox.environ) as client,
            AuditWriter.start(Path("elsewhere"), plan=plan) as audit,
        ):
            apply_plan(plan, client, loaded.config, audit)
        return real_confirm(auto_approve)

    monkeypatch.setattr(apply_command, "_confirm", someone_else_applies_it_first)

    code, out, _ = apply(capsys)

    assert code == 0
    assert "This plan is already applied: NeuralTrust shows every change." in out
    assert last_audit()[-1]["result"] == "already applied"


def _unsafe_in_a_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow: dict[str, str]
) -> Path:
    """The sandbox's config with a deactivation limit its plan breaks, run as a GitHub
    workflow's step (``workflow``: its variables); returns the job summary's path."""
    config = tmp_path / "config" / "mappings.yaml"
    config.write_text(config.read_text().replace("max_deactivations: 10", "max_deactivations: 0"))
    summary = tmp_path / "summary.md"
    for name, value in (workflow | {"GITHUB_STEP_SUMMARY": str(summary)}).items():
        monkeypatch.setenv(name, value)
    return summary


def test_an_unsafe_fresh_plan_is_refused_with_the_rerun_instruction_then_overridden(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    summary = _unsafe_in_a_workflow(tmp_path, monkeypatch, WORKFLOW_ENV)

    refused = apply(capsys)
    refused_audit = last_audit()
    wrong = apply(capsys, "--force-unsafe", "0" * 12)
    digest = refused_audit[0]["plan_digest"]
    forced = apply(capsys, "--force-unsafe", digest[:12].upper())

    instruction = f"Actions → entrasync apply → Run workflow → force_unsafe = {digest[:12]}"
    assert refused[0] == 1
    assert "- deactivate" in refused[1], "the refused plan is shown, so the override is informed"
    assert f"error: the plan {digest[:12]} breaks 1 safety limit," in refused[2]
    assert instruction in refused[2]
    assert (
        f"**Actions → entrasync apply → Run workflow → `force_unsafe` = `{digest[:12]}`**"
        in summary.read_text()
    )
    assert refused_audit[-1]["result"] == "refused"
    assert [v["rule"] for v in refused_audit[-1]["violations"]] == ["max_deactivations"]
    assert wrong[0] == 1
    assert f"--force-unsafe {'0' * 12} does not name this plan" in wrong[2]
    assert forced[0] == 0, forced[2]
    assert "overridden with --force-unsafe: max_deactivations" in forced[2]
    patches = sandbox.scim.counters.by_method["PATCH"]
    assert sandbox.scim.counters.conditional == patches > 0  # each with its user's version
    override = last_audit()[0]["force_unsafe"]
    assert override["given"] == digest[:12]  # lower-cased
    assert override["matched_digest"] == digest
    assert [v["rule"] for v in override["overridden"]] == ["max_deactivations"]
    assert override["overridden"][0]["message"] == refused_audit[-1]["violations"][0]["message"]


def test_a_scheduled_run_refused_names_the_apply_workflow_to_run_by_hand(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # sync.yml runs on a schedule, with no force_unsafe input: re-running it cannot override.
    scheduled = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKFLOW": "entrasync scheduled sync",
        "GITHUB_EVENT_NAME": "schedule",
    }
    summary = _unsafe_in_a_workflow(tmp_path, monkeypatch, scheduled)

    code, _, err = apply(capsys)

    digest = last_audit()[0]["plan_digest"]
    assert code == 1
    assert (
        "from GitHub: Actions → the apply workflow (apply.yml) → Run workflow → force_unsafe = "
        f"{digest[:12]}" in err
    )
    assert "entrasync scheduled sync →" not in err + summary.read_text(encoding="utf-8")


def test_an_apply_whose_job_summary_is_full_applies_and_warns(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Earlier steps left 300 bytes of GitHub's 1 MiB: not even the summary's first line fits.
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * (1024 * 1024 - 300))
    for name, value in (WORKFLOW_ENV | {"GITHUB_STEP_SUMMARY": str(summary)}).items():
        monkeypatch.setenv(name, value)

    code, out, err = apply(capsys)

    assert code == 0, err
    assert "Apply complete:" in out
    assert "warning: the job summary was not written:" in err
    assert "Traceback" not in err
    assert summary.stat().st_size == 1024 * 1024 - 300
    assert last_audit()[-1]["result"] == "applied"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _CtrlC(_Terminal):
    """A terminal whose reader is interrupted: Ctrl-C while input() waits."""

    # typeshed types StringIO.readline by its bytes-reading base class, hence the ignore.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        raise KeyboardInterrupt


@pytest.mark.parametrize("answer", [_Terminal("n\n"), _Terminal("")], ids=["no", "end of input"])
def test_declining_at_the_prompt_changes_nothing_and_is_on_record(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: _Terminal,
) -> None:
    monkeypatch.setattr(sys, "stdin", answer)

    def writes() -> int:
        return sum(sandbox.scim.counters.by_method.get(m, 0) for m in ("POST", "PATCH", "PUT"))

    code = main(["apply", "--audit-dir", "audit"])

    out, err = capsys.readouterr()
    assert code == 1
    assert "cancelled" not in out
    assert err.count("apply cancelled") == 1  # said once, as an error
    assert "error: apply cancelled: nothing was changed" in err
    assert writes() == 0
    assert last_audit()[-1]["result"] == "cancelled"


class _Stopped(_Terminal):
    """A terminal whose reader is stopped by SIGTERM (or SIGHUP: the terminal closed)."""

    def __init__(self, signum: int) -> None:
        super().__init__()
        self.signum = signum

    # typeshed types StringIO.readline by its bytes-reading base class, hence the ignore.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        raise Stopped(self.signum)


@pytest.mark.parametrize(
    ("answer", "code", "said"),
    [
        (_CtrlC(), 130, "interrupted"),
        (_Stopped(signal.SIGTERM), 143, "stopped by SIGTERM"),
        (_Stopped(signal.SIGHUP), 143, "stopped by SIGHUP"),
    ],
    ids=["Ctrl-C", "SIGTERM", "SIGHUP (the terminal closed)"],
)
def test_a_stop_at_the_prompt_is_on_record_as_cancelled_and_exits_as_the_signal_says(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: _Terminal,
    code: int,
    said: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", answer)
    exit_code = main(["apply", "--audit-dir", "audit"])
    _, err = capsys.readouterr()
    assert exit_code == code  # a stop, as anywhere else (docs/commands.md, exit codes)
    assert said in err
    assert "Traceback" not in err
    assert sum(sandbox.scim.counters.by_method.get(m, 0) for m in ("POST", "PATCH", "PUT")) == 0
    assert last_audit()[-1]["result"] == "cancelled"


def test_a_fresh_plan_that_would_write_a_protected_user_is_refused_whole(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # entrasync's planner never makes such a change, so nothing real can produce one: the
    # fresh plan is the real one with a deactivation of the protected break-glass owner added,
    # to prove the last check before writing holds on this path too.
    real_fresh_plan = apply_command._fresh_plan
    breakglass = next(u for u in sandbox.scim.users() if u["userName"] == "breakglass@contoso.com")

    def with_breakglass_deactivated(loaded: LoadedConfig, console: Console, par: int) -> Plan:
        plan = real_fresh_plan(loaded, console, par)
        was = Access("owner", None, True)
        change = Change(
            action=Action.DEACTIVATE,
            user="mallory@contoso.com",  # named as someone else: the SCIM id is what is written
            entra_id=None,
            display_name="Mallory",
            email=None,
            before=was,
            after=replace(was, active=False),
            groups=(),
            decided_by=None,
            reason="no longer in a mapped group",
            target_id=str(breakglass["id"]),
        )
        return replace(plan, changes=(*plan.changes, change))

    monkeypatch.setattr(apply_command, "_fresh_plan", with_breakglass_deactivated)
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert "would write 1 protected user, which entrasync never changes: deactivate " in err
    assert "mallory@contoso.com (protected: breakglass@contoso.com); nothing was changed" in err
    assert sandbox.scim.counters.writes == 0
    assert sandbox.scim.users() == before
    assert last_audit()[-1]["result"] == "refused"


def test_an_audit_file_that_cannot_be_finished_still_says_what_the_run_did(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its last record refused (a full disk), only the audit error was printed: the changes
    made, and any that failed, were said nowhere but in the file."""

    def disk_full(self: AuditWriter, counts: dict[str, int]) -> None:
        raise AuditError(f"the audit file {self.path} could not be written: No space left")

    monkeypatch.setattr(AuditWriter, "finish", disk_full)
    code, _, err = apply(capsys)
    assert code == 1
    said = err.index("warning: apply ran (")
    assert err.index("could not finish its audit file") > said
    assert err.index("error: the audit file ") > said
    assert "succeeded, 0 failed, 0 skipped" in err[said:]

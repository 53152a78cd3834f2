"""`entrasync github find-plan | report-apply | drift-issue` and the job summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.audit import AuditWriter
from entrasync.cli import main
from entrasync.github import STEP_SUMMARY_LIMIT, append_step_summary
from entrasync.plan import Action, Plan
from tests.integration.github.conftest import MakeEnv
from tests.integration.github.emulator import Emulator
from tests.integration.github.plans import change, plan_of

SHA = "abc123def4567890"


def run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(list(args))


def save(plan: Plan, path: Path) -> Path:
    path.write_text(plan.dumps(), encoding="utf-8")
    return path


def artifact(name: str, run_id: int, created: str, expired: bool = False) -> dict[str, object]:
    return {
        "name": name,
        "expired": expired,
        "created_at": created,
        "workflow_run": {"id": run_id},
    }


def test_find_plan_picks_the_newest_unexpired_plan_of_the_merged_pr(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    github.state.commit_pulls[SHA] = [{"number": 12, "merged_at": "2026-11-28T10:00:00Z"}]
    github.state.artifacts = [
        artifact("entrasync-plan-12-1", 501, "2026-11-27T09:00:00Z"),
        artifact("entrasync-plan-12-2", 502, "2026-11-28T09:00:00Z"),
        artifact("entrasync-plan-12-1", 503, "2026-11-28T09:30:00Z", expired=True),
        artifact("entrasync-plan-123-1", 504, "2026-11-28T09:45:00Z"),
        *(artifact(f"other-{i}", i, "2026-11-28T11:00:00Z") for i in range(150)),
    ]
    outputs = tmp_path / "outputs"
    env = make_env(github, GITHUB_OUTPUT=str(outputs))
    assert run(monkeypatch, env, "github", "find-plan", "--sha", SHA) == 0
    assert outputs.read_text().splitlines() == ["pr=12", "name=entrasync-plan-12-2", "run-id=502"]


def test_find_plan_of_a_direct_push_sets_empty_outputs(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    env = make_env(github, GITHUB_OUTPUT=str(outputs))
    assert run(monkeypatch, env, "github", "find-plan", "--sha", SHA) == 0
    assert outputs.read_text().splitlines() == ["pr=", "name=", "run-id="]


def write_audit(directory: Path, plan: Plan) -> Path:
    writer = AuditWriter.start(directory, plan=plan, environ={}, git_commit=lambda: None)
    for c in plan.changes:
        writer.change(c, outcome="succeeded")
    writer.finish()
    return writer.path


def test_report_apply_comments_once_on_the_merged_pr_and_flags_unreviewed_changes(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    github.state.commit_pulls[SHA] = [{"number": 12, "merged_at": "2026-11-28T10:00:00Z"}]
    write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com"), change("zed@contoso.com")))
    reviewed = save(plan_of(change("alice@contoso.com")), tmp_path / "plan.json")
    summary = tmp_path / "summary.md"
    env = make_env(github, GITHUB_STEP_SUMMARY=str(summary))
    args = ("github", "report-apply", "--audit", str(tmp_path / "audit"))
    codes = [run(monkeypatch, env, *args, "--reviewed-plan", str(reviewed)) for _ in range(2)]

    (comment,) = github.state.comments[12]
    assert codes == [0, 0]
    assert "1 applied change(s) were not in the plan last reviewed" in comment["body"]
    assert "zed@&#8203;contoso.com" in comment["body"]
    assert "https://github.example/contoso/access/actions/runs/4242" in comment["body"]
    assert "Applied: 2 succeeded" in summary.read_text(encoding="utf-8")


def test_report_apply_without_the_reviewed_plan_says_so(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    missing = tmp_path / "reviewed" / "plan.json"
    args = ("github", "report-apply", "--audit", str(audit), "--pr", "5")
    assert run(monkeypatch, make_env(github), *args, "--reviewed-plan", str(missing)) == 0
    (comment,) = github.state.comments[5]
    assert "No plan reviewed on this pull request was found" in comment["body"]


def test_report_apply_exits_1_when_the_comment_cannot_be_posted(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.state.fail[("POST", r".*/issues/5/comments")] = (403, "Resource not accessible")
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    args = ("github", "report-apply", "--audit", str(audit), "--pr", "5")
    assert run(monkeypatch, make_env(github), *args) == 1
    assert "pull-requests: write" in capsys.readouterr().err


def test_drift_opens_one_issue_updates_it_and_closes_it_when_in_sync(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    github.state.issues.append(
        {"number": 1, "state": "open", "title": "a PR", "body": "", "pull_request": {}}
    )
    env = make_env(github)
    drift = save(plan_of(change("alice@contoso.com", Action.UPDATE, "admin")), tmp_path / "a.json")
    more = save(
        plan_of(change("alice@contoso.com", Action.UPDATE, "admin"), change("bob@contoso.com")),
        tmp_path / "b.json",
    )
    in_sync = save(plan_of(), tmp_path / "c.json")

    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(drift)) == 0
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(more)) == 0
    issues = [i for i in github.state.issues if "pull_request" not in i]
    assert len(issues) == 1
    assert issues[0]["state"] == "open"
    assert "1 to create, 1 to update" in issues[0]["title"]

    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(in_sync)) == 0
    assert issues[0]["state"] == "closed"
    assert "In sync again" in github.state.comments[issues[0]["number"]][0]["body"]
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(in_sync)) == 0
    assert github.state.calls("PATCH") == 2  # one update, one close; nothing for the no-op


@pytest.mark.parametrize(
    ("already", "text_bytes", "cut"),
    [
        pytest.param(0, 1000, False, id="a small summary is appended whole"),
        pytest.param(0, 2 * STEP_SUMMARY_LIMIT, True, id="an oversized summary is cut with a note"),
        pytest.param(STEP_SUMMARY_LIMIT - 500, 1000, True, id="earlier output counts too"),
    ],
)
def test_the_job_summary_never_exceeds_one_mebibyte(
    tmp_path: Path, already: int, text_bytes: int, cut: bool
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * already)
    text = "| é row |\n" * (text_bytes // 11)
    assert append_step_summary(text, {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    data = summary.read_bytes()
    assert len(data) <= STEP_SUMMARY_LIMIT
    assert (b"cut at the 1 MiB limit" in data) is cut
    data.decode("utf-8")  # never a split character


def test_no_job_summary_outside_actions() -> None:
    assert append_step_summary("text", {}) is False

"""`entrasync plan --comment` and `entrasync report-apply` in a GitLab merge request pipeline:
the sandbox tenant and SCIM server, the GitLab emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.core import planfile
from entrasync.render.markdown import comment_marker, render_markdown
from entrasync.sandbox.runner import RunningSandbox, running_sandbox
from tests.integration.github.plans import change, plan_of
from tests.integration.gitlab.emulator import TOKEN, GitLab
from tests.integration.gitlab.env import SHA, MakeEnv
from tests.integration.review_cli import plan_comment, run, secrets, write_audit, write_config


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def test_plan_comment_posts_one_note_and_labels_the_merge_request(
    sandbox: RunningSandbox,
    gitlab: GitLab,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    write_config(sandbox, tmp_path)
    gitlab.state.labels[7] = ["team::identity"]
    env = sandbox.environ | make_env(gitlab)
    codes = [plan_comment(monkeypatch, env, tmp_path) for _ in range(2)]

    out, err = capsys.readouterr()
    (note,) = gitlab.state.notes[7]
    assert codes == [2, 2]
    assert note["body"].startswith(comment_marker("config/mappings.yaml"))
    assert "entrasync: changes" in gitlab.state.labels[7]
    assert "team::identity" in gitlab.state.labels[7]
    assert (
        f"Plan comment: https://gitlab.example/contoso/access/-/merge_requests/7#note_{note['id']}"
        in err
    )
    for secret in secrets(sandbox, TOKEN):
        assert secret not in note["body"] + out + err


def test_plan_comment_with_a_revoked_token_prints_the_plan_then_exits_1(
    sandbox: RunningSandbox,
    gitlab: GitLab,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    write_config(sandbox, tmp_path)
    revoked = "fake-revoked-gitlab-token-for-tests"
    env = sandbox.environ | make_env(gitlab, ENTRASYNC_GITLAB_TOKEN=revoked)
    code = plan_comment(monkeypatch, env, tmp_path)

    out, err = capsys.readouterr()
    assert code == 1
    assert "Plan:" in out
    assert "error: GitLab answered 401" in err
    assert "hint: ENTRASYNC_GITLAB_TOKEN is missing, expired or revoked" in err
    assert "Traceback" not in err
    assert revoked not in out + err


def test_report_apply_comments_on_the_merge_request_of_the_commit(
    gitlab: GitLab,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    gitlab.state.commit_mrs[SHA] = [{"iid": 12, "state": "merged", "merge_commit_sha": SHA}]
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    args = ("report-apply", "--audit", str(audit))
    codes = [
        run(monkeypatch, make_env(gitlab, CI_MERGE_REQUEST_IID=""), tmp_path, *args)
        for _ in range(2)
    ]

    (note,) = gitlab.state.notes[12]
    assert codes == [0, 0]
    assert "Applied: 1 succeeded" in note["body"]
    assert "https://gitlab.example/contoso/access/-/pipelines/99" in note["body"]
    # The pipeline passes no reviewed plan: the report says it did not compare, and lists what
    # was applied, instead of calling every change unreviewed.
    assert "Not compared with a plan reviewed on this request" in note["body"]
    assert "unreviewed" not in note["body"]
    assert "| create | alice@" in note["body"]
    err = capsys.readouterr().err
    assert "Apply report: https://gitlab.example/contoso/access/-/merge_requests/12#note_" in err
    assert "not in the reviewed plan" not in err


@pytest.mark.parametrize(
    ("overrides", "code", "said"),
    [
        pytest.param({}, 0, "the report is in the log above", id="a direct push"),
        # What was applied is never lost with the comment.
        pytest.param({"ENTRASYNC_GITLAB_TOKEN": ""}, 1, "ENTRASYNC_GITLAB_TOKEN", id="no token"),
    ],
)
def test_report_apply_that_comments_nowhere_leaves_the_report_in_the_log(
    gitlab: GitLab,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    overrides: dict[str, str],
    code: int,
    said: str,
) -> None:
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    env = make_env(gitlab, **overrides)
    assert run(monkeypatch, env, tmp_path, "report-apply", "--audit", str(audit)) == code

    out, err = capsys.readouterr()
    assert gitlab.state.notes == {}
    assert "Applied: 1 succeeded" in out  # GitLab has no job summary to hold it
    assert "| create | alice@" in out
    assert said in err
    assert "Traceback" not in err


def test_a_push_that_cannot_plan_replaces_the_note_and_removes_the_labels(
    sandbox: RunningSandbox,
    gitlab: GitLab,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = write_config(sandbox, tmp_path)
    gitlab.state.labels[7] = ["team::identity"]
    env = sandbox.environ | make_env(gitlab)
    assert plan_comment(monkeypatch, env, tmp_path) == 2
    config.write_text("version: 1\nmappings: nope\n")

    assert plan_comment(monkeypatch, env, tmp_path) == 1

    (note,) = gitlab.state.notes[7]
    assert (
        "**No plan: entrasync could not plan config/mappings.yaml for this push.**" in note["body"]
    )
    assert "error: config/mappings.yaml has 1 problem" in note["body"]
    assert gitlab.state.labels[7] == ["team::identity"]


def test_report_apply_compares_with_the_plan_the_merge_request_shows(
    gitlab: GitLab, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan, other = plan_of(change("alice@contoso.com")), plan_of(change("mallory@contoso.com"))
    audit = write_audit(tmp_path / "audit", plan)
    reviewed = tmp_path / "plan.json"
    reviewed.write_text(planfile.dumps(plan), encoding="utf-8")
    shown = gitlab.state.add_note(7, render_markdown(plan, config_path=plan.config_path))
    args = ("report-apply", "--audit", str(audit), "--reviewed-plan", str(reviewed), "--pr", "7")

    assert run(monkeypatch, make_env(gitlab), tmp_path, *args) == 0

    report = gitlab.state.notes[7][-1]["body"]
    assert f"was in the plan last reviewed on this pull request (`{plan.short_digest}`)" in report
    # The note edited to show another plan (a racing pipeline's): the artifact is not vouched for.
    (note,) = (n for n in gitlab.state.notes[7] if n["id"] == shown)
    note["body"] = render_markdown(other, config_path=other.config_path)
    assert run(monkeypatch, make_env(gitlab), tmp_path, *args) == 0
    report = gitlab.state.notes[7][-1]["body"]
    assert f"but the request's comment shows plan {other.short_digest}" in report


def test_a_retried_apply_job_posts_its_own_report(
    gitlab: GitLab, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A retried job applies again: its report replaced the first's, whose changes then went
    unrecorded on the merge request. A report run twice in one job edits its own."""
    first, retry = tmp_path / "first", tmp_path / "retry"
    write_audit(first, plan_of(change("alice@contoso.com")))
    write_audit(retry, plan_of(change("bob@contoso.com")))
    args = ("report-apply", "--pr", "7", "--audit")
    assert run(monkeypatch, make_env(gitlab), tmp_path, *args, str(first)) == 0
    assert run(monkeypatch, make_env(gitlab), tmp_path, *args, str(first)) == 0
    assert run(monkeypatch, make_env(gitlab, CI_JOB_ID="502"), tmp_path, *args, str(retry)) == 0

    applied, again = (note["body"] for note in gitlab.state.notes[7])
    assert "| create | alice@" in applied
    assert "| create | bob@" in again

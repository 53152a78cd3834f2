"""`entrasync plan --comment` and `entrasync report-apply` in an Azure Pipelines pull request
build: the sandbox tenant and SCIM server, the Azure DevOps emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.core import planfile
from entrasync.render.markdown import comment_marker, render_markdown
from entrasync.sandbox.runner import RunningSandbox, running_sandbox
from tests.integration.azure_devops.emulator import TOKEN, AzureDevOps
from tests.integration.azure_devops.env import SHA, MakeEnv
from tests.integration.github.plans import change, plan_of
from tests.integration.review_cli import plan_comment, run, secrets, write_audit, write_config


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def test_plan_comment_posts_one_thread_and_labels_the_pull_request(
    sandbox: RunningSandbox,
    ado: AzureDevOps,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    write_config(sandbox, tmp_path)
    env = sandbox.environ | make_env(ado)
    codes = [plan_comment(monkeypatch, env, tmp_path) for _ in range(2)]

    out, err = capsys.readouterr()
    (thread,) = ado.state.threads[7]
    content = thread["comments"][0]["content"]
    assert codes == [2, 2]
    assert content.startswith(comment_marker("config/mappings.yaml"))
    assert "entrasync: changes" in ado.state.labels[7]
    for secret in secrets(sandbox, TOKEN):
        assert secret not in content + out + err


def test_an_expired_token_is_an_authentication_error_after_the_plan_is_printed(
    sandbox: RunningSandbox,
    ado: AzureDevOps,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    write_config(sandbox, tmp_path)
    expired = "fake-ado-expired-token-for-tests"
    env = sandbox.environ | make_env(ado, SYSTEM_ACCESSTOKEN=expired)
    code = plan_comment(monkeypatch, env, tmp_path)

    out, err = capsys.readouterr()
    assert code == 1
    assert "Plan:" in out
    assert "error: Azure DevOps answered 203 with a sign-in page" in err
    assert "hint: map the job's token into the step's env" in err
    assert "Contribute to pull requests" in err
    assert "Traceback" not in err
    assert expired not in out + err
    assert ado.state.threads == {}


def test_report_apply_comments_on_the_pull_request_that_made_the_merge_commit(
    ado: AzureDevOps,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ado.state.merge_commits[SHA] = [{"pullRequestId": 12, "status": "completed"}]
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    env = make_env(ado, SYSTEM_PULLREQUEST_PULLREQUESTID="")
    codes = [
        run(monkeypatch, env, tmp_path, "report-apply", "--audit", str(audit)) for _ in range(2)
    ]

    (thread,) = ado.state.threads[12]
    content = thread["comments"][0]["content"]
    assert codes == [0, 0]
    assert "Applied: 1 succeeded" in content
    assert "/Identity%20Platform/_build/results?buildId=314" in content


def test_report_apply_without_a_merged_pull_request_leaves_the_report_in_the_log(
    ado: AzureDevOps,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    audit = write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))
    # No job summary on Azure DevOps, whatever runs the tests.
    env = make_env(ado, SYSTEM_PULLREQUEST_PULLREQUESTID="")
    assert run(monkeypatch, env, tmp_path, "report-apply", "--audit", str(audit)) == 0

    out, err = capsys.readouterr()
    assert ado.calls("POST", "/pullrequestquery") == 1  # asked, and none made the commit
    assert ado.state.threads == {}
    assert "Applied: 1 succeeded" in out  # Azure DevOps has no job summary to hold it
    assert "no merged Azure DevOps request to comment on; the report is in the log above" in err


def test_report_apply_compares_with_the_plan_the_oldest_own_thread_shows(
    ado: AzureDevOps, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The one kept is the oldest, whatever order the API lists the threads in."""
    plan, other = plan_of(change("alice@contoso.com")), plan_of(change("mallory@contoso.com"))
    audit = write_audit(tmp_path / "audit", plan)
    reviewed = tmp_path / "plan.json"
    reviewed.write_text(planfile.dumps(plan), encoding="utf-8")
    for shown in (plan, other):  # the second, a racing run's duplicate not yet superseded
        ado.state.add_thread(5, render_markdown(shown, config_path=shown.config_path))
    ado.state.threads[5].reverse()
    args = ("report-apply", "--audit", str(audit), "--reviewed-plan", str(reviewed), "--pr", "5")

    assert run(monkeypatch, make_env(ado), tmp_path, *args) == 0

    (report,) = (body for body in ado.state.contents(5).values() if "Applied:" in body)
    assert f"was in the plan last reviewed on this pull request (`{plan.short_digest}`)" in report


def test_a_rerun_apply_job_posts_its_own_report(
    ado: AzureDevOps, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ "Rerun failed jobs" applies again: its report replaced the first attempt's."""
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    write_audit(first, plan_of(change("alice@contoso.com")))
    write_audit(rerun, plan_of(change("bob@contoso.com")))
    args = ("report-apply", "--pr", "5", "--audit")
    assert run(monkeypatch, make_env(ado), tmp_path, *args, str(first)) == 0
    env = make_env(ado, SYSTEM_JOBATTEMPT="2")
    assert run(monkeypatch, env, tmp_path, *args, str(rerun)) == 0

    applied, again = ado.state.contents(5).values()
    assert "| create | alice@" in applied
    assert "| create | bob@" in again

"""`entrasync github find-plan | report-apply | drift-issue` and the job summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.audit.writer import AuditWriter
from entrasync.adapters.github.actions import (
    STEP_SUMMARY_LIMIT,
    append_step_summary,
    step_summary_room,
    try_step_summary,
)
from entrasync.adapters.github.rest import (
    ArtifactRef,
    GitHubClient,
    GitHubContext,
    close_marked_issue,
    latest_artifact,
)
from entrasync.cli import main
from entrasync.commands.github_cmd import PLAN_EVENT, PLAN_WORKFLOW
from entrasync.core import planfile
from entrasync.core.plan import Action, Orphan, Plan, Violation
from entrasync.errors import GitHubError
from entrasync.render.markdown import comment_marker, render_markdown
from tests.integration.github.emulator import BOT, Emulator
from tests.integration.github.env import MakeEnv
from tests.integration.github.plans import change, plan_of
from tests.integration.review_cli import write_audit

SHA = "abc123def4567890"


def run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(list(args))


def report_apply(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], audit: Path, *more: str
) -> int:
    """`entrasync github report-apply --audit AUDIT MORE...` in ``env``."""
    return run(monkeypatch, env, "github", "report-apply", "--audit", str(audit), *more)


def save(plan: Plan, path: Path) -> Path:
    path.write_text(planfile.dumps(plan), encoding="utf-8")
    return path


def reviewed_on(github: Emulator, number: int, plan: Plan, path: Path) -> Path:
    """``plan`` saved at ``path`` as the plan artifact, and shown on pull request ``number`` in
    the tool's plan comment, as `plan --comment --out` leaves them."""
    github.state.add_comment(number, render_markdown(plan, config_path=plan.config_path))
    return save(plan, path)


def artifact(name: str, run_id: int, artifact_id: int, expired: bool = False) -> dict[str, object]:
    """As GitHub lists one: ids grow with each upload."""
    return {
        "id": artifact_id,
        "name": name,
        "expired": expired,
        "created_at": "2026-11-28T09:00:00Z",
        "workflow_run": {"id": run_id},
    }


PLAN_RUN = {"path": PLAN_WORKFLOW, "event": PLAN_EVENT}


def find(github: Emulator, make_env: MakeEnv) -> ArtifactRef | None:
    env = make_env(github)
    return latest_artifact("entrasync-plan-12", env, workflow=PLAN_WORKFLOW, event=PLAN_EVENT)


def find_plan_outputs(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[str]:
    """`entrasync github find-plan --sha SHA` (exit 0): the step outputs it wrote."""
    outputs = tmp_path / "outputs"
    env = make_env(github, GITHUB_OUTPUT=str(outputs))
    assert run(monkeypatch, env, "github", "find-plan", "--sha", SHA) == 0
    return outputs.read_text().splitlines()


HEAD = "b" * 40  # the pull request's last commit, merged
EARLIER = "c" * 40  # a commit pushed to it before


def merged_pr_12() -> list[dict[str, object]]:
    return [{"number": 12, "merged_at": "2026-11-28T10:00:00Z", "head": {"sha": HEAD}}]


def test_find_plan_picks_the_newest_unexpired_plan_of_the_merged_prs_last_commit(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    github.state.commit_pulls[SHA] = merged_pr_12()
    github.state.artifacts = [
        # Two runs planned the last commit (a push, then a label): the later one's plan.
        artifact(f"entrasync-plan-12-{HEAD}", 501, 9001),
        artifact(f"entrasync-plan-12-{HEAD}", 502, 9002),
        artifact(f"entrasync-plan-12-{HEAD}", 503, 9003, expired=True),
        artifact(f"entrasync-plan-123-{HEAD}", 504, 9004),
        # An earlier push's plan, newer by a re-run of its old run: not the reviewed one.
        artifact(f"entrasync-plan-12-{EARLIER}", 505, 9005),
        # A year of scheduled syncs' artifacts: never listed.
        *(artifact(f"entrasync-audit-sync-{i}-1", i, 10_000 + i) for i in range(450)),
    ]
    github.state.runs = {run_id: PLAN_RUN for run_id in (501, 502, 503, 504, 505)}
    assert find_plan_outputs(github, make_env, monkeypatch, tmp_path) == [
        "pr=12",
        f"name=entrasync-plan-12-{HEAD}",
        "run-id=502",
    ]
    # The plan's name asked for, one page; the newest's run read: two requests, not six.
    assert github.state.calls("GET", "/actions/artifacts") == 1
    assert github.state.calls("GET", "/actions/runs/") == 1


def test_of_a_re_run_the_plan_found_is_the_one_download_artifact_fetches(
    github: Emulator, make_env: MakeEnv
) -> None:
    """Two attempts of one run may each keep an artifact of the name: actions/download-artifact,
    given the name and run id, fetches the one of the highest id, whatever the dates say."""
    attempts = [
        artifact("entrasync-plan-12", 601, 9011) | {"created_at": "2026-11-28T09:00:00Z"},
        artifact("entrasync-plan-12", 601, 9010) | {"created_at": "2026-11-28T10:00:00Z"},
    ]
    github.state.artifacts = attempts
    github.state.runs = {601: PLAN_RUN}
    assert find(github, make_env) == ArtifactRef("entrasync-plan-12", 601, 9011)


def test_a_pr_whose_last_commit_has_no_plan_has_no_reviewed_plan(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The last push's plan failed and uploaded nothing: an earlier push's plan is no stand-in.
    github.state.commit_pulls[SHA] = merged_pr_12()
    github.state.artifacts = [artifact(f"entrasync-plan-12-{EARLIER}", 501, 9001)]
    github.state.runs = {501: PLAN_RUN}
    assert find_plan_outputs(github, make_env, monkeypatch, tmp_path) == [
        "pr=12",
        "name=",
        "run-id=",
    ]
    assert f"no unexpired plan artifact of its last commit {HEAD[:12]}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param({"path": ".github/workflows/ci.yml", "event": "pull_request"}, id="ci.yml"),
        pytest.param({"path": PLAN_WORKFLOW, "event": "pull_request"}, id="a PR's own plan.yml"),
        pytest.param({"path": PLAN_WORKFLOW, "event": "workflow_dispatch"}, id="a manual run"),
        pytest.param(
            {"path": PLAN_WORKFLOW + ".yml", "event": PLAN_EVENT}, id="another file's name"
        ),
        pytest.param(
            {"path": PLAN_WORKFLOW + "@x.yml", "event": PLAN_EVENT}, id="a file named plan.yml@…"
        ),
        pytest.param(
            {"path": PLAN_WORKFLOW + "@x.yml@main", "event": PLAN_EVENT}, id="…that file at a ref"
        ),
    ],
)
def test_a_plan_artifact_another_workflow_uploaded_is_never_the_reviewed_plan(
    github: Emulator,
    make_env: MakeEnv,
    forged: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pull request can make its own ci.yml (or a plan.yml of its own, run on pull_request)
    # upload an artifact of the reviewed plan's name: the report must not compare with it.
    github.state.artifacts = [
        artifact("entrasync-plan-12", 501, 9001),
        artifact("entrasync-plan-12", 666, 9002),
    ]
    github.state.runs = {501: PLAN_RUN, 666: forged}
    assert find(github, make_env) == ArtifactRef("entrasync-plan-12", 501, 9001)
    assert "skipped artifact entrasync-plan-12 of run 666" in caplog.text
    # Only the forged one, or an artifact whose run is gone: no reviewed plan at all.
    gone = artifact("entrasync-plan-12", 777, 9003)
    github.state.artifacts = [*github.state.artifacts[1:], gone]
    assert find(github, make_env) is None
    assert "skipped artifact entrasync-plan-12 of run 777: uploaded by ? on ?" in caplog.text


def test_a_run_path_named_with_its_ref_is_the_plan_workflow_still(
    github: Emulator, make_env: MakeEnv
) -> None:
    # GitHub's documented answer for a run gives its path as ".github/workflows/build.yml@main".
    github.state.artifacts = [artifact("entrasync-plan-12", 501, 9001)]
    github.state.runs = {501: {"path": PLAN_WORKFLOW + "@main", "event": PLAN_EVENT}}
    assert find(github, make_env) == ArtifactRef("entrasync-plan-12", 501, 9001)


def test_find_plan_of_a_direct_push_sets_empty_outputs(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert find_plan_outputs(github, make_env, monkeypatch, tmp_path) == ["pr=", "name=", "run-id="]


def _without_commit(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``env`` with no GITHUB_SHA, a CI runner's own included."""
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    return {k: v for k, v in env.items() if k != "GITHUB_SHA"}


@pytest.fixture
def alice_audit(tmp_path: Path) -> Path:
    """The audit file of an apply that created alice@contoso.com."""
    return write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com")))


def test_report_apply_comments_once_on_the_merged_pr_and_flags_unreviewed_changes(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    github.state.commit_pulls[SHA] = [{"number": 12, "merged_at": "2026-11-28T10:00:00Z"}]
    write_audit(tmp_path / "audit", plan_of(change("alice@contoso.com"), change("zed@contoso.com")))
    reviewed = reviewed_on(github, 12, plan_of(change("alice@contoso.com")), tmp_path / "plan.json")
    summary = tmp_path / "summary.md"
    env = make_env(github, GITHUB_STEP_SUMMARY=str(summary))
    codes = [
        report_apply(monkeypatch, env, tmp_path / "audit", "--reviewed-plan", str(reviewed))
        for _ in range(2)
    ]

    (_plan_comment, comment) = github.state.comments[12]
    assert codes == [0, 0]
    assert "Not in the plan last reviewed on this pull request: 1 applied change" in comment["body"]
    assert "zed@&#8203;contoso.com" in comment["body"]
    assert "https://github.example/contoso/access/actions/runs/4242" in comment["body"]
    assert "Applied: 2 succeeded" in summary.read_text(encoding="utf-8")


def _applied_and_saved(tmp_path: Path) -> tuple[Plan, Path]:
    """A plan of one change, its apply's audit file in tmp_path/audit and its plan file."""
    plan = plan_of(change("alice@contoso.com"))
    write_audit(tmp_path / "audit", plan)
    return plan, save(plan, tmp_path / "plan.json")


@pytest.mark.parametrize(
    ("shown", "why"),
    [
        (
            "another",
            "its plan artifact holds plan {reviewed}, but the request's comment shows plan {other}",
        ),
        ("none", "the request has no plan comment"),
        ("failure", "the request's plan comment shows no plan: its last push could not plan"),
        (
            "edited",
            "the request's comment names plan {reviewed}, but is not that plan as entrasync "
            "wrote it: it was edited since, so what its reviewers read may not be this plan",
        ),
    ],
    ids=[
        "another plan",
        "no comment",
        "a push that could not plan",
        "another plan under this plan's digest (the comment edited by a writer of the repository)",
    ],
)
def test_report_apply_vouches_only_for_the_plan_the_request_showed(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    shown: str,
    why: str,
) -> None:
    """The artifact of a plan the request never showed (its comment failed, a racing run's
    edit won, a later push could not plan) was reported as the plan reviewed."""
    plan, reviewed = _applied_and_saved(tmp_path)
    other = plan_of(change("mallory@contoso.com"))
    if shown == "another":
        github.state.add_comment(5, render_markdown(other, config_path=other.config_path))
    elif shown == "failure":
        github.state.add_comment(5, comment_marker("config/mappings.yaml") + "\nNo plan: ...")
    elif shown == "edited":
        forged = render_markdown(other, config_path=other.config_path)
        github.state.add_comment(5, forged.replace(other.short_digest, plan.short_digest))
    compared = ("--reviewed-plan", str(reviewed))

    assert (
        report_apply(monkeypatch, make_env(github), tmp_path / "audit", "--pr", "5", *compared) == 0
    )

    report = github.state.comments[5][-1]["body"]
    said = why.format(reviewed=plan.short_digest, other=other.short_digest)
    assert f"No plan reviewed on this pull request was found ({said})" in report
    assert "every change this apply attempted went unreviewed" in report
    assert "Every change this run attempted was in the plan" not in report
    # The log says what the comment says: no plan to compare with, not a plan matched.
    err = capsys.readouterr().err
    assert "compared with no reviewed plan: 1 change this apply attempted" in err


def test_a_comment_given_back_with_other_line_ends_still_vouches_for_its_plan(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A platform may give a body back with CRLF line ends (GitHub's web editor saves them) or
    # blanks at line ends; the plan shown is the same.
    plan, reviewed = _applied_and_saved(tmp_path)
    body = render_markdown(plan, config_path=plan.config_path)
    github.state.add_comment(5, "".join(f"{line}  \r\n" for line in body.split("\n")) + "\r\n")
    compared = ("--reviewed-plan", str(reviewed))

    assert (
        report_apply(monkeypatch, make_env(github), tmp_path / "audit", "--pr", "5", *compared) == 0
    )

    report = github.state.comments[5][-1]["body"]
    assert "Every change this run attempted was in the plan last reviewed" in report


def test_a_report_with_no_request_to_check_vouches_for_no_plan(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No merged request (a direct push): the job summary said the plan was the one reviewed.
    _, reviewed = _applied_and_saved(tmp_path)
    summary = tmp_path / "summary.md"
    env = make_env(github, GITHUB_STEP_SUMMARY=str(summary))

    assert report_apply(monkeypatch, env, tmp_path / "audit", "--reviewed-plan", str(reviewed)) == 0

    said = summary.read_text(encoding="utf-8")
    assert "(no request's plan comment could be read to check it)" in said
    assert "Every change this run attempted was in the plan" not in said


def test_each_apply_attempt_of_the_same_commit_posts_its_own_report(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A re-run of the apply job applies again, and so does a manual apply of the merge commit
    (as the drift issue suggests): each report goes beside the first, which a re-run used to
    replace with "nothing applied", erasing the request's record of what was applied."""
    first, rerun, later = tmp_path / "first", tmp_path / "rerun", tmp_path / "later"
    write_audit(first, plan_of(change("alice@contoso.com")))
    write_audit(rerun, plan_of(change("bob@contoso.com")))
    write_audit(later, plan_of(change("mallory@contoso.com")))
    args = ("github", "report-apply", "--pr", "12", "--audit")
    assert run(monkeypatch, make_env(github), *args, str(first)) == 0
    assert run(monkeypatch, make_env(github), *args, str(first)) == 0  # the same attempt: edits
    assert run(monkeypatch, make_env(github, GITHUB_RUN_ATTEMPT="2"), *args, str(rerun)) == 0
    assert run(monkeypatch, make_env(github, GITHUB_RUN_ID="4343"), *args, str(later)) == 0

    merge, again, manual = github.state.comments[12]
    assert "alice@&#8203;contoso.com" in merge["body"]
    assert "bob" not in merge["body"]
    assert "bob@&#8203;contoso.com" in again["body"]
    assert "mallory@&#8203;contoso.com" in manual["body"]


def test_report_apply_without_the_reviewed_plan_says_so(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    alice_audit: Path,
) -> None:
    missing = tmp_path / "reviewed" / "plan.json"
    compared = ("--reviewed-plan", str(missing))
    assert report_apply(monkeypatch, make_env(github), alice_audit, "--pr", "5", *compared) == 0
    (comment,) = github.state.comments[5]
    assert "No plan reviewed on this pull request was found" in comment["body"]


@pytest.mark.parametrize("audit", ["audit", "gone"], ids=["empty folder", "missing folder"])
def test_report_apply_without_an_audit_file_says_nothing_was_changed_and_exits_1(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    audit: str,
) -> None:
    # Validate or the apply failed before its first record: the merged request is told that
    # nothing was applied, and the step still fails.
    (tmp_path / "audit").mkdir()
    assert report_apply(monkeypatch, make_env(github), tmp_path / audit, "--pr", "5") == 1
    (comment,) = github.state.comments[5]
    assert (
        "**Not applied: the apply wrote no audit file, so it changed nothing.**" in comment["body"]
    )
    assert "https://github.example/contoso/access/actions/runs/4242" in comment["body"]
    err = capsys.readouterr().err
    assert "error: no audit file" in err
    assert "Traceback" not in err


def test_report_apply_of_an_audit_file_that_is_not_there_posts_nothing(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A file named that does not exist is a typo, not a run that wrote none: the report
    # already on the request must not be replaced by "changed nothing".
    assert report_apply(monkeypatch, make_env(github), alice_audit, "--pr", "12") == 0
    before = [c["body"] for c in github.state.comments[12]]
    assert "Applied: 1 succeeded" in before[0]
    typo = tmp_path / "audit" / "typo.jsonl"
    assert report_apply(monkeypatch, make_env(github), typo, "--pr", "12") == 1
    assert [c["body"] for c in github.state.comments[12]] == before
    err = capsys.readouterr().err
    assert f"error: no audit file: {typo} does not exist" in err
    assert "hint: check the path" in err


def test_report_apply_exits_1_when_the_comment_cannot_be_posted(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.state.fail[("POST", r".*/issues/5/comments")] = (403, "Resource not accessible")
    assert report_apply(monkeypatch, make_env(github), alice_audit, "--pr", "5") == 1
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


def test_a_drift_issue_of_a_deeply_nested_config_gets_a_title_github_takes(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deep = "/".join(["platform-identity-and-access-configuration"] * 5) + "/mappings.yaml"
    drift = replace(plan_of(change("alice@contoso.com", Action.UPDATE, "admin")), config_path=deep)
    path = save(drift, tmp_path / "a.json")
    assert run(monkeypatch, make_env(github), "github", "drift-issue", "--plan", str(path)) == 0
    (issue,) = github.state.issues
    assert len(issue["title"]) == 256
    assert issue["title"].startswith("entrasync drift in platform-identity")
    assert issue["title"].endswith("…")


def test_closing_in_sync_still_names_kept_orphans_and_the_plans_warnings(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Nothing to change is no drift, but a leaver who keeps access (on_removed: keep) and a
    held-back user are still for someone to read when the issue closes."""
    env = make_env(github)
    drift = save(plan_of(change("alice@contoso.com", Action.UPDATE, "admin")), tmp_path / "a.json")
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(drift)) == 0
    kept = replace(
        plan_of(),
        orphans=(Orphan("frank@contoso.com", "member", "no longer in a mapped group"),),
        warnings=("mapping NT-Audit expired on 2026-11-30",),
    )
    assert (
        run(
            monkeypatch,
            env,
            "github",
            "drift-issue",
            "--plan",
            str(save(kept, tmp_path / "k.json")),
        )
        == 0
    )
    (issue,) = [i for i in github.state.issues if "pull_request" not in i]
    assert issue["state"] == "closed"
    closing = github.state.comments[issue["number"]][-1]["body"]
    assert "In sync again" in closing
    assert (
        "1 user no synced mapping wants keeps NeuralTrust access (`on_removed: keep`): frank@"
        in closing
    )
    assert "- mapping NT-Audit expired on 2026-11-30" in closing


def test_the_closing_comment_fits_whatever_the_names_so_the_issue_closes(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A NeuralTrust userName has no length limit, and escaping makes each "@" several
    # characters: the comment went over GitHub's 65,536, and the issue stayed open for good.
    env = make_env(github)
    drift = save(plan_of(change("alice@contoso.com", Action.UPDATE, "admin")), tmp_path / "a.json")
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(drift)) == 0
    kept = replace(
        plan_of(),
        orphans=tuple(
            Orphan("@" * 420 + f"{i}@x.com", "member", "no longer in a mapped group")
            for i in range(25)
        ),
        warnings=tuple(f"{'@' * 5000} {i}" for i in range(25)),
    )
    in_sync = save(kept, tmp_path / "k.json")
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(in_sync)) == 0
    (issue,) = [i for i in github.state.issues if "pull_request" not in i]
    assert issue["state"] == "closed"
    closing = github.state.comments[issue["number"]][-1]["body"]
    assert len(closing) <= 65_536
    assert "and 5 more" in closing


def test_drift_keeps_the_first_of_two_drift_issues_that_runs_at_once_opened(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = make_env(github)
    drift = save(plan_of(change("alice@contoso.com")), tmp_path / "a.json")
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(drift)) == 0
    # A second run that listed the issues before the first opened its own opened another.
    github.state.issues.append(github.state.issues[0] | {"number": 2, "html_url": "/i/2"})
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(drift)) == 0
    first, second = github.state.issues
    assert (first["state"], second["state"]) == ("open", "closed")
    assert second["state_reason"] == "not_planned"
    assert "Closed in favour of #1" in github.state.comments[2][0]["body"]

    # Both open again: an in-sync run closes both.
    second["state"] = "open"
    in_sync = save(plan_of(), tmp_path / "c.json")
    assert run(monkeypatch, env, "github", "drift-issue", "--plan", str(in_sync)) == 0
    assert [i["state"] for i in github.state.issues] == ["closed", "closed"]
    assert all("In sync again" in github.state.comments[n][-1]["body"] for n in (1, 2))


@pytest.mark.parametrize(
    ("already", "text_bytes", "fits"),
    [
        pytest.param(0, 1000, True, id="a small summary is appended whole"),
        pytest.param(0, 2 * STEP_SUMMARY_LIMIT, False, id="an oversized summary is refused"),
        pytest.param(STEP_SUMMARY_LIMIT - 500, 1000, False, id="earlier output counts too"),
    ],
)
def test_the_job_summary_never_exceeds_one_mebibyte(
    tmp_path: Path, already: int, text_bytes: int, fits: bool
) -> None:
    """Past 1 MiB GitHub drops the step's whole summary: what is written is cut to the room
    first (render_summary), and text that still does not fit is refused whole."""
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * already)
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert step_summary_room(environ) == STEP_SUMMARY_LIMIT - already
    text = "| é row |\n" * (text_bytes // 11)
    warnings: list[str] = []
    assert try_step_summary(text, environ, warnings.append) is fits
    data = summary.read_bytes()
    assert len(data) <= STEP_SUMMARY_LIMIT
    assert len(data) == already + (len(text.encode()) if fits else 0)
    assert bool(warnings) is not fits


def test_no_job_summary_outside_actions() -> None:
    assert append_step_summary("text", {}) is False


def write_nothing_applied(directory: Path, plan: Plan, result: Any, **why: Any) -> Path:
    """An audit file as apply writes it for a run that changed nothing."""
    with AuditWriter.start(directory, plan=plan, environ={}, git_commit=lambda: None) as writer:
        writer.finish(result=result, **why)
    return writer.path


UNSAFE = Violation("max_deactivations", "1 deactivation planned, the limit is 0")
NOTHING_APPLIED = [
    pytest.param("no changes", {}, "**Nothing applied: no changes.**", id="no changes"),
    pytest.param("already applied", {}, "was already applied.**", id="a plan already in place"),
    pytest.param(
        "refused",
        {"reason": "the plan breaks 1 safety limit(s)", "violations": (UNSAFE,)},
        "**Actions → entrasync apply → Run workflow → `force_unsafe` = `",
        id="a refusal for safety, with the override instruction",
    ),
]


@pytest.mark.parametrize(("result", "why", "says"), NOTHING_APPLIED)
def test_report_apply_on_a_run_that_applied_nothing_says_so_and_succeeds(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    result: str,
    why: dict[str, Any],
    says: str,
) -> None:
    plan = plan_of(change("alice@contoso.com"))
    write_nothing_applied(tmp_path / "audit", plan, result, **why)
    reviewed = reviewed_on(github, 5, plan, tmp_path / "plan.json")
    summary = tmp_path / "summary.md"
    env = make_env(github, GITHUB_STEP_SUMMARY=str(summary), GITHUB_WORKFLOW="entrasync apply")

    compared = ("--reviewed-plan", str(reviewed))
    assert report_apply(monkeypatch, env, tmp_path / "audit", "--pr", "5", *compared) == 0

    (_plan_comment, comment) = github.state.comments[5]
    assert says in comment["body"]
    assert "Applied:" not in comment["body"]
    assert "unreviewed" not in comment["body"]
    assert says in summary.read_text(encoding="utf-8")
    # The reviewed change this run did not make is listed, as when something else is applied.
    title = (
        "Reviewed but not applied (the apply refused)"
        if result == "refused"
        else "Reviewed but not in this apply (already in place, or no longer wanted)"
    )
    assert f"<summary>{title} (1)</summary>" in comment["body"]
    assert "| create | alice@&#8203;contoso.com | member | not applied |" in comment["body"]


def test_report_apply_of_a_run_with_no_changes_and_no_reviewed_plan_lists_nothing(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_nothing_applied(tmp_path / "audit", plan_of(change("alice@contoso.com")), "no changes")
    assert report_apply(monkeypatch, make_env(github), tmp_path / "audit", "--pr", "5") == 0
    (comment,) = github.state.comments[5]
    assert comment["body"].splitlines()[1:2] == [
        "**Nothing applied: no changes.** NeuralTrust already matches the config."
    ]
    assert "<details>" not in comment["body"]


def test_report_apply_names_the_safety_limits_an_override_let_through(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = plan_of(change("alice@contoso.com"))
    writer = AuditWriter.start(
        tmp_path / "audit",
        plan=plan,
        force_unsafe=plan.digest[:12],
        overridden=(UNSAFE,),
        environ={},
        git_commit=lambda: None,
    )
    with writer:
        writer.change(plan.changes[0], outcome="succeeded")

    assert report_apply(monkeypatch, make_env(github), tmp_path / "audit", "--pr", "5") == 0

    (comment,) = github.state.comments[5]
    assert "Applied: 1 succeeded" in comment["body"]
    assert "Applied with `--force-unsafe`, overriding: max\\_deactivations" in comment["body"]


def test_report_apply_with_an_unwritable_job_summary_warns_and_still_comments(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env(github, GITHUB_STEP_SUMMARY="/proc/nope/summary.md")

    assert report_apply(monkeypatch, env, alice_audit, "--pr", "5") == 0

    err = capsys.readouterr().err
    assert "cannot write the job summary GITHUB_STEP_SUMMARY=/proc/nope/summary.md" in err
    assert "Traceback" not in err
    assert len(github.state.comments[5]) == 1


def test_find_plan_with_an_unwritable_step_output_file_is_a_clear_error(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env(github, GITHUB_OUTPUT="/proc/nope/outputs")

    assert run(monkeypatch, env, "github", "find-plan", "--sha", SHA) == 1

    err = capsys.readouterr().err
    assert "error: cannot write the step outputs GITHUB_OUTPUT=/proc/nope/outputs" in err
    assert "Traceback" not in err


def test_an_artifact_without_its_workflow_run_is_skipped(
    github: Emulator, make_env: MakeEnv
) -> None:
    older = artifact("entrasync-plan-12", 501, 9001)
    github.state.artifacts = [
        older,
        artifact("entrasync-plan-12", 0, 9002) | {"workflow_run": None},
    ]
    github.state.runs = {501: PLAN_RUN}
    assert find(github, make_env) == ArtifactRef("entrasync-plan-12", 501, 9001)


@pytest.mark.parametrize(
    ("listed", "found"),
    [
        pytest.param(None, "a JSON null where a JSON list was due", id="null"),
        pytest.param([1], "a JSON number where a JSON object was due", id="a number"),
        pytest.param("x", "a JSON string where a JSON list was due", id="a string"),
        pytest.param(..., "no 'artifacts'", id="none at all"),
    ],
)
def test_artifacts_that_are_not_a_list_of_objects(
    github: Emulator, make_env: MakeEnv, listed: object, found: str
) -> None:
    answer: dict[str, object] = {"total_count": 1}
    if listed is not ...:
        answer["artifacts"] = listed
    github.answers[("GET", r".*/actions/artifacts")] = (200, answer, "application/json")
    with pytest.raises(GitHubError) as caught:
        find(github, make_env)
    assert caught.value.message == f"GitHub's answer while listing workflow artifacts has {found}"
    assert "GITHUB_API_URL" in (caught.value.hint or "")


def test_a_drift_issue_whose_url_is_null_is_still_named(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = "<!-- entrasync:drift config/mappings.yaml -->"
    github.state.issues.append(
        {"number": 1, "state": "open", "body": marker + "\n", "user": BOT, "html_url": None}
    )
    assert close_marked_issue(marker, "In sync again.", make_env(github)) == ""
    assert github.state.issues[0]["state"] == "closed"

    github.state.issues[0]["state"] = "open"
    in_sync = save(plan_of(), tmp_path / "c.json")
    assert run(monkeypatch, make_env(github), "github", "drift-issue", "--plan", str(in_sync)) == 0
    assert "In sync; closed the drift issue" in capsys.readouterr().err
    assert github.state.issues[0]["state"] == "closed"

    github.answers[("POST", r".*/issues")] = (
        201,
        {"number": 2, "html_url": None},
        "application/json",
    )
    drift = save(plan_of(change("alice@contoso.com")), tmp_path / "d.json")
    assert run(monkeypatch, make_env(github), "github", "drift-issue", "--plan", str(drift)) == 0
    assert "Drift issue: opened or updated (GitHub gave no URL)" in capsys.readouterr().err


def test_report_apply_of_a_direct_push_leaves_the_report_in_the_job_summary_only(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "summary.md"
    env = make_env(github, GITHUB_STEP_SUMMARY=str(summary))

    assert report_apply(monkeypatch, env, alice_audit) == 0

    out, err = capsys.readouterr()
    assert github.calls("GET", f"/commits/{SHA}/pulls") == 1  # asked, and none made the commit
    assert github.state.comments == {}
    assert "Applied: 1 succeeded" in summary.read_text(encoding="utf-8")
    assert out == ""  # the job summary holds it: the log does not repeat it
    assert "no merged GitHub request to comment on; the report is in the job summary" in err


def test_report_apply_of_an_edited_audit_file_posts_nothing_and_exits_1(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A record edited (its chain broken) was reported as the edited file said."""
    text = alice_audit.read_text(encoding="utf-8")
    assert '"outcome":"succeeded"' in text
    alice_audit.write_text(text.replace('"outcome":"succeeded"', '"outcome":"failed"'))

    assert report_apply(monkeypatch, make_env(github), alice_audit, "--pr", "5") == 1

    assert github.state.comments.get(5, []) == []
    err = capsys.readouterr().err
    assert f"error: {alice_audit} does not verify (tampered: seq 2:" in err
    assert "no report was posted" in err


def test_report_apply_without_a_commit_or_pr_says_it_cannot_know_the_request(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    alice_audit: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It said "no merged request to comment on" and exited 0, without having looked."""
    env = _without_commit(make_env(github), monkeypatch)
    assert report_apply(monkeypatch, env, alice_audit) == 1
    assert "error: no commit given" in capsys.readouterr().err


@pytest.mark.parametrize("cut", ["emptied", "last line end"])
def test_report_apply_of_a_file_a_crash_cut_reports_the_run_incomplete(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    alice_audit: Path,
    cut: str,
) -> None:
    """A crash leaves an empty file (killed before the first record) or a last record without
    its line end: the run is reported, incomplete, not refused as edited."""
    data = alice_audit.read_bytes()
    alice_audit.write_bytes(b"" if cut == "emptied" else data[:-1])

    assert report_apply(monkeypatch, make_env(github), alice_audit, "--pr", "5") == 0

    (comment,) = github.state.comments[5]
    assert "does not verify" not in comment["body"]


@pytest.mark.parametrize(
    ("trouble", "warned"),
    [
        ("no commit", "no commit given"),
        ("a refused comment", "GitHub answered 403"),
    ],
)
def test_report_apply_without_an_audit_file_says_so_first_and_why_no_comment(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trouble: str,
    warned: str,
) -> None:
    """The missing audit file is the error to fix first; the comment's own trouble, hint
    included, is a warning beside it."""
    (tmp_path / "audit").mkdir()
    pr: tuple[str, ...] = ()
    if trouble == "no commit":
        env = _without_commit(make_env(github), monkeypatch)
    else:
        github.state.fail[("POST", r".*/issues/5/comments")] = (403, "Resource not accessible")
        env, pr = make_env(github), ("--pr", "5")
    assert report_apply(monkeypatch, env, tmp_path / "audit", *pr) == 1
    err = capsys.readouterr().err
    assert "error: no audit file (*.jsonl) in" in err
    assert f"warning: the comment was not posted: {warned}" in err
    if trouble == "a refused comment":
        assert "pull-requests: write" in err


@pytest.mark.parametrize(
    ("denied", "permission"),
    [
        (r".*/actions/artifacts", "`permissions: actions: read`"),
        (r".*/commits/.*/pulls", "`permissions: contents: read` and `pull-requests: read`"),
    ],
    ids=["the artifacts", "the commit's pull requests"],
)
def test_find_plan_denied_names_the_permission_its_request_needs(
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    denied: str,
    permission: str,
) -> None:
    # It said to add pull-requests: write and issues: write, which give neither.
    github.state.commit_pulls[SHA] = merged_pr_12()
    github.state.fail[("GET", denied)] = (403, "Resource not accessible by integration")
    assert run(monkeypatch, make_env(github), "github", "find-plan", "--sha", SHA) == 1
    err = capsys.readouterr().err
    assert f"hint: the workflow job needs {permission}" in err


def test_a_repository_named_actions_is_told_the_permission_comments_need(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "/actions/" in the whole path matched the repository's own name.
    github.state.fail[("POST", r".*/issues/5/comments")] = (403, "Resource not accessible")
    env = make_env(github) | {"GITHUB_REPOSITORY": "contoso/actions"}
    context = GitHubContext.from_environ(env)
    client = GitHubClient(context)
    with pytest.raises(GitHubError) as caught:
        client.request("POST", client.repo_url("/issues/5/comments"), what="posting")
    assert "pull-requests: write" in (caught.value.hint or "")

"""`entrasync plan --comment` end to end: sandbox tenant and SCIM server, GitHub emulator."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from entrasync.adapters.github.actions import STEP_SUMMARY_LIMIT
from entrasync.cli import main
from entrasync.operations.stopping import Stopped
from entrasync.render.markdown import comment_marker
from entrasync.sandbox.runner import RunningSandbox, running_sandbox
from tests.integration.github.emulator import Emulator
from tests.integration.github.env import MakeEnv
from tests.integration.review_cli import secrets


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@dataclass
class Job:
    """A plan job of pull request 7: the sandbox, its config in a checkout, the emulated
    GitHub, and the job's variables."""

    sandbox: RunningSandbox
    config: Path
    github: Emulator
    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch

    def enter(self, summary: Path) -> None:
        """The job's variables set and its checkout the working folder."""
        for name, value in (self.env | {"GITHUB_STEP_SUMMARY": str(summary)}).items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.chdir(self.config.parent.parent)

    def plan(self, summary: Path) -> int:
        self.enter(summary)
        args = ["plan", "--config", "config/mappings.yaml", "--comment", "--detailed-exitcode"]
        return main(args)

    @property
    def secrets(self) -> tuple[str, ...]:
        return secrets(self.sandbox, self.env["GITHUB_TOKEN"])


@pytest.fixture
def job(
    sandbox: RunningSandbox,
    tmp_path: Path,
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
) -> Job:
    config = tmp_path / "config" / "mappings.yaml"
    config.parent.mkdir()
    config.write_text(sandbox.config_yaml, encoding="utf-8")
    return Job(sandbox, config, github, sandbox.environ | make_env(github), monkeypatch)


def test_plan_comment_creates_then_edits_one_comment_and_fills_the_job_summary(
    job: Job, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    codes = [job.plan(summary) for _ in range(2)]

    (comment,) = job.github.state.comments[7]
    assert codes == [2, 2]
    assert comment["body"].startswith(comment_marker("config/mappings.yaml"))
    assert "Plan:" in summary.read_text(encoding="utf-8")
    assert "entrasync: changes" in job.github.state.labels[7]
    assert not any(secret in comment["body"] for secret in job.secrets)


def test_a_run_of_a_push_the_pull_request_moved_past_posts_nothing_and_says_so(
    job: Job, make_env: MakeEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.env |= make_env(job.github, head="a" * 40)
    job.github.state.heads[7] = "b" * 40

    code = job.plan(tmp_path / "s.md")

    out, err = capsys.readouterr()
    assert code == 2  # the plan's own code: it has changes
    assert "Plan:" in out
    assert 7 not in job.github.state.comments
    assert job.github.state.labels.get(7, []) == []
    assert (
        f"warning: plan comment not posted: this run planned commit {'a' * 12}, and the "
        f"request's head is now {'b' * 12}"
    ) in err


def test_a_failure_to_post_exits_1_after_printing_the_plan(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.github.state.fail[("POST", r".*/issues/7/comments")] = (403, "Resource not accessible")
    code = job.plan(tmp_path / "s.md")

    out, err = capsys.readouterr()
    assert code == 1
    assert "Plan:" in out
    assert "pull-requests: write" in err


@pytest.mark.parametrize("status", [502, 403])
def test_a_plan_the_pull_request_does_not_show_leaves_no_plan_file(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path, status: int
) -> None:
    # Uploaded all the same, find-plan took it for the reviewed plan after the merge, and the
    # apply report said changes no reviewer saw were in it.
    job.enter(tmp_path / "s.md")
    job.github.state.fail[("POST", r".*/issues/7/comments")] = (status, "Bad Gateway")
    plan_file = tmp_path / "plan.json"

    code = _plan_commenting(plan_file)

    _, err = capsys.readouterr()
    assert code == 1
    assert not plan_file.exists()
    assert (
        f"warning: {plan_file} was removed: the pull request is not known to show this plan" in err
    )


def _intercepted(job: Job, tmp_path: Path, before: Callable[[httpx.Request], None]) -> Path:
    """The job entered, ``before`` called with each request on the pull request's comments
    before it is sent (it may raise, or change the emulator's state); where the plan file goes."""
    original = httpx.HTTPTransport.handle_request

    def handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/issues/7/comments"):
            before(request)
        return original(self, request)

    job.enter(tmp_path / "s.md")
    job.monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    return tmp_path / "plan.json"


def _unanswered(job: Job, tmp_path: Path, drops: Callable[[httpx.Request], bool]) -> Path:
    """:func:`_intercepted`, each comment request ``drops`` picks left without an answer (a
    TransportError, not a platform's refusal)."""

    def drop(request: httpx.Request) -> None:
        if drops(request):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    return _intercepted(job, tmp_path, drop)


def _plan_commenting(plan_file: Path) -> int:
    return main(["plan", "--out", str(plan_file), "--comment", "--detailed-exitcode"])


def test_a_comment_post_that_gets_no_answer_leaves_no_plan_file(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # No refusal of the platform's (a ReviewError): the file stayed, and was uploaded.
    plan_file = _unanswered(job, tmp_path, lambda request: request.method == "POST")

    assert _plan_commenting(plan_file) == 1
    assert not plan_file.exists()
    assert "the pull request is not known to show this plan" in capsys.readouterr().err


def test_a_next_page_link_that_is_no_url_is_an_error_and_leaves_no_plan_file(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # httpx's InvalidURL, no error of entrasync's: a traceback, and the file stayed.
    for i in range(150):
        job.github.state.add_comment(7, f"c{i}")
    job.github.state.foreign_next = "http://[::1"
    job.enter(tmp_path / "s.md")
    plan_file = tmp_path / "plan.json"

    assert _plan_commenting(plan_file) == 1
    err = capsys.readouterr().err
    assert "GitHub named a next page that is not a valid URL while" in err
    assert "Traceback" not in err
    assert not plan_file.exists()


def test_a_stop_while_commenting_leaves_no_plan_file(job: Job, tmp_path: Path) -> None:
    def stop(request: httpx.Request) -> None:
        if request.method == "POST":
            raise Stopped(signal.SIGTERM)

    plan_file = _intercepted(job, tmp_path, stop)

    assert _plan_commenting(plan_file) == 143
    assert not plan_file.exists()


def test_a_stop_before_commenting_leaves_no_plan_file(job: Job, tmp_path: Path) -> None:
    # Stopped while the job summary was written: no comment was tried, and the file stayed.
    def stop(*_args: object) -> bool:
        raise Stopped(signal.SIGTERM)

    job.enter(tmp_path / "s.md")
    job.monkeypatch.setattr("entrasync.commands.plan.try_step_summary", stop)
    plan_file = tmp_path / "plan.json"

    assert _plan_commenting(plan_file) == 143
    assert 7 not in job.github.state.comments
    assert not plan_file.exists()


def test_what_fails_after_the_comment_shows_the_plan_fails_nothing(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Posted, then the second listing got no answer: the run failed and removed the plan file
    # of a plan the pull request showed.
    posted: list[bool] = []

    def after_the_post(request: httpx.Request) -> bool:
        if request.method == "POST":
            posted.append(True)
        return bool(posted) and request.method == "GET"

    plan_file = _unanswered(job, tmp_path, after_the_post)

    assert _plan_commenting(plan_file) == 2
    assert len(job.github.state.comments[7]) == 1
    assert plan_file.exists()
    assert "warning" not in capsys.readouterr().err


def test_a_racing_runs_comment_that_cannot_be_edited_fails_the_run(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The racing run's older comment is the one kept: left with its plan, the pull request
    # did not show this run's, which succeeded and kept its plan file all the same.
    marker = comment_marker("config/mappings.yaml")

    def race(request: httpx.Request) -> None:
        if request.method == "POST":
            racer = job.github.state.add_comment(7, marker + "\nthe racing run's plan")
            job.github.state.fail[("PATCH", rf".*/issues/comments/{racer}")] = (502, "Bad")

    plan_file = _intercepted(job, tmp_path, race)

    assert _plan_commenting(plan_file) == 1
    assert not plan_file.exists()
    assert "GitHub answered 502 to PATCH" in capsys.readouterr().err


def test_a_duplicate_that_cannot_be_superseded_fails_nothing(job: Job, tmp_path: Path) -> None:
    marker = comment_marker("config/mappings.yaml")
    first = job.github.state.add_comment(7, marker + "\nold", {"login": "github-actions[bot]"})
    second = job.github.state.add_comment(7, marker + "\nold", {"login": "github-actions[bot]"})
    job.github.state.fail[("PATCH", rf".*/issues/comments/{second}")] = (502, "Bad Gateway")
    plan_file = tmp_path / "plan.json"
    job.enter(tmp_path / "s.md")

    assert _plan_commenting(plan_file) == 2
    kept = next(c for c in job.github.state.comments[7] if c["id"] == first)
    assert "Plan:" in kept["body"]
    assert plan_file.exists()


def test_a_refused_label_keeps_the_plan_file_of_the_plan_the_comment_shows(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.enter(tmp_path / "s.md")
    job.github.state.fail[("POST", r".*/issues/7/labels")] = (403, "Resource not accessible")
    plan_file = tmp_path / "plan.json"

    assert _plan_commenting(plan_file) == 1
    assert len(job.github.state.comments[7]) == 1
    assert plan_file.exists()
    assert "not known to show this plan" not in capsys.readouterr().err


def test_an_unsaveable_plan_file_still_posts_the_comment_then_exits_1(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.enter(tmp_path / "s.md")

    code = main(["plan", "--out", "/proc/nope/p.json", "--comment", "--detailed-exitcode"])

    out, err = capsys.readouterr()
    assert code == 1  # not 2: a failure never exits 2 under --detailed-exitcode
    assert "Plan:" in out
    assert len(job.github.state.comments[7]) == 1  # the reviewers see the plan all the same
    assert "error: cannot write /proc/nope/p.json" in err
    assert "hint: choose a path in a folder that exists" in err
    assert "Traceback" not in err


def test_an_unwritable_job_summary_is_a_warning_not_a_failure(
    job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    code = job.plan(Path("/proc/nope"))

    err = capsys.readouterr().err
    assert code == 2
    assert "warning: cannot write the job summary GITHUB_STEP_SUMMARY=/proc/nope" in err
    assert "Traceback" not in err
    assert len(job.github.state.comments[7]) == 1


@pytest.mark.parametrize(
    ("room", "written"),
    [(1500, True), (40, False)],
    ids=["cut to the room earlier steps left", "no room for even the summary line"],
)
def test_the_job_summary_is_cut_to_the_room_left_in_the_step(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path, room: int, written: bool
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * (STEP_SUMMARY_LIMIT - room))
    assert job.plan(summary) == 2
    err = capsys.readouterr().err
    added = summary.read_bytes()[STEP_SUMMARY_LIMIT - room :]
    assert summary.stat().st_size <= STEP_SUMMARY_LIMIT
    if written:
        assert b"rows left out** to keep this under 1,500 bytes" in added
    else:
        assert added == b""
        assert "warning: the job summary was not written: 40 bytes cannot hold" in err
    assert "Traceback" not in err


def test_a_push_that_cannot_plan_replaces_the_plan_in_the_comment_and_removes_the_labels(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.github.state.labels[7] = ["team: identity"]
    assert job.plan(tmp_path / "s.md") == 2
    job.config.write_text("version: 1\nmappings:\n  - {name: NT-Owners, role: overlord}\n")
    capsys.readouterr()

    assert job.plan(tmp_path / "s.md") == 1

    err = capsys.readouterr().err
    (comment,) = job.github.state.comments[7]  # the same comment, edited
    body = comment["body"]
    assert body.startswith(comment_marker("config/mappings.yaml"))
    assert "**No plan: entrasync could not plan config/mappings.yaml for this push.**" in body
    assert "```text\nerror: config/mappings.yaml has 1 problem\n  config/mappings.yaml:3:" in body
    assert "overlord" in body
    assert "Plan:" not in body  # the earlier push's plan is gone
    assert "[the job log](https://github.example/contoso/access/actions/runs/4242" in body
    assert job.github.state.labels[7] == ["team: identity"]  # ours removed, the others kept
    assert "error: config/mappings.yaml has 1 problem" in err  # the error itself, as ever
    assert "Plan comment (no plan): " in err
    assert not any(secret in body for secret in job.secrets)


def test_a_push_that_cannot_plan_a_file_named_in_latin1_edits_its_one_comment(
    job: Job, tmp_path: Path
) -> None:
    """The failure comment's marker named the file unescaped: a second sticky comment."""
    latin1 = job.config.with_name(os.fsdecode(b"caf\xe9.yaml"))
    job.config.rename(latin1)
    job.enter(tmp_path / "s.md")
    args = ["plan", "--config", f"config/{latin1.name}", "--comment"]
    assert main(args) == 0
    latin1.write_text("version: 1\nmappings:\n  - {name: NT-Owners, role: overlord}\n")
    assert main(args) == 1

    (comment,) = job.github.state.comments[7]  # the same comment, edited
    assert comment["body"].startswith("<!-- entrasync:plan config/caf\\xe9.yaml -->\n")
    assert "No plan: entrasync could not plan" in comment["body"]


def test_a_failure_comment_that_cannot_be_posted_leaves_the_plans_own_error(
    job: Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job.github.state.fail[("POST", r".*/issues/7/comments")] = (403, "Resource not accessible")
    job.config.write_text("version: 1\nmappings: nope\n")
    assert job.plan(tmp_path / "s") == 1

    err = capsys.readouterr().err
    assert "warning: the pull request's comment could not be updated either" in err
    assert "it may still show an earlier push's plan" in err
    assert "pull-requests: write" in err  # the 403's hint: what to do about it
    lines = err.rstrip().splitlines()
    warned = next(i for i, line in enumerate(lines) if "could not be updated either" in line)
    assert lines[warned + 1] == "error: config/mappings.yaml has 1 problem"  # the plan's own
    assert "Traceback" not in err

"""`entrasync github ...`: the GitHub steps of the GitOps loop that are not `plan --comment`.

- ``find-plan``: the merged pull request of a commit and its last plan artifact (apply.yml);
- ``report-apply``: the result comment on the merged pull request, flagging unreviewed changes
  (the same command as ``entrasync report-apply``, always posting to GitHub);
- ``drift-issue``: open or update one issue when a scheduled plan finds drift, close it after.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from entrasync.adapters.files import read_plan
from entrasync.adapters.github.actions import append_outputs, run_url
from entrasync.adapters.github.rest import (
    GitHubPlatform,
    close_marked_issue,
    latest_artifact,
    pull_for_commit,
    upsert_issue,
)
from entrasync.commands import examples
from entrasync.commands.report import report_apply_command
from entrasync.console import Console, app_context, output_options, path_value, reads_no_config
from entrasync.errors import ExitCode, GitHubError
from entrasync.render.common import summary_line
from entrasync.render.markdown import (
    comment_marker,
    drift_intro,
    render_markdown,
    still_to_read,
)
from entrasync.render.truncate import GITHUB_COMMENT_LIMIT

# plan.yml: entrasync-plan-<PR>-<head commit planned> (each attempt of a run uploads it)
PLAN_ARTIFACT_PREFIX = "entrasync-plan-"
# The run that makes the reviewed plan: the default branch's plan.yml, whatever the PR holds.
PLAN_WORKFLOW = ".github/workflows/plan.yml"
PLAN_EVENT = "pull_request_target"


ISSUE_TITLE_LIMIT = 256  # characters GitHub takes in an issue's title


def write_outputs(values: Mapping[str, str], environ: Mapping[str, str], console: Console) -> None:
    """Print ``key=value`` lines and append them to ``$GITHUB_OUTPUT`` when set."""
    lines = "".join(f"{key}={value}\n" for key, value in values.items())
    console.result(lines)
    append_outputs(lines, environ)


@click.group(
    "github",
    epilog=examples(
        "entrasync github find-plan             # in apply.yml, after the merge",
        "entrasync github report-apply --audit audit/",
    ),
)
@output_options
def group() -> None:
    """GitHub steps of the GitOps workflows (apply report, drift issue)."""


@group.command(
    "find-plan",
    short_help="The merged PR of a commit and its last plan artifact.",
    epilog=examples("entrasync github find-plan", "entrasync github find-plan --sha $GITHUB_SHA"),
)
@click.option("--sha", help="Merge commit [default: $GITHUB_SHA].")
@output_options
@reads_no_config
def find_plan(sha: str | None) -> int:
    """Print (and set as step outputs) the merged PR of a commit and its last plan artifact."""

    console = app_context().console()
    sha = sha or os.environ.get("GITHUB_SHA", "")
    if not sha:
        raise GitHubError("no commit given", "pass --sha or run inside GitHub Actions")
    merged = pull_for_commit(sha, os.environ)
    values = {"pr": "", "name": "", "run-id": ""}
    if merged is None:
        console.info(f"commit {sha[:12]} came from no merged pull request: nothing to report on")
    else:
        pull, head = merged
        values["pr"] = str(pull)
        # The plan of the commit merged, not of an earlier push (a plan that failed on the last
        # push, or an old run re-run, would otherwise pass for the reviewed one).
        artifact = (
            latest_artifact(
                f"{PLAN_ARTIFACT_PREFIX}{pull}-{head}",
                os.environ,
                workflow=PLAN_WORKFLOW,
                event=PLAN_EVENT,
            )
            if head
            else None
        )
        if artifact is None:
            console.warn(
                f"pull request #{pull} has no unexpired plan artifact of its last commit "
                f"{head[:12] or '(not said)'}"
            )
        else:
            values.update(name=artifact.name, **{"run-id": str(artifact.run_id)})
    write_outputs(values, os.environ, console)
    return ExitCode.OK


group.add_command(report_apply_command("entrasync github", GitHubPlatform.from_environ))


@group.command(
    "drift-issue",
    short_help="Open, update or close the drift issue.",
    epilog=examples(
        "entrasync plan --out drift.json --detailed-exitcode",
        "entrasync github drift-issue --plan drift.json",
    ),
)
@click.option(
    "--plan",
    "plan_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, readable=False),
    callback=path_value(),
    help="The plan file of the drift check.",
)
@output_options
@reads_no_config
def drift_issue(plan_path: Path) -> int:
    """Open or update the drift issue when the plan has changes; close it when in sync."""

    console = app_context().console()
    plan = read_plan(plan_path)
    drift_marker = comment_marker(plan.config_path, "drift")
    link = run_url(os.environ)
    if not plan.has_changes and not plan.violations:
        closing = "In sync again" + (f" as of [this run]({link})." if link else ".")
        closing += "".join(f"\n\n{line}" for line in still_to_read(plan))
        url = close_marked_issue(drift_marker, closing, os.environ)
        said = "no drift issue open" if url is None else f"closed {url or 'the drift issue'}"
        console.info(f"In sync; {said}")
        return ExitCode.OK
    intro = drift_intro(drift_marker, plan.config_path, link)
    body = intro + render_markdown(
        plan,
        config_path=plan.config_path,
        max_chars=GITHUB_COMMENT_LIMIT - len(intro),
        full_plan_hint="the plan artifact of the drift run",
    )
    title = f"entrasync drift in {plan.config_path}: {summary_line(plan)}"
    if len(title) > ISSUE_TITLE_LIMIT:  # GitHub refuses a longer one (422)
        title = title[: ISSUE_TITLE_LIMIT - 1] + "…"
    url = upsert_issue(title, body, drift_marker, os.environ)
    console.info(f"Drift issue: {url or 'opened or updated (GitHub gave no URL)'}")
    return ExitCode.OK

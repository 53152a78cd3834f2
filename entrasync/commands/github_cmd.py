"""`entrasync github ...`: the GitHub steps of the GitOps loop that are not `plan --comment`.

- ``find-plan``: the merged pull request of a commit and its last plan artifact (apply.yml);
- ``report-apply``: the result comment on the merged pull request, flagging unreviewed changes;
- ``drift-issue``: open or update one issue when a scheduled plan finds drift, close it after.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from entrasync.adapters.files import read_plan
from entrasync.adapters.github.actions import append_outputs, run_url, try_step_summary
from entrasync.adapters.github.rest import (
    close_marked_issue,
    latest_artifact,
    post_sticky_comment,
    pulls_for_commit,
    upsert_issue,
)
from entrasync.commands import examples
from entrasync.console import Console, app_context, global_options, output_options
from entrasync.core.apply_report import compare, read_audit
from entrasync.core.wording import plural
from entrasync.errors import EntrasyncError, GitHubError
from entrasync.render.apply_report import render_report
from entrasync.render.common import summary_line
from entrasync.render.markdown import comment_marker, escape, render_markdown
from entrasync.render.truncate import GITHUB_COMMENT_LIMIT

PLAN_ARTIFACT_PREFIX = "entrasync-plan-"  # plan.yml: entrasync-plan-<PR>-<run attempt>


def marker(kind: str, config_path: str) -> str:
    """The hidden marker of one kind of post, built like the plan comment's own marker."""

    return comment_marker(config_path).replace("entrasync:plan", f"entrasync:{kind}", 1)


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
def group() -> None:
    """GitHub steps of the GitOps workflows (apply report, drift issue)."""


@group.command(
    "find-plan",
    short_help="The merged PR of a commit and its last plan artifact.",
    epilog=examples("entrasync github find-plan", "entrasync github find-plan --sha $GITHUB_SHA"),
)
@click.option("--sha", help="Merge commit [default: $GITHUB_SHA].")
@output_options
def find_plan(sha: str | None) -> int:
    """Print (and set as step outputs) the merged PR of a commit and its last plan artifact."""

    console = app_context().console()
    sha = sha or os.environ.get("GITHUB_SHA", "")
    if not sha:
        raise GitHubError("no commit given", "pass --sha or run inside GitHub Actions")
    pulls = pulls_for_commit(sha, os.environ)
    values = {"pr": "", "name": "", "run-id": ""}
    if not pulls:
        console.info(f"commit {sha[:12]} came from no merged pull request: nothing to report on")
    else:
        values["pr"] = str(pulls[0])
        artifact = latest_artifact(f"{PLAN_ARTIFACT_PREFIX}{pulls[0]}-", os.environ)
        if artifact is None:
            console.warn(f"pull request #{pulls[0]} has no unexpired plan artifact")
        else:
            values.update(name=artifact.name, **{"run-id": str(artifact.run_id)})
    write_outputs(values, os.environ, console)
    return 0


@group.command(
    "report-apply",
    short_help="Comment the apply result on the merged PR.",
    epilog=examples(
        "entrasync github report-apply --audit audit/",
        "entrasync github report-apply --audit audit/ --reviewed-plan plan.json --pr 42",
    ),
)
@click.option(
    "--audit",
    "audit_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="The audit file, or the --audit-dir (its newest *.jsonl).",
)
@click.option(
    "--reviewed-plan",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The plan last reviewed on the pull request (may be missing).",
)
@click.option(
    "--pr", type=int, help="Pull request to comment on [default: merged PR of $GITHUB_SHA]."
)
@global_options
def report_apply(audit_path: Path, reviewed_plan: Path | None, pr: int | None) -> int:
    """Comment the apply result on the merged PR, listing changes nobody reviewed."""

    ctx = app_context()
    console = ctx.console()
    audit_file = _newest_audit(audit_path)
    audit = read_audit(_read_bytes(audit_file), source=str(audit_file))
    reviewed, note = None, None
    if reviewed_plan is None or not reviewed_plan.is_file():
        note = "its plan artifact is missing or expired"
    else:
        try:
            reviewed = read_plan(reviewed_plan)
        except EntrasyncError as exc:
            note = f"its plan file could not be read: {exc.message}"
    report = compare(audit, reviewed)
    sha = os.environ.get("GITHUB_SHA", "")
    config_path = audit.config_path or str(ctx.resolved_config_path)
    apply_marker = marker(f"apply {sha[:12]}", config_path)
    body = render_report(
        report,
        marker=apply_marker,
        run_url=run_url(os.environ),
        note=note,
        workflow=os.environ.get("GITHUB_WORKFLOW"),
    )
    try_step_summary(body, os.environ, console.warn)
    if pr is None:
        pulls = pulls_for_commit(sha, os.environ) if sha else []
        if not pulls:
            console.info("no merged pull request to comment on; the report is in the job summary")
            return 0
        pr = pulls[0]
    url = post_sticky_comment(body, apply_marker, os.environ, number=pr)
    console.info(f"Apply report: {url}")
    if audit.applied_nothing:
        console.info(f"The apply changed nothing ({audit.result}).")
    if report.unreviewed:
        console.warn(
            f"applied but not in the reviewed plan: {plural(len(report.unreviewed), 'change')}"
        )
    return 0


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
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The plan file of the drift check.",
)
@output_options
def drift_issue(plan_path: Path) -> int:
    """Open or update the drift issue when the plan has changes; close it when in sync."""

    console = app_context().console()
    plan = read_plan(plan_path)
    drift_marker = marker("drift", plan.config_path)
    link = run_url(os.environ)
    if not plan.has_changes and not plan.violations:
        closing = "In sync again" + (f" as of [this run]({link})." if link else ".")
        url = close_marked_issue(drift_marker, closing, os.environ)
        console.info(f"In sync; closed {url}" if url else "In sync; no drift issue open")
        return 0
    intro = (
        f"{drift_marker}\nThe scheduled drift check found NeuralTrust out of line with "
        f"{escape(plan.config_path)}"
        + (f" ([run]({link}))" if link else "")
        + ". Someone changed roles in the NeuralTrust UI, or Entra membership moved. Merge a "
        "config change, or re-run the apply workflow to restore what the config says. This "
        "issue closes itself once in sync.\n\n"
    )
    body = intro + render_markdown(
        plan,
        config_path=plan.config_path,
        max_chars=GITHUB_COMMENT_LIMIT - len(intro),
        full_plan_hint="the plan artifact of the drift run",
    )
    title = f"entrasync drift in {plan.config_path}: {summary_line(plan)}"
    url = upsert_issue(title, body, drift_marker, os.environ)
    console.info(f"Drift issue: {url}")
    return 0


def _newest_audit(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(path.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))
    if not files:
        raise GitHubError(
            f"no audit file (*.jsonl) in {path}",
            "the apply step wrote none: it failed before its first change; see its log",
        )
    return files[-1]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GitHubError(
            f"cannot read the audit file {path}: {exc.strerror or exc}",
            "pass the JSON Lines file written by `entrasync apply --audit-dir`",
        ) from None

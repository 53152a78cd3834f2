"""`entrasync report-apply`: the apply result as a comment on the merged pull or merge request.

The same command is `entrasync github report-apply`, kept for the shipped GitHub workflows; it
posts to GitHub whatever the environment says. The platform-neutral one detects the platform
(docs/review-platforms.md) and finds the merged request of the pipeline's commit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import click

from entrasync.adapters.audit.chain import (
    NoAuditFile,
    newest_audit,
    read_audit_file,
    verify_bytes,
)
from entrasync.adapters.files import read_plan
from entrasync.adapters.github.actions import try_step_summary
from entrasync.adapters.review import ReviewPlatform
from entrasync.adapters.review.detect import detect
from entrasync.commands import examples
from entrasync.console import Console, app_context, global_options, path_value
from entrasync.core import sanitize
from entrasync.core.apply_report import compare, read_audit
from entrasync.core.plan import Plan
from entrasync.core.wording import plural
from entrasync.errors import AuditError, EntrasyncError, ExitCode
from entrasync.render.apply_report import render_no_audit, render_report
from entrasync.render.markdown import comment_marker, render_markdown, shown_digest
from entrasync.render.truncate import CHARACTERS, GITHUB_COMMENT_LIMIT

Detect = Callable[[Mapping[str, str]], ReviewPlatform]


def report_apply_command(prog: str, platform_of: Detect) -> click.Command:
    """The ``report-apply`` command of ``prog``, posting to the platform ``platform_of`` gives."""

    @click.command(
        "report-apply",
        short_help="Comment the apply result on the merged PR.",
        epilog=examples(
            f"{prog} report-apply --audit audit/",
            f"{prog} report-apply --audit audit/ --reviewed-plan plan.json --pr 42",
        ),
    )
    @click.option(
        "--audit",
        "audit_path",
        required=True,
        type=click.Path(readable=False),
        callback=path_value("the audit file or its folder"),
        help="The audit file, or the --audit-dir (its newest *.jsonl). A folder that is missing "
        "or holds none: the comment says the apply changed nothing, and the command exits 1.",
    )
    @click.option(
        "--reviewed-plan",
        type=click.Path(dir_okay=False, readable=False),
        callback=path_value(),
        help="The plan last reviewed on the pull request (a missing file is reported as such); "
        "without it the applied changes are listed uncompared.",
    )
    @click.option(
        "--pr",
        type=click.IntRange(min=1),
        metavar="INTEGER",
        help="Pull or merge request to comment on [default: the merged one of the pipeline's "
        "commit].",
    )
    @global_options
    def command(audit_path: Path, reviewed_plan: Path | None, pr: int | None) -> int:
        """Comment the apply result on the merged PR, listing changes nobody reviewed."""
        return report_apply(platform_of, audit_path, reviewed_plan, pr)

    return command


def report_apply(
    platform_of: Detect, audit_path: Path, reviewed_plan: Path | None, pr: int | None
) -> int:
    ctx = app_context()
    console = ctx.console()
    try:
        audit_file = newest_audit(audit_path)
    except NoAuditFile:
        # An apply that failed before its first record leaves no audit file in its folder:
        # its request is still told, and the step still fails.
        where = audit_path.as_posix()
        try:
            _post(
                platform_of,
                pr,
                console,
                ctx.config_name,
                lambda platform, marker, sha, _number: render_no_audit(
                    marker, where, platform.run_url() if platform else None
                ),
            )
        except EntrasyncError as exc:  # the missing audit file stays the error to fix first
            hint = f" ({exc.hint})" if exc.hint else ""
            console.warn(f"the comment was not posted: {exc.message}{hint}")
        raise
    data = read_audit_file(audit_file)  # once: the bytes verified are the bytes reported
    verdict = verify_bytes(data, audit_file)
    if verdict.edited:  # a report from it would tell what the file says, not what was done
        raise AuditError(
            f"{audit_file} does not verify ({verdict.describe()}); no report was posted",
            "report from the audit file of the apply run's artifact; `entrasync audit verify "
            "FILE` names the first bad record",
        )
    audit = read_audit(data, source=str(audit_file))
    reviewed, note = None, None
    if reviewed_plan is None:
        pass  # nothing to compare with: the report lists what was applied
    elif not reviewed_plan.is_file():
        note = "its plan artifact is missing or expired"
    else:
        try:
            reviewed = read_plan(reviewed_plan)
        except EntrasyncError as exc:
            note = f"its plan file could not be read: {exc.message}"
    report = compare(audit, reviewed)
    posted = [report]  # the comparison the comment shows, for the log to say the same

    def body(platform: ReviewPlatform | None, marker: str, sha: str, number: int | None) -> str:
        review, why = report, note
        if reviewed is not None:
            # Reviewed is what the request showed: not an artifact of a plan it never showed
            # (a comment that failed, a run that raced another, a push after the plan).
            if platform is None or number is None:
                why = "no request's plan comment could be read to check it"
            else:
                why = _not_shown(platform, number, reviewed)
            review = compare(audit, None) if why else report
        posted[-1] = review
        return render_report(
            review,
            marker=marker,
            run_url=platform.run_url() if platform else None,
            note=why,
            max_chars=platform.comment_limit if platform else GITHUB_COMMENT_LIMIT,
            measure=platform.comment_measure if platform else CHARACTERS,
            workflow=os.environ.get("GITHUB_WORKFLOW"),
            compared=reviewed_plan is not None,
            commit=sha or None,
        )

    config_path = audit.config_path or ctx.config_name
    if not _post(platform_of, pr, console, config_path, body):
        return ExitCode.OK
    if audit.applied_nothing:
        console.info(f"The apply changed nothing ({sanitize.text(audit.result)}).")
    shown = posted[-1]
    if shown.unreviewed and reviewed_plan is not None:
        attempted = plural(len(shown.unreviewed), "change")
        if shown.reviewed_digest is None:  # the request showed no plan to compare with
            console.warn(f"compared with no reviewed plan: {attempted} this apply attempted")
        else:
            console.warn(f"attempted but not in the reviewed plan: {attempted}")
    return ExitCode.OK


def _not_shown(platform: ReviewPlatform, number: int, reviewed: Plan) -> str | None:
    """Why ``reviewed`` is not the plan request ``number``'s plan comment shows; None when it
    is. A comment that cannot be read vouches for nothing either."""
    try:
        comment = platform.plan_comment(number, comment_marker(reviewed.config_path))
    except EntrasyncError as exc:
        return f"the request's plan comment could not be read to check it: {exc.message}"
    if comment is None:
        return "the request has no plan comment"
    shown = shown_digest(comment)
    if shown is None:
        return "the request's plan comment shows no plan: its last push could not plan"
    if not reviewed.digest.startswith(shown):
        return (
            f"its plan artifact holds plan {reviewed.short_digest}, but the request's comment "
            f"shows plan {shown}"
        )
    written = render_markdown(
        reviewed,
        config_path=reviewed.config_path,
        max_chars=platform.comment_limit,
        measure=platform.comment_measure,
        full_plan_hint=platform.full_plan_hint,
    )
    if _lines(comment) != _lines(written):
        # Anyone who may write to the repository may edit the comment (by hand, or with a
        # workflow's token, as entrasync's own account): its digest line alone vouches for
        # nothing the reviewers read.
        return (
            f"the request's comment names plan {shown}, but is not that plan as entrasync "
            "wrote it: it was edited since, so what its reviewers read may not be this plan"
        )
    return None


def _lines(text: str) -> list[str]:
    """``text``'s lines without the blanks and line ends a platform may change."""
    return [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]


def _post(
    platform_of: Detect,
    pr: int | None,
    console: Console,
    config_path: str,
    body_of: Callable[[ReviewPlatform | None, str, str, int | None], str],
) -> bool:
    """Put the report ``body_of(platform, marker, commit, request)`` in the job summary (else
    the log) and on request ``pr`` (default: the merged one of the pipeline's commit); False
    when there is no such request. A platform that cannot be used (no token) still gets the
    report in the summary or the log, ``body_of(None, "", "", None)``, before its error; so does
    one whose merged request cannot be found."""

    def shown(body: str) -> bool:
        summarised = try_step_summary(body, os.environ, console.warn)
        if not summarised:  # GitLab and Azure DevOps have no job summary: the log keeps it
            console.result(body)
        return summarised

    try:
        platform = platform_of(os.environ)
    except EntrasyncError:
        shown(body_of(None, "", "", None))
        raise
    try:
        sha = platform.commit_sha()
        # One report per apply attempt: a re-run of the job applies again, and a later run (a
        # manual apply of the same commit) too; each posts its own rather than replacing the
        # record of what an earlier one applied. A second report of one attempt edits it.
        run_id = platform.run_id()
        digits = run_id.replace(".", "", 1)
        run = f" run {run_id}" if digits.isascii() and digits.isdigit() else ""  # the CI's
        marker = comment_marker(config_path, f"apply {sha[:12]}{run}")
        try:
            number = pr if pr is not None else _merged(platform, sha)
        except EntrasyncError:
            shown(body_of(platform, marker, sha, None))
            raise
        body = body_of(platform, marker, sha, number)
        summarised = shown(body)
        if number is None:
            where = "the job summary" if summarised else "the log above"
            console.info(
                f"no merged {platform.name} request to comment on; the report is in {where}"
            )
            return False
        url = platform.upsert_comment(number, body, marker)
    finally:
        platform.close()
    console.info(f"Apply report: {url}")
    return True


def _merged(platform: ReviewPlatform, sha: str) -> int | None:
    """The merged request of commit ``sha``, or None."""
    if not sha:
        raise EntrasyncError(
            f"no commit given: {platform.name}'s variables name none, so the merged request is "
            "unknown",
            "pass --pr, or run this in the pipeline of the merge commit",
        )
    return platform.merged_request_for(sha)


command = report_apply_command("entrasync", detect)

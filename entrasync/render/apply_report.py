"""The apply report: the comment on the merged pull request, outcome counts first, then the
applied changes nobody reviewed (:func:`entrasync.core.apply_report.compare`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrasync.core.apply_report import AppliedChange, AuditSummary, Review
from entrasync.core.audit_record import tally
from entrasync.core.plan import Change, short_digest
from entrasync.core.sanitize import name_text
from entrasync.core.wording import plural
from entrasync.render.common import access_brief
from entrasync.render.markdown import MAX_NOTE_CHARS, cell, escape, escaped_within
from entrasync.render.truncate import (
    CHARACTERS,
    GITHUB_COMMENT_LIMIT,
    STEP_SUMMARY_LIMIT,
    UTF8_BYTES,
    Block,
    Measure,
    fit,
)

_HEADER = ("| action | user | after | outcome |", "|---|---|---|---|")
FULL_RECORD = "the audit artifact of this run"


_MAX_WORKFLOW_CHARS = 200  # GITHUB_WORKFLOW: a name, but the CI's to set


def override_instruction(workflow: str, digest: str, *, markdown: bool = False) -> str:
    """How to re-run the apply workflow with the override: ``Actions → apply → ...``."""
    short = short_digest(digest)
    if markdown:
        shown = escaped_within(workflow, _MAX_WORKFLOW_CHARS)
        return f"**Actions → {shown} → Run workflow → `force_unsafe` = `{short}`**"
    return f"Actions → {workflow} → Run workflow → force_unsafe = {short}"


def render_report(
    report: Review,
    *,
    marker: str,
    run_url: str | None,
    note: str | None = None,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    measure: Measure = CHARACTERS,
    workflow: str | None = None,
    compared: bool = True,
    commit: str | None = None,
) -> str:
    """The comment on the merged pull request: outcome counts first, surprises next.

    A run that applied nothing (no changes, already applied, refused) says so and why.
    ``workflow``: the apply workflow's name, for the override instruction of a refusal.
    ``compared``: False when no reviewed plan was to be compared (a pipeline that passes none):
    the applied changes are listed as they are, not as unreviewed.
    ``commit``: the request's merge commit. The run applies the default branch's tip, which may
    hold later merges: then the report says so, and they may explain unreviewed changes.
    """
    audit = report.audit
    counts = audit.report.counts
    tail = [f"[Workflow run and audit artifact]({run_url})"] if run_url else []
    later = _later_merge(audit.git_commit, commit)
    if audit.applied_nothing:
        said = [marker, *_nothing_applied(audit, workflow), ""]
        if later:  # the tip's mappings were refused, or already in place: not this merge's
            said += ["> [!NOTE]", f"> {later}", ""]
        if compared and report.reviewed_digest is None:
            said += _no_reviewed_plan(note, ".")
        if not (compared and report.not_applied):
            return "\n".join([*said, *tail]) + "\n"
        # What reviewers approved and this run did not make: as a run that applied something
        # lists it, or the report would depend on whether anything else was applied.
        title = (
            "Reviewed but not applied (the apply refused)"
            if audit.result == "refused"
            else "Reviewed but not in this apply (already in place, or no longer wanted)"
        )
        blocks = [_block(title, report.not_applied)]
        return "\n".join(fit(said, blocks, tail, max_chars, FULL_RECORD, measure)) + "\n"
    head = [
        marker,
        f"**Applied: {tally(counts)}.**",
        "",
    ]
    if audit.overridden:
        head += [
            "> [!CAUTION]",
            "> Applied with `--force-unsafe`, overriding: " + "; ".join(_listed(audit.overridden)),
            "",
        ]
    if not audit.started:
        head += [
            "> [!CAUTION]",
            "> The audit file holds no record: the apply stopped before its first, so before "
            "any change to NeuralTrust. Run `entrasync plan` to see NeuralTrust as it is, then "
            "re-run the apply workflow.",
            "",
        ]
    elif not audit.finished:
        head += [
            "> [!CAUTION]",
            "> The audit has no `apply_finished` record: the run stopped "
            "part-way, and a change without a record here may have been made all the same "
            "(its record is in the job's log, if it could not be written). Run `entrasync "
            "plan` to see NeuralTrust as it is, then re-run the apply workflow.",
            "",
        ]
    not_made = audit.report.failed + audit.report.skipped
    if not_made:
        head += [
            "> [!WARNING]",
            f"> **{plural(len(not_made), 'change')} failed or skipped**: listed below with their "
            "errors (a failed change may have been made all the same where its error says so). "
            "Fix the cause and re-run the apply workflow: it plans afresh and makes what is "
            "still missing.",
            "",
        ]
    # First among the blocks: what needs action is the last to be cut from a long comment.
    unsuccessful = [_block("Failed or skipped", not_made, with_error=True)]
    if later:
        head += ["> [!NOTE]", f"> {later}", ""]
    if not compared:
        head += [
            "> [!NOTE]",
            "> Not compared with a plan reviewed on this request: `report-apply` was given no "
            "`--reviewed-plan`.",
            "",
        ]
        blocks = [*unsuccessful, _block("Attempted", report.unreviewed)]
        return "\n".join(fit(head, blocks, tail, max_chars, FULL_RECORD, measure)) + "\n"
    if report.reviewed_digest is None:
        head += _no_reviewed_plan(note, ": every change this apply attempted went unreviewed.")
    elif report.unreviewed:
        head += [
            "> [!WARNING]",
            f"> **Not in the plan last reviewed on this pull request: "
            f"{_attempted(report.unreviewed)}** "
            f"(`{short_digest(report.reviewed_digest)}`): "
            + (
                "a later merge applied with this one (above), or Entra membership or NeuralTrust "
                "moved between review and merge. Check them below."
                if later
                else "Entra membership or NeuralTrust moved between review and merge. Check them "
                "below."
            ),
            "",
        ]
    else:
        head += [
            "Every change this run attempted was in the plan last reviewed on this pull request "
            f"(`{short_digest(report.reviewed_digest)}`).",
            "",
        ]
    # A user changed for another Entra user than reviewed (a UPN handed on): the rows of both
    # name their Entra user, or they would read alike.
    both = _handed_on(audit.report.results, report.not_applied)
    unsuccessful = [_block("Failed or skipped", not_made, with_error=True, named=both)]
    blocks = [
        *unsuccessful,
        _block(
            f"{'Applied or failed' if _failed(report.unreviewed) else 'Applied'} but not in the "
            "reviewed plan",
            report.unreviewed,
            named=both,
        ),
        _block(
            "Reviewed but not in this apply (already in place, or no longer wanted)"
            if audit.finished
            else "Reviewed but not recorded (made or not: see the job's log)"
            if audit.started
            else "Reviewed but not applied (the apply stopped before its first change)",
            report.not_applied,
            unrecorded=audit.started and not audit.finished,
            named=both,
        ),
    ]
    return "\n".join(fit(head, blocks, tail, max_chars, FULL_RECORD, measure)) + "\n"


def apply_summary(lines: Sequence[str], audit_name: str, records: int, head_sha256: str) -> str:
    """An apply run's job summary: ``lines`` (what it applied, or why nothing), then the audit
    file that records it."""
    return "\n".join(
        [
            "## entrasync apply",
            "",
            *lines,
            "",
            f"Audit file `{audit_name}`, {records} records, last record sha256 "
            f"`{head_sha256}` (keep it: it pins every record of the file).",
            "",
        ]
    )


def _failed(changes: Sequence[AppliedChange]) -> int:
    return sum(1 for change in changes if change.outcome == "failed")


def _attempted(changes: Sequence[AppliedChange]) -> str:
    """``2 applied changes``, or, when some failed, ``3 changes this apply attempted, 1 of
    them failed``: a change that failed was not applied."""
    failed = _failed(changes)
    if not failed:
        return plural(len(changes), "applied change")
    return f"{plural(len(changes), 'change')} this apply attempted, {failed} of them failed"


def render_no_audit(marker: str, where: str, run_url: str | None) -> str:
    """The comment when the run left no audit file at ``where``: apply writes its first record
    before its first change, so nothing was changed."""
    lines = [
        marker,
        "**Not applied: the apply wrote no audit file, so it changed nothing.**",
        "",
        "> [!CAUTION]",
        # Not in a code span: escape() works in Markdown text, and a code span shows its
        # escapes as they are.
        f"> No audit file was found at {escape(where)}. apply records its start before its "
        "first change, so it failed before that (a broken config, a credential, a limit it "
        "could not check) or did not run. See the run's log, fix the cause and re-run the "
        "apply workflow.",
        "",
    ]
    if run_url:
        lines.append(f"[Workflow run]({run_url})")
    return "\n".join(lines) + "\n"


def _later_merge(applied: str | None, merged: str | None) -> str | None:
    """What to say when the run applied another commit than this request's merge."""
    if not applied or not merged or applied.lower().startswith(merged.lower()[:40]):
        return None
    return (
        f"This run planned from `{escape(applied[:12])}`, the default branch's tip when it "
        f"started, not this request's merge `{escape(merged[:12])}`: it holds the mappings of "
        "later merges too."
    )


def _block(
    title: str,
    items: tuple[AppliedChange, ...] | tuple[Change, ...],
    *,
    with_error: bool = False,
    unrecorded: bool = False,
    named: set[tuple[str, str]] | None = None,
) -> Block:
    """``unrecorded``: the reviewed changes are those a stopped run has no record of, which
    it may have made."""
    header = (_HEADER[0] + " error |", _HEADER[1] + "---|") if with_error else _HEADER
    opening = (f"<details><summary>{title} ({len(items)})</summary>", "", *header)
    said = "unknown" if unrecorded else "not applied"
    rows = tuple(_row(item, with_error, said, _who(item) in (named or ())) for item in items)
    return Block(opening, rows, ("", "</details>", ""))


def _no_reviewed_plan(note: str | None, then: str) -> list[str]:
    """The warning that no reviewed plan was found, with why (``note``, cut as all outside
    text is: read_plan's error quotes the bad value)."""
    why = f" ({escaped_within(note, MAX_NOTE_CHARS)})" if note else ""
    return ["> [!WARNING]", f"> No plan reviewed on this pull request was found{why}{then}", ""]


def _who(item: AppliedChange | Change) -> tuple[str, str]:
    return item.action.value, item.user.lower()


def _handed_on(
    applied: Sequence[AppliedChange], reviewed: Sequence[Change]
) -> set[tuple[str, str]]:
    """The (action, user) of changes applied for another Entra user than the one reviewed."""
    ids: dict[tuple[str, str], set[str]] = {}
    for change in reviewed:
        ids.setdefault(_who(change), set()).add((change.entra_id or "").lower())
    return {
        _who(c)
        for c in applied
        if _who(c) in ids and (c.entra_id or "").lower() not in ids[_who(c)]
    }


def _row(
    item: AppliedChange | Change, with_error: bool = False, said: str = "", named: bool = False
) -> str:
    outcome = item.outcome if isinstance(item, AppliedChange) else said
    user = cell(name_text(item.user))
    if named:
        user += f" (Entra user {cell(item.entra_id or 'none')})"
    row = f"| {item.action.value} | {user} | {cell(access_brief(item.after))} | {escape(outcome)} |"
    if with_error:
        error = item.error if isinstance(item, AppliedChange) else None
        row += f" {cell(error)} |"
    return row


# Violations shown in the part of a comment that is never cut: each cut, and so many at most
# (min_owners names every owner it counts; the audit file has them all).
_MAX_VIOLATIONS = 20


def _listed(violations: Sequence[str]) -> list[str]:
    shown = [escaped_within(v, MAX_NOTE_CHARS) for v in violations[:_MAX_VIOLATIONS]]
    if len(violations) > _MAX_VIOLATIONS:
        shown.append(f"and {len(violations) - _MAX_VIOLATIONS} more in the audit file")
    return shown


def _nothing_applied(audit: AuditSummary, workflow: str | None) -> list[str]:
    digest = short_digest(audit.plan_digest or "")
    if audit.result == "no changes":
        return ["**Nothing applied: no changes.** NeuralTrust already matches the config."]
    if audit.result == "already applied":
        return [f"**Nothing applied: the plan `{digest}` was already applied.**"]
    if audit.result != "refused":
        return [f"**Nothing applied ({escape(audit.result)}).**"]
    lines = [
        "**Apply refused: nothing was changed.**",
        "",
        "> [!CAUTION]",
        # Cut as the plan comment cuts them: min_owners names every owner who would go.
        f"> {escaped_within(audit.reason or 'no reason recorded', MAX_NOTE_CHARS)}",
    ]
    if audit.violations:
        lines += ["", *(f"- {v}" for v in _listed(audit.violations))]
        if workflow:
            lines += [
                "",
                "Make the change safe in a new pull request, or, once the override is agreed, "
                f"apply anyway: {override_instruction(workflow, digest, markdown=True)} (the run "
                "still needs the environment's approval).",
            ]
    return lines


def applied_lines(
    digest: str,
    counts: Mapping[str, int],
    unsuccessful: Sequence[tuple[Change, str, str | None]],
    max_bytes: int = STEP_SUMMARY_LIMIT,
) -> list[str]:
    """The job summary of an apply: how its changes went, and a table of those that did not
    succeed (each change with its outcome and error), cut to ``max_bytes`` of UTF-8 (a run
    that lost its connection skips every change left: 10,000 rows are over GitHub's 1 MiB,
    and a summary over it is not written at all)."""
    head = [f"Plan `{short_digest(digest)}`: {tally(counts)}."]
    rows = tuple(
        f"| {change.action.value} | {cell(name_text(change.user))} | {outcome} | {cell(error)} |"
        for change, outcome, error in unsuccessful
    )
    table = Block(("", "| action | user | outcome | error |", "|---|---|---|---|"), rows, ())
    return fit(head, [table], [], max_bytes, FULL_RECORD, UTF8_BYTES)

"""The post-apply report: applied changes compared with the plan reviewed on the PR (pure)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import Literal

import pytest

from entrasync.adapters.audit.writer import AuditWriter
from entrasync.core.apply_report import compare, read_audit
from entrasync.core.audit_record import tally
from entrasync.core.plan import Access, Action, Change, Plan, Violation
from entrasync.errors import AuditError
from entrasync.render.apply_report import applied_lines, render_no_audit, render_report
from entrasync.render.truncate import GITHUB_COMMENT_LIMIT

ENV = {"GITHUB_SHA": "a" * 40}


def change(user: str, role: str = "member", action: Action = Action.CREATE) -> Change:
    before = None if action is Action.CREATE else Access("viewer", None, True)
    return Change(
        action, user, f"id-{user}", user, user, before, Access(role, None, True), (), None, ""
    )


def plan_of(*changes: Change) -> Plan:
    return Plan("config/mappings.yaml", "1" * 64, "https://scim.example", "0" * 64, changes=changes)


def audit_text(tmp_path: Path, plan: Plan, outcomes: dict[str, str], finish: bool = True) -> bytes:
    """An audit file written by the real AuditWriter, as apply writes it."""
    ticks = count()
    writer = AuditWriter.start(
        tmp_path,
        plan=plan,
        environ=ENV,
        clock=lambda: f"2026-11-28T12:00:{next(ticks):02d}Z",
        git_commit=lambda: None,
    )
    for c in plan.changes:
        outcome = outcomes.get(c.user, "succeeded")
        error = "HTTP 400" if outcome == "failed" else None
        writer.change(c, outcome=outcome, error=error)  # type: ignore[arg-type]
    if finish:
        writer.finish()
    return writer.path.read_bytes()


ALICE, BOB, CAROL = "alice@contoso.com", "bob@contoso.com", "carol@contoso.com"

CASES = [
    pytest.param(
        plan_of(change(ALICE), change(BOB)),
        plan_of(change(ALICE), change(BOB)),
        {},
        [],
        [],
        id="the applied plan equals the reviewed one: no surprise",
    ),
    pytest.param(
        plan_of(change(ALICE), change(CAROL)),
        plan_of(change(ALICE)),
        {},
        [CAROL],
        [],
        id="a user who joined a group after review is flagged",
    ),
    pytest.param(
        plan_of(change(ALICE, role="admin")),
        plan_of(change(ALICE)),
        {},
        [ALICE],
        [ALICE],
        id="a different role than reviewed is flagged and the reviewed one shown as not applied",
    ),
    pytest.param(
        plan_of(change(ALICE)),
        plan_of(change(ALICE), change(BOB)),
        {},
        [],
        [BOB],
        id="a reviewed change that no longer applies is listed as not applied",
    ),
    pytest.param(
        plan_of(change(ALICE), change(CAROL)),
        plan_of(change(ALICE)),
        {CAROL: "skipped"},
        [],
        [],
        id="a skipped change was not attempted so it is no surprise",
    ),
    pytest.param(
        plan_of(change(CAROL)),
        plan_of(),
        {CAROL: "failed"},
        [CAROL],
        [],
        id="a failed unreviewed change is still flagged",
    ),
    pytest.param(
        plan_of(change(ALICE), change(BOB)),
        plan_of(change(ALICE), replace(change(BOB), entra_id="id-of-the-bob-reviewed")),
        {},
        [BOB],
        [BOB],
        id="the same UPN for another Entra user than reviewed is flagged",
    ),
    pytest.param(
        plan_of(change(ALICE)),
        plan_of(replace(change(ALICE), entra_id="ID-ALICE@CONTOSO.COM")),
        {},
        [],
        [],
        id="an Entra id in another case is the same user",
    ),
]


@pytest.mark.parametrize(("applied", "reviewed", "outcomes", "unreviewed", "not_applied"), CASES)
def test_compare(
    tmp_path: Path,
    applied: Plan,
    reviewed: Plan,
    outcomes: dict[str, str],
    unreviewed: list[str],
    not_applied: list[str],
) -> None:
    report = compare(read_audit(audit_text(tmp_path, applied, outcomes)), reviewed)
    assert [c.user for c in report.unreviewed] == unreviewed
    assert [c.user for c in report.not_applied] == not_applied
    assert report.reviewed_digest == reviewed.digest


def test_without_a_reviewed_plan_every_attempted_change_is_unreviewed(tmp_path: Path) -> None:
    audit = read_audit(audit_text(tmp_path, plan_of(change(ALICE), change(BOB)), {BOB: "skipped"}))
    report = compare(audit, None)
    text = render_report(report, marker="<!-- m -->", run_url=None, note="artifact expired")
    assert [c.user for c in report.unreviewed] == [ALICE]
    assert "No plan reviewed on this pull request was found (artifact expired)" in text


def test_the_report_leads_with_counts_and_warns_about_surprises(tmp_path: Path) -> None:
    audit = read_audit(audit_text(tmp_path, plan_of(change(ALICE), change(CAROL)), {}))
    reviewed = plan_of(change(ALICE))
    text = render_report(compare(audit, reviewed), marker="<!-- m -->", run_url="https://run")
    lines = text.splitlines()
    assert lines[:2] == ["<!-- m -->", "**Applied: 2 succeeded, 0 failed, 0 skipped.**"]
    assert (
        "Not in the plan last reviewed on this pull request: 1 applied change** "
        f"(`{reviewed.digest[:12]}`)" in text
    )
    assert "| create | carol@&#8203;contoso.com | member | succeeded |" in text
    assert "alice" not in text
    assert lines[-1] == "[Workflow run and audit artifact](https://run)"


def test_an_unfinished_audit_says_the_run_stopped_part_way(tmp_path: Path) -> None:
    audit = read_audit(audit_text(tmp_path, plan_of(change(ALICE)), {}, finish=False))
    text = render_report(compare(audit, plan_of(change(ALICE))), marker="<!-- m -->", run_url=None)
    assert audit.finished is False
    assert "stopped part-way" in text
    assert "a change without a record here may have been made all the same" in text


def test_an_empty_audit_says_the_run_stopped_before_any_change(tmp_path: Path) -> None:
    """A run killed while it wrote the plan beside its audit file leaves the file empty: no
    change had started (apply_started is synced before the first), and the report said one
    "may have been made all the same"."""
    audit = read_audit(b"")
    text = render_report(compare(audit, plan_of(change(ALICE))), marker="<!-- m -->", run_url=None)
    assert (audit.started, audit.finished) == (False, False)
    assert "holds no record: the apply stopped before its first, so before any change" in text
    assert "may have been made" not in text
    assert "Reviewed but not applied (the apply stopped before its first change)" in text
    assert "| create | alice@&#8203;contoso.com | member | not applied |" in text
    assert read_audit(audit_text(tmp_path, plan_of(change(ALICE)), {}, finish=False)).started


def test_failed_and_skipped_changes_are_listed_with_their_errors(tmp_path: Path) -> None:
    # A reviewed change that failed is not "not applied (already in place)": it is named, with
    # its error, under its own heading, and the comment says what to do.
    plan = plan_of(change(ALICE), change(BOB), change(CAROL))
    audit = read_audit(audit_text(tmp_path, plan, {BOB: "failed", CAROL: "skipped"}))
    report = compare(audit, plan)
    text = render_report(report, marker="<!-- m -->", run_url=None)
    assert report.not_applied == ()
    assert (
        "**2 changes failed or skipped**: listed below with their errors (a failed change may"
        in text
    )
    assert "<summary>Failed or skipped (2)</summary>" in text
    assert "| create | bob@&#8203;contoso.com | member | failed | HTTP 400 |" in text
    assert "| create | carol@&#8203;contoso.com | member | skipped |" in text
    assert "Every change this run attempted was in the plan last reviewed" in text
    uncompared = render_report(compare(audit, None), marker="m", run_url=None, compared=False)
    assert "<summary>Failed or skipped (2)</summary>" in uncompared


def test_an_unreviewed_change_that_failed_is_not_counted_as_applied(tmp_path: Path) -> None:
    applied = plan_of(change(ALICE), change(BOB), change(CAROL))
    audit = read_audit(audit_text(tmp_path, applied, {CAROL: "failed"}))
    text = render_report(compare(audit, plan_of(change(ALICE))), marker="<!-- m -->", run_url=None)
    assert (
        "**Not in the plan last reviewed on this pull request: 2 changes this apply attempted, "
        "1 of them failed**"
    ) in text
    assert "<summary>Applied or failed but not in the reviewed plan (2)</summary>" in text
    uncompared = render_report(compare(audit, None), marker="m", run_url=None, compared=False)
    assert "<summary>Attempted (3)</summary>" in uncompared


def test_a_failed_change_stays_in_a_comment_too_long_for_every_row(tmp_path: Path) -> None:
    applied = plan_of(*(change(f"user{i:05d}@contoso.example") for i in range(3000)))
    audit = read_audit(audit_text(tmp_path, applied, {"user02999@contoso.example": "failed"}))
    text = render_report(compare(audit, plan_of()), marker="<!-- m -->", run_url=None)
    assert len(text) <= 65536
    assert re.search(r"rows left out", text)
    assert "| create | user02999@&#8203;contoso.example | member | failed | HTTP 400 |" in text


def test_reviewed_changes_a_stopped_run_never_recorded_are_not_called_in_place(
    tmp_path: Path,
) -> None:
    reviewed = plan_of(change(ALICE), change(BOB))
    audit = read_audit(audit_text(tmp_path, plan_of(change(ALICE)), {}, finish=False))
    text = render_report(compare(audit, reviewed), marker="<!-- m -->", run_url=None)
    # Bob's record was lost with the run: "not applied, the run stopped before them" was not
    # known, and may be false.
    assert "Reviewed but not recorded (made or not: see the job's log) (1)" in text
    assert "| create | bob@&#8203;contoso.com | member | unknown |" in text
    assert "already in place" not in text
    finished = read_audit(audit_text(tmp_path / "2", plan_of(change(ALICE)), {}))
    text = render_report(compare(finished, reviewed), marker="<!-- m -->", run_url=None)
    assert "Reviewed but not in this apply (already in place, or no longer wanted) (1)" in text


def test_a_huge_report_stays_under_the_comment_limit(tmp_path: Path) -> None:
    applied = plan_of(*(change(f"user{i:05d}@contoso.example") for i in range(5000)))
    audit = read_audit(audit_text(tmp_path, applied, {}))
    text = render_report(compare(audit, plan_of()), marker="<!-- m -->", run_url=None)
    assert len(text) <= 65536
    assert re.search(r"\*\*\d+ of 5000 rows left out\*\* .* the audit artifact", text)


def test_one_long_user_name_never_pushes_the_rows_after_it_out_of_the_report(
    tmp_path: Path,
) -> None:
    # A NeuralTrust userName has no length limit; its row is cut, not left out with the rest.
    long = "frank" + "x" * 70_000
    applied = plan_of(change(long), change(ALICE), change(BOB))
    audit = read_audit(audit_text(tmp_path, applied, {BOB: "failed"}))
    text = render_report(compare(audit, plan_of()), marker="<!-- m -->", run_url=None)
    assert "left out" not in text
    assert "| create | bob@&#8203;contoso.com | member | failed | HTTP 400 |" in text
    assert "frank" + "x" * 900 in text
    unsuccessful = [(c, "failed", "HTTP 400") for c in applied.changes]
    summary = "\n".join(applied_lines("0" * 64, {"failed": 3}, unsuccessful, max_bytes=20_000))
    assert "left out" not in summary
    assert "| create | bob@&#8203;contoso.com | failed | HTTP 400 |" in summary


def test_user_text_is_escaped_in_the_report(tmp_path: Path) -> None:
    hostile = replace(change("<img src=x>@everyone"), user="<img src=x>@everyone")
    audit = read_audit(audit_text(tmp_path, plan_of(hostile), {}))
    text = render_report(compare(audit, plan_of()), marker="<!-- m -->", run_url=None)
    assert "<img" not in text
    assert "@everyone" not in text


def test_a_line_that_is_not_an_audit_record_is_refused() -> None:
    with pytest.raises(AuditError, match="line 2"):
        read_audit(b'{"type": "apply_started"}\n{"type": "change", "action": "explode"}\n')


@pytest.mark.parametrize(
    ("started", "record", "key"),
    [
        ({"config_path": 123}, {}, "config_path"),
        ({"plan_digest": 5}, {}, "plan_digest"),
        ({}, {"type": "change", "user": 7}, "user"),
        ({}, {"type": "change", "error": 5}, "error"),
        ({}, {"type": "apply_finished", "reason": ["x"]}, "reason"),
    ],
)
def test_a_record_whose_value_is_not_text_is_refused_not_a_traceback(
    started: dict[str, object], record: dict[str, object], key: str
) -> None:
    """Re-hashed, such a file verifies intact; rendered, it was an AttributeError."""
    change_record = {
        "type": "change",
        "action": "create",
        "user": ALICE,
        "after": {"role": "member", "products": None, "active": True},
        "outcome": "failed",
        "error": "HTTP 400",
    }
    lines = [{"type": "apply_started", "plan_digest": "a" * 64, **started}]
    if record:
        lines.append(change_record | record if record["type"] == "change" else record)
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    with pytest.raises(AuditError, match=f"line {len(lines)} .*{key} is "):
        read_audit(data)


OLD_FORMAT = (
    b'{"type": "apply_started", "plan_digest": "cc74ae969107", "force_unsafe": "CC74AE969107"}\n'
    b'{"type": "apply_finished", "counts": {"succeeded": 0, "failed": 0, "skipped": 0}}\n'
)


def test_an_audit_from_before_results_and_override_records_reads_as_applied() -> None:
    # entrasync 0.1.0 recorded the typed digest alone: the report still says it was forced.
    audit = read_audit(OLD_FORMAT)
    assert (audit.result, audit.applied_nothing, audit.overridden) == (
        "applied",
        False,
        ("violations this older audit file does not name (CC74AE969107)",),
    )
    text = render_report(compare(audit, None), marker="<!-- m -->", run_url=None, workflow=None)
    assert "> Applied with `--force-unsafe`, overriding: violations this older audit" in text


def test_a_refusal_is_reported_with_its_reason_and_every_violation(tmp_path: Path) -> None:
    plan = plan_of(change(ALICE))
    unsafe = Violation("min_owners", "0 owners left, at least 1 required <b>")
    with AuditWriter.start(tmp_path, plan=plan, environ=ENV, git_commit=lambda: None) as writer:
        writer.finish(result="refused", reason="stale plan: moved", violations=(unsafe,))
    audit = read_audit(writer.path.read_bytes())
    text = render_report(compare(audit, plan), marker="<!-- m -->", run_url=None, workflow=None)
    assert audit.applied_nothing
    assert "**Apply refused: nothing was changed.**" in text
    assert "> stale plan: moved" in text
    assert "- min\\_owners: 0 owners left, at least 1 required &lt;b&gt;" in text
    assert "Run workflow" not in text  # no workflow name: outside Actions, no instruction


def test_a_run_that_applied_nothing_still_says_no_reviewed_plan_was_found(tmp_path: Path) -> None:
    # The refusal alone was shown: the missing plan, which docs/commands.md says is reported,
    # was not.
    with AuditWriter.start(
        tmp_path, plan=plan_of(change(ALICE)), environ=ENV, git_commit=lambda: None
    ) as writer:
        writer.finish(result="refused", reason="max_deactivations")
    refused = compare(read_audit(writer.path.read_bytes()), None)
    text = render_report(refused, marker="<!-- m -->", run_url=None, note="plan.json is missing")
    assert "**Apply refused: nothing was changed.**" in text
    assert "> No plan reviewed on this pull request was found (plan.json is missing)." in text
    uncompared = render_report(refused, marker="<!-- m -->", run_url=None, compared=False)
    assert "No plan reviewed" not in uncompared


@pytest.mark.parametrize("result", ["applied", "refused"], ids=["applied", "applied nothing"])
def test_a_long_note_about_the_reviewed_plan_is_cut_to_fit(
    tmp_path: Path, result: Literal["applied", "refused"]
) -> None:
    # read_plan's error quotes the bad value: a plan file with a 100,000-character action
    # made the comment no summary fits in (a traceback), or one over the limit.
    with AuditWriter.start(
        tmp_path, plan=plan_of(change(ALICE)), environ=ENV, git_commit=lambda: None
    ) as writer:
        if result == "applied":
            writer.change(change(ALICE), outcome="succeeded")
        writer.finish(result=result)
    report = compare(read_audit(writer.path.read_bytes()), None)
    note = f"cannot read plan.json: '{'x' * 100_000}' is not a valid Action"
    text = render_report(report, marker="<!-- m -->", run_url=None, note=note, max_chars=65_536)
    assert len(text) <= 65_536
    assert "No plan reviewed on this pull request was found (cannot read plan.json: 'xxx" in text


def test_a_upn_handed_to_another_entra_user_names_both_in_the_report(tmp_path: Path) -> None:
    applied = plan_of(change(ALICE), replace(change(BOB), entra_id="id-of-the-new-bob"))
    reviewed = plan_of(change(ALICE), change(BOB))
    report = compare(read_audit(audit_text(tmp_path, applied, {})), reviewed)
    text = render_report(report, marker="<!-- m -->", run_url=None)
    assert "| create | bob@&#8203;contoso.com (Entra user id-of-the-new-bob) |" in text
    assert (
        f"| create | bob@&#8203;contoso.com (Entra user id-{BOB.replace('@', '@&#8203;')}) |"
        in text
    )
    assert "alice@&#8203;contoso.com (Entra user" not in text


def test_a_forced_apply_that_overrode_huge_violations_still_fits_its_comment(
    tmp_path: Path,
) -> None:
    # min_owners names every owner it counts: 3,000 of them, in the part never cut, made a
    # comment no summary fitted in (a traceback, and no comment posted).
    owners = ", ".join(f"owner{n}@contoso.com" for n in range(3_000))
    overridden = [Violation("min_owners", owners), *(Violation(f"r{n}", "x") for n in range(24))]
    plan = plan_of(change(ALICE))
    with AuditWriter.start(
        tmp_path,
        plan=plan,
        environ=ENV,
        git_commit=lambda: None,
        force_unsafe=plan.digest[:12],
        overridden=overridden,
    ) as writer:
        writer.change(change(ALICE), outcome="succeeded")
    text = render_report(
        compare(read_audit(writer.path.read_bytes()), plan), marker="m", run_url=None
    )
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "Applied with `--force-unsafe`, overriding: min\\_owners: owner" in text
    assert "; and 5 more in the audit file" in text


def test_a_refusal_with_many_violations_lists_twenty(tmp_path: Path) -> None:
    with AuditWriter.start(
        tmp_path, plan=plan_of(change(ALICE)), environ=ENV, git_commit=lambda: None
    ) as writer:
        many = tuple(Violation(f"rule{n}", "x" * 5_000) for n in range(30))
        writer.finish(result="refused", reason="unsafe", violations=many)
    text = render_report(
        compare(read_audit(writer.path.read_bytes()), None), marker="m", run_url=None
    )
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.count("\n- rule") == 20
    assert "\n- and 10 more in the audit file" in text


def test_a_workflow_name_that_escaping_multiplies_is_cut_in_the_override_instruction(
    tmp_path: Path,
) -> None:
    with AuditWriter.start(
        tmp_path, plan=plan_of(change(ALICE)), environ=ENV, git_commit=lambda: None
    ) as writer:
        writer.finish(result="refused", reason="unsafe", violations=(Violation("r", "m"),))
    refused = compare(read_audit(writer.path.read_bytes()), None)
    text = render_report(refused, marker="m", run_url=None, workflow="#" * 9_000)
    assert len(text) < 5_000
    assert "→ Run workflow → `force_unsafe` = `" in text


def test_a_skipped_change_for_another_entra_user_is_named_too(tmp_path: Path) -> None:
    applied = plan_of(replace(change(BOB), entra_id="id-of-the-new-bob"))
    report = compare(
        read_audit(audit_text(tmp_path, applied, {BOB: "skipped"})), plan_of(change(BOB))
    )
    text = render_report(report, marker="<!-- m -->", run_url=None)
    assert "bob@&#8203;contoso.com (Entra user id-of-the-new-bob) | member | skipped |" in text
    assert "(Entra user id-bob@&#8203;contoso.com) | member | not applied |" in text


def test_a_role_changed_since_review_names_no_entra_user(tmp_path: Path) -> None:
    report = compare(
        read_audit(audit_text(tmp_path, plan_of(change(BOB, role="admin")), {})),
        plan_of(change(BOB)),
    )
    assert "(Entra user" not in render_report(report, marker="<!-- m -->", run_url=None)


def test_a_run_that_applied_a_later_merge_says_so_and_what_may_explain_surprises(
    tmp_path: Path,
) -> None:
    """Apply checks out the default branch's tip: after two quick merges, the first request's
    run applies the second's mappings too, and its surprises are the second merge's."""
    audit = read_audit(audit_text(tmp_path, plan_of(change(ALICE), change(CAROL)), {}))
    assert audit.git_commit == "a" * 40  # the run's checkout (here GITHUB_SHA)
    reviewed = plan_of(change(ALICE))
    same = render_report(
        compare(audit, reviewed), marker="<!-- m -->", run_url=None, commit="a" * 40
    )
    later = render_report(
        compare(audit, reviewed), marker="<!-- m -->", run_url=None, commit="b" * 40
    )
    assert "later merge" not in same
    assert "Entra membership or NeuralTrust moved between review and merge." in same
    said = (
        f"> This run planned from `{'a' * 12}`, the default branch's tip when it started, not "
        f"this request's merge `{'b' * 12}`: it holds the mappings of later merges too."
    )
    assert said in later
    assert "a later merge applied with this one (above), or Entra membership" in later
    # Nothing applied (a later merge's mappings refused, or already in place): said too.
    writer = AuditWriter.start(
        tmp_path / "nothing", plan=reviewed, environ=ENV, git_commit=lambda: None
    )
    writer.finish(result="no changes")
    nothing = read_audit(next((tmp_path / "nothing").glob("*.jsonl")).read_bytes())
    assert said in render_report(
        compare(nothing, reviewed), marker="<!-- m -->", run_url=None, commit="b" * 40
    )


def test_the_apply_job_summary_counts_as_everywhere_else() -> None:
    counts = {"succeeded": 3, "failed": 1, "skipped": 0}
    assert tally(counts) == "3 succeeded, 1 failed, 0 skipped"
    assert applied_lines("ab" * 32, counts, [])[0] == (
        "Plan `abababababab`: 3 succeeded, 1 failed, 0 skipped."
    )


def test_the_apply_job_summary_escapes_a_pipe_in_an_error_once() -> None:
    failed = change("ann@contoso.com", "admin", Action.UPDATE)
    lines = applied_lines("ab" * 32, {"failed": 1}, [(failed, "failed", "HTTP 400 | bad value")])
    assert lines[-1] == "| update | ann@&#8203;contoso.com | failed | HTTP 400 \\| bad value |"


def test_the_apply_job_summary_of_every_change_skipped_fits_githubs_1_mib() -> None:
    # A run that lost its connection skips every change left: one row each, and a summary
    # over 1 MiB is not written at all.
    skipped = [
        (change(f"user{i:05d}@contoso.example"), "skipped", "not attempted: " + "x" * 120)
        for i in range(10_000)
    ]
    lines = applied_lines("ab" * 32, {"skipped": 10_000}, skipped, 1024 * 1024 - 1024)
    text = "\n".join(lines)
    assert len(text.encode("utf-8")) <= 1024 * 1024 - 1024
    assert lines[0] == "Plan `abababababab`: 0 succeeded, 0 failed, 10000 skipped."
    assert re.search(r"\*\*\d+ of 10000 rows left out\*\*", text)


def test_a_refusal_cuts_its_reason_and_violations_as_the_plan_comment_does(
    tmp_path: Path,
) -> None:
    # min_owners names every owner who would go: the report went to 841,090 characters.
    owners = ", ".join(f"owner{i}@contoso.com" for i in range(2000))
    violations = tuple(Violation("min_owners", f"would leave 0 owners: {owners}") for _ in range(4))
    audit = replace(
        read_audit(audit_text(tmp_path, plan_of(), {})),
        result="refused",
        reason="the plan breaks 4 safety limits: " + owners,
        violations=tuple(f"{v.rule}: {v.message}" for v in violations),
    )
    text = render_report(compare(audit, None), marker="<!-- m -->", run_url=None, workflow="w")
    assert len(text) < 10_000
    assert "**Apply refused: nothing was changed.**" in text
    assert text.count("\u2026") == 5  # the reason and each violation, cut


def test_the_no_audit_comment_shows_the_folder_as_named() -> None:
    text = render_no_audit("<!-- m -->", "ci_audit/run#1", None)
    assert "No audit file was found at ci\\_audit/run#&#8203;1." in text  # text, not a code span
    assert "`ci" not in text


def test_a_user_named_with_blanks_around_it_stays_quoted_in_the_report_and_the_summary(
    tmp_path: Path,
) -> None:
    # "carol@contoso.com " is another NeuralTrust user than the real carol@contoso.com.
    padded = f"{CAROL} "
    plan = plan_of(change(ALICE), change(padded))
    audit = read_audit(audit_text(tmp_path, plan, {padded: "failed"}))
    text = render_report(compare(audit, plan), marker="<!-- m -->", run_url=None)
    assert "| create | 'carol@&#8203;contoso.com ' | member | failed |" in text
    failed = change(padded, "admin", Action.UPDATE)
    lines = applied_lines("ab" * 32, {"failed": 1}, [(failed, "failed", "HTTP 400")])
    assert lines[-1] == "| update | 'carol@&#8203;contoso.com ' | failed | HTTP 400 |"

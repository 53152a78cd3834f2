from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import PureWindowsPath

import pytest

from entrasync.core import sanitize
from entrasync.core.plan import Access, Action, Change, Plan, Violation
from entrasync.core.policy import PolicyChange
from entrasync.render import PLAN_FORMATS, Options
from entrasync.render.markdown import (
    MAX_NOTE_CHARS,
    comment_marker,
    drift_intro,
    escape,
    render_failure,
    render_markdown,
    render_summary,
    shown_digest,
)
from entrasync.render.truncate import NoRoom
from tests.golden.plans import assert_matches_golden, empty_plan, golden_plan

CONFIG = "config/mappings.yaml"
HOSTILE = "Eve <img src=x> | @everyone **x**"
OSC8_SHOWN = "\\\\x1b\\]8;;https:/&#8203;/evil\\\\x07click\\\\x1b\\]8;;\\\\x07"


def _many_changes(count: int, name: str = "A user with a fairly long display name") -> Plan:
    changes = tuple(
        Change(
            action=Action.CREATE,
            user=f"user{n:05d}@contoso.com",
            entra_id=f"{n:032x}",
            display_name=name,
            email=f"user{n:05d}@contoso.com",
            before=None,
            after=Access("member", ("trustgate", "trusttest"), True),
            groups=("NT-Platform", "NT-Everyone"),
            decided_by="NT-Platform",
            reason="in NT-Platform, not in NeuralTrust",
        )
        for n in range(count)
    )
    return replace(empty_plan(), changes=changes)


def test_the_plan_with_every_action_matches_its_golden_file() -> None:
    assert_matches_golden("plan.md", render_markdown(golden_plan(), config_path=CONFIG))


def test_a_plan_without_changes_matches_its_golden_file() -> None:
    assert_matches_golden("plan-empty.md", render_markdown(empty_plan(), config_path=CONFIG))


def test_the_marker_is_the_first_line_and_the_summary_the_second_outside_any_fold() -> None:
    lines = render_markdown(golden_plan(), config_path=CONFIG).splitlines()
    assert lines[0] == comment_marker(CONFIG) == "<!-- entrasync:plan config/mappings.yaml -->"
    assert lines[1] == "**Plan: 2 to create, 3 to update, 1 to deactivate, 1 to reactivate.**"


def test_violations_and_warnings_come_before_the_changes_fold() -> None:
    text = render_markdown(golden_plan(), config_path=CONFIG)
    assert text.index("Safety violations") < text.index("Warnings") < text.index("<details>")
    assert f"`--force-unsafe {golden_plan().digest[:12]}`" in text


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("config/a.yaml", "<!-- entrasync:plan config/a.yaml -->"),
        ("x-->y.yaml", "<!-- entrasync:plan x-\u2010>y.yaml -->"),
        ("a\nb.yaml", "<!-- entrasync:plan a\\x0ab.yaml -->"),
    ],
    ids=[
        "a plain path is kept",
        "a path cannot close the comment early",
        "a newline is shown escaped, on the one line",
    ],
)
def test_the_marker_stays_one_hidden_line(path: str, marker: str) -> None:
    assert comment_marker(path) == marker


@pytest.mark.parametrize(
    "typed",
    [
        "./config/mappings.yaml",
        "config//mappings.yaml",
        "config/./mappings.yaml",
        "other/../config/mappings.yaml",
        PureWindowsPath("config\\mappings.yaml").as_posix(),  # as every caller names it
        "././config/mappings.yaml",
    ],
    ids=[
        "a leading ./ finds the same comment",
        "a doubled slash finds the same comment",
        "a ./ inside finds the same comment",
        "a detour through .. finds the same comment",
        "Windows separators find the same comment",
        "a repeated ./ finds the same comment",
    ],
)
def test_the_marker_names_the_file_however_its_path_was_typed(typed: str) -> None:
    assert comment_marker(typed) == comment_marker("config/mappings.yaml")
    assert comment_marker(typed) == "<!-- entrasync:plan config/mappings.yaml -->"
    assert comment_marker(typed, "apply 0123456789ab") == (
        "<!-- entrasync:apply 0123456789ab config/mappings.yaml -->"
    )


def test_a_file_name_escaped_as_not_utf8_is_not_taken_for_a_folder() -> None:
    """`caf\\xe9.yaml` (the escaped Latin-1 byte) was marked as `caf/xe9.yaml`: another file's."""
    escaped = sanitize.file_name(os.fsdecode(b"config/caf\xe9.yaml"))
    assert escaped == "config/caf\\xe9.yaml"
    assert comment_marker(escaped) != comment_marker("config/caf/xe9.yaml")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (HOSTILE, "Eve &lt;img src=x&gt; \\| @&#8203;everyone \\*\\*x\\*\\*"),
        ("[click](https://evil.example)", "\\[click\\]\\(https:/&#8203;/evil.example\\)"),
        ("line one\nline two\r", "line one\\\\x0aline two\\\\x0d"),
        ("\x1b[2Jwipe\u202eevil", "\\\\x1b\\[2Jwipe\\\\u202eevil"),
        ("\x1b]8;;https://evil\x07click\x1b]8;;\x07", OSC8_SHOWN),
        ("- nested", "\\- nested"),
        ("1. ordered", "1\\. ordered"),
        ("# heading", "#&#8203; heading"),
        ("`code` ~~gone~~ $x$ _i_", "\\`code\\` \\~\\~gone\\~\\~ \\$x\\$ \\_i\\_"),
        ("&lt;b&gt;", "\\&lt;b\\&gt;"),  # CommonMark: an escaped "&" starts no entity
        ("epic &12, milestone %12", "epic \\&12, milestone \\%12"),
        ("fixes #1 see www.evil.example", "fixes #&#8203;1 see www&#8203;.evil.example"),
        ("back\\slash", "back\\\\slash"),
        ("see !12, #12 and @<6c1b0ff2>", "see !&#8203;12, #&#8203;12 and @&#8203;&lt;6c1b0ff2&gt;"),
        (
            "![x](https://evil.example/p.png)",
            "!&#8203;\\[x\\]\\(https:/&#8203;/evil.example/p.png\\)",
        ),
        ("see GH-12 and gh-3, not XGH-1", "see GH-&#8203;12 and gh-&#8203;3, not XGH-1"),
    ],
    ids=[
        "html, table pipes, mentions and bold are inert",
        "links and autolinks are inert",
        "newlines are shown escaped, on the one line",
        "ESC and a bidi override are shown escaped",
        "an OSC-8 link is shown escaped, not a link",
        "a leading dash does not open a list",
        "a leading number does not open a list",
        "a hash does not open a heading or link an issue",
        "code, strikethrough, maths and emphasis are inert",
        "entities show as typed",
        "GitLab's epic and milestone references do not link",
        "issue references and bare domains do not link",
        "a backslash shows as typed",
        "GitLab and Azure DevOps references and mentions do not link or notify",
        "an image stays text",
        "GitHub's GH-12 issue references do not link",
    ],
)
def test_directory_text_is_escaped(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_a_hostile_display_name_renders_inert_in_the_table() -> None:
    plan = golden_plan()
    changes = (replace(plan.changes[0], display_name=HOSTILE + "\n| x | y |"), *plan.changes[1:])
    text = render_markdown(replace(plan, changes=changes), config_path=CONFIG)
    row = next(line for line in text.splitlines() if "alice@" in line)
    assert "<img" not in text
    assert "@everyone" not in text
    assert re.sub(r"\\\|", "", row).count("|") == 9  # 8 cells: no injected column
    assert "\n| x | y |" not in text


def test_a_5000_change_plan_stays_under_githubs_limit_and_says_what_was_left_out() -> None:
    text = render_markdown(_many_changes(5000), config_path=CONFIG)
    assert len(text) <= 65_536
    shown = sum(1 for line in text.splitlines() if line.startswith("| \\+ create |"))
    match = re.search(r"\*\*(\d+) of 5000 rows left out\*\*", text)
    assert match, "the notice says how many rows were left out"
    assert int(match.group(1)) == 5000 - shown > 0
    assert "the job summary and the plan artifact" in text
    assert text.count("<details>") == text.count("</details>") == 1
    assert (
        text.splitlines()[1]
        == "**Plan: 5000 to create, 0 to update, 0 to deactivate, 0 to reactivate.**"
    )


@pytest.mark.parametrize("max_chars", [1_500, 4_000, 10_000, 65_536])
def test_any_cap_is_kept_and_cuts_only_at_a_row_boundary(max_chars: int) -> None:
    text = render_markdown(
        _many_changes(400, name="Ünïcödé 名前"), config_path=CONFIG, max_chars=max_chars,
        full_plan_hint="the `plan` artifact",
    )  # fmt: skip
    assert len(text) <= max_chars
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(row.endswith(" |") and row.count(" | ") == 7 for row in rows[2:])
    assert text.count("<details>") == text.count("</details>")
    assert "the `plan` artifact" in text


def test_a_plan_that_fits_is_not_cut() -> None:
    text = render_markdown(golden_plan(), config_path=CONFIG, max_chars=65_536)
    assert "left out" not in text
    assert text.count("| ~ update |") == 0  # the marker is escaped like any cell text
    assert text.count("| \\~ update |") == 3


def test_a_cap_too_small_for_the_summary_is_refused() -> None:
    with pytest.raises(NoRoom, match="100 characters cannot hold even the summary line"):
        render_markdown(_many_changes(10), config_path=CONFIG, max_chars=100)


def test_a_policy_key_past_the_setting_length_is_cut_like_any_other_text() -> None:
    # A hand-made plan file may hold any key: one that looks like a setting but is longer than
    # any is cut as the values are, so the comment's head stays bounded.
    key = "limits." + "a" * 5_000
    plan = replace(empty_plan(), policy_changes=(PolicyChange(key, 1, 2),))
    (line,) = [
        line
        for line in render_markdown(plan, config_path="c.yaml").splitlines()
        if "limits" in line
    ]
    assert len(line) < 1_000
    assert f"`{key}`" not in line


def test_many_warnings_never_push_the_changes_out_of_the_comment() -> None:
    # match_on: email warns once per user without a mail: hundreds on a large tenant.
    warnings = tuple(f"user{i}@contoso.com has no mail: skipped" for i in range(700))
    plan = golden_plan()
    # At 20,000 characters the 700 warnings alone would fill the comment.
    text = render_markdown(
        replace(plan, warnings=plan.warnings + warnings), config_path="c.yaml", max_chars=20_000
    )
    assert "<details><summary>Changes (7)</summary>" in text
    assert "| \\- deactivate | frank@" in text
    assert "> - … and 682 more warnings: the full plan lists them" in text
    assert text.count("has no mail: skipped") == 18  # 20 warnings shown, 2 of them the plan's


def test_one_long_warning_or_violation_never_pushes_the_changes_out_of_the_comment() -> None:
    # Each "#" escapes to several characters: 20,000 of them were 180,000 in the comment.
    plan = golden_plan()
    long = "#" * 20_000
    text = render_markdown(
        replace(
            plan,
            warnings=(long, long, long),
            violations=(Violation("min_owners", "it demotes " + long),),
        ),
        config_path="c.yaml",
    )
    assert "<details><summary>Changes (7)</summary>" in text
    assert "| \\- deactivate | frank@" in text
    assert text.count("\u2026") == 4  # each cut visibly


@pytest.mark.parametrize("field", ["display_name", "user", "groups", "reason", "role"])
def test_one_long_name_never_pushes_the_rows_after_it_out_of_the_comment(field: str) -> None:
    # A NeuralTrust displayName or userName has no length limit: one of 70,000 characters in
    # the first row left out every row after it, and the orphans, from a 1,400-character comment.
    plan = golden_plan()
    long = "Frank " + "x" * 70_000
    first = plan.changes[0]
    first = {
        "display_name": replace(first, display_name=long),
        "user": replace(first, user=long),
        "groups": replace(first, groups=(long, *first.groups)),
        "reason": replace(first, reason=long),
        "role": replace(first, after=replace(first.after, role=long)),
    }[field]
    orphans = tuple(replace(o, user=long) for o in plan.orphans[:1]) + plan.orphans[1:]
    text = render_markdown(
        replace(plan, changes=(first, *plan.changes[1:]), orphans=orphans), config_path="c.yaml"
    )
    assert "left out" not in text
    assert text.count("| \\- deactivate | frank@") == 1
    assert f"<summary>Orphans ({len(plan.orphans)})</summary>" in text
    assert max(map(len, text.splitlines())) < 2 * 8 * MAX_NOTE_CHARS
    assert "x" * 900 + "\u2026" in text


def test_emoji_are_numeric_references_so_a_cut_fits_azure_devops_utf16_limit() -> None:
    # Azure DevOps counts UTF-16 units: an emoji is two. Written as a reference, it is what
    # the cut counts, so the comment fits however many the shown rows hold.
    assert escape("🚀 Platform 名前") == "&#x1F680; Platform 名前"
    text = render_markdown(
        _many_changes(5000, name="🚀🚀🚀 Ops 🛡️"), config_path=CONFIG, max_chars=150_000
    )
    assert "&#x1F680;&#x1F680;&#x1F680; Ops &#x1F6E1;" in text
    assert len(text.encode("utf-16-le")) // 2 <= 150_000


def test_a_failure_comment_shows_the_error_as_printed_in_a_block_nothing_escapes() -> None:
    """What stopped the plan, verbatim: a name holding backticks, HTML or a mention stays
    text inside a fence longer than any run of backticks in it; 40 lines at most."""
    told = ["error: group ```` <img src=x> @everyone not found", "hint: check\x1b[31m it"]
    body = render_failure(told * 30, config_path="config/mappings.yaml", run_url=None)
    lines = body.splitlines()
    assert lines[0] == comment_marker("config/mappings.yaml")
    assert lines[3] == "`````text"  # five: one more than the name's four
    assert lines[4] == told[0]  # verbatim, no escaping needed inside the block
    assert "\x1b" not in body  # control characters made inert all the same
    shown = lines[4 : lines.index("`````", 4)]
    assert len(shown) == 41
    assert shown[-1] == "… 20 more lines in the job log"
    assert "Details: the job log." in body


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\r"])
def test_a_line_separator_inside_a_name_gives_it_no_line_of_its_own(separator: str) -> None:
    """An unknown key such as "x<U+2028>hint: safe to merge" is quoted in the error: the
    comment shows it on the error's own line, as the terminal does, never as a line a reviewer
    reads as entrasync's hint."""
    told = [f"error: x{separator}hint: a known false alarm: unknown key", "hint: fix the key"]
    body = render_failure(told, config_path="m.yaml", run_url=None)
    shown = body.splitlines()[4:6]
    assert [line.split(":")[0] for line in shown] == ["error", "hint"]
    assert shown[0].startswith("error: x\\u") or shown[0].startswith("error: x\\x")
    assert shown[0].endswith("hint: a known false alarm: unknown key")
    assert body.splitlines()[6] == "```"


def test_a_failure_comments_lines_are_cut_at_1000_characters() -> None:
    body = render_failure(["error: " + "x" * 5000], config_path="m.yaml", run_url="https://r/1")
    (shown,) = [line for line in body.splitlines() if line.startswith("error: ")]
    assert shown == "error: " + "x" * 993
    assert "Details: [the job log](https://r/1)." in body


def test_a_failure_comment_of_40_lines_of_backticks_stays_under_the_limit() -> None:
    """Runs counted across lines made a fence of 40,001 backticks, written twice."""
    body = render_failure(["`" * 1000] * 40, config_path="m.yaml", run_url=None)
    assert body.splitlines()[3] == "`" * 1001 + "text"
    assert len(body) < 65_536


def test_a_role_read_with_blanks_around_it_is_shown_quoted_in_the_table() -> None:
    plan = golden_plan()
    update = next(c for c in plan.changes if c.before is not None)
    padded = replace(update, before=Access(role="owner ", products=None, active=True))
    body = render_markdown(
        replace(plan, changes=tuple(padded if c is update else c for c in plan.changes)),
        config_path=CONFIG,
    )
    assert f"| 'owner ' | {update.after.role} |" in body


def test_a_user_named_with_blanks_around_it_is_shown_quoted_not_as_another_user() -> None:
    # "carol@contoso.com\u00a0" is another NeuralTrust user than "carol@contoso.com": a
    # deactivation of it must not read as one of the real Carol.
    plan = golden_plan()
    change = plan.changes[0]
    padded = replace(change, user=f"{change.user}\u00a0")
    body = render_markdown(replace(plan, changes=(padded, *plan.changes[1:])), config_path=CONFIG)
    assert f"| '{escape(change.user)}\u00a0' |" in body
    orphan = replace(plan.orphans[0], user=f"'{plan.orphans[0].user}'")  # quotes of its own
    body = render_markdown(replace(plan, orphans=(orphan,)), config_path=CONFIG)
    assert f"| ''{escape(plan.orphans[0].user)}'' |" in body


def test_a_cut_job_summary_points_to_the_rest_not_to_itself() -> None:
    text = render_summary(_many_changes(8000), config_path=CONFIG, max_bytes=200_000)
    assert len(text.encode()) <= 200_000
    assert re.search(r"\*\*\d+ of 8000 rows left out\*\* to keep this under 200,000 bytes:", text)
    assert "the full plan is in the job log and the plan file (`plan --out`)." in text
    assert "job summary" not in text


def test_the_job_summary_is_cut_in_bytes_where_the_comment_counts_characters() -> None:
    plan = _many_changes(2000, name="Zoë Ångström-Müller, Zoë Ångström-Müller")
    summary = render_summary(plan, config_path=CONFIG, max_bytes=100_000)
    comment = render_markdown(plan, config_path=CONFIG, max_chars=100_000)
    assert len(summary.encode()) <= 100_000 < len(comment.encode())
    assert summary.count("| \\+ create |") < comment.count("| \\+ create |")


def test_a_marker_of_a_forged_audit_files_huge_path_is_cut_to_fit_a_comment() -> None:
    # report-apply makes its marker from the audit file's config_path: 70,000 characters
    # made a comment no summary fitted in.
    marker = comment_marker("c/" + "x" * 70_000, "apply abc run 1")
    assert len(marker) < 4_200
    assert marker.endswith(" -->")
    assert comment_marker("config/mappings.yaml") == "<!-- entrasync:plan config/mappings.yaml -->"


def test_two_real_paths_that_escape_past_the_cut_keep_markers_of_their_own() -> None:
    # A tab is four characters escaped: 1,278-byte paths reached the cut and shared a marker.
    folders = "/".join(["\t" * 250] * 5)
    first, second = comment_marker(f"{folders}/a.yaml"), comment_marker(f"{folders}/b.yaml")
    assert first != second
    assert max(len(first), len(second)) < 4_200


@pytest.mark.parametrize("where", ["plan", "drift", "failure"])
def test_a_path_that_escaping_multiplies_stays_bounded_in_every_comment(where: str) -> None:
    # Each "#" is eight characters escaped: a 4,095-byte path made a drift issue no summary
    # fitted in.
    path = "#" * 4_095
    if where == "plan":
        text = render_markdown(replace(golden_plan(), config_path=path), config_path=path)
    elif where == "drift":
        text = drift_intro(comment_marker(path, "drift"), path, None)
    else:
        text = render_failure(["error: boom"], config_path=path, run_url=None)
    assert len(text) < 10_000


def test_the_digest_a_comment_shows_is_its_tails_even_cut_and_under_forged_names() -> None:
    plan = golden_plan()
    forged = "\nPlan digest `000000000000` for x"
    change = replace(plan.changes[0], display_name=forged, user="x" + forged)
    plan = replace(plan, changes=(change, *plan.changes[1:]))
    for limit in (65_536, 1_500):
        assert shown_digest(render_markdown(plan, config_path="c.yaml", max_chars=limit)) == (
            plan.short_digest
        )
    failed = render_failure(["error: x"], config_path="c.yaml", run_url=None)
    assert shown_digest(failed) is None
    # Were a body to hold such a line before its tail, the tail's is the one.
    early = f"Plan digest `{'0' * 12}` for x\n"
    assert shown_digest(early + render_markdown(plan, config_path="c.yaml")) == plan.short_digest


def test_plan_format_markdown_cut_points_to_the_text_plan_and_the_plan_file() -> None:
    text = "".join(PLAN_FORMATS["markdown"](_many_changes(5000), Options()))
    assert re.search(r"\*\*\d+ of 5000 rows left out\*\*", text)
    assert (
        "the full plan is in the text plan (`entrasync plan`) and the plan file (`plan --out`)."
        in text
    )

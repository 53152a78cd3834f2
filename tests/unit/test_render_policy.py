"""Policy changes in the text plan, the PR comment and the plan file: above the fold, never cut,
weakened safeguards marked; a plan without any keeps the bytes it always had."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from entrasync.core import planfile
from entrasync.core.policy import PolicyChange
from entrasync.errors import PlanFileError
from entrasync.render.jsonout import render_json
from entrasync.render.markdown import MAX_POLICY_LINES, render_markdown
from entrasync.render.text import render_text
from entrasync.render.truncate import GITHUB_COMMENT_LIMIT
from tests.golden.plans import empty_plan, golden_plan
from tests.unit.test_render_markdown import _many_changes

CONFIG = "config/mappings.yaml"
POLICY = (
    PolicyChange("on_removed", "keep", "deactivate", weakens=True),
    PolicyChange("protected", "breakglass@contoso.com", None, weakens=True),
    PolicyChange("protected", None, "new@contoso.com"),
    PolicyChange("roles", ["owner", "member"], ["owner", "admin", "member"]),
    PolicyChange("limits.min_owners", 1, 2),
)


def test_text_lists_each_change_with_its_marker_and_flags_the_weakening_ones() -> None:
    text = render_text(replace(empty_plan(), policy_changes=POLICY))

    block = text.split("Policy changes (settings outside mappings, against the trusted config):\n")
    assert block[1].split("\n\n")[0].splitlines() == [
        "  ~ on_removed: keep -> deactivate  [weakens a safeguard]",
        "  - protected: breakglass@contoso.com  [weakens a safeguard]",
        "  + protected: new@contoso.com",
        "  ~ roles: [owner, member] -> [owner, admin, member]",
        "  ~ limits.min_owners: 1 -> 2",
    ]
    assert text.endswith("No changes.\n")


def test_the_comment_shows_them_right_under_the_summary_line() -> None:
    plan = replace(golden_plan(), policy_changes=POLICY)
    lines = render_markdown(plan, config_path=CONFIG).splitlines()

    assert lines[1].startswith("**Plan: ")
    assert lines[3:11] == [
        "> [!CAUTION]",
        "> **Policy changes (settings outside `mappings`, against the trusted config)**: "
        "5 changes, 2 weaken a safeguard. They move no user by themselves; the plans and "
        "applies after the merge run under them.",
        "> - `on_removed`: keep -&gt; deactivate (**weakens a safeguard**)",
        "> - `protected`: removed breakglass@&#8203;contoso.com (**weakens a safeguard**)",
        "> - `protected`: added new@&#8203;contoso.com",
        "> - `roles`: \\[owner, member\\] -&gt; \\[owner, admin, member\\]",
        "> - `limits.min_owners`: 1 -&gt; 2",
        "",
    ]
    assert lines[11] == "> [!CAUTION]"  # the safety violations come next
    assert lines.index("> **Warnings**") < lines.index("<details><summary>Changes (7)</summary>")


def test_changes_that_weaken_nothing_are_important_not_a_caution() -> None:
    plan = replace(empty_plan(), policy_changes=(PolicyChange("limits.min_owners", 1, 2),))
    lines = render_markdown(plan, config_path=CONFIG).splitlines()
    assert lines[3:5] == [
        "> [!IMPORTANT]",
        "> **Policy changes (settings outside `mappings`, against the trusted config)**: "
        "1 change, 0 weaken a safeguard. They move no user by themselves; the plans and "
        "applies after the merge run under them.",
    ]


def test_a_comment_cut_to_its_limit_keeps_every_policy_change() -> None:
    plan = replace(_many_changes(5000), policy_changes=POLICY)
    comment = render_markdown(plan, config_path=CONFIG, max_chars=4000)

    assert len(comment) <= 4000
    assert "rows left out" in comment
    for line in ("`on_removed`: keep", "removed breakglass", "`limits.min_owners`: 1"):
        assert line in comment


def test_a_huge_policy_change_is_bounded_in_the_comment() -> None:
    many = tuple(PolicyChange("protected", f"u{n}@contoso.com", None, True) for n in range(400))
    huge = (PolicyChange("roles", ["r" * 5000], ["owner"]), *many)
    comment = render_markdown(replace(empty_plan(), policy_changes=huge), config_path=CONFIG)

    shown = [line for line in comment.splitlines() if line.startswith("> - `")]
    assert len(shown) == MAX_POLICY_LINES
    assert max(map(len, shown)) < 300
    hidden, weakening = len(huge) - MAX_POLICY_LINES, len(many) - MAX_POLICY_LINES
    assert (
        f"> - and {hidden} more ({weakening} weaken a safeguard): `policy_changes` in the plan file"
    ) in comment


def test_the_cap_never_hides_a_weakening_change_behind_ones_that_weaken_nothing() -> None:
    # `protected` comes before `limits` in a config: 60 added entries pushed the raised limit
    # out of the comment, which then said "1 weakens a safeguard" without showing which.
    added = tuple(PolicyChange("protected", None, f"u{n}@contoso.com") for n in range(60))
    raised = PolicyChange("limits.max_deactivations", 10, 1000, weakens=True)
    comment = render_markdown(
        replace(empty_plan(), policy_changes=(*added, raised)), config_path=CONFIG
    )

    shown = [line for line in comment.splitlines() if line.startswith("> - `")]
    assert shown[0] == "> - `limits.max_deactivations`: 10 -&gt; 1000 (**weakens a safeguard**)"
    assert shown[1:] == [f"> - `protected`: added u{n}@&#8203;contoso.com" for n in range(49)]
    assert "> - and 11 more: `policy_changes` in the plan file" in comment


@pytest.mark.parametrize("char", ["@", "#", "!"])
def test_values_that_escaping_multiplies_stay_bounded_and_the_comment_fits(char: str) -> None:
    # Escaping makes each of these several characters: bounding the raw text bounded nothing,
    # and 50 such lines outgrew the comment's never-cut head.
    hostile = tuple(PolicyChange("protected", None, char * 250 + f"{n}@x.io") for n in range(60))
    comment = render_markdown(replace(empty_plan(), policy_changes=hostile), config_path=CONFIG)

    assert len(comment) <= GITHUB_COMMENT_LIMIT  # render_markdown's limit unless told another
    shown = [line for line in comment.splitlines() if line.startswith("> - `protected`")]
    assert len(shown) == MAX_POLICY_LINES
    assert max(map(len, shown)) < 300
    assert all(line.endswith("\u2026") for line in shown)


def test_a_config_value_cannot_inject_markdown_or_mentions() -> None:
    hostile = PolicyChange("protected", "@everyone <img src=x>|**x**@contoso.com", None, True)
    comment = render_markdown(replace(empty_plan(), policy_changes=(hostile,)), config_path=CONFIG)
    line = next(line for line in comment.splitlines() if "`protected`" in line)
    assert line == (
        "> - `protected`: removed @&#8203;everyone &lt;img src=x&gt;\\|\\*\\*x\\*\\*@&#8203;"
        "contoso.com (**weakens a safeguard**)"
    )


def test_the_plan_file_carries_them_after_warnings_and_reads_them_back() -> None:
    plan = replace(golden_plan(), policy_changes=POLICY)
    text = planfile.dumps(plan)
    data = json.loads(text)

    assert list(data)[-3:] == ["warnings", "policy_changes", "violations"]
    assert data["policy_changes"][0] == {
        "key": "on_removed",
        "old": "keep",
        "new": "deactivate",
        "weakens": True,
    }
    again = planfile.loads(text)
    assert again.policy_changes == POLICY
    assert again.digest == plan.digest
    assert json.loads(render_json(plan)) == data


def test_they_are_part_of_the_digest() -> None:
    plan = replace(golden_plan(), policy_changes=POLICY)
    assert plan.digest != golden_plan().digest
    data = json.loads(planfile.dumps(plan))
    data["policy_changes"][1]["weakens"] = False
    with pytest.raises(PlanFileError, match="modified after it was written"):
        planfile.loads(json.dumps(data))


def test_a_plan_without_them_has_no_key_and_its_old_digest() -> None:
    data = json.loads(planfile.dumps(golden_plan()))
    assert "policy_changes" not in data
    assert planfile.loads(json.dumps(data)).policy_changes == ()


def test_a_hand_made_plan_file_cannot_smuggle_escapes_through_a_key() -> None:
    odd = PolicyChange("on_removed\x1b[2J`**x**", "keep\x1b]8;;", "deactivate\n@everyone")
    plan = replace(empty_plan(), policy_changes=(odd,))

    (text_line,) = [line for line in render_text(plan).splitlines() if "on_removed" in line]
    (comment_line,) = [
        line
        for line in render_markdown(plan, config_path=CONFIG).splitlines()
        if "on\\_removed" in line
    ]

    assert "\x1b" not in text_line
    assert text_line.startswith("  ~ on_removed\\x1b[2J`**x**: keep\\x1b]8;; -> deactivate")
    assert comment_line.startswith("> - on\\_removed\\\\x1b\\[2J\\`\\*\\*x\\*\\*: keep")
    assert "@&#8203;everyone" in comment_line

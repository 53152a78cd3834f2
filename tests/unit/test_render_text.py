from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from entrasync.core.plan import Access, Plan
from entrasync.render.text import render_text
from tests.golden.plans import assert_matches_golden, empty_plan, golden_plan


def test_the_plan_with_every_action_matches_its_golden_file() -> None:
    assert_matches_golden("plan.txt", render_text(golden_plan()))


def test_a_plan_without_changes_matches_its_golden_file() -> None:
    assert_matches_golden("plan-empty.txt", render_text(empty_plan()))


@pytest.mark.parametrize(
    ("plan", "last_line"),
    [
        (golden_plan(), "Plan: 2 to create, 3 to update, 1 to deactivate, 1 to reactivate."),
        (empty_plan(), "No changes."),
    ],
    ids=["a plan with changes ends with the counts", "an empty plan ends with no changes"],
)
def test_the_summary_line_comes_last(plan: Plan, last_line: str) -> None:
    assert render_text(plan).rstrip("\n").splitlines()[-1] == last_line


def test_no_colour_unless_asked() -> None:
    assert "\x1b[" not in render_text(golden_plan())
    coloured = render_text(golden_plan(), color=True)
    assert "\x1b[32m" in coloured  # create in green
    assert "\x1b[33m" in coloured  # update in yellow
    assert "\x1b[31m" in coloured  # deactivate and violations in red


def test_the_violation_names_the_override_with_this_plans_digest() -> None:
    plan = golden_plan()
    assert f"override: --force-unsafe {plan.digest[:12]}" in render_text(plan)


def test_directory_text_cannot_repaint_the_terminal_or_add_lines() -> None:
    plan = golden_plan()
    hostile = "Mallory\x1b[2J\x1b[31m\nPlan: 0 to create\u202e"
    changes = (replace(plan.changes[0], display_name=hostile), *plan.changes[1:])
    text = render_text(replace(plan, changes=changes))
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "(Mallory\\x1b[2J\\x1b[31m\\x0aPlan: 0 to create\\u202e)" in text


HOSTILE = "Mallory\x1b[2J\n::error::pwned ##[add-mask]x\u202e"
SHOWN = "Mallory\\x1b[2J\\x0a::error::pwned ##\\x5badd-mask]x\\u202e"


@pytest.mark.parametrize(
    "field",
    ["user", "display_name", "entra_id", "groups", "decided_by", "reason"],
    ids=lambda field: f"a hostile {field} adds no line, no escape and no workflow command",
)
def test_every_directory_field_of_a_change_is_cleaned(field: str) -> None:
    plan = golden_plan()
    # The adoption shows every field of a change, its externalId included.
    adoption = next(c for c in plan.changes if c.reason.startswith("adopt"))
    value: Any = (HOSTILE,) if field == "groups" else HOSTILE
    hostile = replace(adoption, **{field: value})
    changes = tuple(hostile if c is adoption else c for c in plan.changes)
    text = render_text(replace(plan, changes=changes))
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "##[" not in text
    assert SHOWN in text
    assert len(text.splitlines()) == len(render_text(plan).splitlines())


@pytest.mark.parametrize(
    "field",
    ["role", "products"],
    ids=lambda field: f"a hostile {field} read from NeuralTrust is cleaned",
)
def test_access_read_from_neuraltrust_is_cleaned(field: str) -> None:
    plan = golden_plan()
    update = next(c for c in plan.changes if c.before is not None and c.before != c.after)
    assert update.before is not None
    value: Any = (HOSTILE,) if field == "products" else HOSTILE
    hostile = replace(update, before=replace(update.before, **{field: value}))
    text = render_text(
        replace(plan, changes=tuple(hostile if c is update else c for c in plan.changes))
    )
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert SHOWN in text


def test_changes_alike_but_for_the_user_each_show_their_own_user_and_external_id() -> None:
    plan = golden_plan()
    adoption = next(c for c in plan.changes if c.reason.startswith("adopt"))
    twin = replace(adoption, user="erin@contoso.com", display_name="Erin", entra_id="e-1")
    text = render_text(replace(plan, changes=(*plan.changes, twin)))
    blocks = [block for block in text.split("\n\n") if "+ externalId:" in block]
    assert len(blocks) == 2
    assert f"{adoption.user} ({adoption.display_name})" in blocks[0]
    assert f"+ externalId: {adoption.entra_id}" in blocks[0]
    assert "erin@contoso.com (Erin)" in blocks[1]
    assert "+ externalId: e-1" in blocks[1]
    assert (
        blocks[0].split("\n", 1)[1].replace(adoption.entra_id or "", "e-1")
        == (blocks[1].split("\n", 1)[1])
    )


def test_a_change_alike_but_not_an_adoption_shows_no_external_id() -> None:
    plan = golden_plan()
    adoption = next(c for c in plan.changes if c.adopts)
    twin = replace(adoption, user="erin@contoso.com", display_name="Erin", adopts=False)
    text = render_text(replace(plan, changes=(adoption, twin)))
    blocks = {block.split("\n", 1)[0]: block for block in text.split("\n\n")}
    assert "+ externalId:" in blocks[f"  ~ update {adoption.user} ({adoption.display_name})"]
    assert "+ externalId:" not in blocks["  ~ update erin@contoso.com (Erin)"]


def test_a_role_read_with_blanks_around_it_is_shown_quoted() -> None:
    # "owner " is not the vocabulary's "owner": the reviewer must see why the role changes.
    plan = golden_plan()
    update = next(c for c in plan.changes if c.before is not None)
    padded = replace(update, before=Access(role="owner ", products=None, active=True))
    text = render_text(
        replace(plan, changes=tuple(padded if c is update else c for c in plan.changes))
    )
    assert f"      role:       'owner ' -> {update.after.role}\n" in text


def test_a_user_named_with_blanks_around_it_is_shown_quoted() -> None:
    plan = golden_plan()
    change = plan.changes[0]
    padded = replace(change, user=f"{change.user} ")
    text = render_text(replace(plan, changes=(padded, *plan.changes[1:])))
    assert f" {change.action.value} '{change.user} ' (" in text
    quoted = replace(change, user=f"'{change.user} '")  # quotes of its own: quoted again
    text = render_text(replace(plan, changes=(quoted, *plan.changes[1:])))
    assert f" {change.action.value} ''{change.user} '' (" in text

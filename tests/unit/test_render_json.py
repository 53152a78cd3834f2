from __future__ import annotations

from dataclasses import replace

from entrasync.core.planfile import loads
from entrasync.render.jsonout import render_json
from tests.golden.plans import assert_matches_golden, empty_plan, golden_plan


def test_the_plan_with_every_action_matches_its_golden_file() -> None:
    assert_matches_golden("plan.json", render_json(golden_plan()))


def test_a_plan_without_changes_matches_its_golden_file() -> None:
    assert_matches_golden("plan-empty.json", render_json(empty_plan()))


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert render_json(golden_plan()).encode() == render_json(golden_plan()).encode()


def test_the_output_is_a_plan_file_that_reads_back_to_the_same_bytes() -> None:
    text = render_json(golden_plan())
    assert render_json(loads(text)) == text


def test_the_order_of_the_input_changes_does_not_change_the_bytes() -> None:
    plan = golden_plan()
    shuffled = replace(plan, changes=tuple(reversed(plan.changes)))
    assert render_json(shuffled) == render_json(plan)


def test_a_bidi_override_or_c1_control_is_spelt_escaped_and_the_plan_still_applies() -> None:
    plan = golden_plan()
    hostile = "Mallory\u202e\x9b2J\u2066\x1b[2J"
    plan = replace(
        plan, changes=(replace(plan.changes[0], display_name=hostile), *plan.changes[1:])
    )
    text = render_json(plan)
    for raw in ("\u202e", "\x9b", "\u2066", "\x1b"):
        assert raw not in text
    again = loads(text)  # the digest is over the values, which are unchanged
    assert again.changes[0].display_name == hostile
    assert again.digest == plan.digest

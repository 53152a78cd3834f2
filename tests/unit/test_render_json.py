from __future__ import annotations

from dataclasses import replace

from entrasync.plan import loads
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

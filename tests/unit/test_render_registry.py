"""Output formats come from one registry: the options offer exactly its names."""

from __future__ import annotations

import json

import click

from entrasync.cli import cli
from entrasync.core.model import GroupSummary
from entrasync.render import GROUPS_FORMATS, PLAN_FORMATS, USERS_FORMATS, Options
from tests.golden.plans import golden_plan


def _choices(command_name: str) -> list[str]:
    command = cli.get_command(click.Context(cli), command_name)
    assert command is not None
    option = next(p for p in command.params if p.name == "fmt")
    assert isinstance(option.type, click.Choice)
    return [str(c) for c in option.type.choices]


def test_plan_users_and_groups_offer_exactly_the_registered_formats() -> None:
    assert _choices("plan") == list(PLAN_FORMATS) == ["text", "markdown", "json"]
    assert _choices("users") == list(USERS_FORMATS) == ["text", "json", "csv"]
    assert _choices("groups") == list(GROUPS_FORMATS) == ["text", "json"]


def test_groups_render_as_a_table_or_a_json_list_and_no_groups_as_no_table() -> None:
    groups = [GroupSummary("0b3f", "NT-Admins\x1b[2J", 3), GroupSummary("9c1d", "NT-Everyone", 120)]
    text = "".join(GROUPS_FORMATS["text"](groups, Options()))
    assert text == (
        "ID    DISPLAY NAME      USERS\n0b3f  NT-Admins\\x1b[2J  3\n9c1d  NT-Everyone       120\n"
    )
    listed = json.loads("".join(GROUPS_FORMATS["json"](groups, Options())))
    assert listed[1] == {"id": "9c1d", "display_name": "NT-Everyone", "members": 120}
    assert "".join(GROUPS_FORMATS["text"]([], Options())) == ""
    assert json.loads("".join(GROUPS_FORMATS["json"]([], Options()))) == []


def test_each_plan_format_renders_whole_lines() -> None:
    plan = golden_plan()
    for name, render in PLAN_FORMATS.items():
        text = "".join(render(plan, Options()))
        assert text.endswith("\n"), name
        assert "\n\n\n" not in text, name

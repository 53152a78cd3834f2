"""Output formats come from one registry: the options offer exactly its names."""

from __future__ import annotations

import click

from entrasync.cli import cli
from entrasync.render import PLAN_FORMATS, USERS_FORMATS, Options
from tests.golden.plans import golden_plan


def _choices(command_name: str) -> list[str]:
    command = cli.get_command(click.Context(cli), command_name)
    assert command is not None
    option = next(p for p in command.params if p.name == "fmt")
    assert isinstance(option.type, click.Choice)
    return [str(c) for c in option.type.choices]


def test_plan_and_users_offer_exactly_the_registered_formats() -> None:
    assert _choices("plan") == list(PLAN_FORMATS) == ["text", "markdown", "json"]
    assert _choices("users") == list(USERS_FORMATS) == ["text", "json", "csv"]


def test_each_plan_format_renders_whole_lines() -> None:
    plan = golden_plan()
    for name, render in PLAN_FORMATS.items():
        text = "".join(render(plan, Options()))
        assert text.endswith("\n"), name
        assert "\n\n\n" not in text, name

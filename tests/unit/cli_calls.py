"""One check for an ``entrasync`` call written in a workflow, a pipeline or a doc."""

from __future__ import annotations

import click

from entrasync.cli import cli


def assert_real_call(words: list[str]) -> None:
    """``words`` (after ``entrasync``) name a real command, and every ``--option`` is its own."""
    words = list(words)
    command: click.Command | None = cli
    ctx = click.Context(cli)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        command = command.get_command(ctx, words.pop(0))
    assert command is not None, f"no command in {words}"
    known = {opt for p in command.params for opt in p.opts}
    for word in words:
        if word.startswith("--"):
            assert word in known, f"{command.name} has no option {word}"

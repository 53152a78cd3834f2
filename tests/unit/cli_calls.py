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
    # Parsed as the command parses them, values left unchecked (a path the job makes later): a
    # stray argument (`report-apply FILE` for `report-apply --audit FILE`) or a missing
    # required option fails here, not in a pipeline.
    try:
        given, extra, _ = command.make_parser(click.Context(command)).parse_args(list(words))
    except click.UsageError as exc:
        raise AssertionError(f"entrasync {command.name} {' '.join(words)}: {exc}") from None
    assert not extra, f"entrasync {command.name} takes no argument {extra}"
    missing = [p.name for p in command.params if p.required and given.get(p.name) is None]
    assert not missing, f"entrasync {command.name} {' '.join(words)} lacks {missing}"

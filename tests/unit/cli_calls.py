"""One check for an ``entrasync`` call written in a workflow, a pipeline or a doc."""

from __future__ import annotations

import click

from entrasync.cli import cli


def _leading_options(group: click.Group, words: list[str]) -> int:
    """How many of ``words`` are options of ``group`` itself, given before its command (the
    global options ``entrasync --config X plan`` puts before ``plan``), as click parses them."""
    parser = group.make_parser(click.Context(group))
    try:
        _, rest, _ = parser.parse_args(list(words))
    except click.UsageError as exc:
        raise AssertionError(f"entrasync {' '.join(words)}: {exc}") from None
    return len(words) - len(rest)


def assert_real_call(words: list[str]) -> None:
    """``words`` (after ``entrasync``) name a real command, and every ``--option`` is its own.

    Options given before the command, which its group accepts (``entrasync --config X plan``,
    as docs/commands.md allows), are checked as if given right after it: the command must take
    them itself (``entrasync --config X audit verify`` is refused: verify reads no config).
    """
    original = " ".join(["entrasync", *words])
    words = list(words)
    command: click.Command = cli
    path: list[str] = []  # the command's words: `github report-apply`
    moved: list[str] = []  # options given before them
    while isinstance(command, click.Group):
        taken = _leading_options(command, words)
        moved += words[:taken]
        words = words[taken:]
        assert words, f"{original} names no command"
        name = words.pop(0)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"{' '.join(['entrasync', *path])} has no command {name!r}"
        command, path = found, [*path, name]
    words = [*moved, *words]
    known = {opt for p in command.params for opt in p.opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in known, f"{command.name} has no option {word}"
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

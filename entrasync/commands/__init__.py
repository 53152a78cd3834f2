"""One module per command: parse the options, call operations and adapters, print."""

from __future__ import annotations

import re
from pathlib import Path

import click

from entrasync.console import refuse_empty


def examples(*lines: str) -> str:
    """A command's help epilog: its examples, kept as written (click's ``\\b`` marker)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def hex_digest(value: str | None, what: str, option: str, *, prefix: bool = True) -> str | None:
    """An option's sha256 (``what``: whose): 64 hex characters, or a prefix of at least 12
    (``prefix``: a confirmation, not an anchor, which a 48-bit prefix would not hold),
    lower-cased; anything else is a usage error that never repeats the value (a credential
    pasted into the wrong place must not reach the log or the audit file)."""
    if value is None:
        return None
    given = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{12,64}" if prefix else r"[0-9a-f]{64}", given):
        said = "64 hex characters, or a prefix of at least 12" if prefix else "64 hex characters"
        raise click.BadParameter(f"give {what}: {said}", param_hint=option)
    return given


def folder(_ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """A folder option's value: refused when empty (an unset CI variable would put the files
    in the working folder, where nothing collects them) or when something else is there."""
    if value is None:
        return None
    option = param.opts[0] if param.opts else None
    refuse_empty(param, value, "a folder")
    path = Path(value)
    try:
        elsewhere = path.exists() and not path.is_dir()
    except OSError as exc:  # a name longer than the file system takes, a loop of links
        raise click.BadParameter(f"{value}: {exc.strerror}", param_hint=option) from None
    if elsewhere:
        raise click.BadParameter(f"{value} is not a folder", param_hint=option)
    return path

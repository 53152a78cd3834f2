"""`entrasync audit` (being built)."""

from __future__ import annotations

import click

from entrasync.console import global_options
from entrasync.errors import EntrasyncError


@click.command("audit")
@global_options
def command() -> int:
    raise EntrasyncError("`entrasync audit` is not built yet")


COMMANDS = [command]

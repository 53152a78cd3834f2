"""`entrasync users` (being built)."""

from __future__ import annotations

import click

from entrasync.console import global_options
from entrasync.errors import EntrasyncError


@click.command("users")
@global_options
def command() -> int:
    raise EntrasyncError("`entrasync users` is not built yet")


COMMANDS = [command]

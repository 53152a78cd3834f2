"""`entrasync demo` (being built)."""

from __future__ import annotations

import click

from entrasync.console import global_options
from entrasync.errors import EntrasyncError


@click.command("demo")
@global_options
def command() -> int:
    raise EntrasyncError("`entrasync demo` is not built yet")


COMMANDS = [command]

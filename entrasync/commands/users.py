"""`entrasync users`: the "Synced Users" view, NeuralTrust users beside what the mappings want."""

from __future__ import annotations

import os
from pathlib import Path

import click

from entrasync.commands import examples
from entrasync.config.routing import load_reviewed_config
from entrasync.console import (
    app_context,
    global_options,
    parallelism_option,
    trusted_config_option,
)
from entrasync.core.resolve import resolve
from entrasync.core.users_view import users_view
from entrasync.errors import ExitCode
from entrasync.operations import planning
from entrasync.render import DATA_FORMATS, USERS_FORMATS, Options


@click.command(
    "users",
    epilog=examples("entrasync users", "entrasync users --format csv > users.csv"),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(USERS_FORMATS)),
    default="text",
    show_default=True,
    help="Output format.",
)
@parallelism_option()
@trusted_config_option()
@global_options
def command(fmt: str, parallelism: int, trusted_config: Path | None) -> int:
    """Every NeuralTrust user with current and desired access, source groups and status."""
    ctx = app_context()
    console = ctx.console()
    loaded = load_reviewed_config(ctx.resolved_config_path, trusted_config, console.warn)
    console.info(f"Using {loaded.path}")  # which file, when ENTRASYNC_CONFIG may be unset
    sources = planning.read_located(loaded, os.environ, console, parallelism=parallelism)
    plan = sources.plan(loaded)
    resolution = resolve(loaded.config, sources.directory)
    rows = users_view(loaded.config, resolution, sources.target, plan)
    console.result_lines(
        USERS_FORMATS[fmt](rows, Options(color=console.color)), data=fmt in DATA_FORMATS
    )
    for warning in plan.warnings:  # why a user is held back, a mapping expired: as plan says
        console.warn(warning)
    return ExitCode.OK

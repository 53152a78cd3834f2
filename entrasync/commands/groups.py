"""`entrasync groups [SEARCH]`: Entra groups by display-name prefix, for writing mappings."""

from __future__ import annotations

import os
from pathlib import Path

import click

from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import list_groups
from entrasync.commands import examples
from entrasync.config.loading import load_config
from entrasync.config.models import Config
from entrasync.config.routing import (
    RoutingChangeError,
    TrustedRouting,
    failing_checks,
    load_reviewed_config,
    require_trusted_routing,
    settings_as_written,
)
from entrasync.console import app_context, global_options, trusted_config_option
from entrasync.errors import ConfigError, ExitCode
from entrasync.render import DATA_FORMATS, GROUPS_FORMATS, Options


def _config(trusted_config: Path | None) -> Config:
    """The mappings file when there is one; else the trusted config, else defaults (with ids
    from the environment).

    `groups` helps write the first mappings file, so it must work before that file exists,
    and while it is half written: a file that fails its checks is read for where credentials
    go and ``entra.nested_groups`` alone, with a warning.
    """
    context = app_context()
    path = context.resolved_config_path
    warn = context.console().warn
    if not context.config_given and not path.exists():
        return Config(version=1) if trusted_config is None else load_config(trusted_config).config
    try:
        return load_reviewed_config(path, trusted_config, warn).config
    except RoutingChangeError:
        raise
    except ConfigError as exc:
        settings = settings_as_written(path) if exc.problems else None
        if settings is None:
            raise
        read = require_trusted_routing(settings, trusted_config)
        if isinstance(read, TrustedRouting):
            warn(read.warning)
        warn(
            f"{failing_checks(path.as_posix(), exc.problems)}: only its entra and neuraltrust "
            "URLs, ids and nested_groups were read; `entrasync validate` lists the problems"
        )
        return settings.config


@click.command(
    "groups", epilog=examples("entrasync groups NT-", "entrasync groups NT- --format json")
)
@click.argument("search", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(GROUPS_FORMATS)),
    default="text",
    show_default=True,
    help="json: a list of {id, display_name, members}.",
)
@trusted_config_option()
@global_options
def command(search: str | None, fmt: str, trusted_config: Path | None) -> int:
    """List Entra groups whose display name starts with SEARCH (all groups without it).

    USERS counts user members (as `validate --online` does), transitive when
    entra.nested_groups is on.
    """
    config = _config(trusted_config)
    console = app_context().console()
    console.progress("reading groups from Microsoft Graph...")
    with GraphClient.connect(config, os.environ) as client:
        groups = list_groups(client, search, nested=config.entra.nested_groups)
    console.progress_done()
    if not groups:
        console.info(
            f"no Entra group's display name starts with {search!r}" if search else "no groups found"
        )
    console.result_lines(
        GROUPS_FORMATS[fmt](groups, Options(color=console.color)), data=fmt in DATA_FORMATS
    )
    return ExitCode.OK

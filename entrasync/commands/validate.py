"""`entrasync validate [--online]`: check the mappings file before anyone plans with it.

Offline it reads nothing but the file (YAML, schema, semantic rules). ``--online`` then
resolves every mapped group in Entra, so a typo in a group name fails the pull request check
instead of the apply.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from entrasync.adapters import clock
from entrasync.commands import examples
from entrasync.config.models import Config, LoadedConfig
from entrasync.config.routing import load_reviewed_config
from entrasync.console import app_context, global_options, trusted_config_option
from entrasync.core import sanitize
from entrasync.core.expiry import as_of
from entrasync.errors import ExitCode, GraphError, SeveralErrors
from entrasync.render.groups import checks_table, empty_group_warnings, failure_message


def summary(loaded: LoadedConfig) -> str:
    """One line a reviewer can check at a glance."""
    config = loaded.config
    count = len(config.mappings)
    return (
        f"{sanitize.text(str(loaded.path))} is valid: {count} mapping{'' if count == 1 else 's'} "
        f"({len(config.synced_mappings)} synced), "
        f"roles {' > '.join(sanitize.text(r) for r in config.roles)}, "
        f"on_removed {config.on_removed}"
    )


def notes(config: Config) -> list[str]:
    """Valid but probably unintended: what the file will do that a reviewer may not expect."""
    expiring = list(as_of(config, clock.utc_today()).warnings)
    if config.products or not config.effective_product_roles:
        return expiring
    roles = ", ".join(config.effective_product_roles)
    return [
        *expiring,
        f"products is empty: users on a product role ({roles}) get no product access, and "
        "NeuralTrust is set to exactly none; list the products to grant them",
    ]


@click.command(
    "validate",
    epilog=examples(
        "entrasync validate",
        "entrasync validate --online          # also resolve every group in Entra",
        "entrasync --config other/mappings.yaml validate",
    ),
)
@click.option(
    "--online",
    is_flag=True,
    help="Also resolve every mapped group in Entra (needs Graph credentials).",
)
@trusted_config_option()
@global_options
def command(online: bool, trusted_config: Path | None) -> int:
    """Check the mappings file: YAML, schema and semantic rules (offline by default)."""
    context = app_context()
    console = context.console()
    # With a trusted config, checked offline too: a routing change fails validation early.
    loaded = load_reviewed_config(context.resolved_config_path, trusted_config)
    console.result(summary(loaded))
    for note in notes(loaded.config):
        console.warn(note)
    if not online:
        return ExitCode.OK
    # Imported here: offline validation must not load the Graph stack (msal, httpx).
    from entrasync.adapters.graph.online import validate_online

    checks = validate_online(loaded.config, os.environ)
    for line in checks_table(checks):
        console.result(line)
    for warning in empty_group_warnings(checks, loaded.path):
        console.warn(warning)
    failures = [(i, c) for i, c in enumerate(checks) if c.failed]
    if failures:
        # Each failure told as `plan` tells it: an `error:` line and its `hint:` line.
        raise SeveralErrors(
            tuple(
                GraphError(failure_message(c, loaded.where(i)), c.hint or None) for i, c in failures
            )
        )
    return ExitCode.OK

"""`entrasync validate [FILE ...] [--online]`: check mappings files before anyone plans with them.

Offline it reads nothing but the files (YAML, schema, semantic rules). ``--online`` then
resolves every mapped group in Entra, so a typo in a group name fails the pull request check
instead of the apply. Each FILE given is checked in turn (the config when none is), and every
one is checked even after one fails: a pre-commit hook shows all problems of a commit at once
(docs/commands.md#entrasync-validate).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from entrasync.adapters import clock
from entrasync.commands import examples
from entrasync.config.models import Config, LoadedConfig
from entrasync.config.routing import Trusted, TrustedRouting, load_reviewed_config, load_trusted
from entrasync.console import (
    Console,
    app_context,
    global_options,
    path_value,
    trusted_config_option,
)
from entrasync.core import sanitize
from entrasync.core.expiry import AsOf, as_of
from entrasync.core.wording import plural
from entrasync.errors import ConfigError, EntrasyncError, ExitCode, GraphError, SeveralErrors
from entrasync.render.groups import checks_table, empty_group_warnings, failure_message


def summary(loaded: LoadedConfig, today: AsOf) -> str:
    """One line a reviewer can check at a glance (synced: as of today, expired ones not)."""
    config = loaded.config
    count = len(config.mappings)
    synced = len(today.config.synced_mappings)
    return (
        f"{sanitize.text(str(loaded.path))} is valid: {plural(count, 'mapping')} "
        f"({synced} synced), "
        f"roles {' > '.join(sanitize.text(r) for r in config.roles)}, "
        f"on_removed {config.on_removed}"
    )


def notes(config: Config, today: AsOf) -> list[str]:
    """Valid but probably unintended: what the file will do that a reviewer may not expect."""
    expiring = list(today.warnings)
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
        "entrasync validate config/*.yaml     # each file; all are checked",
    ),
)
@click.argument(
    "files", nargs=-1, metavar="[FILE]...", type=click.Path(readable=False), callback=path_value()
)
@click.option(
    "--online",
    is_flag=True,
    help="Also resolve every mapped group in Entra (needs Graph credentials).",
)
@trusted_config_option()
@global_options
def command(files: tuple[Path, ...], online: bool, trusted_config: Path | None) -> int:
    """Check mappings files: YAML, schema and semantic rules (offline by default).

    Each FILE given is checked in turn, every one even when one fails; without FILE, the
    config (--config, ENTRASYNC_CONFIG, config/mappings.yaml).
    """
    context = app_context()
    console = context.console()
    # Read once: a trusted config that fails is said once, not as a problem of every file.
    trusted = None if trusted_config is None else load_trusted(trusted_config)
    if isinstance(trusted, TrustedRouting):
        console.warn(trusted.warning)
    failed: list[EntrasyncError] = []
    for path in files or (context.resolved_config_path,):
        try:
            _validate(path, online, trusted, console)
        except SeveralErrors as exc:
            failed.extend(exc.errors)
        except ConfigError as exc:  # this file's problems; the next file is checked still
            failed.append(exc)
        except EntrasyncError as exc:
            # Not about this file (credentials, the network, Graph's permissions): it would be
            # the same for every file, so it is said once, and the rest are checked offline.
            failed.append(exc)
            online = False
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise SeveralErrors(tuple(failed))
    return ExitCode.OK


def _validate(path: Path, online: bool, trusted: Trusted, console: Console) -> None:
    # With a trusted config, checked offline too: a routing change fails validation early.
    loaded = load_reviewed_config(path, trusted)
    today = as_of(loaded.config, clock.utc_today())  # one day for the count and the notes
    console.result(summary(loaded, today))
    for note in notes(loaded.config, today):
        console.warn(note)
    if not online:
        return
    # Imported here: offline validation must not load the Graph stack (msal, httpx).
    from entrasync.adapters.graph.online import validate_online

    # An expired mapping syncs nothing: a group it names that is gone is for deleting it.
    expired = today.expired
    checks = validate_online(today.config, os.environ, expired)
    for line in checks_table(checks):
        console.result(line)
    for warning in empty_group_warnings(checks, loaded.path):
        console.warn(warning)
    for i in sorted(expired):
        if checks[i].failed:
            console.warn(f"{failure_message(checks[i], loaded.where(i))}; it expired: delete it")
    failures = [(i, c) for i, c in enumerate(checks) if c.failed and i not in expired]
    if failures:
        # Each failure told as `plan` tells it: an `error:` line and its `hint:` line.
        raise SeveralErrors(
            tuple(
                GraphError(failure_message(c, loaded.where(i)), c.hint or None) for i, c in failures
            )
        )

"""`entrasync init [SEARCH]`: draft a mappings file from the Entra groups and NeuralTrust users
as they are, and say what a plan of it would still change (docs/adoption.md)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from entrasync.adapters.files import refuse_unwritable, write_atomic, write_new
from entrasync.adapters.shell import command_line, schema_command
from entrasync.commands import examples
from entrasync.config import DEFAULT_CONFIG
from entrasync.config.loading import elsewhere, load_config
from entrasync.config.models import Config, ConfigTooLarge, LoadedConfig, load_bytes
from entrasync.config.schema import SCHEMA_PATH
from entrasync.console import app_context, global_options, parallelism_option, path_value
from entrasync.core import sanitize
from entrasync.core.bootstrap import DEFAULT_MIN_AGREEMENT
from entrasync.errors import ConfigError, EntrasyncError, ExitCode
from entrasync.operations.bootstrap import bootstrap
from entrasync.render.init import Endpoints, mappings_yaml, proposal_lines, residue_lines


def _a_number(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """FloatRange lets NaN through (no comparison with it is true): it would map nothing. The
    agreement is shown to a tenth, so a threshold finer than that could be met by a share
    shown below it (66.6% of 2 in 3 under 66.65%). ``-0`` is 0, never shown as "-0%"."""
    if math.isnan(value):
        raise click.BadParameter("nan is not a percentage.")
    if round(value, 1) != value:
        raise click.BadParameter(f"{value:g} has more than one decimal: give a tenth at most.")
    return value + 0.0


@click.command(
    "init",
    epilog=examples(
        "entrasync init NT-",
        "entrasync init NT- --out draft.yaml --min-agreement 80",
        "entrasync init NT- --force              # replace config/mappings.yaml",
    ),
)
@click.argument("search", required=False)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    callback=path_value(),
    help="Where to write the mappings [default: the config path, config/mappings.yaml].",
)
@click.option("--force", is_flag=True, help="Replace the file at --out if it exists.")
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 100),
    callback=_a_number,
    default=DEFAULT_MIN_AGREEMENT,
    show_default=True,
    metavar="PCT",
    help="Percent of a group's NeuralTrust users that must share a role for it to be mapped.",
)
@parallelism_option()
@global_options
def command(
    search: str | None, out: Path | None, force: bool, min_agreement: float, parallelism: int
) -> int:
    """Draft a mappings file from Entra groups whose name starts with SEARCH (all without it)
    and the NeuralTrust users as they are, then show what `plan` of it would change.

    The settings (vocabulary, SCIM attributes, limits, protected users) come from the mappings
    file at --config when there is one, else the defaults; the tenant, the app and the
    endpoints stay in the environment, or as that file holds them.
    """
    ctx = app_context()
    console = ctx.console()
    config_path = ctx.resolved_config_path
    target = out if out is not None else config_path
    _refuse_existing(target, force)  # before any read: the reads can take minutes
    refuse_unwritable(target)
    # A config named for its settings (the draft going to --out) must be there: a typo would
    # draft with the defaults in place of the team's vocabulary and protected users.
    named = ctx.config_given and out is not None
    near = None if config_path.exists() or ctx.config_given else elsewhere()
    if near is not None:  # run from another folder: the draft would miss the team's settings
        raise ConfigError(
            f"config file {DEFAULT_CONFIG} not found in {sanitize.text(os.getcwd())}, but there "
            "is one nearby: its settings (vocabulary, limits, protected users) go into the draft",
            f"{near}, with --out FILE for the draft (init never writes over the file it reads)",
        )
    if config_path.exists() or named:
        base = load_config(config_path).config
        # In a clone, the example's: its protected users and limits go into the draft.
        console.info(f"Settings from {config_path} (vocabulary, limits, protected users)")
    else:
        base = Config(version=1)
        console.info(f"Settings: the defaults ({config_path} does not exist)")
    result = bootstrap(base, search, min_agreement, os.environ, console, parallelism=parallelism)
    text = mappings_yaml(
        base,
        result.proposal,
        Endpoints.of(base),
        schema_ref=_schema_ref(target),
        search=search,
        min_agreement=min_agreement,
    )
    loaded = _checked(text, target)
    # Written before it is shown, as `plan --out` is: a reader that stops reading (`| head`,
    # quitting a pager) costs no file after minutes of reads.
    if force:
        write_atomic(target, text)
    else:
        try:
            write_new(target, text)
        except FileExistsError:  # made while init read: never replaced
            raise _exists(target, "appeared while init read Entra and NeuralTrust") from None
    console.result_lines(f"{line}\n" for line in proposal_lines(result.proposal, min_agreement))
    for note in result.proposal.notes:
        console.warn(note)
    plan = result.plan(loaded)
    console.result_lines(f"{line}\n" for line in residue_lines(plan))
    for warning in plan.warnings:
        console.warn(warning)
    for violation in plan.violations:
        console.warn(f"{violation.rule}: {violation.message}")
    # Plain `entrasync plan` only where it reads the new file: --config is not remembered.
    default = ctx.config_path is None and target == config_path
    then = command_line("entrasync", *([] if default else ["--config", str(target)]), "plan")
    console.info(f"Wrote {target}. Review it, then run: {then}")
    if not (Path.cwd() / SCHEMA_PATH).exists():
        console.info(
            f"Its first line points editors at {SCHEMA_PATH}, which is not here: "
            f"`{schema_command()}` writes it."
        )
    return ExitCode.OK


def _schema_ref(target: Path) -> str:
    """The schema line's path: ``schemas/mappings.schema.json`` of the folder init runs in (the
    repository root), relative to the file, as the shipped config/mappings.yaml has it."""
    folder = Path(os.path.abspath(target)).parent
    # A byte that is not UTF-8 in a folder's name cannot be written in the UTF-8 draft, and a
    # line break would end the comment line: each is written escaped (an editor's hint only).
    path = Path(os.path.relpath(Path.cwd() / SCHEMA_PATH, folder)).as_posix()
    return sanitize.text(sanitize.file_name(path))


def _refuse_existing(target: Path, force: bool) -> None:
    if os.path.lexists(target) and not force:
        raise _exists(target, "already exists")


def _exists(target: Path, happened: str) -> EntrasyncError:
    return EntrasyncError(
        f"{target} {happened}; init never writes over a file without --force",
        "pass --out FILE to write the draft elsewhere, or --force to replace it",
    )


def _checked(text: str, target: Path) -> LoadedConfig:
    """The draft as `plan` will load it; a draft that does not validate is never written."""
    try:
        name = sanitize.file_name(target.as_posix())
        return load_bytes(text.encode("utf-8"), name, schema_command=schema_command())
    except ConfigTooLarge as exc:  # no bug: a tenant of tens of thousands of groups
        raise ConfigError(
            "the draft is larger than a mappings file may be, so nothing was written",
            "draft from fewer groups: pass a SEARCH prefix, as `entrasync init NT-`",
            problems=exc.problems,
        ) from None
    except ConfigError as exc:
        raise ConfigError(
            "the drafted mappings do not validate, so nothing was written (a bug)",
            "report it with the problems below",
            problems=exc.problems,
        ) from None

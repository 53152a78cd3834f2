"""`entrasync plan`: read both sides, print the plan, save it, comment it on the pull request."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from entrasync.adapters.files import write_plan
from entrasync.adapters.github.actions import step_summary_room, try_step_summary
from entrasync.adapters.review.publish import publish_failure, publish_plan
from entrasync.commands import examples
from entrasync.config.loading import load_config
from entrasync.config.models import LoadedConfig
from entrasync.config.routing import TrustedRouting, require_trusted_routing
from entrasync.console import (
    Console,
    app_context,
    global_options,
    parallelism_option,
    path_value,
    trusted_config_option,
)
from entrasync.core.policy import policy_changes
from entrasync.core.wording import plural
from entrasync.errors import EntrasyncError, ExitCode
from entrasync.operations import planning
from entrasync.render import DATA_FORMATS, PLAN_FORMATS, Options
from entrasync.render.markdown import render_summary
from entrasync.render.truncate import NoRoom

if TYPE_CHECKING:
    from entrasync.core.plan import Plan


def show(plan: Plan, fmt: str, console: Console, *, config_path: str) -> None:
    """Print the plan in ``fmt``, piece by piece as it is rendered."""
    options = Options(color=console.color, config_path=config_path)
    console.result_lines(PLAN_FORMATS[fmt](plan, options), data=fmt in DATA_FORMATS)


@click.command(
    "plan",
    epilog=examples(
        "entrasync plan",
        "entrasync plan --out plan.json --detailed-exitcode",
        "entrasync plan --comment --trusted-config base/mappings.yaml   # on a pull request",
    ),
)
@click.option(
    "--out", type=click.Path(dir_okay=False), callback=path_value(), help="Save the plan file."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(PLAN_FORMATS)),
    default="text",
    show_default=True,
    help="How to print the plan.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when none, 1 on any error.",
)
@click.option(
    "--comment",
    is_flag=True,
    help="Create or update the sticky PR comment and set the PR's labels "
    "(GitHub, GitLab or Azure DevOps, detected from the CI); a plan that fails puts its "
    "error there instead and removes the labels.",
)
@parallelism_option()
@trusted_config_option()
@global_options
def command(
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    comment: bool,
    parallelism: int,
    trusted_config: Path | None,
) -> int:
    """Read Entra and NeuralTrust and show what apply would change."""

    ctx = app_context()
    console = ctx.console()
    try:
        loaded, plan, owners, compared = _make_plan(
            ctx.resolved_config_path, trusted_config, console, parallelism
        )
    except EntrasyncError as exc:
        if comment:  # every push edits the comment (docs/review-platforms.md), a failed one too
            _comment_failure(exc, ctx.config_name, console)
        raise

    # Saved before it is printed, so a reader that stops reading (`| head`) costs no file. One
    # that cannot be saved fails the command, but only after the reviewers have been shown the
    # plan: the job summary and the PR comment come first.
    unsaved: EntrasyncError | None = None
    if out is not None:
        try:
            write_plan(out, plan)
        except EntrasyncError as exc:
            unsaved = exc
    shown: list[str] = []  # the comment's URL, once the pull request shows the plan
    try:
        show(plan, fmt, console, config_path=loaded.path)
        if unsaved is not None:
            console.warn(f"the plan was not saved: {unsaved.message}")
        elif out is not None:
            console.info(f"Saved the plan to {out} (digest {plan.short_digest}).")
        room = step_summary_room(os.environ)
        if room is not None:
            try:
                summary = render_summary(plan, config_path=loaded.path, max_bytes=room)
            except NoRoom as exc:  # earlier steps' output filled it
                console.warn(f"the job summary was not written: {exc}")
            else:
                try_step_summary(summary, os.environ, console.warn)
        if comment:
            try:
                published = publish_plan(
                    plan,
                    config_path=loaded.path,
                    owner_roles=owners,
                    environ=os.environ,
                    settings_compared=compared,
                    posted=shown.append,
                )
            except EntrasyncError:  # the platform's refusal, or no answer from it
                console.warn("the plan above was computed, but updating the pull request failed")
                raise
            if published.superseded is not None:
                console.warn(f"plan comment {published.said()}")
            else:
                console.info(f"Plan comment: {published.url}")
                console.info(f"Labels: {', '.join(sorted(published.labels))}")
    except BaseException:  # a failure, a stop or a bug before the pull request shows the plan
        if comment and out is not None and unsaved is None and not shown:
            _withdraw(out, console)
        raise

    if plan.violations:
        for violation in plan.violations:
            console.warn(f"{violation.rule}: {violation.message}")
        console.warn(
            f"this plan breaks {plural(len(plan.violations), 'safety limit')}; apply refuses it "
            f"unless run with {plan.override_flag()}"
        )
    if unsaved is not None:
        raise unsaved
    if plan.violations:
        return ExitCode.ERROR
    if detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def _make_plan(
    path: Path, trusted_config: Path | None, console: Console, parallelism: int
) -> tuple[LoadedConfig, Plan, frozenset[str], bool]:
    """The config, its plan, the owner roles whose grants earn the "privileged" label (the
    config's, and the trusted config's when the change puts another role first), and whether
    the settings were compared with the trusted config's (no trusted config: nothing to do)."""
    # Before any connection: a config under review cannot choose where credentials go.
    loaded = load_config(path)
    trusted = require_trusted_routing(loaded, trusted_config)
    console.info(f"Using {loaded.path}")  # which file, when ENTRASYNC_CONFIG may be unset
    plan = planning.plan_from_sources(loaded, os.environ, console, parallelism=parallelism)
    owners = {loaded.config.owner_role}
    if isinstance(trusted, LoadedConfig):  # what the change does to the next runs' safeguards
        changed = policy_changes(trusted.config, loaded.config)
        plan = replace(plan, policy_changes=changed) if changed else plan
        owners.add(trusted.config.owner_role)
    elif trusted is not None:  # said with the plan: its settings were not compared
        plan = replace(plan, warnings=(*plan.warnings, trusted.warning))
        # Unreadable, any role may be the one the base ranks first.
        first = trusted.owner_role
        owners.update(loaded.config.roles if first is None else (first,))
    return loaded, plan, frozenset(owners), not isinstance(trusted, TrustedRouting)


def _comment_failure(error: EntrasyncError, config_path: str, console: Console) -> None:
    """Say on the pull request that this push has no plan; the error itself follows."""
    try:
        published = publish_failure(error, config_path=config_path, environ=os.environ)
    except EntrasyncError as exc:  # the plan's own error is the one to report
        hint = f" ({exc.hint})" if exc.hint else ""
        console.warn(
            "the pull request's comment could not be updated either, so it may still show an "
            f"earlier push's plan: {exc.message}{hint}"
        )
        return
    if published.superseded is not None:
        console.warn(f"plan comment (no plan) {published.said()}")
        return
    console.info(f"Plan comment (no plan): {published.url}")


def _withdraw(out: Path, console: Console) -> None:
    """Remove the plan file of a plan the pull request does not show: uploaded all the same,
    ``find-plan`` took it for the reviewed plan, and the after-merge report vouched for
    changes no reviewer saw. A FIFO, a device or a link is not a file to remove; it is said."""
    if out.is_file() and not out.is_symlink():
        out.unlink(missing_ok=True)
        console.warn(f"{out} was removed: the pull request is not known to show this plan")
    else:
        console.warn(f"{out} holds a plan the pull request is not known to show: do not use it")

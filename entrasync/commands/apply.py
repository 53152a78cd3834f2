"""`entrasync apply`: carry out a saved plan (or a fresh, confirmed one) and write the audit file.

A saved plan is checked, not trusted: it is applied only if the config is the one it was made
from, NeuralTrust still looks exactly as it did when the plan was made (``state_sha256``), a
plan made now from Entra and NeuralTrust makes every one of its changes identically (its
digest proves only that the file is whole: anyone can recompute it), and it passes the safety
checks again (or ``--force-unsafe`` names its digest). No plan, saved or fresh, may write a
``protected`` user. Applying the same plan twice is a no-op: when every change is already in
place the stale state is the plan's own doing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from entrasync.adapters import clock
from entrasync.adapters.audit.lock import apply_lock
from entrasync.adapters.files import read_plan
from entrasync.adapters.github.actions import STEP_SUMMARY_LIMIT, step_summary_room
from entrasync.adapters.http import UNKNOWN_WRITE_HINT
from entrasync.adapters.lockfile import require_flock
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.target import read_target
from entrasync.commands import examples, folder, hex_digest
from entrasync.commands.apply_evidence import Evidence, this_runs_override
from entrasync.config.loading import load_config
from entrasync.console import Console, app_context, global_options, parallelism_option, path_value
from entrasync.core.apply_rules import (
    PlanCheck,
    check_fresh,
    check_not_expired_since,
    check_protected,
    compare_changes,
    guard,
    held_to,
    refuse_other_digest,
    whole_plan_violations,
)
from entrasync.core.audit_record import tally
from entrasync.core.plan import short_digest
from entrasync.core.resolve import empty_groups, resolve
from entrasync.core.safety import check_safety
from entrasync.core.sanitize import name_text
from entrasync.core.wording import plural
from entrasync.errors import (
    ApplyError,
    AuditError,
    EntrasyncError,
    ExitCode,
    PlanFileError,
    SafetyError,
    StalePlanError,
)
from entrasync.operations import planning
from entrasync.operations.apply import apply_plan, describe
from entrasync.operations.stopping import Stopped, deferred_stop
from entrasync.render.apply_report import applied_lines
from entrasync.render.text import render_text
from entrasync.render.truncate import NoRoom

if TYPE_CHECKING:
    from entrasync.adapters.audit.writer import AuditWriter
    from entrasync.config.models import LoadedConfig
    from entrasync.core.apply_report import ApplyReport
    from entrasync.core.audit_record import Result
    from entrasync.core.model import Resolution, Target
    from entrasync.core.plan import Plan, Violation
    from entrasync.operations.apply import ChangeResult


class Now(NamedTuple):
    """What this run read: NeuralTrust, and for a saved plan the plan a fresh read makes."""

    target: Target
    fresh: Plan | None = None  # None for a plan made by this run
    empty_groups: tuple[str, ...] = ()  # synced groups that resolved to no user now
    resolution: Resolution | None = None  # what the mappings want now, for a saved plan


def _read_plan_file(path: Path, loaded: LoadedConfig) -> Plan:
    """The plan file, whole (its digest) and made from this config; read before any lock."""

    plan = read_plan(path)
    if plan.config_sha256 != loaded.sha256:
        raise PlanFileError(
            f"the plan {path} was made from a different config than {loaded.path} "
            f"(plan: {short_digest(plan.config_sha256)}, now: {short_digest(loaded.sha256)})",
            "run `entrasync plan --out FILE` with this config and apply the new plan",
        )
    return plan


def _now_for_saved(loaded: LoadedConfig, console: Console, parallelism: int) -> Now:
    """What a plan made now looks like: read both sides as `plan` does, to check the file."""

    sources = planning.read_located(loaded, os.environ, console, parallelism=parallelism)
    for warning in sources.warnings:  # a mapping expired since the plan: why it may be stale
        console.warn(warning)
    resolution = resolve(loaded.config, sources.directory)  # for the limits' re-check too
    fresh = sources.plan(loaded, resolution)
    return Now(sources.target, fresh, empty_groups(sources.directory), resolution)


def _say_left_out(check: PlanCheck | None, console: Console) -> None:
    """Changes a fresh plan makes beyond the saved one were not reviewed: say so, apply none."""
    count = len(check.unreviewed) if check is not None else 0
    if count:
        console.warn(
            f"{plural(count, 'change')} found now that the plan does not hold "
            f"{'was' if count == 1 else 'were'} not applied; run `entrasync plan` to review "
            f"{'it' if count == 1 else 'them'}"
        )


def _check_safety(
    plan: Plan,
    target: Target,
    loaded: LoadedConfig,
    force_unsafe: str | None,
    *,
    fresh: bool,
    empty_groups: tuple[str, ...] = (),
    resolution: Resolution | None = None,
    check: PlanCheck | None = None,
    now_plan: Plan | None = None,
) -> tuple[Violation, ...]:
    """Every violation (a fresh plan's own and those found again now; a saved plan's as
    :func:`entrasync.core.apply_rules.held_to` says), unless overridden.

    ``empty_groups``, ``resolution``: the synced groups Entra shows empty now and what the
    mappings want now (for a saved plan, whose own ``violations`` are not trusted: a file
    edited to drop them must still be refused; a plan made by this run carries them already).
    ``check``, ``now_plan``: a saved plan held against the plan made now, whose violations
    count too when the saved plan is only part of it.
    """

    found = whole_plan_violations(check, now_plan) + check_safety(
        plan, target, loaded.config, empty_groups=empty_groups, resolution=resolution
    )
    violations, unshown = held_to(plan.violations, found, fresh=fresh)
    return _guard(plan, violations, force_unsafe, fresh=fresh, unshown=unshown)


def _guard(
    plan: Plan,
    violations: tuple[Violation, ...],
    force_unsafe: str | None,
    *,
    fresh: bool,
    unshown: tuple[Violation, ...] = (),
) -> tuple[Violation, ...]:
    """:func:`guard`, with the GitHub instruction when the plan was made by this run."""
    instruction = this_runs_override(plan, os.environ) if fresh else None
    return guard(plan, violations, force_unsafe, instruction, unshown)


def _fresh_plan(loaded: LoadedConfig, console: Console, parallelism: int) -> Plan:

    return planning.plan_from_sources(loaded, os.environ, console, parallelism=parallelism)


def _confirm(auto_approve: bool) -> bool:
    """Whether the human said yes; end of input is a no. Ctrl-C raises KeyboardInterrupt, as
    anywhere else (click turns both into Abort)."""
    if auto_approve:
        return True
    try:
        return click.confirm("\nApply these changes?", default=False, err=True)
    except click.Abort as abort:
        click.echo(err=True)  # end the prompt's line
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return False


def _run(
    evidence: Evidence, client: ScimClient, parallelism: int, versions: dict[str, str]
) -> tuple[ApplyReport[ChangeResult], AuditWriter, int | None]:
    """The report, the audit and the signal that came once every change was made (while the
    audit was finished): the run is whole, and the exit is that signal's all the same."""

    console = evidence.console
    # From before the audit file exists until its last record: a signal stops new writes and
    # lets those in flight finish and be recorded (a second one cannot cut that short).
    with deferred_stop() as stop, evidence.start() as audit:
        try:
            report = apply_plan(
                evidence.plan,
                client,
                evidence.loaded.config,
                audit,
                parallelism=parallelism,
                on_result=lambda r: console.progress(
                    f"{r.outcome}: {r.change.action.value} {name_text(r.change.user)}"
                ),
                stop=stop,
                versions=versions,
            )
        except Stopped as exc:
            console.progress_done()
            if exc.report is not None:
                _say_stopped(evidence, exc.report, audit)
            raise
        console.progress_done()
        try:
            audit.finish(report.counts)
        except AuditError:  # its error follows: what the run did must not be lost with it
            console.warn(f"apply ran ({tally(report.counts)}) but could not finish its audit file")
            for line in describe((*report.failed, *report.skipped)):
                console.warn(f"  {line}")
            raise
    return report, audit, stop.signum


def _say_stopped(evidence: Evidence, report: ApplyReport[ChangeResult], audit: AuditWriter) -> None:
    """What a stopped apply did, where its record is, and what to do next (the log and the
    job summary): a cancelled CI job shows no progress lines."""
    console, plan = evidence.console, evidence.plan
    counts = report.counts
    left = len(plan.changes) - sum(counts.values())
    console.warn(
        f"apply stopped: {tally(counts)}, {left} not started; audit {audit.path} (incomplete, "
        f"last record sha256 {audit.head_sha256})"
    )
    console.warn(
        "run `entrasync plan` to see what is left and apply the new plan: changes already "
        "made are recognised and not repeated"
    )
    evidence.summary(_applied(evidence, report, f"Stopped: {left} not started."), audit)


def _prepare(
    evidence: Evidence, client: ScimClient, now: Now | None, auto_approve: bool
) -> Result | Target:
    """Check the plan against NeuralTrust (and a saved one against a plan made now); a result
    when nothing is to be applied, else NeuralTrust as last read (its users' versions go with
    the writes)."""

    plan, console, loaded = evidence.plan, evidence.console, evidence.loaded
    if now is None:  # a fresh plan: show it first, whatever happens next
        console.result(render_text(plan, color=console.color))
        if not plan.has_changes:
            refuse_other_digest(plan, evidence.force_unsafe, plan.violations)  # as below
            return "no changes"
        _guard(plan, plan.violations, evidence.force_unsafe, fresh=True)  # before asking
        try:
            confirmed = _confirm(auto_approve)
        except (KeyboardInterrupt, Stopped) as stop:  # on record as cancelled, then 130 or 143
            if isinstance(stop, Stopped):
                click.echo(err=True)  # end the prompt's line, as Ctrl-C's is
            evidence.nothing_applied("cancelled")
            raise
        if not confirmed:
            return "cancelled"  # said once, as the error below
        # Re-read after the prompt: NeuralTrust may have changed while the human read.
        now = Now(read_target(loaded.config, client))
    target = now.target
    check_protected(plan, target, loaded.config.protected_keys)  # first: it names the user
    check = compare_changes(plan.changes, now.fresh.changes) if now.fresh is not None else None
    in_step = check_fresh(plan, target, check)
    if plan.has_changes and in_step:
        evidence.overridden = _check_safety(
            plan,
            target,
            loaded,
            evidence.force_unsafe,
            fresh=evidence.fresh,
            empty_groups=now.empty_groups,
            resolution=now.resolution,
            check=check,
            now_plan=now.fresh,
        )
    else:  # nothing to write; a digest of no plan is refused all the same: it goes on record
        # (with a saved plan's violations untold: only those found now are in apply's words)
        refuse_other_digest(plan, evidence.force_unsafe, plan.violations if evidence.fresh else ())
    _say_left_out(check, console)  # once the plan is not refused: it is about what runs
    if not plan.has_changes:
        console.result("No changes.")
        return "no changes"
    if not in_step:
        console.result("This plan is already applied: NeuralTrust shows every change.")
        return "already applied"
    # Last, just before the first write: a prompt or a read may have crossed UTC midnight.
    made = now.fresh if now.fresh is not None else plan
    check_not_expired_since(loaded.config, made, clock.utc_today(), fresh=evidence.fresh)
    return target


@click.command(
    "apply",
    epilog=examples(
        "entrasync apply plan.json              # a saved plan, exactly; no prompt",
        "entrasync apply                        # plan afresh, show it, ask",
        "entrasync apply --auto-approve --audit-dir audit/",
    ),
)
@click.argument(
    "plan_file",
    required=False,
    type=click.Path(dir_okay=False, readable=False),
    callback=path_value(),
)
@click.option("--auto-approve", is_flag=True, help="Apply a fresh plan without asking.")
@click.option(
    "--audit-dir",
    type=click.Path(file_okay=False),
    default="audit",
    show_default=True,
    callback=folder,
    help="Folder for the audit file (JSON Lines, one per run).",
)
@click.option(
    "--force-unsafe",
    metavar="DIGEST",
    callback=lambda _ctx, _param, value: hex_digest(value, "the plan's digest", "--force-unsafe"),
    help="Apply despite safety violations.",
)
@parallelism_option("Concurrent SCIM writes.")
@global_options
def command(
    plan_file: Path | None,
    auto_approve: bool,
    audit_dir: Path,
    force_unsafe: str | None,
    parallelism: int,
) -> int:
    """Apply a saved plan (exactly), or plan afresh and apply after confirmation."""

    require_flock()  # Windows: said first, since nothing else would let apply run there
    ctx = app_context()
    console = ctx.console()
    if plan_file is None and not auto_approve and not sys.stdin.isatty():
        raise EntrasyncError(
            "apply without a plan file asks for confirmation, and there is no terminal to ask on",
            "pass --auto-approve, or apply a saved plan: `entrasync apply PLAN_FILE`",
        )
    loaded = load_config(ctx.resolved_config_path)
    saved = _read_plan_file(plan_file, loaded) if plan_file is not None else None
    # One apply at a time per audit folder, from before the first read to the end.
    click.get_current_context().with_resource(apply_lock(audit_dir))
    with ScimClient.from_env(loaded.config, os.environ, max_connections=parallelism) as client:
        # Failures up to the plan (config, plan file, token, network, a failed read of Entra
        # or NeuralTrust) leave no audit file: nothing was written. From then on every run
        # leaves one, refusals included.
        if saved is not None:
            plan, now = saved, _now_for_saved(loaded, console, parallelism)
        else:
            plan, now = _fresh_plan(loaded, console, parallelism), None
        evidence = Evidence(plan, loaded, console, audit_dir, force_unsafe, plan_file is None)
        try:
            prepared = _prepare(evidence, client, now, auto_approve)
        except (SafetyError, StalePlanError) as exc:
            evidence.refused(exc)
            raise
        if isinstance(prepared, str):
            evidence.nothing_applied(prepared)
            if prepared == "cancelled":
                raise EntrasyncError("apply cancelled: nothing was changed")
            return ExitCode.OK
        for violation in evidence.overridden:
            console.warn(f"overridden with --force-unsafe: {violation.rule}: {violation.message}")
        written = {c.target_id for c in plan.changes}
        versions = {u.id: u.version for u in prepared.users if u.id in written and u.version}
        report, audit, signum = _run(evidence, client, parallelism, versions)
    # What follows the result is said whatever its write does: an output that refuses it (a
    # full disk) loses neither the audit file's anchor, the job summary nor the failures, and a
    # stop while it waits for its reader loses neither of the first two.
    unwritten: OSError | None = None
    try:
        try:
            console.result(f"Apply complete: {tally(report.counts)}.")
        except OSError as exc:
            unwritten = exc
    finally:
        console.info(f"Audit: {audit.path} (last record sha256 {audit.head_sha256})")
        evidence.summary(_applied(evidence, report), audit)
    if report.failed or report.skipped:
        listed = "\n".join(f"  {line}" for line in describe((*report.failed, *report.skipped)))
        # What to do about the failures themselves (a new token after a 401), then the rerun:
        # a write's "run again" is said by the rerun below (a saved plan's rerun is refused).
        hints = (r.hint for r in report.failed if r.hint and r.hint != UNKNOWN_WRITE_HINT)
        fixes = list(dict.fromkeys(hints))[:2]
        failed = ApplyError(
            f"{plural(len(report.failed), 'change')} failed and {len(report.skipped)} not "
            f"attempted:\n{listed}",
            f"{'; '.join(fixes) or 'fix the cause'}; then run `entrasync plan` and apply the new "
            "plan: changes already made are recognised and not repeated",
        )
        if signum is None and unwritten is None:
            raise failed
        # The exit is the signal's (or the output's); the failures, and what to do about them,
        # said all the same.
        for line in failed.message.split("\n"):  # a warning is one line: one per change
            console.warn(line)
        console.warn(f"hint: {failed.hint}")
    if signum is not None:
        raise Stopped(signum, report)
    if unwritten is not None:
        raise unwritten
    return ExitCode.OK


def _applied(
    evidence: Evidence, report: ApplyReport[ChangeResult], *after: str
) -> list[str] | None:
    """The job summary's lines of a run that applied (``after`` them), cut to the room the
    summary has left; None, with a warning, when not even its first line fits there."""
    unsuccessful = [(r.change, r.outcome, r.error) for r in (*report.failed, *report.skipped)]
    room = step_summary_room(os.environ)
    budget = STEP_SUMMARY_LIMIT if room is None else room
    try:
        lines = applied_lines(
            evidence.plan.digest,
            report.counts,
            unsuccessful,
            max(budget - _SUMMARY_FRAME_BYTES, 0),
        )
    except NoRoom as exc:  # earlier steps' output filled it: the run's record is the audit
        evidence.console.warn(f"the job summary was not written: {exc}")
        return None
    return [*lines, *after]


# The job summary's heading and audit line around the table, and a "Stopped" line after it.
_SUMMARY_FRAME_BYTES = 1_024

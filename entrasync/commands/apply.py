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

from entrasync.commands.apply_evidence import Evidence, applied_lines, override_instruction
from entrasync.console import Console, app_context, global_options, parallelism_option
from entrasync.core.apply_rules import (
    PlanCheck,
    compare_changes,
    describe_change,
    describe_mismatch,
    listing,
    protected_writes,
)
from entrasync.core.wording import plural
from entrasync.errors import EntrasyncError, PlanFileError, SafetyError, StalePlanError

if TYPE_CHECKING:
    from entrasync.adapters.audit.writer import AuditWriter, Result
    from entrasync.adapters.scim.client import ScimClient
    from entrasync.config.models import LoadedConfig
    from entrasync.core.model import Target
    from entrasync.core.plan import Plan, Violation
    from entrasync.operations.apply import ApplyReport


class Now(NamedTuple):
    """What this run read: NeuralTrust, and for a saved plan the plan a fresh read makes."""

    target: Target
    fresh: Plan | None = None  # None for a plan made by this run
    empty_groups: tuple[str, ...] = ()  # synced groups that resolved to no user now


def _read_plan_file(path: Path, loaded: LoadedConfig) -> Plan:
    """The plan file, whole (its digest) and made from this config; read before any lock."""
    from entrasync.adapters.files import read_plan

    plan = read_plan(path)
    if plan.config_sha256 != loaded.sha256:
        raise PlanFileError(
            f"the plan {path} was made from a different config than {loaded.path} "
            f"(plan: {plan.config_sha256[:12]}, now: {loaded.sha256[:12]})",
            "run `entrasync plan --out FILE` with this config and apply the new plan",
        )
    return plan


def _now_for_saved(loaded: LoadedConfig, console: Console, parallelism: int) -> Now:
    """What a plan made now looks like: read both sides as `plan` does, to check the file."""
    from entrasync.core.resolve import empty_groups
    from entrasync.operations import planning as pipeline

    sources, fresh = pipeline.sources_and_plan(loaded, os.environ, console, parallelism=parallelism)
    return Now(sources.target, fresh, empty_groups(sources.directory))


def _check_fresh(plan: Plan, target: Target, check: PlanCheck | None = None) -> bool:
    """False when the plan is already applied (a no-op); raise when it is stale or edited.

    ``check``: the saved plan held against a plan made now (None for a plan made by this run).

    A plan applied in part (a failed or interrupted run) is not finished by re-running it:
    NeuralTrust no longer matches its ``state_sha256``, so it is refused as stale unless every
    change is in place, and a new plan, which holds exactly the changes still to make, finishes
    the job. So the recomputation is compared only against a NeuralTrust that is as the plan saw
    it, where every change of a genuine plan is one a fresh plan makes too.
    """
    from entrasync.operations.apply import count_in_place

    if target.scim_url.rstrip("/") != plan.scim_url.rstrip("/"):
        raise StalePlanError(
            f"the plan was made against {plan.scim_url}, not {target.scim_url}",
            "point NEURALTRUST_SCIM_URL at the plan's endpoint, or make a new plan",
        )
    if target.state_sha256 == plan.state_sha256:
        if check is not None:
            _refuse_unproduced(check)
        return True
    done = count_in_place(plan.changes, target.users)
    if done == len(plan.changes):
        return False
    raise StalePlanError(
        "stale plan: NeuralTrust changed since the plan was made (state "
        f"{plan.state_sha256[:12]} then, {target.state_sha256[:12]} now; {done} of "
        f"{len(plan.changes)} planned changes already in place)",
        "nothing was changed; run `entrasync plan` again and apply the new plan",
    )


def _refuse_unproduced(check: PlanCheck) -> None:
    """Refuse a plan holding changes a fresh plan does not make (from the same config and
    NeuralTrust state, so only Entra or an edit of the file can explain them)."""
    if not check.unproduced:
        return
    listed = listing([describe_mismatch(m) for m in check.unproduced])
    raise StalePlanError(
        f"the plan holds {plural(len(check.unproduced), 'change')} a fresh plan does not make: "
        f"{listed}; nothing was changed. NeuralTrust and the config are as the plan saw them, "
        "so either this is a stale plan (Entra changed since the plan) or the plan file was "
        "edited after it was written",
        "make a new plan with `entrasync plan --out FILE`, review it, and apply it",
    )


def _check_protected(plan: Plan, target: Target, loaded: LoadedConfig) -> None:
    """No path writes a ``protected`` user: a plan holding such a change is refused whole."""
    found = protected_writes(plan.changes, loaded.config.protected_keys, target.users)
    if not found:
        return
    listed = listing([f"{describe_change(w.change)} (protected: {w.listed})" for w in found])
    raise SafetyError(
        f"the plan {plan.digest[:12]} would write {plural(len(found), 'protected user')}, "
        f"which entrasync never changes: {listed}; nothing was changed",
        "entrasync never plans such a change: if the plan file was edited, make a new plan "
        "with `entrasync plan --out FILE`; otherwise report this as a bug",
    )


def _say_left_out(check: PlanCheck | None, console: Console) -> None:
    """Changes a fresh plan makes beyond the saved one were not reviewed: say so, apply none."""
    count = len(check.unreviewed) if check is not None else 0
    if count:
        console.warn(
            f"{plural(count, 'change')} found now that the plan does not hold "
            f"{'was' if count == 1 else 'were'} not applied; run `entrasync plan` to review "
            f"{'it' if count == 1 else 'them'}"
        )


class UnsafePlanError(SafetyError):
    """A refusal for safety: the violations are kept for the audit and the job summary."""

    def __init__(self, message: str, hint: str, violations: tuple[Violation, ...]) -> None:
        super().__init__(message, hint)
        self.violations = violations


def _check_safety(
    plan: Plan,
    target: Target,
    loaded: LoadedConfig,
    force_unsafe: str | None,
    *,
    fresh: bool,
    empty_groups: tuple[str, ...] = (),
) -> tuple[Violation, ...]:
    """Every violation (stored in the plan or found again now), unless overridden.

    ``empty_groups``: the synced groups Entra shows empty now (for a saved plan; a plan made
    by this run carries that violation already).
    """
    from entrasync.core.safety import check_safety

    found = check_safety(plan, target, loaded.config, empty_groups=empty_groups)
    violations = tuple(dict.fromkeys((*plan.violations, *found)))
    return _guard(plan, violations, force_unsafe, fresh=fresh)


def _guard(
    plan: Plan, violations: tuple[Violation, ...], force_unsafe: str | None, *, fresh: bool
) -> tuple[Violation, ...]:
    """Refuse violations unless ``--force-unsafe`` names this plan; a wrong digest is refused.

    ``fresh``: the plan was made by this run, so re-running the workflow makes the same plan
    (its digest leaves out ``created_at``) and the GitHub instruction applies.
    """
    if force_unsafe is not None and not plan.matches_digest(force_unsafe):
        raise UnsafePlanError(
            f"--force-unsafe {force_unsafe} does not name this plan (digest {plan.digest[:12]}); "
            "nothing was changed",
            "copy the digest from the plan output; a 12-character prefix is enough",
            violations,
        )
    if violations and force_unsafe is None:
        listed = "; ".join(f"{v.rule}: {v.message}" for v in violations)
        hint = f"make the change safe, or apply anyway with --force-unsafe {plan.digest[:12]}"
        instruction = override_instruction(plan, os.environ) if fresh else None
        if instruction:
            hint += f"; from GitHub: {instruction}"
        raise UnsafePlanError(
            f"the plan {plan.digest[:12]} breaks {plural(len(violations), 'safety limit')}, "
            f"nothing was changed: {listed}",
            hint,
            violations,
        )
    return violations


def _fresh_plan(loaded: LoadedConfig, console: Console, parallelism: int) -> Plan:
    from entrasync.operations import planning as pipeline

    return pipeline.plan_from_sources(loaded, os.environ, console, parallelism=parallelism)


def _confirm(auto_approve: bool) -> bool:
    return auto_approve or click.confirm("\nApply these changes?", default=False, err=True)


def _run(
    evidence: Evidence, client: ScimClient, parallelism: int
) -> tuple[ApplyReport, AuditWriter]:
    from entrasync.operations.apply import apply_plan
    from entrasync.operations.stopping import deferred_stop

    console = evidence.console
    # From before the audit file exists until its last record: a signal stops new writes and
    # lets those in flight finish and be recorded (a second one cannot cut that short).
    with deferred_stop() as stop, evidence.start() as audit:
        report = apply_plan(
            evidence.plan,
            client,
            evidence.loaded.config,
            audit,
            parallelism=parallelism,
            on_result=lambda r: console.progress(
                f"{r.outcome}: {r.change.action.value} {r.change.user}"
            ),
            stop=stop,
        )
        console.progress_done()
        audit.finish(report.counts)
    return report, audit


def _prepare(
    evidence: Evidence, client: ScimClient, now: Now | None, auto_approve: bool
) -> Result | None:
    """Check the plan against NeuralTrust (and a saved one against a plan made now); a result
    when nothing is to be applied."""
    from entrasync.adapters.scim.target import read_target

    plan, console, loaded = evidence.plan, evidence.console, evidence.loaded
    if now is None:  # a fresh plan: show it first, whatever happens next
        from entrasync.render.text import render_text

        console.result(render_text(plan, color=console.color))
        if not plan.has_changes:
            return "no changes"
        _guard(plan, plan.violations, evidence.force_unsafe, fresh=True)  # before asking
        if not _confirm(auto_approve):
            console.result("Apply cancelled: nothing was changed.")
            return "cancelled"
        # Re-read after the prompt: NeuralTrust may have changed while the human read.
        now = Now(read_target(loaded.config, client))
    target = now.target
    _check_protected(plan, target, loaded)  # first: its refusal names the user
    check = compare_changes(plan.changes, now.fresh.changes) if now.fresh is not None else None
    in_step = _check_fresh(plan, target, check)
    if plan.has_changes and in_step:
        evidence.overridden = _check_safety(
            plan,
            target,
            loaded,
            evidence.force_unsafe,
            fresh=evidence.fresh,
            empty_groups=now.empty_groups,
        )
    _say_left_out(check, console)  # once the plan is not refused: it is about what runs
    if not plan.has_changes:
        console.result("No changes.")
        return "no changes"
    if not in_step:
        console.result("This plan is already applied: NeuralTrust shows every change.")
        return "already applied"
    return None


@click.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply a fresh plan without asking.")
@click.option(
    "--audit-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("audit"),
    show_default=True,
    help="Folder for the audit file (JSON Lines, one per run).",
)
@click.option("--force-unsafe", metavar="DIGEST", help="Apply despite safety violations.")
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
    from entrasync.adapters.audit.lock import apply_lock
    from entrasync.adapters.scim.client import ScimClient
    from entrasync.config.models import load_config
    from entrasync.errors import ApplyError
    from entrasync.operations.apply import describe

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
        # Failures up to here (config, plan file, token, network) leave no audit file: no
        # NeuralTrust state was read. From here on every run leaves one, refusals included.
        if saved is not None:
            plan, now = saved, _now_for_saved(loaded, console, parallelism)
        else:
            plan, now = _fresh_plan(loaded, console, parallelism), None
        evidence = Evidence(plan, loaded, console, audit_dir, force_unsafe, plan_file is None)
        try:
            result = _prepare(evidence, client, now, auto_approve)
        except (SafetyError, StalePlanError) as exc:
            evidence.refused(exc)
            raise
        if result is not None:
            evidence.nothing_applied(result)
            if result == "cancelled":
                raise EntrasyncError("apply cancelled: nothing was changed")
            return 0
        for violation in evidence.overridden:
            console.warn(f"overridden with --force-unsafe: {violation.rule}: {violation.message}")
        report, audit = _run(evidence, client, parallelism)
    counts = report.counts
    console.result(
        f"Apply complete: {counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['skipped']} skipped."
    )
    console.info(f"Audit: {audit.path} (last record sha256 {audit.head_sha256})")
    evidence.summary(applied_lines(plan, report), audit)
    if report.failed or report.skipped:
        listed = "\n".join(f"  {line}" for line in describe((*report.failed, *report.skipped)))
        raise ApplyError(
            f"{plural(len(report.failed), 'change')} failed and {len(report.skipped)} not "
            f"attempted:\n{listed}",
            "fix the cause, then run `entrasync plan` and apply the new plan: changes already "
            "made are recognised and not repeated",
        )
    return 0

"""`entrasync apply`: carry out a saved plan (or a fresh, confirmed one) and write the audit file.

A saved plan is applied only if NeuralTrust still looks exactly as it did when the plan was
made (``state_sha256``), the config is the one it was made from, and it passes the safety
checks again (or ``--force-unsafe`` names its digest). Applying the same plan twice is a no-op:
when every change is already in place the stale state is the plan's own doing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from entrasync.commands.apply_evidence import Evidence, applied_lines, override_instruction
from entrasync.console import Console, app_context, global_options, parallelism_option
from entrasync.errors import EntrasyncError, PlanFileError, SafetyError, StalePlanError
from entrasync.wording import plural

if TYPE_CHECKING:
    from entrasync.apply import ApplyReport
    from entrasync.audit import AuditWriter, Result
    from entrasync.config import LoadedConfig
    from entrasync.model import Target
    from entrasync.plan import Plan, Violation
    from entrasync.scim.client import ScimClient


def _saved_plan(path: Path, loaded: LoadedConfig) -> Plan:
    from entrasync import plan as plan_module

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(
            f"cannot read the plan file {path}: {exc.strerror or exc}",
            "pass the file written by `entrasync plan --out`",
        ) from None
    plan = plan_module.loads(text, source=str(path))
    if plan.config_sha256 != loaded.sha256:
        raise PlanFileError(
            f"the plan {path} was made from a different config than {loaded.path} "
            f"(plan: {plan.config_sha256[:12]}, now: {loaded.sha256[:12]})",
            "run `entrasync plan --out FILE` with this config and apply the new plan",
        )
    return plan


def _check_fresh(plan: Plan, target: Target) -> bool:
    """False when the plan is already applied (a no-op); raise when it is stale."""
    from entrasync.apply import count_in_place

    if target.scim_url.rstrip("/") != plan.scim_url.rstrip("/"):
        raise StalePlanError(
            f"the plan was made against {plan.scim_url}, not {target.scim_url}",
            "point NEURALTRUST_SCIM_URL at the plan's endpoint, or make a new plan",
        )
    if target.state_sha256 == plan.state_sha256:
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


class UnsafePlanError(SafetyError):
    """A refusal for safety: the violations are kept for the audit and the job summary."""

    def __init__(self, message: str, hint: str, violations: tuple[Violation, ...]) -> None:
        super().__init__(message, hint)
        self.violations = violations


def _check_safety(
    plan: Plan, target: Target, loaded: LoadedConfig, force_unsafe: str | None, *, fresh: bool
) -> tuple[Violation, ...]:
    """Every violation (stored in the plan or found again now), unless overridden."""
    from entrasync.safety import check_safety

    found = check_safety(plan, target, loaded.config, empty_groups=())
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
    from entrasync import pipeline

    return pipeline.plan_from_sources(loaded, os.environ, console, parallelism=parallelism)


def _confirm(auto_approve: bool) -> bool:
    return auto_approve or click.confirm("\nApply these changes?", default=False, err=True)


def _run(
    evidence: Evidence, client: ScimClient, parallelism: int
) -> tuple[ApplyReport, AuditWriter]:
    from entrasync.apply import apply_plan

    console = evidence.console
    with evidence.start() as audit:
        report = apply_plan(
            evidence.plan,
            client,
            evidence.loaded.config,
            audit,
            parallelism=parallelism,
            on_result=lambda r: console.progress(
                f"{r.outcome}: {r.change.action.value} {r.change.user}"
            ),
        )
        console.progress_done()
        audit.finish(report.counts)
    return report, audit


def _prepare(
    evidence: Evidence, client: ScimClient, target: Target | None, auto_approve: bool
) -> Result | None:
    """Check the plan against NeuralTrust; a result when nothing is to be applied."""
    from entrasync.scim.target import read_target

    plan, console, loaded = evidence.plan, evidence.console, evidence.loaded
    if target is None:  # a fresh plan: show it first, whatever happens next
        from entrasync.render.text import render_text

        console.result(render_text(plan, color=console.color))
        if not plan.has_changes:
            return "no changes"
        _guard(plan, plan.violations, evidence.force_unsafe, fresh=True)  # before asking
        if not _confirm(auto_approve):
            console.result("Apply cancelled: nothing was changed.")
            return "cancelled"
        # Re-read after the prompt: NeuralTrust may have changed while the human read.
        target = read_target(loaded.config, client)
    in_step = _check_fresh(plan, target)
    if not plan.has_changes:
        console.result("No changes.")
        return "no changes"
    if not in_step:
        console.result("This plan is already applied: NeuralTrust shows every change.")
        return "already applied"
    evidence.overridden = _check_safety(
        plan, target, loaded, evidence.force_unsafe, fresh=evidence.fresh
    )
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
    from entrasync.apply import describe
    from entrasync.config import load_config
    from entrasync.errors import ApplyError
    from entrasync.scim.client import ScimClient
    from entrasync.scim.target import read_target

    ctx = app_context()
    console = ctx.console()
    if plan_file is None and not auto_approve and not sys.stdin.isatty():
        raise EntrasyncError(
            "apply without a plan file asks for confirmation, and there is no terminal to ask on",
            "pass --auto-approve, or apply a saved plan: `entrasync apply PLAN_FILE`",
        )
    loaded = load_config(ctx.resolved_config_path)
    with ScimClient.from_env(loaded.config, os.environ, max_connections=parallelism) as client:
        # Failures up to here (config, plan file, token, network) leave no audit file: no
        # NeuralTrust state was read. From here on every run leaves one, refusals included.
        if plan_file is not None:
            plan = _saved_plan(plan_file, loaded)
            target: Target | None = read_target(loaded.config, client)
        else:
            plan, target = _fresh_plan(loaded, console, parallelism), None
        evidence = Evidence(plan, loaded, console, audit_dir, force_unsafe, plan_file is None)
        try:
            result = _prepare(evidence, client, target, auto_approve)
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


COMMANDS = [command]

"""The evidence an apply run leaves, whatever its end: the audit file and the job summary.

Every run that read NeuralTrust leaves one audit file: the applied ones (via
:meth:`Evidence.start`), and the ones that applied nothing, refusals included (via
:meth:`Evidence.nothing_applied`), so the chain of evidence has no gaps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from entrasync.adapters.audit.writer import AuditWriter
from entrasync.adapters.github.actions import try_step_summary, workflow_name
from entrasync.console import Console
from entrasync.errors import AuditError, EntrasyncError
from entrasync.render.apply_report import apply_summary, override_instruction
from entrasync.render.markdown import escape

if TYPE_CHECKING:
    from entrasync.config.models import LoadedConfig
    from entrasync.core.audit_record import Result
    from entrasync.core.plan import Plan, Violation


def this_runs_override(
    plan: Plan, environ: Mapping[str, str], *, markdown: bool = False
) -> str | None:
    """How to re-run the GitHub workflow with the override, when running in one. A scheduled
    run (sync.yml) has no override input and is run by no one: the apply workflow is the one
    to run by hand (docs/github-setup.md, "Scheduled sync")."""
    workflow = workflow_name(environ)
    if workflow and environ.get("GITHUB_EVENT_NAME") == "schedule":
        workflow = SCHEDULED_OVERRIDE
    return override_instruction(workflow, plan.digest, markdown=markdown) if workflow else None


SCHEDULED_OVERRIDE = "the apply workflow (apply.yml)"


@dataclass
class Evidence:
    """Everything a run's audit file and job summary need, whatever the run's end."""

    plan: Plan
    loaded: LoadedConfig
    console: Console
    audit_dir: Path
    force_unsafe: str | None
    fresh: bool
    overridden: tuple[Violation, ...] = ()

    def start(self, *, writes: bool = True) -> AuditWriter:
        """The run's audit file; ``writes``: the run may write to NeuralTrust, so the plan it
        applies is written beside the file first."""
        return AuditWriter.start(
            self.audit_dir,
            plan=self.plan,
            plan_beside=writes,
            config_sha256=self.loaded.sha256,
            force_unsafe=self.force_unsafe,
            overridden=self.overridden,
            environ=os.environ,
            unwritten=self.unrecorded,
        )

    def unrecorded(self, line: str) -> None:
        """A change record the audit file could not take, on stderr, so the CI log keeps it."""
        self.console.progress_done()
        click.echo(line, file=self.console.err)

    def nothing_applied(self, result: Result, error: EntrasyncError | None = None) -> None:
        """An audit file (started + finished, zero counts) for a run that changed nothing."""
        violations = getattr(error, "violations", ())
        with self.start(writes=False) as audit:
            audit.finish(
                result=result,
                reason=error.message if error else None,
                violations=violations,
            )
        self.console.info(f"Audit: {audit.path} (last record sha256 {audit.head_sha256})")
        lines = [f"Plan `{self.plan.short_digest}`: nothing applied ({result})."]
        if error is not None:
            lines += ["", escape(error.message)]
            instruction = (
                this_runs_override(self.plan, os.environ, markdown=True) if self.fresh else None
            )
            if violations and instruction:
                lines += [
                    "",
                    f"To apply anyway once the override is agreed: {instruction} (the run "
                    "still needs the environment's approval).",
                ]
        self.summary(lines, audit)

    def refused(self, error: EntrasyncError) -> None:
        """Keep the evidence of a refusal; a failure to write it must not hide the refusal."""
        try:
            self.nothing_applied("refused", error)
        except AuditError as exc:
            self.console.warn(f"the refusal below was not audited: {exc.message}")

    def summary(self, lines: list[str] | None, audit: AuditWriter) -> None:
        """The run's job summary, when there is one and ``lines`` were made to fit it."""
        if lines is None or not os.environ.get("GITHUB_STEP_SUMMARY"):
            return
        text = apply_summary(lines, audit.path.name, audit.records, audit.head_sha256)
        try_step_summary(text, os.environ, self.console.warn)

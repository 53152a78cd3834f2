"""`entrasync audit verify FILE`: check an audit file's hash chain (docs/plan-and-audit.md)."""

from __future__ import annotations

from pathlib import Path

import click

from entrasync.adapters.audit.chain import verify_audit
from entrasync.commands import examples, hex_digest
from entrasync.console import app_context, output_options, path_value, reads_no_config
from entrasync.errors import AuditError, ExitCode


@click.group(
    "audit",
    epilog=examples(
        "entrasync audit verify audit/entrasync-apply-20261205T010203Z-cc74ae969107.jsonl"
    ),
)
@output_options
def audit_group() -> None:
    """Check the audit files `entrasync apply` writes."""


@audit_group.command(
    "verify",
    short_help="Check an audit file's hash chain.",
    epilog=examples(
        "entrasync audit verify audit/entrasync-apply-20261205T010203Z-cc74ae969107.jsonl",
        "entrasync audit verify FILE --expect-sha256 $LAST_SHA256",
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, readable=False), callback=path_value())
@click.option(
    "--expect-sha256",
    metavar="HASH",
    help="The last record's sha256 (64 hex characters) as published elsewhere (job summary, "
    "log): the file must end with exactly that record.",
)
@output_options
@reads_no_config
def verify(file: Path, expect_sha256: str | None) -> int:
    """Check FILE's hash chain; exit 1 naming the first bad record, or if the run is incomplete."""
    expected = hex_digest(
        expect_sha256, "the last record's sha256", "--expect-sha256", prefix=False
    )
    verdict = verify_audit(file)
    if not verdict.intact:
        raise AuditError(
            f"{file}: {verdict.describe()}",
            "the file is not as apply wrote it (edited, reordered, or cut short by a crash or a "
            "full disk): take the copy from the apply run's artifact (its digest is on the run "
            "page) and verify that",
        )
    if expected is not None and not (verdict.head_sha256 or "").startswith(expected):
        raise AuditError(
            f"{file}: the chain is intact but ends at sha256 {verdict.head_sha256}, not at "
            f"{expect_sha256}: records were added, removed or rewritten as a whole",
            "use the audit file from the run's artifact",
        )
    if not verdict.complete:
        raise AuditError(
            f"{file}: {verdict.describe()}",
            "check the apply run's log, then run `entrasync plan` to see what is left to do",
        )
    console = app_context().console()
    console.result(verdict.describe())
    if verdict.run is not None:
        console.result(f"run: {verdict.run}")
    console.result(f"last sha256: {verdict.head_sha256}")
    return ExitCode.OK

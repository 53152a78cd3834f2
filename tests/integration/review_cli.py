"""What the review platforms' CLI tests share: a config of the running sandbox, the CLI run
with a CI's environment, an audit file as apply writes it, and the secrets to look for."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.adapters.audit.writer import AuditWriter
from entrasync.cli import main
from entrasync.core.plan import Plan
from entrasync.sandbox.runner import RunningSandbox


def write_config(sandbox: RunningSandbox, root: Path) -> Path:
    path = root / "config" / "mappings.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sandbox.config_yaml, encoding="utf-8")
    return path


def run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], cwd: Path, *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    return main(list(args))


def plan_comment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], root: Path) -> int:
    """``entrasync plan --comment --detailed-exitcode`` of ``root/config/mappings.yaml``."""
    args = ("plan", "--config", "config/mappings.yaml", "--comment", "--detailed-exitcode")
    return run(monkeypatch, env, root, *args)


def write_audit(directory: Path, plan: Plan) -> Path:
    writer = AuditWriter.start(directory, plan=plan, environ={}, git_commit=lambda: None)
    for c in plan.changes:
        writer.change(c, outcome="succeeded")
    writer.finish()
    return writer.path


def secrets(sandbox: RunningSandbox, *tokens: str) -> tuple[str, ...]:
    return (
        sandbox.environ["NEURALTRUST_SCIM_TOKEN"],
        sandbox.environ["AZURE_CLIENT_SECRET"],
        *tokens,
    )

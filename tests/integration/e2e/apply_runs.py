"""`entrasync apply` as a process of its own, against the Graph emulator and a SCIM sandbox on
loopback: for what only a real process shows (signals, file size limits, two runs at once).

The tenant has one synced group of ``MANY`` people and NeuralTrust starts empty, so a fresh
plan is ``MANY`` creates; with the sandbox's latency each write takes a while, and a test can
act while some are in flight and many are still to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entrasync.adapters.audit.chain import verify_audit
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser

TENANT_ID = "3c0ffee0-0000-4000-8000-000000000001"
CLIENT_ID = "3c0ffee0-0000-4000-8000-000000000002"
GROUP_ID = "3c0ffee0-0000-4000-8000-000000000003"
SECRET = "fake-apply-runs-client-secret-for-tests"
TOKEN = "fake-apply-runs-scim-token-for-tests"
MANY = 40
PARALLELISM = 4

CONFIG = f"""\
version: 1
entra:
  tenant_id: {TENANT_ID}
  client_id: {CLIENT_ID}
neuraltrust:
  role_attribute: roles
  products_attribute: entitlements
roles: [owner, admin, member]
limits:
  min_owners: 0
mappings:
  - id: {GROUP_ID}
    name: NT-Many
    role: member
"""
# Variables a developer's shell or CI may hold that must not reach the child.
_DROPPED = (
    "ENTRASYNC_GRAPH_TOKEN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "CI",
)


def tenant() -> SandboxTenant:
    users = tuple(
        SandboxUser(
            id=f"3c0ffee0-0000-4000-9000-{n:012d}",
            user_principal_name=f"person{n:03d}@contoso.com",
            mail=f"person{n:03d}@contoso.com",
            display_name=f"Person {n}",
        )
        for n in range(MANY)
    )
    group = SandboxGroup(GROUP_ID, "NT-Many", user_ids=tuple(u.id for u in users))
    return SandboxTenant(TENANT_ID, CLIENT_ID, users, (group,))


@dataclass
class Finished:
    code: int
    out: str
    err: str


@dataclass
class World:
    """The two servers, a workspace, and a way to start apply against them."""

    graph: GraphEmulator
    tmp: Path
    make_scim: Callable[..., ScimSandbox]
    scim: ScimSandbox
    audit_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, scim: ScimSandbox | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        ca = self.graph.ca_pem_path or ""
        return {
            **base,
            "AZURE_TENANT_ID": TENANT_ID,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": SECRET,
            "AZURE_AUTHORITY_HOST": self.graph.base_url,
            "ENTRASYNC_GRAPH_URL": self.graph.base_url,
            "SSL_CERT_FILE": ca,
            "REQUESTS_CA_BUNDLE": ca,
            "NEURALTRUST_SCIM_URL": (scim or self.scim).url,
            "NEURALTRUST_SCIM_TOKEN": TOKEN,
            "ENTRASYNC_CONFIG": str(self.tmp / "mappings.yaml"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_COLOR": "1",
            **self.env,
        }

    def command(self, *extra: str) -> list[str]:
        return [
            "apply",
            "--auto-approve",
            "--audit-dir",
            str(self.audit_dir),
            "--parallelism",
            str(PARALLELISM),
            *extra,
        ]

    def start(
        self, *extra: str, prelude: str = "", scim: ScimSandbox | None = None
    ) -> subprocess.Popen[str]:
        """``python -m entrasync apply --auto-approve ...``; ``prelude``: Python the child runs
        first (e.g. to lower a limit), in the child itself, not in this threaded process."""
        code = f"{prelude}\nimport runpy; runpy.run_module('entrasync', run_name='__main__')"
        return subprocess.Popen(
            [sys.executable, "-c", code, *self.command(*extra)],
            cwd=self.tmp,
            env=self.environ(scim),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def created(self) -> set[str]:
        """The users NeuralTrust holds now (it started empty: each was created by apply)."""
        return {str(u["userName"]).lower() for u in self.scim.users()}

    def audit_records(self) -> list[dict[str, Any]]:
        [path] = sorted(self.audit_dir.glob("*.jsonl"))
        return [json.loads(line) for line in path.read_text().splitlines()]

    def audit_file(self) -> Path:
        [path] = sorted(self.audit_dir.glob("*.jsonl"))
        return path


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> Finished:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"apply did not end within {timeout}s:\n{err}") from None
    return Finished(proc.returncode, out, err)


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if proc.poll() is not None:
            done = finish(proc)
            raise AssertionError(f"apply ended ({done.code}) before {what}:\n{done.err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def change_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == "change"]


def assert_intact(path: Path) -> None:
    verdict = verify_audit(path)
    assert verdict.intact, verdict.describe()

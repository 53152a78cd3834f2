"""`entrasync plan` and `apply` through the real entry point against SCIM servers whose paging
misbehaves (demo tenant: Graph emulator + scim2-server, three pages of two users)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import serve_both

WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScimSandbox]:
    demo = demo_tenant()
    users, config = demo.scim_users, demo.config_yaml
    with serve_both(demo.tenant, users, config, tmp_path, monkeypatch, max_results=2) as served:
        yield served.scim


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def writes(sandbox: ScimSandbox) -> int:
    return sum(sandbox.counters.by_method.get(method, 0) for method in WRITES)


def test_plan_against_a_server_ignoring_start_index_exits_1_and_writes_no_plan(
    sandbox: ScimSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.reads.ignore_start_index = True
    code, out, err = run(capsys, "plan", "--out", "plan.json")
    assert code == 1
    assert (
        "error: the NeuralTrust user list could not be read completely: the page asked for at "
        "startIndex 3 came back as startIndex 1: the server does not page by startIndex"
    ) in err
    assert "hint: nothing was changed in NeuralTrust" in err
    assert "Traceback" not in err
    assert not Path("plan.json").exists()
    assert "create" not in out


def test_apply_against_a_server_ignoring_start_index_writes_nothing(
    sandbox: ScimSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "--out", "plan.json")
    assert code == 0, err
    sandbox.reads.ignore_start_index = True
    for args in (["apply", "plan.json"], ["apply", "--auto-approve"]):
        code, _, err = run(capsys, *args, "--audit-dir", "audit")
        assert code == 1
        assert "error: the NeuralTrust user list could not be read completely" in err
    assert writes(sandbox) == 0


def test_plan_against_a_server_capping_its_pages_is_complete(
    sandbox: ScimSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "--out", "whole.json")
    assert code == 0, err
    sandbox.reads.max_page_size = 1  # one user a page, though two are asked for
    code, _, err = run(capsys, "plan", "--out", "capped.json")
    assert code == 0, err
    whole, capped = (json.loads(Path(f"{name}.json").read_text()) for name in ("whole", "capped"))
    assert capped["changes"] == whole["changes"]
    assert capped["summary"] == whole["summary"]
    assert whole["summary"]["create"] >= 1  # the plan has something to miss

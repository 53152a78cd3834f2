"""`entrasync plan` and `apply` through the real entry point against SCIM servers whose paging
misbehaves (demo tenant: Graph emulator + scim2-server, three pages of two users)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import demo_tenant

SECRET = "complete-reads-client-secret"
TOKEN = "complete-reads-scim-token"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScimSandbox]:
    demo = demo_tenant()
    (tmp_path / "mappings.yaml").write_text(demo.config_yaml)
    with ExitStack() as stack:
        graph = stack.enter_context(GraphEmulator(demo.tenant, client_secret=SECRET).start())
        scim = stack.enter_context(ScimSandbox(TOKEN, seed=demo.scim_users, max_results=2))
        for name in ("ENTRASYNC_GRAPH_TOKEN", "GITHUB_STEP_SUMMARY", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        environ = {
            "AZURE_TENANT_ID": demo.tenant.tenant_id,
            "AZURE_CLIENT_ID": demo.tenant.client_id,
            "AZURE_CLIENT_SECRET": SECRET,
            "AZURE_AUTHORITY_HOST": graph.base_url,
            "ENTRASYNC_GRAPH_URL": graph.base_url,
            "SSL_CERT_FILE": graph.ca_pem_path or "",
            "REQUESTS_CA_BUNDLE": graph.ca_pem_path or "",
            "NEURALTRUST_SCIM_URL": scim.url,
            "NEURALTRUST_SCIM_TOKEN": TOKEN,
            "ENTRASYNC_CONFIG": str(tmp_path / "mappings.yaml"),
        }
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        yield scim


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

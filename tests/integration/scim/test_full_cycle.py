"""plan -> apply -> plan on the demo tenant (Graph emulator + SCIM sandbox), in both layouts."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.scim_server import EXTENSION_PRODUCTS, EXTENSION_ROLE, ScimSandbox
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import serve_both


@pytest.fixture(params=["core", "extension"], ids=["core roles/entitlements", "extension path"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ScimSandbox]:
    extension = request.param == "extension"
    demo = demo_tenant()
    config = demo.config_yaml
    if extension:
        config = config.replace("role_attribute: roles", f"role_attribute: {EXTENSION_ROLE}")
        config = config.replace(
            "products_attribute: entitlements", f"products_attribute: {EXTENSION_PRODUCTS}"
        )
    options = {"extension": extension}
    with serve_both(
        demo.tenant, demo.scim_users, config, tmp_path, monkeypatch, **options
    ) as served:
        yield served.scim


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_apply_plan_ends_with_no_changes(
    sandbox: ScimSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "--out", "plan.json")
    assert code == 0, err
    planned = json.loads(Path("plan.json").read_text())["summary"]
    assert planned["create"] >= 1
    assert planned["update"] >= 1

    code, out, err = run(capsys, "apply", "plan.json")
    assert code == 0, err
    total = sum(planned[a] for a in ("create", "update", "deactivate", "reactivate"))
    assert f"Apply complete: {total} succeeded, 0 failed, 0 skipped." in out

    code, out, err = run(capsys, "plan", "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes." in out

    writes = sandbox.counters.by_method.get("POST", 0) + sandbox.counters.by_method.get("PATCH", 0)
    code, out, err = run(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert "No changes." in out
    assert (
        sandbox.counters.by_method.get("POST", 0) + sandbox.counters.by_method.get("PATCH", 0)
        == writes
    )


def test_apply_without_a_plan_file_plans_and_applies_when_auto_approved(
    sandbox: ScimSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "apply", "--auto-approve", "--audit-dir", "audit")
    assert code == 0, err
    assert "entrasync will perform the following actions" in out
    assert "Apply complete:" in out
    assert len(list(Path("audit").glob("*.jsonl"))) == 1
    code, out, _ = run(capsys, "plan", "--detailed-exitcode")
    assert code == 0


class _Terminal(io.StringIO):
    """stdin that says it is a terminal and answers the prompt."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("answer", "code", "applied"),
    [("n\n", 1, False), ("y\n", 0, True)],
    ids=["answering no changes nothing", "answering yes applies"],
)
def test_apply_without_a_plan_file_asks_on_a_terminal(
    sandbox: ScimSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    applied: bool,
) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal(answer))

    result, out, err = run(capsys, "apply")

    assert result == code
    assert "Apply these changes?" in err
    assert ("Apply complete:" in out) is applied
    assert ("apply cancelled: nothing was changed" in err) is not applied
    assert (sandbox.counters.writes > 0) is applied

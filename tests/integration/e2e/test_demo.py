"""The whole loop through the real entry point: `entrasync demo` on the loopback sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from entrasync.adapters.audit.chain import verify_audit
from entrasync.cli import main
from entrasync.sandbox import runner

KNOWN_SECRETS = ("fake-demo-client-secret-for-tests", "fake-demo-scim-token-for-tests")


@pytest.fixture
def known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    values = iter(KNOWN_SECRETS)
    monkeypatch.setattr(runner, "new_credential", lambda: next(values))


def test_demo_runs_the_loop_and_ends_in_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], known_secrets: None
) -> None:
    code = main(["demo", "--dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    for step in ("1. Check the mappings", "2. Plan", "3. Apply", "4. Plan again", "5. Verify"):
        assert step in out
    first_plan, _, after_apply = out.partition("$ entrasync apply plan.json")
    assert "to create" in first_plan
    assert "No changes." in after_apply
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["summary"]["create"] >= 1
    assert plan["summary"]["deactivate"] == 1
    # After the sync, init drafts mappings that reproduce the demo's: nothing left over.
    assert "Residue: none. `entrasync plan` of this file changes nothing." in out
    assert (tmp_path / "config" / "drafted.yaml").is_file()
    assert "is removed" not in out
    audits = list((tmp_path / "audit").glob("*.jsonl"))
    assert len(audits) == 1
    verdict = verify_audit(audits[0])
    assert verdict.ok, verdict.describe()


def test_demo_without_a_folder_says_its_draft_is_gone_and_how_to_keep_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # init's line says "Wrote config/drafted.yaml": that file went with the demo's folder.
    assert "The demo's folder (its config/drafted.yaml, plan.json and audit/) is removed;" in out
    assert "`entrasync demo --dir DIR` keeps them." in out
    assert "Files kept in" not in out


def test_demo_runs_again_in_the_same_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "new_credential", lambda: "a-credential-for-two-demo-runs")
    assert main(["demo", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    code = main(["demo", "--dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Residue: none." in out
    assert len(list((tmp_path / "audit").glob("*.jsonl"))) == 2


def test_demo_never_shows_or_writes_its_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], known_secrets: None
) -> None:
    assert main(["demo", "--dir", str(tmp_path), "-vv"]) == 0
    out, err = capsys.readouterr()
    written = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in tmp_path.rglob("*") if p.is_file()
    )
    for secret in KNOWN_SECRETS:
        assert secret not in out
        assert secret not in err
        assert secret not in written


def test_demo_is_plain_when_not_on_a_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrasync", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout + result.stderr
    assert "No changes." in result.stdout

"""`entrasync validate FILE...`: each file checked, all of them, each problem at file:line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from entrasync.cli import main

GOOD = "version: 1\nmappings:\n  - {name: NT-Team, role: member}\n"
BAD_ROLE = "version: 1\nroles: [owner, member]\nmappings:\n  - name: NT-Team\n    role: admn\n"
BAD_SYNTAX = "version: 1\nmappings: [\n"
TENANT = "entra:\n  tenant_id: 11111111-2222-3333-4444-555555555555\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run where the files are, so messages name them as a hook passes them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    for name, text in {
        "good.yaml": GOOD,
        "bad-role.yaml": BAD_ROLE,
        "bad-syntax.yaml": BAD_SYNTAX,
        "tenant.yaml": "version: 1\n" + TENANT,
    }.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_every_file_is_checked_and_each_problem_is_named_at_file_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", "bad-role.yaml", "good.yaml", "bad-syntax.yaml"])
    out, err = capsys.readouterr()
    assert code == 1
    # The valid file between the broken ones is still checked and summarised.
    assert out.splitlines() == [
        "good.yaml is valid: 1 mapping (1 synced), roles owner > admin > member, on_removed keep"
    ]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: bad-role.yaml has 1 problem", "error: bad-syntax.yaml has 1 problem"]
    assert "  bad-role.yaml:5:11: mappings[0].role: 'admn' is not one of owner, member" in err
    assert "  bad-syntax.yaml:3:1: YAML syntax error" in err
    assert err.count("hint: fix ") == 2
    assert "Traceback" not in err


def test_all_files_valid_exits_0_with_one_summary_each(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "good.yaml", "tenant.yaml"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(" is valid")[0] for line in out.splitlines()] == ["good.yaml", "tenant.yaml"]
    assert err == ""


def test_a_missing_file_fails_without_hiding_the_others(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "gone.yaml", "good.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("good.yaml is valid")
    assert err.startswith(f"error: config file gone.yaml not found in {folder}\n")


def test_a_file_the_user_may_not_read_is_left_to_entrasync_to_report(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """click refused the whole command line when one FILE was unreadable (by os.access, which
    root never fails: patched here), so no other file was checked; entrasync reads each file
    itself and names what it cannot read."""
    real_access = os.access
    denied: list[str] = []

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if Path(path).name == "tenant.yaml":
            denied.append(str(path))
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    assert main(["validate", "tenant.yaml", "good.yaml"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(" is valid")[0] for line in out.splitlines()] == ["tenant.yaml", "good.yaml"]
    assert "not readable" not in err
    assert denied == []  # nothing asked os.access whether it may read


@pytest.mark.parametrize("name", ["bad\nerror: forged.yaml", "gone\nerror: forged.yaml"])
def test_a_line_break_in_a_files_name_forges_no_line_of_output(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-commit hook passes the names of committed files: a name is shown escaped in
    the error, its problems and its hint, as the summary of a valid file shows it."""
    if name.startswith("bad"):
        (folder / name).write_text(BAD_ROLE, encoding="utf-8")
    assert main(["validate", name, "good.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("good.yaml is valid")
    lines = err.splitlines()
    assert not any(line.startswith("error: forged") for line in lines)
    shown = name.replace("\n", "\\x0a")
    assert lines[0] in (
        f"error: {shown} has 1 problem",
        f"error: config file {shown} not found in {folder}",
    )


def test_files_replace_the_config_option_and_environment(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENTRASYNC_CONFIG", "bad-role.yaml")
    assert main(["--config", "bad-syntax.yaml", "validate", "good.yaml"]) == 0
    assert capsys.readouterr().out.startswith("good.yaml is valid")
    # Without FILE the config is validated, as before.
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.startswith("error: bad-role.yaml has 1 problem")


def test_the_trusted_config_is_held_against_each_file(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "trusted.yaml").write_text("version: 1\n", encoding="utf-8")
    code = main(["validate", "--trusted-config", "trusted.yaml", "tenant.yaml", "good.yaml"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("good.yaml is valid")
    assert err.startswith("error: tenant.yaml changes entra.tenant_id, which decides where")


def test_online_without_credentials_still_reports_every_files_own_problems(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ENTRASYNC_GRAPH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", "3f6c2a1e-8d4b-4c7a-9e21-5b0d7f3a9c10")
    monkeypatch.setenv("AZURE_CLIENT_ID", "8a4b7c1d-3e2f-4a5b-8c6d-7e8f9a0b1c2d")
    code = main(["validate", "--online", "good.yaml", "bad-role.yaml", "tenant.yaml"])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors[0] == "error: no Microsoft Graph credentials found"  # said once
    assert len(errors) == 2
    assert "bad-role.yaml:5" in err  # the file after it was still checked, offline
    assert [line.split(" is valid")[0] for line in out.splitlines() if " is valid" in line] == [
        "good.yaml",
        "tenant.yaml",
    ]

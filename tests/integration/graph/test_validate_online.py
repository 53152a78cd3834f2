"""`validate --online` against the Graph emulator: the groups of each file are looked up."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import DEFAULT_CLIENT_SECRET, GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser

ONLINE_TENANT = SandboxTenant(
    "3f6c2a1e-8d4b-4c7a-9e21-5b0d7f3a9c10",
    "a17e9b52-64c3-4f0e-b8d9-2c5e1f7a0b34",
    (SandboxUser(id="b0000000-0000-4000-8000-000000000001", user_principal_name="ann@contoso.com",
                 mail="ann@contoso.com", display_name="Ann"),),
    (SandboxGroup("a0000000-0000-4000-8000-000000000001", "NT-Owners",
                  user_ids=("b0000000-0000-4000-8000-000000000001",)),),
    (),
)  # fmt: skip


def online_environment(emulator: GraphEmulator) -> dict[str, str]:
    """What `validate --online` needs to sign in to ``emulator`` serving ONLINE_TENANT."""
    return {
        "AZURE_TENANT_ID": ONLINE_TENANT.tenant_id,
        "AZURE_CLIENT_ID": ONLINE_TENANT.client_id,
        "AZURE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "ENTRASYNC_GRAPH_URL": emulator.base_url,
        "AZURE_AUTHORITY_HOST": emulator.base_url,
        "SSL_CERT_FILE": emulator.ca_pem_path or "",
        "REQUESTS_CA_BUNDLE": emulator.ca_pem_path or "",
    }


@pytest.mark.parametrize(
    ("group", "code"),
    [
        pytest.param("NT-Owners", 0, id="an existing group passes online"),
        pytest.param("NT-Nobody", 1, id="a missing group fails online with exit 1"),
    ],
)
def test_validate_online_resolves_groups_after_the_offline_checks(
    group: str,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nmappings:\n  - {{name: {group}, role: owner}}\n")
    with GraphEmulator(ONLINE_TENANT) as emulator:
        for name, value in online_environment(emulator).items():
            monkeypatch.setenv(name, value)
        assert main(["validate", "--online", "--config", str(path)]) == code
    out = capsys.readouterr().out
    assert out.startswith(f"{path.as_posix()} is valid: 1 mapping (1 synced)")
    assert group in out


def test_online_resolves_the_groups_of_each_file_and_reports_every_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # messages name the files as a hook passes them
    for name, group in {
        "a.yaml": "NT-Nobody",
        "b.yaml": "NT-Owners",
        "c.yaml": "NT-Ghosts",
    }.items():
        (tmp_path / name).write_text(f"version: 1\nmappings:\n  - {{name: {group}, role: owner}}\n")
    with GraphEmulator(ONLINE_TENANT) as emulator:
        for variable, value in online_environment(emulator).items():
            monkeypatch.setenv(variable, value)
        assert main(["validate", "--online", "a.yaml", "b.yaml", "c.yaml"]) == 1
    out, err = capsys.readouterr()
    assert [line.split(" is valid")[0] for line in out.splitlines() if "is valid" in line] == [
        "a.yaml",
        "b.yaml",
        "c.yaml",
    ]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert "a.yaml:3" in errors[0]
    assert "NT-Nobody" in errors[0]
    assert "c.yaml:3" in errors[1]
    assert "NT-Ghosts" in errors[1]
    assert DEFAULT_CLIENT_SECRET not in out + err

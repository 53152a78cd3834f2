"""`validate --online` against the Graph emulator: the groups of each file are looked up."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import DEFAULT_CLIENT_SECRET, GraphEmulator

from .conftest import G_SMALL, secret_env


def _signed_in(emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `validate --online` needs to sign in to ``emulator`` (the folder's tenant)."""
    for name, value in secret_env(emulator).items():
        monkeypatch.setenv(name, value)


def _validate_online(
    text: str, emulator: GraphEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, int]:
    """``validate --online`` of a mappings file holding ``text``, signed in to ``emulator``."""
    path = tmp_path / "m.yaml"
    path.write_text(text)
    _signed_in(emulator, monkeypatch)
    return path, main(["validate", "--online", "--config", str(path)])


@pytest.mark.parametrize(
    ("group", "code"),
    [
        pytest.param("NT-Small", 0, id="an existing group passes online"),
        pytest.param("NT-Nobody", 1, id="a missing group fails online with exit 1"),
    ],
)
def test_validate_online_resolves_groups_after_the_offline_checks(
    group: str,
    code: int,
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = f"version: 1\nmappings:\n  - {{name: {group}, role: owner}}\n"
    path, exit_code = _validate_online(text, emulator, tmp_path, monkeypatch)
    assert exit_code == code
    out = capsys.readouterr().out
    assert out.startswith(f"{path.as_posix()} is valid: 1 mapping (1 synced)")
    assert group in out


def test_online_resolves_the_groups_of_each_file_and_reports_every_failure(
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # messages name the files as a hook passes them
    for name, group in {
        "a.yaml": "NT-Nobody",
        "b.yaml": "NT-Small",
        "c.yaml": "NT-Ghosts",
    }.items():
        (tmp_path / name).write_text(f"version: 1\nmappings:\n  - {{name: {group}, role: owner}}\n")
    _signed_in(emulator, monkeypatch)
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


def test_online_shows_an_expired_mapping_as_not_synced_as_plan_treats_it(
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "version: 1\nmappings:\n"
        "  - {name: NT-Small, role: owner}\n"
        "  - {name: NT-Child, role: owner, expires: 2020-01-01}\n"
    )
    path, code = _validate_online(text, emulator, tmp_path, monkeypatch)
    assert code == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path.as_posix()} is valid: 2 mappings (1 synced)")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("NT-")}
    assert rows["NT-Small"].endswith(" ok")
    assert rows["NT-Child"].endswith(" ok (not synced)")
    assert "mapping NT-Child expired on 2020-01-01" in err


def test_an_expired_mapping_of_a_deleted_group_or_renewed_by_id_is_a_note_not_a_failure(
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`plan` syncs nothing of an expired mapping, so neither its gone group nor the mapping
    that renews its group fails validation: the file says to delete it."""
    text = (
        "version: 1\nmappings:\n"
        "  - {name: NT-Old-Audit, role: member, expires: 2020-01-01}\n"
        "  - {name: NT-Small, role: member, expires: 2020-01-01}\n"
        f"  - {{id: {G_SMALL}, role: member}}\n"
    )
    _, code = _validate_online(text, emulator, tmp_path, monkeypatch)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "mapping NT-Old-Audit: no Entra group is named 'NT-Old-Audit'" in err
    assert "it expired: delete it" in err
    assert "error:" not in err


@pytest.mark.parametrize("synced", [True, False], ids=["both synced", "one not synced"])
def test_two_mappings_of_one_group_fail_online_only_where_plan_reads_both(
    synced: bool,
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One by name, one by id: `plan` reads only the synced mappings, so a second mapping
    with `auto_sync: false` is no duplicate, as an expired one is not."""
    text = (
        "version: 1\nmappings:\n"
        f"  - {{name: NT-Small, role: member, auto_sync: {str(synced).lower()}}}\n"
        f"  - {{id: {G_SMALL}, role: member}}\n"
    )
    _, code = _validate_online(text, emulator, tmp_path, monkeypatch)
    err = capsys.readouterr().err
    assert code == (1 if synced else 0), err
    assert ("both resolve to group NT-Small" in err) is synced

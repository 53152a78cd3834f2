"""A misspelt group name is answered with the nearest names Entra has."""

from __future__ import annotations

import dataclasses
import shlex
import unicodedata
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup

from .conftest import TENANT, EmulatorFactory, gid, secret_env


@pytest.fixture
def env(emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> GraphEmulator:
    for name, value in secret_env(emulator).items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.mark.parametrize(
    ("command", "name", "meant"),
    [
        ("validate", "NT-Parnet", 'did you mean "NT-Parent"?'),
        ("validate", "nt-parent-x", 'did you mean "NT-Parent"?'),
        ("plan", "NT-Parnet", 'did you mean "NT-Parent"?'),
    ],
    ids=["two letters swapped", "a suffix too many, in another case", "plan says it too"],
)
def test_a_misspelt_group_gets_the_nearest_names(
    env: GraphEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scim_never_reached: None,
    command: str,
    name: str,
    meant: str,
) -> None:
    config = tmp_path / "mappings.yaml"
    config.write_text(f"version: 1\nmappings:\n  - name: {name}\n    role: owner\n")
    args = ["validate", "--online"] if command == "validate" else ["plan"]
    assert main([*args, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    # At the mapping's file and line (line 3: the first item of `mappings`).
    assert f"error: {config}:3: mapping {name}: no Entra group is named '{name}'" in err
    assert f"hint: {meant} check the spelling" in err


def test_a_name_like_no_group_gets_no_guess(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mappings.yaml"
    config.write_text("version: 1\nmappings:\n  - name: NT-Nobody\n    role: owner\n")
    assert main(["validate", "--online", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "did you mean" not in err


def test_plan_names_the_config_file_it_reads_unless_quiet(
    env: GraphEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scim_never_reached: None,
) -> None:
    config = tmp_path / "mappings.yaml"
    config.write_text("version: 1\nmappings:\n  - name: NT-Parnet\n    role: owner\n")
    main(["plan", "--config", str(config)])
    assert f"Using {config}\n" in capsys.readouterr().err
    main(["plan", "-q", "--config", str(config)])
    assert "Using " not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "listing"),
    [
        ("A Team Sales", "entrasync groups 'A T'"),
        ("-Ad hoc", "entrasync groups -- -Ad"),
        ("O'Brian team", "entrasync groups 'O'\"'\"'B'"),
    ],
    ids=["a blank", "a leading dash", "a quote"],
)
def test_the_listing_the_hint_suggests_runs_as_pasted(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, listing: str
) -> None:
    config = tmp_path / "mappings.yaml"
    config.write_text(f'version: 1\nmappings:\n  - name: "{name}"\n    role: owner\n')
    assert main(["validate", "--online", "--config", str(config)]) == 1
    assert f"(`{listing}` lists groups by prefix)" in capsys.readouterr().err
    # Pasted in a shell, it is `groups` with the prefix as one argument: it runs.
    assert main(shlex.split(listing)[1:]) == 0


def test_a_name_in_another_unicode_form_is_suggested_in_escapes_that_show_the_difference(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Entra holds "É" as "E" and a combining accent; the file has the one code point. Printed
    # as is, the suggestion looked the same as the name it corrects.
    decomposed = unicodedata.normalize("NFD", "NT-Équipe")
    group = SandboxGroup(gid(9), decomposed)
    emulator = emulator_factory(dataclasses.replace(TENANT, groups=(*TENANT.groups, group)))
    for name, value in secret_env(emulator).items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "mappings.yaml"
    config.write_text("version: 1\nmappings:\n  - name: NT-Équipe\n    role: owner\n", "utf-8")
    assert main(["validate", "--online", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert 'did you mean "NT-E\\u0301quipe" (the same letters in other code points' in err

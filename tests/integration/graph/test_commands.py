"""`entrasync validate --online` and `entrasync groups` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import GraphEmulator

from .conftest import G_BIG, G_EMPTY, G_PARENT, EmulatorFactory, secret_env

MAPPINGS = f"""\
version: 1
mappings:
  - id: {G_BIG}
    name: NT-Big
    role: owner
  - name: NT-Parent
    role: member
  - id: {G_EMPTY}
    role: member
    auto_sync: false
"""


@pytest.fixture
def env(emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> GraphEmulator:
    for name, value in secret_env(emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    return emulator


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mappings.yaml"
    path.write_text(text)
    return path


def test_validate_online_prints_every_group_and_warns_on_empty_ones(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", "--online", "--config", str(write(tmp_path, MAPPINGS))])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows[0] == ["MAPPING", "GROUP", "ID", "DISPLAY", "NAME", "USERS", "STATUS"]
    assert rows[1] == ["NT-Big", G_BIG, "NT-Big", "2500", "ok"]
    assert rows[2] == ["NT-Parent", G_PARENT, "NT-Parent", "3", "ok"]
    assert rows[3] == [G_EMPTY, G_EMPTY, "NT-Empty", "0", "empty", "(not", "synced)"]
    assert f"group NT-Empty ({G_EMPTY}) has no user members" in err


@pytest.mark.parametrize(
    ("mapping", "status", "message", "hint"),
    [
        (
            "  - name: NT-Nobody\n    role: owner\n",
            "missing",
            "no Entra group is named",
            "hint: check the spelling (`entrasync groups NT-` lists groups by prefix)",
        ),
        (
            "  - name: NT-Dup\n    role: owner\n",
            "ambiguous",
            "2 Entra groups are named",
            "hint: display names are not unique in Entra",
        ),
        (
            f"  - id: {G_BIG}\n    name: NT-Small\n    role: owner\n",
            "mismatch",
            "not 'NT-Small'",
            "hint: the id decides which group is synced",
        ),
        (
            "  - id: 0b3f1c9e-1111-4c1e-9a0b-000000000001\n    role: owner\n",
            "missing",
            "was not found in Entra",
            "hint: ",
        ),
        (
            f"  - id: {G_PARENT}\n    role: owner\n  - name: NT-PARENT\n    role: member\n",
            "duplicate",
            "both resolve to group NT-Parent",
            "hint: map each group once",
        ),
    ],
    ids=[
        "a name matching no group",
        "a name matching two groups",
        "an id with another name",
        "an id that does not exist",
        "an id and a name of the same group",
    ],
)
def test_validate_online_fails_on_unresolvable_groups(
    env: GraphEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mapping: str,
    status: str,
    message: str,
    hint: str,
) -> None:
    config = write(tmp_path, "version: 1\nmappings:\n" + mapping)
    code = main(["validate", "--online", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[-1].split()[-1] == status
    error, last = err.splitlines()[-2:]  # as `plan` says it: error, then what to do
    assert error.startswith("error: ")
    assert message in error
    assert last.startswith(hint)
    assert last != "hint: "


def test_a_misnamed_group_shows_its_real_entra_name(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path, f"version: 1\nmappings:\n  - {{id: {G_BIG}, name: NT-Small, role: owner}}\n"
    )
    assert main(["validate", "--online", "--config", str(config)]) == 1
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row == ["NT-Small", G_BIG, "NT-Big", "-", "mismatch"]


def test_validate_online_without_permission_is_an_auth_error(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(permission_mode="groupmember_only")
    for name, value in secret_env(emulator).items():
        monkeypatch.setenv(name, value)
    assert main(["validate", "--online", "--config", str(write(tmp_path, MAPPINGS))]) == 1
    err = capsys.readouterr().err
    assert "hint: grant User.Read.All" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("variable", [None, ""], ids=["ENTRASYNC_CONFIG unset", "set empty"])
def test_groups_lists_by_prefix_as_json_without_a_mappings_file(
    env: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)  # no config/mappings.yaml here: ids come from the environment
    if variable is not None:
        monkeypatch.setenv("ENTRASYNC_CONFIG", variable)  # empty: as every command, unset
    assert main(["groups", "nt-p", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"id": G_PARENT, "display_name": "NT-Parent", "members": 3}
    ]


def test_groups_counts_direct_members_when_the_config_says_so(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "version: 1\nentra:\n  nested_groups: false\n")
    assert main(["groups", "NT-P", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "DISPLAY", "NAME", "USERS"]  # as validate --online
    assert lines[1].split() == [G_PARENT, "NT-Parent", "1"]


HALF_WRITTEN = "version: 1\nentra:\n  nested_groups: false\nmappings:\n  - {id: , role: member}\n"


def test_groups_reads_a_half_written_file_for_its_entra_settings_with_a_warning(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mapping being written is why the ids are looked up: it stopped `groups`."""
    config = write(tmp_path, HALF_WRITTEN)
    assert main(["groups", "NT-P", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == [G_PARENT, "NT-Parent", "1"]  # nested_groups: false
    assert f"warning: {config} does not pass this entrasync's checks (1 problem, first: " in err
    assert "`entrasync validate` lists the problems" in err


def test_groups_on_a_half_written_file_says_when_the_trusted_config_was_read_in_part(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, HALF_WRITTEN)
    trusted = tmp_path / "base.yaml"
    trusted.write_text("version: 1\nroles: 5\n")  # a check of this version refuses it
    assert main(["groups", "NT-P", "--config", str(config), "--trusted-config", str(trusted)]) == 0
    err = capsys.readouterr().err
    assert f"--trusted-config {trusted.as_posix()} does not pass this entrasync's checks" in err
    assert f"{config} does not pass this entrasync's checks" in err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        pytest.param("version: 1\nmappings: [\n", "has 1 problem", id="not YAML"),
        pytest.param(
            HALF_WRITTEN.replace("nested_groups: false", "graph_url: https://graph.example"),
            "changes entra.graph_url",
            id="a routing change under --trusted-config",
        ),
    ],
)
def test_groups_still_refuses_what_it_cannot_read_or_must_not_trust(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    config = write(tmp_path, text)
    trusted = tmp_path / "base.yaml"
    trusted.write_text("version: 1\n")
    args = ["groups", "NT-P", "--config", str(config), "--trusted-config", str(trusted)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err


def test_groups_with_no_match_says_so(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "version: 1\n")
    assert main(["groups", "zzz", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "no Entra group's display name starts with 'zzz'" in err


def test_plan_names_the_line_of_a_mapping_whose_group_another_mapping_has(
    env: GraphEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scim_never_reached: None,
) -> None:
    """As validate --online does: plan named the two mappings but not where the second is."""
    mappings = f"  - id: {G_PARENT}\n    role: owner\n  - name: NT-PARENT\n    role: member\n"
    config = write(tmp_path, "version: 1\nmappings:\n" + mappings)
    assert main(["plan", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"error: {config}:5: mapping NT-PARENT: mappings '{G_PARENT}' and 'NT-PARENT' " in err
    assert "both resolve to group NT-Parent" in err
    assert "hint: map each group once" in err


def test_validate_online_tells_every_failing_mapping_in_order(
    env: GraphEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mappings = "  - name: NT-Nobody\n    role: owner\n  - name: NT-Dup\n    role: member\n"
    config = write(tmp_path, "version: 1\nmappings:\n" + mappings)
    assert main(["validate", "--online", "--config", str(config)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["error", "hint", "error", "hint"]
    # Each names its mapping's file and line, as a YAML problem does.
    assert err[0] == f"error: {config}:3: mapping NT-Nobody: no Entra group is named 'NT-Nobody'"
    assert f"{config}:5: mapping NT-Dup: 2 Entra groups are named 'NT-Dup'" in err[2]
    assert err[3].startswith("hint: display names are not unique in Entra")

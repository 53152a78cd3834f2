"""`entrasync sandbox`'s workspace: its own schema refreshed, a repository's never replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.config.schema import render_schema
from entrasync.sandbox.runner import write_workspace

DEMO = "version: 1\n"


def test_the_sandboxs_own_folder_gets_the_mappings_and_a_fresh_schema(tmp_path: Path) -> None:
    schema = tmp_path / "schemas" / "mappings.schema.json"
    schema.parent.mkdir()
    schema.write_text("{}", encoding="utf-8")  # an older entrasync's
    mappings = write_workspace(tmp_path, DEMO)
    assert mappings == tmp_path / "config" / "mappings.yaml"
    assert mappings.read_text(encoding="utf-8") == DEMO
    assert schema.read_text(encoding="utf-8") == render_schema()


def test_a_repositorys_mappings_and_schema_are_left_as_they_are(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    (repo / "schemas").mkdir()
    ours = repo / "config" / "mappings.yaml"
    ours.write_text("version: 1\nmappings: []\n", encoding="utf-8")
    (repo / "schemas" / "mappings.schema.json").write_text('{"ours": true}', encoding="utf-8")
    assert write_workspace(tmp_path / "sandbox", DEMO, config=ours) == ours
    assert ours.read_text(encoding="utf-8") == "version: 1\nmappings: []\n"
    assert (repo / "schemas" / "mappings.schema.json").read_text() == '{"ours": true}'


def test_new_demo_mappings_elsewhere_get_a_schema_beside_them(tmp_path: Path) -> None:
    new = tmp_path / "try" / "config" / "mappings.yaml"
    write_workspace(tmp_path / "sandbox", DEMO, config=new)
    assert new.read_text(encoding="utf-8") == DEMO
    assert (tmp_path / "try" / "schemas" / "mappings.schema.json").is_file()


@pytest.mark.parametrize(("cwd", "named"), [("config", "m.yaml"), ("config/sub", "../m.yaml")])
def test_new_demo_mappings_named_relatively_get_the_schema_their_header_names(
    cwd: str, named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`repo/config/m.yaml` named from a folder inside the repository: its header points at
    `../schemas/`, so the schema goes to `repo/schemas`."""
    here = tmp_path / "repo" / cwd
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    write_workspace(
        tmp_path / "sandbox", "# $schema=../schemas/mappings.schema.json\n", Path(named)
    )
    assert (tmp_path / "repo" / "config" / "m.yaml").is_file()
    assert (tmp_path / "repo" / "schemas" / "mappings.schema.json").is_file()
    assert not (here / "schemas").exists()


def test_new_demo_mappings_reached_through_a_link_get_the_schema_beside_their_real_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`link/../m.yaml`: the system follows the link, then goes up from where it leads."""
    (tmp_path / "other" / "config" / "deep").mkdir(parents=True)
    here = tmp_path / "repo" / "config"
    here.mkdir(parents=True)
    (here / "link").symlink_to(tmp_path / "other" / "config" / "deep")
    monkeypatch.chdir(here)
    write_workspace(
        tmp_path / "sandbox", "# $schema=../schemas/mappings.schema.json\n", Path("link/../m.yaml")
    )
    assert (tmp_path / "other" / "config" / "m.yaml").is_file()
    assert (tmp_path / "other" / "schemas" / "mappings.schema.json").is_file()
    assert not (tmp_path / "repo" / "schemas").exists()


def test_new_demo_mappings_in_a_linked_folder_get_the_schema_beside_the_link(
    tmp_path: Path,
) -> None:
    """`repo/config/m.yaml`, `config` a link: an editor opening that path reads `../schemas/`
    from it, as written, so the schema goes beside the link, in `repo/schemas`."""
    (tmp_path / "other" / "deep").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "config").symlink_to(tmp_path / "other" / "deep")
    write_workspace(
        tmp_path / "sandbox",
        "# $schema=../schemas/mappings.schema.json\n",
        tmp_path / "repo" / "config" / "m.yaml",
    )
    assert (tmp_path / "repo" / "schemas" / "mappings.schema.json").is_file()
    assert not (tmp_path / "other" / "schemas").exists()


def test_new_demo_mappings_outside_a_config_folder_make_no_folder_beside_it(
    tmp_path: Path,
) -> None:
    """`/tmp/x.yaml` put a schema in `/schemas`: a folder no one named, above the file's."""
    new = tmp_path / "home" / "me" / "x.yaml"
    write_workspace(tmp_path / "sandbox", DEMO, config=new)
    assert new.read_text(encoding="utf-8") == DEMO
    assert sorted(p.name for p in tmp_path.rglob("*") if "sandbox" not in p.parts) == [
        "home",
        "me",
        "x.yaml",
    ]


def test_a_schema_beside_the_mappings_that_cannot_be_written_is_a_warning(
    tmp_path: Path,
) -> None:
    new = tmp_path / "repo" / "config" / "mappings.yaml"
    (tmp_path / "repo" / "schemas").parent.mkdir()
    (tmp_path / "repo" / "schemas").write_text("a file where the folder would go")
    warnings: list[str] = []
    assert write_workspace(tmp_path / "sandbox", DEMO, config=new, warn=warnings.append) == new
    assert new.read_text(encoding="utf-8") == DEMO
    (warning,) = warnings
    assert warning.startswith("the schema its header names was not written: "), warning

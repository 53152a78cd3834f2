"""Config problems that teach: the nearest word of the vocabulary, and where a key belongs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.config.loading import load_config
from entrasync.errors import ConfigError


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "mappings.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.split(": ", 1)[1] for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "version: 1\nmappings:\n  - name: A\n    role: admn\n",
            "mappings[0].role: 'admn' is not one of owner, admin, member (did you mean admin?)",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role: Member\n",
            "mappings[0].role: 'Member' is not one of owner, admin, member (did you mean member?)",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role: member\n    products: [trustgat]\n",
            "mappings[0].products[0]: 'trustgat' is not one of trustgate, trusttest, trustlens "
            "(did you mean trustgate?)",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role: auditor\n",
            "mappings[0].role: 'auditor' is not one of owner, admin, member",
        ),
    ],
    ids=["a misspelt role", "a role in the wrong case", "a misspelt product", "no close word"],
)
def test_a_word_outside_the_vocabulary_gets_the_nearest_one(
    tmp_path: Path, text: str, said: str
) -> None:
    assert problems_of(tmp_path, text) == [said]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "version: 1\nmin_owners: 1\n",
            "min_owners: unknown key here (did you mean limits.min_owners?)",
        ),
        (
            "version: 1\nnested_groups: false\n",
            "nested_groups: unknown key here (did you mean entra.nested_groups?)",
        ),
        (
            "version: 1\nentra:\n  max_deactivations: 3\n",
            "entra.max_deactivations: unknown key here (did you mean limits.max_deactivations?)",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role: member\n    on_removed: keep\n",
            "mappings[0].on_removed: unknown key here (did you mean on_removed at the top level?)",
        ),
        ("version: 1\nmapings: []\n", "mapings: unknown key (did you mean mappings?)"),
        (
            "version: 1\nname: A\nmappings: []\n",
            "name: unknown key here (did you mean mappings[].name?)",
        ),
        ("version: 1\nid: x\nmappings: []\n", "id: unknown key here (did you mean mappings[].id?)"),
    ],
    ids=[
        "a limit at the top level",
        "an entra option at the top level",
        "a limit under entra",
        "a top-level setting in a mapping",
        "a misspelt key keeps its spelling hint",
        "a mapping's name, in either of its forms, is named once",
        "a mapping's id, in either of its forms, is named once",
    ],
)
def test_a_key_in_the_wrong_section_is_named_with_its_home(
    tmp_path: Path, text: str, said: str
) -> None:
    assert problems_of(tmp_path, text) == [said]


def test_a_mappings_file_that_is_a_symbolic_link_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request could commit config/mappings.yaml as a link to a runner's file."""
    secret = tmp_path / "runner.env"
    secret.write_text("NEURALTRUST_SCIM_TOKEN=nt-secret-value\n")
    link = tmp_path / "mappings.yaml"
    link.symlink_to(secret)
    with pytest.raises(ConfigError) as caught:
        load_config(link)
    assert "is a symbolic link" in caught.value.message
    assert "nt-secret-value" not in f"{caught.value.message} {caught.value.hint}"

    assert main(["--config", str(link), "validate"]) == 1
    out, err = capsys.readouterr()
    assert "symbolic link" in err
    assert "Traceback" not in err
    assert "nt-secret-value" not in out + err


def test_the_hint_names_the_command_that_writes_the_schema_with_entrasyncs_own_python(
    tmp_path: Path,
) -> None:
    # A pipx install has no schemas/ and its own Python, which a plain `python` is not.
    path = tmp_path / "mappings.yaml"
    path.write_text("version: 1\nmappings:\n  - name: A\n    role: admn\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"`{shlex.join([sys.executable, '-m', 'entrasync.config.schema'])}` writes it" in (
        caught.value.hint or ""
    )

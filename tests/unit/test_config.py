"""The mappings file: loading, every problem located and worded, defaults, and `validate`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from entrasync.adapters.graph.credentials import CREDENTIAL_VARIABLES, GITHUB_OIDC_PAIR
from entrasync.cli import main
from entrasync.config.loading import load_config
from entrasync.config.models import Config, GroupMapping, LoadedConfig, _validator
from entrasync.config.problems import pydantic_problems, show, unique_items
from entrasync.config.source import parse
from entrasync.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "config"
EXAMPLE = REPO / "config" / "mappings.yaml"


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixtures folder so messages name files as a user would type them."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    return FIXTURES


def error_of(text: str, tmp_path: Path) -> ConfigError:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def problems_of(text: str, tmp_path: Path) -> tuple[str, ...]:
    return error_of(text, tmp_path).problems


def load_text(text: str, tmp_path: Path) -> Config:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path).config


# (fixture, the located key path with its line, words the reader needs)
BROKEN = [
    pytest.param(
        "syntax-error.yaml",
        "syntax-error.yaml:3:9:",
        "YAML syntax error",
        id="a YAML syntax error names its line",
    ),
    pytest.param(
        "unknown-key.yaml",
        "unknown-key.yaml:3:3: entra.nested_group:",
        "did you mean nested_groups",
        id="an unknown key suggests the close one",
    ),
    pytest.param(
        "unknown-role.yaml",
        "unknown-role.yaml:9:11: mappings[2].role:",
        "'superadmin' is not one of owner, admin, member",
        id="a role outside the vocabulary lists the roles",
    ),
    pytest.param(
        "product-on-non-product-role.yaml",
        "product-on-non-product-role.yaml:6:5: mappings[0].products:",
        "role admin takes no products",
        id="products on a role that takes none",
    ),
    pytest.param(
        "duplicate-group.yaml",
        "duplicate-group.yaml:5:11: mappings[1].name:",
        "already mapped by mappings[0] (line 3)",
        id="a group mapped twice by name in another case",
    ),
    pytest.param(
        "bad-guid.yaml",
        "bad-guid.yaml:3:9: mappings[0].id:",
        "not a GUID",
        id="a malformed group id",
    ),
    pytest.param(
        "wrong-version.yaml",
        "wrong-version.yaml:1:10: version:",
        "format version 2 is not supported",
        id="a version other than 1",
    ),
    pytest.param(
        "empty-roles.yaml",
        "empty-roles.yaml:2:8: roles:",
        "must not be empty",
        id="an empty roles list",
    ),
    pytest.param(
        "mapping-without-id-or-name.yaml",
        "mapping-without-id-or-name.yaml:5:5: mappings[1]:",
        "needs an id or a name",
        id="a mapping with neither id nor name",
    ),
    pytest.param(
        "bad-protected.yaml",
        "bad-protected.yaml:4:5: protected[1]:",
        "'breakglass' is not an email address or UPN",
        id="a protected entry that is no UPN",
    ),
    pytest.param(
        "secret-in-file.yaml",
        "secret-in-file.yaml:4:3: entra.client_secret:",
        "secrets never go in this file",
        id="a secret in the file is refused",
    ),
    pytest.param(
        "duplicate-key.yaml",
        "duplicate-key.yaml:6:1: on_removed:",
        "duplicate key (first at line 2)",
        id="a duplicate key YAML would drop silently",
    ),
    pytest.param(
        "yaml11-boolean.yaml",
        "yaml11-boolean.yaml:6:16: mappings[0].auto_sync:",
        "expected true or false, got the text 'no': write false",
        id="a YAML 1.1 boolean where YAML 1.2 reads text",
    ),
]


@pytest.mark.parametrize(("fixture", "located", "words"), BROKEN)
def test_broken_config_exits_1_naming_file_line_and_key(
    fixture: str, located: str, words: str, in_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", "--config", fixture])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: {fixture} has 1 problem\n")
    line = next(x for x in err.splitlines() if x.strip().startswith(located))
    assert words in line
    assert "\nhint: " in err
    assert "Traceback" not in err


def test_a_file_with_several_problems_lists_them_all_in_file_order(
    in_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", "several-problems.yaml"]) == 1
    err = capsys.readouterr().err
    listed = [x.strip() for x in err.splitlines() if x.startswith("  several-problems.yaml:")]
    assert err.startswith("error: several-problems.yaml has 6 problems\n")
    assert [x.split(": ")[1] for x in listed] == [
        "entra.tenant_id",
        "precedence",
        "mappings[0].role",
        "mappings[1].products",
        "mappings[2].name",
        "protected[0]",
    ]


def test_a_secret_in_the_file_is_never_echoed(
    in_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", "secret-in-file.yaml"]) == 1
    err = capsys.readouterr().err
    assert "fake-client-secret-for-tests" not in err
    assert "hint: secrets come only from the environment" in err


def test_a_guid_error_does_not_echo_the_value(tmp_path: Path) -> None:
    (problem,) = problems_of("version: 1\nentra:\n  client_id: Zx8Q~pasted-secret\n", tmp_path)
    assert "pasted-secret" not in problem
    assert problem.endswith("entra.client_id: not a GUID (8-4-4-4-12 hex digits, like "
                            "0b3f1c9e-1111-4c1e-9a0b-000000000001)")  # fmt: skip


def test_the_example_config_is_valid_with_a_one_line_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "config/mappings.yaml is valid: 3 mappings (2 synced), roles owner > admin > member, "
        "on_removed keep\n"
    )
    assert err == ""


def test_validate_reads_the_path_from_entrasync_config(
    in_fixtures: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENTRASYNC_CONFIG", "guest-protected.yaml")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("guest-protected.yaml is valid: 1 mapping (1 synced)")


def test_a_missing_file_says_so_with_a_hint(
    in_fixtures: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hint = (
        "hint: check the path; the mappings file is the FILE given to `validate`, else --config "
        "PATH, else ENTRASYNC_CONFIG, else config/mappings.yaml\n"
    )
    assert main(["validate", "--config", "nowhere/mappings.yaml"]) == 1
    here = f" in {in_fixtures}"
    assert capsys.readouterr().err == (
        f"error: config file nowhere/mappings.yaml not found{here}\n" + hint
    )
    # A path set long ago, in another shell or CI step: the hint says what it holds.
    monkeypatch.setenv("ENTRASYNC_CONFIG", "nowhere/typo.yaml")
    assert main(["plan"]) == 1
    assert capsys.readouterr().err.endswith(
        f"error: config file nowhere/typo.yaml not found{here}\n"
        + hint.replace("ENTRASYNC_CONFIG,", "ENTRASYNC_CONFIG (set to nowhere/typo.yaml),")
    )
    # None at the default path, on a first run likely (outside any repository holding one):
    # the hint says how to start one.
    monkeypatch.delenv("ENTRASYNC_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert main(["users"]) == 1
    assert capsys.readouterr().err.endswith(
        f"error: config file config/mappings.yaml not found in {tmp_path}\n"
        + hint.rstrip("\n")
        + "; none yet? `entrasync init PREFIX` drafts one from the groups named PREFIX*\n"
    )


@pytest.mark.parametrize(
    ("run_in", "hint"),
    [
        ("config", "pass --config mappings.yaml"),
        ("docs", "run entrasync from {top}, or pass --config ../config/mappings.yaml"),
        ("docs/guide", "run entrasync from {top}, or pass --config ../../config/mappings.yaml"),
    ],
    ids=["inside config/", "a folder beside it", "two folders down in a git repository"],
)
def test_a_mappings_file_missed_from_another_folder_is_named(
    run_in: str,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run from inside config/ (or another folder), the hint said to draft one with init,
    which would have written config/config/mappings.yaml."""
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    top = tmp_path / "repo"
    (top / "config").mkdir(parents=True)
    (top / "config" / "mappings.yaml").write_text("version: 1\n")
    (top / ".git").mkdir()
    (top / run_in).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(top / run_in)
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == (
        f"error: config file config/mappings.yaml not found in {Path.cwd()}\n"
        f"hint: {hint.format(top=top)}\n"
    )
    # Outside a git repository, only the folder above is looked in.
    (top / ".git").rmdir()
    assert main(["validate"]) == 1
    said = capsys.readouterr().err
    assert ("none yet?" in said) == (run_in == "docs/guide")


def test_loaded_config_carries_the_path_as_given_and_the_sha256_of_its_bytes() -> None:
    loaded = load_config(EXAMPLE)
    assert isinstance(loaded, LoadedConfig)
    assert loaded.path == EXAMPLE.as_posix()
    assert loaded.sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()


DEFAULTS = [
    pytest.param("entra.tenant_id", None, id="tenant id comes from env when absent"),
    pytest.param("entra.nested_groups", True, id="nested groups count by default"),
    pytest.param("entra.include_guests", True, id="guests are included by default"),
    pytest.param("entra.include_disabled", False, id="disabled users are left out by default"),
    pytest.param("neuraltrust.scim_url", None, id="scim url falls back to env or the SaaS default"),
    pytest.param("neuraltrust.match_on", "userName", id="users are matched on userName"),
    pytest.param("neuraltrust.role_attribute", "roles", id="the role goes in core roles"),
    pytest.param(
        "neuraltrust.products_attribute", "entitlements", id="products go in entitlements"
    ),
    pytest.param("roles", ("owner", "admin", "member"), id="the roles are owner admin member"),
    pytest.param("products", ("trustgate", "trusttest", "trustlens"), id="the three products"),
    pytest.param("effective_product_roles", ("member",), id="only the last role takes products"),
    pytest.param("precedence", "first-match", id="the first matching mapping decides"),
    pytest.param("on_removed", "keep", id="removed users are kept and reported"),
    pytest.param("protected", (), id="nobody is protected"),
    pytest.param("limits.max_deactivations", 10, id="at most 10 deactivations per apply"),
    pytest.param("limits.max_deactivation_percent", 20, id="at most 20 percent deactivated"),
    pytest.param("limits.min_owners", 1, id="at least one owner stays"),
    pytest.param("mappings", (), id="no mappings"),
]


@pytest.mark.parametrize(("attribute", "expected"), DEFAULTS)
def test_an_absent_key_takes_its_contract_default(attribute: str, expected: Any) -> None:
    value: Any = load_config(FIXTURES / "minimal.yaml").config
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value == expected


def test_product_roles_default_to_the_last_of_custom_roles(tmp_path: Path) -> None:
    config = load_text("version: 1\nroles: [root, ops, viewer]\n", tmp_path)
    assert config.effective_product_roles == ("viewer",)
    assert config.owner_role == "root"


def test_guest_upns_are_valid_protected_entries_and_ids_compare_lower_case() -> None:
    config = load_config(FIXTURES / "guest-protected.yaml").config
    assert "alice_contoso.com#ext#@fabrikam.onmicrosoft.com" in config.protected_keys
    assert config.mappings[0].id == "0b3f1c9e-1111-4c1e-9a0b-000000000001"


@pytest.mark.parametrize(
    "entry",
    [
        "alice+sync@contoso.com",
        "o'brien@contoso.com",
        "m\u00fcller@b\u00fccher.de",
        "\U00031350@example.cn",
    ],
    ids=["plus-addressed", "an apostrophe", "letters beyond ASCII", "a letter of Unicode 15"],
)
def test_visible_addresses_are_valid_protected_entries(entry: str, tmp_path: Path) -> None:
    # U+31350 is unassigned to Python 3.11's Unicode 14: refused by category, a file passed
    # the pre-commit hook on one Python and failed CI on another.
    path = tmp_path / "m.yaml"
    path.write_text(f'version: 1\nprotected: ["{entry}"]\n', encoding="utf-8")
    assert load_config(path).config.protected == (entry,)


WORDED = [
    pytest.param(
        "version: 1\nroles: [owner, admin, owner]\n",
        "m.yaml:2:23: roles[2]: 'owner' is listed twice (first at line 2)",
        id="a role listed twice",
    ),
    pytest.param(
        "version: 1\nmappings:\n  - {name: A, role: member, products: [trustgate, trustgate]}\n",
        "m.yaml:3:51: mappings[0].products[1]: 'trustgate' is listed twice",
        id="a product listed twice on a mapping",
    ),
    pytest.param(
        "version: 1\nproduct_roles: [guest]\n",
        "m.yaml:2:17: product_roles[0]: 'guest' is not one of owner, admin, member",
        id="a product role outside the roles",
    ),
    pytest.param(
        "version: 1\nmappings:\n  - {name: A, role: member, products: [trustmagic]}\n",
        "mappings[0].products[0]: 'trustmagic' is not one of trustgate, trusttest, trustlens",
        id="a product outside the vocabulary",
    ),
    pytest.param(
        "version: 1\nproducts: []\nmappings:\n  - {name: A, role: member, products: [trustgate]}\n",
        "mappings[0].products[0]: 'trustgate' is not a product: the products list is empty; "
        "add trustgate to products or remove it here",
        id="a product on a mapping when the product vocabulary is empty",
    ),
    pytest.param(
        "version: 1\nmappings:\n"
        "  - {id: 0b3f1c9e-1111-4c1e-9a0b-000000000001, role: owner}\n"
        "  - {id: 0B3F1C9E-1111-4C1E-9A0B-000000000001, role: admin}\n",
        "m.yaml:4:10: mappings[1].id: group '0B3F1C9E-1111-4C1E-9A0B-000000000001' "
        "is already mapped by mappings[0] (line 3)",
        id="a group mapped twice by id",
    ),
    pytest.param(
        "mappings: []\n",
        "m.yaml:1:1: version: required key is missing (add `version: 1` at the top)",
        id="a missing version",
    ),
    pytest.param(
        "version: '1'\n",
        "m.yaml:1:10: version: expected a whole number, got the text '1'",
        id="a quoted version",
    ),
    pytest.param(
        "version: 1\nentra: {include_guests: yes}\n",
        "m.yaml:2:25: entra.include_guests: expected true or false, got the text 'yes': write "
        "true (only YAML 1.1 read it as a boolean; editors and check-jsonschema read YAML 1.2)",
        id="an unquoted yes where true or false is expected",
    ),
    pytest.param(
        "version: 1\nlimits: {max_deactivation_percent: 120}\n",
        "limits.max_deactivation_percent: must be at most 100, got 120",
        id="a percent above 100",
    ),
    pytest.param(
        "version: 1\nlimits: {min_owners: -1}\n",
        "limits.min_owners: must be at least 0, got -1",
        id="a negative limit",
    ),
    pytest.param(
        "version: 1\nentra: {nested_groups: maybe}\n",
        "entra.nested_groups: expected true or false, got the text 'maybe'",
        id="a boolean that is not one",
    ),
    pytest.param(
        "version: 1\nneuraltrust: {scim_url: 'http://scim.example.com/v2'}\n",
        "neuraltrust.scim_url: 'http://scim.example.com/v2' is plain http://",
        id="plain http to a remote host",
    ),
    pytest.param(
        "version: 1\nentra: {graph_url: 'graph.example.com'}\n",
        "entra.graph_url: this value is not an https:// URL: it has no scheme (write https://…)",
        id="a url without scheme, not echoed: it may be a secret pasted alone",
    ),
    pytest.param(
        "version: 1\nmappings:\n  - {name: '', role: member}\n",
        "mappings[0].name: must not be empty",
        id="an empty group name",
    ),
    pytest.param(
        "- version: 1\n",
        "m.yaml:1:1: expected a mapping of keys, got a list",
        id="a list instead of a mapping",
    ),
    pytest.param("", "m.yaml:1:1: the file is empty", id="an empty file"),
    pytest.param(
        "version: 1\nentra:\n\tnested_groups: true\n",
        "m.yaml:3:1: YAML syntax error",
        id="a tab in the indentation",
    ),
    pytest.param(
        "version: 1\nmappings:\n  - {name: &n A, role: owner}\n  - {name: *n, role: admin}\n",
        "m.yaml:4:6: mappings[1].name: group 'A' is already mapped by mappings[0] (line 3)",
        id="a problem in an alias, where the alias is used (not at its anchor)",
    ),
    pytest.param(
        "version: 1\nmappings: []\n---\nversion: 1\n",
        "m.yaml:3:1: YAML syntax error: a second YAML document (a line `---` or `...` after the "
        "first); a mappings file is one document: remove the marker and what follows",
        id="a second document",
    ),
]


WORDED.extend(
    pytest.param(
        f"version: 1\nneuraltrust: {{{key}: {value}}}\n",
        f"neuraltrust.{key}: {shown} is not a SCIM attribute name",
        id=f"{key} {why}: every user's {key.split('_')[0]} read as none",
    )
    for key, value, shown, why in [
        ("role_attribute", "' '", "' '", "blank"),
        (
            "products_attribute",
            "'urn:ietf:params:scim:schemas:core:2.0:User:'",
            "'urn:ietf:params:scim:schemas:core:2.0:User:'",
            "a URN with no name",
        ),
    ]
)
WORDED.append(
    pytest.param(
        "version: 1\nmappings:\n  - &m {name: X, role: owner}\n  - &n {name: Y, role: admin}\n"
        "  - <<: *m\n    <<: *n\n    name: Z\n",
        "m.yaml:6:5: mappings[2].<<: duplicate key (first at line 5)",
        id="two merge keys in one mapping, the second silently winning",
    )
)
WORDED.append(
    pytest.param(
        "version: 1\nmappings:\n  - name: NT-Contractors\n"
        "    <<: [{role: member}, {role: owner}]\n",
        "m.yaml:4:27: mappings[0].role: set by two of the mappings `<<` merges (first at line 4)",
        id="a key two merged mappings set, which PyYAML releases read either way",
    )
)
WORDED.append(
    pytest.param(
        "version: 1\nmappings:\n  - &m {name: NT-Members, role: member}\n"
        "  - &a {<<: *m, name: NT-Contractors}\n  - <<: [*a, {role: owner}]\n    name: NT-Mixed\n",
        "m.yaml:5:15: mappings[2].role: set by two of the mappings `<<` merges (first at line 3)",
        id="a key one merged mapping merges in itself, and another sets",
    )
)
WORDED.append(
    pytest.param(
        "version: 1\nmappings:\n  - &a {name: NT-A, &r role: member}\n"
        "  - &b {name: NT-B, *r : owner}\n  - <<: [*a, *b]\n    name: NT-C\n",
        "m.yaml:4:26: mappings[1]: a key is written out, not an alias (*name)",
        id="a key written as an alias is refused, merged or not",
    )
)
WORDED.append(
    pytest.param(
        "version: 1\nproducts:\n",
        "m.yaml:2:10: products: expected a list, got nothing (an empty value)",
        id="the product vocabulary left empty is not told a mapping's products rule",
    )
)
WORDED.append(
    pytest.param(
        "version: 1\nproduct_roles: []\n"
        "mappings:\n  - {name: A, role: member, products: [trustgate]}\n",
        "role member takes no products (product_roles is empty: no role takes products)",
        id="products where product_roles is empty",
    )
)


WORDED.append(
    pytest.param(
        'version: 1\nprotected: ["breakglass@contoso.com\\u200b"]\n',
        "m.yaml:2:13: protected[0]: 'breakglass@contoso.com\\u200b' holds U+200B, a character no "
        "email address or UPN has and that may not show: type the address again",
        id="an invisible character in a protected entry: it would protect no one",
    )
)
WORDED.append(
    pytest.param(
        'version: 1\nprotected: ["breakglass@contoso.com\\U000E0041"]\n',
        "m.yaml:2:13: protected[0]: 'breakglass@contoso.com\\U000e0041' holds U+E0041, a "
        "character no email address or UPN has and that may not show: type the address again",
        id="a tag character in a protected entry, past what the schema's pattern can name",
    )
)


@pytest.mark.parametrize(("text", "expected"), WORDED)
def test_each_problem_is_worded_for_a_person(text: str, expected: str, tmp_path: Path) -> None:
    problems = problems_of(text, tmp_path)
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_mappings_merged_together_are_valid_where_the_merging_mapping_sets_what_they_share(
    tmp_path: Path,
) -> None:
    # Its own keys win over every merged value, in every YAML reader: nothing is left to them.
    text = (
        "version: 1\nmappings:\n  - &m {name: NT-Members, role: member}\n"
        "  - &o {name: NT-Owners, role: owner, auto_sync: true}\n"
        "  - <<: [*m, *o]\n    name: NT-Mixed\n    role: admin\n"
    )
    mixed = load_text(text, tmp_path).mappings[2]
    assert (mixed.name, mixed.role, mixed.auto_sync) == ("NT-Mixed", "admin", True)
    # One mapping reaching the merge twice (merged by another of its items too) gives its keys
    # once: every reader keeps the same value.
    text = (
        "version: 1\nmappings:\n  - &a {name: NT-A, role: member}\n"
        "  - name: NT-C\n    <<: [{<<: *a, products: [trustgate]}, *a]\n"
    )
    assert load_text(text, tmp_path).mappings[1].role == "member"
    # Two mappings giving a key the same value, however written: every reader keeps it.
    text = (
        "version: 1\nmappings:\n  - &a {name: NT-A, role: member, auto_sync: true,\n"
        "         products: [trustgate]}\n"
        "  - &b\n    name: NT-B\n    role: member\n    auto_sync: True\n"
        "    products:\n      - trustgate\n"
        "  - {<<: [*a, *b], name: NT-C}\n"
    )
    merged = load_text(text, tmp_path).mappings[2]
    assert (merged.role, merged.auto_sync, merged.products) == ("member", True, ("trustgate",))
    # Two mappings read alike, one of them through a merge of its own.
    text = (
        "version: 1\n<<: [{limits: {<<: {max_deactivations: 5}}}, {limits: {max_deactivations: 5}}]"
        "\nmappings: []\n"
    )
    assert load_text(text, tmp_path).limits.max_deactivations == 5


@pytest.mark.parametrize(
    ("merged", "said"),
    [
        # Constructed to compare, PyYAML's KeyError was "an unexpected error (a bug)".
        ("{k: !!bool maybe}", "a.k: an explicit YAML tag (!!bool) is not used"),
        # Constructed to compare, the loader was left half way: "unconstructable recursive node".
        ("{k: {<<: 1}}", "expected a mapping or list of mappings for merging, but found scalar"),
        # Constructed to compare, sorted by repr: Python's ValueError past 4,300 digits.
        ("{k: {x: !!int 0x" + "f" * 4000 + ", y: 1}}", "a.k.x: an explicit YAML tag (!!int)"),
    ],
    ids=["a value its tag refuses", "a merge of a scalar", "a tagged number of 4,800 digits"],
)
def test_merged_values_are_compared_without_constructing_them(
    merged: str, said: str, tmp_path: Path
) -> None:
    problems = problems_of(
        f"version: 1\na: &a {merged}\nb: &b {{k: 1}}\nc: {{<<: [*a, *b]}}\n", tmp_path
    )
    assert any(said in problem for problem in problems), problems


def test_a_key_written_as_an_alias_is_refused_where_a_merge_would_hide_it(tmp_path: Path) -> None:
    """PyYAML's merge skips a merged key that is the same node as one the mapping has: merged
    into NT-Contractors, NT-Members' own `*r : member` lost to the `owner` it merged, which the
    YAML merge spec and check-jsonschema's reader keep below it."""
    text = (
        "version: 1\nmappings:\n  - &base\n    <<: {&r role: owner}\n    name: NT-Members\n"
        "    *r : member\n  - <<: *base\n    name: NT-Contractors\n"
    )
    assert problems_of(text, tmp_path) == (
        f"{(tmp_path / 'm.yaml').as_posix()}:6:10: mappings[0]: a key is written out, not an "
        "alias (*name)",
    )


def test_each_merge_of_one_mapping_is_checked_against_its_own_keys(tmp_path: Path) -> None:
    # The keys a mapping gives are read once per file; which of them conflict is decided at
    # each merge, by what the merging mapping sets itself, however deep it is.
    text = (
        "version: 1\na: &a {role: member, k: 1}\nb: &b {role: owner, k: 1}\n"
        "x: {<<: [*a, *b], role: admin}\n"
        "y: {<<: [{<<: [{<<: [*a, *b]}]}]}\n"
    )
    problems = problems_of(text, tmp_path)
    merged = [p for p in problems if "set by two" in p]
    assert merged == [
        f"{(tmp_path / 'm.yaml').as_posix()}:3:8: y.<<[0].<<[0].role: set by two of the mappings "
        "`<<` merges (first at line 2): YAML readers disagree on which one is kept, so set it in "
        "one of them only"
    ], problems


def test_plain_http_is_accepted_to_a_loopback_address(tmp_path: Path) -> None:
    text = "version: 1\nneuraltrust: {scim_url: 'http://127.0.0.1:8080/scim/v2'}\n"
    assert load_text(text, tmp_path).neuraltrust.scim_url == "http://127.0.0.1:8080/scim/v2"


def test_yaml_1_1_booleans_are_text_as_editors_and_check_jsonschema_read_them(
    tmp_path: Path,
) -> None:
    """YAML 1.2's booleans are true and false: `name: on` names a group, `products: [on]` a
    product, and `include_disabled: yes` is refused (above) rather than read as true."""
    text = (
        "version: 1\nentra: {include_disabled: TRUE, nested_groups: False}\n"
        "roles: [owner, member]\nproducts: [trustgate, on]\n"
        "mappings:\n  - {name: on, role: member, products: [on]}\n  - {name: No, role: owner}\n"
    )
    config = load_text(text, tmp_path)
    assert (config.entra.include_disabled, config.entra.nested_groups) == (True, False)
    assert config.products == ("trustgate", "on")
    assert [(m.name, m.products) for m in config.mappings] == [("on", ("on",)), ("No", None)]


def test_text_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"version: 1\nmappings:\n  - {name: Caf\xe9, role: owner}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    # At the byte's line and column, not at 1:1: the rest of the file is fine.
    assert caught.value.problems == (
        f"{path.as_posix()}:3:15: not UTF-8 text (byte 35): save it as UTF-8",
    )


def test_the_column_of_a_byte_that_is_not_utf8_counts_characters(tmp_path: Path) -> None:
    # It counted bytes, a BOM's three among them, where every other problem counts characters.
    path = tmp_path / "m.yaml"
    path.write_bytes(
        "\ufeffversion: 1\nmappings:\n  - {name: Caf\u00e9\u00e9".encode() + b"\xff}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (
        f"{path.as_posix()}:3:17: not UTF-8 text (byte 42): save it as UTF-8",
    )


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CR LF", "CR alone"])
@pytest.mark.parametrize(
    ("odd", "said"),
    [(b"\x01", "control character U+0001"), (b"\xe9", "not UTF-8 text")],
    ids=["a control character", "a byte that is not UTF-8"],
)
def test_a_character_problem_is_on_its_line_whatever_the_line_ends(
    newline: str, odd: bytes, said: str, tmp_path: Path
) -> None:
    """YAML ends a line at LF, CR LF or a lone CR, and places its own problems so: a file with
    CR alone put a character's problem on line 1, column 33."""
    path = tmp_path / "m.yaml"
    text = newline.join(["version: 1", "mappings:", "  - name: G@", "    role: owner", ""])
    path.write_bytes(text.encode().replace(b"@", odd))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path.as_posix()}:3:12: {said}"), problem


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_pydantic_errors_are_located_like_schema_errors() -> None:
    # The schema catches these first in load_config; the pydantic layer must still place them.
    doc, problems = parse(b"version: 1\nroles: [owner, owner]\n")
    assert doc is not None
    assert problems == []
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(doc.data)
    (problem,) = pydantic_problems(doc, caught.value)
    assert problem.render("m.yaml").startswith(
        "m.yaml:2:8: roles: Value error, items must be unique"
    )


def test_a_group_repeated_by_id_and_name_is_one_problem(tmp_path: Path) -> None:
    mapping = "{id: 0b3f1c9e-1111-4c1e-9a0b-000000000001, name: NT-Owners, role: owner}"
    problems = problems_of(f"version: 1\nmappings:\n  - {mapping}\n  - {mapping}\n", tmp_path)
    assert len(problems) == 1
    assert "mappings[1].id: group '0b3f1c9e-1111-4c1e-9a0b-000000000001' is already" in problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "entra: {nested_groups: !!bool yes please}",
            "3:24: entra.nested_groups: an explicit YAML tag (!!bool)",
        ),
        (
            "limits: {min_owners: !!int 1.5}",
            "3:22: limits.min_owners: an explicit YAML tag (!!int)",
        ),
        (
            "mappings: [{name: A, role: owner, expires: !!timestamp next-week}]",
            "3:44: mappings[0].expires: an explicit YAML tag (!!timestamp)",
        ),
        (
            "mappings: [{name: A, !!bool role: owner}]",
            "3:22: mappings[0].role: an explicit YAML tag (!!bool)",
        ),
        (
            "limits:\n  <<: {max_deactivations: !!int 1.5}",
            "4:27: limits.<<.max_deactivations: an explicit YAML tag (!!int)",
        ),
        ("roles: !!set {owner: , member: }", "3:8: roles: an explicit YAML tag (!!set)"),
        ("mappings: !!omap [a: 1]", "3:11: mappings: an explicit YAML tag (!!omap)"),
    ],
    ids=[
        "a bool tag on text",
        "an int tag on a fraction",
        "a timestamp tag on text",
        "a tagged key",
        "a tag in an inline merge",
        "a set tag on a mapping",  # was "expected a list, got set {...}", in any order
        "an ordered-map tag on a list",
    ],
)
def test_a_value_tagged_to_be_read_otherwise_is_a_problem_at_its_place(
    text: str, expected: str, tmp_path: Path
) -> None:
    """PyYAML's constructors fail on these with a bare ValueError or KeyError: a traceback
    that said "a bug" and named no line."""
    (problem,) = problems_of(f"# tags\nversion: 1\n{text}\n", tmp_path)
    assert problem.startswith(f"{(tmp_path / 'm.yaml').as_posix()}:{expected}"), problem
    assert problem.endswith(
        "is not used in a mappings file: write the value without it (quoted, if it is text)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("? {a: !!float b}\n: c", "3:3: a key is plain text"),
        ("? [!!timestamp a, b]\n: c", "3:3: a key is plain text"),
        (
            "mappings:\n  - name: G\n    role: member\n    ? [!!int x]\n    : 1",
            "6:7: mappings[0]: a",
        ),
        ("[a, b]: c", "3:1: a key is plain text"),
        ("limits: {? {max: 1} : 2}", "3:12: limits: a key is plain text"),
    ],
    ids=[
        "a mapping key holding a tag",
        "a list key holding a tag",
        "a list key in a mapping",
        "a flow list key",
        "a mapping key in a flow mapping",
    ],
)
def test_a_list_or_a_mapping_as_a_key_is_a_problem_at_its_place(
    text: str, expected: str, tmp_path: Path
) -> None:
    """Constructed, a tag inside such a key failed with a bare ValueError: a traceback."""
    (problem,) = problems_of(f"# keys\nversion: 1\n{text}\n", tmp_path)
    assert problem.startswith(f"{(tmp_path / 'm.yaml').as_posix()}:{expected}"), problem
    assert problem.endswith("a key is plain text, not a list or a mapping")


@pytest.mark.parametrize(("count", "said"), [(200, "has 200 problems"), (201, "more than 200")])
def test_schema_problems_past_the_first_200_are_said_to_be_there(
    count: int, said: str, tmp_path: Path
) -> None:
    """The schema check lists the first 200 problems; a file with more said "has 200
    problems", as if that were all of them."""
    rows = "".join(f"  - {{name: G{i}, role: owner, x: 1}}\n" for i in range(count))
    error = error_of(f"version: 1\nmappings:\n{rows}", tmp_path)
    assert said in error.message
    unknown = [p for p in error.problems if "unknown key" in p]
    assert len(unknown) == 200
    if count > 200:
        assert error.message == f"{(tmp_path / 'm.yaml').as_posix()} has more than 200 problems"
        assert error.problems[-1].endswith(
            ":203:5: mappings[200]: more problems than are listed, this one among them: fix the "
            "first 200 and check again"
        )


def test_a_plain_equals_sign_is_refused_and_a_quoted_one_is_text(tmp_path: Path) -> None:
    """YAML 1.1 resolves a plain `=` to a tag no constructor reads: "could not determine a
    constructor for the tag 'tag:yaml.org,2002:value'" (a traceback here once, and
    check-jsonschema's reader still fails on it), where editors read the text `=`."""
    (problem,) = problems_of("version: 1\nmappings: [{name: =, role: owner}]\n", tmp_path)
    assert problem.endswith(
        ":2:19: mappings[0].name: = is a special value to check-jsonschema's YAML reader, which "
        "cannot read it, and text to entrasync: quote it ('=')"
    )
    config = load_text("version: 1\nmappings: [{name: '=', role: owner}]\n", tmp_path)
    assert config.mappings[0].name == "="


@pytest.mark.parametrize("alike", ["Owner", "OWNER"])
def test_roles_that_differ_only_in_case_or_blanks_are_refused(alike: str, tmp_path: Path) -> None:
    """NeuralTrust may take `Owner` for `owner` (role values are not case-exact): with both in
    the vocabulary, which one a user holds, and who is an owner, would be a guess."""
    text = f"version: 1\nroles: [owner, member, {alike!r}]\nmappings: [{{name: G, role: owner}}]\n"
    (problem,) = problems_of(text, tmp_path)
    assert f"roles[2]: {alike!r} and 'owner' differ only in case or blanks" in problem
    assert problem.endswith("NeuralTrust may take one for the other; keep one of them")


@pytest.mark.parametrize("blank", [" owner", "admin ", "  member  "])
def test_a_role_with_blanks_around_it_is_refused(blank: str, tmp_path: Path) -> None:
    """`"admin "` passed, and NeuralTrust may read it as `admin`, or not."""
    text = (
        f"version: 1\nroles: [owner, {json.dumps(blank)}]\nmappings: [{{name: G, role: owner}}]\n"
    )
    (problem,) = problems_of(text, tmp_path)
    assert f"roles[1]: {show(blank)} has blanks around it" in problem, problem


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["no BOM", "a BOM"])
def test_a_value_tagged_as_text_is_text_to_every_reader(bom: str, tmp_path: Path) -> None:
    # libyaml's marks leave a BOM out: the value's written text was read one character early,
    # its tag missed, and `!!str 010` refused as a number read two ways.
    config = load_text(f"{bom}version: 1\nmappings: [{{name: !!str 010, role: owner}}]\n", tmp_path)
    assert config.mappings[0].name == "010"


@pytest.mark.parametrize(
    "written",
    ["&n !!str 010", "!!str &n 010", "&n # why\n      !!str 010", "!<tag:yaml.org,2002:str> 010"],
    ids=["anchor first", "tag first", "a comment between", "verbatim"],
)
def test_a_value_tagged_as_text_is_text_whatever_stands_around_the_tag(
    written: str, tmp_path: Path
) -> None:
    # A comment between an anchor and `!!str` hid the tag: the value was refused as a number.
    config = load_text(f"version: 1\nmappings:\n  - name: {written}\n    role: owner\n", tmp_path)
    assert config.mappings[0].name == "010"


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("limits:\n  min_owners", "! 1"),
        ("mappings:\n  - role: owner\n    name", "! 010"),
        ("mappings:\n  - role: owner\n    name", "!<!> 010"),
        ("mappings:\n  - role: owner\n    name", "&n ! G"),
    ],
    ids=["a number slot", "a number to ruamel", "verbatim", "anchored text"],
)
def test_the_non_specific_tag_is_refused(key: str, written: str, tmp_path: Path) -> None:
    """Readers disagree on it: ruamel reads `! 010` as 10, and `! 1` was 1 here where editors
    read the text "1" for a number."""
    (problem,) = problems_of(f"version: 1\n{key}: {written}\n", tmp_path)
    tag = written.removeprefix("&n ").split()[0]
    assert f"an explicit YAML tag ({tag}) is not used in a mappings file" in problem


@pytest.mark.parametrize("directive", ["%YAML 1.1", "%YAML 1.2", "%TAG !e! tag:example.com,2000:"])
def test_a_yaml_directive_is_refused_at_its_line(directive: str, tmp_path: Path) -> None:
    """`%YAML 1.1` made other readers take `on` for true and `1:30` for 90; `%YAML 1.2` is
    refused by Go's reader; `%TAG` gives tags another meaning. Read as text here, each passed."""
    text = f"# mappings\n{directive}\n---\nversion: 1\nmappings: [{{name: on, role: owner}}]\n"
    assert problems_of(text, tmp_path)[0].endswith(
        ":2:1: a YAML directive (%YAML, %TAG) is not used in a mappings file: remove it"
    )


def test_a_yaml_directive_after_a_lone_cr_is_refused_at_its_line(tmp_path: Path) -> None:
    text = "# mappings\r%YAML 1.1\r---\rversion: 1\rmappings: [{name: on, role: owner}]\r"
    assert problems_of(text, tmp_path)[0].endswith(
        ":2:1: a YAML directive (%YAML, %TAG) is not used in a mappings file: remove it"
    )


def test_a_tab_inside_a_one_line_value_is_told_as_inside_the_value(tmp_path: Path) -> None:
    text = "version: 1\nmappings:\n  - name: NT\tOwners\n    role: owner\n"
    (problem,) = problems_of(text, tmp_path)
    assert problem.endswith(
        ":3:11: mappings[0].name: a tab (U+0009) inside a value is not allowed: write the value "
        "on one line"
    ), problem


def test_a_percent_sign_starting_a_line_of_a_value_is_no_directive(tmp_path: Path) -> None:
    text = 'version: 1\nmappings:\n- name: "G\n%H"\n  role: owner\n'
    assert load_text(text, tmp_path).mappings[0].name == "G %H"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("version: 1\t\n", "1:11"),
        ("version:\t1\n", "1:9"),
        ("version: 1\t# first\n", "1:11"),
        ("version: 1\nroles:\t[owner]\n", "2:7"),
        ("version: 1\nroles: [owner]\t\n", "2:15"),
        ("version: 1\nmappings:\n  - name: &g\tG\n    role: owner\n", "3:13"),
        ("version: 1\nmappings:\n  - name: G\n     \tH\n    role: owner\n", "4:6"),
        ("version: 1\n  \t\nroles: [owner]\n", "2:3"),
        ("version: 1\nmappings:\n  - name: |-\t# the group\n      G\n    role: owner\n", "3:13"),
    ],
    ids=[
        "after a value",
        "after a colon",
        "before a comment",
        "before a flow list",
        "after a flow list",
        "after an anchor",
        "folded in a plain value on two lines",
        "on a line of blanks",
        "after a block value's indicator",
    ],
)
def test_a_tab_used_as_a_space_is_refused_at_its_place(
    text: str, where: str, tmp_path: Path
) -> None:
    """libyaml reads a tab there as a space; check-jsonschema's reader (ruamel) refuses the
    file: valid here, it failed the pre-commit schema check."""
    (problem,) = problems_of(text, tmp_path)
    assert problem.endswith(
        f":{where}: a tab is used as a space here, which other YAML readers refuse: use spaces"
    ), problem


def test_a_tab_in_a_comment_a_flow_list_or_a_quoted_value_on_two_lines_is_fine(
    tmp_path: Path,
) -> None:
    text = 'version: 1 # a\tb\n#\tc\nroles: [\towner,\tadmin]\nmappings:\n- name: "G\n    \tH"\n'
    config = load_text(text + "  role: owner\n", tmp_path)
    assert (config.roles, config.mappings[0].name) == (("owner", "admin"), "G H")


def test_a_tag_that_reads_the_value_as_written_is_fine(tmp_path: Path) -> None:
    config = load_text(
        "version: !!int 1\nroles: !!seq [owner]\n"
        "mappings: [!!map {name: !!str 123, role: owner}]\n",
        tmp_path,
    )
    assert config.mappings[0].name == "123"


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            "{name: 123, role: owner}",
            ["4:12: mappings[0].name: expected text, got the number 123: quote it to write it"],
        ),
        ("{id: [a], role: owner}", ["4:10: mappings[0].id: expected text, got a list"]),
        ("{id: null, role: owner}", ["4:5: mappings[0]: a mapping needs an id or a name"]),
        ("{role: owner}", ["4:5: mappings[0]: a mapping needs an id or a name"]),
    ],
)
def test_a_mapping_is_told_it_needs_an_id_or_a_name_only_when_it_has_neither(
    mapping: str, expected: list[str], tmp_path: Path
) -> None:
    """`name: 123` was also told it had no name."""
    problems = problems_of(f"version: 1\nroles: [owner]\nmappings:\n  - {mapping}\n", tmp_path)
    where = (tmp_path / "m.yaml").as_posix()
    assert len(problems) == len(expected), problems
    for problem, said in zip(problems, expected, strict=True):
        assert problem.startswith(f"{where}:{said}"), problem


def test_a_tab_that_cannot_start_a_token_is_named(tmp_path: Path) -> None:
    (problem,) = problems_of("version: 1\nmappings:\n\t- {name: A, role: owner}\n", tmp_path)
    assert problem.startswith(f"{(tmp_path / 'm.yaml').as_posix()}:3:1: YAML syntax error: ")
    assert problem.endswith("; it is a tab: YAML indents with spaces only")


@pytest.mark.parametrize(("written", "col"), [("products: ~", 15), ("products:  # to decide", 14)])
def test_products_written_empty_is_refused_not_read_as_every_product(
    written: str, col: int, tmp_path: Path
) -> None:
    """Omitted, products on a product role are every product; a key left empty is no choice
    made, and reading it as omitted granted every product."""
    text = f"version: 1\nmappings:\n  - name: A\n    role: member\n    {written}\n"
    assert problems_of(text, tmp_path) == (
        f"{(tmp_path / 'm.yaml').as_posix()}:5:{col}: mappings[0].products: is empty: remove the "
        "key (a product role then gets every product) or list the products ([] for none)",
    )
    omitted = load_text("version: 1\nmappings:\n  - {name: A, role: member}\n", tmp_path)
    assert omitted.mappings[0].products is None


@pytest.mark.parametrize(("written", "col"), [("expires: ~", 14), ("expires:  # next quarter", 13)])
def test_expires_written_empty_is_refused_not_read_as_never(
    written: str, col: int, tmp_path: Path
) -> None:
    """Omitted, a mapping never expires; a key left empty for later made a time-boxed grant a
    lasting one, without a word."""
    text = f"version: 1\nmappings:\n  - name: A\n    role: member\n    {written}\n"
    assert problems_of(text, tmp_path) == (
        f"{(tmp_path / 'm.yaml').as_posix()}:5:{col}: mappings[0].expires: is empty: write the "
        "mapping's last day (YYYY-MM-DD), or remove the key for a mapping that never expires",
    )
    with pytest.raises(ValidationError, match="remove the key for a mapping that never expires"):
        GroupMapping.model_validate({"name": "A", "role": "member", "expires": None})
    omitted = load_text("version: 1\nmappings:\n  - {name: A, role: member}\n", tmp_path)
    assert omitted.mappings[0].expires is None


def test_an_unknown_key_is_named_as_written_and_located_on_its_line(tmp_path: Path) -> None:
    (problem,) = problems_of("version: 1\nentra:\n  nested_groups: true\n  on: true\n", tmp_path)
    assert "m.yaml:4:3: entra.on: unknown key" in problem


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        pytest.param(
            "version: 1\nproducts: []\nmappings:\n  - {name: A, role: member}\n",
            "warning: products is empty: users on a product role (member) get no product "
            "access, and NeuralTrust is set to exactly none; list the products to grant them\n",
            id="an empty product vocabulary warns that product roles get no product",
        ),
        pytest.param(
            "version: 1\nproducts: []\nproduct_roles: []\nmappings:\n  - {name: A, role: member}\n",
            "",
            id="an empty product vocabulary without product roles says nothing more",
        ),
        pytest.param(
            "version: 1\nmappings:\n  - {name: A, role: member}\n",
            "",
            id="a product vocabulary says nothing more",
        ),
    ],
)
def test_validate_warns_when_product_roles_can_get_no_product(
    text: str, warning: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path.as_posix()} is valid: 1 mapping (1 synced)")
    assert err == warning


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_libyaml_and_the_pure_python_parser_read_a_file_alike(
    fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The config is parsed by libyaml where PyYAML has it; without it, the same answers.
    import yaml

    from entrasync.config import source as config_yaml

    raw = (FIXTURES / fixture).read_bytes()
    assert config_yaml._Loader.__name__ == "CSafeLoader"
    fast_doc, fast = parse(raw)
    monkeypatch.setattr(config_yaml, "_Loader", yaml.SafeLoader)
    slow_doc, slow = parse(raw)
    assert (fast_doc is None) == (slow_doc is None)
    if fast_doc is not None and slow_doc is not None:
        assert fast_doc.data == slow_doc.data
        assert fast == slow
        assert fast_doc.places.keys() == slow_doc.places.keys()
        for path, place in fast_doc.places.items():
            assert place.node.start_mark.line == slow_doc.places[path].node.start_mark.line
            assert place.node.tag == slow_doc.places[path].node.tag
    else:  # a syntax error: the same place (the parsers word it differently)
        assert [(p.line, p.col) for p in fast] == [(p.line, p.col) for p in slow]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("%YAML 1.1\n---\nversion: 1\n", id="a directive"),
        pytest.param("version:\t1\n", id="a tab as a space"),
        pytest.param("version: 1\nmappings:\n  - name: A\n    role: >\t\n      member\n",
                     id="a tab in a block value's header"),
        pytest.param("version: 1\nmappings:\n  - name: A\n    role: mem\n\tber\n",
                     id="a tab where a plain value is folded"),
    ],
)  # fmt: skip
def test_libyaml_and_the_pure_python_parser_find_directives_and_tabs_alike(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from entrasync.config import source as config_yaml

    fast = parse(text.encode())[1]
    monkeypatch.setattr(config_yaml, "_Loader", yaml.SafeLoader)
    slow = parse(text.encode())[1]
    # Refused by both at one place, said first; PyYAML's own scanner refuses a tab where
    # libyaml reads a space, so the words may differ (the parsers word syntax errors
    # differently), and only libyaml's reading goes on to the file's other problems.
    assert fast, "each of these is refused"
    assert (fast[0].line, fast[0].col) == (slow[0].line, slow[0].col)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "version: 1\nmappings:\n  - name: A\n    role: member\n   - name: B\n",
            "5:4: YAML syntax error: did not find expected '-' indicator (while parsing a block "
            "collection at line 3); check the indentation: line 5 is indented 3 spaces, but the "
            "list it continues, from line 3, is indented 2",
        ),
        (
            "version: 1\nroles: [owner]\n  products: [x]\n",
            "3:3: YAML syntax error: did not find expected key (while parsing a block mapping at "
            "line 1); check the indentation: line 3 is indented 2 spaces, but the mapping it "
            "continues, from line 1, is indented 0",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role: member\n  products: [a]\n - name: B\n",
            "check the indentation: line 5 lines up with the list from line 3 but is not a `- ` "
            "item: indent it under the item above it",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n      role: admin\n",
            "4:11: YAML syntax error: mapping values are not allowed in this context; check the "
            "indentation: line 4 is indented 6 spaces, deeper than the key of line 3 (4 spaces)",
        ),
        (
            "version: 1\nlimits:\n  max_deactivations: 5\n   min_owners: 1\n",
            "line 4 is indented 3 spaces, deeper than the key of line 3 (2 spaces), which has its "
            "value already",
        ),
        (
            "version: 1\nmappings:\n  - name: A\n    role:admin\n",
            "4:5: YAML syntax error: a key without `: ` after it; write `key: value`, with a "
            "space after the colon",
        ),
        (
            "version: 1\nmappings:\n  - name: NT: Platform\n    role: member\n",
            "3:13: YAML syntax error: mapping values are not allowed in this context; a value "
            "holding `: ` must be quoted: put it in double quotes",
        ),
        (
            "version: 1\nentra:\n  tenant_id: a: b\n",
            "3:15: YAML syntax error: mapping values are not allowed in this context; a value "
            "holding `: ` must be quoted",
        ),
        (
            'version: 1\nmappings:\n  - name: "NT-Owners",\n    role: owner\n',
            "3:22: YAML syntax error: did not find expected key (while parsing a block mapping "
            "at line 3); line 3 has text after its value, from column 22: remove it, or put the "
            "whole value in quotes",
        ),
    ],
    ids=[
        "an item indented one space too far",
        "a key under a flow list",
        "a key at item level",
        "a key indented deeper than the key above",
        "a key one space deeper in a mapping",
        "a key without a space after its colon",
        "a value holding a colon and a space",
        "a value holding a colon, in a nested mapping",
        "a comma after a value pasted from JSON: not the indentation",
    ],
)
def test_a_block_error_says_which_line_is_indented_wrongly(
    tmp_path: Path, text: str, said: str
) -> None:
    # libyaml's words; PyYAML's own parser (where PyYAML was built without libyaml) says "here".
    problem = problems_of(text, tmp_path)[0].replace(
        "not allowed here", "not allowed in this context"
    )
    assert said in problem


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        pytest.param(
            "version: 1\nentra:\n  client_secret: x\n",
            "secrets come only from the environment",
            id="a secret key gets the secret hint",
        ),
        pytest.param(
            "version: 1\non_removed: 'secrets never go in this file'\n",
            "the JSON Schema documents every key",
            id="a value that quotes the secret wording gets the ordinary hint",
        ),
    ],
)
def test_the_hint_follows_the_kind_of_problem_not_its_wording(
    text: str, hint: str, tmp_path: Path
) -> None:
    assert hint in (error_of(text, tmp_path).hint or "")


@pytest.mark.parametrize(
    ("neuraltrust", "problem"),
    [
        pytest.param(
            "{role_attribute: userName}",
            "neuraltrust.role_attribute: 'userName' is where entrasync keeps the user name",
            id="the role in userName",
        ),
        pytest.param(
            "{products_attribute: 'urn:ietf:params:scim:schemas:core:2.0:User:externalId'}",
            "neuraltrust.products_attribute: 'urn:ietf:params:scim:schemas:core:2.0:User:"
            "externalId' is where entrasync keeps the Entra object id",
            id="the products in externalId, by its full path",
        ),
        pytest.param(
            "{role_attribute: name.givenName}",
            "neuraltrust.role_attribute: 'name.givenName' is not a SCIM attribute name",
            id="the role in a sub-attribute of name, which is not an attribute of its own",
        ),
        pytest.param(
            "{products_attribute: Roles}",
            "neuraltrust.products_attribute: 'Roles' is also the role_attribute by default: "
            "the role and the products each need an attribute of their own",
            id="the products in the default role attribute",
        ),
        pytest.param(
            "{role_attribute: 'urn:acme:User:x', products_attribute: 'urn:acme:User:x'}",
            "neuraltrust.products_attribute: 'urn:acme:User:x' is also the role_attribute: ",
            id="one extension attribute for both",
        ),
    ],
)
def test_the_role_and_products_need_attributes_of_their_own(
    neuraltrust: str, problem: str, tmp_path: Path
) -> None:
    (found,) = problems_of(f"version: 1\nneuraltrust: {neuraltrust}\n", tmp_path)
    assert problem in found


@pytest.mark.parametrize(
    "neuraltrust",
    ["{role_attribute: title}", "{role_attribute: 'urn:acme:User:role'}", "{}"],
)
def test_attributes_entrasync_does_not_own_are_fine(neuraltrust: str, tmp_path: Path) -> None:
    config = load_text(f"version: 1\nneuraltrust: {neuraltrust}\n", tmp_path)
    assert config.neuraltrust.products_attribute == "entitlements"


def test_a_large_vocabulary_is_named_in_part_and_not_guessed_among(tmp_path: Path) -> None:
    """3,000 declared roles named in each of 3,000 problems made 60 MB of output in 23 s."""
    roles = ", ".join(f"r{i}" for i in range(300))
    text = (
        f"version: 1\nroles: [{roles}]\nproduct_roles: []\nmappings:\n  - {{name: g, role: r1x}}\n"
    )
    (problem,) = problems_of(text, tmp_path)
    listed = ", ".join(f"r{i}" for i in range(20))
    assert problem.endswith(f"mappings[0].role: 'r1x' is not one of {listed}, … (280 more)")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            "{name: A, role: owner, role: member}",
            "3:32: mappings[0].<<.role: duplicate key (first at line 3)",
        ),
        (
            '{name: "NT\\x1b[31mEvil", role: member}',
            "3:16: mappings[0].<<.name: control character U+001B, written as an escape",
        ),
    ],
    ids=["a duplicate key", "an escaped control character"],
)
def test_an_inline_merge_is_checked_as_any_mapping(
    mapping: str, expected: str, tmp_path: Path
) -> None:
    """Unchecked, ``role: owner, role: member`` in a merge passed, and YAML kept the last."""
    (problem,) = problems_of(f"version: 1\nmappings:\n  - <<: {mapping}\n", tmp_path)
    assert problem.startswith(f"{(tmp_path / 'm.yaml').as_posix()}:{expected}"), problem


@pytest.mark.parametrize(
    ("text", "foreign"),
    [
        ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", True),
        ("version: 1\nkind: ConfigMap\n", False),
        ("mappings: [{name: A, role: admn}]\n", False),
        ("verison: 1\nmapping: [{name: A, role: owner}]\n", False),
        ("- {name: A, role: owner}\n", False),
    ],
    ids=[
        "another tool's mapping",
        "one key of ours",
        "a broken mappings file",
        "our keys misspelt",
        "mappings without their key",
    ],
)
def test_a_file_with_none_of_our_keys_is_told_how_to_keep_the_hook_off_it(
    text: str, foreign: bool, tmp_path: Path
) -> None:
    """The hook matches `mappings*.yaml` in any folder, a search index's or a ConfigMap's too."""
    hint = error_of(text, tmp_path).hint or ""
    assert ("give the hook `exclude:` (or `files:`) in .pre-commit-config.yaml" in hint) is foreign
    where = (tmp_path / "m.yaml").as_posix()
    assert hint.startswith(f"{where} has none of a mappings file's keys") is foreign


@pytest.mark.parametrize(
    "text",
    [
        'version: 1\n"x\\nerror: forged": 1\nmappings: []\n',
        'version: 1\nmappings: []\n"x\\nerror: forged": 1\n"x\\nerror: forged": 2\n',
        "version: 1\nroles: !<tag:x%0Aerror:%20forged> [a]\nmappings: []\n",
    ],
    ids=["an unknown key", "a duplicate key", "a tag"],
)
def test_a_line_break_in_a_key_or_a_tag_forges_no_line_of_output(text: str, tmp_path: Path) -> None:
    # Values with a line break are refused; a quoted key or a %0A in a tag printed one whole.
    problems = problems_of(text, tmp_path)
    assert problems
    assert all("\n" not in p and "\\x0aerror: forged" in p for p in problems), problems


# Made at run time, so that no literal in the tree reads as a secret to a scanner.
PASTED_SECRET = "".join(("Q7x8Q~", "fakeSecret", "ForTests", "0123456789"))
# The variables' and keys' names too: no line of the tree reads as a secret set.
SECRET_VAR, TOKEN_VAR = "_".join(("AZURE", "CLIENT", "SECRET")), "_".join(("NT", "SCIM", "TOKEN"))
SECRET_KEY = "_".join(("client", "secret"))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            f"AZURE_TENANT_ID=abc\n{SECRET_VAR}={PASTED_SECRET}\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"export {TOKEN_VAR}={PASTED_SECRET}\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"version: 1\nprotected: ['{SECRET_KEY}: {PASTED_SECRET}']\nmappings: []\n",
            "m.yaml:2:13: protected[0]: a text that seems to set a secret (not shown) is not an "
            "email address or UPN (user@domain)",
        ),
        (
            f'version: 1\nprotected: [\'"password": "{PASTED_SECRET}",\']\nmappings: []\n',
            "m.yaml:2:13: protected[0]: a text that seems to set a secret (not shown) is not an "
            "email address or UPN (user@domain)",
        ),
        (
            f"AZURE_TENANT_ID=contoso;{SECRET_VAR}={PASTED_SECRET}\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"https://nt.example/scim?access_token={PASTED_SECRET}\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            "DB_PASSWORD=fa;ke&4?tests\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f'{SECRET_VAR}="fake 4 tests"\n',
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            'version: 1\nprotected: [\'{"password": "fake horse 4tests"}\']\nmappings: []\n',
            "m.yaml:2:13: protected[0]: a text that seems to set a secret (not shown) is not an "
            "email address or UPN (user@domain)",
        ),
        (
            f'$env:{SECRET_VAR}="{PASTED_SECRET}"\n',
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f'setx {SECRET_VAR} "{PASTED_SECRET}"\n',
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f'os.environ["{TOKEN_VAR}"] = "{PASTED_SECRET}"\n',
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"{SECRET_VAR}=fa,ke4&tests\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"{TOKEN_VAR}=fa'ke4tests\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f'version: 1\nprotected: [\'{{"{SECRET_KEY}": "fa\\"ke#4tests"}}\']\nmappings: []\n',
            "m.yaml:2:13: protected[0]: a text that seems to set a secret (not shown) is not an "
            "email address or UPN (user@domain)",
        ),
        (
            f"$env:{SECRET_VAR}='fa''ke#4tests'\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f'$env:{SECRET_VAR}="fa`"ke#4tests"\n',
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
        (
            f"$env:{SECRET_VAR}='fake ''4 tests'\n",
            "m.yaml:1:1: expected a mapping of keys, got a text that seems to set a secret (not "
            "shown)",
        ),
    ],
    ids=[
        "a .env file given as the mappings file",
        "a shell's export",
        "a line pasted in",
        "a line of JSON pasted in",
        "after a semicolon",
        "in a query string",
        "a value holding & ; ?",
        "a quoted value with blanks",
        "a line of JSON with blanks in its value",
        "PowerShell",
        "setx",
        "Python",
        "a comma in the value",
        "a quote in the value",
        "an escaped quote in a JSON value",
        "a doubled quote in a PowerShell value",
        "a backtick-escaped quote in a PowerShell value",
        "a doubled quote and blanks in a quoted value",
    ],
)
def test_a_text_that_sets_a_secret_is_not_quoted(text: str, said: str, tmp_path: Path) -> None:
    # Quoted, the secret went to the output, and with plan --comment to the pull request.
    error = error_of(text, tmp_path)
    assert [p.replace(f"{tmp_path}/", "") for p in error.problems] == [said]
    assert PASTED_SECRET not in f"{error.message} {error.hint} {error.problems}"


def test_the_mappings_file_is_checked_for_unique_items_in_one_pass() -> None:
    # jsonschema's own uniqueItems compares every pair of a list it cannot sort: a blank entry
    # in a protected list of 40,000 took 39 s (benchmarks/shapes.py measures the growth).
    assert _validator().VALIDATORS["uniqueItems"] is unique_items


@pytest.mark.parametrize(
    "name",
    [
        "App Password: Reset Team",
        "KeyVault-Secrets: Readers and Writers",
        "Token=Ring",
        "Tokens: read&write",
        "Access tokens: owners;approvers",
        'Secret = "Keepers of the Vault"',
    ],
)
def test_a_name_with_a_secret_word_in_it_is_shown(name: str, tmp_path: Path) -> None:
    text = f"version: 1\nmappings:\n  - {{name: '{name}', role: admin}}\n"
    text += f"  - {{name: '{name}', role: member}}\n"
    (problem,) = problems_of(text, tmp_path)
    assert f"group {name!r} is already mapped" in problem


@pytest.mark.parametrize(
    ("items", "twice"),
    [
        ("[{1: a, b: c}, {1: a, b: c}]", "products[1]: {1: 'a', 'b': 'c'} is listed twice"),
        ("[a, 1, 1.0]", "products[2]: 1.0 is listed twice"),
        ("[a, {x: 1}, {x: 1.0}]", "products[2]: {'x': 1.0} is listed twice"),
        ("[a, true, 1]", None),
        ("[a, ~, b, a]", "products[3]: 'a' is listed twice"),
        ("[a, ~, b, ~]", "products[3]: an empty entry is listed twice"),
        ("[a, ~, b]", None),
    ],
    ids=[
        "mappings with keys of two types",
        "1 and 1.0",
        "inside a mapping",
        "true and 1",
        "in a list that cannot be sorted (a blank entry in it)",
        "two blank entries",
        "no duplicate beside a blank entry",
    ],
)
def test_a_duplicate_is_found_as_json_schema_finds_it(
    items: str, twice: str | None, tmp_path: Path
) -> None:
    # Keyed by JSON text, keys of two types were a traceback and 1.0 no duplicate of 1.
    problems = problems_of(f"version: 1\nproducts: {items}\nmappings: []\n", tmp_path)
    listed = [p for p in problems if "listed twice" in p or "must be unique" in p]
    if twice is None:
        assert listed == []
    else:
        assert len(listed) == 1
        assert twice in listed[0]


@pytest.mark.parametrize(
    "text",
    [
        b"version: 1\n",
        b"version: 1\r\non_removed: deactivate\r\n",
        b"\xef\xbb\xbfversion: 1\n",
        b"{version: 1, on_removed: deactivate}\n",
        # A mistake further on: still the team's file, the one to fix, not one to draft anew.
        b'version: 1\non_removed: deactivate\nmappings:\n  - name: "NT-a\n    role: member\n',
        b"version: 1\nmappings:\n  - {name: Caf\xe9, role: member}\n",
        b"version: 1\nmappings:\n  - {name: NT-a\x1b, role: member}\n",
    ],
    ids=[
        "plain",
        "CR LF line ends",
        "a BOM",
        "flow style",
        "a later syntax error",
        "Latin-1",
        "a control character",
    ],
)
def test_init_run_from_inside_config_drafts_nothing_and_names_the_file_there(
    text: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It drafted config/config/mappings.yaml with the defaults: on_removed keep, and none of
    the file's protected users. Said before any read: no credentials are set here."""
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mappings.yaml").write_bytes(text)
    monkeypatch.chdir(tmp_path / "config")
    assert main(["init", "NT-"]) == 1
    assert capsys.readouterr().err == (
        f"error: config file config/mappings.yaml not found in {tmp_path / 'config'}, but there "
        "is one nearby: its settings (vocabulary, limits, protected users) go into the draft\n"
        "hint: pass --config mappings.yaml, with --out FILE for the draft (init never writes "
        "over the file it reads)\n"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["config", "mappings.yaml"]


def test_init_run_from_inside_config_goes_on_as_its_hint_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint named --config alone, which made the mappings file the draft's target too:
    a second refusal ("already exists"). Followed, it reaches the reads (no credentials
    here)."""
    for name in ("ENTRASYNC_CONFIG", *CREDENTIAL_VARIABLES, *GITHUB_OIDC_PAIR):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mappings.yaml").write_text("version: 1\n")
    monkeypatch.chdir(tmp_path / "config")
    assert main(["init", "NT-", "--config", "mappings.yaml", "--out", "drafted.yaml"]) == 1
    err = capsys.readouterr().err
    assert "Settings from mappings.yaml" in err
    assert "error: no Microsoft Graph credentials found" in err


def test_a_mappings_yaml_of_another_tool_is_not_taken_for_the_one_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A search index's mappings.yaml blocked init, and the hint to pass it failed; so would
    a file whose version is no plain 1, or a link (validate reads no link)."""
    monkeypatch.delenv("ENTRASYNC_CONFIG", raising=False)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.yaml"
    real.write_text("version: 1\n")
    for text in ("properties:\n  title: {type: text}\n", "version: true\n", 'version: "1"\n', None):
        (tmp_path / "mappings.yaml").unlink(missing_ok=True)
        if text is None:
            (tmp_path / "mappings.yaml").symlink_to(real)
        else:
            (tmp_path / "mappings.yaml").write_text(text)
        assert main(["validate"]) == 1
        assert "none yet? `entrasync init PREFIX`" in capsys.readouterr().err, text


def _validate_in(folder: Path, *before: str) -> subprocess.CompletedProcess[str]:
    """`entrasync validate` of the default mappings file, run in ``folder`` (after the command
    ``before``, if any), in a process of its own: what it does there cannot hang the suite."""
    env = {k: v for k, v in os.environ.items() if k != "ENTRASYNC_CONFIG"}
    return subprocess.run(
        [*before, sys.executable, "-m", "entrasync", "validate"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_folder_above_that_cannot_be_read_holds_no_mappings_file(tmp_path: Path) -> None:
    """Path.exists() raises PermissionError there: a missing config was "a bug". Run without
    the capabilities that let root read anything."""
    work = tmp_path / "locked" / "work"
    work.mkdir(parents=True)
    (tmp_path / "locked").chmod(0o000)  # as another user's home folder may be
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"] if os.geteuid() == 0 else []
    try:
        done = _validate_in(work, *drop)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert done.returncode == 1
    assert done.stderr.startswith("error: config file config/mappings.yaml not found in "), (
        done.stderr
    )
    assert "a bug" not in done.stderr


def test_a_pipe_named_mappings_yaml_is_no_mappings_file_missed(tmp_path: Path) -> None:
    # Opened to see whether it reads as one, it waited for a writer for ever.
    os.mkfifo(tmp_path / "mappings.yaml")
    done = _validate_in(tmp_path)
    assert done.returncode == 1
    assert "none yet? `entrasync init PREFIX`" in done.stderr


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        (
            'scim_url: "https://app.neuraltrust\\u200b.ai/api/scim/v2"',
            "holds U+200B, a character a URL does not hold and that may not show",
        ),
        (
            'scim_url: "https://app.neuraltrust.ai/api/scim/v2\\ufeff"',
            "holds U+FEFF, a character a URL does not hold and that may not show",
        ),
        ('role_attribute: "urn:ietf:params:\\ufeff:User:role"', "is not a SCIM attribute name"),
    ],
    ids=["a zero-width space in the host", "a BOM at the end", "a BOM in an extension's URN"],
)
def test_a_hidden_character_in_a_url_or_attribute_is_refused_as_editors_refuse_it(
    setting: str, said: str, tmp_path: Path
) -> None:
    """Python's \\S took U+FEFF, which ECMAScript's \\s holds (editors showed red on a valid
    file); a zero-width space in the host passed validate, dropped by Python's IDNA codec, and
    plan refused the URL."""
    (problem,) = problems_of(f"version: 1\nneuraltrust: {{{setting}}}\n", tmp_path)
    assert said in problem


def test_a_bom_takes_no_column_and_a_second_one_is_refused(tmp_path: Path) -> None:
    # A BOM's column was counted for a control character on line 1, and libyaml skipped a
    # second BOM which every other reader keeps in the first key ('\ufeffversion').
    path = tmp_path / "m.yaml"
    shown = path.as_posix()
    for bom in ("", "\ufeff"):
        path.write_text(f"{bom}version: 1\x01\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert caught.value.problems[0].startswith(f"{shown}:1:11: control character U+0001")
    said = "a BOM (U+FEFF) starts this line; only the file may start with one: remove it"
    for text, line in (("\ufeff\ufeffversion: 1\n", 1), ("# a\r\n\ufeff# b\r\nversion: 1\n", 2)):
        path.write_text(text, encoding="utf-8", newline="")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert caught.value.problems == (f"{shown}:{line}:1: {said}",)

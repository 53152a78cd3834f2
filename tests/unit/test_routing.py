"""Which keys route credentials, where each value comes from, and what counts as a change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrasync.cli import main
from entrasync.config.loading import load_config
from entrasync.config.models import Config
from entrasync.config.routing import (
    AUTHORITY_HOST,
    ROUTING_KEYS,
    SCIM_URL,
    TrustedRouting,
    load_trusted,
    require_trusted_routing,
    routing_changes,
)
from entrasync.errors import ConfigError

TENANT = "aaaaaaaa-2222-3333-4444-55555555555f"
BASE: dict[str, Any] = {
    "version": 1,
    "entra": {"tenant_id": TENANT, "authority_host": "https://login.microsoftonline.us"},
    "neuraltrust": {"scim_url": "https://nt.contoso.com/api/scim/v2"},
}


def config(**sections: dict[str, Any]) -> Config:
    data = {**BASE, **{k: {**BASE.get(k, {}), **v} for k, v in sections.items()}}
    for part in ("entra", "neuraltrust"):
        data[part] = {k: v for k, v in data[part].items() if v is not None}
    return Config.model_validate(data)


def test_the_five_keys_of_the_contract_route_credentials() -> None:
    assert [k.key for k in ROUTING_KEYS] == [
        "entra.tenant_id",
        "entra.client_id",
        "entra.authority_host",
        "entra.graph_url",
        "neuraltrust.scim_url",
    ]


@pytest.mark.parametrize(
    ("review", "changed"),
    [
        ({}, []),
        ({"entra": {"nested_groups": False}}, []),
        ({"entra": {"authority_host": "https://login.example.com"}}, ["entra.authority_host"]),
        ({"entra": {"graph_url": "https://graph.example.com"}}, ["entra.graph_url"]),
        ({"entra": {"authority_host": None}}, ["entra.authority_host"]),
        ({"entra": {"tenant_id": TENANT.upper()}}, ["entra.tenant_id"]),
        (
            {"neuraltrust": {"scim_url": "https://nt.contoso.com/api/scim/v2/"}},
            ["neuraltrust.scim_url"],
        ),
    ],
    ids=[
        "the same config changes nothing",
        "an entra option that routes nothing is no routing change",
        "a changed authority host",
        "a key added where the trusted config has none",
        "a key removed (the default would then be used)",
        "a letter case change is a change: values are compared as written",
        "a trailing slash is a change too",
    ],
)
def test_what_counts_as_a_routing_change(review: dict[str, Any], changed: list[str]) -> None:
    assert routing_changes(config(**review), config()) == changed


def test_a_source_is_named_by_where_it_came_from() -> None:
    env = {"NEURALTRUST_SCIM_URL": "https://env.example/v2"}
    assert SCIM_URL.resolve(config(), env, "d").origin == "NEURALTRUST_SCIM_URL"
    assert SCIM_URL.resolve(config(), {}, "d").origin == "neuraltrust.scim_url in the mappings file"
    fallback = AUTHORITY_HOST.resolve(config(entra={"authority_host": None}), {}, "https://d")
    assert (fallback.value, fallback.origin) == ("https://d", "the default entra.authority_host")


def test_without_a_trusted_config_nothing_is_compared(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nentra: {authority_host: 'https://login.example.com'}\n")
    require_trusted_routing(load_config(path), None)  # no error: env, then config, as before


def test_the_refusal_names_the_files_and_keys_but_no_value(tmp_path: Path) -> None:
    trusted = tmp_path / "base.yaml"
    trusted.write_text("version: 1\n")
    review = tmp_path / "m.yaml"
    review.write_text(
        "version: 1\nneuraltrust: {scim_url: 'https://nt.example.com/hidden-path-part'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        require_trusted_routing(load_config(review), trusted)
    assert caught.value.message == (
        f"{review.as_posix()} changes neuraltrust.scim_url, which decides where credentials "
        "are sent; the change takes effect once merged"
    )
    assert trusted.as_posix() in (caught.value.hint or "")
    assert "hidden-path-part" not in f"{caught.value.message} {caught.value.hint}"


def test_the_shipped_example_is_planned_on_the_pull_request_that_adds_it(tmp_path: Path) -> None:
    # plan.yml trusts only `version: 1` while the base branch has no mappings file, so the
    # example a first pull request copies must leave all five keys to the environment.
    nothing_trusted = tmp_path / "trusted.yaml"
    nothing_trusted.write_text("version: 1\n")
    example = load_config(Path(__file__).parents[2] / "config" / "mappings.yaml")
    assert require_trusted_routing(example, nothing_trusted) is not None


BASE_YAML = f"""version: 1
entra:
  tenant_id: {TENANT}
  authority_host: https://login.microsoftonline.us
neuraltrust:
  scim_url: https://nt.contoso.com/api/scim/v2
"""


def test_a_base_file_this_version_refuses_is_read_for_its_routing_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An upgrade added a check the base branch's file fails (here a YAML 1.1 boolean): the
    # pull request that fixes it is planned, and a change of routing is still refused.
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML + "on_removed: keep\nlimits: {min_owners: 010}\n")
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(BASE_YAML + "on_removed: keep\nlimits: {min_owners: 10}\n")
    read = require_trusted_routing(load_config(fixed), base)
    assert isinstance(read, TrustedRouting)
    assert read.warning.startswith(
        f"--trusted-config {base.as_posix()} does not pass this entrasync's checks (1 problem, "
        f"first: {base.as_posix()}:8:22: limits.min_owners:"
    )

    moved = tmp_path / "moved.yaml"
    moved.write_text(BASE_YAML.replace("nt.contoso.com", "nt.example.com"))
    with pytest.raises(ConfigError, match=r"changes neuraltrust\.scim_url"):
        require_trusted_routing(load_config(moved), base)

    assert main(["validate", "--trusted-config", str(base), str(fixed)]) == 0
    assert f"warning: --trusted-config {base.as_posix()} does not pass" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (BASE_YAML.replace("version: 1", "%YAML 1.1\n---\nversion: 1"), "1:1: a YAML directive"),
        (BASE_YAML + "on_removed: keep\t# the default\n", "7:17: a tab is used as a space"),
    ],
    ids=["a %YAML directive", "a tab before a comment"],
)
def test_a_base_file_other_readers_read_otherwise_is_read_for_its_routing_too(
    written: str, problem: str, tmp_path: Path
) -> None:
    # Both were valid before the checks that refuse them: every pull request failed, the one
    # removing the tab included, where a base failing any other new check was planned.
    base = _written(tmp_path, written, "base.yaml")
    read = require_trusted_routing(load_config(_written(tmp_path, BASE_YAML)), base)
    assert isinstance(read, TrustedRouting)
    assert f"first: {base.as_posix()}:{problem}" in read.warning
    moved = _written(tmp_path, BASE_YAML.replace("nt.contoso.com", "nt.example.com"))
    with pytest.raises(ConfigError, match=r"changes neuraltrust\.scim_url"):
        require_trusted_routing(load_config(moved), base)


@pytest.mark.parametrize(
    "written",
    [
        "version: 1\nentra: [tenant_id]\n",  # a section that is no mapping: its keys are absent
        f"version: 1\nentra: {{tenant_id: {TENANT}, authority_host: 17}}\n",  # not text
    ],
    ids=["a section that is a list", "a key that is a number"],
)
def test_a_refused_base_whose_routing_differs_refuses_the_change(
    written: str, tmp_path: Path
) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(written)
    with pytest.raises(ConfigError, match="which decide where credentials are sent"):
        require_trusted_routing(load_config(_written(tmp_path, BASE_YAML)), base)


def test_a_base_file_that_is_no_yaml_mapping_is_still_an_error(tmp_path: Path) -> None:
    base = _written(tmp_path, "version: 1\nentra: {tenant_id: [\n", "base.yaml")
    with pytest.raises(ConfigError, match=r"^--trusted-config: .* has 1 problem"):
        load_trusted(base)


def _written(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("roles", "first"),
    [("", "owner"), ("roles: [boss, admin]\n", "boss"), ("roles: boss\n", None)],
    ids=["absent: the default's first", "its first", "not a list: unknown"],
)
def test_a_refused_base_gives_its_first_role_as_written(
    roles: str, first: str | None, tmp_path: Path
) -> None:
    base = _written(tmp_path, BASE_YAML + roles + "limits: {min_owners: 010}\n", "base.yaml")
    read = load_trusted(base)
    assert isinstance(read, TrustedRouting)
    assert read.owner_role == first

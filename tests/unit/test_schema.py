"""schemas/mappings.schema.json stays what the pydantic models generate, and both agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from entrasync.config.models import Config
from entrasync.config.schema import REGENERATE, SCHEMA_PATH, main, render_schema
from tests.unit.json_walk import walk

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / SCHEMA_PATH
FIXTURES = REPO / "tests" / "fixtures" / "config"
EXAMPLE = REPO / "config" / "mappings.yaml"
# Older yaml-language-server releases validate as draft-07 and ignore these keywords.
TOO_NEW = {"prefixItems", "$dynamicRef", "$dynamicAnchor", "unevaluatedProperties"}


def committed_schema() -> dict[str, Any]:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_committed_schema_is_what_the_models_generate() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render_schema(), (
        f"{SCHEMA_PATH} is out of date: run `{REGENERATE}` from the repository root and commit it"
    )


def test_regenerating_writes_the_same_text(tmp_path: Path) -> None:
    target = tmp_path / "mappings.schema.json"
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_schema()


def test_schema_is_a_valid_2020_12_schema() -> None:
    schema = committed_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_schema_uses_no_keyword_older_editors_ignore() -> None:
    used = {key for key, _ in walk(committed_schema())}
    assert used & TOO_NEW == set()


def every_property(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    objects = [("", schema)] + [(name, d) for name, d in schema["$defs"].items()]
    for owner, obj in objects:
        for name, prop in obj["properties"].items():
            yield f"{owner}.{name}".lstrip("."), prop


def test_every_property_has_a_title_and_a_description() -> None:
    missing = [
        name
        for name, prop in every_property(committed_schema())
        if not prop.get("title") or not prop.get("description")
    ]
    assert missing == []


def test_every_object_forbids_unknown_keys() -> None:
    schema = committed_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(obj["additionalProperties"] is False for obj in objects)


def valid_by_schema(data: Any) -> bool:
    validator = Draft202012Validator(
        committed_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return validator.is_valid(data)


def valid_by_pydantic(data: Any) -> bool:
    try:
        Config.model_validate(data)
    except ValidationError:
        return False
    return True


def parsed_fixtures() -> list[Any]:
    params = []
    for path in [*sorted(FIXTURES.glob("*.yaml")), EXAMPLE]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue  # the syntax-error fixture never reaches either validator
        params.append(pytest.param(data, id=path.name))
    return params


# Bodies the two validators could plausibly disagree on (lax pydantic coercions).
EDGES = [
    pytest.param({"version": True}, id="version true"),
    pytest.param({"version": 1.0}, id="version 1.0"),
    pytest.param({"version": "1"}, id="version as text"),
    pytest.param({"version": 1, "entra": {"nested_groups": "yes"}}, id="boolean as text"),
    pytest.param({"version": 1, "entra": {"nested_groups": 1}}, id="boolean as number"),
    pytest.param({"version": 1, "limits": {"min_owners": "2"}}, id="limit as text"),
    pytest.param({"version": 1, "limits": {"min_owners": 2.0}}, id="limit as float"),
    pytest.param({"version": 1, "limits": {"min_owners": True}}, id="limit as boolean"),
    pytest.param({"version": 1, "roles": ["a", "a"]}, id="roles repeated"),
    pytest.param({"version": 1, "protected": ["a@b.co", "a@b.co"]}, id="protected repeated"),
    pytest.param({"version": 1, "mappings": [{"role": "member"}]}, id="mapping without id or name"),
    pytest.param(
        {"version": 1, "mappings": [{"name": None, "id": None, "role": "member"}]},
        id="mapping with null id and name",
    ),
    pytest.param({"version": 1, "entra": {"tenant_id": None}}, id="null tenant id"),
    pytest.param({"version": 1, "roles": [1]}, id="role as number"),
    # Each regex engine has its own \s: only ECMAScript's (editors') holds U+FEFF.
    *(
        pytest.param({"version": 1, "protected": [entry]}, id=f"protected {name}")
        for name, entry in [
            ("with a BOM", "\ufeffbreakglass@contoso.com"),
            ("with a zero-width space", "breakglass@contoso.com\u200b"),
            ("with a bidi override", "break\u202eglass@contoso.com"),
            ("with a no-break space", "break\u00a0glass@contoso.com"),
            ("with a Hangul filler", "breakglass@contoso.com\u3164"),
            ("with a tag character", "breakglass@contoso.com\U000e0041"),  # validate's rule
            ("in another script", "m\u00fcller@exa\u0301mple.de"),
            ("plus-addressed", "alice+sync@contoso.com"),
        ]
    ),
]


@pytest.mark.parametrize("data", parsed_fixtures() + EDGES)
def test_schema_and_pydantic_agree(data: Any) -> None:
    assert valid_by_schema(data) == valid_by_pydantic(data)


def test_example_config_is_valid_under_both() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert valid_by_schema(data)
    assert valid_by_pydantic(data)


def test_example_config_points_editors_at_the_schema() -> None:
    first = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/mappings.schema.json"

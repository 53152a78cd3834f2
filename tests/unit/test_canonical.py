"""canonical_json writes exactly rfc8785's bytes for the values entrasync hashes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from entrasync.core.canonical import (
    canonical_json,
    canonical_object,
    canonical_sha256,
    canonical_text,
)
from tests.golden.plans import golden_plan

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CONTROLS = "".join(chr(c) for c in range(0x20))

CASES: list[tuple[str, Any]] = [
    ("every control character is escaped the same way", {"s": CONTROLS}),
    ("quotes, backslashes and slashes", {"s": 'a"b\\c/d'}),
    ("DEL and the line and paragraph separators stay literal", {"s": "\x7f\u2028\u2029"}),
    ("accents, CJK and emoji are written as UTF-8", {"s": "Zoë 山田 😀 \U0001f9d1\u200d💻"}),
    ("directory text meant to inject markup", {"s": "Eve <img src=x> | @everyone **x**"}),
    ("keys sort by code point like UTF-16 units for ASCII", {"b": 1, "B": 2, "_": 3, "a1": 4}),
    ("integers up to 2**53 - 1, negative and zero", [0, -1, 42, 2**53 - 1, -(2**53 - 1)]),
    ("booleans and null", [True, False, None]),
    ("empty containers", {"a": [], "b": {}, "c": ""}),
    ("nesting", {"z": [{"y": {"x": ["w", 1, None]}}], "a": {"b": [[], [{}]]}}),
]


@pytest.mark.parametrize(("value"), [v for _, v in CASES], ids=[i for i, _ in CASES])
def test_same_bytes_as_rfc8785(value: Any) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


@pytest.mark.parametrize("name", ["plan.json", "plan-empty.json"])
def test_golden_plan_files_canonicalise_identically(name: str) -> None:
    document = json.loads((GOLDEN / name).read_text())
    assert canonical_json(document) == bytes(rfc8785.dumps(document))


def test_a_lone_surrogate_is_refused_as_rfc8785_refuses_it() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json({"s": "\ud800"})


@pytest.mark.parametrize(("value"), [v for _, v in CASES], ids=[i for i, _ in CASES])
def test_an_object_built_from_canonical_parts_has_rfc8785s_bytes(value: Any) -> None:
    members = {"head": value, "b": {"nested": value}, "A": 1}
    arrays = {"items": [value, "x", value], "empty": []}
    parts = {key: [canonical_text(item) for item in items] for key, items in arrays.items()}
    expected = bytes(rfc8785.dumps({**members, **arrays}))
    assert canonical_object(members, parts) == expected
    assert canonical_sha256(members, parts) == hashlib.sha256(expected).hexdigest()


def test_arrays_longer_than_one_hashed_piece_keep_every_item_and_comma() -> None:
    items = [str(i) for i in range(10_000)]
    parts = {"items": [canonical_text(item) for item in items]}
    expected = bytes(rfc8785.dumps({"a": None, "items": items}))
    assert canonical_object({"a": None}, parts) == expected
    assert canonical_sha256({"a": None}, parts) == hashlib.sha256(expected).hexdigest()


def test_a_plans_digest_is_the_sha256_of_rfc8785_of_its_hashed_keys() -> None:
    plan = golden_plan()
    body = {k: v for k, v in plan.to_json().items() if k not in ("created_at", "digest")}
    assert plan.digest == hashlib.sha256(bytes(rfc8785.dumps(body))).hexdigest()


def test_a_lone_surrogate_in_a_plan_is_refused_as_rfc8785_refuses_it() -> None:
    plan = golden_plan()
    hostile = replace(plan, warnings=("\ud800",))
    with pytest.raises(rfc8785.CanonicalizationError):
        _ = hostile.digest

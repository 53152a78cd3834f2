"""canonical_json writes exactly rfc8785's bytes for the values entrasync hashes."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from entrasync.core import planfile
from entrasync.core.canonical import (
    NotCanonicalError,
    canonical_json,
    canonical_object,
    canonical_sha256,
    canonical_text,
)
from entrasync.errors import PlanFileError
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
        rfc8785.dumps({"s": "\ud800"})
    with pytest.raises(NotCanonicalError) as caught:
        canonical_json({"s": "x\ud800"})
    # Where, spelt in ASCII so it is safe to print.
    assert caught.value.excerpt == '{"s":"x\\ud800'
    with pytest.raises(NotCanonicalError):
        canonical_sha256({"a": None}, {"items": iter(['"ok"', '"\udfff"'])})


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
    body = {k: v for k, v in planfile.to_json(plan).items() if k not in ("created_at", "digest")}
    assert plan.digest == hashlib.sha256(bytes(rfc8785.dumps(body))).hexdigest()


def test_a_lone_surrogate_in_a_plan_is_refused_as_rfc8785_refuses_it() -> None:
    plan = golden_plan()
    hostile = replace(plan, warnings=("\ud800",))
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(planfile._body(hostile))
    with pytest.raises(PlanFileError, match="cannot be written canonically") as caught:
        _ = hostile.digest
    assert '"warnings":["\\ud800' in caught.value.message
    assert "correct it at its source" in str(caught.value.hint)


# Every value entrasync hashes or writes canonically (plan files, audit records) is built from
# these: the audit writer and the plan digest both go through canonical_json, so rfc8785 is
# needed only here, to prove it.
ESCAPES = '"\\/\b\f\n\r\t' + CONTROLS + "\x7f"
BROAD: list[tuple[str, Any]] = [
    ("each escape class alone", [ESCAPES[i] for i in range(len(ESCAPES))]),
    ("escapes between letters", {"s": 'a\x00b\x1fc"d\\e\u007ff'}),
    ("Latin-1, Greek, Cyrillic, Arabic, Hebrew", ["é ß ÿ", "Ωμέγα", "Привет", "مرحبا", "שלום"]),
    ("bidi controls and zero-width characters", "\u202e\u200b\u200d\u2066\ufeff"),
    ("the last BMP code points", "\ufffd\uffef\ue000\ud7ff"),
    ("astral characters (surrogate pairs in UTF-16)", "\U00010000 \U0001f600 \U0010ffff"),
    ("integers at the limits", [2**53 - 1, -(2**53 - 1), 2**31, -(2**31), 1, -1, 0]),
    ("None and the booleans as values and in lists", {"n": None, "t": True, "f": False}),
    ("keys given in reverse order", {k: i for i, k in enumerate("zyxwvutsrqponmlkjihgfedcba")}),
    ("keys that share prefixes", {"ab": 1, "a": 2, "abc": 3, "a_b": 4, "a-b": 5, "aB": 6}),
    (
        "an audit change record",
        {
            "type": "change",
            "time": "2026-11-28T12:00:00.123Z",
            "action": "update",
            "user": "zoë@contoso.com",
            "entra_id": None,
            "target_id": "t-1",
            "before": {"role": "viewer", "products": None, "active": True},
            "after": {"role": "owner", "products": ["a", "b"], "active": True},
            "outcome": "failed",
            "http_status": 409,
            "request_id": None,
            "error": 'NeuralTrust refused "x"\n',
            "detail": None,
            "seq": 3,
            "prev_sha256": "0" * 64,
        },
    ),
    ("deep nesting", [[[[[[[[[[{"k": [[[]]]}]]]]]]]]]]),
]


@pytest.mark.parametrize(("value"), [v for _, v in BROAD], ids=[i for i, _ in BROAD])
def test_broad_values_have_rfc8785s_bytes(value: Any) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def _generated(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of the kinds entrasync writes: ASCII keys, any text, whole numbers."""
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53 - 1), 2**53 - 1)
    if kind in (2, 3):
        alphabet = [chr(c) for c in range(0x80)] + [
            "é",
            "山",
            "\u2028",
            "\ufffd",
            "😀",
            "\U0010ffff",
        ]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind in (4, 5):
        keys = [
            "".join(rng.choice("aAzZ09_-") for _ in range(rng.randrange(1, 5)))
            for _ in range(rng.randrange(6))
        ]
        return {key: _generated(rng, depth + 1) for key in keys}
    return [_generated(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_a_generated_sample_has_rfc8785s_bytes() -> None:
    rng = random.Random(20261128)  # fixed: the same 2,000 values every run
    for _ in range(2000):
        value = _generated(rng)
        assert canonical_json(value) == bytes(rfc8785.dumps(value)), value

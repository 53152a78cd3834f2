"""Change.canonical() writes exactly canonical_text(change.to_json()), which is rfc8785's text.

The plan's digest and file lines come from the template; ``to_json`` stays the definition. These
tests hold the two equal for hand-picked awkward values and a few hundred seeded random changes.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from typing import Any

import pytest
import rfc8785

from entrasync.core import planfile
from entrasync.core.canonical import canonical_text
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.errors import PlanFileError
from tests.golden.plans import golden_plan

OPTIONAL = ("entra_id", "display_name", "email", "decided_by")
OPTIONAL_DEFAULTED = ("target_id", "user_name", "given_name", "family_name")
CONTROLS = "".join(chr(c) for c in range(0x20))
# Every kind of character the escaping treats differently, and a few it must leave alone.
ALPHABET = [*CONTROLS, '"', "\\", "/", "\x7f", "\u2028", "\u2029", "\ufeff", "é", "山"]
ALPHABET += ["😀", "\U0001f9d1\u200d💻", "\U0010ffff", "a", "Z", "0", " ", "@", "<", "'"]


def _reference(value: Any) -> str:
    """What the template must write: the encoder's text, checked against rfc8785's bytes."""
    text = canonical_text(value)
    assert text.encode("utf-8") == bytes(rfc8785.dumps(value))
    return text


def _change(**fields: Any) -> Change:
    base: dict[str, Any] = {
        "action": Action.UPDATE,
        "user": "alice@contoso.com",
        "entra_id": "id-alice",
        "display_name": "Alice Smith",
        "email": "alice@contoso.com",
        "before": Access(role="member", products=("trustgate",), active=True),
        "after": Access(role="admin", products=None, active=True),
        "groups": ("NT-Admins",),
        "decided_by": "NT-Admins",
        "reason": "role differs (member -> admin)",
        "target_id": "scim-alice",
        "user_name": "Alice@contoso.com",
        "given_name": "Alice",
        "family_name": "Smith",
    }
    return Change(**{**base, **fields})


def _everything(text: str) -> dict[str, Any]:
    """Every string field of a change set to ``text``, every optional one set."""
    access = Access(role=text, products=(text, text), active=False)
    strings = {name: text for name in ("user", "reason", *OPTIONAL, *OPTIONAL_DEFAULTED)}
    return {**strings, "before": access, "after": access, "groups": (text, text)}


CASES: list[tuple[str, Change]] = [
    *[(f"a {action.value} change", _change(action=action)) for action in Action],
    ("a change with no before (a create)", _change(action=Action.CREATE, before=None)),
    ("products listed before and none after", _change()),
    ("an empty products list", _change(after=Access(role="member", products=(), active=True))),
    ("no role", _change(after=Access(role=None, products=None, active=True))),
    ("an inactive user", _change(after=Access(role="member", products=None, active=False))),
    ("no groups", _change(groups=())),
    ("every optional field None", _change(**dict.fromkeys(OPTIONAL + OPTIONAL_DEFAULTED))),
    ("an empty reason and user", _change(user="", reason="")),
    ("quotes, backslashes and slashes", _change(**_everything('a"b\\c/d\\"'))),
    ("every control character", _change(**_everything(CONTROLS))),
    ("DEL and the line and paragraph separators", _change(**_everything("\x7f\u2028\u2029"))),
    ("accents, CJK and astral emoji", _change(**_everything("Zoë 山田 😀 \U0001f9d1\u200d💻"))),
]


@pytest.mark.parametrize("change", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_the_template_writes_the_encoders_and_rfc8785s_text(change: Change) -> None:
    assert change.canonical() == _reference(change.to_json())


def test_every_key_of_to_json_is_in_the_template_with_its_value() -> None:
    # Every field set to a distinct value: a key added to to_json and not to the template (or
    # a value taken from the wrong field) fails here, with the keys named.
    change = _change(
        before=Access(role="b-role", products=("b-1", "b-2"), active=True),
        after=Access(role="a-role", products=("a-1",), active=False),
        groups=("g-1", "g-2"),
        **{name: f"{name}-value" for name in ("user", "reason", *OPTIONAL, *OPTIONAL_DEFAULTED)},
    )
    assert json.loads(change.canonical()) == change.to_json()
    assert change.canonical() == _reference(change.to_json())


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))


def _maybe(rng: random.Random) -> str | None:
    return None if rng.random() < 0.25 else _text(rng)


def _access(rng: random.Random) -> Access:
    products = None if rng.random() < 0.3 else tuple(_text(rng) for _ in range(rng.randrange(4)))
    return Access(role=_maybe(rng), products=products, active=rng.random() < 0.5)


def _random_change(rng: random.Random) -> Change:
    optional: dict[str, Any] = {name: _maybe(rng) for name in OPTIONAL + OPTIONAL_DEFAULTED}
    return Change(
        action=rng.choice(list(Action)),
        user=_text(rng),
        before=None if rng.random() < 0.3 else _access(rng),
        after=_access(rng),
        groups=tuple(_text(rng) for _ in range(rng.randrange(4))),
        reason=_text(rng),
        **optional,
    )


RANDOM_CHANGES = [_random_change(random.Random(f"plan-lines-{i}")) for i in range(400)]


def test_the_random_changes_cover_every_shape() -> None:
    # Guards the generator: every action, None and text in every optional field, both flags.
    assert {c.action for c in RANDOM_CHANGES} == set(Action)
    for name in OPTIONAL + OPTIONAL_DEFAULTED:
        assert {getattr(c, name) is None for c in RANDOM_CHANGES} == {True, False}, name
    assert {c.before is None for c in RANDOM_CHANGES} == {True, False}
    assert {c.after.products is None for c in RANDOM_CHANGES} == {True, False}
    assert {c.after.active for c in RANDOM_CHANGES} == {True, False}
    assert any(c.groups == () for c in RANDOM_CHANGES)
    used = "".join(json.dumps(c.to_json(), ensure_ascii=False) for c in RANDOM_CHANGES)
    assert all(char in used for char in ALPHABET if char not in CONTROLS + '"\\')


def test_four_hundred_random_changes_are_written_as_the_encoder_writes_them() -> None:
    wrong = [c for c in RANDOM_CHANGES if c.canonical() != _reference(c.to_json())]
    assert wrong == []


def _plan(*changes: Change) -> Plan:
    """The golden plan (orphans, warnings, a violation) with these changes instead."""
    return replace(golden_plan(), changes=changes)


def _rfc8785_digest(plan: Plan) -> str:
    body = {k: v for k, v in planfile.to_json(plan).items() if k not in ("created_at", "digest")}
    return hashlib.sha256(bytes(rfc8785.dumps(body))).hexdigest()


def test_a_plan_of_random_changes_has_the_rfc8785_digest() -> None:
    plan = _plan(*RANDOM_CHANGES)
    assert plan.digest == _rfc8785_digest(plan)


@pytest.mark.parametrize(
    "field",
    ["user", "display_name", "reason", "given_name"],
    ids=lambda name: f"a lone surrogate in {name}",
)
def test_a_lone_surrogate_in_a_change_is_refused_as_rfc8785_refuses_it(field: str) -> None:
    change = _change(**{field: "x\ud800"})
    # The template lets it through as the encoder does; the UTF-8 step refuses it.
    with pytest.raises(UnicodeEncodeError):
        change.canonical().encode("utf-8")
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(change.to_json())
    with pytest.raises(PlanFileError, match="lone surrogate"):
        _ = _plan(change).digest


def test_a_lone_surrogate_in_a_product_is_refused_too() -> None:
    after = Access(role="member", products=("\udfff",), active=True)
    with pytest.raises(PlanFileError, match="lone surrogate"):
        _ = _plan(replace(_change(), after=after)).digest

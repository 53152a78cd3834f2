"""What a config under review changes outside ``mappings``, and which changes weaken a safeguard."""

from __future__ import annotations

from typing import Any

import pytest

from entrasync.config.models import Config
from entrasync.core.policy import PolicyChange, policy_changes

BASE: dict[str, Any] = {
    "version": 1,
    "entra": {"include_guests": False},
    "protected": ["breakglass@contoso.com", "ops@contoso.com"],
    "limits": {"max_deactivations": 5, "max_deactivation_percent": 20, "min_owners": 2},
    "mappings": [{"name": "NT-Owners", "role": "owner"}],
}


def config(**changes: Any) -> Config:
    """BASE with ``section__key=value`` or ``key=value`` changes; ``...`` removes the key."""
    data: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for dotted, value in changes.items():
        *section, key = dotted.split("__")
        place = data.setdefault(section[0], {}) if section else data
        if value is ...:
            place.pop(key, None)
        else:
            place[key] = value
    return Config.model_validate(data)


P = PolicyChange
CASES = [
    pytest.param({}, (), id="the same config changes nothing"),
    pytest.param(
        {"mappings": [{"name": "NT-Admins", "role": "admin"}]},
        (),
        id="a change of mappings alone is no policy change",
    ),
    pytest.param(
        {"on_removed": "keep", "precedence": "first-match", "roles": ["owner", "admin", "member"]},
        (),
        id="writing out a default is no change",
    ),
    pytest.param(
        {"product_roles": ["member"]},
        (),
        id="product_roles written as its default (the last role) is no change",
    ),
    pytest.param(
        {"limits__max_deactivations": 50},
        (P("limits.max_deactivations", 5, 50, weakens=True),),
        id="a higher deactivation limit weakens",
    ),
    pytest.param(
        {"limits__max_deactivations": 1},
        (P("limits.max_deactivations", 5, 1),),
        id="a lower deactivation limit does not weaken",
    ),
    pytest.param(
        {"limits__max_deactivations": ...},
        (P("limits.max_deactivations", 5, 10, weakens=True),),
        id="a limit taken out falls back to its higher default and weakens",
    ),
    pytest.param(
        {"limits__max_deactivation_percent": 100},
        (P("limits.max_deactivation_percent", 20, 100, weakens=True),),
        id="a higher deactivation percent weakens",
    ),
    pytest.param(
        {"limits__min_owners": 0},
        (P("limits.min_owners", 2, 0, weakens=True),),
        id="fewer owners required weakens",
    ),
    pytest.param(
        {"limits__min_owners": 3},
        (P("limits.min_owners", 2, 3),),
        id="more owners required does not weaken",
    ),
    pytest.param(
        {"protected": ["ops@contoso.com"]},
        (P("protected", "breakglass@contoso.com", None, weakens=True),),
        id="a protected user removed weakens, named alone",
    ),
    pytest.param(
        {"protected": ["breakglass@contoso.com", "ops@contoso.com", "new@contoso.com"]},
        (P("protected", None, "new@contoso.com"),),
        id="a protected user added is named alone and does not weaken",
    ),
    pytest.param(
        {"protected": ["OPS@contoso.com", "Breakglass@Contoso.com"]},
        (),
        id="protected entries reordered or recased are no change",
    ),
    pytest.param(
        {"on_removed": "deactivate"},
        (P("on_removed", "keep", "deactivate", weakens=True),),
        id="on_removed to deactivate weakens",
    ),
    pytest.param(
        {"entra__include_guests": True},
        (P("entra.include_guests", False, True, weakens=True),),
        id="guests turned on weakens",
    ),
    pytest.param(
        {"entra__include_disabled": True},
        (P("entra.include_disabled", False, True, weakens=True),),
        id="disabled users turned on weakens",
    ),
    pytest.param(
        {"entra__nested_groups": False},
        (P("entra.nested_groups", True, False),),
        id="an entra option is listed",
    ),
    pytest.param(
        {"precedence": "highest-privilege"},
        (P("precedence", "first-match", "highest-privilege"),),
        id="precedence is listed",
    ),
    pytest.param(
        {"roles": ["owner", "member", "admin"]},
        (
            P("roles", ["owner", "admin", "member"], ["owner", "member", "admin"]),
            P("product_roles", "member", None),
            P("product_roles", None, "admin"),
        ),
        id="roles reordered show whole, and the default product role follows the last role",
    ),
    pytest.param(
        {"roles": ["admin", "owner", "member"]},
        (P("roles", ["owner", "admin", "member"], ["admin", "owner", "member"], True),),
        id="another first role weakens: it is what min_owners counts and the label watches",
    ),
    pytest.param(
        {"products": ["trustlens", "trustgate", "trusttest"]},
        (),
        id="products reordered are no change",
    ),
    pytest.param(
        {"products": ["trustgate", "trusttest"], "product_roles": ["admin", "member"]},
        (P("products", "trustlens", None), P("product_roles", None, "admin")),
        id="products and product_roles list the entries removed and added",
    ),
    pytest.param(
        {"neuraltrust__match_on": "email"},
        (P("neuraltrust.match_on", "userName", "email"),),
        id="a neuraltrust option is listed",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), CASES)
def test_policy_changes(changes: dict[str, Any], expected: tuple[PolicyChange, ...]) -> None:
    assert policy_changes(config(), config(**changes)) == expected


def test_changes_come_in_the_files_order_whatever_weakens() -> None:
    reviewed = config(
        limits__max_deactivations=50,
        protected=["ops@contoso.com"],
        on_removed="deactivate",
        entra__include_guests=True,
    )
    keys = [c.key for c in policy_changes(config(), reviewed)]
    assert keys == ["entra.include_guests", "on_removed", "protected", "limits.max_deactivations"]


def test_turning_a_weakening_back_is_a_change_that_does_not_weaken() -> None:
    weak = config(on_removed="deactivate", entra__include_guests=True)
    assert [c.weakens for c in policy_changes(weak, config())] == [False, False]


def test_a_policy_change_round_trips_through_json() -> None:
    for change in policy_changes(config(), config(roles=["owner", "member"], protected=[])):
        assert PolicyChange.from_json(change.to_json()) == change

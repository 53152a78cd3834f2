"""What a config under review changes outside ``mappings``, key by key (docs/safety.md).

A policy change moves no user by itself, so a plan of it shows no change while it may weaken
the next run's safeguards. Each :class:`PolicyChange` names the key, the trusted (base branch)
value and the reviewed value, and whether it weakens a safeguard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from entrasync.core.strict_json import flag, text

if TYPE_CHECKING:
    from entrasync.config.models import Config


@dataclass(frozen=True, slots=True)
class PolicyChange:
    key: str  # a dotted path into the config, "limits.max_deactivations"
    old: Any  # JSON values; None when the key is new
    new: Any  # None when the key was removed
    weakens: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new, "weakens": self.weakens}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyChange:
        return cls(
            key=text(data["key"], "key"),
            old=data.get("old"),
            new=data.get("new"),
            weakens=flag(data.get("weakens", False), "weakens"),
        )


# The settings a reviewer compares as sets, item by item (an entry added or removed is one
# change): their order means nothing. `roles` is not one of them: its order is the privilege.
_SETS = frozenset({"protected", "products", "product_roles"})


def policy_changes(trusted: Config, reviewed: Config) -> tuple[PolicyChange, ...]:
    """What ``reviewed`` changes outside ``mappings`` against ``trusted`` (the base branch's
    config), key by key in the file's order, each marked when it weakens a safeguard.

    Values are compared as they take effect, defaults applied: a limit taken out of the file
    shows as its old value and the default it falls back to. ``protected``, ``products`` and
    ``product_roles`` are compared item by item (``protected`` without regard to letter case,
    as apply matches it), so a long list shows only the entries added (old None) or removed
    (new None); other lists and values show whole.
    """
    old, new = _settings(trusted), _settings(reviewed)
    found: list[PolicyChange] = []
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        if key in _SETS:
            found += _item_changes(key, before or [], after or [])
        elif before != after:
            found.append(PolicyChange(key, before, after, _weakens(key, before, after)))
    return tuple(found)


def _settings(config: Config) -> dict[str, Any]:
    """Every setting outside ``mappings`` as a dotted key and its JSON value, in file order."""
    data = config.model_dump(mode="json", exclude={"mappings", "version"})
    data["product_roles"] = list(config.effective_product_roles)
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update((f"{key}.{name}", item) for name, item in value.items())
        else:
            flat[key] = value
    return flat


def _item_changes(key: str, before: list[str], after: list[str]) -> list[PolicyChange]:
    fold = str.lower if key == "protected" else str
    kept_before = {fold(item) for item in before}
    kept_after = {fold(item) for item in after}
    removed = [PolicyChange(key, i, None, key == "protected") for i in before]
    added = [PolicyChange(key, None, i) for i in after]
    return [c for c in removed if fold(c.old) not in kept_after] + [
        c for c in added if fold(c.new) not in kept_before
    ]


# Safeguards and the direction in which a change of them weakens the next run's checks.
_HIGHER_WEAKENS = frozenset({"limits.max_deactivations", "limits.max_deactivation_percent"})
_LOWER_WEAKENS = frozenset({"limits.min_owners"})
_WEAKER_VALUE = {
    "on_removed": "deactivate",  # from report-only to revoking access
    "entra.include_disabled": True,  # disabled accounts become wanted
    "entra.include_guests": True,  # guests become wanted
}


def _weakens(key: str, before: Any, after: Any) -> bool:
    if key == "roles":
        # The first role is the owner role: the one min_owners counts and the "privileged"
        # label watches. Another first role moves both.
        return bool((before or [None])[0] != (after or [None])[0])
    if key in _HIGHER_WEAKENS:
        return bool(after > before)
    if key in _LOWER_WEAKENS:
        return bool(after < before)
    return key in _WEAKER_VALUE and after == _WEAKER_VALUE[key] != before

"""What a config under review changes outside ``mappings``, key by key (docs/safety.md).

A policy change moves no user by itself, so a plan of it shows no change while it may weaken
the next run's safeguards. Each :class:`PolicyChange` names the key, the trusted (base branch)
value and the reviewed value, and whether it weakens a safeguard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
            key=data["key"],
            old=data.get("old"),
            new=data.get("new"),
            weakens=bool(data.get("weakens")),
        )

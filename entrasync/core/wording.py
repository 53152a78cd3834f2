"""Pure: counted nouns for user-facing messages ("1 user", "2 users"), never "1 users"."""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun in the number it takes; ``many`` for irregular plurals."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def joined(names: Sequence[str], at_most: int = 5) -> str:
    """The first ``at_most`` names joined by "and", then how many more. A message said once
    for each of many names (each of 4,000 Entra users sharing one mail) names each in its own
    message; naming them all in each made the warnings grow as the square (236 MB)."""
    if len(names) <= at_most:
        return " and ".join(names)
    return f"{' and '.join(names[:at_most])} and {len(names) - at_most} more"

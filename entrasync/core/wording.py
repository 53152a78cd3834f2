"""Pure: counted nouns for user-facing messages ("1 user", "2 users"), never "1 users"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun in the number it takes; ``many`` for irregular plurals."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"

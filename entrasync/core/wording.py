"""Pure: counted nouns ("1 user", "2 users", never "1 users") and lists cut short, for
user-facing messages."""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun in the number it takes; ``many`` for irregular plurals."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def joined(names: Sequence[str], at_most: int = 5, sep: str = " and ", more: str = " and ") -> str:
    """The first ``at_most`` names joined by ``sep``, then how many more (after ``more``). A
    message said once for each of many names (each of 4,000 Entra users sharing one mail)
    names each in its own message; naming them all in each made the warnings grow as the
    square (236 MB)."""
    shown = sep.join(names[:at_most])
    rest = len(names) - at_most
    return f"{shown}{more}{rest} more" if rest > 0 else shown


def clipped(text: str, width: int = 60) -> str:
    """``text`` in at most ``width`` characters, its end cut to "..." if it is longer."""
    return text if len(text) <= width else text[: width - 3] + "..."

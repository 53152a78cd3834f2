"""Secrets are redacted at the source: a :class:`Secret` never shows its value by accident."""

from __future__ import annotations

from typing import Final

_MASK: Final = "***"


class Secret:
    """A credential whose ``str``/``repr`` hide it. Call :meth:`reveal` only at the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

"""Secrets are redacted at the source: a :class:`Secret` never shows its value by accident."""

from __future__ import annotations

import re
from typing import Final

from entrasync.core.redact import remember
from entrasync.errors import AuthError, EntrasyncError

_MASK: Final = "***"
_MACRO: Final = re.compile(r"\$\([A-Za-z0-9_.]+\)")  # Azure Pipelines macro syntax


class Secret:
    """A credential whose ``str``/``repr`` hide it. Call :meth:`reveal` only at the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, sent: bool = True) -> None:
        """``sent``: the value goes over the wire, where a server may echo it back: it is then
        kept out of every error told (a key or its password that only signs is not)."""
        self._value = value
        if sent:
            remember(value)

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


def refuse_macro(variable: str, value: str, error: type[EntrasyncError] = AuthError) -> None:
    """Azure Pipelines leaves $(NAME) as it is when no variable NAME exists: sent, a token
    would be refused as an expired one, and a new one made for nothing (the old revoked)."""
    if _MACRO.fullmatch(value):
        raise error(
            f"{variable} holds the Azure Pipelines macro {value}, not expanded: the pipeline "
            "has no variable of that name",
            "add the secret to the variable group the pipeline uses (entrasync, "
            "docs/azure-devops.md) under the name the step maps, and check its spelling",
        )


def bearer(variable: str, value: str, error: type[EntrasyncError] = AuthError) -> Secret:
    """The token in ``variable``, for an ``Authorization`` header, whitespace around it dropped.

    Anything else but visible ASCII inside it (a space, a line break, a control or non-ASCII
    character: a secret pasted over two lines) is refused with ``error``, which names the
    variable and never the value: httpx would otherwise refuse the header with an error that
    quotes it (RFC 9110 section 5.5 allows no line break in a field value).
    """
    token = value.strip()
    refuse_macro(variable, token, error)
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        # A .env line or a CI variable keeps quotes as characters: sent, the token is refused
        # as an invalid one, and a working token would be replaced for nothing.
        raise error(
            f"{variable} is wrapped in quotes, which would be sent as part of it",
            f"set {variable} without the quotes around it",
        )
    if token[:7].lower() == "bearer ":
        raise error(
            f"{variable} starts with 'Bearer ': entrasync adds that word itself",
            f"set {variable} to the token alone",
        )
    if all("!" <= char <= "~" for char in token):
        return Secret(token)
    raise error(
        f"{variable} holds a character no token has (a space, a line break, a control or "
        "non-ASCII character)",
        f"set {variable} to the token alone, on one line",
    )

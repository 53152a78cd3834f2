"""Reading JSON that someone else may have written: plan files and audit records.

``json.loads`` takes what many parsers disagree on or cannot hold: ``NaN`` and ``Infinity``
(not JSON at all), ``1e999`` (read as infinity), integers of thousands of digits (a
``ValueError`` past 4,300 digits, and never exact in RFC 8785 canonical JSON, which the
digests and hashes are made of), duplicate keys (the last one silently wins; other parsers
keep the first) and nesting deep enough to exhaust the stack (a ``RecursionError``).
:func:`loads` refuses each with a :class:`StrictJsonError` saying what it found.

The bounds follow I-JSON (RFC 7493): integers within +-(2**53 - 1), finite numbers.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any, Final

MAX_DEPTH: Final = 64  # entrasync's own files nest 4 deep
MAX_SAFE_INTEGER: Final = 2**53 - 1  # the largest integer an IEEE double holds exactly
MAX_NUMBER_CHARS: Final = 40  # a number written with more characters is refused unread
_CONTAINERS: Final = frozenset({dict, list})
_NON_FINITE: Final = "not a finite number: JSON has no NaN or Infinity"


class StrictJsonError(ValueError):
    """The text is not JSON, or is JSON that entrasync refuses; the message says which."""


class JsonSyntaxError(StrictJsonError):
    """The text is not JSON at all (or not UTF-8): cut off, or not a JSON file."""


def loads(text: str | bytes, *, fractions: bool = True) -> Any:
    """Parse ``text`` as strict JSON; ``fractions=False`` also refuses non-integer numbers
    (audit records hold none: canonical JSON of fractions is where implementations differ)."""
    decoder = _DECODER if fractions else _WHOLE_DECODER
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = decoder.decode(text)
    except UnicodeDecodeError as exc:
        raise JsonSyntaxError(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        if exc.pos == 0 and exc.doc.startswith("\ufeff"):  # as Windows Notepad saves
            raise JsonSyntaxError(
                f"not valid JSON ({where}): it starts with a byte-order mark"
            ) from None
        raise JsonSyntaxError(f"not valid JSON ({where}): {exc.msg}") from None
    except RecursionError:
        raise StrictJsonError(_too_deep()) from None
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Refuse arrays and objects nested more than :data:`MAX_DEPTH` levels deep (one level
    at a time: 0.2 s for a plan of 85,000 changes)."""
    level, depth = [value] if type(value) in _CONTAINERS else [], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise StrictJsonError(_too_deep())
        values = chain.from_iterable([v.values() if type(v) is dict else v for v in level])
        level = [v for v in values if type(v) in _CONTAINERS]


class ShapeError(StrictJsonError):
    """A value read from a file is not of the type its key holds (text, a list of text, true or
    false, a count); the message names the key and what it found."""


def text(value: Any, key: str) -> str:
    """``value`` if it is a string; else :class:`ShapeError` naming ``key``."""
    if isinstance(value, str):
        return value
    raise ShapeError(f"{key} is {_kind(value)}, not text")


def text_or_null(value: Any, key: str) -> str | None:
    return None if value is None else text(value, key)


def texts(value: Any, key: str) -> tuple[str, ...]:
    """``value`` as a tuple if it is a list of strings; else :class:`ShapeError`."""
    if type(value) is list and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ShapeError(f"{key} is {_kind(value)}, not a list of text")


def flag(value: Any, key: str) -> bool:
    """``value`` if it is true or false (a JSON boolean, never a truthy string or number)."""
    if value is True or value is False:
        return value
    raise ShapeError(f"{key} is {_kind(value)}, not true or false")


def count(value: Any, key: str) -> int:
    """``value`` if it is a whole number of zero or more."""
    if type(value) is int and value >= 0:
        return value
    raise ShapeError(f"{key} is {_kind(value)}, not a count")


def sha256_hex(value: Any, key: str) -> str:
    """``value`` if it is a SHA-256 digest as entrasync writes one (64 lower-case hex)."""
    if isinstance(value, str) and len(value) == 64 and all(c in _HEX for c in value):
        return value
    raise ShapeError(f"{key} is {_kind(value)}, not a SHA-256 digest (64 lower-case hex)")


def obj(value: Any, key: str) -> dict[str, Any]:
    if type(value) is dict:
        return value
    raise ShapeError(f"{key} is {_kind(value)}, not an object")


_HEX: Final = frozenset("0123456789abcdef")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return kinds.get(type(value), type(value).__name__)


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise StrictJsonError(
            f"duplicate key {json.dumps(_first_repeated(pairs))[:60]} in one object: JSON parsers "
            "disagree which one counts"
        )
    return obj


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no key repeats")


def _integer(text: str) -> int:
    number = int(text) if len(text) <= MAX_NUMBER_CHARS else None
    if number is None or abs(number) > MAX_SAFE_INTEGER:
        raise StrictJsonError(f"the integer {_show(text)} is too large (at most 2**53 - 1)")
    return number


def _fraction(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise StrictJsonError(f"the number {_show(text)} is written with too many digits")
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise StrictJsonError(f"the number {_show(text)} is {_NON_FINITE}")
    return number


def _no_fraction(text: str) -> float:
    raise StrictJsonError(f"the number {_show(text)} is not a whole number")


def _constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is {_NON_FINITE}")


def _show(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_integer, parse_float=_fraction, parse_constant=_constant
)
_WHOLE_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_int=_integer,
    parse_float=_no_fraction,
    parse_constant=_constant,
)

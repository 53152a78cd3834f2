"""RFC 8785 (JCS) canonical JSON at the speed of the C json encoder, for entrasync's records.

The plan digest hashes the canonical JSON of values built by entrasync's own ``to_json``
methods (the state fingerprint has its own, simpler encoding in ``model.py``): objects with
fixed ASCII keys, arrays,
strings, booleans, null and small integers. For exactly those, the standard library's C
encoder with sorted keys, no whitespace and ``ensure_ascii=False`` writes the same bytes as
RFC 8785: strings escape ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and other controls as lower-case
``\\u00xx``, everything else as UTF-8; integers print as digits; ASCII keys sort the same by
code point as by UTF-16 unit. ``tests/unit/test_canonical.py`` proves it against ``rfc8785``.

Numbers with a fraction are where the two differ (ECMAScript number formatting): callers hash
no floats. The ``rfc8785`` package is pure Python and was a third of the CPU of a 100,000-user
plan (benchmarks/README figures); this writes the same bytes about 8x faster
(benchmarks/optimisations.py).

The hottest records (a plan's changes) are written faster still by templates of their own
(``Change.canonical`` in ``items.py``) from the pieces below: :func:`canonical_str` *is* the C
function the encoder above calls for every string (``json.encoder.encode_basestring``, picked
by ``ensure_ascii=False``), ``null``/``true``/``false`` and arrays are spelt as the encoder
spells them, and the templates write the keys in sorted order. A lone surrogate passes through
:func:`canonical_str` as it passes through the encoder, so the UTF-8 step refuses it the same
way. ``tests/unit/test_plan_lines.py`` proves the templates against the encoder and ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from json.encoder import encode_basestring
from typing import Any

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_text(value: Any) -> str:
    """:func:`canonical_json` as text, before UTF-8 (a part for :func:`canonical_object`)."""
    return _ENCODER.encode(value)


# The encoder's own string writer (ensure_ascii=False), bound once: called ~1.2 million times for
# a plan of 85,000 changes, so no wrapper around it.
canonical_str: Callable[[str], str] = encode_basestring


def canonical_str_or_null(value: str | None) -> str:
    """:func:`canonical_text` of an optional string."""
    return "null" if value is None else encode_basestring(value)


def canonical_str_array(values: Iterable[str]) -> str:
    """:func:`canonical_text` of a list of strings (any iterable of them)."""
    return "[" + ",".join(map(encode_basestring, values)) + "]"


def canonical_object(members: Mapping[str, Any], arrays: Mapping[str, Iterable[str]]) -> bytes:
    """The RFC 8785 bytes of the object ``{**members, **arrays}`` when each array is given as
    the :func:`canonical_text` of its items: the same bytes as :func:`canonical_json` of that
    object (members sorted by key, no whitespace), without encoding the items again.

    Raises :class:`NotCanonicalError` on a lone surrogate.
    """
    return b"".join(_utf8(piece) for piece in _pieces(members, arrays))


def canonical_sha256(members: Mapping[str, Any], arrays: Mapping[str, Iterable[str]]) -> str:
    """sha256 (hex) of :func:`canonical_object`, hashed piece by piece as the arrays' items
    come: a large plan's canonical text never sits in memory whole."""
    digest = hashlib.sha256()
    before = ""
    for piece in _pieces(members, arrays):
        digest.update(_utf8(piece, before))
        before = (before + piece[-_CONTEXT:])[-_CONTEXT:]
    return digest.hexdigest()


_CHUNK = 4096  # array items hashed per piece


def _pieces(members: Mapping[str, Any], arrays: Mapping[str, Iterable[str]]) -> Iterator[str]:
    # Keys are entrasync's own ASCII names: sorted by code point is sorted by UTF-16 unit.
    for position, key in enumerate(sorted({*members, *arrays})):
        yield ("{" if position == 0 else ",") + canonical_text(key) + ":"
        if key not in arrays:
            yield canonical_text(members[key])
            continue
        items = iter(arrays[key])
        yield "["
        separator = ""
        while chunk := ",".join(islice(items, _CHUNK)):  # items are never empty text
            yield separator + chunk
            separator = ","
        yield "]"
    yield "}"


class NotCanonicalError(ValueError):
    """A value holds a lone surrogate (``\\ud800`` to ``\\udfff``): text that is not Unicode,
    which has no UTF-8 form and so no RFC 8785 form either."""

    def __init__(self, error: UnicodeEncodeError, before: str = "") -> None:
        text, end = before + str(error.object), len(before) + error.end
        # Where it is, as ASCII (every other escape spelt out, so it is safe to print).
        where = text[max(0, end - 1 - _CONTEXT) : end]
        self.excerpt = where.encode("ascii", "backslashreplace").decode("ascii")
        super().__init__(f"not Unicode text (a lone surrogate) at ...{self.excerpt}")


_CONTEXT = 60  # characters shown before a lone surrogate


def _utf8(text: str, before: str = "") -> bytes:
    """``text`` as UTF-8; ``before``: the text that came just before it, for the error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise NotCanonicalError(error, before) from None


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (dicts with str keys, lists, str, int, bool, None).

    Raises :class:`NotCanonicalError` on a lone surrogate, as the ``rfc8785`` package refuses
    it (``tests/unit/test_canonical.py``).
    """
    return _utf8(_ENCODER.encode(value))

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
plan (benchmarks/README figures); this writes the same bytes about 5x faster.

The hottest records (a plan's changes) are written faster still by templates of their own
(``Change.canonical`` in ``plan.py``) from the pieces below: :func:`canonical_str` *is* the C
function the encoder above calls for every string (``json.encoder.encode_basestring``, picked
by ``ensure_ascii=False``), ``null``/``true``/``false`` and arrays are spelt as the encoder
spells them, and the templates write the keys in sorted order. A lone surrogate passes through
:func:`canonical_str` as it passes through the encoder, so the UTF-8 step refuses it the same
way. ``tests/unit/test_plan_lines.py`` proves the templates against the encoder and ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

import rfc8785

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


def canonical_object(members: Mapping[str, Any], arrays: Mapping[str, Sequence[str]]) -> bytes:
    """The RFC 8785 bytes of the object ``{**members, **arrays}`` when each array is given as
    the :func:`canonical_text` of its items: the same bytes as :func:`canonical_json` of that
    object (members sorted by key, no whitespace), without encoding the items again.

    Raises UnicodeEncodeError on a lone surrogate: the caller falls back to canonical_json().
    """
    return "".join(_pieces(members, arrays)).encode("utf-8")


def canonical_sha256(members: Mapping[str, Any], arrays: Mapping[str, Sequence[str]]) -> str:
    """sha256 (hex) of :func:`canonical_object`, hashed piece by piece: a 100,000-user plan's
    canonical text is about 45 MB, and building it whole took four copies of it."""
    digest = hashlib.sha256()
    for piece in _pieces(members, arrays):
        digest.update(piece.encode("utf-8"))
    return digest.hexdigest()


_CHUNK = 4096  # array items hashed per piece


def _pieces(members: Mapping[str, Any], arrays: Mapping[str, Sequence[str]]) -> Iterator[str]:
    # Keys are entrasync's own ASCII names: sorted by code point is sorted by UTF-16 unit.
    for position, key in enumerate(sorted({*members, *arrays})):
        yield ("{" if position == 0 else ",") + canonical_text(key) + ":"
        if key not in arrays:
            yield canonical_text(members[key])
            continue
        items = arrays[key]
        yield "["
        for start in range(0, len(items), _CHUNK):
            yield ("," if start else "") + ",".join(items[start : start + _CHUNK])
        yield "]"
    yield "}"


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (dicts with str keys, lists, str, int, bool, None)."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form: let rfc8785 decide (it refuses it, clearly).
        return bytes(rfc8785.dumps(value))

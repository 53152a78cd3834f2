"""RFC 8785 (JCS) canonical JSON at the speed of the C json encoder, for entrasync's records.

The plan digest and the NeuralTrust state fingerprint hash the canonical JSON of values built
by entrasync's own ``to_json``/``fingerprint_record``: objects with fixed ASCII keys, arrays,
strings, booleans, null and small integers. For exactly those, the standard library's C
encoder with sorted keys, no whitespace and ``ensure_ascii=False`` writes the same bytes as
RFC 8785: strings escape ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and other controls as lower-case
``\\u00xx``, everything else as UTF-8; integers print as digits; ASCII keys sort the same by
code point as by UTF-16 unit. ``tests/unit/test_canonical.py`` proves it against ``rfc8785``.

Numbers with a fraction are where the two differ (ECMAScript number formatting): callers hash
no floats. The ``rfc8785`` package is pure Python and was a third of the CPU of a 100,000-user
plan (benchmarks/README figures); this writes the same bytes about 5x faster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_text(value: Any) -> str:
    """:func:`canonical_json` as text, before UTF-8 (a part for :func:`canonical_object`)."""
    return _ENCODER.encode(value)


def canonical_object(members: Mapping[str, Any], arrays: Mapping[str, Sequence[str]]) -> bytes:
    """The RFC 8785 bytes of the object ``{**members, **arrays}`` when each array is given as
    the :func:`canonical_text` of its items: the same bytes as :func:`canonical_json` of that
    object (members sorted by key, no whitespace), without encoding the items again.

    Raises UnicodeEncodeError on a lone surrogate: the caller falls back to canonical_json().
    """
    parts = {key: canonical_text(value) for key, value in members.items()}
    parts.update((key, "[" + ",".join(items) + "]") for key, items in arrays.items())
    text = ",".join(f"{canonical_text(key)}:{parts[key]}" for key in sorted(parts))
    return ("{" + text + "}").encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (dicts with str keys, lists, str, int, bool, None)."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form: let rfc8785 decide (it refuses it, clearly).
        return bytes(rfc8785.dumps(value))

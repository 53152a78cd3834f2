"""Walking parsed JSON, for tests that look at every key of a document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of every object in ``node``, nested ones included, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)

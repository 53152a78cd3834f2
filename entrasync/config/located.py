"""A problem of the mappings file at its line, column and key path, and the parsed document
that places each key path at the YAML node it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import yaml

KeyPath = tuple[Any, ...]


class ProblemKind(Enum):
    """What kind of thing is wrong, so the advice can fit it (never read from the message)."""

    INVALID = "invalid"  # the file does not say what it must
    SECRET = "secret"  # a key that looks like a credential: secrets come from the environment
    TAGGED = "tagged"  # an explicit YAML tag: the document cannot be constructed as written
    KEY = "key"  # a list or a mapping as a key: nor can it then
    TWO_WAYS = "two ways"  # plain text that editors' YAML 1.2 reads as a number
    UNLISTED = "unlisted"  # more problems than are listed: where the first not listed is
    TOO_LARGE = "too large"  # more bytes, or keys and values, than a mappings file may hold


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file; sorts by position."""

    line: int
    col: int
    path: str
    message: str
    kind: ProblemKind = field(default=ProblemKind.INVALID, compare=False)

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def format_path(path: KeyPath) -> str:
    """``("mappings", 2, "role")`` -> ``mappings[2].role``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Place:
    node: yaml.Node
    key: yaml.Node | None


@dataclass
class Document:
    """The parsed data and, for every key path, the YAML node it came from."""

    data: Any
    places: dict[KeyPath, Place] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # as parsed: how a value was written

    def place(self, path: KeyPath) -> Place | None:
        """The node of the longest prefix of ``path`` present in the file."""
        for end in range(len(path), -1, -1):
            found = self.places.get(path[:end])
            if found is not None:
                return found
        return None

    def problem(
        self,
        path: KeyPath,
        message: str,
        at_key: bool = False,
        kind: ProblemKind = ProblemKind.INVALID,
    ) -> Problem:
        place = self.place(path)
        if place is None:
            return Problem(1, 1, format_path(path), message, kind)
        node = place.key if at_key and place.key is not None else place.node
        mark = node.start_mark
        return Problem(mark.line + 1, mark.column + 1, format_path(path), message, kind)

    def key_text(self, path: KeyPath) -> str:
        """A key as written in the file (``on``, not ``True``)."""
        place = self.places.get(path)
        if place is not None and isinstance(place.key, yaml.ScalarNode):
            return str(place.key.value)
        return str(path[-1])

    def line_of(self, path: KeyPath) -> int:
        place = self.places.get(path)
        return place.node.start_mark.line + 1 if place is not None else 1

"""Reading a YAML file so that every later problem can name its file, line, column and key.

PyYAML alone loses positions, keeps the last of duplicate keys silently and reads YAML 1.1
booleans (``yes``/``no``/``on``/``off``) where a person meant text. This module composes the
node tree once, keeps each value's node by key path, and reports duplicate keys itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from entrasync.errors import ConfigError

KeyPath = tuple[Any, ...]
BOOL_TAG = "tag:yaml.org,2002:bool"
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file; sorts by position."""

    line: int
    col: int
    path: str
    message: str

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

    def place(self, path: KeyPath) -> Place | None:
        """The node of the longest prefix of ``path`` present in the file."""
        for end in range(len(path), -1, -1):
            found = self.places.get(path[:end])
            if found is not None:
                return found
        return None

    def problem(self, path: KeyPath, message: str, at_key: bool = False) -> Problem:
        place = self.place(path)
        if place is None:
            return Problem(1, 1, format_path(path), message)
        node = place.key if at_key and place.key is not None else place.node
        mark = node.start_mark
        return Problem(mark.line + 1, mark.column + 1, format_path(path), message)

    def key_text(self, path: KeyPath) -> str:
        """A key as written in the file (``on``, not ``True``)."""
        place = self.places.get(path)
        if place is not None and isinstance(place.key, yaml.ScalarNode):
            return str(place.key.value)
        return str(path[-1])

    def line_of(self, path: KeyPath) -> int:
        place = self.places.get(path)
        return place.node.start_mark.line + 1 if place is not None else 1

    def yaml11_bool(self, path: KeyPath) -> str | None:
        """The source text when the value is an unquoted yes/no/on/off (a YAML 1.1 boolean)."""
        place = self.places.get(path)
        if place is None or not isinstance(place.node, yaml.ScalarNode):
            return None
        node = place.node
        if (
            node.tag == BOOL_TAG
            and not node.style  # plain: None from PyYAML's parser, '' from libyaml's
            and node.value.lower() not in ("true", "false")
        ):
            return str(node.value)
        return None


def read_bytes(path: Path) -> bytes:
    name = path.as_posix()
    hint = "pass --config PATH or set ENTRASYNC_CONFIG (default config/mappings.yaml)"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {name} not found", hint) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {name} is a directory", hint) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {name}: {exc.strerror}", hint) from None


# libyaml's parser where PyYAML was built with it (its wheels are): with the pure-Python one,
# loading a 280-mapping file took 0.075 s (0.03 s now), before any request could start.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(raw: bytes) -> tuple[Document | None, list[Problem]]:
    """YAML text -> Document, or None and the syntax problem. Duplicate keys are problems."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(1, 1, "", f"not UTF-8 text (byte {exc.start}): save it as UTF-8")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(1, 1, "", "the file is empty; it starts with `version: 1`")]
        doc = Document(data=None)
        problems: list[Problem] = []
        _walk(loader, node, (), None, doc, problems, set())
        doc.data = loader.construct_document(node)
        return doc, problems
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc)]
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark is not None:
        what += f" ({exc.context} at line {exc.context_mark.line + 1})"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Problem(line, col, "", f"YAML syntax error: {what}")


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: KeyPath,
    key: yaml.Node | None,
    doc: Document,
    problems: list[Problem],
    seen: set[int],
) -> None:
    doc.places[path] = Place(node, key)
    # An alias repeats a node; visiting it once keeps "billion laughs" files cheap.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*path, index), None, doc, problems, seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            name = loader.construct_object(key_node, deep=True)
            if not isinstance(name, str | int | float | bool) and name is not None:
                continue  # unhashable or odd keys fail construction with their own message
            if name in first:
                earlier = first[name].start_mark.line + 1
                mark = key_node.start_mark
                problems.append(
                    Problem(
                        mark.line + 1,
                        mark.column + 1,
                        format_path((*path, name)),
                        f"duplicate key (first at line {earlier}); YAML would silently keep "
                        "only the last one, so remove one of them",
                    )
                )
            first.setdefault(name, key_node)
            _walk(loader, value_node, (*path, name), key_node, doc, problems, seen)

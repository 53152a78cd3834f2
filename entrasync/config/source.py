"""Reading a YAML file so that every later problem can name its file, line, column and key.

PyYAML alone loses positions, keeps the last of duplicate keys silently and reads YAML 1.1
values (``yes``/``no``/``on``/``off`` as booleans, ``010`` as 8) that YAML 1.2, JSON, editors
and check-jsonschema read otherwise. This module reads them as YAML 1.2 does, composes the
node tree once, keeps each value's node by key path, and reports duplicate keys itself.

The file is the input of a pull request check, so it is bounded before anything walks it
(docs/safety.md, "Bounded input"): at most :data:`MAX_CONFIG_BYTES` read, no control
characters, nesting at most :data:`MAX_DEPTH` deep, and aliases repeating at most
:data:`MAX_ALIAS_NODES` nodes in all (a 400-byte "billion laughs" file otherwise expands to
hundreds of millions of values, and took 2.4 GB before failing with MemoryError).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from typing import Any, Final

import yaml

from entrasync.config.located import Document, KeyPath, Place, Problem, ProblemKind, format_path
from entrasync.config.yaml_text import (
    BOM_STARTING_A_LINE,
    character_problems,
    directive_problem,
    position,
    syntax_problem,
    tab_problem,
)

MAX_CONFIG_BYTES: Final = 4 * 1024 * 1024  # 4 MiB; 1,000 mappings take about 100 KB
MAX_DEPTH: Final = 64  # levels of nesting; a valid file has 4
MAX_ALIAS_NODES: Final = 10_000  # nodes that aliases (*name) may repeat, in all
MAX_NODES: Final = 200_000  # values and keys in all; 10,000 mappings take about 70,000
# The same controls in a value, written as an escape ("\x1b"); a non-character may be escaped.
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A tab or line break inside a value, in any style ("a\nb", a `|` block, a raw tab in quotes):
# every value is a name, id, role, date or URL, all one line, and a break in a group's name
# printed a line of its own in CI logs (a forged `error:`).
_BREAK: Final = re.compile("[\t\n\r]")
_BREAKS: Final = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
BOOL_TAG = "tag:yaml.org,2002:bool"
MERGE_TAG = "tag:yaml.org,2002:merge"


# libyaml's parser where PyYAML was built with it (its wheels are): with the pure-Python one,
# loading a 280-mapping file took 0.075 s (0.03 s now), before any request could start.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Dates stay text, as in YAML 1.2 and JSON: `expires: 2026-12-31` reaches the schema as the
# string its `format: date` checks, not as a Python date that the schema's "string" refuses.
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# Integers are decimal, as in YAML 1.2 and JSON (and so in editors and check-jsonschema):
# YAML 1.1 read `min_owners: 010` as 8 and `1:30` as 90, and a 5,000-digit number failed
# Python's int conversion with a traceback. Anything else is text, but what YAML 1.2 still
# reads as a number (`010`, `0x1F`, 19 digits) is refused wherever it stands (_two_ways).
_INT = "tag:yaml.org,2002:int"
MAX_DIGITS = 18  # more is read as text, and refused as a number read two ways (_two_ways)
_DECIMAL = re.compile(rf"^[-+]?(?:0|[1-9][0-9]{{0,{MAX_DIGITS - 1}}})$")
# Booleans are YAML 1.2's: `true` and `false` (any case of the first letter, or all caps).
# YAML 1.1's yes/no/on/off are text, as editors read them: `auto_sync: no` passed here and
# failed check-jsonschema, and `name: on` was a boolean where a group name was meant.
_BOOLEAN = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# Floats are YAML 1.2's core form: YAML 1.1's base 60 (`1:30.0`) and `_` (`1_0.0`) are text.
_FLOAT = "tag:yaml.org,2002:float"
_YAML12_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = "tag:yaml.org,2002:null"
_NARROWED = {_INT: _DECIMAL, BOOL_TAG: _BOOLEAN, _FLOAT: _YAML12_FLOAT}
# YAML 1.1's `=` (the "value" key of its merge-like types): no constructor reads it, so
# `name: =` failed as "could not determine a constructor"; YAML 1.2 and editors read text.
_VALUE = "tag:yaml.org,2002:value"
_RESOLVERS = {
    first: [
        (tag, _NARROWED.get(tag, regexp))
        for tag, regexp in resolvers
        if tag not in (_TIMESTAMP, _VALUE)
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# What a YAML 1.1 boolean meant, for the message that asks for YAML 1.2's word.
YAML11_BOOLEANS: Final = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def parse(raw: bytes) -> tuple[Document | None, list[Problem]]:
    """YAML text -> Document, or None and the syntax problem. Duplicate keys are problems."""
    if len(raw) > MAX_CONFIG_BYTES:
        return None, [
            Problem(
                1,
                1,
                "",
                f"the file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB "
                f"({MAX_CONFIG_BYTES:,} bytes): a mappings file is far smaller; is it the "
                "right file?",
                ProblemKind.TOO_LARGE,
            )
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8").removeprefix("\ufeff")
        line, col = position(before, len(before))  # in characters, as every other problem
        return None, [
            Problem(line, col, "", f"not UTF-8 text (byte {exc.start}): save it as UTF-8")
        ]
    # libyaml's marks leave a BOM out, the pure-Python reader's count it: the text a value's
    # marks span (_two_ways), and a character's column, must be the same for both.
    text = text.removeprefix("\ufeff")
    bom = BOM_STARTING_A_LINE.search(text)
    if bom is not None:  # libyaml skips it there too, other readers keep it in what follows
        line, _ = position(text, bom.end() - 1)
        said = "a BOM (U+FEFF) starts this line; only the file may start with one: remove it"
        return None, [Problem(line, 1, "", said)]
    forbidden = character_problems(text)
    if forbidden:
        return None, forbidden
    loader = _Loader(text)
    loader.yaml_implicit_resolvers = _RESOLVERS
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(1, 1, "", "the file is empty; it starts with `version: 1`")]
        bound = _Bounds().problem(node)
        if bound is not None:
            return None, [bound]
        # Read otherwise by other readers, but read by this one: the document is kept, so the
        # file's other problems are said too, and --trusted-config reads its routing keys.
        read_otherwise = directive_problem(text, _Loader) or tab_problem(text, _Loader)
        doc = Document(data=None, text=text)
        problems: list[Problem] = [read_otherwise] if read_otherwise is not None else []
        _walk(loader, node, (), None, doc, problems, set(), _Merges())
        if any(p.kind in _UNREADABLE for p in problems):
            # PyYAML's constructors fail on `!!int 1.5` with a bare ValueError, not a YAML error.
            return None, problems
        doc.data = loader.construct_document(node)
        return doc, problems
    except yaml.MarkedYAMLError as exc:
        return None, [syntax_problem(exc, text)]
    except RecursionError:  # the pure-Python composer, on nesting far past MAX_DEPTH
        return None, [Problem(1, 1, "", _too_deep())]
    finally:
        loader.dispose()


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep: a mappings file needs 4"


class _Bounded(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.mark = node.start_mark
        self.message = message


class _Bounds:
    """Measures the document as the code after it sees it: every alias expanded."""

    def __init__(self) -> None:
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height)
        self._open: set[int] = set()  # the nodes being measured: an alias to one is a cycle
        self._repeated = 0  # nodes the aliases repeat so far

    def problem(self, root: yaml.Node) -> Problem | None:
        try:
            nodes, _height = self._measure(root, root, 1)
        except _Bounded as bounded:
            return Problem(bounded.mark.line + 1, bounded.mark.column + 1, "", bounded.message)
        if nodes > MAX_NODES:  # checked in seconds, not the minutes every value's check took
            return Problem(
                1,
                1,
                "",
                f"the file holds {nodes:,} keys and values, more than the {MAX_NODES:,} a "
                "mappings file may (10,000 mappings take about 70,000): is it the right file?",
                ProblemKind.TOO_LARGE,
            )
        return None

    def _measure(self, node: yaml.Node, parent: yaml.Node, depth: int) -> tuple[int, int]:
        """(nodes, height) of ``node`` expanded; ``parent`` places an alias (the node an alias
        stands for was written at its anchor, elsewhere)."""
        if depth > MAX_DEPTH:
            raise _Bounded(node, _too_deep())
        key = id(node)
        if key in self._open:
            raise _Bounded(parent, "an alias (*name) refers to the node it is part of")
        known = self._measured.get(key)
        if known is not None:
            return self._repeat(known, parent, depth)
        self._open.add(key)
        nodes, height = 1, 0
        for child, place in _children(node):
            child_nodes, child_height = self._measure(child, place, depth + 1)
            nodes, height = nodes + child_nodes, max(height, child_height)
        self._open.discard(key)
        self._measured[key] = (nodes, height + 1)
        return nodes, height + 1

    def _repeat(self, known: tuple[int, int], parent: yaml.Node, depth: int) -> tuple[int, int]:
        nodes, height = known
        if depth + height - 1 > MAX_DEPTH:
            raise _Bounded(parent, _too_deep())
        self._repeated += nodes
        if self._repeated > MAX_ALIAS_NODES:
            raise _Bounded(
                parent,
                f"aliases (*name) repeat more than {MAX_ALIAS_NODES:,} values in all: write "
                "the values out, or use fewer aliases",
            )
        return known


def _children(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
    """Each child of a node with the node that places it: a mapping value by its key."""
    if isinstance(node, yaml.SequenceNode):
        return [(item, node) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return [pair for key, value in node.value for pair in ((key, key), (value, key))]
    return []


STR_TAG = "tag:yaml.org,2002:str"


def _tag_problem(
    loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, text: str
) -> Problem | None:
    """A value tagged to be read otherwise than as written (`!!bool yes please`, `!!int 1.5`,
    `!!set {a, b}`, `!!omap [...]`, `! 010`): refused with its place. `!!str`, which only says
    "text", is fine."""
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    written = written_tag(node, text)
    if written in _NON_SPECIFIC:
        tag = written
    elif isinstance(node, yaml.ScalarNode):
        plain = (not node.style, True)  # how PyYAML's composer resolves an untagged scalar
        if node.tag in (STR_TAG, loader.resolve(yaml.ScalarNode, node.value, plain)):  # type: ignore[no-untyped-call]
            return None
    elif node.tag in (loader.DEFAULT_SEQUENCE_TAG, loader.DEFAULT_MAPPING_TAG):
        return None
    mark = node.start_mark
    return Problem(
        mark.line + 1,
        mark.column + 1,
        format_path(path),
        f"an explicit YAML tag ({tag[:60]}) is not used in a mappings file: write the value "
        "without it (quoted, if it is text)",
        ProblemKind.TAGGED,
    )


# What one problem of leaves no document as written to check further: a tag, a key that is a
# list.
_UNREADABLE = (ProblemKind.TAGGED, ProblemKind.KEY)
# The numbers of YAML 1.2's core schema (editors'), of check-jsonschema's reader (ruamel, which
# keeps YAML 1.1's `_` and `0b`) and of Go's (yq: `_` dropped, then any case of `0x`, `0o`,
# `0b`) that this loader reads as text: `010`, `0o17`, `0X1F`, `1_000`, `0b101`, 19 digits,
# `1_000.5`, `1_0e5` (its own numbers are plain decimal). Matched with the `_` taken out, so
# that no two parts of the pattern can take the same digits: the time stays linear.
_OTHER_NUMBER = re.compile(
    r"[-+]?(?:0x[0-9a-f]+|0o?[0-7]+|0b[01]+|[0-9]+)"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:e[-+]?[0-9]+)?",
    re.IGNORECASE,
)
_PROPERTIES = re.compile(r"(?:&\S+|\s+|#[^\n\r]*)*")  # an anchor, spacing, comments
_TAG = re.compile(r"!\S*")


def _other_number(value: str) -> bool:
    """Whether ``value``, written plain, is a number to another YAML reader. A sign or a point
    and `_` alone (`-_`) are one to ruamel, which then fails on it."""
    if not value or value[0] not in "0123456789+-.":
        return False
    bare = value.replace("_", "")
    return _OTHER_NUMBER.fullmatch(bare) is not None or (bare != value and bare in "+-.")


def written_tag(node: yaml.Node, text: str) -> str | None:
    """The tag written before a value (`!!str`, `!`), past an anchor and comments; None when
    there is none."""
    at = node.start_mark.index
    if text[at : at + 1] not in ("!", "&"):
        return None
    at = _PROPERTIES.match(text, at).end()  # type: ignore[union-attr]  # matches the empty text
    tag = _TAG.match(text, at)
    return None if tag is None else tag.group()


# The non-specific tag: text to editors, while ruamel reads `! 010` as 10 and `! 1` is text
# where a number is asked for.
_NON_SPECIFIC = ("!", "!<!>")


def _two_ways(node: yaml.ScalarNode, path: KeyPath, text: str) -> list[Problem]:
    """A plain scalar read here as text that other YAML readers read as a number: an editor
    showed a valid file red (`name: 010` is 10 there), and a number slot would hold what no
    one meant. A tag (`!!str 010`) makes it text to every reader; an anchor does not."""
    if node.style or node.tag != STR_TAG:
        return []
    value = node.value == "="  # YAML 1.1's "value" key: check-jsonschema's reader fails on it
    if not (value or _other_number(node.value)) or written_tag(node, text) is not None:
        return []  # not one, or written `!!str` (any other tag is refused as tagged)
    mark = node.start_mark
    shown = node.value if len(node.value) <= 24 else f"{node.value[:21]}..."
    said = f"{shown} is a number to other YAML readers (editors, check-jsonschema) and text to "
    said += f"entrasync: quote it ('{shown}') to write text, or write a number in plain decimal "
    said += f"of at most {MAX_DIGITS} digits"
    if value:
        said = "= is a special value to check-jsonschema's YAML reader, which cannot read it, and "
        said += "text to entrasync: quote it ('=')"
    return [Problem(mark.line + 1, mark.column + 1, format_path(path), said, ProblemKind.TWO_WAYS)]


def _inside_value(node: yaml.ScalarNode, path: KeyPath) -> list[Problem]:
    """What a value holds that the check of the raw text cannot see: a control character
    written as an escape in double quotes (``"\\x1b"``, ``"\\0"``), which would reach NeuralTrust
    or a reviewer's terminal, or a tab or line break, in any style."""
    escaped = _CONTROL.search(node.value) if node.style == '"' else None
    broken = _BREAK.search(node.value)
    if escaped is None and broken is None:
        return []
    mark = node.start_mark
    where = (mark.line + 1, mark.column + 1, format_path(path))
    if escaped is not None:
        said = f"control character U+{ord(escaped.group()):04X}, written as an escape, is"
        return [Problem(*where, f"{said} not allowed: remove it")]
    assert broken is not None
    said = _BREAKS[broken.group()]
    return [
        Problem(
            *where,
            f"{said} (U+{ord(broken.group()):04X}) inside a value is not allowed: write the "
            "value on one line",
        )
    ]


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: KeyPath,
    key: yaml.Node | None,
    doc: Document,
    problems: list[Problem],
    seen: set[int],
    merges: _Merges,
) -> None:
    # An alias repeats a node; visiting it once keeps "billion laughs" files cheap. Its node's
    # place is the anchor's: a problem in it is shown at the key the alias is written under.
    if id(node) in seen:
        doc.places[path] = Place(node if key is None else key, key)
        return
    doc.places[path] = Place(node, key)
    seen.add(id(node))
    tagged = _tag_problem(loader, node, path, doc.text)
    if tagged is not None:
        problems.append(tagged)
        return
    if isinstance(node, yaml.ScalarNode):
        problems.extend(_inside_value(node, path))
        problems.extend(_two_ways(node, path, doc.text))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*path, index), None, doc, problems, seen, merges)
    elif isinstance(node, yaml.MappingNode):
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            name: Any
            if id(key_node) in seen:
                # `*r : owner`: PyYAML's merge skips a merged key that is the same node as one
                # it has (`&r role: member` merged in), so the key's value would depend on the
                # reader. A key is a fixed word; written out, nothing can hide behind it.
                mark = (value_node if id(value_node) not in seen else node).start_mark
                said = "a key is written out, not an alias (*name)"
                merges.aliased.add(id(key_node))  # said here alone, not as a merge's too
                problems.append(
                    Problem(
                        mark.line + 1, mark.column + 1, format_path(path), said, ProblemKind.KEY
                    )
                )
                continue
            seen.add(id(key_node))
            if key_node.tag == MERGE_TAG:  # `<<: *base`; a second one silently wins over it
                name = "<<"
                problems.extend(_duplicate(first, name, key_node, path))
                first.setdefault(name, key_node)
                # An inline `<<: {...}` is checked as any mapping (an alias, where its anchor
                # is): unchecked, a tag in it was a traceback and a duplicate key in it passed.
                _walk(loader, value_node, (*path, name), key_node, doc, problems, seen, merges)
                if isinstance(value_node, yaml.SequenceNode):
                    problems.extend(merges.problems(value_node, _own_keys(node), path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                # `? [a, b]` or `? {a: b}`: never a key of this file, and constructed, a tag
                # inside it raised a bare ValueError (a traceback).
                mark = key_node.start_mark
                said = "a key is plain text, not a list or a mapping"
                problems.append(
                    Problem(
                        mark.line + 1, mark.column + 1, format_path(path), said, ProblemKind.KEY
                    )
                )
                continue
            tagged = _tag_problem(loader, key_node, (*path, key_node.value), doc.text)
            if tagged is not None:
                problems.append(tagged)
                continue
            name = loader.construct_object(key_node, deep=True)
            if not isinstance(name, str | int | float | bool) and name is not None:
                continue  # unhashable or odd keys fail construction with their own message
            problems.extend(_duplicate(first, name, key_node, path))
            first.setdefault(name, key_node)
            _walk(loader, value_node, (*path, name), key_node, doc, problems, seen, merges)


class _Merges:
    """Checks each ``<<: [*a, *b]`` of one document: a key two of its mappings give (their own
    keys, or keys they merge in turn) with values that differ, and the merging mapping does not
    set itself (its own keys win over every merged value), is a problem: the YAML merge spec
    keeps the first one's value, some PyYAML releases the last one's, so the file would mean
    what its reader decides (a role of member or of owner). Every node is read once for the
    whole document (by id; ``_Bounds`` has refused cycles), so a deep or long merge costs what
    its nodes do."""

    def __init__(self) -> None:
        self._given: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}
        self._data: dict[int, Any] = {}
        self.aliased: set[int] = set()  # key nodes written again as an alias: refused

    def problems(
        self, merged: yaml.SequenceNode, own: Container[str], path: KeyPath
    ) -> list[Problem]:
        first: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        problems: list[Problem] = []
        if len(merged.value) < 2:  # one mapping merged alone gives each key once
            return problems
        for item in merged.value:
            for name, (key_node, value) in self.given(item).items():
                if name in own or id(key_node) in self.aliased:
                    continue
                if name in first and self.data(first[name][1]) != self.data(value):
                    problems.append(_merged_problem(first[name][0], key_node, path))
                first.setdefault(name, (key_node, value))
        return problems

    def given(self, node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The keys a mapping gives when merged, each with its key and value nodes: its own,
        and those it merges."""
        if not isinstance(node, yaml.MappingNode):
            return {}
        known = self._given.get(id(node))
        if known is not None:
            return known
        given: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == MERGE_TAG:
                for item in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                    for name, nodes in self.given(item).items():
                        given.setdefault(name, nodes)
        given.update(_own_keys(node))
        self._given[id(node)] = given
        return given

    def data(self, node: yaml.Node) -> Any:
        """What a reader reads ``node`` as, to compare two values every reader reads alike
        (``true`` and ``True``, a flow and a block list of the same names), types included
        (``1`` and ``true``, which Python calls equal, differ), read from the nodes alone:
        constructing them would rewrite a mapping's merges in place. A mapping is read as the
        keys it gives (its merges' too), in any order."""
        known = self._data.get(id(node), _UNREAD)
        if known is not _UNREAD:
            return known
        data: Any = None
        if isinstance(node, yaml.ScalarNode):
            data = (node.tag, _scalar(node))
        elif isinstance(node, yaml.SequenceNode):
            data = tuple(self.data(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            data = {name: self.data(value) for name, (_, value) in self.given(node).items()}
        self._data[id(node)] = data
        return data


_UNREAD = object()


def _scalar(node: yaml.ScalarNode) -> Any:
    """A scalar as its tag's constructor reads it (``repr`` of a float: ``-0.0`` is not
    ``0.0`` to a reader), else as written. Only text this file's reader gives that tag
    without one is constructed: a value tagged otherwise (``!!int 0x...``, base 60) is a
    problem of its own, and its constructor may take minutes or raise."""
    if node.tag == _NULL:  # its constructor reads any text as None
        return None
    narrowed = _NARROWED.get(node.tag)
    if narrowed is None or not narrowed.match(node.value):  # a list's or a mapping's tag too
        return node.value
    value = yaml.SafeLoader.yaml_constructors[node.tag](_scalar_reader(), node)
    return repr(value) if isinstance(value, float) else (type(value).__name__, value)


@functools.cache
def _scalar_reader() -> yaml.SafeLoader:
    """A loader whose scalar constructors read a node's text alone."""
    return yaml.SafeLoader("")


def _own_keys(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping's keys (but ``<<``), each with its key and value nodes."""
    return {
        key.value: (key, value)
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode) and key.tag != MERGE_TAG
    }


def _merged_problem(earlier: yaml.Node, key_node: yaml.Node, path: KeyPath) -> Problem:
    mark = key_node.start_mark
    return Problem(
        mark.line + 1,
        mark.column + 1,
        format_path((*path, key_node.value)),
        f"set by two of the mappings `<<` merges (first at line {earlier.start_mark.line + 1}):"
        " YAML readers disagree on which one is kept, so set it in one of them only",
    )


def _duplicate(
    first: dict[Any, yaml.Node], name: Any, key_node: yaml.Node, path: KeyPath
) -> list[Problem]:
    if name not in first:
        return []
    earlier = first[name].start_mark.line + 1
    mark = key_node.start_mark
    return [
        Problem(
            mark.line + 1,
            mark.column + 1,
            format_path((*path, name)),
            f"duplicate key (first at line {earlier}); YAML would silently keep only the last "
            "one, so remove one of them",
        )
    ]

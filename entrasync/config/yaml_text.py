"""The mappings file's text around PyYAML's parser: positions counted as YAML counts lines, the
problems of its characters, tabs and directives that the parser lets through or reads otherwise
than other readers do, and what to say when the parser stops on a syntax error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Final

import yaml

from entrasync.config.located import Problem, ProblemKind

# C0 controls but tab, LF and CR; DEL; C1 controls; the line and paragraph separators, which
# YAML counts as line breaks and editors do not (every later line number would be off); and the
# two non-characters YAML refuses.
_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_MAX_REPORTED: Final = 10  # forbidden characters listed, at most
_LINE_BREAK = re.compile(r"\r\n?|\n")
_DIRECTIVE = re.compile(r"(?:\A|(?<=[\r\n]))%")


def directive_problem(text: str, loader: type[yaml.SafeLoader]) -> Problem | None:
    """A `%YAML` or `%TAG` directive: `%YAML 1.1` makes other readers take `on` for true and
    `1:30` for 90, and `%TAG` gives `!!str` another meaning; entrasync's loader reads neither so."""
    found = _DIRECTIVE.search(text)
    if found is None:
        return None
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.DocumentStartEvent):
            if event.version is None and not event.tags:
                return None  # a `%` starting a line of a value, or a directive YAML ignores
            line, _ = position(text, found.start())
            said = "a YAML directive (%YAML, %TAG) is not used in a mappings file: remove it"
            return Problem(line, 1, "", said)
    return None


def tab_problem(text: str, loader: type[yaml.SafeLoader]) -> Problem | None:
    """A tab used as a space: between a file's tokens (but in a comment or inside `[...]` or
    `{...}`), in a block value's `|` or `>` line, or where a plain value written on several
    lines is folded. libyaml takes it as a space, other readers (check-jsonschema's) refuse
    the file. A tab kept inside a value is refused there (_inside_value)."""
    if "\t" not in text:
        return None
    end, flow = 0, 0
    for token in yaml.scan(text, Loader=loader):
        gap_start, end, in_flow = end, max(end, token.end_mark.index), flow > 0
        flow += _FLOW_DEPTH.get(type(token), 0)
        tab = -1 if in_flow else _spacing_tab(text, gap_start, token.start_mark.index)
        if tab < 0 and isinstance(token, yaml.ScalarToken):
            tab = _folding_tab(text, token)
        if tab >= 0:
            line_number, col = position(text, tab)
            said = "a tab is used as a space here, which other YAML readers refuse: use spaces"
            return Problem(line_number, col, "", said)
    return None


_FLOW_DEPTH: dict[type[yaml.Token], int] = {
    yaml.FlowSequenceStartToken: 1,
    yaml.FlowMappingStartToken: 1,
    yaml.FlowSequenceEndToken: -1,
    yaml.FlowMappingEndToken: -1,
}


def _spacing_tab(text: str, start: int, stop: int) -> int:
    """Where the first tab of ``text[start:stop]`` is that no comment holds, -1 where none
    is: outside a value, a `#` starts a comment."""
    for line_start, line in _lines_of(text[start:stop]):
        found = line.partition("#")[0].find("\t")
        if found >= 0:
            return start + line_start + found
    return -1


def _folding_tab(text: str, token: yaml.ScalarToken) -> int:
    """Where a tab is in a value's spacing (its `|` or `>` line, the blanks where a plain value
    on several lines is folded), -1 where none is."""
    start, stop = int(token.start_mark.index), int(token.end_mark.index)
    if token.style in ("|", ">"):
        header = _LINE_BREAK.search(text, start, stop)
        return _spacing_tab(text, start, stop if header is None else header.start())
    if not token.plain:
        return -1
    lines = list(_lines_of(text[start:stop]))
    for number, (line_start, line) in enumerate(lines):
        lead = len(line) - len(line.lstrip(" \t")) if number else 0  # a line's indentation
        trail = len(line.rstrip(" \t")) if number < len(lines) - 1 else len(line)
        for found in (line.find("\t", 0, lead), line.find("\t", trail)):
            if found >= 0:
                return start + line_start + found
    return -1


def _lines_of(text: str) -> Iterator[tuple[int, str]]:
    """Each line of ``text`` with where it starts, for YAML's line breaks."""
    begins = 0
    for found in _LINE_BREAK.finditer(text):
        yield begins, text[begins : found.start()]
        begins = found.end()
    yield begins, text[begins:]


BOM_STARTING_A_LINE = re.compile("(?:\\A|\r\n?|\n)\ufeff")


def position(text: str, start: int) -> tuple[int, int]:
    """The line and column (from 1) of ``start``, counting line breaks as YAML does (LF, CR LF
    and a lone CR), so that they agree with the YAML and schema problems of the same file."""
    line, begins = 1, 0
    for found in _LINE_BREAK.finditer(text, 0, start):
        line, begins = line + 1, found.end()
    return line, start - begins + 1


def character_problems(text: str) -> list[Problem]:
    """Control characters (but tab, LF, CR) at their line and column: YAML refuses them, and
    a NUL or an ESC in a reviewed file hides what the file says."""
    problems: list[Problem] = []
    for found in islice(_FORBIDDEN.finditer(text), _MAX_REPORTED + 1):
        line, col = position(text, found.start())
        if len(problems) == _MAX_REPORTED:  # the file says "more than", and where the next is
            said = "more such characters than are listed, this one among them: remove them all"
            problems.append(Problem(line, col, "", said, ProblemKind.UNLISTED))
            break
        code = ord(found.group())
        kind = _KINDS.get(code, "control character")
        problems.append(Problem(line, col, "", f"{kind} U+{code:04X} is not allowed: remove it"))
    return problems


_KINDS = {
    0x2028: "line separator",
    0x2029: "paragraph separator",
    0xFFFE: "non-character",
    0xFFFF: "non-character",
}


def syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    hint = _indentation_hint(exc, text)
    if (exc.problem or "").startswith("could not find expected ':'") and exc.context_mark:
        # `role:admin`: a key never ended; libyaml finds out only at the next line (or past
        # the end of the file), so the key's own line is the one to show.
        mark = exc.context_mark
        what = "a key without `: ` after it"
        hint = "; write `key: value`, with a space after the colon"
    elif (exc.problem or "").startswith("but found another document"):
        what = "a second YAML document (a line `---` or `...` after the first)"
        hint = "; a mappings file is one document: remove the marker and what follows, or merge it"
    elif exc.context and exc.problem and exc.context_mark is not None:
        what += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if mark is not None and "tab" not in what and _character_at(text, mark) == "\t":
        hint = "; it is a tab: YAML indents with spaces only"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Problem(line, col, "", f"YAML syntax error: {what}{hint}")


def _character_at(text: str, mark: yaml.Mark) -> str:
    lines = text.split("\n")
    line = lines[mark.line] if mark.line < len(lines) else ""
    return line[mark.column : mark.column + 1]


def _indentation_hint(exc: yaml.MarkedYAMLError, text: str) -> str:
    """Most block errors in a hand-edited mappings file are a line indented one step off:
    say which line, by how much, and which block it should line up with."""
    problem, context = exc.problem_mark, exc.context_mark
    if problem is not None and (exc.problem or "").startswith("mapping values are not allowed"):
        return _mapping_value_hint(text.splitlines(), problem.line, problem.column)
    if (
        problem is None
        or context is None
        or not (exc.context or "").startswith("while parsing a block")
    ):
        return ""
    lines = text.splitlines()
    if problem.line >= len(lines):
        return ""
    got = len(lines[problem.line]) - len(lines[problem.line].lstrip(" "))
    kind = "list" if "collection" in (exc.context or "") else "mapping"
    if kind == "list" and got == context.column:
        return (
            f"; check the indentation: line {problem.line + 1} lines up with the list from line "
            f"{context.line + 1} but is not a `- ` item: indent it under the item above it"
        )
    key = _key_column(lines[problem.line])
    if key == context.column and problem.column > key:
        # Lined up as it should be: what is wrong is text after a value, such as the comma of
        # a line pasted from JSON (`name: "NT-Owners",`).
        return (
            f"; line {problem.line + 1} has text after its value, from column "
            f"{problem.column + 1}: remove it, or put the whole value in quotes"
        )
    return (
        f"; check the indentation: line {problem.line + 1} is indented {got} spaces, but the "
        f"{kind} it continues, from line {context.line + 1}, is indented {context.column} "
        f"(the items of one {kind} line up, indented with spaces)"
    )


def _mapping_value_hint(lines: list[str], at: int, column: int) -> str:
    """The hint for ``key: value`` where YAML takes no mapping: a value holding ``: `` (the
    second colon of the line is the problem), or a line indented deeper than the key above
    it, which holds a value already."""
    if at >= len(lines):
        return ""
    line = lines[at]
    first = line.find(": ", _key_column(line))
    if 0 <= first < column:
        return "; a value holding `: ` must be quoted: put it in double quotes"
    got = len(line) - len(line.lstrip(" "))
    above = next(
        (
            i
            for i in range(at - 1, -1, -1)
            if lines[i].strip() and not lines[i].lstrip().startswith("#")
        ),
        None,
    )
    if above is None:
        return ""
    then = _key_column(lines[above])
    if got <= then or not _holds_a_value(lines[above]):
        return ""
    return (
        f"; check the indentation: line {at + 1} is indented {got} spaces, deeper than the key "
        f"of line {above + 1} ({then} spaces), which has its value already: line the keys of "
        "one mapping up, indented with spaces"
    )


def _holds_a_value(line: str) -> bool:
    """Whether a ``key: value`` line has its value on it (not a comment alone)."""
    _, colon, value = line.partition(": ")
    return bool(colon) and bool(value.strip()) and not value.lstrip().startswith("#")


def _key_column(line: str) -> int:
    """Where a line's key starts: after its indentation and any `- ` of a list item."""
    rest = line.lstrip(" ")
    while rest.startswith("- "):
        rest = rest[2:].lstrip(" ")
    return len(line) - len(rest)

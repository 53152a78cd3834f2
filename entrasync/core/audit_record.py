"""The audit file's records (docs/plan-and-audit.md): their outcomes, their hash, and the one
strict reader of their lines, shared by ``entrasync audit verify`` and the apply report.

Pure: bytes in, records out. Writing the file is :mod:`entrasync.adapters.audit.writer`;
checking its chain is :mod:`entrasync.adapters.audit.chain`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from entrasync.core import strict_json
from entrasync.core.canonical import canonical_json

Outcome = Literal["succeeded", "failed", "skipped"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("succeeded", "failed", "skipped")
GENESIS: Final = "0" * 64  # the prev_sha256 of the first record
# How a run ended, in apply_finished: "applied" means changes were attempted (the counts say
# how each went); the others mean nothing was attempted and say why.
Result = Literal["applied", "no changes", "already applied", "refused", "cancelled"]


def tally(counts: Mapping[str, int]) -> str:
    """``3 succeeded, 1 failed, 0 skipped``: how the changes of a run went, in every output."""
    return ", ".join(f"{counts.get(outcome, 0)} {outcome}" for outcome in OUTCOMES)


TYPES: Final = ("apply_started", "change", "apply_finished")


def record_sha256(record: Mapping[str, Any]) -> str:
    """The hash a record carries: of its canonical JSON (RFC 8785) without ``sha256``."""
    body = {key: value for key, value in record.items() if key != "sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class BadRecord(ValueError):
    """A line of an audit file that is not a record as apply writes it."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def record_lines(data: bytes) -> list[bytes]:
    """The file's lines, one record each (the newline that ends the last one is not a line)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def parse_record(raw: bytes, line: int) -> dict[str, Any]:
    """The record of one line, read strictly: apply writes no duplicate keys, fractions, huge
    numbers, deep nesting or keys beyond ASCII, and parsers disagree on what such a line says."""
    try:
        record = strict_json.loads(raw, fractions=False)
    except strict_json.JsonSyntaxError:
        raise BadRecord(line, "not a JSON record (edited, or cut off mid-record)") from None
    except strict_json.StrictJsonError as exc:
        raise BadRecord(line, f"not a record as apply writes it: {exc}") from None
    if not isinstance(record, dict):
        raise BadRecord(line, "not a JSON object")
    if not _ascii_keys(record):
        # canonical_json sorts keys by code point, RFC 8785 by UTF-16 unit: the same order
        # for ASCII keys, which are all apply writes.
        raise BadRecord(line, "not a record as apply writes it: a key beyond ASCII")
    return record


def whole_lines(data: bytes) -> tuple[list[bytes], bool]:
    """The file's record lines, and whether a last line a crash left half-written was left
    out: after at least one record, a line with no line end after it that is the start of a
    JSON value cut short, or zero bytes, or a JSON value (whole or the start of one) followed
    by zero bytes that end the file (a file system's tail after a power cut: the file's size
    written, not all of its data). A record with its line end, edited or not, is never left
    out, nor a line edited out of JSON, nor a file's only line (apply_started comes first)."""
    lines = record_lines(data)
    last = lines[-1] if len(lines) > 1 else b""
    if not last:
        return lines, False
    written = last.rstrip(b"\x00")
    if not written:
        return lines[:-1], True
    if data.endswith(b"\n"):
        return lines, False
    if len(written) < len(last) and (_cut_short(written) or _is_json(written)):
        return lines[:-1], True  # the zeros end the file: its line end was never written
    return (lines[:-1], True) if _cut_short(last) else (lines, False)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


# A JSON token after optional blanks, or the start of one that the line's end (\Z) cuts off:
# a string (to a lone backslash or part of a \u escape), a number (to its `-`, `.`, `e` or
# sign), a literal, a mark. A string's characters are taken possessively (`*+`): each has one
# reading, and the backtracking state of `*` took 130 bytes a character (13 GB for a 100 MB
# line cut off inside a string).
_TOKEN = re.compile(
    rb'[ \t\r]*(?:(?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+'
    rb'(?:(?P<closed>")|\\(?:u[0-9a-fA-F]{0,3})?\Z)?)'
    rb"|(?P<number>-\Z|-?(?:0|[1-9][0-9]*)(?:\.(?:[0-9]+|\Z))?(?:[eE][+-]?(?:[0-9]+|\Z))?)"
    rb"|(?P<word>t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|n(?:u(?:ll?)?)?)"
    rb"|(?P<mark>[{}\[\]:,]))"
)
_WORDS = (b"true", b"false", b"null")


def _cut_short(line: bytes) -> bool:
    """Whether ``line`` is the start of a JSON value cut off before its end, as a crash leaves
    a record: UTF-8 (but for a character the end cuts), every token in its place, only the
    last one perhaps half-written. A whole value is not cut short, nor is a line edited out of
    JSON (a quote removed, a mark changed). One pass over the line."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.end != len(line) or error.reason != "unexpected end of data":
            return False
    expect = "value"  # what may come next: value, key, colon, after (a value ended)
    stack: list[bytes] = []  # the containers open
    opened = False  # the token before was { or [: the container may close empty
    at, end = 0, len(line)
    while at < end:
        token = _TOKEN.match(line, at)
        if token is None:
            return False
        kind, text, at = token.lastgroup, token.group().lstrip(b" \t\r"), token.end()
        if kind in ("string", "number", "word"):
            if kind == "string":
                whole = token.group("closed") is not None
            else:
                whole = text in _WORDS if kind == "word" else text[-1:].isdigit()
            if not whole:  # only the line's last token may be unfinished, and where it may
                return at == end and (expect == "value" or (expect == "key" and kind == "string"))
            if not (expect == "value" or (expect == "key" and kind == "string")):
                return False
            expect = "colon" if expect == "key" else "after"
        elif text in (b"{", b"["):
            if expect != "value" or len(stack) == strict_json.MAX_DEPTH:  # deeper: no record;
                return False  # a stack of one entry a byte took 25 GB for 2 GB of "["
            stack.append(text)
            expect = "key" if text == b"{" else "value"
        elif text == b":":
            if expect != "colon":
                return False
            expect = "value"
        elif text == b",":
            if expect != "after" or not stack:
                return False
            expect = "key" if stack[-1] == b"{" else "value"
        else:  # a closing mark: after the container's last value, or of an empty one
            if not stack or stack[-1] != (b"{" if text == b"}" else b"["):
                return False
            if not (expect == "after" or opened):
                return False
            stack.pop()
            expect = "after"
        opened = text in (b"{", b"[")
        if not stack and expect == "after":
            return False  # a whole value
    return True


def _ascii_keys(value: object) -> bool:
    if isinstance(value, dict):
        return all(k.isascii() and _ascii_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(v) for v in value)
    return True

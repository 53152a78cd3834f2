"""The audit file's records (docs/plan-and-audit.md): their outcomes, their hash, and the one
strict reader of their lines, shared by ``entrasync audit verify`` and the apply report.

Pure: bytes in, records out. Writing the file is :mod:`entrasync.adapters.audit.writer`;
checking its chain is :mod:`entrasync.adapters.audit.chain`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from entrasync.core import strict_json
from entrasync.core.canonical import canonical_json

Outcome = Literal["succeeded", "failed", "skipped"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("succeeded", "failed", "skipped")
GENESIS: Final = "0" * 64  # the prev_sha256 of the first record


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
    out: after at least one record, a line that is no JSON at all and has no line end after
    it, or only zero bytes (a file system's tail after a power cut). A whole record, edited
    or not, is never left out; nor is a file's only line (apply_started comes first)."""
    lines = record_lines(data)
    last = lines[-1] if len(lines) > 1 else b""
    if not last:
        return lines, False
    if not last.strip(b"\x00"):
        return lines[:-1], True
    if data.endswith(b"\n"):
        return lines, False
    try:
        json.loads(last)
    except ValueError:
        return lines[:-1], True
    return lines, False


def _ascii_keys(value: object) -> bool:
    if isinstance(value, dict):
        return all(k.isascii() and _ascii_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(v) for v in value)
    return True

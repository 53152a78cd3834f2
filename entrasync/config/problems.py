"""Turning schema errors and semantic rules into problems a person can act on.

jsonschema's own messages ("True is not of type 'string'") describe the validator, not the
file; each validator keyword gets its own wording here. The rules a schema cannot state live
in :mod:`entrasync.config.semantic`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any, cast

from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.protocols import Validator
from pydantic import ValidationError

from entrasync.config.located import Document, KeyPath, Problem, ProblemKind, format_path
from entrasync.config.patterns import (
    ATTRIBUTE_PATTERN,
    GUID_PATTERN,
    UPN_PATTERN,
    URL_PATTERN,
    unseen_in_address,
)
from entrasync.config.source import YAML11_BOOLEANS
from entrasync.core.wording import clipped

GUID_EXAMPLE = "0b3f1c9e-1111-4c1e-9a0b-000000000001"
SECRET_WORDS = ("secret", "token", "password", "certificate", "private", "credential", "apikey")
TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys",
    "null": "nothing",
}


def unseen_message(value: object, unseen: str) -> str:
    return (
        f"{show(value)} holds U+{ord(unseen):04X}, a character no email address or UPN has and "
        "that may not show: type the address again"
    )


def show(value: Any) -> str:
    if not isinstance(value, str):
        return str(value)
    if _sets_a_secret(value[:200]):
        # A .env file given as the mappings file, or a line of one pasted into it: its text
        # would carry the secret into the output, and with --comment into the pull request.
        return SETS_A_SECRET
    return repr(clipped(value))


SETS_A_SECRET = "a text that seems to set a secret (not shown)"
# NAME=value, NAME: value or NAME "value", wherever a name starts (a .env file's or a shell's
# lines, PowerShell's $env:NAME=, --password=, JSON's "NAME": or os.environ["NAME"] = read
# folded into one text), the value quoted (blanks and escaped quotes and all) or not (up to
# the next blank). A lookahead, so that one assignment's value does not hide the next.
_ASSIGNED = re.compile(
    r"""(?<![A-Za-z0-9_])(?=([A-Za-z_][A-Za-z0-9_.-]*)(?:\\?["'`\]])*(?:\s*[=:]\s*|\s+(?=["']))"""
    r"""(?=(\S*))(?:"((?:\\.|""|`"|[^"\\])*)|'((?:''|\\.|[^'\\])*))?)"""
)


def _sets_a_secret(text: str) -> bool:
    """Whether ``text`` assigns a value of 8 characters or more, holding a digit or a sign
    other than & ; - _ . or a blank, to a name that says secret, token, password, ...:
    "App Password: Reset Team" and "Tokens: read&write" set nothing. The value is the quoted
    text (blanks and all) or the run up to the next blank, whichever is longer: a quote
    doubled or escaped inside (`'a''b'`, PowerShell's `` `" ``) ends no value."""
    return any(
        is_secret_key(name) and len(value) >= 8 and any(map(_not_in_words, value))
        for name, run, *quoted in _ASSIGNED.findall(text)
        for value in (max(run.strip(_AROUND), *quoted, key=len),)
    )


_AROUND = "\"'`,;{}[]()"


def _not_in_words(char: str) -> bool:
    return not char.isalpha() and char not in "&;-_. "


def describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = show(value)
        return shown if shown == SETS_A_SECRET else f"the text {shown}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping of keys"
    return f"{type(value).__name__} {show(value)}"


def is_secret_key(key: str) -> bool:
    flat = key.lower().replace("_", "").replace("-", "")
    return any(word in flat for word in SECRET_WORDS)


MAX_SCHEMA_ERRORS = 200  # the first ones, in seconds; fixing them shows the next


def schema_problems(doc: Document, validator: Validator) -> list[Problem]:
    errors = list(islice(validator.iter_errors(doc.data), MAX_SCHEMA_ERRORS + 1))
    errors, unlisted = errors[:MAX_SCHEMA_ERRORS], errors[MAX_SCHEMA_ERRORS:]
    # A value of the wrong type also fails its const/enum/pattern; the type says it best.
    typed = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    out: list[Problem] = []
    homes = key_homes(validator.schema)  # once: per unknown key, 99,000 of them took 750 MB
    for error in errors:
        if error.validator == "type" or tuple(error.absolute_path) not in typed:
            out.extend(_explain(doc, error, validator.schema, homes))
    if unlisted:  # one of those not listed, where it is (jsonschema's order is the schema's)
        said = (
            "more problems than are listed, this one among them: fix the first "
            f"{MAX_SCHEMA_ERRORS} and check again"
        )
        out.append(doc.problem(tuple(unlisted[0].absolute_path), said, kind=ProblemKind.UNLISTED))
    return out


def _explain(
    doc: Document, error: SchemaError, root: Any, homes: dict[str, list[str]]
) -> Iterator[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    # types-jsonschema marks these "maybe unset"; on an error from iter_errors they are set.
    kind, expected, value, schema = (
        str(error.validator),
        cast(Any, error.validator_value),
        cast(Any, error.instance),
        cast(Any, error.schema),
    )
    if kind == "anyOf":
        yield from _explain_any_of(doc, error, path, root, homes)
    elif kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        for key in value:
            if key not in known:
                yield _unknown_key(doc, (*path, key), known, homes)
    elif kind == "required":
        for key in expected:
            if key not in value:
                hint = " (add `version: 1` at the top)" if key == "version" else ""
                yield doc.problem((*path, key), f"required key is missing{hint}")
    elif kind == "uniqueItems":
        yield _duplicate_item(doc, path, value)
    else:
        yield doc.problem(path, _message(kind, expected, value, error))


def _explain_any_of(
    doc: Document, error: SchemaError, path: KeyPath, root: Any, homes: dict[str, list[str]]
) -> Iterator[Problem]:
    branches = cast(list[dict[str, Any]], error.validator_value)
    if all("required" in b for b in branches):
        given = error.instance if isinstance(error.instance, dict) else {}
        if all(given.get(key) is None for b in branches for key in b["required"]):
            yield doc.problem(path, "a mapping needs an id or a name (or both)")
        # else the id or name given is of the wrong kind: its own problem says so
        return
    # `X | None` fields: only the non-null branch says what was wrong.
    useful = [i for i, b in enumerate(branches) if b != {"type": "null"}]
    for sub in error.context or ():
        if sub.relative_schema_path and sub.relative_schema_path[0] in useful:
            yield from _explain(doc, sub, root, homes)


def _unknown_key(
    doc: Document, path: KeyPath, known: list[str], homes: dict[str, list[str]]
) -> Problem:
    text = doc.key_text(path)
    kind = ProblemKind.INVALID
    elsewhere = [h for h in homes.get(text, []) if h != _dotted((*path[:-1], text))]
    if is_secret_key(text):
        what = "unknown key; secrets never go in this file: set them in the environment"
        kind = ProblemKind.SECRET
    elif elsewhere:
        named = [h if "." in h or "[" in h else f"{h} at the top level" for h in elsewhere]
        what = f"unknown key here (did you mean {' or '.join(named)}?)"
    else:
        close = difflib.get_close_matches(text, known, n=1)
        what = f"unknown key (did you mean {close[0]}?)" if close else "unknown key"
        if not close and known:
            what += f"; expected one of {', '.join(known)}"
    # Located by the parsed key (True), named as written (on).
    located = doc.problem(path, what, at_key=True, kind=kind)
    return replace(located, path=format_path((*path[:-1], text)))


def _dotted(path: KeyPath) -> str:
    """``("mappings", 0, "role")`` as the schema's homes name it: ``mappings[].role``."""
    return "".join("[]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def key_homes(root: Any) -> dict[str, list[str]]:
    """Every key the schema knows, with where it belongs (``min_owners`` ->
    ``limits.min_owners``), so a key put in the wrong section is named with its home."""
    homes: dict[str, list[str]] = {}

    def walk(schema: Any, prefix: str) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            schema = root.get("$defs", {}).get(ref.rpartition("/")[2], {})
        for branch in schema.get("anyOf", []):
            walk(branch, prefix)
        for key, sub in schema.get("properties", {}).items():
            if prefix + key not in (said := homes.setdefault(key, [])):  # anyOf: once each
                said.append(prefix + key)
            walk(sub, prefix + key + ".")
        if "items" in schema:
            walk(schema["items"], prefix.rstrip(".") + "[].")

    walk(root, "")
    return homes


def _same_as(item: Any) -> Hashable:
    """``item`` as a value equal for items JSON Schema's uniqueItems holds equal: 1 and 1.0
    alike, true and 1 not (Python's ``==`` has those two the other way round)."""
    if isinstance(item, bool) or item is None:
        return (type(item).__name__, item)
    if isinstance(item, list):
        return ("list", tuple(_same_as(i) for i in item))
    if isinstance(item, dict):
        return ("dict", frozenset((_same_as(k), _same_as(v)) for k, v in item.items()))
    return item if isinstance(item, int | float | str) else ("other", repr(item))


def unique_items(
    validator: Validator, unique: bool, instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaError]:
    """JSON Schema's uniqueItems in one pass: jsonschema's own compares every pair once a list
    holds a value it cannot sort (a blank `-` line in `protected`, read as null), 40 s for a
    list of 40,000 (benchmarks/README.md, "Unusual shapes"), against the bounded input
    docs/safety.md promises."""
    if unique and isinstance(instance, list):
        seen: set[Hashable] = set()
        for item in instance:
            key = _same_as(item)
            if key in seen:
                yield SchemaError("entries must be unique")
                return
            seen.add(key)


def _duplicate_item(doc: Document, path: KeyPath, items: list[Any]) -> Problem:
    # Each item's first place kept by a value equal where uniqueItems says equal: items.index()
    # per item took 203 s for a list of 199,000.
    firsts: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        first = firsts.setdefault(_same_as(item), index)
        if first < index:
            return doc.problem(
                (*path, index),
                f"{'an empty entry' if item is None else show(item)} is listed twice "
                f"(first at line {doc.line_of((*path, first))})",
            )
    return doc.problem(path, "entries must be unique")


EMPTY_PRODUCTS = (
    "is empty: remove the key (a product role then gets every product) or list the products "
    "([] for none)"
)
EMPTY_EXPIRES = (
    "is empty: write the mapping's last day (YYYY-MM-DD), or remove the key for a mapping "
    "that never expires"
)
# A mapping's keys whose omission grants something: written blank, a key left for later would
# grant it too, so blank is refused with what to write.
EMPTY_MAPPING_KEYS = {"products": EMPTY_PRODUCTS, "expires": EMPTY_EXPIRES}


def _message(kind: str, expected: Any, value: Any, error: SchemaError) -> str:
    where = list(error.absolute_path)
    if kind == "type" and value is None and where[:1] == ["mappings"] and len(where) == 3:
        blank = EMPTY_MAPPING_KEYS.get(str(where[2]))
        if blank is not None:  # a mapping's, not the vocabulary's products
            return blank
    if kind == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        words = " or ".join(TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        meant = YAML11_BOOLEANS.get(value.lower()) if isinstance(value, str) else None
        if "boolean" in wanted and meant is not None:
            return (
                f"expected {words}, got the text {show(value)}: write {meant} (only YAML 1.1 "
                "read it as a boolean; editors and check-jsonschema read YAML 1.2)"
            )
        if wanted == ["string"] and isinstance(value, int | float | bool):
            # `name: 2024` or `name: yes`: YAML read it as a number or a boolean.
            return f"expected {words}, got {describe(value)}: quote it to write it as text"
        return f"expected {words}, got {describe(value)}"
    if kind == "enum":
        return f"{show(value)} is not one of {', '.join(str(e) for e in expected)}"
    if kind == "const":
        return (
            f"format version {show(value)} is not supported; this entrasync reads {expected} only"
        )
    if kind == "pattern":
        if expected == GUID_PATTERN:
            # The value is not echoed: a secret pasted into client_id must not reach CI logs.
            return f"not a GUID (8-4-4-4-12 hex digits, like {GUID_EXAMPLE})"
        if expected == UPN_PATTERN:
            unseen = unseen_in_address(str(value))
            if unseen is not None:
                return unseen_message(value, unseen)
            return f"{show(value)} is not an email address or UPN (user@domain)"
        if expected == ATTRIBUTE_PATTERN:
            return (
                f"{show(value)} is not a SCIM attribute name: a letter, then letters, digits, - "
                "or _ (roles, entitlements), or an extension's URN and name (urn:…:User:role)"
            )
        if expected == URL_PATTERN:
            # Not echoed when it may be a credential: held in a URL (user:pass@, ?token=...),
            # or pasted alone, with no scheme at all.
            text = str(value)
            if "://" not in text:
                return "this value is not an https:// URL: it has no scheme (write https://…)"
            shown = "this value" if any(c in text for c in "@?#") else show(value)
            unseen = unseen_in_address(text)
            if unseen is not None:  # a blank or a hidden character: said, not shown
                return (
                    f"{shown} holds U+{ord(unseen):04X}, a character a URL does not hold and "
                    "that may not show: type the URL again"
                )
            return f"{shown} is not an https:// URL"
        return f"{show(value)} does not match {expected}"
    if kind == "format" and expected == "date":
        return f"{show(value)} is not a date: write YYYY-MM-DD (a UTC day, like 2026-12-31)"
    if kind == "minItems" and error.absolute_path and error.absolute_path[-1] == "roles":
        return "must not be empty: list the roles, highest privilege first"
    if kind in ("minLength", "minItems"):
        return "must not be empty"
    if kind == "minimum":
        return f"must be at least {expected}, got {value}"
    if kind == "maximum":
        return f"must be at most {expected}, got {value}"
    return error.message


def pydantic_problems(doc: Document, exc: ValidationError) -> list[Problem]:
    """What pydantic finds that the schema did not (kept in step by tests, so rarely any)."""
    return [doc.problem(tuple(e["loc"]), e["msg"]) for e in exc.errors()]

"""The plan file, format_version 1: the Plan value written as JSON, read back, and its digest.

The layout and every key are described in docs/plan-and-audit.md. ``digest`` is the sha256 of
the RFC 8785 canonical JSON of the file without ``created_at`` and ``digest``; reading a file
whose digest does not match refuses it. The JSON is read by :mod:`entrasync.core.strict_json`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from entrasync import __version__
from entrasync.core import sanitize, strict_json
from entrasync.core.canonical import (
    NotCanonicalError,
    canonical_json,
    canonical_sha256,
    canonical_text,
)
from entrasync.core.plan import Change, Orphan, Plan, Violation
from entrasync.core.policy import PolicyChange
from entrasync.core.strict_json import ShapeError, count, obj, sha256_hex, text, texts
from entrasync.core.wording import clipped, joined
from entrasync.errors import PlanFileError

FORMAT_VERSION = 1


def _head(plan: Plan) -> dict[str, Any]:
    """The file's keys up to ``summary``, in file order (the digest left empty)."""
    return {
        "format_version": FORMAT_VERSION,
        "entrasync_version": plan.entrasync_version,
        "created_at": plan.created_at,
        "config": {"path": plan.config_path, "sha256": plan.config_sha256},
        "target": {"scim_url": plan.scim_url, "state_sha256": plan.state_sha256},
        "digest": "",
        "summary": plan.summary,
    }


def _body(plan: Plan) -> dict[str, Any]:
    """The hashed part of the file as one value (the digest's reference definition)."""
    body = {k: v for k, v in _head(plan).items() if k not in _UNHASHED}
    body["changes"] = [c.to_json() for c in plan.changes]
    body["orphans"] = [o.to_json() for o in plan.orphans]
    body["warnings"] = list(plan.warnings)
    if plan.policy_changes:  # format 1, additive: absent when there are none
        body["policy_changes"] = [p.to_json() for p in plan.policy_changes]
    body["violations"] = [v.to_json() for v in plan.violations]
    return body


def digest(plan: Plan) -> str:
    """sha256 (hex) of the canonical JSON of the file's hashed part (``Plan.digest`` caches it),
    hashed item by item from ``Plan.canonical_items``."""
    try:
        return canonical_sha256(_hashed_head(plan), plan.canonical_items())
    except NotCanonicalError as exc:
        raise _not_canonical(exc) from None


def _hashed_head(plan: Plan) -> dict[str, Any]:
    return {k: v for k, v in _head(plan).items() if k not in _UNHASHED}


def _not_canonical(exc: NotCanonicalError) -> PlanFileError:
    return PlanFileError(
        "the plan cannot be written canonically (RFC 8785): it holds text that is not "
        f"Unicode, a lone surrogate, at ...{exc.excerpt}",
        "a value read from Entra or NeuralTrust (a name, mail or role) carries an escape "
        "from \\ud800 to \\udfff with no pair: correct it at its source and plan again",
    )


def to_json(plan: Plan) -> dict[str, Any]:
    """The plan file as one value, keys in file order."""
    body = _body(plan)
    ordered = {**_head(plan), "digest": plan.digest}
    ordered.update((key, value) for key, value in body.items() if key not in ordered)
    return ordered


def dumps(plan: Plan) -> str:
    """The plan file's text: one top-level key per line in a stable order, and each change,
    orphan, warning and violation on a line of its own as canonical JSON; trailing newline.

    Still plain JSON (any reader parses it, and ``loads`` reads the older indented layout
    too), and a diff of two plans shows one line per changed user. Unlike ``indent=2`` it is
    written by json's C encoder, and the lines are the digest's own parts: at 85,000
    changes about 0.25 s instead of 1.5 s (benchmarks/optimisations.py).
    """
    return "".join(file_lines(plan))


def file_lines(plan: Plan) -> Iterator[str]:
    """:func:`dumps` line by line, each ending in a newline: a large plan file can be
    written without its whole text in memory (450 MB at 1,000,000 users)."""
    yield from _head_lines(plan, plan.digest)
    arrays = list(plan.canonical_items().items())
    for position, (key, items) in enumerate(arrays):
        yield from _array_lines(key, items, "," if position < len(arrays) - 1 else "")
    yield "}\n"


def write_once(plan: Plan, write: Callable[[str], object]) -> int:
    """Write :func:`dumps` of ``plan`` through ``write`` with each change's canonical line made
    once, for the file and the digest together, and ``"0" * 64`` where the digest goes: returns
    the byte offset (in UTF-8) where the caller writes ``plan.digest``, which this sets.

    :func:`file_lines` needs the digest before its first change, so it makes every line twice,
    once hashed and once written. Here the digest's hash pulls the changes (they come first in
    its sorted keys) and each is written to the file as it goes by; the few other items are
    made twice. At 100,000 users the plan file took 0.61 s instead of 0.94 s
    (benchmarks/README.md), and its lines are still never all held.
    """
    try:
        head = "".join(_head_lines(plan, _UNSET))
        write(head)
        offset = len(head[: head.index(_DIGEST_KEY) + len(_DIGEST_KEY)].encode("utf-8"))
        items = plan.canonical_items()
        items["changes"] = _written_as_lines(items["changes"], write)
        hashed = canonical_sha256(_hashed_head(plan), items)
        arrays = [item for item in plan.canonical_items().items() if item[0] != "changes"]
        for position, (key, lines) in enumerate(arrays):
            write("".join(_array_lines(key, lines, "," if position < len(arrays) - 1 else "")))
        write("}\n")
    except UnicodeEncodeError as error:  # written before it is hashed: the same refusal
        raise _not_canonical(NotCanonicalError(error)) from None
    except NotCanonicalError as exc:
        raise _not_canonical(exc) from None
    object.__setattr__(plan, "_digest", hashed)  # the cache Plan.digest fills
    return offset


def _written_as_lines(changes: Iterator[str], write: Callable[[str], object]) -> Iterator[str]:
    """``changes`` passed on, each written as :func:`_array_lines` lays out "changes"."""
    previous = next(changes, None)
    if previous is None:
        write(f"  {_LINE.encode('changes')}: [],\n")
        return
    write(f"  {_LINE.encode('changes')}: [\n")
    yield previous
    for line in changes:
        write(f"    {previous},\n")
        yield line
        previous = line
    write(f"    {previous}\n  ],\n")


def _head_lines(plan: Plan, digest: str) -> Iterator[str]:
    yield "{\n"
    for key, value in {**_head(plan), "digest": digest}.items():
        yield f"  {_LINE.encode(key)}: {_LINE.encode(value)},\n"


def _array_lines(key: str, items: Iterator[str], comma: str) -> Iterator[str]:
    lines = iter(items)
    previous = next(lines, None)
    if previous is None:
        yield f"  {_LINE.encode(key)}: []{comma}\n"
        return
    yield f"  {_LINE.encode(key)}: [\n"
    for line in lines:
        yield f"    {previous},\n"
        previous = line
    yield f"    {previous}\n"
    yield f"  ]{comma}\n"


_Item = TypeVar("_Item")

_UNSET = "0" * 64  # the digest's place in the file until write_once knows it
_DIGEST_KEY = '\n  "digest": "'  # the only key at the start of a line that is "digest"


# The file's top-level values: one readable line each, in insertion order (no indent).
_LINE = json.JSONEncoder(ensure_ascii=False)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_UNHASHED = frozenset({"created_at", "digest"})


def _plan_of(data: dict[str, Any]) -> Plan:
    """The plan a file holds, each value of the type the plan file format gives it: a value of
    another type (edited in, its digest recomputed) is a ``ShapeError``, never a crash later."""
    config, target = obj(data["config"], "config"), obj(data["target"], "target")
    return Plan(
        config_path=text(config["path"], "config.path"),
        config_sha256=sha256_hex(config["sha256"], "config.sha256"),
        scim_url=text(target["scim_url"], "target.scim_url"),
        state_sha256=sha256_hex(target["state_sha256"], "target.state_sha256"),
        changes=_each(data["changes"], "changes", Change.from_json),
        orphans=_each(data.get("orphans", []), "orphans", Orphan.from_json),
        warnings=texts(data.get("warnings", []), "warnings"),
        violations=_each(data.get("violations", []), "violations", Violation.from_json),
        policy_changes=_each(
            data.get("policy_changes", []), "policy_changes", PolicyChange.from_json
        ),
        unchanged=count(obj(data["summary"], "summary")["unchanged"], "summary.unchanged"),
        created_at=_time(data.get("created_at", "")),
        entrasync_version=text(data["entrasync_version"], "entrasync_version"),
    )


_CREATED_AT = re.compile(r"\A(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?\Z")


def _time(value: Any) -> str:
    """``created_at`` as ``plan`` writes it (``2026-11-28T12:00:00Z``), or absent (""): the
    digest leaves it out, so nothing else vouches for it, and the audit records it."""
    said = text(value, "created_at")
    if _CREATED_AT.match(said) is None:
        raise ShapeError("created_at is not a time as `plan` writes it (2026-11-28T12:00:00Z)")
    return said


def _each(values: Any, key: str, read: Callable[[dict[str, Any]], _Item]) -> tuple[_Item, ...]:
    """``read`` of each object of the list ``values``; a problem names the item (``changes[3]``)."""
    if type(values) is not list:
        raise ShapeError(f"{key} is not a list")
    items = []
    for index, value in enumerate(values):
        item = obj(value, f"{key}[{index}]")
        try:
            items.append(read(item))
        except KeyError as exc:
            raise ShapeError(f"{key}[{index}] has no {exc.args[0]!r}") from None
        except ValueError as exc:  # a ShapeError, or an action no plan has
            raise ShapeError(f"{key}[{index}]: {exc}") from None
    return tuple(items)


def _digest_as_read(data: dict[str, Any], source: str) -> str:
    try:
        return _sha256(canonical_json({k: v for k, v in data.items() if k not in _UNHASHED}))
    except NotCanonicalError:
        raise PlanFileError(
            f"{source} is refused: it holds text that is not Unicode (a lone surrogate escape)",
            "pass the file written by `entrasync plan --out`",
        ) from None


def loads(text: str | bytes, source: str = "plan file") -> Plan:
    """Read a plan file; refuse an unknown version, a malformed body or a tampered digest.

    The JSON is read strictly (:mod:`entrasync.core.strict_json`): no duplicate keys, no NaN,
    Infinity or huge numbers, no deep nesting; ``bytes`` must be UTF-8.
    """
    try:
        data = strict_json.loads(text)
    except strict_json.StrictJsonError as exc:
        raise PlanFileError(
            f"{source} is refused: {exc}", "pass the file written by `entrasync plan --out`"
        ) from None
    if not isinstance(data, dict):
        raise PlanFileError(f"{source} is not a plan: expected a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"{source} has format_version {version!r}; this entrasync reads format_version "
            f"{FORMAT_VERSION}",
            "re-create the plan with this version of entrasync",
        )
    try:
        plan = _plan_of(data)
    except ShapeError as exc:
        raise PlanFileError(
            f"{source} is not a valid entrasync plan: {exc}",
            "pass the file written by `entrasync plan --out`",
        ) from None
    except KeyError as exc:
        raise PlanFileError(
            f"{source} is not a valid entrasync plan: {exc.args[0]} is missing",
            "pass the file written by `entrasync plan --out`",
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(
            f"{source} is not a valid entrasync plan: {type(exc).__name__}: {exc}",
            "pass the file written by `entrasync plan --out`",
        ) from None
    written = data.get("digest")
    as_read = _digest_as_read(data, source)
    if as_read != written:
        raise PlanFileError(
            f"{source} was modified after it was written: its digest does not match its content",
            "never edit a plan file; re-run `entrasync plan --out` and review the new plan",
        )
    if plan.digest != written:
        # The digest matches the bytes, so someone recomputed it, or another entrasync wrote
        # it: the file carries keys this version does not write, a summary that does not
        # follow from its changes, or its changes in another order than the plan's.
        made_by = data.get("entrasync_version")
        other = (
            f"; it was made by entrasync {sanitize.text(str(made_by))}, this is {__version__}: "
            "plan and apply with one version"
            if made_by != __version__
            else " (was it edited and its digest recomputed?)"
        )
        raise PlanFileError(
            f"{source} is not a plan as entrasync writes it: {_unlike_written(data, plan)}{other}",
            "re-run `entrasync plan --out` and review the new plan",
        )
    return plan


def _unlike_written(data: dict[str, Any], plan: Plan) -> str:
    """What differs between a plan file whose digest was recomputed and the plan it reads as."""
    listed = [canonical_text(change) for change in data["changes"]]
    ordered = list(plan.canonical_items()["changes"])
    if listed != ordered and sorted(listed) == sorted(ordered):
        return (
            "its changes are not in the order entrasync writes them (creates, updates, "
            "deactivations, reactivations, each by user, then by SCIM id and Entra id)"
        )
    unlike = _keys_unlike(data, to_json(plan), "")
    for key, kind in _LISTED:  # each item against itself as written
        for number, item in enumerate(data.get(key, [])):
            unlike += _keys_unlike(item, kind.from_json(item).to_json(), f"{key}[{number}].")
    if unlike:
        return joined(unlike, 5, "; ", "; and ")
    return "its summary, or a value in it, is not as entrasync writes it"


_LISTED: tuple[tuple[str, Any], ...] = (
    ("changes", Change),
    ("orphans", Orphan),
    ("violations", Violation),
    ("policy_changes", PolicyChange),
)


def _keys_unlike(listed: dict[str, Any], written: dict[str, Any], where: str) -> list[str]:
    """The keys ``listed`` holds that entrasync did not write, and those it lacks, in it and
    in the objects it holds (not in lists: :func:`_unlike_written` reads those item by item)."""
    said = []
    extra = [key for key in listed if key not in written]
    if extra:
        said.append(f"it holds {_named(where, extra)}, which this entrasync does not write")
    lacking = [key for key in written if key not in listed]
    if lacking:
        said.append(f"it lacks {_named(where, lacking)}")
    for key, value in listed.items():
        if isinstance(value, dict) and isinstance(written.get(key), dict):
            said += _keys_unlike(value, written[key], f"{where}{key}.")
    return said


def _named(where: str, keys: list[str]) -> str:
    shown = [f"{where}{sanitize.text(clipped(key))}" for key in keys[:5]]
    return joined([*shown, *keys[5:]], 5, ", ")  # the rest only counted

"""The plan: an immutable value with a stable order, a digest, and a JSON file format (v1).

See CONTRACT.md section 5. ``digest`` is the sha256 of the RFC 8785 canonical JSON of the plan
without ``created_at`` and ``digest``; reading a file whose digest does not match refuses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import rfc8785

from entrasync import __version__
from entrasync.core import strict_json
from entrasync.core.canonical import canonical_json, canonical_sha256, canonical_text
from entrasync.core.items import FORCE_UNSAFE as FORCE_UNSAFE
from entrasync.core.items import Access as Access
from entrasync.core.items import Action as Action
from entrasync.core.items import Change as Change
from entrasync.core.items import Orphan as Orphan
from entrasync.core.items import Violation as Violation
from entrasync.core.items import change_lines
from entrasync.errors import PlanFileError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Plan:
    config_path: str
    config_sha256: str
    scim_url: str
    state_sha256: str
    changes: tuple[Change, ...] = ()
    orphans: tuple[Orphan, ...] = ()
    warnings: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    unchanged: int = 0
    created_at: str = ""
    entrasync_version: str = __version__
    format_version: int = FORMAT_VERSION
    _digest: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        changes = tuple(sorted(self.changes, key=lambda c: c.sort_key))
        object.__setattr__(self, "changes", changes)
        object.__setattr__(self, "orphans", tuple(sorted(self.orphans, key=lambda o: o.user)))
        # Computed on first use: canonical JSON dominates planning time on large tenants, and
        # make_plan builds the plan twice (before and after the safety pass).
        object.__setattr__(self, "_digest", "")

    @property
    def digest(self) -> str:
        if not self._digest:
            head = {k: v for k, v in self._head().items() if k not in _UNHASHED}
            try:
                digest = canonical_sha256(head, self._lines)
            except UnicodeEncodeError:
                # A lone surrogate has no UTF-8 form: canonical_json() refuses it, clearly.
                digest = _sha256(canonical_json(self._body()))
            object.__setattr__(self, "_digest", digest)
        return self._digest

    @cached_property
    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return {**counts, "unchanged": self.unchanged, "orphaned": len(self.orphans)}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def with_violations(self, violations: tuple[Violation, ...]) -> Plan:
        return replace(self, violations=violations)

    def _head(self) -> dict[str, Any]:
        """The file's keys up to ``summary``, in file order (digest computed only if asked)."""
        return {
            "format_version": self.format_version,
            "entrasync_version": self.entrasync_version,
            "created_at": self.created_at,
            "config": {"path": self.config_path, "sha256": self.config_sha256},
            "target": {"scim_url": self.scim_url, "state_sha256": self.state_sha256},
            "digest": "",
            "summary": self.summary,
        }

    @cached_property
    def _lines(self) -> dict[str, list[str]]:
        """The canonical JSON (RFC 8785) of each item of the file's arrays, built once: they are
        both the plan file's lines and the parts its digest hashes (at 85,000 changes, building
        and encoding them twice cost 0.7 s, benchmarks/). Changes, nearly all of it, are written
        by ``Change.canonical``; the few other items by the encoder."""
        return {
            "changes": change_lines(self.changes),
            "orphans": [canonical_text(o.to_json()) for o in self.orphans],
            "warnings": [canonical_text(w) for w in self.warnings],
            "violations": [canonical_text(v.to_json()) for v in self.violations],
        }

    def _body(self) -> dict[str, Any]:
        """The hashed part of the file as one value (the digest's reference definition)."""
        body = {k: v for k, v in self._head().items() if k not in _UNHASHED}
        body["changes"] = [c.to_json() for c in self.changes]
        body["orphans"] = [o.to_json() for o in self.orphans]
        body["warnings"] = list(self.warnings)
        body["violations"] = [v.to_json() for v in self.violations]
        return body

    def to_json(self) -> dict[str, Any]:
        """The plan file as one value, keys in file order."""
        body = self._body()
        ordered = {**self._head(), "digest": self.digest}
        ordered.update((key, value) for key, value in body.items() if key not in ordered)
        return ordered

    def dumps(self) -> str:
        """The plan file's text: one top-level key per line in a stable order, and each change,
        orphan, warning and violation on a line of its own as canonical JSON; trailing newline.

        Still plain JSON (any reader parses it, and ``loads`` reads the older indented layout
        too), and a diff of two plans shows one line per changed user. Unlike ``indent=2`` it is
        written by json's C encoder, and the lines are the digest's own parts: at 85,000
        changes about 0.1 s instead of 2.0 s (benchmarks/).
        """
        return "".join(self.file_lines())

    def file_lines(self) -> Iterator[str]:
        """:meth:`dumps` line by line, each ending in a newline: a large plan file can be
        written without its whole text in memory (450 MB at 1,000,000 users)."""
        yield "{\n"
        for key, value in {**self._head(), "digest": self.digest}.items():
            yield f"  {_LINE.encode(key)}: {_LINE.encode(value)},\n"
        arrays = list(self._lines.items())
        for position, (key, lines) in enumerate(arrays):
            comma = "," if position < len(arrays) - 1 else ""
            if not lines:
                yield f"  {_LINE.encode(key)}: []{comma}\n"
                continue
            yield f"  {_LINE.encode(key)}: [\n"
            last = len(lines) - 1
            for n, line in enumerate(lines):
                yield f"    {line},\n" if n < last else f"    {line}\n"
            yield f"  ]{comma}\n"
        yield "}\n"

    def matches_digest(self, given: str) -> bool:
        """True when ``given`` is this plan's digest or a prefix of it of at least 12 chars."""
        given = given.strip().lower()
        return len(given) >= 12 and self.digest.startswith(given)


# The file's top-level values: one readable line each, in insertion order (no indent).
_LINE = json.JSONEncoder(ensure_ascii=False)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_UNHASHED = frozenset({"created_at", "digest"})


def _plan_of(data: dict[str, Any]) -> Plan:
    return Plan(
        config_path=data["config"]["path"],
        config_sha256=data["config"]["sha256"],
        scim_url=data["target"]["scim_url"],
        state_sha256=data["target"]["state_sha256"],
        changes=tuple(Change.from_json(c) for c in data["changes"]),
        orphans=tuple(Orphan.from_json(o) for o in data.get("orphans", [])),
        warnings=tuple(data.get("warnings", [])),
        violations=tuple(Violation.from_json(v) for v in data.get("violations", [])),
        unchanged=int(data["summary"]["unchanged"]),
        created_at=data.get("created_at", ""),
        entrasync_version=data["entrasync_version"],
    )


def _digest_as_read(data: dict[str, Any], source: str) -> str:
    try:
        return _sha256(canonical_json({k: v for k, v in data.items() if k not in _UNHASHED}))
    except rfc8785.CanonicalizationError:
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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
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
        # The digest matches the bytes, so someone recomputed it: the file carries keys this
        # version does not write, or a summary that does not follow from its changes.
        raise PlanFileError(
            f"{source} is not a plan as entrasync writes it: its summary or extra keys do not "
            "follow from its changes (was it edited and its digest recomputed?)",
            "re-run `entrasync plan --out` and review the new plan",
        )
    return plan

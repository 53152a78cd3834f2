"""The plan: an immutable value with a stable order and a digest.

Each change carries its action, before, after, the source groups and the mapping that decided
it, and a reason for humans (docs/how-it-works.md). The plan file that writes it down, and the
digest that names it, are :mod:`entrasync.core.planfile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import TypeVar

from entrasync import __version__
from entrasync.core.canonical import canonical_text
from entrasync.core.items import FORCE_UNSAFE as FORCE_UNSAFE
from entrasync.core.items import Access as Access
from entrasync.core.items import Action as Action
from entrasync.core.items import Change as Change
from entrasync.core.items import Orphan as Orphan
from entrasync.core.items import Violation as Violation
from entrasync.core.items import change_lines
from entrasync.core.policy import PolicyChange

# How much of a digest is shown, and the least --force-unsafe accepts: 48 bits, unique among
# any number of plans a team will make.
DIGEST_PREFIX = 12


def short_digest(digest: str) -> str:
    """The first :data:`DIGEST_PREFIX` characters of a digest, as output shows it."""
    return digest[:DIGEST_PREFIX]


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
    # Set by plans made with --trusted-config: what the reviewed config changes outside
    # mappings (entrasync.core.policy).
    policy_changes: tuple[PolicyChange, ...] = ()
    unchanged: int = 0
    created_at: str = ""
    entrasync_version: str = __version__
    _digest: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", _in_order(self.changes))
        object.__setattr__(self, "orphans", tuple(_by_user(self.orphans)))
        # Computed on first use: canonical JSON dominates planning time on large tenants, and
        # make_plan builds the plan twice (before and after the safety pass).
        object.__setattr__(self, "_digest", "")

    @property
    def digest(self) -> str:
        """The sha256 that names this plan (:func:`entrasync.core.planfile.digest`), worked out
        once."""
        if not self._digest:
            # planfile reads and writes Plans, so it imports this module, not the other way.
            from entrasync.core import planfile

            object.__setattr__(self, "_digest", planfile.digest(self))
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

    @property
    def weakens_policy(self) -> bool:
        """Whether a policy change weakens a safeguard (against the trusted config)."""
        return any(p.weakens for p in self.policy_changes)

    def with_violations(self, violations: tuple[Violation, ...]) -> Plan:
        return replace(self, violations=violations)

    def canonical_items(self) -> dict[str, Iterator[str]]:
        """The canonical JSON (RFC 8785) of each change, orphan, warning, policy change and
        violation, made as they are read: they are both the plan file's lines and the parts its
        digest hashes. Changes, nearly all of it, are written by ``Change.canonical``; the few
        other items by the encoder."""
        items = {
            "changes": change_lines(self.changes),
            "orphans": (canonical_text(o.to_json()) for o in self.orphans),
            "warnings": (canonical_text(w) for w in self.warnings),
            "policy_changes": (canonical_text(p.to_json()) for p in self.policy_changes),
            "violations": (canonical_text(v.to_json()) for v in self.violations),
        }
        if not self.policy_changes:
            # Only when there are some: a plan without them keeps the bytes it always had.
            del items["policy_changes"]
        return items

    @property
    def short_digest(self) -> str:
        return short_digest(self.digest)

    def override_flag(self, override: str = FORCE_UNSAFE) -> str:
        """The exact flag that overrides a violation of this plan: ``--force-unsafe 0123...``."""
        return f"{override} {self.short_digest}" if override else ""

    def matches_digest(self, given: str) -> bool:
        """True when ``given`` is this plan's digest or a prefix of it of at least
        :data:`DIGEST_PREFIX` characters."""
        given = given.strip().lower()
        return len(given) >= DIGEST_PREFIX and self.digest.startswith(given)


_USER = attrgetter("user")
_Item = TypeVar("_Item", Change, Orphan)
_ACTIONS = sorted(Action, key=attrgetter("order"))


def _in_order(changes: Iterable[Change]) -> tuple[Change, ...]:
    """``changes`` sorted by ``Change.sort_key``: by action, then by user (:func:`_by_user`).
    Grouped by action first, so the sort's key is C's attrgetter, not a Python call per
    change: make_plan's two sorts (the plan, then the plan with violations) took 0.25 s at
    100,000 users that way, 0.11 s this way (benchmarks/README.md)."""
    by_action: dict[Action, list[Change]] = {action: [] for action in _ACTIONS}
    for change in changes:
        by_action[change.action].append(change)
    return tuple(chain.from_iterable(_by_user(group) for group in by_action.values()))


def _by_user(items: Iterable[_Item]) -> list[_Item]:
    """``items`` sorted by user; those sharing one (two NeuralTrust users of one userName, two
    Entra users of one mail) by their ids, never in the order they were read."""
    ordered = sorted(items, key=_USER)
    if len(set(map(_USER, ordered))) < len(ordered):
        ordered.sort(key=lambda i: (i.user, i.target_id or "", i.entra_id or ""))
    return ordered

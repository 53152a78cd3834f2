"""Pure: mappings with an ``expires`` date, as they stand on one UTC day (docs/configuration.md).

A mapping grants through its ``expires`` day; from the next day it grants nothing, exactly as
``auto_sync: false``: :func:`as_of` gives the config with such mappings unsynced, which is what
the directory is read with. Each plan and ``validate`` warn about a mapping that has expired,
and about one that expires within :data:`WINDOW_DAYS` days (while it still grants).

Today comes from the caller (the clock adapter), so a plan can be tested on any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from entrasync.config.models import Config, GroupMapping

WINDOW_DAYS = 14


@dataclass(frozen=True, slots=True)
class AsOf:
    """A config as it stands on one day, and what to warn about its expiry dates."""

    config: Config  # expired mappings turned auto_sync: false, everything else as written
    warnings: tuple[str, ...]
    expired: frozenset[int] = frozenset()  # indices of the mappings past their day


def as_of(config: Config, today: date) -> AsOf:
    """``config`` on ``today`` (a UTC date), and the expiry warnings in mapping order."""
    warnings = tuple(w for m in config.mappings if (w := expiry_warning(m, today)))
    if not any(_expired(m, today) for m in config.mappings):
        return AsOf(config, warnings)
    mappings = tuple(
        m.model_copy(update={"auto_sync": False}) if _expired(m, today) else m
        for m in config.mappings
    )
    expired = frozenset(i for i, m in enumerate(config.mappings) if _expired(m, today))
    return AsOf(config.model_copy(update={"mappings": mappings}), warnings, expired)


def expiry_warning(mapping: GroupMapping, today: date) -> str | None:
    """``mapping X expired on D``, ``mapping X expires on D (in N days)``, or None.

    On its last day a mapping still grants: ``(in 0 days)``.
    """
    if mapping.expires is None:
        return None
    left = (mapping.expires - today).days
    if left < 0:
        return f"mapping {mapping.label} expired on {mapping.expires.isoformat()}"
    if left <= WINDOW_DAYS:
        # The contract's form on every day, "(in 1 days)" too: one pattern matches them all.
        return f"mapping {mapping.label} expires on {mapping.expires.isoformat()} (in {left} days)"
    return None


def expired_since(config: Config, made: date, today: date) -> tuple[GroupMapping, ...]:
    """The synced mappings past their day on ``today`` that were not on ``made``: a plan made
    on ``made`` grants through them (a run whose prompt or read crossed UTC midnight). One with
    ``auto_sync: false`` granted nothing either day."""
    return tuple(
        m for m in config.mappings if m.auto_sync and _expired(m, today) and not _expired(m, made)
    )


def _expired(mapping: GroupMapping, today: date) -> bool:
    return mapping.expires is not None and mapping.expires < today

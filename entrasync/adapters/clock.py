"""The one clock: UTC now as ISO 8601 text with ``Z``, the way entrasync's files write time.

Plan files say ``created_at`` to the second (``2026-11-28T12:00:00Z``); audit records and the
apply lock say ``time`` to the millisecond (``2026-11-28T12:00:00.123Z``), as
docs/plan-and-audit.md documents. Both are strings: the audit chain allows no floats.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal


def utc_now(timespec: Literal["seconds", "milliseconds"] = "seconds") -> str:
    """Now in UTC: ``2026-11-28T12:00:00Z``, or ``2026-11-28T12:00:00.123Z``."""
    return stamp(utc_moment(), timespec)


def stamp(moment: datetime, timespec: Literal["seconds", "milliseconds"] = "seconds") -> str:
    """``moment`` (in UTC) as entrasync's files write time: ``2026-11-28T12:00:00Z``."""
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_now_ms() -> str:
    """:func:`utc_now` to the millisecond: the time of an audit record."""
    return utc_now("milliseconds")


def utc_today() -> date:
    """Today's date in UTC: the day a mapping's ``expires`` is held against."""
    return utc_moment().date()


def utc_moment() -> datetime:
    """Now in UTC as a datetime: what a certificate's validity dates are held against."""
    return datetime.now(UTC)

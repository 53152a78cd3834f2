"""The ``entrasync users`` view as a table, JSON (docs/commands.md) or CSV.

Typed against the shape of :class:`entrasync.core.users_view.UserRow` through protocols, so the
renderers stay pure and import nothing of the readers.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import click

from entrasync.core.sanitize import json_text, name_text
from entrasync.core.sanitize import text as clean
from entrasync.core.users_view import UserStatus
from entrasync.core.wording import plural
from entrasync.render.common import brief, columns


class _Grant(Protocol):
    @property
    def role(self) -> str | None: ...
    @property
    def products(self) -> tuple[str, ...] | None: ...


class _Current(_Grant, Protocol):
    @property
    def active(self) -> bool: ...


class UserRowLike(Protocol):
    @property
    def user(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def status(self) -> str: ...  # a StrEnum in users_view
    @property
    def current(self) -> _Current | None: ...
    @property
    def desired(self) -> _Grant | None: ...
    @property
    def groups(self) -> tuple[str, ...]: ...
    @property
    def decided_by(self) -> str | None: ...
    def to_json(self) -> dict[str, Any]: ...


STATUSES = tuple(UserStatus)  # the order the tally lists them in
_STATUS_COLORS = {"in_sync": "green", "drift": "yellow", "orphan": "red", "to_create": "cyan"}
_HEADER = ("STATUS", "USER", "DISPLAY NAME", "CURRENT", "DESIRED", "GROUPS", "DECIDED BY")
CSV_COLUMNS = (
    "user",
    "display_name",
    "status",
    "current_role",
    "current_products",
    "current_active",
    "desired_role",
    "desired_products",
    "groups",
    "decided_by",
)
_CSV_LIST_SEPARATOR = ";"
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection,
# https://owasp.org/www-community/attacks/CSV_Injection): such a cell gets a leading quote.
# OWASP's other two, tab and carriage return, never start a cell: sanitize.text escapes them.
_FORMULA_START = ("=", "+", "-", "@")


def render_users_text(rows: Sequence[UserRowLike], *, color: bool = False) -> str:
    """An aligned table, one user a line, and a count per status last."""
    lines = []
    for number, line in enumerate(columns([_HEADER, *(_text_cells(row) for row in rows)])):
        if color and number == 0:
            line = click.style(line, bold=True)
        elif color and number > 0:
            line = click.style(line, fg=_STATUS_COLORS.get(str(rows[number - 1].status)))
        lines.append(line)
    counts = Counter(str(row.status) for row in rows)
    tally = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    lines += ["", plural(len(rows), "user") + (f": {tally}" if tally else "") + "."]
    return "\n".join(lines) + "\n"


def render_users_json(rows: Sequence[UserRowLike]) -> str:
    """The rows as JSON; a bidi or C1 control in a name is spelt ``\\uXXXX`` (same value)."""
    text = json.dumps([row.to_json() for row in rows], indent=2, ensure_ascii=False) + "\n"
    return json_text(text)


def render_users_csv(rows: Sequence[UserRowLike]) -> str:
    """RFC 4180 CSV with a header; list cells are joined with ``;``.

    Every cell is one inert line (:func:`entrasync.core.sanitize.text`: controls, bidi overrides,
    line breaks and workflow commands escaped), and cannot start a spreadsheet formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        current, desired = row.current, row.desired
        writer.writerow(
            _defuse(cell)
            for cell in (
                row.user,
                row.display_name or "",
                str(row.status),
                _csv_role(current),
                _csv_products(current),
                "" if current is None else str(current.active).lower(),
                _csv_role(desired),
                _csv_products(desired),
                _csv_list(row.groups),
                row.decided_by or "",
            )
        )
    return buffer.getvalue()


def _text_cells(row: UserRowLike) -> tuple[str, ...]:
    return (
        str(row.status),
        name_text(row.user),
        clean(row.display_name),
        _brief(row.current),
        _brief(row.desired),
        ", ".join(clean(g) for g in row.groups) or "-",
        clean(row.decided_by) or "-",
    )


def _brief(access: _Grant | None) -> str:
    if access is None:
        return "-"
    return brief(access.role, access.products, getattr(access, "active", True))


def _csv_role(access: _Grant | None) -> str:
    return "" if access is None or access.role is None else access.role


def _csv_products(access: _Grant | None) -> str:
    if access is None or access.products is None:
        return ""
    return _csv_list(access.products)


def _csv_list(items: Sequence[str]) -> str:
    """Items joined with ``;``, each defused: a spreadsheet that splits the cell on ``;`` (its
    list separator in many locales) reads each item as a cell of its own."""
    return _CSV_LIST_SEPARATOR.join(_defuse(item) for item in items)


def _defuse(cell: str) -> str:
    """The cell made inert, and each of its ``;``-separated parts unable to start a formula:
    a spreadsheet that splits on ``;`` reads each part as a cell of its own, a name's too."""
    parts = clean(cell).split(_CSV_LIST_SEPARATOR)
    return _CSV_LIST_SEPARATOR.join("'" + p if p.startswith(_FORMULA_START) else p for p in parts)

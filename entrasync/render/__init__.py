"""Every output format, by the name its ``--format`` option takes: a registry, not if/elif.

A new format is one function here and its module beside this one; ``plan --format``,
``users --format`` and ``groups --format`` offer exactly the names below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from entrasync.render.groups import groups_json, groups_text
from entrasync.render.jsonout import json_lines
from entrasync.render.markdown import render_markdown
from entrasync.render.text import text_chunks
from entrasync.render.users import render_users_csv, render_users_json, render_users_text

if TYPE_CHECKING:
    from entrasync.core.model import GroupSummary
    from entrasync.core.plan import Plan
    from entrasync.core.users_view import UserRow


class Options(NamedTuple):
    """What a renderer may need besides its value."""

    color: bool = False
    config_path: str = "config/mappings.yaml"


def _plan_text(plan: Plan, options: Options) -> Iterable[str]:
    return text_chunks(plan, color=options.color)


def _plan_markdown(plan: Plan, options: Options) -> Iterable[str]:
    markdown = render_markdown(
        plan,
        config_path=options.config_path,
        full_plan_hint="the text plan (`entrasync plan`) and the plan file (`plan --out`)",
    )
    return [markdown.rstrip("\n") + "\n"]


def _plan_json(plan: Plan, options: Options) -> Iterable[str]:
    return json_lines(plan)


def _users_text(rows: Sequence[UserRow], options: Options) -> Iterable[str]:
    return [render_users_text(rows, color=options.color).rstrip("\n") + "\n"]


def _users_json(rows: Sequence[UserRow], options: Options) -> Iterable[str]:
    return [render_users_json(rows)]


def _users_csv(rows: Sequence[UserRow], options: Options) -> Iterable[str]:
    return [render_users_csv(rows)]


def _groups_text(groups: Sequence[GroupSummary], options: Options) -> Iterable[str]:
    return [f"{line}\n" for line in groups_text(groups)]


def _groups_json(groups: Sequence[GroupSummary], options: Options) -> Iterable[str]:
    return [groups_json(groups) + "\n"]


# Formats read by programs, or pasted where UTF-8 is read (Markdown into a comment or a file):
# written in UTF-8 whatever stdout's encoding (Console.result_lines).
DATA_FORMATS = frozenset({"json", "csv", "markdown"})

# The first name of each is the default.
PLAN_FORMATS: dict[str, Callable[[Plan, Options], Iterable[str]]] = {
    "text": _plan_text,
    "markdown": _plan_markdown,
    "json": _plan_json,
}
USERS_FORMATS: dict[str, Callable[[Sequence[UserRow], Options], Iterable[str]]] = {
    "text": _users_text,
    "json": _users_json,
    "csv": _users_csv,
}
GROUPS_FORMATS: dict[str, Callable[[Sequence[GroupSummary], Options], Iterable[str]]] = {
    "text": _groups_text,
    "json": _groups_json,
}

"""The plan as JSON: the plan file (docs/plan-and-audit.md), so `plan --format json` output can be
saved and applied like `plan --out`. The one difference: a bidi override or C1 control in a
name is spelt ``\\uXXXX`` rather than raw, so it cannot reach a terminal; the values, and so the
digest, are the same."""

from __future__ import annotations

from collections.abc import Iterator

from entrasync.core import planfile
from entrasync.core.plan import Plan
from entrasync.core.sanitize import json_text


def render_json(plan: Plan) -> str:
    return "".join(json_lines(plan))


def json_lines(plan: Plan) -> Iterator[str]:
    """:func:`render_json` line by line (one change a line), for printing a large plan."""
    return map(json_text, planfile.file_lines(plan))

"""The plan as JSON: the plan file (CONTRACT section 5), so `plan --format json` output can be
saved and applied like `plan --out`. The one difference: a bidi override or C1 control in a
name is spelt ``\\uXXXX`` rather than raw, so it cannot reach a terminal; the values, and so the
digest, are the same."""

from __future__ import annotations

from entrasync.core import planfile
from entrasync.core.plan import Plan
from entrasync.core.sanitize import json_text


def render_json(plan: Plan) -> str:
    return json_text(planfile.dumps(plan))

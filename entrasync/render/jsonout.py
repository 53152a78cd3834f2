"""The plan as JSON: exactly the plan file (CONTRACT section 5), so `plan --format json` output
can be saved and applied like `plan --out`."""

from __future__ import annotations

from entrasync.plan import Plan


def render_json(plan: Plan) -> str:
    return plan.dumps()

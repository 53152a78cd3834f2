"""Plan making: the pure core (resolve, diff, safety) first, then the I/O that feeds it.

``make_plan`` is the one code path plan and apply share, so a dry run cannot disagree with
what apply does (the peribolos dry-run lesson, see the GitOps anchors).
"""

from __future__ import annotations

from entrasync.config import Config
from entrasync.diff import diff
from entrasync.model import Directory, Target
from entrasync.plan import Plan
from entrasync.resolve import empty_groups, resolve
from entrasync.safety import check_safety


def make_plan(
    config: Config,
    config_path: str,
    config_sha256: str,
    directory: Directory,
    target: Target,
    created_at: str,
) -> Plan:
    """resolve + diff + check_safety, with the violations attached to the plan."""
    resolution = resolve(config, directory)
    plan = diff(
        config,
        resolution,
        target,
        config_path=config_path,
        config_sha256=config_sha256,
        created_at=created_at,
    )
    violations = check_safety(plan, target, config, empty_groups=empty_groups(directory))
    return plan.with_violations(violations)

"""make_plan(): resolve + diff + safety in one pure call, the path plan and apply share."""

from __future__ import annotations

from typing import Any

import pytest

from entrasync.core import planfile
from entrasync.core.model import Directory, Target
from entrasync.core.plan import Plan
from entrasync.operations.planning import make_plan
from tests.unit.planning_factories import make_config, make_directory, make_target, nt, person

DEACTIVATE: dict[str, Any] = {"on_removed": "deactivate"}
SHA = "a" * 64


def run(directory: Directory, target: Target, created_at: str = "2026-11-28T12:00:00Z") -> Plan:
    config = make_config(**DEACTIVATE)
    return make_plan(config, "config/mappings.yaml", SHA, directory, target, created_at)


def scenario() -> tuple[Directory, Target]:
    config = make_config(**DEACTIVATE)
    alice, bob = person("alice"), person("bob")
    members = {"NT-Owners": [alice], "NT-Platform": [alice, bob], "NT-Everyone": [bob]}
    target = make_target(nt("alice", "member"), nt("carol"), nt("dave", external_id=None))
    return make_directory(config, members), target


def test_make_plan_attaches_the_violations_safety_finds_from_the_directory() -> None:
    directory, target = scenario()
    plan = run(directory, target)
    # NT-Admins and NT-Lens resolved to 0 members while carol is deactivated.
    assert [v.rule for v in plan.violations] == ["max_deactivation_percent", "source_health"]
    assert "NT-Admins, NT-Lens resolved to 0 members" in plan.violations[1].message
    assert plan.summary == {
        "create": 1,
        "update": 1,
        "deactivate": 1,
        "reactivate": 0,
        "unchanged": 0,
        "orphaned": 1,
    }
    assert (plan.config_path, plan.config_sha256, plan.scim_url, plan.state_sha256) == (
        "config/mappings.yaml",
        SHA,
        target.scim_url,
        target.state_sha256,
    )


def test_the_plan_digest_covers_the_violations_and_survives_a_round_trip() -> None:
    directory, target = scenario()
    plan = run(directory, target)
    assert plan.digest != plan.with_violations(()).digest
    assert planfile.loads(planfile.dumps(plan)) == plan


def test_two_runs_on_the_same_inputs_are_byte_identical_apart_from_created_at() -> None:
    directory, target = scenario()
    first = run(directory, target, "2026-11-28T12:00:00Z")
    second = run(*scenario(), "2026-11-28T12:00:00Z")
    later = run(*scenario(), "2026-11-29T08:30:00Z")
    assert planfile.dumps(first) == planfile.dumps(second)
    assert first.digest == later.digest
    assert planfile.dumps(first).replace(
        "2026-11-28T12:00:00Z", "2026-11-29T08:30:00Z"
    ) == planfile.dumps(later)


@pytest.mark.parametrize("count", [0, 1, 2, 2500])
def test_the_state_fingerprint_is_the_sha256_of_one_json_array_of_rows_by_scim_id(
    count: int,
) -> None:
    # Written row by row as pages come in, it is still the one array's digest.
    import hashlib
    import json

    from entrasync.core.model import TargetUser, state_fingerprint

    users = [
        TargetUser(
            id=f"{(i * 7919) % 10007:05}",
            user_name=f"user{i}\u00e9\ud800",  # non-ASCII and a lone surrogate, escaped
            products=("trustgate",) if i % 2 else None,
            active=bool(i % 3),
            active_said=bool(i % 5),
            role_alone=bool(i % 7),
        )
        for i in range(count)
    ]
    rows = sorted(
        [
            [
                u.id,
                u.user_name,
                u.external_id,
                u.display_name,
                u.email,
                u.active,
                u.role,
                u.products,
                u.active_said,
                u.role_alone,
            ]
            for u in users
        ],
        key=lambda row: str(row[0]),
    )
    whole = json.dumps(rows, separators=(",", ":")).encode("ascii")
    expected = hashlib.sha256(whole).hexdigest()
    assert state_fingerprint(reversed(users)) == expected
    assert Target.of("https://scim.test", users).state_sha256 == expected

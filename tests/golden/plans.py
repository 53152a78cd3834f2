"""A fixed plan that exercises every part of every renderer, for the golden tests."""

from __future__ import annotations

import os
from pathlib import Path

from entrasync.core.items import ADOPT
from entrasync.core.plan import Access, Action, Change, Orphan, Plan, Violation

ALL = ("trustgate", "trusttest", "trustlens")


def _access(role: str, products: tuple[str, ...] | None = None, active: bool = True) -> Access:
    return Access(role=role, products=products, active=active)


def _change(
    action: Action,
    name: str,
    before: Access | None,
    after: Access,
    groups: tuple[str, ...],
    reason: str,
) -> Change:
    first = name.split()[0].lower()
    return Change(
        action=action,
        user=f"{first}@contoso.com",
        entra_id=f"00000000-0000-0000-0000-{first.encode().hex():0>12}"[:36],
        display_name=name,
        email=f"{first}@contoso.com",
        before=before,
        after=after,
        groups=groups,
        decided_by=groups[0] if groups else None,
        reason=reason,
        target_id=None if before is None else f"scim-{first}",
        user_name=f"{first.title()}@contoso.com" if before is None else None,
        adopts=ADOPT in reason,
    )


def golden_plan() -> Plan:
    create, update = Action.CREATE, Action.UPDATE
    member = _access("member", ("trustgate",))
    changes = (
        _change(create, "Alice Smith", None, _access("member", ("trustgate", "trusttest")),
                ("NT-Platform",), "in NT-Platform, not in NeuralTrust"),
        _change(create, "Oscar Owner", None, _access("owner"), ("NT-Owners", "NT-Platform"),
                "in NT-Owners, not in NeuralTrust"),
        _change(update, "Bob Jones", member, _access("admin"), ("NT-Admins", "NT-Platform"),
                "role differs (member -> admin)"),
        _change(update, "Carol White", member, _access("member", ("trustgate", "trusttest")),
                ("NT-Platform",), "products differ"),
        _change(update, "Dan Brown", _access("member", ALL), _access("member", ALL),
                ("NT-Everyone",), ADOPT),
        _change(Action.DEACTIVATE, "Frank Green", _access("member", ("trusttest",)),
                _access("member", ("trusttest",), active=False), (),
                "no longer in a mapped group"),
        _change(Action.REACTIVATE, "Gina Black", _access("admin", active=False),
                _access("admin"), ("NT-Admins",), "inactive in NeuralTrust, back in NT-Admins"),
    )  # fmt: skip
    return Plan(
        config_path="config/mappings.yaml",
        config_sha256="c" * 64,
        scim_url="https://app.neuraltrust.ai/api/scim/v2",
        state_sha256="5" * 64,
        changes=changes,
        orphans=(
            Orphan(user="frank@contoso.com", role="member", reason="no longer in a mapped group"),
            Orphan(user="henry@contoso.com", role="admin", reason="disabled in Entra"),
        ),
        warnings=(
            "group NT-Contractors has auto_sync: false",
            "ivan@contoso.com is linked to Entra user 1111 but matched Entra user 2222",
        ),
        violations=(
            Violation(rule="max_deactivations", message="1 deactivation planned, the limit is 0"),
        ),
        unchanged=10,
        created_at="2026-11-28T12:00:00Z",
        entrasync_version="0.1.0",
    )


def empty_plan() -> Plan:
    return Plan(
        config_path="config/mappings.yaml",
        config_sha256="c" * 64,
        scim_url="https://app.neuraltrust.ai/api/scim/v2",
        state_sha256="5" * 64,
        unchanged=3,
        created_at="2026-11-28T12:00:00Z",
        entrasync_version="0.1.0",
    )


GOLDEN_DIR = Path(__file__).parent
UPDATE_ENV = "ENTRASYNC_UPDATE_GOLDEN"


def assert_matches_golden(name: str, actual: str) -> None:
    """Compare byte for byte; ``ENTRASYNC_UPDATE_GOLDEN=1`` rewrites the file (review the diff)."""
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_bytes(actual.encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs from the golden file; {UPDATE_ENV}=1 rewrites it"

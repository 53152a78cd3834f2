"""Plan values for the GitHub tests, built directly from entrasync.core.plan types."""

from __future__ import annotations

from entrasync.core.plan import Access, Action, Change, Plan

STATE = "0" * 64
CONFIG_SHA = "1" * 64


def change(
    user: str,
    action: Action = Action.CREATE,
    role: str = "member",
    display_name: str | None = None,
    groups: tuple[str, ...] = ("NT-Members",),
) -> Change:
    before = None if action is Action.CREATE else Access("viewer", None, True)
    return Change(
        action=action,
        user=user,
        entra_id=f"id-{user}",
        display_name=display_name or user.split("@")[0].title(),
        email=user,
        before=before,
        after=Access(role, None, action is not Action.DEACTIVATE),
        groups=groups,
        decided_by=groups[0],
        reason="new in a mapped group" if action is Action.CREATE else "role differs",
    )


def plan_of(*changes: Change, config_path: str = "config/mappings.yaml") -> Plan:
    return Plan(
        config_path=config_path,
        config_sha256=CONFIG_SHA,
        scim_url="https://scim.example/scim/v2",
        state_sha256=STATE,
        changes=changes,
        unchanged=3,
        created_at="2026-11-28T12:00:00Z",
    )


def many(count: int) -> Plan:
    return plan_of(
        *(
            change(f"user{i:05d}.with.a.rather.long.name@contoso.example", role="admin")
            for i in range(count)
        )
    )

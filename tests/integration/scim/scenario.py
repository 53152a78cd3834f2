"""A NeuralTrust state and a plan that exercises every action: create, update (role, products),
adopt, deactivate, reactivate. Shared by the apply and command tests."""

from __future__ import annotations

from typing import Any

from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.scim.client import ScimClient
from entrasync.config.models import Config
from entrasync.core.model import Target, TargetUser
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.core.secret import Secret
from entrasync.sandbox.scim_server import ScimSandbox, SeedUser

TOKEN = "fake-sandbox-scim-token-for-tests"
# No waiting in tests: the sandbox sends Retry-After: 0, and the backoff is tiny otherwise.
FAST = RetryPolicy(max_retries=4, base_delay=0.001, max_delay=0.01)
LAYOUTS = ["core", "extension"]

SEED = (
    SeedUser(
        "keep@contoso.com", "Keep", "keep@contoso.com", "e-keep", True, "member", ("trustgate",)
    ),
    SeedUser(
        "prod@contoso.com", "Prod", "prod@contoso.com", "e-prod", True, "member", ("trustgate",)
    ),
    SeedUser("Manual@Contoso.com", "Manual", "manual@contoso.com", None, True, "member", None),
    SeedUser("leaver@contoso.com", "Leaver", "leaver@contoso.com", "e-leaver", True, "admin", None),
    SeedUser(
        "back@contoso.com", "Back", "back@contoso.com", "e-back", False, "member", ("trustgate",)
    ),
    SeedUser("bystander@contoso.com", "By", "bystander@contoso.com", None, True, "owner", None),
)

# userName (lower) -> (externalId, active, role, products)
State = dict[str, tuple[str | None, bool, str | None, tuple[str, ...] | None]]
# ... once the scenario plan is applied
EXPECTED: State = {
    "keep@contoso.com": ("e-keep", True, "admin", ("trustgate",)),
    "prod@contoso.com": ("e-prod", True, "member", ("trustgate", "trusttest")),
    "manual@contoso.com": ("e-manual", True, "member", ("trustlens",)),
    "leaver@contoso.com": ("e-leaver", False, "admin", None),
    "back@contoso.com": ("e-back", True, "admin", ("trustgate",)),
    "bystander@contoso.com": (None, True, "owner", None),
    "new.person@contoso.com": ("e-new", True, "member", ("trustgate", "trustlens")),
}


def config_for(sandbox: ScimSandbox, **extra: Any) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "neuraltrust": {
                "role_attribute": sandbox.role_attribute,
                "products_attribute": sandbox.products_attribute,
            },
            **extra,
        }
    )


def client_for(sandbox: ScimSandbox, token: str = TOKEN, **kwargs: Any) -> ScimClient:
    kwargs.setdefault("policy", FAST)
    return ScimClient(sandbox.url, Secret(token), **kwargs)


def _as_read(user: TargetUser) -> Access:
    return Access(role=user.role, products=user.products, active=user.active)


def _change(
    action: Action, found: TargetUser | None, entra_id: str, after: Access, **extra: Any
) -> Change:
    user = found
    key = extra.pop("user", None) or (user.user_name.lower() if user else "")
    # As diff() decides: a NeuralTrust user without externalId is adopted.
    extra.setdefault("adopts", user is not None and user.external_id is None)
    return Change(
        action=action,
        user=key,
        entra_id=entra_id,
        display_name=extra.pop("display_name", user.display_name if user else None),
        email=extra.pop("email", user.email if user else None),
        before=_as_read(user) if user else None,
        after=after,
        groups=("NT-Test",),
        decided_by="NT-Test",
        reason="test",
        target_id=user.id if user else None,
        **extra,
    )


def scenario_changes(target: Target) -> tuple[Change, ...]:
    by_name = {u.user_name.lower(): u for u in target.users}
    keep, prod, manual = (
        by_name["keep@contoso.com"],
        by_name["prod@contoso.com"],
        by_name["manual@contoso.com"],
    )
    leaver, back = by_name["leaver@contoso.com"], by_name["back@contoso.com"]
    return (
        _change(
            Action.CREATE,
            None,
            "e-new",
            Access("member", ("trustgate", "trustlens"), True),
            user="new.person@contoso.com",
            user_name="New.Person@contoso.com",
            display_name="New Person",
            email="new.person@contoso.com",
            given_name="New",
            family_name="Person",
        ),
        _change(Action.UPDATE, keep, "e-keep", Access("admin", None, True)),
        _change(Action.UPDATE, prod, "e-prod", Access("member", ("trustgate", "trusttest"), True)),
        _change(Action.UPDATE, manual, "e-manual", Access("member", ("trustlens",), True)),
        _change(Action.DEACTIVATE, leaver, "e-leaver", Access("admin", None, False)),
        _change(Action.REACTIVATE, back, "e-back", Access("admin", ("trustgate",), True)),
    )


def scenario_plan(target: Target, config_sha256: str = "0" * 64) -> Plan:
    return Plan(
        config_path="config/mappings.yaml",
        config_sha256=config_sha256,
        scim_url=target.scim_url,
        state_sha256=target.state_sha256,
        changes=scenario_changes(target),
        unchanged=1,
        created_at="2026-11-28T12:00:00Z",
    )


def state_of(
    target: Target,
) -> dict[str, tuple[str | None, bool, str | None, tuple[str, ...] | None]]:
    return {
        u.user_name.lower(): (u.external_id, u.active, u.role, u.products) for u in target.users
    }


class ListAudit:
    """An AuditSink that keeps the records in memory, in the order written."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def change(self, change: Change, **fields: Any) -> None:
        self.records.append({"action": change.action.value, "user": change.user, **fields})

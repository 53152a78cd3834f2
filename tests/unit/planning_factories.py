"""Small factories for the planning-core tests: a config, Entra people, NeuralTrust users.

Names stand for people: ``person("alice")`` is the Entra user ``id-alice`` with UPN and mail
``alice@contoso.com``; ``nt("alice", ...)`` is her NeuralTrust user ``scim-alice``, managed
(``externalId`` = ``id-alice``) unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from entrasync.config.models import Config
from entrasync.core.diff import diff
from entrasync.core.model import (
    Directory,
    DirectoryUser,
    Group,
    GroupMembers,
    Resolution,
    Target,
    TargetUser,
)
from entrasync.core.plan import Plan
from entrasync.core.resolve import resolve

ALL_PRODUCTS = ("trustgate", "trusttest", "trustlens")
MAPPINGS: tuple[dict[str, Any], ...] = (
    {"name": "NT-Owners", "role": "owner"},
    {"name": "NT-Admins", "role": "admin"},
    {"name": "NT-Platform", "role": "member", "products": ["trustgate", "trusttest"]},
    {"name": "NT-Lens", "role": "member", "products": ["trustlens"]},
    {"name": "NT-Everyone", "role": "member"},
)
UNSET: Any = object()
SCIM_URL = "https://nt.example/api/scim/v2"


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "version": 1,
        "roles": ["owner", "admin", "member"],
        "products": list(ALL_PRODUCTS),
        "mappings": [dict(m) for m in MAPPINGS],
    }
    data.update(overrides)
    return Config.model_validate(data)


def person(name: str, **fields: Any) -> DirectoryUser:
    upn = f"{name}@contoso.com"
    values: dict[str, Any] = {
        "id": f"id-{name}",
        "user_principal_name": upn,
        "mail": upn,
        "display_name": name.title(),
        "given_name": name.title(),
        "surname": "Example",
    }
    values.update(fields)
    return DirectoryUser(**values)


def make_directory(config: Config, members: Mapping[str, Sequence[DirectoryUser]]) -> Directory:
    """One GroupMembers per synced mapping; ``members`` maps a group name to its (transitive)
    members, as the Graph reader would deliver them."""
    groups = tuple(
        GroupMembers(
            index, Group(f"gid-{index}", m.label), tuple(u.id for u in members.get(m.label, ()))
        )
        for index, m in config.synced_mappings
    )
    users = {u.id: u for group in members.values() for u in group}
    return Directory(groups=groups, users=users)


def nt(
    name: str,
    role: str | None = "member",
    products: Sequence[str] | None = UNSET,
    *,
    external_id: str | None = UNSET,
    active: bool = True,
    user_name: str | None = None,
    email: str | None = UNSET,
    active_said: bool = True,
    role_alone: bool = True,
) -> TargetUser:
    if products is UNSET:
        products = ALL_PRODUCTS if role == "member" else None
    upn = f"{name}@contoso.com"
    return TargetUser(
        id=f"scim-{name}",
        user_name=user_name or upn,
        external_id=f"id-{name}" if external_id is UNSET else external_id,
        display_name=name.title(),
        email=upn if email is UNSET else email,
        active=active,
        role=role,
        products=tuple(sorted(products)) if products is not None else None,
        active_said=active_said,
        role_alone=role_alone,
    )


def make_target(*users: TargetUser) -> Target:
    return Target.of(SCIM_URL, users)


class Scenario(NamedTuple):
    config: Config
    directory: Directory
    resolution: Resolution
    target: Target
    plan: Plan


def plan_inputs(
    members: Mapping[str, Sequence[DirectoryUser]], users: Sequence[TargetUser], **overrides: Any
) -> Scenario:
    """The inputs of one scenario and diff()'s plan for them."""
    config = make_config(**overrides)
    return scenario_of(config, make_directory(config, members), make_target(*users))


def scenario_of(config: Config, directory: Directory, target: Target) -> Scenario:
    """diff()'s plan for these inputs, with them."""
    resolution = resolve(config, directory)
    plan = diff(
        config,
        resolution,
        target,
        config_path="config/mappings.yaml",
        config_sha256="0" * 64,
        created_at="2026-11-28T12:00:00Z",
    )
    return Scenario(config, directory, resolution, target, plan)

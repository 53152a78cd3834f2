"""The sandbox's emulated Entra tenant: users, groups, other directory objects, NeuralTrust seeds.

Frozen values only; the Graph emulator serves them and the demo, tests and benchmarks build
them (by hand in ``tenant_demo``, at scale in ``tenant_generate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from entrasync.sandbox.tenant_demo import DemoTenant

OtherKind = Literal["device", "servicePrincipal", "orgContact"]


@dataclass(frozen=True, slots=True)
class SandboxUser:
    id: str
    user_principal_name: str
    mail: str | None
    display_name: str
    given_name: str | None = None
    surname: str | None = None
    account_enabled: bool = True
    user_type: Literal["Member", "Guest"] = "Member"
    # Unredeemed guests read "PendingAcceptance"; members have no value.
    external_user_state: str | None = None


@dataclass(frozen=True, slots=True)
class SandboxObject:
    """A non-user, non-group member: Graph returns these and readers must skip them."""

    id: str
    kind: OtherKind
    display_name: str


@dataclass(frozen=True, slots=True)
class SandboxGroup:
    id: str
    display_name: str
    user_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()  # nested groups (direct members that are groups)
    other_ids: tuple[str, ...] = ()  # devices, service principals, org contacts
    description: str | None = None

    @property
    def direct_member_ids(self) -> tuple[str, ...]:
        return self.user_ids + self.group_ids + self.other_ids


@dataclass(frozen=True)
class SandboxTenant:
    tenant_id: str
    client_id: str
    users: tuple[SandboxUser, ...]
    groups: tuple[SandboxGroup, ...]
    others: tuple[SandboxObject, ...] = ()
    domain: str = "contoso.com"

    @cached_property
    def users_by_id(self) -> dict[str, SandboxUser]:
        return {u.id: u for u in self.users}

    @cached_property
    def users_by_upn(self) -> dict[str, SandboxUser]:
        """By case-folded UPN: Graph takes a UPN wherever it takes a user id."""
        return {u.user_principal_name.casefold(): u for u in self.users}

    @cached_property
    def groups_by_id(self) -> dict[str, SandboxGroup]:
        return {g.id: g for g in self.groups}

    @cached_property
    def others_by_id(self) -> dict[str, SandboxObject]:
        return {o.id: o for o in self.others}

    def object(self, object_id: str) -> SandboxUser | SandboxGroup | SandboxObject | None:
        return (
            self.users_by_id.get(object_id)
            or self.groups_by_id.get(object_id)
            or self.others_by_id.get(object_id)
        )

    def direct_members(self, group_id: str) -> tuple[str, ...]:
        """Direct member ids in Graph's order: users, then nested groups, then other objects."""
        return self.groups_by_id[group_id].direct_member_ids

    def transitive_members(self, group_id: str) -> tuple[str, ...]:
        """Every nested member once, nested groups included, as ``/transitiveMembers`` lists."""
        return self._transitive[group_id]

    def transitive_user_members(self, group_id: str) -> tuple[str, ...]:
        users = self.users_by_id
        return tuple(m for m in self.transitive_members(group_id) if m in users)

    @cached_property
    def _transitive(self) -> _TransitiveCache:
        return _TransitiveCache(self)


class _TransitiveCache:
    """Flattens nesting once per group, breadth first, tolerating cycles (Entra forbids them)."""

    def __init__(self, tenant: SandboxTenant) -> None:
        self._tenant = tenant
        self._done: dict[str, tuple[str, ...]] = {}

    def __getitem__(self, group_id: str) -> tuple[str, ...]:
        cached = self._done.get(group_id)
        if cached is None:
            cached = tuple(self._walk(group_id))
            self._done[group_id] = cached
        return cached

    def _walk(self, group_id: str) -> Iterator[str]:
        groups = self._tenant.groups_by_id
        seen: set[str] = set()
        queue = [group_id]
        visited_groups = {group_id}
        while queue:
            current = groups[queue.pop(0)]
            for member in current.direct_member_ids:
                if member in seen:
                    continue
                seen.add(member)
                yield member
                if member in groups and member not in visited_groups:
                    visited_groups.add(member)
                    queue.append(member)


@dataclass(frozen=True, slots=True)
class SeedScimUser:
    """A NeuralTrust user as it exists before any sync (loaded into the sandbox SCIM server)."""

    user_name: str
    external_id: str | None
    display_name: str
    email: str | None
    active: bool = True
    role: str | None = "member"
    products: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GeneratedTenant:
    """A directory, the NeuralTrust state before sync and a mappings config that fits them."""

    tenant: SandboxTenant
    scim_users: tuple[SeedScimUser, ...]
    mappings: dict[str, object] = field(default_factory=dict)


def demo_tenant() -> DemoTenant:
    """The small hand-written tenant ``entrasync demo`` tells its story with."""
    from entrasync.sandbox.tenant_demo import build_demo_tenant  # it imports this module

    return build_demo_tenant()


# Re-exported so callers import the whole tenant API from one place; at the bottom because
# the generator builds the values defined above.
from entrasync.sandbox.tenant_generate import generate_tenant  # noqa: E402

__all__ = [
    "GeneratedTenant",
    "OtherKind",
    "SandboxGroup",
    "SandboxObject",
    "SandboxTenant",
    "SandboxUser",
    "SeedScimUser",
    "demo_tenant",
    "generate_tenant",
]

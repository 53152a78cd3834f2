"""The benchmark workload (issue 7): sizes, the generated tenant, and its pure-core inputs.

The tenant comes from the sandbox generator, so the benchmark, the demo and the tests share
one picture of a directory. ``directory_of`` and ``target_of`` turn it straight into the values
the Graph and SCIM readers would produce, for the CPU measurement that must not include I/O.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from math import ceil
from typing import Any

from entrasync.config.models import Config
from entrasync.core.model import Directory, DirectoryUser, Group, GroupMembers, Target, TargetUser
from entrasync.sandbox.tenant import GeneratedTenant, SandboxTenant

GRAPH_PAGE = 999  # $top maximum of /transitiveMembers (https://learn.microsoft.com/graph/paging)
GRAPH_BATCH = 20  # requests in one $batch (https://learn.microsoft.com/graph/json-batching)


@dataclass(frozen=True)
class Size:
    """One workload size: the full one of issue 7, or the quick smoke one."""

    name: str
    users: int
    groups: int
    large_groups: int
    large_size: int
    scim_users: int
    apply_creates: int
    realism_users: int  # directory users of the plan run against the real scim2-server
    realism_scim_users: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FULL = Size("full", 100_000, 300, 4, 20_000, 60_000, 10_000, 2_000, 1_200)
QUICK = Size("quick", 5_000, 40, 2, 1_000, 3_000, 1_000, 500, 300)


def scaled(users: int) -> Size:
    """FULL's proportions at ``users`` directory users (``run.py --users``).

    Groups, the large groups' size, NeuralTrust users and apply's creates grow with the
    directory; the four large groups stay four (an "everyone in the region" group grows with
    the company: at 1,000,000 users each has 200,000 members). The realism phase keeps its
    size: it checks scim2-server's wire format, not scale.
    """
    if users == FULL.users:
        return FULL
    share = users / FULL.users
    groups = max(10, round(FULL.groups * share))
    return Size(
        f"users-{users}",
        users,
        groups,
        FULL.large_groups,
        max(1, round(FULL.large_size * share)),
        round(FULL.scim_users * share),
        max(1, round(FULL.apply_creates * share)),
        FULL.realism_users,
        FULL.realism_scim_users,
    )


def size_named(name: str) -> Size:
    """The size a child process is told by name: ``full``, ``quick`` or ``users-N``."""
    if name.startswith("users-"):
        return scaled(int(name.removeprefix("users-")))
    return {"full": FULL, "quick": QUICK}[name]


def generate(
    size: Size,
    *,
    users: int | None = None,
    groups: int | None = None,
    scim_users: int | None = None,
) -> GeneratedTenant:
    """The deterministic tenant for ``size`` (seeded, so every run reads the same directory)."""
    from entrasync.sandbox.tenant_generate import generate_tenant

    return generate_tenant(
        users=users if users is not None else size.users,
        groups=groups if groups is not None else size.groups,
        large_groups=size.large_groups,
        large_size=size.large_size,
        multi_group_share=0.2,
        nesting_depth=2,
        scim_users=scim_users if scim_users is not None else size.scim_users,
        managed_share=0.5,
        seed=7,
    )


def config_of(generated: GeneratedTenant) -> Config:
    return Config.model_validate(generated.mappings)


def config_yaml(generated: GeneratedTenant) -> str:
    """The mappings as a YAML file (JSON is YAML) for the CLI to load."""
    return json.dumps(generated.mappings, indent=2) + "\n"


def _group_index(tenant: SandboxTenant) -> tuple[dict[str, str], dict[str, str]]:
    by_name = {g.display_name: g.id for g in tenant.groups}
    return by_name, {g.id: g.display_name for g in tenant.groups}


def synced_groups(config: Config, tenant: SandboxTenant) -> list[tuple[int, str]]:
    """(mapping index, group id) of every synced mapping whose group exists."""
    by_name, _ = _group_index(tenant)
    found: list[tuple[int, str]] = []
    for index, mapping in config.synced_mappings:
        group_id = mapping.id or by_name.get(mapping.name or "")
        if group_id and group_id in tenant.groups_by_id:
            found.append((index, group_id))
    return found


def members_of(config: Config, tenant: SandboxTenant, group_id: str) -> tuple[str, ...]:
    if config.entra.nested_groups:
        return tenant.transitive_user_members(group_id)
    return tenant.groups_by_id[group_id].user_ids


def directory_of(config: Config, tenant: SandboxTenant) -> Directory:
    """What a perfect Graph reader returns for this tenant and config."""
    _, names = _group_index(tenant)
    groups: list[GroupMembers] = []
    users: dict[str, DirectoryUser] = {}
    for index, group_id in synced_groups(config, tenant):
        member_ids = members_of(config, tenant, group_id)
        groups.append(GroupMembers(index, Group(group_id, names[group_id]), member_ids))
        for uid in member_ids:
            if uid not in users:
                u = tenant.users_by_id[uid]
                users[uid] = DirectoryUser(
                    id=u.id,
                    user_principal_name=u.user_principal_name,
                    mail=u.mail,
                    display_name=u.display_name,
                    given_name=u.given_name,
                    surname=u.surname,
                    account_enabled=u.account_enabled,
                    user_type=u.user_type,
                )
    return Directory(groups=tuple(groups), users=users)


def target_of(generated: GeneratedTenant, scim_url: str = "http://127.0.0.1/v2") -> Target:
    """What a perfect SCIM reader returns for the generated NeuralTrust state."""
    users = (
        TargetUser(
            id=f"{i:032x}",
            user_name=s.user_name,
            external_id=s.external_id,
            display_name=s.display_name,
            email=s.email,
            active=s.active,
            role=s.role,
            products=tuple(sorted(s.products)) if s.products is not None else None,
        )
        for i, s in enumerate(generated.scim_users)
    )
    return Target.of(scim_url, users)


@dataclass(frozen=True)
class Minimums:
    """The fewest requests a reader can make (issue 7's request targets)."""

    graph_member_pages: int
    graph_name_lookups: int  # one filter per group given by name
    graph_id_batches: int  # groups given by id, looked up 20 to a $batch
    scim_list_pages: int
    # each `protected` entry: a GET by UPN and a filter on mail
    graph_protected_lookups: int = 0

    @property
    def graph(self) -> int:
        return (
            self.graph_member_pages
            + self.graph_name_lookups
            + self.graph_id_batches
            + self.graph_protected_lookups
        )


def minimums(config: Config, generated: GeneratedTenant, scim_page_size: int) -> Minimums:
    """Pages count every member object Graph lists (users, nested groups, devices...)."""
    tenant = generated.tenant

    def listed(group_id: str) -> int:
        if config.entra.nested_groups:
            return len(tenant.transitive_members(group_id))
        return len(tenant.groups_by_id[group_id].direct_member_ids)

    pages = sum(max(1, ceil(listed(gid) / GRAPH_PAGE)) for _, gid in synced_groups(config, tenant))
    lookups = sum(1 for _, m in config.synced_mappings if m.id is None)
    batches = ceil(len({m.id for _, m in config.synced_mappings if m.id}) / GRAPH_BATCH)
    # A list read in one page takes one request more, to show it is all there is.
    scim_users = len(generated.scim_users)
    scim_pages = max(1, ceil(scim_users / scim_page_size)) + (0 < scim_users <= scim_page_size)
    protected = 2 * len(config.protected)
    return Minimums(pages, lookups, batches, scim_pages, protected)

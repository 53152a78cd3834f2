"""A deterministic generator of large, realistic tenants for tests and benchmarks.

Realistic means what breaks sync tools: guests with ``#EXT#`` UPNs, disabled accounts,
mixed-case UPNs, missing mail, a few huge groups next to many small ones, people in several
groups, nested groups, non-user members, and a NeuralTrust side that has drifted (managed
users, hand-made users to adopt, leavers, wrong roles). Same seed, same tenant, byte for byte.
"""

from __future__ import annotations

import itertools
import random
import uuid
from bisect import bisect_right
from typing import Any

from entrasync.sandbox.tenant import (
    GeneratedTenant,
    OtherKind,
    SandboxGroup,
    SandboxObject,
    SandboxTenant,
    SandboxUser,
    SeedScimUser,
)

ROLES = ("owner", "admin", "member")
PRODUCTS = ("trustgate", "trusttest", "trustlens")
# fmt: off
_GIVEN = (
    "Ada", "Alan", "Amir", "Ana", "Ben", "Chen", "Chloe", "Dara", "Eli", "Emma", "Femi",
    "Grace", "Hana", "Ivan", "Jon", "Kai", "Lea", "Luis", "Maya", "Nia", "Omar", "Priya",
    "Quinn", "Rui", "Sara", "Tom", "Uma", "Vera", "Wei", "Yara", "Zoe",
)
_SURNAMES = (
    "Smith", "Garcia", "Kim", "Nguyen", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber",
    "Cohen", "Dubois", "Haddad", "Ivanova", "Jensen", "Khan", "Larsen", "Moreau", "Novak",
    "Olsen", "Park", "Quispe", "Reyes", "Sato", "Torres", "Ueda", "Varga",
)
# fmt: on


def generate_tenant(
    users: int,
    groups: int,
    *,
    seed: int,
    nesting_depth: int = 2,
    guest_ratio: float = 0.05,
    disabled_ratio: float = 0.02,
    overlap_ratio: float = 0.2,
    skew: bool = True,
    scim_users: int | None = None,
    managed_ratio: float = 0.5,
    large_groups: int | None = None,
    large_size: int = 20_000,
    multi_group_share: float | None = None,  # alias of overlap_ratio (benchmarks' name)
    managed_share: float | None = None,  # alias of managed_ratio (benchmarks' name)
) -> GeneratedTenant:
    """A directory of ``users`` and ``groups``, its NeuralTrust state and mappings for it.

    ``overlap_ratio`` of the users sit in 2-4 groups; with ``skew`` a few groups (default one
    per hundred) hold ``large_size`` members and the rest 50-500; ``scim_users`` (default 60%
    of ``users``) NeuralTrust users exist before sync, ``managed_ratio`` of them with an
    externalId.
    """
    if groups < 3:
        raise ValueError("generate_tenant needs at least 3 groups (owners, admins, a team)")
    overlap = overlap_ratio if multi_group_share is None else multi_group_share
    managed = managed_ratio if managed_share is None else managed_share
    rng = random.Random(seed)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    tenant_id, client_id = guid(), guid()
    people = [_user(rng, guid(), i, guest_ratio, disabled_ratio) for i in range(users)]
    sizes = _group_sizes(rng, users, groups, skew, large_groups, large_size)
    members = _memberships(rng, users, sizes, overlap)
    group_ids = [guid() for _ in range(groups)]
    children = _nesting(groups, nesting_depth)
    others = _others(rng, guid, groups)
    names = _group_names(sizes)
    sandbox_groups = tuple(
        SandboxGroup(
            id=group_ids[g],
            display_name=names[g],
            user_ids=tuple(people[u].id for u in members[g]),
            group_ids=tuple(group_ids[c] for c in children.get(g, ())),
            other_ids=tuple(o.id for k, o in enumerate(others) if k % groups == g),
        )
        for g in range(groups)
    )
    tenant = SandboxTenant(tenant_id, client_id, tuple(people), sandbox_groups, tuple(others))
    nested = {c for kids in children.values() for c in kids}
    roots = [g for g in range(groups) if g not in nested]
    mappings = _mappings(tenant, roots)
    in_groups = sorted({u for m in members for u in m})
    seeds = _seeds(rng, people, in_groups, members, scim_users, managed)
    return GeneratedTenant(tenant=tenant, scim_users=seeds, mappings=mappings)


def _user(rng: random.Random, oid: str, i: int, guest: float, disabled: float) -> SandboxUser:
    given, surname = rng.choice(_GIVEN), rng.choice(_SURNAMES)
    roll = rng.random()
    if roll < guest:
        local = f"{given.lower()}.{surname.lower()}{i}"
        state = "PendingAcceptance" if rng.random() < 0.1 else "Accepted"
        return SandboxUser(
            id=oid,
            user_principal_name=f"{local}_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            mail=f"{local}@fabrikam.com",
            display_name=f"{given} {surname} (Fabrikam)",
            given_name=given,
            surname=surname,
            account_enabled=rng.random() >= disabled,
            user_type="Guest",
            external_user_state=state,
        )
    mixed = rng.random() < 0.1  # "Ada.Kim7@Contoso.com": UPNs keep the case people typed
    upn = (
        f"{given}.{surname}{i}@Contoso.com"
        if mixed
        else f"{given}.{surname}{i}@contoso.com".lower()
    )
    return SandboxUser(
        id=oid,
        user_principal_name=upn,
        mail=None if rng.random() < 0.03 else upn.lower(),
        display_name=f"{given} {surname}",
        given_name=given,
        surname=surname,
        account_enabled=rng.random() >= disabled,
    )


def _group_sizes(
    rng: random.Random,
    users: int,
    groups: int,
    skew: bool,
    large_groups: int | None,
    large_size: int,
) -> list[int]:
    """Owners, admins, then teams; with skew, the first teams are the huge ones."""
    small = [min(users, rng.randint(50, 500)) for _ in range(groups - 2)]
    if skew:
        count = large_groups if large_groups is not None else max(1, groups // 100)
        for g in range(min(count, len(small))):
            small[g] = min(users, large_size)
    return [min(users, 5), min(users, 25), *small]


def _memberships(
    rng: random.Random, users: int, sizes: list[int], overlap: float
) -> list[list[int]]:
    """Member indexes per group: ``overlap`` of the users in 2-4 teams, the rest in at most one
    (until the pool runs out and wraps round, as real directories do)."""
    order = list(range(users))
    rng.shuffle(order)
    n_multi = round(users * overlap)
    multi, single = order[:n_multi], order[n_multi:]
    teams = list(range(2, len(sizes)))
    members: list[list[int]] = [[] for _ in sizes]
    cumulative = list(itertools.accumulate(sizes[t] for t in teams))
    for person in multi:
        wanted = min(len(teams), rng.randint(2, 4))
        picks: list[int] = []
        for _ in range(wanted * 3):  # weighted by size, so big teams get more of them
            team = teams[bisect_right(cumulative, rng.random() * cumulative[-1])]
            if team not in picks:
                picks.append(team)
            if len(picks) == wanted:
                break
        for team in picks:
            members[team].append(person)
    cursor = 0
    for g, size in enumerate(sizes):
        cursor = _fill(members[g], size, single, cursor)
        _fill(members[g], size, order, rng.randrange(users))  # single pool ran out: wrap
    return members


def _fill(group: list[int], size: int, pool: list[int], cursor: int) -> int:
    """Append pool members from ``cursor`` on until ``group`` has ``size``; the new cursor."""
    taken = set(group)
    for _ in range(len(pool)):
        if len(group) >= size:
            break
        person = pool[cursor % len(pool)]
        cursor += 1
        if person not in taken:
            taken.add(person)
            group.append(person)
    return cursor


def _nesting(groups: int, depth: int) -> dict[int, list[int]]:
    """Chains ``depth`` deep among the smaller teams: every tenth team heads one."""
    children: dict[int, list[int]] = {}
    if depth <= 0:
        return children
    start = max(2, groups // 100 + 2)
    for head in range(start, groups - depth, 10 * (depth + 1)):
        chain = list(range(head, head + depth + 1))
        for parent, child in itertools.pairwise(chain):
            children.setdefault(parent, []).append(child)
    return children


def _others(rng: random.Random, guid: Any, groups: int) -> list[SandboxObject]:
    kinds: tuple[OtherKind, ...] = ("device", "servicePrincipal", "orgContact")
    count = max(3, groups // 50 * 3)
    names = {
        "device": "LAPTOP-{:04X}",
        "servicePrincipal": "svc-app-{}",
        "orgContact": "Contact {}",
    }
    return [
        SandboxObject(guid(), kinds[k % 3], names[kinds[k % 3]].format(rng.randrange(65536)))
        for k in range(count)
    ]


def _group_names(sizes: list[int]) -> list[str]:
    names = ["NT-Owners", "NT-Admins"]
    names += [f"NT-Team-{g:04d}" for g in range(2, len(sizes))]
    return names


def _mappings(tenant: SandboxTenant, roots: list[int]) -> dict[str, Any]:
    """First-match mappings: owners, admins, then every top-level team (nested ones are
    reached transitively). Every tenth team is mapped by name only, to exercise lookups."""
    product_sets = [list(PRODUCTS), ["trustgate"], ["trusttest", "trustlens"], None]
    entries: list[dict[str, Any]] = []
    for n, g in enumerate(roots):
        group = tenant.groups[g]
        role = ROLES[g] if g < 2 else "member"
        entry: dict[str, Any] = {"name": group.display_name, "role": role}
        if g < 2 or n % 10 != 0:
            entry = {"id": group.id, **entry}
        products = product_sets[n % len(product_sets)]
        if role == "member" and products is not None:
            entry["products"] = products
        entries.append(entry)
    return {
        "version": 1,
        "entra": {"tenant_id": tenant.tenant_id, "client_id": tenant.client_id},
        "roles": list(ROLES),
        "products": list(PRODUCTS),
        "product_roles": ["member"],
        "precedence": "first-match",
        "on_removed": "deactivate",
        "protected": ["breakglass@contoso.com"],
        "mappings": entries,
    }


def _seeds(
    rng: random.Random,
    people: list[SandboxUser],
    in_groups: list[int],
    members: list[list[int]],
    count: int | None,
    managed: float,
) -> tuple[SeedScimUser, ...]:
    """NeuralTrust before sync: mostly directory users (some drifted), a few leavers, a few
    people Entra never knew, and the protected break-glass owner."""
    total = round(len(people) * 0.6) if count is None else count
    owners, admins = set(members[0]), set(members[1])
    grouped = set(in_groups)
    ungrouped = [i for i in range(len(people)) if i not in grouped]
    leavers = ungrouped[: max(0, total // 100)]
    leaver_set = set(leavers)
    from_directory = rng.sample(in_groups, min(len(in_groups), max(0, total - len(leavers) - 1)))
    seeds: list[SeedScimUser] = [
        SeedScimUser(
            "breakglass@contoso.com", None, "Break Glass", "breakglass@contoso.com", role="owner"
        )
    ]
    for i in from_directory + leavers:
        person = people[i]
        is_managed = i in leaver_set or rng.random() < managed
        role = "owner" if i in owners else "admin" if i in admins else "member"
        if rng.random() < 0.1:  # drift: someone changed the role by hand
            role = rng.choice(ROLES[1:])
        products = tuple(PRODUCTS) if role == "member" else None
        seeds.append(
            SeedScimUser(
                user_name=person.user_principal_name,
                external_id=person.id if is_managed else None,
                display_name=person.display_name,
                email=person.mail,
                active=rng.random() >= 0.02,
                role=role,
                products=products,
            )
        )
    while len(seeds) < total:  # people only NeuralTrust knows: never touched by the tool
        n = len(seeds)
        seeds.append(SeedScimUser(f"partner{n}@example.org", None, f"Partner {n}", None))
    return tuple(seeds[:total] if total else ())

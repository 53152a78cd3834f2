"""The sandbox tenants: the generator's determinism, sizes and realism; the demo's story."""

from __future__ import annotations

import collections

import pytest

from entrasync.config.models import Config, check
from entrasync.sandbox.tenant import GeneratedTenant, demo_tenant, generate_tenant


@pytest.fixture(scope="module")
def generated() -> GeneratedTenant:
    return generate_tenant(20_000, 60, seed=11, large_groups=2, large_size=6_000)


def test_the_same_seed_gives_the_same_tenant_and_another_seed_another() -> None:
    first = generate_tenant(2_000, 20, seed=3)
    assert generate_tenant(2_000, 20, seed=3) == first
    assert generate_tenant(2_000, 20, seed=4).tenant.users != first.tenant.users


def test_sizes_and_skew(generated: GeneratedTenant) -> None:
    tenant = generated.tenant
    assert len(tenant.users) == 20_000
    assert len(tenant.groups) == 60
    sizes = sorted((len(g.user_ids) for g in tenant.groups), reverse=True)
    assert sizes[:2] == [6_000, 6_000]  # the huge ones
    assert all(50 <= s <= 500 + 100 for s in sizes[2:-2])  # teams, plus overlap arrivals
    assert sizes[-2:] == [25, 5]  # admins and owners


def test_realism(generated: GeneratedTenant) -> None:
    users = generated.tenant.users
    guests = [u for u in users if u.user_type == "Guest"]
    assert 0.03 < len(guests) / len(users) < 0.07
    assert all("#EXT#@" in u.user_principal_name for u in guests)
    assert 0.01 < sum(not u.account_enabled for u in users) / len(users) < 0.03
    assert any(u.user_principal_name != u.user_principal_name.lower() for u in users)
    assert any(u.mail is None for u in users)
    counts = collections.Counter(u for g in generated.tenant.groups for u in g.user_ids)
    assert sum(n >= 2 for n in counts.values()) / len(users) >= 0.2


def test_nesting_reaches_depth_two_and_others_sit_in_groups(generated: GeneratedTenant) -> None:
    tenant = generated.tenant
    heads = [g for g in tenant.groups if g.group_ids]
    assert heads
    head = heads[0]
    child = tenant.groups_by_id[head.group_ids[0]]
    grandchild = tenant.groups_by_id[child.group_ids[0]]
    flat = set(tenant.transitive_user_members(head.id))
    assert set(grandchild.user_ids) <= flat
    kinds = {tenant.others_by_id[o].kind for g in tenant.groups for o in g.other_ids}
    assert kinds == {"device", "servicePrincipal", "orgContact"}


def test_mappings_validate_and_scim_seeds_mix_managed_and_manual(
    generated: GeneratedTenant,
) -> None:
    config = Config.model_validate(generated.mappings)
    assert [m.role for m in config.mappings[:2]] == ["owner", "admin"]
    assert any(m.id is None for m in config.mappings)  # some are resolved by name
    seeds = generated.scim_users
    assert len(seeds) == 12_000
    managed = sum(s.external_id is not None for s in seeds) / len(seeds)
    assert 0.45 < managed < 0.55
    assert seeds[0].user_name == "breakglass@contoso.com"


def test_the_benchmark_size_generates_whole() -> None:
    # How long it takes is a benchmark figure (benchmarks/run.py), not a test assertion.
    big = generate_tenant(100_000, 300, seed=7)
    assert len(big.tenant.users) == 100_000
    assert len(big.tenant.groups) == 300


def test_the_demo_tenant_tells_its_story() -> None:
    demo = demo_tenant()
    tenant = demo.tenant
    by_upn = {u.user_principal_name: u for u in tenant.users}
    in_any = {u for g in tenant.groups for u in tenant.transitive_user_members(g.id)}
    names = {g.display_name: g for g in tenant.groups}
    seeds = {s.user_name: s for s in demo.scim_users}
    erin = by_upn["erin@contoso.com"].id
    assert erin in tenant.transitive_user_members(names["NT-Platform"].id)  # nested
    assert erin not in tenant.direct_members(names["NT-Platform"].id)
    assert by_upn["grace_fabrikam.com#EXT#@contoso.onmicrosoft.com"].user_type == "Guest"
    assert not by_upn["ivan@contoso.com"].account_enabled
    assert by_upn["frank@contoso.com"].id not in in_any  # the leaver
    assert seeds["frank@contoso.com"].external_id == by_upn["frank@contoso.com"].id
    assert seeds["heidi@contoso.com"].external_id is None  # to adopt
    kinds = {tenant.others_by_id[o].kind for o in names["NT-Platform"].other_ids}
    assert kinds == {"device", "servicePrincipal"}
    config, problems = check(demo.config_yaml.encode())
    assert problems == []
    assert config is not None
    assert config.on_removed == "deactivate"
    assert config.protected == ("breakglass@contoso.com",)
    assert "breakglass@contoso.com" in seeds

"""Groups given by id are looked up 20 to a Graph ``$batch``, against the emulator over HTTPS."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from entrasync.adapters.graph import directory as directory_module
from entrasync.adapters.graph import groups as groups_module
from entrasync.adapters.graph.batch import Get, get_batch
from entrasync.adapters.graph.client import GraphClient, GraphNotFoundError
from entrasync.adapters.graph.directory import read_directory
from entrasync.adapters.graph.groups import GroupResolutionError
from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.throttle import ThrottleGate
from entrasync.core.model import Group
from entrasync.errors import GraphError
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser
from tests.unit.fake_time import FakeTime

from .conftest import CLIENT_ID, TENANT_ID, gid, make_config, secret_env, uid

GROUPS = 45  # three batches: 20 + 20 + 5
MISSING = "0b3f1c9e-1111-4c1e-9a0b-000000000404"
# Waits are recorded, not slept, so the cap only has to let Retry-After through.
POLICY = RetryPolicy(max_retries=4, base_delay=0.001, max_delay=30.0)


def group_id(n: int) -> str:
    return gid(1000 + n)


def build_tenant() -> SandboxTenant:
    users = tuple(
        SandboxUser(uid(5000 + i), f"member{i}@contoso.com", None, f"Member {i}")
        for i in range(GROUPS)
    )
    groups = tuple(
        SandboxGroup(group_id(n), f"Team {n:02}", user_ids=(users[n].id,)) for n in range(GROUPS)
    )
    return SandboxTenant(TENANT_ID, CLIENT_ID, users, groups, ())


TENANT = build_tenant()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    with GraphEmulator(TENANT) as started:
        ca = started.ca_pem_path or ""
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        yield started


def client_for(emulator: GraphEmulator, sleeps: list[float]) -> GraphClient:
    time = FakeTime()
    time.slept = sleeps
    gate = ThrottleGate(POLICY.max_delay, clock=time.clock, sleep=time.sleep)
    return GraphClient.connect(
        make_config([]), secret_env(emulator), policy=POLICY, sleep=time.sleep, gate=gate
    )


def lookups(*ids: str) -> list[Get]:
    return [Get(f"groups/{i}", {"$select": "id,displayName"}, f"group {i}") for i in ids]


def test_groups_by_id_cost_one_batch_per_20_plus_one_filter_per_name(
    emulator: GraphEmulator,
) -> None:
    mappings = [{"id": group_id(n), "role": "member"} for n in range(43)]  # three batches
    mappings += [{"name": "Team 44", "role": "admin"}, {"name": "team 43", "role": "owner"}]
    emulator.reset_counters()
    with client_for(emulator, []) as client:
        directory = read_directory(make_config(mappings), client, parallelism=4)

    names = [g.group.display_name for g in directory.groups]
    assert names == [f"Team {n:02}" for n in range(43)] + ["Team 44", "Team 43"]
    assert emulator.counters["batch"] == math.ceil(43 / 20) == 3
    assert emulator.counters["group_get"] == 43  # each id looked up once, inside a batch
    assert emulator.counters["group_list"] == 2
    assert emulator.counters["members_page"] == 45
    identity = emulator.counters["token"] + emulator.counters["discovery"]
    graph_requests = emulator.counters["requests"] - identity
    assert graph_requests == 3 + 2 + 45


def test_answers_arriving_in_any_order_are_matched_to_their_requests(
    emulator: GraphEmulator,
) -> None:
    ids = [group_id(n) for n in (7, 3, 19, 0)]
    with client_for(emulator, []) as client:
        found = get_batch(client, lookups(*ids))  # the emulator answers in reverse order
    assert [(f["id"], f["displayName"]) for f in found if isinstance(f, dict)] == [
        (group_id(7), "Team 07"),
        (group_id(3), "Team 03"),
        (group_id(19), "Team 19"),
        (group_id(0), "Team 00"),
    ]
    assert emulator.counters["batch"] == 1


def test_a_missing_id_in_a_batch_reads_as_the_same_404_as_a_lone_get(
    emulator: GraphEmulator,
) -> None:
    with client_for(emulator, []) as client:
        in_batch = get_batch(client, lookups(group_id(1), MISSING))[1]
        alone = get_batch(client, lookups(MISSING))[0]
    assert isinstance(in_batch, GraphNotFoundError)
    assert isinstance(alone, GraphNotFoundError)
    assert emulator.counters["batch"] == 1  # the lone lookup is a plain GET
    for error in (in_batch, alone):
        assert f"group {MISSING} was not found in Entra" in error.message
        assert "HTTP 404 Request_ResourceNotFound, request-id " in error.message
        assert "replicated" in (error.hint or "")


def test_a_missing_group_among_many_fails_the_read_naming_it(emulator: GraphEmulator) -> None:
    mappings = [{"id": group_id(n), "role": "member"} for n in range(5)]
    mappings.insert(3, {"id": MISSING, "name": "NT-Gone", "role": "owner"})
    with client_for(emulator, []) as client, pytest.raises(GroupResolutionError) as caught:
        read_directory(make_config(mappings), client)
    assert caught.value.kind == "missing"
    assert f"group {MISSING} (NT-Gone) was not found in Entra" in caught.value.message
    assert emulator.counters["members_page"] == 0  # found before any member is read


def test_throttled_lookups_alone_are_retried_after_their_retry_after(
    emulator: GraphEmulator,
) -> None:
    # Inner calls 7, 14 and (in the first retry) 21 are answered 429 with Retry-After: 2.5.
    emulator.throttle_every, emulator.retry_after = 7, "2.5"
    sleeps: list[float] = []
    ids = [group_id(n) for n in range(20)]
    with client_for(emulator, sleeps) as client:
        found = get_batch(client, lookups(*ids))
    assert [f["id"] for f in found if isinstance(f, dict)] == ids
    assert emulator.counters["throttled"] == 3
    assert emulator.counters["batch"] == 3  # 20 requests, then the 2 throttled, then 1
    assert emulator.counters["group_get"] == 20  # nothing that succeeded was asked again
    assert sleeps == [2.5, 2.5]


def test_a_lookup_throttled_past_the_retries_fails_with_the_throttling_hint(
    emulator: GraphEmulator,
) -> None:
    emulator.throttle_every, emulator.retry_after = 1, "0.5"
    sleeps: list[float] = []
    with client_for(emulator, sleeps) as client, pytest.raises(GraphError) as caught:
        get_batch(client, lookups(group_id(1), group_id(2)))
    assert "kept answering 429 reading group " in caught.value.message
    assert "through every retry entrasync sends" in caught.value.message
    assert "throttling" in (caught.value.hint or "")
    assert emulator.counters["batch"] == 1 + POLICY.max_retries
    assert sleeps == [0.5] * POLICY.max_retries  # each retry waited at the client's gate


def test_a_name_check_still_applies_to_groups_found_in_a_batch(emulator: GraphEmulator) -> None:
    config = make_config(
        [
            {"id": group_id(1), "name": "team 01", "role": "member"},
            {"id": group_id(2), "name": "Team 99", "role": "member"},
        ]
    )
    with client_for(emulator, []) as client, pytest.raises(GroupResolutionError) as caught:
        read_directory(config, client)
    assert caught.value.kind == "mismatch"
    assert caught.value.group == Group(group_id(2), "Team 02")
    assert "is named 'Team 02' in Entra, not 'Team 99'" in caught.value.message


def test_more_than_20_in_one_batch_is_a_programming_error(emulator: GraphEmulator) -> None:
    with client_for(emulator, []) as client, pytest.raises(ValueError, match="at most 20"):
        get_batch(client, lookups(*(group_id(n) for n in range(21))))


def _record(monkeypatch: pytest.MonkeyPatch, fail: str | None = None) -> list[str]:
    """Each lookup and member read, as it starts; ``fail``: the group whose read raises."""
    events: list[str] = []
    real_read, real_batch = directory_module.read_members, get_batch
    real_by_name = groups_module._by_name

    def read(client: GraphClient, group: Group, nested: bool, known: Any = None) -> Any:
        events.append(f"read {group.display_name}")
        if group.display_name == fail:
            raise GraphError(f"the members of {fail} could not be read", "run again")
        return real_read(client, group, nested, known)

    def batch(client: GraphClient, gets: list[Get]) -> Any:
        events.append(f"look up {len(gets)} ids")
        return real_batch(client, gets)

    def by_name(client: GraphClient, name: str) -> Any:
        events.append(f"look up {name}")
        return real_by_name(client, name)

    monkeypatch.setattr(directory_module, "read_members", read)
    monkeypatch.setattr(groups_module, "get_batch", batch)
    monkeypatch.setattr(groups_module, "_by_name", by_name)
    return events


def test_every_group_is_looked_up_then_members_are_read_in_mapping_order(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _record(monkeypatch)
    mappings = [{"id": group_id(n), "role": "member"} for n in range(20)]
    mappings.insert(1, {"name": "Team 44", "role": "owner"})  # its own filter, after the batch
    with client_for(emulator, []) as client:  # one thread: the order is certain
        read_directory(make_config(mappings), client, parallelism=1)
    later = [f"read Team {n:02}" for n in range(1, 20)]
    assert events == ["look up 20 ids", "look up Team 44", "read Team 00", "read Team 44", *later]


def test_a_failed_member_read_stops_the_reads_not_yet_started_and_is_raised(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _record(monkeypatch, fail="Team 01")
    mappings = [{"id": group_id(n), "role": "member"} for n in range(5)]
    with client_for(emulator, []) as client, pytest.raises(GraphError, match="Team 01"):
        read_directory(make_config(mappings), client, parallelism=1)
    # Nothing more is read after the failure.
    assert events == ["look up 5 ids", "read Team 00", "read Team 01"]

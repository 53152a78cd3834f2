"""Fixtures for the Graph emulator's own tests: a small tenant, a started emulator, a token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from entrasync.sandbox.graph_emulator import DEFAULT_CLIENT_SECRET, GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxObject, SandboxTenant, SandboxUser

TENANT_ID = "5f1c2c3a-0d6e-4a51-9a36-2d3b1a0c9e11"
CLIENT_ID = "8a4b7c1d-3e2f-4a5b-8c6d-7e8f9a0b1c2d"
BIG = "0b3f1c9e-1111-4c1e-9a0b-000000000001"
PARENT = "0b3f1c9e-1111-4c1e-9a0b-000000000002"
CHILD = "0b3f1c9e-1111-4c1e-9a0b-000000000003"
DEVICE = "d0d0d0d0-0000-4000-8000-000000000001"
BIG_SIZE = 2500


def user_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def small_tenant() -> SandboxTenant:
    users = tuple(
        SandboxUser(
            id=user_id(i),
            user_principal_name=f"user{i}@contoso.com",
            mail=f"user{i}@contoso.com",
            display_name=f"User {i}",
            account_enabled=i % 10 != 0,
            user_type="Guest" if i % 7 == 0 else "Member",
        )
        for i in range(BIG_SIZE)
    )
    groups = (
        SandboxGroup(BIG, "NT-Everyone", user_ids=tuple(u.id for u in users)),
        SandboxGroup(
            PARENT,
            "NT-Platform",
            user_ids=(user_id(1), user_id(2)),
            group_ids=(CHILD,),
            other_ids=(DEVICE,),
        ),
        SandboxGroup(CHILD, "NT-Contractor's", user_ids=(user_id(2), user_id(3))),
    )
    others = (SandboxObject(DEVICE, "device", "LAPTOP-7F3K"),)
    return SandboxTenant(TENANT_ID, CLIENT_ID, users, groups, others)


@pytest.fixture(scope="session")
def tenant() -> SandboxTenant:
    return small_tenant()


@pytest.fixture
def emulator(tenant: SandboxTenant) -> Iterator[GraphEmulator]:
    with GraphEmulator(tenant) as running:
        yield running


def fetch_token(
    client: httpx.Client,
    emulator: GraphEmulator,
    *,
    tenant: str | None = None,
    **overrides: str | None,
) -> httpx.Response:
    """POST a client_credentials request; an override of None leaves that field out."""
    form: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_id": emulator.tenant.client_id,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": f"{emulator.base_url}/.default",
        **overrides,
    }
    data = {k: v for k, v in form.items() if v is not None}
    authority = f"{emulator.base_url}/{tenant or emulator.tenant.tenant_id}"
    return client.post(f"{authority}/oauth2/v2.0/token", data=data)


class Graph:
    """A thin httpx caller with a token, so tests read as Graph requests."""

    def __init__(self, emulator: GraphEmulator) -> None:
        self.emulator = emulator
        self.http = httpx.Client(verify=emulator.verify, timeout=10)
        self.token = fetch_token(self.http, emulator).json()["access_token"]

    def get(self, path: str, **headers: str) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.emulator.base_url}/v1.0{path}"
        return self.http.get(url, headers={"Authorization": f"Bearer {self.token}", **headers})

    def batch(self, requests: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post(
            f"{self.emulator.base_url}/v1.0/$batch",
            json={"requests": requests},
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def graph(emulator: GraphEmulator) -> Iterator[Graph]:
    caller = Graph(emulator)
    emulator.reset_counters()
    yield caller
    caller.close()

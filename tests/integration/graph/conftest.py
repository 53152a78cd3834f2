"""A small emulated tenant and the Graph emulator over HTTPS, its CA trusted the standard way."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from entrasync.config.models import Config
from entrasync.sandbox.graph_emulator import DEFAULT_CLIENT_SECRET, GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxObject, SandboxTenant, SandboxUser

TENANT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "66666666-7777-8888-9999-000000000000"
BIG = 2500


def gid(n: int) -> str:
    return str(uuid.UUID(int=0xA000_0000_0000_0000_0000_0000_0000 + n))


def uid(n: int) -> str:
    return str(uuid.UUID(int=0xB000_0000_0000_0000_0000_0000_0000 + n))


# Group ids by role in the tests.
G_BIG, G_PARENT, G_CHILD, G_MIXED, G_DUP1, G_DUP2, G_EMPTY, G_SMALL = (gid(i) for i in range(1, 9))


def build_tenant() -> SandboxTenant:
    users = [
        SandboxUser(
            id=uid(i),
            user_principal_name=f"user{i}@contoso.com",
            mail=f"user{i}@contoso.com" if i % 7 else None,
            display_name=f"User {i}",
            given_name="User",
            surname=str(i),
            account_enabled=i % 11 != 0,
            user_type="Guest" if i % 13 == 0 else "Member",
        )
        for i in range(BIG + 10)
    ]
    others = (
        SandboxObject(id=gid(100), kind="device", display_name="laptop"),
        SandboxObject(id=gid(101), kind="servicePrincipal", display_name="bot"),
        SandboxObject(id=gid(102), kind="orgContact", display_name="vendor"),
    )
    groups = (
        SandboxGroup(G_BIG, "NT-Big", user_ids=tuple(uid(i) for i in range(BIG))),
        SandboxGroup(G_PARENT, "NT-Parent", user_ids=(uid(BIG),), group_ids=(G_CHILD,)),
        SandboxGroup(G_CHILD, "NT-Child", user_ids=(uid(BIG + 1), uid(BIG + 2))),
        SandboxGroup(
            G_MIXED,
            "NT-Mixed",
            user_ids=(uid(BIG + 3),),
            other_ids=tuple(o.id for o in others),
        ),
        SandboxGroup(G_DUP1, "NT-Dup", user_ids=(uid(BIG + 4),)),
        SandboxGroup(G_DUP2, "NT-Dup", user_ids=(uid(BIG + 5),)),
        SandboxGroup(G_EMPTY, "NT-Empty"),
        SandboxGroup(G_SMALL, "NT-Small", user_ids=(uid(BIG + 6), uid(BIG + 7))),
    )
    return SandboxTenant(TENANT_ID, CLIENT_ID, tuple(users), groups, others)


TENANT = build_tenant()


def make_config(mappings: list[Any], **entra: Any) -> Config:
    return Config.model_validate(
        {"version": 1, "entra": entra, "roles": ["owner", "admin", "member"], "mappings": mappings}
    )


def base_env(emulator: GraphEmulator) -> dict[str, str]:
    ca = emulator.ca_pem_path or ""
    return {
        "AZURE_TENANT_ID": TENANT_ID,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "ENTRASYNC_GRAPH_URL": emulator.base_url,
        "AZURE_AUTHORITY_HOST": emulator.base_url,
        "SSL_CERT_FILE": ca,
        "REQUESTS_CA_BUNDLE": ca,
    }


def secret_env(emulator: GraphEmulator) -> dict[str, str]:
    return {**base_env(emulator), "AZURE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET}


EmulatorFactory = Callable[..., GraphEmulator]


@pytest.fixture
def emulator_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorFactory]:
    """Start emulators with the given knobs; trust their CA; stop them after the test."""
    started: list[GraphEmulator] = []

    def start(tenant: SandboxTenant = TENANT, **knobs: Any) -> GraphEmulator:
        emulator = GraphEmulator(tenant, **knobs).start()
        started.append(emulator)
        ca = emulator.ca_pem_path or ""
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> GraphEmulator:
    return emulator_factory()


@contextmanager
def nothing() -> Iterator[None]:
    yield


@pytest.fixture
def scim_never_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SCIM token and a URL nothing listens at: for a `plan` that must stop at Entra."""
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", "unused")
    monkeypatch.setenv("NEURALTRUST_SCIM_URL", "http://127.0.0.1:9/scim/v2")

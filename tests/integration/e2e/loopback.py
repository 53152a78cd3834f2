"""The sandbox's two servers on loopback for a CLI test, with the environment pointing at them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import SandboxTenant, SeedScimUser

SECRET = "fake-loopback-client-secret-for-tests"
TOKEN = "fake-loopback-scim-token-for-tests"


class Served(NamedTuple):
    mappings: Path
    graph: GraphEmulator
    scim: ScimSandbox


@contextmanager
def serve_both(
    tenant: SandboxTenant,
    scim_users: Iterable[SeedScimUser],
    config_yaml: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    **scim_options: Any,
) -> Iterator[Served]:
    """Serve ``tenant`` and ``scim_users`` (``scim_options`` go to :class:`ScimSandbox`); write
    the mappings into ``folder`` (the test's working folder), set as ENTRASYNC_CONFIG."""
    mappings = folder / "mappings.yaml"
    mappings.write_text(config_yaml, encoding="utf-8")
    with ExitStack() as stack:
        graph = stack.enter_context(GraphEmulator(tenant, client_secret=SECRET).start())
        scim = stack.enter_context(ScimSandbox(TOKEN, seed=scim_users, **scim_options))
        for name in ("ENTRASYNC_GRAPH_TOKEN", "GITHUB_STEP_SUMMARY", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        environ = {
            "AZURE_TENANT_ID": tenant.tenant_id,
            "AZURE_CLIENT_ID": tenant.client_id,
            "AZURE_CLIENT_SECRET": SECRET,
            "AZURE_AUTHORITY_HOST": graph.base_url,
            "ENTRASYNC_GRAPH_URL": graph.base_url,
            "SSL_CERT_FILE": graph.ca_pem_path or "",
            "REQUESTS_CA_BUNDLE": graph.ca_pem_path or "",
            "NEURALTRUST_SCIM_URL": scim.url,
            "NEURALTRUST_SCIM_TOKEN": TOKEN,
            "ENTRASYNC_CONFIG": str(mappings),
        }
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(folder)
        yield Served(mappings, graph, scim)


@contextmanager
def serve(
    tenant: SandboxTenant,
    scim_users: Iterable[SeedScimUser],
    config_yaml: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """:func:`serve_both`, yielding the mappings file's path."""
    with serve_both(tenant, scim_users, config_yaml, folder, monkeypatch) as served:
        yield served.mappings

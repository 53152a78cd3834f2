"""The Entra side of ``scenario``: a tenant whose plan against ``scenario.SEED`` makes the
scenario's six changes (create, update role, update products, adopt, deactivate, reactivate).

`apply PLAN_FILE` makes the plan again from Entra and NeuralTrust and refuses a plan holding
a change it does not make, so a saved plan in these tests is made by entrasync from a real
(emulated) tenant, never written by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from entrasync.config.loading import load_config
from entrasync.console import Console
from entrasync.core import planfile
from entrasync.core.plan import Plan
from entrasync.operations import planning as pipeline
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser

TENANT_ID = "7a2e0c1d-0000-4000-8000-00000000aaaa"
CLIENT_ID = "7a2e0c1d-0000-4000-8000-00000000bbbb"
SECRET = "fake-scenario-client-secret-for-tests"

# The config's policy and mappings: they decide the scenario's changes from the groups below.
MAPPINGS_YAML = """\
on_removed: deactivate
mappings:
  - name: NT-Admins
    role: admin
  - name: NT-Prod
    role: member
    products: [trustgate, trusttest]
  - name: NT-Lens
    role: member
    products: [trustlens]
  - name: NT-New
    role: member
    products: [trustgate, trustlens]
"""


def _user(object_id: str, upn: str, name: str) -> SandboxUser:
    given, _, family = name.partition(" ")
    return SandboxUser(object_id, upn, upn.lower(), name, given_name=given, surname=family or None)


USERS = (
    _user("e-keep", "keep@contoso.com", "Keep"),  # member -> admin (role)
    _user("e-prod", "prod@contoso.com", "Prod"),  # more products
    _user("e-manual", "manual@contoso.com", "Manual"),  # adopted: NeuralTrust has no externalId
    _user("e-back", "back@contoso.com", "Back"),  # reactivated, as admin
    _user("e-new", "New.Person@contoso.com", "New Person"),  # created
    # leaver@contoso.com (e-leaver) is in no group: deactivated
)

GROUPS = (
    SandboxGroup("1c0a0000-0000-4000-8000-000000000001", "NT-Admins", ("e-keep", "e-back")),
    SandboxGroup("1c0a0000-0000-4000-8000-000000000002", "NT-Prod", ("e-prod",)),
    SandboxGroup("1c0a0000-0000-4000-8000-000000000003", "NT-Lens", ("e-manual",)),
    SandboxGroup("1c0a0000-0000-4000-8000-000000000004", "NT-New", ("e-new",)),
)


def scenario_tenant() -> SandboxTenant:
    return SandboxTenant(TENANT_ID, CLIENT_ID, USERS, GROUPS)


@contextmanager
def running_entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    """The tenant on the loopback Graph emulator, with the environment pointing at it."""
    with GraphEmulator(scenario_tenant(), client_secret=SECRET) as graph:
        for name in ("ENTRASYNC_GRAPH_TOKEN", "AZURE_FEDERATED_TOKEN_FILE", "ENTRASYNC_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        environ = {
            "AZURE_TENANT_ID": TENANT_ID,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": SECRET,
            "AZURE_AUTHORITY_HOST": graph.base_url,
            "ENTRASYNC_GRAPH_URL": graph.base_url,
            "SSL_CERT_FILE": graph.ca_pem_path or "",
            "REQUESTS_CA_BUNDLE": graph.ca_pem_path or "",
        }
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        yield graph


def save_plan(config: Path, out: Path) -> Plan:
    """Make the plan as `entrasync plan --out` does (safety violations kept in it) and save it."""
    plan = pipeline.plan_from_sources(load_config(config), os.environ, Console(quiet=True))
    out.write_text(planfile.dumps(plan))
    return plan

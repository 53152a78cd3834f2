"""The benchmark's lean SCIM stand-in speaks scim2-server's wire format (for one user).

Benchmarks are not tests; this only keeps ``benchmarks/lean_scim.py`` honest: the same
ListResponse, POST and PATCH exchanges, sent to it and to the real scim2-server sandbox, give
the same statuses, headers and documents apart from ids, timestamps and ports.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks import init_draft, shapes
from entrasync.core.bootstrap import Proposal
from entrasync.core.plan import Plan
from entrasync.errors import ConfigError
from entrasync.sandbox.scim_seed import EXTENSION_ROLE, EXTENSION_SCHEMA
from entrasync.sandbox.scim_server import ScimSandbox

TOKEN = "fake-bench-smoke-token-for-tests"
LEAN_PATH = Path(__file__).resolve().parents[3] / "benchmarks" / "lean_scim.py"
USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "Alice@Contoso.com",
    "externalId": "0b3f1c9e-1111-4c1e-9a0b-000000000001",
    "displayName": "Alice Smith",
    "name": {"givenName": "Alice", "familyName": "Smith"},
    "emails": [{"value": "alice@contoso.com", "type": "work", "primary": True}],
    "active": True,
    "roles": [{"value": "member", "primary": True}],
    "entitlements": [{"value": "trustgate"}, {"value": "trusttest"}],
}
PATCH = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "replace", "path": "roles", "value": [{"value": "admin", "primary": True}]},
        {"op": "replace", "path": "active", "value": False},
    ],
}
ATTRIBUTES = "userName,externalId,displayName,emails,active,name,roles,entitlements"
# The same user in the extension layout NeuralTrust may use (role and products in a schema
# extension), with a PATCH of the extension's role by its URN path.
EXTENSION_USER = {
    **{k: v for k, v in USER.items() if k not in ("roles", "entitlements")},
    "schemas": [*USER["schemas"], EXTENSION_SCHEMA],  # type: ignore[misc]
    EXTENSION_SCHEMA: {"role": "member", "products": ["trustgate"]},
}
EXTENSION_PATCH = {
    "schemas": PATCH["schemas"],
    "Operations": [{"op": "replace", "path": EXTENSION_ROLE, "value": "admin"}],
}
EXTENSION_ATTRIBUTES = f"userName,externalId,active,{EXTENSION_ROLE}"
LAYOUTS = {
    "core roles and entitlements": (False, USER, PATCH, ATTRIBUTES),
    "a NeuralTrust schema extension": (True, EXTENSION_USER, EXTENSION_PATCH, EXTENSION_ATTRIBUTES),
}
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}


def _load_lean() -> Any:
    spec = importlib.util.spec_from_file_location("bench_lean_scim", LEAN_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=list(LAYOUTS), ids=list(LAYOUTS))
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, str], tuple[Any, ...]]]:
    extension, user, patch, attributes = LAYOUTS[request.param]
    lean = _load_lean().LeanScim(TOKEN, latency=0.0, extension=extension)
    with ScimSandbox(TOKEN, extension=extension) as real, lean:
        yield {"scim2-server": real.url, "lean": lean.url}, (user, patch, attributes)


def _exchange(base: str, layout: tuple[Any, ...]) -> list[tuple[int, dict[str, str], Any]]:
    """POST one user, list it, PATCH it, read it back, try it again: what the client sees."""
    user, patch, attributes = layout
    seen: list[tuple[int, dict[str, str], Any]] = []
    with httpx.Client(headers=HEADERS, timeout=10) as client:

        def record(response: httpx.Response) -> Any:
            kept = {k: _scrub(v, base) for k, v in response.headers.items() if k in _COMPARED}
            body = _scrub(response.json(), base) if response.content else None
            seen.append((response.status_code, kept, body))
            return response.json() if response.content else None

        created = record(client.post(f"{base}/Users", json=user))
        record(client.get(f"{base}/Users", params={"startIndex": 1, "count": 10}))
        record(client.get(f"{base}/Users", params={"count": 5, "attributes": attributes}))
        record(client.patch(f"{base}/Users/{created['id']}", json=patch))
        record(client.get(f"{base}/Users/{created['id']}"))
        record(client.post(f"{base}/Users", json=user))
        record(client.get(f"{base}/ServiceProviderConfig"))
    return seen


_COMPARED = ("content-type", "etag", "location")


def _scrub(value: Any, base: str) -> Any:
    """Blank what differs between any two servers: ids, timestamps, the port in URLs."""
    if isinstance(value, dict):
        return {
            k: "<varies>" if k in ("id", "created", "lastModified") else _scrub(v, base)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, base) for v in value]
    if isinstance(value, str) and value.startswith(base):
        return "<base>" + value.removeprefix(base).split("/Users/")[0]
    return value


def test_lean_emulator_answers_like_scim2_server(
    servers: tuple[dict[str, str], tuple[Any, ...]],
) -> None:
    urls, layout = servers
    real = _exchange(urls["scim2-server"], layout)
    lean = _exchange(urls["lean"], layout)
    steps = [
        "POST",
        "list",
        "list with attributes",
        "PATCH",
        "GET",
        "POST duplicate",
        "ServiceProviderConfig",
    ]
    for step, want, got in zip(steps, real, lean, strict=True):
        assert got == want, f"{step}: lean {got} != scim2-server {want}"


def test_users_keeps_the_full_size_proportions() -> None:
    """``run.py --users N``: groups, large groups' size, NeuralTrust users and creates grow
    with N; N = 100,000 is the full size itself."""
    from benchmarks.workload import FULL, scaled, size_named

    assert scaled(100_000) == FULL
    big = scaled(1_000_000)
    assert (big.groups, big.large_groups, big.large_size) == (3_000, 4, 200_000)
    assert (big.scim_users, big.apply_creates) == (600_000, 100_000)
    assert size_named(big.name) == big
    assert scaled(300).groups == 10  # the generator's teams, owners and admins still fit


def test_init_drafts_every_group_of_an_overlapping_aligned_tenant() -> None:
    # benchmarks/init_draft.py's tenants: users hold what a first-match file of the groups gives.
    cpu, mapped = init_draft.seconds(*init_draft.overlapping(40, 12, users=150))
    assert mapped == 40
    assert cpu > 0


def test_the_shapes_benchmark_builds_each_shape_it_names() -> None:
    found = shapes.groups_per_user(40, memberships_in_all=400)()
    assert found == {f"id-{n}": tuple(range(40)) for n in range(10)}
    refused = shapes.blank_protected_entry(30)()
    assert isinstance(refused, ConfigError)
    assert [p.split(": ", 1)[1] for p in refused.problems] == [
        "protected[0]: expected text, got nothing (an empty value)"
    ]
    plan = shapes.users_sharing_a_mail(8)()
    assert isinstance(plan, Plan)
    assert len([w for w in plan.warnings if "match key" in w]) == 8
    proposal = shapes.uncovered_owners(6)()
    assert isinstance(proposal, Proposal)
    assert proposal.new_protected == tuple(f"o{n}@contoso.com" for n in range(6))

"""ScimClient and the sandbox server over a real loopback socket."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from entrasync.adapters.scim.answers import ScimAuthError
from entrasync.adapters.scim.target import read_target
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import SeedScimUser
from tests.integration.scim.scenario import client_for, config_for

MakeSandbox = Callable[..., ScimSandbox]


@pytest.mark.parametrize("layout", ["core", "extension"])
def test_every_user_is_read_at_the_page_size_the_server_announces(
    make_sandbox: MakeSandbox, layout: str
) -> None:
    seed = [
        SeedScimUser(f"user{i:02}@contoso.com", f"e-{i}", f"User {i}", None, True, "member", ("a",))
        for i in range(23)
    ]
    sandbox = make_sandbox(layout, seed=seed, max_results=5)
    with client_for(sandbox) as client:
        target = read_target(config_for(sandbox), client)

    assert len(target.users) == 23
    assert {u.role for u in target.users} == {"member"}
    assert {u.products for u in target.users} == {("a",)}
    assert sandbox.counters.by_method == {"GET": 1 + 5}  # ServiceProviderConfig + 5 pages


def test_the_fingerprint_changes_with_any_read_attribute_and_only_then(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    config = config_for(sandbox)
    with client_for(sandbox) as client:
        first = read_target(config, client)
        again = read_target(config, client)
        sandbox.add_user({"user_name": "late@contoso.com"})
        later = read_target(config, client)

    assert first.state_sha256 == again.state_sha256
    assert later.state_sha256 != first.state_sha256


def test_a_wrong_token_is_refused_by_the_server_with_the_regenerate_hint(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox()
    with (
        client_for(sandbox, token="fake-wrong-token-for-tests") as client,
        pytest.raises(ScimAuthError) as caught,
    ):
        read_target(config_for(sandbox), client)

    assert caught.value.status == 401
    assert "expired or invalid" in caught.value.message
    assert caught.value.hint is not None
    assert "regenerating revokes the old one at once" in caught.value.hint
    # scim2-server serves discovery without auth (RFC 7644 §4), so the first /Users is refused.
    assert sandbox.counters.by_method == {"GET": 2}


def test_the_latency_knob_delays_every_request(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(latency=0.05)
    with client_for(sandbox) as client:
        started = time.perf_counter()
        client.page_size()
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.05

"""msal and httpx trust ENTRASYNC_CA_BUNDLE on top of the system's store, whatever the
process's own REQUESTS_CA_BUNDLE and SSL_CERT_FILE say (docs/sandbox.md)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trustme

from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import read_directory
from entrasync.adapters.http import TransportError, new_client, send
from entrasync.sandbox.graph_emulator import GraphEmulator

from .conftest import G_SMALL, make_config, secret_env, uid

CONFIG = make_config([{"id": G_SMALL, "role": "owner"}])


def test_the_entrasync_variable_alone_serves_the_token_endpoint_and_graph(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The shell trusts another CA: requests would take REQUESTS_CA_BUNDLE from the process
    # environment over anything the session says (psf/requests#3829).
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    env = {
        name: value
        for name, value in secret_env(emulator).items()
        if name not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    env["ENTRASYNC_CA_BUNDLE"] = emulator.ca_pem_path or ""
    with GraphClient.connect(CONFIG, env) as client:
        assert read_directory(CONFIG, client).groups[0].member_ids == (uid(2506), uid(2507))
    assert emulator.counters["token"] == 1


def test_nothing_listening_on_loopback_hints_at_a_stopped_sandbox_without_retrying() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    with new_client({}) as client, pytest.raises(TransportError) as caught:
        send(client, "GET", f"http://127.0.0.1:{port}/Users", sleep=slept.append)
    assert "ConnectError" in caught.value.message
    assert slept == []  # a GET is retried after a dropped connection, not when none is taken
    assert "if it came from sandbox.env, the sandbox that wrote" in (caught.value.hint or "")


def test_a_certificate_the_runner_does_not_trust_is_named_with_the_ca_hint_at_once(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator's certificate is from the sandbox's CA, which the client is not told of:
    # the same certificate comes back on every try, so retrying only held back the hint.
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_DIR", "ENTRASYNC_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    slept: list[float] = []
    with new_client({}) as client, pytest.raises(TransportError) as caught:
        send(client, "GET", f"{emulator.base_url}/v1.0/groups", sleep=slept.append)
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert slept == []
    assert (caught.value.hint or "").startswith("trust the server's CA with ENTRASYNC_CA_BUNDLE")

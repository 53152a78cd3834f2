"""`--trusted-config`: a config under review cannot choose where credentials go.

The trusted config names the real sandbox endpoints (Graph emulator, SCIM sandbox); the config
under review points a credential-routing key at a loopback listener that only counts
connections. Through the real entry point: exit 1, the key named, and not one connection to
the listener, nor to the sandbox (the check runs before any connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.routing.conftest import Listener

SECRET = "fake-trusted-config-client-secret-for-tests"
TOKEN = "fake-trusted-config-scim-token-for-tests"


@dataclass
class Sandbox:
    graph: GraphEmulator
    scim: ScimSandbox
    trusted: dict[str, Any]  # the trusted config's data: the sandbox endpoints

    def write(self, path: Path, **changes: str | None) -> Path:
        """The trusted config with ``section__key=value`` changes (None removes the key)."""
        data = yaml.safe_load(yaml.safe_dump(self.trusted))
        for dotted, value in changes.items():
            section, key = dotted.split("__")
            if value is None:
                data[section].pop(key, None)
            else:
                data[section][key] = value
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def requests(self) -> int:
        return self.graph.counters["requests"] + self.scim.counters.requests


@pytest.fixture
def sandbox(tmp_path: Path, clean_env: pytest.MonkeyPatch, listener: Listener) -> Iterator[Sandbox]:
    demo = demo_tenant()
    with ExitStack() as stack:
        graph = stack.enter_context(GraphEmulator(demo.tenant, client_secret=SECRET).start())
        scim = stack.enter_context(ScimSandbox(TOKEN, seed=demo.scim_users))
        # Credentials and CA trust from the environment; no endpoint variable at all, so the
        # endpoints in use are the trusted config's.
        for name, value in {
            "AZURE_CLIENT_SECRET": SECRET,
            "NEURALTRUST_SCIM_TOKEN": TOKEN,
            "SSL_CERT_FILE": graph.ca_pem_path or "",
            "REQUESTS_CA_BUNDLE": graph.ca_pem_path or "",
        }.items():
            clean_env.setenv(name, value)
        clean_env.chdir(tmp_path)
        trusted = yaml.safe_load(demo.config_yaml)
        trusted["entra"].update(authority_host=graph.base_url, graph_url=graph.base_url)
        trusted["neuraltrust"]["scim_url"] = scim.url
        built = Sandbox(graph, scim, trusted)
        built.write(tmp_path / "trusted.yaml")
        yield built


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "key",
    ["entra__authority_host", "entra__graph_url", "neuraltrust__scim_url"],
    ids=[
        "a new authority host would get the client secret",
        "a new Graph URL would get the Graph token",
        "a new SCIM URL would get the SCIM token",
    ],
)
def test_a_config_that_moves_an_endpoint_plans_nothing_and_connects_nowhere(
    key: str, sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    review = sandbox.write(Path("review.yaml"), **{key: listener.url})

    code, out, err = run(
        capsys, "plan", "--config", str(review), "--trusted-config", "trusted.yaml"
    )

    dotted = key.replace("__", ".")
    assert code == 1
    assert out == ""
    assert (
        f"error: review.yaml changes {dotted}, which decides where credentials are sent; "
        "the change takes effect once merged"
    ) in err
    assert "hint: those keys come from the environment or the trusted config trusted.yaml" in err
    assert "Traceback" not in err
    assert str(listener.port) not in err
    assert listener.accepted == 0
    assert sandbox.requests() == 0  # refused before any connection, even to the trusted hosts


def test_every_changed_key_is_named_and_an_id_counts_too(
    sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    review = sandbox.write(
        Path("review.yaml"),
        entra__tenant_id="99999999-2222-3333-4444-555555555555",
        entra__authority_host=listener.url,
        neuraltrust__scim_url=listener.url + "/api/scim/v2",
    )

    code, _, err = run(capsys, "plan", "--config", str(review), "--trusted-config", "trusted.yaml")

    assert code == 1
    assert (
        "review.yaml changes entra.tenant_id, entra.authority_host and neuraltrust.scim_url, "
        "which decide where credentials are sent"
    ) in err
    assert listener.accepted == 0
    assert sandbox.requests() == 0


def test_an_environment_variable_does_not_make_a_changed_key_acceptable(
    sandbox: Sandbox,
    listener: Listener,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The variable would win over the config anyway; the change is still refused, so nobody
    # reads the plan as one made with the new value.
    clean_env.setenv("AZURE_AUTHORITY_HOST", sandbox.graph.base_url)
    review = sandbox.write(Path("review.yaml"), entra__authority_host=listener.url)

    code, _, err = run(capsys, "plan", "--config", str(review), "--trusted-config", "trusted.yaml")

    assert code == 1
    assert "review.yaml changes entra.authority_host" in err
    assert listener.accepted == 0
    assert sandbox.requests() == 0


@pytest.mark.parametrize(
    "command",
    [["validate", "--online"], ["validate"], ["users"], ["groups", "NT-"]],
    ids=["validate --online", "validate offline", "users", "groups"],
)
def test_the_other_reading_commands_refuse_the_same_way(
    command: list[str], sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    review = sandbox.write(Path("review.yaml"), entra__graph_url=listener.url)

    code, _, err = run(
        capsys, *command, "--config", str(review), "--trusted-config", "trusted.yaml"
    )

    assert code == 1
    assert "review.yaml changes entra.graph_url" in err
    assert listener.accepted == 0
    assert sandbox.requests() == 0


def test_a_config_that_only_changes_mappings_plans_against_the_trusted_endpoints(
    sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(yaml.safe_dump(sandbox.trusted))
    data["mappings"] = data["mappings"][:2]
    Path("review.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    code, out, err = run(
        capsys, "plan", "--config", "review.yaml", "--trusted-config", "trusted.yaml"
    )

    assert code == 0, err
    assert out.startswith("Plan:") or "Plan:" in out
    assert sandbox.graph.counters["requests"] > 0
    assert sandbox.scim.counters.requests > 0
    assert listener.accepted == 0


def test_without_a_trusted_config_the_config_decides_and_the_listener_sees_it(
    sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    # The control: the listener does notice a connection, so its zero above means something.
    review = sandbox.write(Path("review.yaml"), entra__authority_host=listener.url)

    code, _, err = run(capsys, "plan", "--config", str(review))

    assert code == 1
    assert "could not reach the token authority" in err
    assert listener.accepted >= 1


def test_groups_without_a_mappings_file_reads_the_trusted_configs_endpoints(
    sandbox: Sandbox, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "groups", "NT-", "--trusted-config", "trusted.yaml")

    assert code == 0, err
    assert "NT-Owners" in out
    assert sandbox.graph.counters["requests"] > 0
    assert listener.accepted == 0


def test_a_missing_trusted_config_is_an_error_before_any_connection(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.write(Path("review.yaml"))

    code, _, err = run(capsys, "plan", "--config", "review.yaml", "--trusted-config", "gone.yaml")

    assert code == 1
    assert "error: --trusted-config: config file gone.yaml not found" in err
    assert "hint: --trusted-config names the reviewed mappings file" in err
    assert "Traceback" not in err
    assert sandbox.requests() == 0


def test_validate_says_a_missing_trusted_config_once_not_for_every_file(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.write(Path("a.yaml"))
    sandbox.write(Path("b.yaml"))

    code, _, err = run(capsys, "validate", "--trusted-config", "gone.yaml", "a.yaml", "b.yaml")

    assert code == 1
    assert err.count("--trusted-config: config file gone.yaml not found") == 1
    assert "Traceback" not in err

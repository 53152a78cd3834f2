"""Credentials only where they belong: a URL with user info, a query or a fragment, or a bad
port or host, from any source, stops the command with an `error:` line naming the source,
before any connection, and the value (a password) is never printed.

Every other endpoint points at a loopback listener that counts connections, so a check that
let the URL through would show up as a connection (and nothing can reach the internet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.adapters.github.rest import GitHubContext
from entrasync.cli import main
from entrasync.errors import GitHubError
from tests.integration.routing.conftest import Listener

PASSWORD = "fake-url-password-for-tests"
MAPPINGS = "version: 1\nmappings:\n  - name: NT-Anything\n    role: member\n"


@pytest.fixture
def endpoints(listener: Listener, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Listener:
    """Credentials set, every endpoint at the listener, a plain mappings file in the cwd."""
    for name, value in {
        "ENTRASYNC_GRAPH_TOKEN": "fake-graph-token-for-tests",
        "NEURALTRUST_SCIM_TOKEN": "fake-scim-token-for-tests",
        "AZURE_AUTHORITY_HOST": listener.url,
        "ENTRASYNC_GRAPH_URL": listener.url,
        "NEURALTRUST_SCIM_URL": listener.url + "/api/scim/v2",
    }.items():
        clean_env.setenv(name, value)
    clean_env.chdir(tmp_path)
    (tmp_path / "mappings.yaml").write_text(MAPPINGS)
    return listener


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--config", "mappings.yaml"])
    out, err = capsys.readouterr()
    return code, out, err


USER_INFO = "holds a user name or password"
QUERY = "has a query string or fragment"
PORT = "has an invalid port"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "NEURALTRUST_SCIM_URL",
            "https://admin:{pw}@{host}/api/scim/v2",
            "NEURALTRUST_SCIM_URL holds a user name or password; the SCIM token is sent only "
            "as a bearer token",
        ),
        (
            "NEURALTRUST_SCIM_URL",
            "http://admin:{pw}@{host}/api/scim/v2",
            f"NEURALTRUST_SCIM_URL {USER_INFO}",
        ),
        (
            "NEURALTRUST_SCIM_URL",
            "https://{host}/api/scim/v2?token={pw}",
            f"NEURALTRUST_SCIM_URL {QUERY}",
        ),
        (
            "NEURALTRUST_SCIM_URL",
            "https://{host}/api/scim/v2#{pw}",
            f"NEURALTRUST_SCIM_URL {QUERY}",
        ),
        ("NEURALTRUST_SCIM_URL", "https://127.0.0.1:{pw}/v2", f"NEURALTRUST_SCIM_URL {PORT}"),
        (
            "ENTRASYNC_GRAPH_URL",
            "https://admin:{pw}@{host}",
            "ENTRASYNC_GRAPH_URL holds a user name or password; the Graph access token is sent "
            "only as a bearer token",
        ),
        ("ENTRASYNC_GRAPH_URL", "https://{host}/?tenant={pw}", f"ENTRASYNC_GRAPH_URL {QUERY}"),
        ("ENTRASYNC_GRAPH_URL", "https://127.0.0.1:99999{pw}", f"ENTRASYNC_GRAPH_URL {PORT}"),
        (
            "AZURE_AUTHORITY_HOST",
            "https://{pw}@{host}",
            f"AZURE_AUTHORITY_HOST {USER_INFO}; the app's secret or assertion",
        ),
        ("AZURE_AUTHORITY_HOST", "https://{host}#{pw}", f"AZURE_AUTHORITY_HOST {QUERY}"),
        ("AZURE_AUTHORITY_HOST", "https://{pw}-/", "AZURE_AUTHORITY_HOST has no valid host name"),
    ],
    ids=[
        "SCIM URL with a password",
        "SCIM URL with a password on loopback http (httpx would send Basic auth)",
        "SCIM URL with a query",
        "SCIM URL with a fragment",
        "SCIM URL with a port that is not a number",
        "Graph URL with a password (it would land in the token scope)",
        "Graph URL with a query",
        "Graph URL with a port out of range",
        "authority host with user info",
        "authority host with a fragment",
        "authority host that is not a host name",
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["users"]], ids=["plan", "users"])
def test_an_environment_url_carrying_data_is_refused_before_any_connection(
    command: list[str],
    variable: str,
    value: str,
    message: str,
    endpoints: Listener,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv(variable, value.format(pw=PASSWORD, host=f"127.0.0.1:{endpoints.port}"))

    code, out, err = run(capsys, *command)

    assert code == 1
    assert f"error: {message}" in err
    assert "hint: " in err
    assert "Traceback" not in err
    assert PASSWORD not in out + err
    assert endpoints.accepted == 0


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["groups"], "ENTRASYNC_GRAPH_URL"),
        (["validate", "--online"], "AZURE_AUTHORITY_HOST"),
    ],
    ids=["groups", "validate --online"],
)
def test_the_graph_commands_refuse_the_same_way(
    command: list[str],
    variable: str,
    endpoints: Listener,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv(variable, f"https://admin:{PASSWORD}@127.0.0.1:{endpoints.port}")

    code, out, err = run(capsys, *command)

    assert code == 1
    assert f"error: {variable} {USER_INFO}" in err
    assert PASSWORD not in out + err
    assert endpoints.accepted == 0


def test_a_config_url_with_a_password_is_refused_at_its_line_before_any_connection(
    endpoints: Listener, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.delenv("NEURALTRUST_SCIM_URL")
    Path("mappings.yaml").write_text(
        f"version: 1\nneuraltrust:\n  scim_url: https://admin:{PASSWORD}@127.0.0.1:"
        f"{endpoints.port}/v2\n"
    )

    code, out, err = run(capsys, "plan")

    assert code == 1
    assert "mappings.yaml:3:13: neuraltrust.scim_url: this URL holds a user name or password" in err
    assert PASSWORD not in out + err
    assert endpoints.accepted == 0


@pytest.mark.parametrize(
    "url",
    [
        f"https://x-access-token:{PASSWORD}@ghe.example.com/api/v3",
        f"https://ghe.example.com/api/v3?access_token={PASSWORD}",
    ],
    ids=["user info", "a query"],
)
def test_the_github_api_url_is_held_to_the_same_rule(url: str) -> None:
    env = {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "contoso/access", "GITHUB_API_URL": url}
    with pytest.raises(GitHubError) as caught:
        GitHubContext.from_environ(env)
    assert caught.value.message.startswith("the GitHub API URL (GITHUB_API_URL) ")
    assert PASSWORD not in f"{caught.value.message} {caught.value.hint}"

"""The mappings file's URL keys pass the same check as the environment's, at file:line, and a
refused value is never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.config.loading import load_config
from entrasync.errors import ConfigError

PASSWORD = "fake-config-password-for-tests"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "neuraltrust.scim_url",
            f"https://admin:{PASSWORD}@nt.example.com/api/scim/v2",
            "m.yaml:3:13: neuraltrust.scim_url: this URL holds a user name or password; the "
            "SCIM token is sent only as a bearer token",
        ),
        (
            "neuraltrust.scim_url",
            f"https://nt.example.com/api/scim/v2?key={PASSWORD}",
            "m.yaml:3:13: neuraltrust.scim_url: this URL has a query string or fragment",
        ),
        (
            "entra.graph_url",
            f"https://graph.example.com/#{PASSWORD}",
            "m.yaml:3:14: entra.graph_url: this URL has a query string or fragment",
        ),
        (
            "entra.authority_host",
            f"https://u:{PASSWORD}@login.example.com",
            "m.yaml:3:19: entra.authority_host: this URL holds a user name or password; the "
            "app's secret or assertion is sent only in the token request's body",
        ),
        (
            "entra.authority_host",
            "https://login.example.com:70000",
            "m.yaml:3:19: entra.authority_host: this URL has an invalid port",
        ),
        (
            "entra.graph_url",
            "https://graph.example.com:x",
            "m.yaml:3:14: entra.graph_url: this URL has an invalid port",
        ),
        (
            "entra.graph_url",
            "https://-graph-/",
            "m.yaml:3:14: entra.graph_url: this URL has no valid host name",
        ),
        (
            "entra.graph_url",
            f"ftp://u:{PASSWORD}@graph.example.com",
            "m.yaml:3:14: entra.graph_url: this value is not an https:// URL",
        ),
    ],
    ids=[
        "a SCIM URL with a password",
        "a SCIM URL with a query",
        "a Graph URL with a fragment",
        "an authority host with a password",
        "a port out of range",
        "a port that is not a number",
        "a host name that cannot be",
        "another scheme with a password",
    ],
)
def test_a_url_key_is_refused_at_its_line_without_its_value(
    key: str, value: str, expected: str, tmp_path: Path
) -> None:
    section, name = key.split(".")
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\n{section}:\n  {name}: '{value}'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.removeprefix(tmp_path.as_posix() + "/").startswith(expected)
    assert PASSWORD not in problem
    assert PASSWORD not in f"{caught.value.message} {caught.value.hint}"

"""A NeuralTrust SCIM endpoint nothing answers at: a real connection refused on loopback."""

from __future__ import annotations

import socket

import pytest

from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.scim.client import ScimClient
from entrasync.config.models import Config
from entrasync.errors import EntrasyncError


def test_an_endpoint_that_cannot_be_reached_is_named_with_where_its_url_came_from() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v2"
    environ = {"NEURALTRUST_SCIM_URL": url, "NEURALTRUST_SCIM_TOKEN": "fake-scim-token-for-tests"}
    policy = RetryPolicy(max_retries=0)
    with (
        ScimClient.from_env(Config(version=1), environ, policy=policy) as client,
        pytest.raises(EntrasyncError) as caught,
    ):
        client.get_user("u1")
    assert caught.value.message.startswith(
        f"could not reach the NeuralTrust SCIM endpoint {url} (NEURALTRUST_SCIM_URL): "
    )

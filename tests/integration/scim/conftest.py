"""Fixtures for the SCIM area: the sandbox SCIM server on loopback, started and always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from entrasync.sandbox.scim_server import ScimSandbox
from tests.integration.scim.scenario import SEED, TOKEN


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., ScimSandbox]]:
    started: list[ScimSandbox] = []

    def make(layout: str = "core", **kwargs: Any) -> ScimSandbox:
        kwargs.setdefault("seed", SEED)
        sandbox = ScimSandbox(TOKEN, extension=layout == "extension", **kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()

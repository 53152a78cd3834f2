"""Fixtures for the end-to-end runs: both sandbox servers on loopback, started and stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from tests.integration.e2e.apply_runs import CONFIG, SECRET, TOKEN, World, tenant


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "mappings.yaml").write_text(CONFIG)
    with ExitStack() as stack:
        graph = stack.enter_context(GraphEmulator(tenant(), client_secret=SECRET).start())

        def make_scim(**knobs: Any) -> ScimSandbox:
            return stack.enter_context(ScimSandbox(TOKEN, **knobs).start())

        scim = make_scim(latency=0.25)
        yield World(graph, tmp_path, make_scim, scim, tmp_path / "audit")

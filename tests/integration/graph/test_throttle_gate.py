"""One 429 holds every worker of a GraphClient until its Retry-After, against the emulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from entrasync.adapters.graph.batch import Get, get_batch
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.http import RetryPolicy
from entrasync.adapters.throttle import ThrottleGate
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.graph_server import Request, Response

from .conftest import TENANT, gid, make_config, secret_env

RETRY_AFTER = 0.2
WORKERS = 8
GROUPS = [gid(i) for i in range(1, 9)] * 6  # 48 reads, each group six times
POLICY = RetryPolicy(max_retries=8, base_delay=0.01, max_delay=5.0)


class StampedEmulator(GraphEmulator):
    """The emulator, noting the monotonic instant each Graph request reaches it."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(TENANT, **knobs)
        self.arrivals: list[float] = []
        self._stamps = threading.Lock()

    def _graph(self, request: Request) -> Response:
        with self._stamps:
            self.arrivals.append(time.monotonic())
        return super()._graph(request)


class RecordingGate(ThrottleGate):
    """The client's gate, noting when each hold took effect (same clock as the server)."""

    def __init__(self) -> None:
        super().__init__(POLICY.max_delay)
        self.held_at: list[float] = []

    def hold(self, delay: float) -> float:
        seconds = super().hold(delay)
        self.held_at.append(time.monotonic())
        return seconds


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., StampedEmulator]]:
    started: list[StampedEmulator] = []

    def make(**knobs: Any) -> StampedEmulator:
        emulator = StampedEmulator(**knobs)
        emulator.start()
        started.append(emulator)
        monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_pem_path or "")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_pem_path or "")
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def read_all(emulator: StampedEmulator, gate: ThrottleGate) -> tuple[list[str], list[str]]:
    """48 group GETs from 8 workers sharing one client, then one $batch of 8 lookups."""
    env = secret_env(emulator)
    with GraphClient.connect(make_config([]), env, policy=POLICY, gate=gate) as client:
        client.get(f"groups/{GROUPS[0]}")  # the token first, so the workers start together
        emulator.arrivals.clear()
        with ThreadPoolExecutor(WORKERS) as pool:
            singles = list(pool.map(lambda g: client.get(f"groups/{g}")["displayName"], GROUPS))
        found = get_batch(client, [Get(f"groups/{g}") for g in GROUPS[:8]])
    return singles, [f["displayName"] if isinstance(f, dict) else repr(f) for f in found]


def test_after_a_throttle_no_request_reaches_graph_before_retry_after_and_none_is_lost(
    start: Callable[..., StampedEmulator],
) -> None:
    clean = read_all(start(), ThrottleGate())
    stormy = start(throttle_every=9, retry_after=str(RETRY_AFTER))
    gate = RecordingGate()
    assert read_all(stormy, gate) == clean  # every answer, in order, none lost
    assert stormy.counters["throttled"] >= 5
    assert len(gate.held_at) == stormy.counters["throttled"]
    for held in gate.held_at:
        # Inside a throttle's Retry-After window only requests already past the gate may
        # land (one per other worker); a gate per request would let dozens through.
        inside = [at for at in stormy.arrivals if held < at < held + RETRY_AFTER - 0.05]
        assert len(inside) <= WORKERS - 1
    # The throttled requests' own retries: each waits out the full Retry-After.
    assert max(stormy.arrivals) - min(stormy.arrivals) >= RETRY_AFTER * 2

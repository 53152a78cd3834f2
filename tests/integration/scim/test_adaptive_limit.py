"""Throttled writes against the sandbox SCIM server: the client slows down, none is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

from entrasync.adapters.scim.target import read_target
from entrasync.core.plan import Access, Action
from entrasync.operations.apply import apply_plan
from entrasync.sandbox.scim_server import ScimSandbox
from tests.integration.scim.scenario import (
    ListAudit,
    _change,
    client_for,
    config_for,
    scenario_plan,
)

MakeSandbox = Callable[..., ScimSandbox]
PARALLELISM = 8
CREATES = 64


@dataclass
class Wire(httpx.BaseTransport):
    """The real transport, noting how many requests are on the wire as each one starts and
    after which of them the first 429 came back."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    starts: list[int] = field(default_factory=list)  # requests on the wire, this one included
    first_throttle: int | None = None  # len(starts) when the first 429 came back
    _now: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._now += 1
            self.starts.append(self._now)
        try:
            response = self.inner.handle_request(request)
        finally:
            with self._lock:
                self._now -= 1
        with self._lock:
            if response.status_code == 429 and self.first_throttle is None:
                self.first_throttle = len(self.starts)
        return response


def test_after_a_throttle_fewer_writes_are_in_flight_and_none_is_lost(
    make_sandbox: MakeSandbox,
) -> None:
    # Every 24th write attempt is answered 429 (Retry-After: 0); 20 ms per request, so the
    # eight workers really overlap on the wire.
    sandbox = make_sandbox(latency=0.02, throttle_writes_every=24)
    config = config_for(sandbox)
    wire = Wire()
    wanted = Access("member", ("trustgate",), True)
    with client_for(sandbox, transport=wire, max_connections=PARALLELISM) as client:
        target = read_target(config, client)
        creates = tuple(
            _change(Action.CREATE, None, f"e-{n}", wanted, user=f"u{n}@contoso.com")
            for n in range(CREATES)
        )
        plan = replace(scenario_plan(target), changes=creates)
        before = len(wire.starts)
        report = apply_plan(plan, client, config, ListAudit(), parallelism=PARALLELISM)
        after = {u.user_name.lower() for u in read_target(config, client).users}

    assert report.counts == {"succeeded": CREATES, "failed": 0, "skipped": 0}
    assert {c.user for c in creates} <= after
    assert sandbox.counters.writes == CREATES  # each create once: none lost, none doubled
    assert 1 <= client.limit.cuts <= sandbox.counters.throttled
    assert wire.first_throttle is not None
    writes = wire.starts[before:]
    throttled_at = wire.first_throttle - before
    # Up to the throttle all eight workers were on the wire together. After it the limit is
    # halved, so the writes that follow soon find at most about half of them there. Workers
    # that took their slot just before the halving still go out first, and how many do
    # depends on the scheduler (two on a quiet machine, more under load): look at the next
    # eight writes, not the next one. The exact arithmetic is in tests/unit/test_http.py.
    assert max(writes[:throttled_at]) == PARALLELISM
    assert min(writes[throttled_at : throttled_at + PARALLELISM]) <= PARALLELISM // 2 + 1
    assert max(writes) <= PARALLELISM

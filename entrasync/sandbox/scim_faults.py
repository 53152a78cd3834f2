"""A thin WSGI middleware that gives the sandbox SCIM server a SaaS endpoint's bad days."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Counters:
    """What the server saw: by method, plus the faults it injected."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    throttled: int = 0
    failed: int = 0


class Faults:
    """WSGI middleware: latency; 429 / 503 on every Nth write; death after N writes."""

    def __init__(self, app: WSGIApplication, latency: float) -> None:
        self.app = app
        self.latency = latency
        self.throttle_every = 0
        self.unavailable_every = 0
        self.fail_after: int | None = None
        self.on_death: Callable[[], None] = lambda: None
        self.counters = Counters()
        self.lock = threading.Lock()
        self._attempts = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"]).upper()
        with self.lock:
            self.counters.requests += 1
            self.counters.by_method[method] = self.counters.by_method.get(method, 0) + 1
            fault = self._fault() if method in WRITE_METHODS else None
        if self.latency:
            time.sleep(self.latency)
        if fault is None:
            return self.app(environ, start_response)
        status, retry_after = fault
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status.split()[0],
            "detail": "sandbox fault",
        }
        headers = [("Content-Type", "application/scim+json")]
        if retry_after is not None:
            headers.append(("Retry-After", retry_after))
        start_response(status, headers)
        return [json.dumps(body).encode()]

    def _fault(self) -> tuple[str, str | None] | None:
        """Decide under the lock, so exactly ``fail_after`` writes reach the storage."""
        self._attempts += 1
        if self.fail_after is not None and self.counters.writes >= self.fail_after:
            self.counters.failed += 1
            self.on_death()
            return ("503 Service Unavailable", None)
        if self.throttle_every and self._attempts % self.throttle_every == 0:
            self.counters.throttled += 1
            return ("429 Too Many Requests", "0")
        if self.unavailable_every and self._attempts % self.unavailable_every == 0:
            self.counters.throttled += 1
            return ("503 Service Unavailable", "0")
        self.counters.writes += 1
        return None

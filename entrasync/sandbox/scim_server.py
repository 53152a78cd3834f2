"""A real SCIM 2.0 server (scim2-server, RFC 7643/7644) on loopback, seeded like NeuralTrust.

It runs in-process on a thread, behind a bearer token, so tests, the demo and benchmarks talk to
it over a real socket. A thin WSGI middleware (``scim_faults``) adds the faults a SaaS endpoint
shows: latency, 429/503 on every Nth write, death after N writes (mid-apply), and the paging
bugs and quirks of real servers' listings (:class:`ReadFaults`).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication

from entrasync.sandbox.graph_server import LoopbackServing
from entrasync.sandbox.scim_faults import Counters, Faults, ReadFaults
from entrasync.sandbox.scim_seed import (
    EXTENSION_PRODUCTS,
    EXTENSION_ROLE,
    EXTENSION_SCHEMA,
    Seed,
    SeedUser,
    provider,
    seed_user,
)

__all__ = [
    "EXTENSION_PRODUCTS",
    "EXTENSION_ROLE",
    "EXTENSION_SCHEMA",
    "Counters",
    "ReadFaults",
    "ScimSandbox",
    "SeedUser",
]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Tests and the demo want no access log on stderr."""


class _Server(LoopbackServing, ThreadingMixIn, WSGIServer):
    pass


class ScimSandbox:
    """scim2-server on ``127.0.0.1:<ephemeral>`` with a bearer token, as a context manager."""

    def __init__(
        self,
        token: str,
        *,
        seed: Iterable[Seed] = (),
        extension: bool = False,
        latency: float = 0.0,
        throttle_writes_every: int = 0,
        unavailable_writes_every: int = 0,
        answer_lost_every: int = 0,
        fail_after_writes: int | None = None,
        max_results: int | None = None,
        reads: ReadFaults | None = None,
    ) -> None:
        self.token = token
        self.extension = extension
        self.storage = InMemoryStorage()
        scim_provider = provider(extension, max_results)
        self.app = BearerTokenApplication(
            self.storage,
            scim_provider,
            service=ScimService(scim_provider, secret=secrets.token_urlsafe(32)),
            bearer_tokens=[token],
        )
        self._faults = Faults(self.app, latency)
        self._faults.on_death = self._die
        if reads is not None:
            self._faults.reads = reads
        self._server = self._bind(0)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()
        self._closed = False
        for user in seed:
            self.add_user(user)
        self.set_faults(
            throttle_writes_every=throttle_writes_every,
            unavailable_writes_every=unavailable_writes_every,
            answer_lost_every=answer_lost_every,
            fail_after_writes=fail_after_writes,
        )

    @property
    def counters(self) -> Counters:
        return self._faults.counters

    @property
    def reads(self) -> ReadFaults:
        """The listing faults in force: change a field to turn one on or off."""
        return self._faults.reads

    @property
    def role_attribute(self) -> str:
        return EXTENSION_ROLE if self.extension else "roles"

    @property
    def products_attribute(self) -> str:
        return EXTENSION_PRODUCTS if self.extension else "entitlements"

    def set_faults(
        self,
        *,
        throttle_writes_every: int = 0,
        unavailable_writes_every: int = 0,
        answer_lost_every: int = 0,
        fail_after_writes: int | None = None,
        retry_after: str = "0",
        patch_answer: str = "as made",
    ) -> None:
        """Set the write faults: 429 / 503 (with ``retry_after``) on every Nth write attempt;
        every ``answer_lost_every``-th write carried out and answered 502, as a gateway that
        lost the answer; and death after ``fail_after_writes`` more writes: that write is
        refused with 503 and the server stops, so the client's retry meets a closed port.
        ``patch_answer``: how a PATCH is answered (``scim_faults.Faults.patch_answer``)."""
        with self._faults.lock:
            self._faults.patch_answer = patch_answer
            self._faults.answer_lost_every = answer_lost_every
            self._faults.retry_after = retry_after
            self._faults.throttle_every = throttle_writes_every
            self._faults.unavailable_every = unavailable_writes_every
            self._faults.fail_after = (
                None if fail_after_writes is None else self.counters.writes + fail_after_writes
            )

    def _die(self) -> None:
        threading.Thread(target=self.stop, name="scim-sandbox-death", daemon=True).start()

    def add_user(self, user: Seed) -> dict[str, Any]:
        """Create a user through the server's own SCIM handling (validation, uniqueness)."""
        body = seed_user(user).to_scim(extension=self.extension)
        return self._call("POST", "/Users", body)

    def delete_user(self, user_id: str) -> None:
        """Delete a user behind the client's back (someone removed it in NeuralTrust)."""
        self._call("DELETE", f"/Users/{user_id}")

    def users(self) -> list[dict[str, Any]]:
        """Every user as the server stores it now (SCIM JSON), sorted by userName."""
        found: list[dict[str, Any]] = []
        while True:
            query = {"startIndex": str(len(found) + 1), "count": "1000"}
            page = self._call("GET", "/Users", query=query).get("Resources", [])
            found += page
            if not page:
                return sorted(found, key=lambda u: str(u["userName"]).lower())

    def _call(
        self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        request = ScimRequest(
            method=method,
            base_url=self.url,
            path=path,
            query=dict(query or {}),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
            body=json.dumps(body).encode() if body is not None else b"",
        )
        response = self.app.serve(request)
        payload: dict[str, Any] = response.body or {}
        if response.status.value >= 400:
            raise ValueError(f"sandbox {method} {path}: {response.status.value} {payload}")
        return payload

    def _bind(self, port: int) -> _Server:
        return make_server(
            "127.0.0.1", port, self._faults, server_class=_Server, handler_class=_QuietHandler
        )

    def restart(self) -> ScimSandbox:
        """Serve again on the same port and the same users after a stop (the server is back)."""
        self.stop()
        self.set_faults()
        with self._stop_lock:
            self._server = self._bind(self.port)
            self._closed = False
        return self.start()

    def start(self) -> ScimSandbox:
        if self._thread is not None:  # already serving: a second loop would outlive stop()
            return self
        # A short poll interval keeps stop() (and so every test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="scim-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: later requests get connection refused."""
        with self._stop_lock:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
                self._thread = None
            if not self._closed:
                self._server.server_close()
                self._closed = True

    def __enter__(self) -> ScimSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

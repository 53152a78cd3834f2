"""A real SCIM 2.0 server (scim2-server, RFC 7643/7644) on loopback, seeded like NeuralTrust.

It runs in-process on a thread, behind a bearer token, so tests, the demo and benchmarks talk to
it over a real socket. A thin WSGI middleware adds the faults a SaaS endpoint shows: latency,
429 on every Nth write, and a hard failure after N writes (the server "dies" mid-apply).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from scim2_models import ResourceType, Schema, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
EXTENSION_SCHEMA = "urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User"
EXTENSION_ROLE = f"{EXTENSION_SCHEMA}:role"
EXTENSION_PRODUCTS = f"{EXTENSION_SCHEMA}:products"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class SeedUser:
    """A NeuralTrust-like user to seed the server with."""

    user_name: str
    display_name: str | None = None
    email: str | None = None
    external_id: str | None = None
    active: bool = True
    role: str | None = None
    products: tuple[str, ...] | None = None
    given_name: str | None = None
    family_name: str | None = None

    def to_scim(self, *, extension: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": self.user_name}
        body["active"] = self.active
        if self.display_name:
            body["displayName"] = self.display_name
        if self.email:
            body["emails"] = [{"value": self.email, "type": "work", "primary": True}]
        if self.external_id:
            body["externalId"] = self.external_id
        if self.given_name or self.family_name:
            body["name"] = {"givenName": self.given_name, "familyName": self.family_name}
        if extension:
            ext: dict[str, Any] = {}
            if self.role is not None:
                ext["role"] = self.role
            if self.products is not None:
                ext["products"] = list(self.products)
            if ext:
                body["schemas"].append(EXTENSION_SCHEMA)
                body[EXTENSION_SCHEMA] = ext
        else:
            if self.role is not None:
                body["roles"] = [{"value": self.role, "primary": True}]
            if self.products is not None:
                body["entitlements"] = [{"value": p} for p in self.products]
        return body


Seed = SeedUser | Mapping[str, Any] | Any  # Any: an object with SeedUser's field names


def seed_user(seed: Seed) -> SeedUser:
    """A SeedUser from a SeedUser, a dict, or any object with the same attribute names
    (e.g. ``entrasync.sandbox.tenant.SeedScimUser``)."""
    if isinstance(seed, SeedUser):
        return seed
    if isinstance(seed, Mapping):
        return SeedUser(**dict(seed))
    names = SeedUser.__dataclass_fields__
    return SeedUser(**{n: getattr(seed, n) for n in names if hasattr(seed, n)})


def _extension_schema() -> Schema:
    def attribute(name: str, multi: bool) -> dict[str, Any]:
        return {
            "name": name,
            "type": "string",
            "multiValued": multi,
            "required": False,
            "caseExact": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        }

    return Schema.model_validate(
        {
            "id": EXTENSION_SCHEMA,
            "name": "NeuralTrustUser",
            "description": "NeuralTrust role and product access (sandbox layout)",
            "attributes": [attribute("role", False), attribute("products", True)],
        }
    )


def _provider(extension: bool, max_results: int | None) -> ScimProvider:
    schemas = list(load_default_schemas().values())
    resource_types = list(load_default_resource_types().values())
    if extension:
        schemas.append(_extension_schema())
        user = next(rt for rt in resource_types if rt.id == "User")
        data = user.model_dump()
        data["schemaExtensions"] = [
            *data.get("schemaExtensions", []),
            {"schema": EXTENSION_SCHEMA, "required": False},
        ]
        resource_types = [
            ResourceType.model_validate(data) if rt.id == "User" else rt for rt in resource_types
        ]
    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    if max_results is not None and config.filter is not None:
        config.filter.max_results = max_results
    return ScimProvider.from_discovery(schemas, resource_types, config=config)


@dataclass
class Counters:
    """What the server saw: by method, plus the faults it injected."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    throttled: int = 0
    failed: int = 0


class _Faults:
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


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Tests and the demo want no access log on stderr."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


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
        fail_after_writes: int | None = None,
        max_results: int | None = None,
    ) -> None:
        self.token = token
        self.extension = extension
        self.storage = InMemoryStorage()
        provider = _provider(extension, max_results)
        self.app = BearerTokenApplication(
            self.storage,
            provider,
            service=ScimService(provider, secret=secrets.token_urlsafe(32)),
            bearer_tokens=[token],
        )
        self._faults = _Faults(self.app, latency)
        self._faults.on_death = self._die
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
            fail_after_writes=fail_after_writes,
        )

    @property
    def counters(self) -> Counters:
        return self._faults.counters

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
        fail_after_writes: int | None = None,
    ) -> None:
        """Set the write faults: 429 / 503 (Retry-After: 0) on every Nth write attempt, and
        death after ``fail_after_writes`` more writes: that write is refused with 503 and the
        server stops, so the client's retry meets a closed port."""
        with self._faults.lock:
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


def running(token: str, **kwargs: Any) -> Iterator[ScimSandbox]:
    """A generator form for pytest fixtures: ``yield from running(token, ...)``."""
    with ScimSandbox(token, **kwargs) as sandbox:
        yield sandbox

"""A lean, threaded SCIM 2.0 stand-in for the benchmarks: the wire format of scim2-server, less CPU.

scim2-server validates every resource through pydantic models and spends about 0.8 s of CPU per
1,000-user page on this machine, so a 60,000-user benchmark against it measures the server. This
emulator keeps the users as plain dicts and serves the endpoints entrasync uses, with the same
JSON shapes, status codes and headers as scim2-server
(``tests/integration/benchmarks/test_benchmarks_smoke.py`` compares the two):

- ``GET /v2/Users`` (``startIndex``/``count``, capped at 1,000 like scim2-server's ``maxResults``,
  and a ``userName``/``externalId eq "..."`` filter) answering a ListResponse;
- ``GET``/``PUT``/``PATCH``/``DELETE /v2/Users/{id}``, ``POST /v2/Users`` (409 on a taken
  userName); PATCH answers 204 with an ETag, as scim2-server does without ``attributes``,
  and 412 when its ``If-Match`` is not the user's version;
- ``GET /v2/ServiceProviderConfig``.

Every request waits ``latency`` seconds inside a cap of ``max_concurrency`` concurrent requests
(a SaaS API's round trip and its worker pool); ``throttle_rate`` of the writes are answered 429
with ``Retry-After``, chosen by a seeded generator so runs repeat.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from entrasync.sandbox.graph_server import LISTEN_BACKLOG
from entrasync.sandbox.scim_seed import EXTENSION_PRODUCTS, EXTENSION_ROLE, Seed, seed_user

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_RESULTS = 1000  # scim2-server's default filter.maxResults: its page size
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FILTER = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
# The order scim2-server writes a User's attributes in, so both emit the same documents.
_ORDER = ("schemas", "id", "externalId", "meta", "userName", "name", "displayName", "active")
SERVICE_PROVIDER_CONFIG: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "patch": {"supported": True},
    "bulk": {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576},
    "filter": {"supported": True, "maxResults": MAX_RESULTS},
    "changePassword": {"supported": True},
    "sort": {"supported": True},
    "etag": {"supported": True},
    "authenticationSchemes": [
        {
            "type": "oauthbearertoken",
            "name": "bearer_token",
            "description": "HTTP Bearer Token",
            "specUri": "https://datatracker.ietf.org/doc/html/rfc6750",
        }
    ],
}


@dataclass
class Counters:
    """What the server saw, the same fields as the sandbox's scim2-server counters."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    lists: int = 0  # GET /Users pages
    writes: int = 0  # writes served (not throttled)
    throttled: int = 0
    failed: int = 0
    peak_concurrency: int = 0


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ordered(user: dict[str, Any]) -> dict[str, Any]:
    head = {k: user[k] for k in _ORDER if k in user}
    return head | {k: v for k, v in user.items() if k not in head}


class Store:
    """The users, in creation order (scim2-server's listing order), behind one lock."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.lock = threading.Lock()
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_name: dict[str, str] = {}  # userName lower-cased -> id
        self.order: list[str] = []

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("userName")
        if not isinstance(name, str) or not name:
            raise ScimError(400, "userName is required", "invalidValue")
        with self.lock:
            if name.lower() in self.by_name:
                raise ScimError(
                    409,
                    "One or more of the attribute values are already in use or are reserved",
                    "uniqueness",
                )
            uid, stamp = uuid.uuid4().hex, _now()
            meta = {"resourceType": "User", "created": stamp, "lastModified": stamp}
            meta |= {"location": f"{self.base_url}/Users/{uid}", "version": 'W/"1"'}
            user = {k: v for k, v in body.items() if k not in ("id", "meta")}
            user = _ordered(user | {"id": uid, "meta": meta})
            self.by_id[uid] = user
            self.by_name[name.lower()] = uid
            self.order.append(uid)
            return copy.deepcopy(user)

    def get(self, uid: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._find(uid))

    def _find(self, uid: str) -> dict[str, Any]:
        user = self.by_id.get(uid)
        if user is None:
            raise ScimError(404, f"User {uid!r} not found")
        return user

    def page(
        self, start: int, count: int, where: tuple[str, str] | None, attributes: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            ids = self.order
            if where is not None:
                key, value = where
                ids = [i for i in ids if str(self.by_id[i].get(key, "")).lower() == value.lower()]
            chosen = [self.by_id[i] for i in ids[start - 1 : start - 1 + count]]
            if attributes:
                chosen = [_project(u, attributes) for u in chosen]
            # Serialised under the lock: a page is a consistent snapshot, as in scim2-server.
            resources = json.dumps(chosen)
            total = len(ids)
        head = {"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start}
        head["itemsPerPage"] = len(chosen)
        return {"__raw__": json.dumps(head)[:-1] + ', "Resources": ' + resources + "}"}

    def patch(self, uid: str, body: dict[str, Any], if_match: str | None = None) -> str:
        if PATCH_SCHEMA not in body.get("schemas", ()) or not isinstance(
            body.get("Operations"), list
        ):
            raise ScimError(400, "not a PatchOp request", "invalidSyntax")
        with self.lock:
            user = self._find(uid)
            if if_match is not None and if_match != user["meta"]["version"]:
                raise ScimError(412, "Failed to update. Resource has changed on the server")
            for op in body["Operations"]:
                _apply_op(user, op)
            return self._touch(user)

    def replace(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            user = self._find(uid)
            meta = user["meta"]
            user.clear()
            user.update(_ordered({**body, "id": uid, "meta": meta}))
            self._touch(user)
            return copy.deepcopy(user)

    def delete(self, uid: str) -> None:
        with self.lock:
            user = self._find(uid)
            del self.by_id[uid]
            self.by_name.pop(str(user.get("userName", "")).lower(), None)
            self.order.remove(uid)

    @staticmethod
    def _touch(user: dict[str, Any]) -> str:
        meta = user["meta"]
        version = int(meta["version"][3:-1]) + 1
        meta["version"], meta["lastModified"] = f'W/"{version}"', _now()
        return str(meta["version"])


def _project(user: dict[str, Any], attributes: str) -> dict[str, Any]:
    """``attributes=``: schemas and id always, then what was asked, in the stored order."""
    wanted: dict[str, set[str] | None] = {}
    for name in (a.strip() for a in attributes.split(",") if a.strip()):
        if name.startswith("urn:"):
            schema, _, sub = name.rpartition(":")
            if schema in user.get("schemas", ()):
                wanted.setdefault(schema, set())
                kept = wanted[schema]
                if kept is not None:
                    kept.add(sub)
            else:
                wanted[name] = None
        elif "." in name:  # a sub-attribute (meta.version): that one only, as scim2-server
            parent, _, sub = name.partition(".")
            kept = wanted.setdefault(parent.lower(), set())
            if kept is not None:
                kept.add(sub)
        else:
            wanted[name.lower()] = None
    out: dict[str, Any] = {"schemas": user["schemas"], "id": user["id"]}
    for key, value in user.items():
        if key in out or (key not in wanted and key.lower() not in wanted):
            continue
        subs = wanted.get(key, wanted.get(key.lower()))
        if subs is None or not isinstance(value, dict):
            out[key] = value
        else:
            out[key] = {k: v for k, v in value.items() if k in subs}
    return out


def _apply_op(user: dict[str, Any], op: dict[str, Any]) -> None:
    kind, path, value = str(op.get("op", "")).lower(), op.get("path"), op.get("value")
    if kind not in ("add", "replace", "remove"):
        raise ScimError(400, f"unknown PATCH op {op.get('op')!r}", "invalidSyntax")
    if not path:
        if kind == "remove" or not isinstance(value, dict):
            raise ScimError(400, "a PATCH without path needs an object value", "noTarget")
        for key, item in value.items():
            _apply_op(user, {"op": kind, "path": key, "value": item})
        return
    # An extension path "urn:...:User:attr" lives under the extension's schema key.
    container, name = user, str(path)
    if name.startswith("urn:") and ":" in name:
        schema, _, name = name.rpartition(":")
        if schema not in user.get("schemas", []) and kind != "remove":
            user["schemas"] = [*user.get("schemas", []), schema]
        container = user.setdefault(schema, {})
    *parents, leaf = name.split(".")
    for parent in parents:
        container = container.setdefault(parent, {})
    if kind == "remove":
        container.pop(leaf, None)
    elif kind == "add" and isinstance(container.get(leaf), list) and isinstance(value, list):
        container[leaf] = container[leaf] + [v for v in value if v not in container[leaf]]
    else:
        container[leaf] = value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as with a SaaS API
    # Headers and body leave in one segment, without Nagle: otherwise every response waits
    # for the client's delayed ACK (40 ms on Linux) and the emulator measures TCP, not SCIM.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Benchmarks want no access log."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        emulator = self.server.emulator
        with emulator.slot():
            status, body, headers = emulator.handle(method, self.path, raw, self.headers)
        data = b"" if body is None else _encode(body)
        lines = [f"{self.protocol_version} {status} {HTTPStatus(status).phrase}"]
        lines += [f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        lines.append(f"Content-Length: {len(data)}")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)


def _encode(body: dict[str, Any]) -> bytes:
    raw = body.get("__raw__")
    return (raw if isinstance(raw, str) else json.dumps(body)).encode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    emulator: LeanScim


class LeanScim:
    """The lean SCIM emulator on ``127.0.0.1:<ephemeral>``, as a context manager.

    Its constructor mirrors :class:`entrasync.sandbox.scim_server.ScimSandbox`, so a benchmark
    can swap one for the other.
    """

    def __init__(
        self,
        token: str,
        *,
        seed: Iterable[Seed] = (),
        extension: bool = False,
        latency: float = 0.020,
        max_concurrency: int = 16,
        throttle_rate: float = 0.0,
        retry_after: str = "1",
        random_seed: int = 7,
    ) -> None:
        self.token, self.extension, self.latency = token, extension, latency
        self.throttle_rate, self.retry_after = throttle_rate, retry_after
        self.counters = Counters()
        self._random = random.Random(random_seed)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._active = 0
        self._server = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._server.emulator = self
        self.url = f"http://127.0.0.1:{self._server.server_port}/v2"
        self.store = Store(self.url)
        self._thread: threading.Thread | None = None
        for user in seed:
            self.add_user(user)

    @property
    def role_attribute(self) -> str:
        return EXTENSION_ROLE if self.extension else "roles"

    @property
    def products_attribute(self) -> str:
        return EXTENSION_PRODUCTS if self.extension else "entitlements"

    def add_user(self, user: Seed) -> dict[str, Any]:
        return self.store.create(seed_user(user).to_scim(extension=self.extension))

    def users(self) -> list[dict[str, Any]]:
        """Every user as stored now (SCIM JSON), sorted by userName."""
        with self.store.lock:
            users = copy.deepcopy(list(self.store.by_id.values()))
        return sorted(users, key=lambda u: str(u["userName"]).lower())

    def slot(self) -> _Slot:
        return _Slot(self)

    def handle(
        self, method: str, target: str, raw: bytes, headers: Any
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        scim = {"Content-Type": "application/scim+json", "Cache-Control": "no-cache"}
        with self._lock:
            self.counters.requests += 1
            self.counters.by_method[method] = self.counters.by_method.get(method, 0) + 1
            throttle = method in WRITE_METHODS and self._random.random() < self.throttle_rate
            if throttle:
                self.counters.throttled += 1
        time.sleep(self.latency)
        if throttle:
            error = ScimError(429, "Too many requests").body()
            return 429, error, scim | {"Retry-After": self.retry_after}
        try:
            status, body, extra = self._route(method, target, raw, headers)
        except ScimError as exc:
            # scim2-server answers errors with the Location of the URL asked for.
            where = urlsplit(target).path.removeprefix("/v2").rstrip("/")
            return exc.status, exc.body(), scim | {"Location": f"{self.url}{where}"}
        if method in WRITE_METHODS:
            with self._lock:
                self.counters.writes += 1
        return status, body, scim | extra

    def _route(
        self, method: str, target: str, raw: bytes, headers: Any
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        parts = urlsplit(target)
        path = parts.path.removeprefix("/v2").rstrip("/")
        if path == "/ServiceProviderConfig" and method == "GET":
            location = f"{self.url}/ServiceProviderConfig"
            meta = {"resourceType": "ServiceProviderConfig", "location": location}
            body = {"schemas": SERVICE_PROVIDER_CONFIG["schemas"], "meta": meta}
            extra = {"Content-Location": location, "Location": location}
            return 200, body | SERVICE_PROVIDER_CONFIG, extra
        scheme, _, token = str(headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            return 401, ScimError(401, "Authentication is needed").body(), {}
        if path == "/Users":
            if method == "GET":
                return (
                    200,
                    self._list(dict(parse_qsl(parts.query))),
                    {"Location": f"{self.url}/Users"},
                )
            if method == "POST":
                user = self.store.create(_json(raw))
                location = user["meta"]["location"]
                extra = {"Content-Location": location, "Location": location}
                return 201, user, extra | {"ETag": user["meta"]["version"]}
        elif path.startswith("/Users/"):
            uid, location = path.removeprefix("/Users/"), f"{self.url}{path}"
            if method == "GET":
                user = self.store.get(uid)
                return 200, user, {"Location": location, "ETag": user["meta"]["version"]}
            if method == "PATCH":
                version = self.store.patch(uid, _json(raw), headers.get("If-Match"))
                return 204, None, {"Location": location, "ETag": version}
            if method == "PUT":
                user = self.store.replace(uid, _json(raw))
                return 200, user, {"Location": location, "ETag": user["meta"]["version"]}
            if method == "DELETE":
                self.store.delete(uid)
                return 204, None, {}
        raise ScimError(404, f"No SCIM endpoint at {path!r}")

    def _list(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.counters.lists += 1
        try:
            start = max(1, int(query.get("startIndex", "1")))
            count = min(MAX_RESULTS, max(0, int(query.get("count", str(MAX_RESULTS)))))
        except ValueError:
            raise ScimError(400, "startIndex and count are integers", "invalidValue") from None
        where = None
        if query.get("filter"):
            match = _FILTER.match(query["filter"])
            if match is None:
                raise ScimError(400, f"unsupported filter {query['filter']!r}", "invalidFilter")
            where = (match.group(1).replace("username", "userName"), match.group(2))
        return self.store.page(start, count, where, query.get("attributes", ""))

    def start(self) -> LeanScim:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lean-scim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LeanScim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Slot:
    """One of the ``max_concurrency`` workers; counts the peak in use."""

    def __init__(self, emulator: LeanScim) -> None:
        self.emulator = emulator

    def __enter__(self) -> None:
        em = self.emulator
        em._slots.acquire()
        with em._lock:
            em._active += 1
            em.counters.peak_concurrency = max(em.counters.peak_concurrency, em._active)

    def __exit__(self, *exc: object) -> None:
        em = self.emulator
        with em._lock:
            em._active -= 1
        em._slots.release()


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the body is not a JSON object", "invalidSyntax")
    return body


def running(token: str, **kwargs: Any) -> Iterator[LeanScim]:
    """A generator form for pytest fixtures: ``yield from running(token, ...)``."""
    with LeanScim(token, **kwargs) as emulator:
        yield emulator

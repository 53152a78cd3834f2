"""A loopback Microsoft Graph + identity platform + GitHub OIDC stand-in, for demo, tests, bench.

One server answers all three, so ``ENTRASYNC_GRAPH_URL``, ``AZURE_AUTHORITY_HOST`` and
``ACTIONS_ID_TOKEN_REQUEST_URL`` can all point at it. Knobs inject the failures a real tenant
produces (throttling, 503s, missing permissions, latency) so clients are tested against them.
"""

from __future__ import annotations

import collections
import contextlib
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from entrasync.sandbox.graph_api import GraphApi, NextLinkLoop, PermissionMode
from entrasync.sandbox.graph_auth import AppRegistration
from entrasync.sandbox.graph_batch import run_batch
from entrasync.sandbox.graph_identity import GITHUB_PATH, IdentityPlatform
from entrasync.sandbox.graph_odata import GraphFailure, PageTokens
from entrasync.sandbox.graph_server import LoopbackServer, Request, Response
from entrasync.sandbox.graph_tokens import GitHubOidcSigner, TokenStore
from entrasync.sandbox.tenant import SandboxTenant
from entrasync.sandbox.tls import sandbox_ca

DEFAULT_CLIENT_SECRET = "fake-emulator-client-secret-for-tests"


class GraphEmulator:
    def __init__(
        self,
        tenant: SandboxTenant,
        *,
        tls: bool = True,
        latency: float = 0.0,
        throttle_every: int = 0,
        retry_after: str = "1",
        fail_503_every: int = 0,
        permission_mode: PermissionMode = "full",
        max_concurrency: int | None = None,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        certificate_pem: bytes | None = None,
        federated_subject: str | None = None,
        github_subject: str | None = None,
        next_link_loop: NextLinkLoop = "off",
    ) -> None:
        self.tenant = tenant
        # Plain attributes on purpose: tests may turn a knob between two requests.
        self.latency = latency
        self.throttle_every = throttle_every
        self.retry_after = retry_after
        self.fail_503_every = fail_503_every
        self.permission_mode: PermissionMode = permission_mode
        self.counters: collections.Counter[str] = collections.Counter()
        self.peak_concurrency = 0
        self.tokens = TokenStore()
        self.pages = PageTokens()
        self.signer = GitHubOidcSigner()
        self.identity = IdentityPlatform(
            AppRegistration(
                tenant.tenant_id,
                tenant.client_id,
                client_secret,
                certificate_pem,
                federated_subject,
            ),
            self.tokens,
            self.signer,
            github_subject or federated_subject or "repo:contoso/access:ref:refs/heads/main",
            self._count,
        )
        self.api = GraphApi(tenant, self.pages)
        self.api.next_link_loop = next_link_loop  # a listing's second page links to itself
        self._lock = threading.Lock()
        self._graph_calls = 0
        self._in_flight = 0
        self._slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self._ca = sandbox_ca() if tls else None
        self._server = LoopbackServer(self._handle, self._ca.server_context() if self._ca else None)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> GraphEmulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def ca_pem_path(self) -> str | None:
        return self._ca.pem_path if self._ca else None

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What to pass as httpx ``verify=``: a context trusting the sandbox CA."""
        return self._ca.client_context() if self._ca else True

    @property
    def github_oidc_request_url(self) -> str:
        """ACTIONS_ID_TOKEN_REQUEST_URL: like the real one, it already carries a query."""
        return f"{self.base_url}{GITHUB_PATH}?api-version=2.0"

    @property
    def github_oidc_request_token(self) -> str:
        """ACTIONS_ID_TOKEN_REQUEST_TOKEN: the bearer token the OIDC endpoint wants."""
        return self.identity.github_request_token

    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()
            self._graph_calls = 0
            self.peak_concurrency = 0

    def issue_github_oidc_token(self, subject: str, audience: str, *, lifetime: int = 300) -> str:
        return self.signer.issue(subject, audience, lifetime=lifetime)

    def expire_access_tokens(self) -> None:
        """Every issued access token expires now: the next Graph call gets a 401."""
        self.tokens.expire_all()

    def expire_page_tokens(self) -> None:
        """Every outstanding nextLink goes stale: the next page gets Directory_ExpiredPageToken."""
        self.pages.expire_all()

    # -- dispatch --------------------------------------------------------------------------

    def _count(self, *names: str) -> None:  # thread-safe: handlers run concurrently
        with self._lock:
            self.counters.update(names)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self._slots is not None:
            self._slots.acquire()
        with self._lock:
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            if self._slots is not None:
                self._slots.release()

    def _handle(self, request: Request) -> Response:
        self._count("requests")
        with self._slot():
            if self.latency:
                time.sleep(self.latency)
            try:
                return self._route(request)
            except Exception as exc:  # the emulator must answer, never hang the client
                self._count("500")
                return Response(
                    500, {"error": {"code": "InternalServerError", "message": repr(exc)}}
                )

    def _route(self, request: Request) -> Response:
        if request.path.startswith("/v1.0/"):
            return self._graph(request)
        identity = self.identity.route(request, self.base_url)
        if identity is not None:
            return identity
        return Response(404, {"error": "not_found", "error_description": "no such route"})

    def _graph(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id", request_id)
        headers = {"request-id": request_id, "client-request-id": client_request_id}
        try:
            self._authorize(request)
            if request.path == "/v1.0/$batch" and request.method == "POST":
                self._count("batch")
                body = run_batch(request.body, self._graph_call, self.base_url)
                return Response(200, body, headers)
            status, body, extra = self._graph_call(request)
        except GraphFailure as failure:
            status, extra = failure.status, dict(failure.headers)
            body = failure.body(request_id, client_request_id)
        return Response(status, body, {**headers, **extra})

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        problem = self.tokens.check(token.strip() if scheme.lower() == "bearer" else "")
        if problem is None and self.permission_mode == "no_roles":
            problem = "Either scp or roles claim need to be present in the token."
        if problem is not None:
            self._count("unauthorized")
            raise GraphFailure(
                401,
                "InvalidAuthenticationToken",
                problem,
                (("WWW-Authenticate", 'Bearer realm="", error="invalid_token"'),),
            )

    def _injected_failure(self, request: Request) -> GraphFailure | None:
        """The knobs: the Nth Graph request (top-level or inside a $batch) fails, counted
        over the whole server, so a test with one reader sees a deterministic pattern."""
        with self._lock:
            self._graph_calls += 1
            n = self._graph_calls
        if self.throttle_every and n % self.throttle_every == 0:
            self._count("throttled")
            retry = (("Retry-After", self.retry_after),)
            return GraphFailure(429, "TooManyRequests", "Too many requests.", retry)
        if self.fail_503_every and n % self.fail_503_every == 0:
            self._count("503")
            return GraphFailure(503, "serviceNotAvailable", "Service unavailable.")
        return None

    def _graph_call(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        """One Graph request, top-level or inside a $batch: permissions, knobs, the resource.
        Graph authenticates a $batch as a whole and authorizes each request in it: a denied
        app's $batch is answered 200, each of its requests 403."""
        if self.permission_mode == "denied":
            self._count("forbidden")
            raise GraphFailure(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        injected = self._injected_failure(request)
        if injected is not None:
            raise injected
        if request.method != "GET":
            raise GraphFailure(
                405, "Request_BadRequest", f"{request.method} is not supported here."
            )
        reply = self.api.get(
            self.base_url,
            request.path.removeprefix("/v1.0"),
            request.query,
            request.headers,
            self.permission_mode,
        )
        if reply.counter.startswith("members_page"):
            self._count("members_page")
        self._count(reply.counter)
        return 200, reply.body, {}

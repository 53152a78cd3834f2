"""The NeuralTrust SCIM 2.0 client (RFC 7644) on httpx: paging, writes, and errors translated once.

Payloads are plain JSON dicts: scim2-models validates PATCH paths against the core schemas and
drops unknown extension attributes, and NeuralTrust's extension (if any) is undocumented
(see ``shared/reference/neuraltrust.md`` section 9). scim2-models parses the ``Error`` bodies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from entrasync import __version__
from entrasync.config import DEFAULT_SCIM_URL, Config
from entrasync.errors import AuthError, ScimError
from entrasync.http import AdaptiveLimit, RetryPolicy, TransportError, require_safe_url, send
from entrasync.pool import run_bounded
from entrasync.routing import SCIM_URL
from entrasync.secret import Secret
from entrasync.urls import SENT_SCIM

TOKEN_ENV = "NEURALTRUST_SCIM_TOKEN"
URL_ENV = "NEURALTRUST_SCIM_URL"
SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
FALLBACK_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # even if a server announces more: keeps one response small
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "x-ms-request-id")
WHAT = "the NeuralTrust SCIM endpoint"
TOKEN_HINT = (
    "generate a new token in NeuralTrust Settings → SSO → SCIM Provisioning (regenerating "
    f"revokes the old one at once) and update the {TOKEN_ENV} secret"
)


class ScimAuthError(ScimError, AuthError):
    """401/403 from SCIM: both a credential problem and a SCIM answer (status, request id)."""


@dataclass(frozen=True, slots=True)
class ScimResponse:
    """A successful write: the HTTP status, the server's request id, the resource if returned."""

    status: int
    request_id: str | None
    resource: dict[str, Any] | None


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def error_for(response: httpx.Response, doing: str, *, one_user: bool = False) -> ScimError:
    """Translate a SCIM error response into the one exception the CLI and apply understand.

    ``one_user``: the request named one user (``/Users/{id}``), so a 404 means it vanished;
    elsewhere a 404 means the endpoint URL is wrong.
    """
    status = response.status_code
    request_id = request_id_of(response)
    scim_type, detail = _error_body(response)
    suffix = f" (request id {request_id})" if request_id else ""
    said = f": {detail}" if detail else ""
    if status == 401:
        return ScimAuthError(
            "the NeuralTrust SCIM token is expired or invalid (HTTP 401)" + suffix,
            TOKEN_HINT,
            status=status,
            request_id=request_id,
        )
    if status == 403:
        return ScimAuthError(
            f"NeuralTrust refused {doing} (403 Forbidden){said}{suffix}",
            "SCIM tokens are created by the organization Owner; check that the token's owner "
            "still has that role and that SCIM provisioning is enabled",
            status=status,
            request_id=request_id,
        )
    if status == 409:
        what = "a user with this userName already exists" if scim_type == "uniqueness" else ""
        return ScimError(
            f"NeuralTrust refused {doing}: conflict (409{', ' + scim_type if scim_type else ''})"
            f"{': ' + what if what else said}{suffix}",
            "run `entrasync plan` again: the NeuralTrust state changed",
            status=status,
            request_id=request_id,
        )
    if status == 404 and not one_user:
        return ScimError(
            f"NeuralTrust answered 404 Not Found to {doing}{suffix}: this is not a SCIM endpoint",
            f"check {URL_ENV} / neuraltrust.scim_url: NeuralTrust's ends in /api/scim/v2",
            status=status,
            request_id=request_id,
        )
    if status == 404:
        return ScimError(
            f"the NeuralTrust user vanished while {doing} (404 Not Found){suffix}",
            "someone deleted it in NeuralTrust; run `entrasync plan` again",
            status=status,
            request_id=request_id,
        )
    return ScimError(
        f"NeuralTrust answered {status} to {doing}{said}{suffix}",
        "retry later; if it persists, contact NeuralTrust support with the request id",
        status=status,
        request_id=request_id,
    )


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    # Imported here: scim2-models takes ~0.2 s to import and only error answers need it.
    from pydantic import ValidationError
    from scim2_models import Error

    try:
        error = Error.model_validate(response.json())
    except (ValueError, ValidationError):
        return None, None
    scim_type = str(error.scim_type) if error.scim_type else None
    detail = error.detail[:300] if error.detail else None
    return scim_type, detail


class ScimClient:
    """One NeuralTrust SCIM endpoint behind one bearer token. Thread-safe (httpx.Client)."""

    def __init__(
        self,
        url: str,
        token: Secret,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        max_connections: int = 16,
        limit: AdaptiveLimit | None = None,
    ) -> None:
        # Checked before any socket opens: the token never travels over plain http.
        base = require_safe_url(url.rstrip("/"), WHAT, sent=SENT_SCIM)
        if not token:
            raise AuthError(f"{TOKEN_ENV} is not set", TOKEN_HINT)
        self.url = str(base)
        self._token = token
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        # NeuralTrust documents no rate limits, so a 429 is not read as a shared budget spent
        # (Graph's ThrottleGate stops every request): it halves how many of this client's
        # requests may be in flight, successes grow that back to max_connections, and only
        # the throttled request sleeps its Retry-After (entrasync.http.AdaptiveLimit).
        self.limit = limit if limit is not None else AdaptiveLimit(max_connections)
        self._page_size: int | None = None
        self.max_connections = max_connections  # also the default width of list_users
        self._http = httpx.Client(
            base_url=self.url + "/",
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"Accept": SCIM_JSON, "User-Agent": f"entrasync/{__version__}"},
            follow_redirects=False,
        )

    @classmethod
    def from_env(cls, config: Config, environ: Mapping[str, str], **kwargs: Any) -> ScimClient:
        """URL from NEURALTRUST_SCIM_URL, else the config, else NeuralTrust's hosted endpoint."""
        source = SCIM_URL.resolve(config, environ, DEFAULT_SCIM_URL)
        # Named by where it came from (the variable or the config key), before any request.
        require_safe_url(source.value.rstrip("/"), source.origin, sent=SENT_SCIM)
        return cls(source.value, Secret(environ.get(TOKEN_ENV, "").strip()), **kwargs)

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        if "json" in kwargs:
            headers["Content-Type"] = SCIM_JSON
        return send(
            self._http,
            method,
            path,
            policy=self._policy,
            sleep=self._sleep,
            limit=self.limit,
            what=WHAT,
            headers=headers,
            **kwargs,
        )

    def _request(
        self,
        method: str,
        path: str,
        doing: str,
        ok: Sequence[int],
        *,
        one_user: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        response = self._send(method, path, **kwargs)
        if response.status_code not in ok:
            raise error_for(response, doing, one_user=one_user)
        return response

    def page_size(self) -> int:
        """filter.maxResults from /ServiceProviderConfig when offered (RFC 7643 §5), else 100."""
        if self._page_size is None:
            response = self._send("GET", "ServiceProviderConfig")
            if response.status_code in (401, 403):
                raise error_for(response, "reading /ServiceProviderConfig")
            announced: object = None
            if response.status_code == 200:
                try:
                    announced = (response.json().get("filter") or {}).get("maxResults")
                except (ValueError, AttributeError):
                    announced = None
            self._page_size = FALLBACK_PAGE_SIZE
            if isinstance(announced, int) and announced > 0:
                self._page_size = min(announced, MAX_PAGE_SIZE)
        return self._page_size

    def list_users(
        self, attributes: Sequence[str] = (), *, parallelism: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every user once, in startIndex order (1-based startIndex/count, RFC 7644 §3.4.2.4).

        The first page gives ``totalResults`` and the server's page length; the pages after it
        are fetched concurrently (at most ``parallelism``, default ``max_connections``) and
        yielded in order. Offset paging is not a snapshot: if a page comes back short or
        ``totalResults`` moves mid-read, the read goes on one page after the other from there,
        as a plain sequential read would, and a user met twice (shifted by a concurrent insert)
        is yielded once. A user deleted meanwhile can shift another past the reader, in either
        mode; the plan's state fingerprint, re-read by apply, catches that.
        """
        count = self.page_size()
        params: dict[str, Any] = {"attributes": ",".join(attributes)} if attributes else {}
        seen: set[str] = set()
        first, total = self._users_page(params, 1, count)
        yield from _unseen(first, seen)
        if not first:
            return
        start, step = 1 + len(first), len(first)
        width = self.max_connections if parallelism is None else parallelism
        starts = range(start, total + 1, step)
        if width > 1 and len(starts) > 1:
            pages = run_bounded(lambda at: self._users_page(params, at, count), starts, width)
            try:
                for at, (page, page_total) in zip(starts, pages, strict=True):
                    yield from _unseen(page, seen)
                    start = at + len(page)
                    if page_total != total or len(page) < min(step, total - at + 1):
                        total = page_total  # the collection moved: go on one page at a time
                        break
                else:
                    return
            finally:
                pages.close()  # cancels the pages not fetched yet
        while start <= total:
            page, total = self._users_page(params, start, count)
            if not page:
                return
            yield from _unseen(page, seen)
            # A server may return fewer than asked (RFC 7644 §3.4.2.4): follow what it sent.
            start += len(page)

    def _users_page(
        self, params: Mapping[str, Any], start: int, count: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of /Users: its resources and the totalResults it announces."""
        query = {**params, "startIndex": start, "count": count}
        page = self._request("GET", "Users", "listing users", (200,), params=query).json()
        return list(page.get("Resources") or []), int(page.get("totalResults", 0))

    def find_user(self, user_name: str, attributes: Sequence[str] = ()) -> dict[str, Any] | None:
        """The user whose userName equals ``user_name`` (case-insensitive, RFC 7643 §4.1.1)."""
        escaped = user_name.replace("\\", "\\\\").replace('"', '\\"')
        params: dict[str, Any] = {"filter": f'userName eq "{escaped}"'}
        if attributes:
            params["attributes"] = ",".join(attributes)
        page = self._request(
            "GET", "Users", f"looking up {user_name}", (200,), params=params
        ).json()
        for resource in page.get("Resources") or []:
            if str(resource.get("userName", "")).lower() == user_name.lower():
                return dict(resource)
        return None

    def create_user(self, body: dict[str, Any]) -> ScimResponse:
        response = self._request(
            "POST", "Users", f"creating {body.get('userName')}", (200, 201), json=body
        )
        return _result(response)

    def patch_user(
        self, user_id: str, operations: Sequence[dict[str, Any]], label: str = ""
    ) -> ScimResponse:
        """PATCH with a PatchOp (RFC 7644 §3.5.2); 200 with the resource or 204 are both fine."""
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        response = self._request(
            "PATCH",
            f"Users/{user_id}",
            f"updating {label or user_id}",
            (200, 204),
            one_user=True,
            json=body,
        )
        return _result(response)


def _unseen(resources: Sequence[dict[str, Any]], seen: set[str]) -> Iterator[dict[str, Any]]:
    """Resources whose id was not yielded yet (offset pages can overlap when users move)."""
    for resource in resources:
        key = str(resource.get("id", ""))
        if key:
            if key in seen:
                continue
            seen.add(key)
        yield resource


def _result(response: httpx.Response) -> ScimResponse:
    resource: dict[str, Any] | None = None
    if response.content:
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        resource = parsed if isinstance(parsed, dict) else None
    return ScimResponse(response.status_code, request_id_of(response), resource)


__all__ = [
    "ScimAuthError",
    "ScimClient",
    "ScimResponse",
    "TransportError",
    "error_for",
    "request_id_of",
]

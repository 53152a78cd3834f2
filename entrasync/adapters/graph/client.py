"""One httpx client for Microsoft Graph: paging, retries, and errors translated once, here.

Paging follows ``@odata.nextLink`` as the whole URL and resends our headers on every page
(https://learn.microsoft.com/graph/paging). Retries are the shared policy in
:mod:`entrasync.adapters.http` (429/503/504 with Retry-After, jittered backoff,
bounded). Error bodies are branched on ``error.code``, never on the message (https://learn.microsoft.com/graph/errors).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from entrasync.adapters.graph.auth import (
    StaticTokenProvider,
    TokenProvider,
    make_token_provider,
    resolve_endpoints,
)
from entrasync.adapters.graph.odata import GraphFailure, query, sent_as_error
from entrasync.adapters.http import (
    RETRY_STATUSES,
    RetryPolicy,
    json_of,
    new_client,
    require_safe_url,
    send,
)
from entrasync.adapters.throttle import ThrottleGate, pause
from entrasync.adapters.urls import parsed_url
from entrasync.config.models import Config
from entrasync.core import sanitize
from entrasync.core.redact import holds_credential
from entrasync.errors import AuthError, EntrasyncError, GraphError

log = logging.getLogger(__name__)

PAGE_SIZE = 999  # Graph's maximum $top; 1000 is a 400 (https://learn.microsoft.com/graph/paging)
MAX_LISTING_RESTARTS = 2
# In a row, each with a nextLink. Graph's paging says a page holds "zero or more" items, and
# may send several empty ones in a row; not a thousand.
MAX_EMPTY_PAGES = 1000
# Per listing, generous: 100,000 pages of up to 999 objects are some 100 million directory
# objects, far past any group or tenant entrasync reads. Only a server paging without end
# meets it.
MAX_PAGES = 100_000
PAGING_HINT = (
    "nothing was changed in NeuralTrust: Microsoft Graph's paging misbehaved; run again, and "
    "if it repeats, check ENTRASYNC_GRAPH_URL points at Microsoft Graph"
)
# An answer not shaped as Graph's, where the message cannot name its request-id.
ODD_ANSWER_HINT = (
    "nothing was read; run again with -vv, and if it repeats, report it with the request-ids "
    "-vv logs (one for each answer)"
)
DEFAULT_POLICY = RetryPolicy()
# Graph pages of 999 users take a few seconds on large tenants; connecting should not.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
PERMISSION_HINT = (
    "grant GroupMember.Read.All and User.Read.All (application permissions) to the app "
    "registration with admin consent, then run again"
)
# Graph's error codes for the statuses translate() branches on, for an error sent with 200.
_STATUS_OF_CODE = {
    "InvalidAuthenticationToken": 401,
    "Authorization_RequestDenied": 403,
    "Request_ResourceNotFound": 404,
}
REPLICATION_HINT = (
    "check the group id in the mappings file (`entrasync groups` lists ids); a group created "
    "in the last few minutes may not have replicated to every Graph replica yet, so run again "
    "shortly"
)


def not_json(what: str) -> GraphError:
    """A 200 whose body is no JSON object: no Graph answer, a proxy's or sign-in page."""
    return GraphError(
        f"Microsoft Graph sent a non-JSON answer for {what}",
        "nothing was changed in NeuralTrust; something may answer in Graph's place (a proxy's "
        "or sign-in page): check ENTRASYNC_GRAPH_URL and any proxy on the way, then run again",
    )


class GraphNotFoundError(GraphError):
    """404 ``Request_ResourceNotFound``: a wrong id, or one not replicated yet."""


class ExpiredPageToken(Exception):
    """``Directory_ExpiredPageToken``: the listing must start over (not a user-facing error)."""


MAX_URL = 65_536  # httpx's limit on a URL; Graph's own is lower (about 8 KB of query)


def _unwritable(why: str) -> GraphError:
    """A request whose URL cannot be written: the name or the entry it looks up is at fault,
    not Graph."""
    return GraphError(
        f"cannot ask Microsoft Graph what entrasync needs: the name or entry it looks up cannot "
        f"go into a URL ({why})",
        "check the text given (a group name or SEARCH, a `protected` entry): a group's display "
        "name has at most 256 characters, and an address at most 254",
    )


class GraphClient:
    """Thread-safe (httpx.Client is): directory reads share one client across workers."""

    def __init__(
        self,
        api_base: str,
        token: TokenProvider,
        *,
        http: httpx.Client | None = None,
        environ: Mapping[str, str] | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = pause,
        gate: ThrottleGate | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.api_base = str(require_safe_url(api_base.rstrip("/"), "the Microsoft Graph URL"))
        self._origin = httpx.URL(self.api_base)
        self._token = token
        self._http = http if http is not None else new_client(environ, timeout=TIMEOUT)
        # Public for the $batch reader (entrasync.adapters.graph.batch): inner 429s wait under
        # the same policy, and tests swap the sleep.
        self.policy = policy
        self.sleep = sleep
        # Graph throttles per app and tenant, not per request: a 429 on one worker holds
        # every request of this client (the $batch's inner ones too) until its Retry-After.
        self.gate = gate if gate is not None else ThrottleGate(policy.longest_asked, sleep=sleep)
        self.max_pages = max_pages  # per listing: a server cannot keep the reader paging

    @classmethod
    def connect(
        cls,
        config: Config,
        environ: Mapping[str, str],
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = pause,
        gate: ThrottleGate | None = None,
    ) -> GraphClient:
        """Endpoints and credentials from config + environment (docs/entra.md)."""
        endpoints = resolve_endpoints(config, environ)
        token = make_token_provider(config, environ)
        return cls(
            endpoints.api_base, token, environ=environ, policy=policy, sleep=sleep, gate=gate
        )

    def close(self) -> None:
        self._http.close()
        close_token = getattr(self._token, "close", None)  # msal's requests session
        if callable(close_token):
            close_token()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        url = f"{self.api_base}/{path.lstrip('/')}"
        try:
            url = f"{url}?{query(params)}" if params else url
        except UnicodeEncodeError:  # a name given as bytes that are not UTF-8 (a lone surrogate)
            raise _unwritable("it holds text that is not UTF-8") from None
        if len(url) > MAX_URL:  # httpx refuses it (InvalidURL), and Graph would too
            raise _unwritable(f"it is longer than {MAX_URL:,} characters")
        return url

    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, what: str = "Microsoft Graph"
    ) -> dict[str, Any]:
        """One GET; ``what`` names the object in error messages ("group 0b3f…")."""
        return self._exchange(self.url(path, params), what)[0]

    def post_read(
        self, path: str, body: dict[str, Any], *, what: str
    ) -> tuple[dict[str, Any], httpx.Response]:
        """One POST that only reads (``$batch`` of GETs): retried and translated like a GET.
        Its answer's body, and the answer: the request of it holds the credential of its inner
        answers, and its Date is their Date."""
        return self._exchange(self.url(path), what, body=body)

    def paged(
        self, path: str, params: Mapping[str, str] | None = None, *, what: str = "Microsoft Graph"
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` until it is absent."""
        first = self.url(path, {"$top": str(PAGE_SIZE), **(params or {})})
        earlier: set[str] = set()  # yielded by passes before a restart: skipped
        seen: set[str] = set()  # yielded by this pass: met again, the paging repeats
        for restart in range(MAX_LISTING_RESTARTS + 1):
            earlier |= seen
            seen = set()
            try:
                for page in self._pages(first, what):
                    items = page.get("value")
                    # Complete reads or none: a page that lists nothing is no empty page.
                    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                        raise GraphError(
                            f"Microsoft Graph answered a page of {what} without its list "
                            "of items (value, each an object)",
                            PAGING_HINT,
                        )
                    for item in items:
                        named = item.get("id")
                        key = named if isinstance(named, str) else ""
                        if key and key in seen:
                            raise GraphError(
                                f"Microsoft Graph listed {sanitize.text(key)} twice while "
                                f"listing {what}: its paging repeats",
                                PAGING_HINT,
                            )
                        if key:
                            seen.add(key)
                        if not key or key not in earlier:
                            yield item
                return
            except ExpiredPageToken:
                log.info("Graph paging token expired reading %s; restarting (%d)", what, restart)
        raise GraphError(
            f"the listing of {what} kept expiring (Directory_ExpiredPageToken)",
            "run again; if it persists, Graph is struggling with this collection",
        )

    def _pages(self, first: str, what: str) -> Iterator[dict[str, Any]]:
        """A listing's pages in order. A nextLink met twice (a loop) or a listing past
        ``max_pages`` stops the read: the link is checked before it is followed, so neither
        costs a request more."""
        followed = {first}
        listing = httpx.URL(first).path.lower()
        empty = 0  # pages in a row without items
        url: str | None = first
        while url is not None:
            page = self._exchange(url, what, paging=True)[0]
            # A page may be empty and still carry a nextLink; not page after page.
            empty = 0 if page.get("value") else empty + 1
            url = self._same_origin(page.get("@odata.nextLink"))
            if url is not None:
                self._check_next(url, followed, what, listing, empty)
                followed.add(url)
            yield page

    def _check_next(
        self, link: str, followed: set[str], what: str, listing: str, empty: int
    ) -> None:
        if httpx.URL(link).path.lower() != listing:
            raise GraphError(
                f"Microsoft Graph sent a nextLink to another listing while listing {what}",
                PAGING_HINT,
            )
        if empty > MAX_EMPTY_PAGES:
            raise GraphError(
                f"Microsoft Graph sent {empty:,} empty pages in a row while listing {what}, "
                "each with a nextLink: its paging makes no progress",
                PAGING_HINT,
            )
        if link in followed:
            raise GraphError(
                f"Microsoft Graph sent a nextLink it had already sent while listing {what} "
                f"(after {len(followed):,} pages): its paging loops",
                PAGING_HINT,
            )
        if len(followed) >= self.max_pages:
            raise GraphError(
                f"Microsoft Graph kept paging the listing of {what} past {self.max_pages:,} "
                "pages, more than any Entra listing holds",
                PAGING_HINT,
            )

    def _same_origin(self, link: object) -> str | None:
        if link is None:
            return None
        url = parsed_url(str(link))
        if url is None:
            raise GraphError(
                "Microsoft Graph returned a nextLink that is not a valid URL", PAGING_HINT
            )
        # The bearer token goes only where Graph lives, even if a nextLink says otherwise.
        origin = self._origin
        if (url.scheme, url.host, url.port) != (origin.scheme, origin.host, origin.port):
            if not url.host:
                said = "that is not an absolute URL"
            elif url.host != origin.host:
                said = f"to another host ({url.host})"
            elif url.scheme != origin.scheme:
                said = f"over {url.scheme}:// instead of {origin.scheme}://"
            else:
                said = f"to another port ({url.port})"
            raise GraphError(
                f"Microsoft Graph returned a nextLink {sanitize.text(said)}",
                "check ENTRASYNC_GRAPH_URL; entrasync does not send the token elsewhere",
            )
        if url.userinfo:
            # httpx would send the link's user and password instead of the token, and the
            # refusal would read as an empty token.
            raise GraphError(
                "Microsoft Graph returned a nextLink carrying a user name or password",
                "check ENTRASYNC_GRAPH_URL and any proxy on the way: Graph's links carry none",
            )
        return str(link)

    def _exchange(
        self, url: str, what: str, body: dict[str, Any] | None = None, *, paging: bool = False
    ) -> tuple[dict[str, Any], httpx.Response]:
        """One request, retried, its answer checked: its body, and the answer. ``paging``: a
        page of :meth:`paged`, whose expired page token starts the listing over (elsewhere it
        is an error)."""
        method = "GET" if body is None else "POST"
        rejected: str | None = None
        while True:
            client_request_id = str(uuid.uuid4())
            token = self._token(rejected=rejected)
            response = send(
                self._http,
                method,
                url,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                    "client-request-id": client_request_id,
                },
                policy=self.policy,
                sleep=self.sleep,
                gate=self.gate,
                on_retry=_log_retry,
                what="Microsoft Graph",
                idempotent=True,  # every request here reads, a $batch of GETs included
                json=body,
            )
            log.debug(
                "%s %s -> %s (client-request-id %s, request-id %s)",
                method,
                response.url.path,
                response.status_code,
                client_request_id,
                response.headers.get("request-id"),
            )
            if response.status_code == 200:
                if holds_credential(response.content):
                    raise GraphError(
                        f"Microsoft Graph's answer while reading {what} holds a credential "
                        "entrasync sent it (its own Authorization header, echoed): nothing of "
                        "it is used",
                        "the Graph URL does not answer as Microsoft Graph does: check "
                        "ENTRASYNC_GRAPH_URL and any proxy between the runner and it",
                    )
                try:
                    body = json_of(response)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise not_json(what)
                if sent_as_error(body, "value"):
                    # An error sent with 200 (a proxy, a gateway): its code says what it is.
                    raise self.translate(GraphFailure.of(response), what)
                return body, response
            failure = GraphFailure.of(response)
            if (
                failure.status == 401
                and failure.code == "InvalidAuthenticationToken"
                and rejected is None
                and not isinstance(self._token, StaticTokenProvider)
            ):
                rejected = token  # once: an expired, revoked or rotated token, or new consent
                continue
            if failure.code == "Directory_ExpiredPageToken" and paging:
                raise ExpiredPageToken()
            raise self.translate(failure, what)

    def translate(self, failure: GraphFailure, what: str) -> EntrasyncError:
        """The one error a failed read of ``what`` becomes (a top-level or a $batch answer)."""
        status = failure.status
        if status == 200:  # an error sent with 200 (a proxy, a gateway): its code says what
            status = _STATUS_OF_CODE.get(failure.code, status)
        if status == 403:
            hint = PERMISSION_HINT
            if isinstance(self._token, StaticTokenProvider):  # no app registration involved
                hint = (
                    "the token in ENTRASYNC_GRAPH_TOKEN lacks GroupMember.Read.All and "
                    "User.Read.All: grant them to whoever it is for (a managed identity's, as "
                    "application permissions with admin consent), or use the app "
                    "registration's credentials instead (a user's token from `az login` "
                    "carries that user's permissions)"
                )
            # Reading the members of a group whose membership is hidden takes one more
            # permission (docs/entra.md).
            hint += "; a group with hidden membership also needs Member.Read.Hidden"
            return AuthError(f"Microsoft Graph denied reading {what} ({failure.label()})", hint)
        if status == 401:
            detail = f": {failure.message}" if failure.message else ""
            if isinstance(self._token, StaticTokenProvider):
                hint = (
                    "the token in ENTRASYNC_GRAPH_TOKEN is expired or not for this Graph "
                    "(ENTRASYNC_GRAPH_URL): get a new one with `az account get-access-token "
                    "--resource-type ms-graph --query accessToken -o tsv`"
                )
            else:
                hint = (
                    f"{PERMISSION_HINT}; the token must be for the same cloud as "
                    "ENTRASYNC_GRAPH_URL (a token carries no roles until admin consent)"
                )
            return AuthError(
                f"Microsoft Graph rejected the access token ({failure.label()}){detail}", hint
            )
        if status == 404:
            message = f"{what} was not found in Entra ({failure.label()})"
            if failure.status != 404:  # said with 200 by a proxy: no lookup may take it as none
                return GraphError(message, REPLICATION_HINT)
            return GraphNotFoundError(message, REPLICATION_HINT)
        if failure.status in RETRY_STATUSES and failure.asked:
            return GraphError(
                f"Microsoft Graph answered {failure.status} reading {what}{failure.asked} "
                f"({failure.label()})",
                "Graph is throttling this app in this tenant, whose other apps share the budget: "
                "run again once that time has passed"
                if failure.status == 429
                else "Graph is unavailable: run again once that time has passed",
            )
        if failure.status in RETRY_STATUSES:
            return GraphError(
                # Retries end at max_retries or when the waits reach longest_asked in all.
                f"Microsoft Graph kept answering {failure.status} reading {what} through every "
                f"retry entrasync sends ({failure.label()})",
                "Graph is throttling or unavailable; other apps in the tenant share the "
                "budget: run again in a few minutes",
            )
        detail = f": {failure.message}" if failure.message else ""
        return GraphError(
            f"Microsoft Graph could not read {what} ({failure.label()}){detail}",
            "if this repeats, report it with the request-id above"
            if failure.request_id
            else "if this repeats, report this message",
        )


def _log_retry(response: httpx.Response | None, delay: float) -> None:
    status = response.status_code if response is not None else "connection error"
    log.info("Microsoft Graph answered %s; retrying in %.2fs", status, delay)

"""The NeuralTrust SCIM 2.0 client (RFC 7644) on httpx: paging, writes, and errors translated once.

Payloads are plain JSON dicts: scim2-models validates PATCH paths against the core schemas and
drops unknown extension attributes, and NeuralTrust's extension (if any) is undocumented
(see docs/neuraltrust-scim.md). scim2-models parses the ``Error`` bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

from entrasync.adapters.http import (
    RetryPolicy,
    TransportError,
    json_of,
    new_client,
    require_safe_url,
    send,
)
from entrasync.adapters.scim.answers import (
    FOREIGN_HINT,
    TOKEN_ENV,
    ForeignAnswer,
    ScimResponse,
    Where,
    error_for,
    is_error,
    not_scim,
    refuse_echoed_credential,
    refuse_error_body,
    result_of,
)
from entrasync.adapters.scim.attributes import (
    LIST_SPELLING,
    SpeltTwice,
    as_spelt,
    get_ci,
    names_extension,
)
from entrasync.adapters.scim.paging import (
    IncompleteListingError,
    Listing,
    Page,
    as_integer,
    end_unproven,
    fetch_ahead,
    one_user_page_disagrees,
    parse_page,
    unproven,
)
from entrasync.adapters.throttle import AdaptiveLimit, pause
from entrasync.adapters.urls import SENT_SCIM
from entrasync.config.models import DEFAULT_SCIM_URL, Config
from entrasync.config.routing import SCIM_URL
from entrasync.core.secret import Secret, bearer
from entrasync.errors import AuthError, ScimError

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
FALLBACK_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # even if a server announces more: keeps one response small
WHAT = "the NeuralTrust SCIM endpoint"


def user_path(user_id: str) -> str:
    """``Users/{id}``, the id percent-encoded whole: it is any string the server chose (RFC 7643
    §3.1), and a ``/``, ``?``, ``#`` or ``%`` left in it would address another resource."""
    return "Users/" + quote(user_id, safe="")


ONCE = RetryPolicy(max_retries=0)  # a read-back after a lost write: one try, not the budget


def _named(resource: dict[str, Any], user_name: str) -> bool:
    """``resource`` has ``user_name`` (userName, in any case, its name in any case too)."""
    try:
        name = get_ci(resource, "userName")
    except SpeltTwice:
        return False  # either spelling may be its name: it is taken for no one
    return str(name or "").lower() == user_name.lower()


def _said_as_any_read(refusal: ScimError) -> bool:
    """A refusal of a page asked to prove a list's end that is told as for any read (a
    credential, or a server that is not answering), not taken as a sign of where it ends."""
    status = refusal.status
    return status is None or status in (401, 403, 429) or status >= 500


class ScimClient:
    """One NeuralTrust SCIM endpoint behind one bearer token. Thread-safe (httpx.Client)."""

    def __init__(
        self,
        url: str,
        token: Secret,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = pause,
        timeout: float = 30.0,
        max_connections: int = 16,
        limit: AdaptiveLimit | None = None,
        origin: str | None = None,
    ) -> None:
        """``origin``: where the URL came from (a variable, the config, the default), which
        errors name with the URL: a connection error says which endpoint it could not reach."""
        # Checked before any socket opens: the token never travels over plain http.
        base = require_safe_url(url.rstrip("/"), WHAT, sent=SENT_SCIM)
        # The URL passed the check above: it holds no user info, query or fragment to hide.
        self._where = Where(f"{base}" + (f" ({origin})" if origin else ""))
        self._what = f"{WHAT} {self._where.at}"
        if not token:
            raise AuthError(
                f"{TOKEN_ENV} is not set: entrasync needs NeuralTrust's SCIM token to read users",
                f"export {TOKEN_ENV}=<token>; the organization Owner creates it in NeuralTrust "
                "Settings → SSO → SCIM Provisioning (in CI: a secret mapped into the step's env)",
            )
        self.url = str(base)
        self._token = token
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        # Asked before each retry: an apply that is stopping sets it, so no write is retried.
        self.give_up: Callable[[], bool] | None = None
        # NeuralTrust documents no rate limits, so a 429 is not read as a shared budget spent
        # (Graph's ThrottleGate stops every request): it halves how many of this client's
        # requests may be in flight, successes grow that back to max_connections, and only
        # the throttled request sleeps its Retry-After (entrasync.adapters.throttle.AdaptiveLimit).
        self.limit = limit if limit is not None else AdaptiveLimit(max_connections)
        self._page_size: int | None = None
        self._etags = False  # /ServiceProviderConfig says etag.supported (read with the size)
        self._attributes_refused = False  # set once a 400 refused an extension in attributes=
        self.max_connections = max_connections  # also the default width of list_users
        self._http = new_client(
            base_url=self.url + "/",
            transport=transport,
            timeout=timeout,
            max_connections=max_connections,
            headers={"Accept": SCIM_JSON},
        )

    @classmethod
    def from_env(cls, config: Config, environ: Mapping[str, str], **kwargs: Any) -> ScimClient:
        """URL from NEURALTRUST_SCIM_URL, else the config, else NeuralTrust's hosted endpoint."""
        source = SCIM_URL.resolve(config, environ, DEFAULT_SCIM_URL)
        url = source.value.strip()  # as the Graph URLs and the token are: a pasted newline
        # Named by where it came from (the variable or the config key), before any request.
        require_safe_url(url.rstrip("/"), source.origin, sent=SENT_SCIM)
        token = bearer(TOKEN_ENV, environ.get(TOKEN_ENV, ""))
        return cls(url, token, origin=source.origin, **kwargs)

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        retries: bool = True,
        if_match: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        if "json" in kwargs:
            headers["Content-Type"] = SCIM_JSON
        if if_match is not None:
            headers["If-Match"] = if_match
        response = send(
            self._http,
            method,
            path,
            policy=self._policy if retries else ONCE,
            sleep=self._sleep,
            give_up=self.give_up,
            limit=self.limit,
            what=self._what,
            # A create sent twice meets 409 and is looked up (apply), a PATCH sets the same
            # values: a write answered 504 is sent again.
            resend=True,
            headers=headers,
            **kwargs,
        )
        # The users take this token here: a later 401 is the token's alone. Not proven by
        # /ServiceProviderConfig, which a server may serve to anyone (RFC 7644 §4).
        if response.is_success and path.startswith("Users") and not self._where.proven:
            self._where = replace(self._where, proven=True)
        return response

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
        status = response.status_code
        if status < 400 and status not in ok:
            # A 202 or a redirect (a sign-in gateway's) says nothing of whether the write was
            # made: apply reads the user back, as for a foreign body, and starts no other write.
            raise ForeignAnswer(
                f"NeuralTrust answered {status} to {doing}, where SCIM answers "
                f"{' or '.join(map(str, ok))}: the write may or may not have been made",
                f"{FOREIGN_HINT}, then run `entrasync plan` to see what is in place",
                response,
            )
        if status not in ok:
            raise error_for(response, doing, one_user=one_user, where=self._where)
        refuse_error_body(response, doing, one_user=one_user, where=self._where)
        return response

    def page_size(self) -> int:
        """filter.maxResults from /ServiceProviderConfig when offered (RFC 7643 §5), else 100.
        The same answer says whether the server versions users with ETags (``etag.supported``):
        then the listing asks for ``meta.version`` and writes carry ``If-Match``."""
        if self._page_size is None:
            response = self._send("GET", "ServiceProviderConfig")
            status = response.status_code
            # Only a server without the endpoint falls back. A throttle or an outage that
            # outlasts the retries stops the run: taking the defaults then would also drop
            # If-Match, and a write would overwrite a hand change unseen.
            if status in (401, 403, 408, 429) or (status >= 500 and status != 501):
                raise error_for(response, "reading /ServiceProviderConfig", where=self._where)
            announced: object = None
            etag: object = None
            if status == 200:
                try:  # names in any case (RFC 7643 §2.1): an `eTag` dropped If-Match
                    config = json_of(response)
                    announced = get_ci(get_ci(config, "filter") or {}, "maxResults")
                    etag = get_ci(get_ci(config, "etag") or {}, "supported")
                except (ValueError, AttributeError, TypeError):
                    announced = etag = None
            self._page_size = FALLBACK_PAGE_SIZE
            if isinstance(announced, int) and announced > 0:
                self._page_size = min(announced, MAX_PAGE_SIZE)
            self._etags = etag is True
        return self._page_size

    @property
    def etags(self) -> bool:
        """Whether /ServiceProviderConfig announced ETags (read by :meth:`page_size`)."""
        return self._etags

    def list_users(
        self, attributes: Sequence[str] = (), *, parallelism: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every user once, in startIndex order (1-based startIndex/count, RFC 7644 §3.4.2.4),
        or an :class:`IncompleteListingError` (see :mod:`entrasync.adapters.scim.paging`).

        The first page gives ``totalResults`` and the server's page length; the pages after it
        are fetched concurrently (at most ``parallelism`` in flight, default
        ``max_connections``) and yielded in order. A page of another length makes the read go
        on one page after the other from where it ended, as a plain sequential read would.
        Every page is checked as it comes: a listing that moved, repeats users, skips pages or
        claims more than it lists stops the read, so nothing is planned on part of NeuralTrust.
        """
        count = self.page_size()
        if attributes and self._etags:  # each user's version, for the If-Match of its write
            attributes = (*attributes, "meta.version")
        params: dict[str, Any] = {"attributes": ",".join(attributes)} if attributes else {}
        width = max(1, self.max_connections if parallelism is None else parallelism)
        first = self._users_page(params, 1, count)
        listing = Listing(first, count, 2 * width)
        yield from listing.accept(first)
        step = len(first.resources)
        start = 1 + step
        last, short = step, int(step < count)  # the last page's length; pages short of count
        if width > 1 and step and start <= listing.total:
            starts = range(start, listing.total + 1, step)
            fetch = partial(self._users_page, params, count=count)
            pages = fetch_ahead(fetch, starts, width, listing.charge)
            try:
                for page in pages:
                    yield from listing.accept(page)
                    start, last = page.start + len(page.resources), len(page.resources)
                    short += last < count
                    if len(page.resources) != min(step, listing.total - page.start + 1):
                        break  # a page of another length: the pages asked after it are off
            finally:
                pages.close()  # cancels the pages not asked yet
        while listing.read < listing.total:
            listing.charge()
            page = self._users_page(params, start, count=count)
            yield from listing.accept(page)
            # A server may return fewer than asked (RFC 7644 §3.4.2.4): follow what it sent.
            start, last = start + len(page.resources), len(page.resources)
            short += last < count
        alone = listing.requests == 1
        if alone and 0 < step < count:
            # The whole list came in a short first page, which is what a server that gives
            # each page's own length as totalResults says too: a one-user page counts it.
            listing.charge()
            self._count_alone(params, listing)
        # Pages as long as asked, then a shorter one, end a list. Any other read may end where
        # a totalResults that undercounts says (a server capping it, and its pages below
        # count, or at a result window): the page after it must be empty, or refused as past
        # the server's end.
        if step and not (not alone and short == 1 and last < count):
            listing.charge()
            self._prove_end(params, listing, start, count)

    def _count_alone(self, params: Mapping[str, Any], listing: Listing) -> None:
        """A one-user page must claim the one-page list's totalResults: a server may give each
        page's own length as its total. One that ignores count=1 answers the page again, which
        says no more; the page after the list, asked next, shows the rest."""
        try:
            page = self._users_page(params, 1, count=1)
        except IncompleteListingError:
            raise
        except ScimError as exc:
            if _said_as_any_read(exc):
                raise
            raise unproven(exc) from None
        if page.total != listing.total:
            raise one_user_page_disagrees(page.total, listing.total)

    def _prove_end(
        self, params: Mapping[str, Any], listing: Listing, after: int, count: int
    ) -> None:
        """The page ``after`` the last user read must come back empty (whatever totalResults
        it then claims: a server counting the rows of the page asked says 0); users past the
        end, or a list that moved, stop the read. A 4xx (other than 401, 403 and 429) says it
        is past the end, as an empty page does, once :meth:`_prove_refusal_ends` finds the
        last user there."""
        try:
            page = self._users_page(params, after, count=count)
        except IncompleteListingError:
            raise
        except ScimError as exc:
            if _said_as_any_read(exc):
                raise
            self._prove_refusal_ends(params, listing, after, exc)
            return
        if page.resources:
            listing.accept(page)

    def _prove_refusal_ends(
        self, params: Mapping[str, Any], listing: Listing, after: int, refusal: ScimError
    ) -> None:
        """A page refused just after the last user read is past the end only if the server
        still lists that last user there: one that caps totalResults at a window of its index
        and refuses to page past it (a search index's "result window") refuses a page reaching
        past the window too, or lists more users than it claims."""
        listing.charge()
        try:
            page = self._users_page(params, after - 1, count=2)
        except IncompleteListingError:
            raise
        except ScimError as exc:
            if _said_as_any_read(exc):
                raise
            raise end_unproven(after, refusal) from None
        if page.total != listing.total or [str(r["id"]) for r in page.resources] != [listing.last]:
            listing.accept(replace(page, resources=page.resources[1:]))  # says how it differs
            raise end_unproven(after, refusal)

    def _users_page(self, params: Mapping[str, Any], start: int, count: int) -> Page:
        """One page of /Users, checked to be a ListResponse answering ``startIndex=start``."""
        body = self._get_users({**params, "startIndex": start, "count": count}, "listing users")
        if body is None:  # a proxy's or sign-in page: no server's paging to report
            raise not_scim("listing users", "JSON")
        return parse_page(body, start)

    def _get(self, path: str, query: Mapping[str, Any], *, retries: bool = True) -> httpx.Response:
        """GET ``path`` with ``query``.

        Some servers answer 400 to an extension URN in ``attributes=`` (RFC 7644 §3.4.2.5
        allows it): the request is then sent again without ``attributes``, reading the full
        resources, which hold the extension, and once that is answered ``attributes`` is left
        out of this client's reads from then on.
        """
        without = {k: v for k, v in query.items() if k != "attributes"}
        if self._attributes_refused:
            query = without
        response = self._send("GET", path, retries=retries, params=query)
        if response.status_code == 400 and names_extension(str(query.get("attributes", ""))):
            response = self._send("GET", path, retries=retries, params=without)
            self._attributes_refused = response.status_code in (200, 404)
        return response

    def _get_users(self, query: Mapping[str, Any], doing: str, *, retries: bool = True) -> object:
        """GET /Users with ``query``: the JSON answer (None if it is not JSON)."""
        response = self._get("Users", query, retries=retries)
        if response.status_code != 200:
            raise error_for(response, doing, where=self._where)
        refuse_echoed_credential(response, doing)
        try:
            body = json_of(response)
        except ValueError:
            return None
        refuse_error_body(response, doing, body=body, where=self._where)
        return body

    def find_user(
        self,
        user_name: str,
        attributes: Sequence[str] = (),
        *,
        list_all: bool = True,
        retries: bool = True,
    ) -> dict[str, Any] | None:
        """The user whose userName equals ``user_name``, case-insensitively (RFC 7643 §4.1.1).

        Some servers' ``eq`` filter is case-exact all the same: after the filter on the name
        as given finds nothing, the lower-cased name is tried, then (``list_all``) every user is
        listed and compared (one listing, only when a create met a 409 and the filters found no
        one: the server says the name is taken).
        """
        for name in dict.fromkeys((user_name, user_name.lower())):
            found = self._filter_user(name, user_name, attributes, retries)
            if found is not None:
                return found
        if not list_all:
            return None
        for resource in self.list_users(attributes):
            if _named(resource, user_name):
                return dict(resource)
        return None

    def _filter_user(
        self, name: str, user_name: str, attributes: Sequence[str], retries: bool = True
    ) -> dict[str, Any] | None:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        params: dict[str, Any] = {"filter": f'userName eq "{escaped}"'}
        if attributes:
            params["attributes"] = ",".join(attributes)
        doing = f"looking up {user_name}"
        page = self._get_users(params, doing, retries=retries)
        # A ListResponse says how many it found (RFC 7644 §3.4.2); Resources may be left out
        # when that is none.
        try:
            page = as_spelt(page, LIST_SPELLING) if isinstance(page, dict) else page
        except SpeltTwice as twice:
            raise ScimError(
                f"NeuralTrust answered {doing} with {twice.name} twice ({twice.first}, "
                f"{twice.second}): which one holds the users is a guess",
                "report it to NeuralTrust support: a SCIM answer names each attribute once",
            ) from None
        listed = isinstance(page, dict) and as_integer(page.get("totalResults")) is not None
        resources = page.get("Resources", []) if listed and isinstance(page, dict) else None
        if not isinstance(resources, list):
            # Not "no such user": something else answered, and the user may well be there.
            raise not_scim(doing, "a SCIM ListResponse")
        for resource in resources:
            if isinstance(resource, dict) and _named(resource, user_name):
                return dict(resource)
        return None

    def get_user(
        self, user_id: str, attributes: Sequence[str] = (), *, retries: bool = True
    ) -> dict[str, Any] | None:
        """The user whose SCIM id is ``user_id``; None when there is none (404). ``attributes``
        is left out once the server refused an extension in it (see ``_get``): a client that
        never listed (apply PLAN_FILE's) learns it here."""
        params = {"attributes": ",".join(attributes)} if attributes else {}
        response = self._get(user_path(user_id), params, retries=retries)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise error_for(response, f"reading user {user_id}", one_user=True, where=self._where)
        refuse_echoed_credential(response, f"reading user {user_id}")
        try:
            found = json_of(response)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            raise not_scim(f"reading user {user_id}", "a SCIM resource")
        if is_error(found) and str(found.get("status")) == "404":
            return None  # a 404 sent with 200: there is no such user
        refuse_error_body(
            response, f"reading user {user_id}", one_user=True, body=found, where=self._where
        )
        return found

    def create_user(self, body: dict[str, Any]) -> ScimResponse:
        doing = f"creating {body.get('userName')}"
        response = self._request("POST", "Users", doing, (200, 201), json=body)
        return result_of(response, doing)

    def patch_user(
        self,
        user_id: str,
        operations: Sequence[dict[str, Any]],
        label: str = "",
        *,
        if_match: str | None = None,
    ) -> ScimResponse:
        """PATCH with a PatchOp (RFC 7644 §3.5.2); 200 with the resource or 204 are both fine.
        ``if_match``: the user's version as read (RFC 7644 §3.14): changed since, the server
        answers 412 and changes nothing."""
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        doing = f"updating {label or user_id}"
        response = self._request(
            "PATCH",
            user_path(user_id),
            doing,
            (200, 204),
            one_user=True,
            if_match=if_match,
            json=body,
        )
        return result_of(response, doing)


__all__ = [
    "IncompleteListingError",
    "ScimClient",
    "TransportError",
]

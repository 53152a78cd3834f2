"""A thin WSGI middleware that gives the sandbox SCIM server a SaaS endpoint's bad days.

Write faults (latency, 429/503, death after N writes) and read faults (:class:`ReadFaults`):
the paging bugs and quirks real SCIM servers show on ``GET /Users``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from entrasync.adapters.scim.attributes import names_extension
from entrasync.core.model import USER_SCHEMA

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_USER_NAME_EQ = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


@dataclass
class ReadFaults:
    """How ``GET /Users`` misbehaves; plain attributes, so a test may turn one between reads.

    - ``ignore_start_index``: every page is page one (scimmy-routers on Express 5), its
      ``startIndex`` saying 1, or, with ``echo_start_index``, the one asked for;
    - ``max_page_size``: at most this many users a page, whatever ``count`` asks (RFC 7644
      §3.4.2.4 allows fewer), while ServiceProviderConfig still announces its own maxResults;
      ``later_page_size``: the same, after the first page only (pages that shrink);
    - ``inflate_total``: ``totalResults`` claims this many users more than there are;
    - ``total_is_page``: ``totalResults`` is the number of users on the page, not in the list;
    - ``refuse_past_end``: ``400`` to a ``startIndex`` past the last user (RFC 7644 leaves it open);
    - ``window``: ``totalResults`` at most this many, and ``400`` to a page reaching past them
      (a search index's result window: ``startIndex + count - 1`` beyond it);
    - ``zero_total_past_end``: an empty page past the last user claims ``totalResults`` 0 (a
      server counting the rows of the page it answers, ``COUNT(*) OVER ()``);
    - ``case_exact_filter``: ``userName eq "..."`` matches case-sensitively (RFC 7643 says
      userName is case-insensitive; some servers are not);
    - ``reject_extension_attributes``: 400 to an ``attributes=`` naming an extension URN (of a
      listing or of ``GET /Users/{id}``).
    """

    ignore_start_index: bool = False
    echo_start_index: bool = False
    max_page_size: int | None = None
    later_page_size: int | None = None
    inflate_total: int = 0
    total_is_page: bool = False
    refuse_past_end: bool = False
    window: int | None = None
    zero_total_past_end: bool = False
    case_exact_filter: bool = False
    reject_extension_attributes: bool = False

    def rewrites_answers(self) -> bool:
        return bool(
            self.echo_start_index
            or self.inflate_total
            or self.total_is_page
            or self.refuse_past_end
            or self.window is not None
            or self.zero_total_past_end
            or self.case_exact_filter
        )


@dataclass
class Counters:
    """What the server saw: by method, plus the faults it injected."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    throttled: int = 0
    failed: int = 0
    answers_lost: int = 0  # writes carried out and answered 502
    listings: int = 0  # GET /Users (pages and filters), whatever the read faults answered
    conditional: int = 0  # writes that carried If-Match (the user's version as read)


class Faults:
    """WSGI middleware: latency; 429 / 503 on every Nth write; every Nth write carried out and
    answered 502 (a gateway that lost the answer); PATCHes answered otherwise than made;
    death after N writes."""

    def __init__(self, app: WSGIApplication, latency: float) -> None:
        self.app = app
        self.latency = latency
        self.throttle_every = 0
        self.retry_after = "0"  # what a throttled or unavailable answer asks the client to wait
        self.unavailable_every = 0
        self.answer_lost_every = 0
        # How a PATCH is answered: "as made"; "not made" (200 and the user as it was, as a
        # server that drops an attribute it does not know); "bare" (made, answered 200 with
        # the user's id alone); "empty" (not made, answered 200 with no body, as a gateway
        # that never passes it on); "no content" (made, answered 204); "no content, not made"
        # (answered 204, as a server that drops an attribute it does not know).
        self.patch_answer = "as made"
        self.fail_after: int | None = None
        self.on_death: Callable[[], None] = lambda: None
        self.counters = Counters()
        self.reads = ReadFaults()
        self.lock = threading.Lock()
        self._attempts = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"]).upper()
        with self.lock:
            self.counters.requests += 1
            self.counters.by_method[method] = self.counters.by_method.get(method, 0) + 1
            if method in WRITE_METHODS and environ.get("HTTP_IF_MATCH"):
                self.counters.conditional += 1
            fault = self._fault() if method in WRITE_METHODS else None
            lost = method in WRITE_METHODS and fault is None and self._answer_lost()
            listing = method == "GET" and str(environ.get("PATH_INFO", "")).endswith("/Users")
            if listing:
                self.counters.listings += 1
        if self.latency:
            time.sleep(self.latency)
        if fault is not None:
            status, retry_after = fault
            return _error(start_response, status, "sandbox fault", retry_after)
        if listing:
            return self._list(environ, start_response)
        if method == "GET" and self._refused(environ):  # GET /Users/{id}, as the listing
            detail = "extension attributes are not supported in attributes"
            return _error(start_response, "400 Bad Request", detail, scim_type="invalidValue")
        if method == "PATCH" and self.patch_answer != "as made":
            return self._patch(environ, start_response)
        if lost:
            _answer(self.app, environ)  # carried out: only its answer goes missing
            return _error(start_response, "502 Bad Gateway", "sandbox fault: answer lost", None)
        return self.app(environ, start_response)

    def _patch(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """A PATCH answered as :attr:`patch_answer` says."""
        if self.patch_answer == "not made":
            return self.app({**environ, "REQUEST_METHOD": "GET"}, start_response)
        if self.patch_answer == "no content, not made":
            start_response("204 No Content", [])
            return [b""]
        if self.patch_answer == "empty":
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        status, headers, body = _answer(self.app, environ)
        if status[:1] == "2" and self.patch_answer == "no content":
            start_response("204 No Content", [])
            return [b""]
        if status[:1] == "2":
            user_id = str(environ.get("PATH_INFO", "")).rpartition("/")[2]
            status, body = "200 OK", json.dumps({"schemas": [USER_SCHEMA], "id": user_id}).encode()
            headers = [("Content-Type", "application/scim+json")]
        start_response(status, headers)
        return [body]

    def _answer_lost(self) -> bool:
        if not self.answer_lost_every or self.counters.writes % self.answer_lost_every:
            return False
        self.counters.answers_lost += 1
        return True

    def _refused(self, environ: WSGIEnvironment) -> bool:
        """``reject_extension_attributes`` applies to this request's ``attributes=``."""
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        return self.reads.reject_extension_attributes and names_extension(
            query.get("attributes", "")
        )

    def _list(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """``GET /Users`` through the read faults."""
        reads = self.reads
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        asked = query.get("startIndex", "1")
        if self._refused(environ):
            detail = "extension attributes are not supported in attributes"
            return _error(start_response, "400 Bad Request", detail, scim_type="invalidValue")
        if reads.ignore_start_index:
            query.pop("startIndex", None)
        cap = reads.later_page_size if asked != "1" else None
        cap = reads.max_page_size if cap is None else cap
        if cap is not None:
            query["count"] = str(min(int(query.get("count", cap)), cap))
        environ = {**environ, "QUERY_STRING": urlencode(query)}
        if not reads.rewrites_answers():
            return self.app(environ, start_response)
        if reads.window is not None and int(asked) + int(query.get("count", 1)) - 1 > reads.window:
            detail = "Result window is too large"
            return _error(start_response, "400 Bad Request", detail, scim_type="invalidValue")
        status, headers, body = _answer(self.app, environ)
        if status.startswith("200"):
            page = json.loads(body)
            if reads.refuse_past_end and not page.get("Resources") and asked != "1":
                detail = "startIndex is past the last result"
                return _error(start_response, "400 Bad Request", detail, scim_type="invalidValue")
            _rewrite(page, reads, asked, query.get("filter"))
            body = json.dumps(page).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _fault(self) -> tuple[str, str | None] | None:
        """Decide under the lock, so exactly ``fail_after`` writes reach the storage."""
        self._attempts += 1
        if self.fail_after is not None and self.counters.writes >= self.fail_after:
            self.counters.failed += 1
            self.on_death()
            return ("503 Service Unavailable", None)
        if self.throttle_every and self._attempts % self.throttle_every == 0:
            self.counters.throttled += 1
            return ("429 Too Many Requests", self.retry_after)
        if self.unavailable_every and self._attempts % self.unavailable_every == 0:
            self.counters.throttled += 1
            return ("503 Service Unavailable", self.retry_after)
        self.counters.writes += 1
        return None


def _error(
    start_response: StartResponse,
    status: str,
    detail: str,
    retry_after: str | None = None,
    scim_type: str | None = None,
) -> Iterable[bytes]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.split()[0],
        "detail": detail,
    }
    if scim_type is not None:
        body["scimType"] = scim_type
    headers = [("Content-Type", "application/scim+json")]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    start_response(status, headers)
    return [json.dumps(body).encode()]


def _answer(
    app: WSGIApplication, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], bytes]:
    """The wrapped app's whole answer, to be rewritten before it is sent."""
    said: dict[str, Any] = {}

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        said["status"], said["headers"] = status, list(headers)
        return lambda _data: None

    chunks = app(environ, start)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    return str(said["status"]), said["headers"], body


def _rewrite(page: dict[str, Any], reads: ReadFaults, asked: str, filter_: str | None) -> None:
    """Apply the answer-rewriting read faults to one ListResponse, in place."""
    matched = _USER_NAME_EQ.match(filter_ or "")
    if reads.case_exact_filter and matched:
        name = re.sub(r"\\(.)", r"\1", matched.group(1))
        kept = [r for r in page.get("Resources", []) if r.get("userName") == name]
        page["Resources"] = kept
        page["totalResults"] = page["itemsPerPage"] = len(kept)
    if reads.echo_start_index and "startIndex" in page:
        page["startIndex"] = int(asked)
    if reads.inflate_total:
        page["totalResults"] = int(page.get("totalResults", 0)) + reads.inflate_total
    if reads.total_is_page:
        page["totalResults"] = len(page.get("Resources", []))
    if reads.window is not None:
        page["totalResults"] = min(int(page.get("totalResults", 0)), reads.window)
    if reads.zero_total_past_end and not page.get("Resources") and asked != "1":
        page["totalResults"] = 0

"""Many single-object GETs in few requests: Microsoft Graph JSON batching.

Up to 20 requests go in one ``POST /$batch`` (https://learn.microsoft.com/graph/json-batching).
The outer answer is 200 even when inner requests fail, and inner answers come back in any
order, so each is matched to its request by ``id``. An inner 429/503/504 is retried alone (the
others are kept) after its own ``Retry-After``, under the shared policy's bound
(https://learn.microsoft.com/graph/throttling#throttling-and-batching); an inner 429 closes the
client's throttle gate, so every other request of the client waits too; any other inner failure
becomes exactly the error the same GET alone would raise. A batch of one is sent as that plain
GET: it costs one request either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from entrasync.adapters.graph.client import GraphClient, GraphNotFoundError, not_json
from entrasync.adapters.graph.odata import GraphFailure, query, sent_as_error
from entrasync.adapters.http import RETRY_STATUSES, retry_after, server_text
from entrasync.adapters.throttle import gates
from entrasync.core import sanitize
from entrasync.errors import GraphError

log = logging.getLogger(__name__)

MAX_BATCH = 20  # Graph refuses a larger batch with 400
Found = dict[str, Any] | GraphNotFoundError


@dataclass(frozen=True)
class Get:
    """One GET of a single object: ``path`` relative to the API base, ``what`` for messages."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    what: str = "Microsoft Graph"

    def relative_url(self) -> str:
        url = "/" + self.path.lstrip("/")
        return f"{url}?{query(self.params)}" if self.params else url


def chunks(gets: Sequence[Get]) -> list[Sequence[Get]]:
    """``gets`` cut into batches of at most :data:`MAX_BATCH`, in order."""
    return [gets[i : i + MAX_BATCH] for i in range(0, len(gets), MAX_BATCH)]


def get_batch(client: GraphClient, gets: Sequence[Get]) -> list[Found]:
    """Each GET's body, in input order, or the GraphNotFoundError a 404 gives (a wrong id, or
    one not replicated yet); every other failure raises as the GET alone would."""
    if len(gets) > MAX_BATCH:
        raise ValueError(f"a Graph $batch takes at most {MAX_BATCH} requests, not {len(gets)}")
    if len(gets) == 1:
        (one,) = gets
        try:
            return [client.get(one.path, one.params, what=one.what)]
        except GraphNotFoundError as exc:
            return [exc]
    found: dict[int, Found] = {}
    pending = list(range(len(gets)))
    attempt, waited = 0, 0.0
    while pending:
        answers = _send(client, [(i, gets[i]) for i in pending])
        throttled: list[int] = []
        waits: list[float] = []
        shared = False  # an inner 429 (or 503 with Retry-After) holds the whole client
        for i in pending:
            status, body, response = answers[i]
            erred = sent_as_error(body, "id")  # that error, as outside a batch
            if status == 200 and isinstance(body, dict) and not erred:
                found[i] = body
                continue
            wait = retry_after(response.headers)
            if (
                status in RETRY_STATUSES
                and attempt < client.policy.max_retries
                and client.policy.waits_out(wait)
                and client.policy.within_budget(waited, wait or 0.0)
            ):
                throttled.append(i)
                if wait is not None:
                    waits.append(wait)
                shared = shared or gates(status, wait)
                continue
            if status == 200 and not erred:
                raise not_json(gets[i].what)
            error = client.translate(GraphFailure.of(response), gets[i].what)
            if not isinstance(error, GraphNotFoundError):
                raise error
            found[i] = error
        if throttled:
            attempt += 1
            # One wait serves every throttled request: the longest Retry-After among them.
            delay = client.policy.backoff(attempt, max(waits) if waits else None)
            if shared:
                # The retry (and every other request of the client) waits at the gate.
                delay = client.gate.hold(delay)
            waited += delay
            log.info(
                "Microsoft Graph throttled %d of a $batch's requests; retrying them in %.2fs",
                len(throttled),
                delay,
            )
            if not shared:
                client.sleep(delay)
        pending = throttled
    return [found[i] for i in range(len(gets))]


def _send(
    client: GraphClient, items: Sequence[tuple[int, Get]]
) -> dict[int, tuple[int, Any, httpx.Response]]:
    """One POST /$batch; each answer as (status, body, a Response to read headers/errors from)."""
    payload = {
        "requests": [
            {"id": str(i + 1), "method": "GET", "url": get.relative_url()} for i, get in items
        ]
    }
    first = items[0][1].what
    what = first if len(items) == 1 else f"{first} and {len(items) - 1} more"
    reply, outer = client.post_read("$batch", payload, what=what)
    date = outer.headers.get("Date")  # the inner answers', for a Retry-After given as a date
    odd = (
        "run again; if it repeats, report it with the request-id of the $batch "
        f"({server_text(outer, outer.headers.get('request-id') or 'none given', 80)})"
    )
    by_id: dict[str, dict[str, Any]] = {}
    responses = reply.get("responses")
    # Any other shape answers none of the requests: each is said to have no response, below.
    for answer in responses if isinstance(responses, list) else ():
        if isinstance(answer, dict):
            said = str(answer.get("id"))
            if said in by_id:  # which of the two answers the request would be a guess
                raise GraphError(
                    f"Microsoft Graph's $batch answer for {what} answers the request "
                    f"{sanitize.text(said[:40])} twice",
                    odd,
                )
            by_id[said] = answer
    answers: dict[int, tuple[int, Any, httpx.Response]] = {}
    for i, get in items:
        answer = by_id.get(str(i + 1))
        if answer is None:
            raise GraphError(
                f"Microsoft Graph's $batch answer has no response for {get.what}",
                odd,
            )
        status = answer.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise GraphError(
                f"Microsoft Graph's $batch answer for {get.what} has no valid status "
                f"({sanitize.text(repr(status)[:40])})",
                odd,
            )
        headers = answer.get("headers")
        body = answer.get("body")
        try:
            # As it would come on the wire alone: ASCII, so a lone surrogate in a name (which a
            # GET of the group reads) is kept; NaN and Infinity, which JSON has not, are not.
            content = json.dumps(body, ensure_ascii=True, allow_nan=False).encode()
        except ValueError:
            raise GraphError(
                f"Microsoft Graph's $batch answer for {get.what} holds a number JSON does not "
                "have (NaN or Infinity)",
                "run again; if it repeats, the Graph URL does not answer as Microsoft Graph "
                "does: check ENTRASYNC_GRAPH_URL and any proxy",
            ) from None
        # With the $batch's request: its credential is cut from the answer's text.
        inner = _text_headers(headers)
        if date is not None and not any(name.lower() == "date" for name in inner):
            inner["Date"] = date
        response = httpx.Response(status, headers=inner, content=content, request=outer.request)
        answers[i] = (status, body, response)
    return answers


def _text_headers(headers: object) -> dict[str, str]:
    """An inner answer's headers as text (Retry-After may come as a number); one that is not
    ASCII is no HTTP header entrasync reads, and httpx refuses it (UnicodeEncodeError)."""
    if not isinstance(headers, dict):
        return {}
    return {
        str(name): str(value)
        for name, value in headers.items()
        if isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and str(name).isascii()
        and str(value).isascii()
    }

"""JSON batching for the emulated Graph (https://learn.microsoft.com/graph/json-batching).

At most 20 requests with unique ids and relative urls. The outer reply is 200 even when
inner ones fail; inner 429s carry their own Retry-After. Responses come back in reverse
order, so a client that assumes request order fails its tests here rather than in production.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from entrasync.sandbox.graph_odata import GraphFailure, bad_request
from entrasync.sandbox.graph_server import Request

MAX_BATCH = 20
GraphCall = Callable[[Request], tuple[int, Any, dict[str, str]]]


def run_batch(raw: bytes, call: GraphCall, base_url: str) -> dict[str, Any]:
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        raise bad_request("Invalid batch payload format.", "BadRequest") from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise bad_request("Invalid batch payload format.", "BadRequest")
    if len(requests) > MAX_BATCH:
        raise bad_request(
            f"Number of requests in a batch exceeds the limit of {MAX_BATCH}.", "BadRequest"
        )
    ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in requests]
    if "" in ids or len(set(ids)) != len(ids):
        raise bad_request("Each batch request needs a unique, non-empty 'id'.", "BadRequest")
    statuses: dict[str, int] = {}
    responses = []
    for item in requests:
        rid = str(item["id"])
        status, body, headers = _one(item, statuses, call)
        statuses[rid] = status
        responses.append({"id": rid, "status": status, "headers": headers, "body": body})
    responses.reverse()
    return {"responses": responses}


def _one(
    item: dict[str, Any], statuses: dict[str, int], call: GraphCall
) -> tuple[int, Any, dict[str, str]]:
    request_id = str(uuid.uuid4())
    try:
        failed = [d for d in item.get("dependsOn") or () if not 200 <= statuses.get(d, 0) < 300]
        if failed:
            raise GraphFailure(424, "FailedDependency", f"Depends on failed request {failed[0]}.")
        url = str(item.get("url", ""))
        if "://" in url or not url:
            raise bad_request("Invalid request URL: batch URLs are relative.", "BadRequest")
        split = urlsplit(url if url.startswith("/") else "/" + url)
        headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        request = Request(
            method=str(item.get("method", "GET")).upper(),
            path="/v1.0" + split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=b"",
        )
        status, body, extra = call(request)
        content_type = "text/plain" if isinstance(body, str) else "application/json"
        return status, body, {"Content-Type": content_type, **extra}
    except GraphFailure as failure:
        headers = {"Content-Type": "application/json", **dict(failure.headers)}
        return failure.status, failure.body(request_id), headers

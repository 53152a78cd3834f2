"""OData pieces of the Graph client: query strings, string literals, and error bodies.

https://learn.microsoft.com/graph/query-parameters and https://learn.microsoft.com/graph/errors
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from entrasync.adapters.http import asked_to_wait, json_of, server_text

_ODATA_SAFE = "$,()'=:*@/"


@dataclass(frozen=True)
class GraphFailure:
    """A Graph error response, reduced to what we branch on and what we show."""

    status: int
    code: str
    message: str
    request_id: str | None
    asked: str = ""  # http.asked_to_wait: a Retry-After too long to wait for

    @classmethod
    def of(cls, response: httpx.Response) -> GraphFailure:
        code, message, inner_id = "", "", None
        try:
            error = json_of(response).get("error", {})
            code = str(error.get("code") or "")
            message = server_text(response, str(error.get("message") or ""))
            inner = error.get("innerError") or error.get("innererror") or {}
            inner_id = inner.get("request-id") if isinstance(inner, dict) else None
        except (ValueError, AttributeError):
            pass
        request_id = response.headers.get("request-id") or inner_id
        return cls(
            response.status_code,
            server_text(response, code or response.reason_phrase),
            message,
            None if request_id is None else server_text(response, str(request_id)),
            asked_to_wait(response),
        )

    def label(self) -> str:
        rid = f", request-id {self.request_id}" if self.request_id else ""
        return f"HTTP {self.status} {self.code}{rid}"


def sent_as_error(body: object, data: str) -> bool:
    """A 200 answer holding an error object and not the ``data`` it answers with ("value" for
    a list, "id" for an object): an error a proxy or a gateway sent with 200, read by its
    code as the error it is."""
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and data not in body


def query(params: Mapping[str, str]) -> str:
    """OData query string keeping ``$``, ``,``, ``(``, ``)`` and ``'`` readable, as Graph's
    documentation writes them; spaces, ``#``, ``+`` and ``&`` are percent-encoded."""
    return "&".join(f"{k}={quote(str(v), safe=_ODATA_SAFE)}" for k, v in params.items())


def odata_string(value: str) -> str:
    """A quoted OData string literal: ``'`` doubles.

    https://learn.microsoft.com/graph/query-parameters
    """
    return "'" + value.replace("'", "''") + "'"

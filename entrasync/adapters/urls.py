"""The credential URL check (:mod:`entrasync.core.urls`), and what sending needs on top of it:
https only (plain http to a loopback address only), and the HTTP client's own parse.

Two parsers, and either one seeing user info is enough: a value both read the same way is the
only one trusted.
"""

from __future__ import annotations

import httpx

from entrasync.core.urls import SENT_AUTHORITY as SENT_AUTHORITY
from entrasync.core.urls import SENT_GRAPH as SENT_GRAPH
from entrasync.core.urls import SENT_IN_HEADERS, refused, user_info_error
from entrasync.core.urls import SENT_SCIM as SENT_SCIM
from entrasync.core.urls import UnsafeUrlError as UnsafeUrlError
from entrasync.core.urls import check_url as check_url
from entrasync.core.urls import is_loopback_host as is_loopback_host


def require_safe_url(
    url: str, what: str, *, sent: str = SENT_IN_HEADERS, allow_query: bool = False
) -> httpx.URL:
    """:func:`check_url`, https only (plain http to a loopback address only), as httpx reads it."""
    split = check_url(url, what, sent=sent, allow_query=allow_query)
    if not (
        split.scheme == "https"
        or (split.scheme == "http" and is_loopback_host(split.hostname or ""))
    ):
        raise UnsafeUrlError(
            f"{what} is not an https:// URL; credentials are only sent over https "
            "(or plain http to localhost, 127.0.0.1 or [::1])",
            f"use the https:// address in {what}",
        )
    parsed = parsed_url(url)
    if parsed is None:
        raise refused(what, "is not a valid URL")
    if parsed.userinfo:
        raise user_info_error(what, sent)
    return parsed


def parsed_url(url: str) -> httpx.URL | None:
    """``url`` as httpx reads it, or None where httpx cannot (a port out of range or unclosed
    brackets, a control character, a malformed IDNA host): a link a server sent may be any."""
    try:
        parsed = httpx.URL(url)
        parsed.host  # noqa: B018  decodes an IDNA host (xn--...): a malformed one raises
    except (httpx.InvalidURL, ValueError):  # idna's errors are UnicodeErrors
        return None
    return parsed

"""The one check every URL that receives a credential passes before any request is made.

A URL can carry credentials of its own, and then they go where entrasync's should: httpx turns
``https://user:pass@host`` into a Basic ``Authorization`` header (replacing the bearer token
on loopback), and a query string is copied into the plan file, the audit file and, for Graph,
the token scope and Entra's error text. So a URL with user info, or with a query string or a
fragment, is refused; so are a port or a host that cannot be right. The refusal names where
the URL came from (``NEURALTRUST_SCIM_URL``, a config key) and never echoes the value, which
may hold a password.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import httpx

from entrasync.errors import EntrasyncError

# RFC 1123 labels; underscores too, as container and lab host names use them and httpx
# accepts them.
BAD_PORT = "has an invalid port: a number from 1 to 65535 is expected"
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
SENT_IN_HEADERS = "credentials are sent only in request headers, never in the URL"
# How each credential-routing URL's credential does travel, for the user info message.
SENT_SCIM = "the SCIM token is sent only as a bearer token"
SENT_GRAPH = "the Graph access token is sent only as a bearer token"
SENT_AUTHORITY = "the app's secret or assertion is sent only in the token request's body"


class UnsafeUrlError(EntrasyncError):
    """A URL that would receive a credential is malformed or carries data of its own."""


def is_loopback_host(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(
    url: str, what: str, *, sent: str = SENT_IN_HEADERS, allow_query: bool = False
) -> httpx.URL:
    """The URL parsed, or :class:`UnsafeUrlError` naming ``what`` (never the value).

    Refused: anything that does not parse, user info (even an empty ``@``), a query string or a
    fragment (even empty; a query only when ``allow_query``), a port outside 1-65535, and a
    missing or malformed host. ``sent`` says how the credential does travel, for the user info
    message. The scheme is :func:`require_safe_url`'s business.
    """
    try:
        parsed = httpx.URL(url)
        split = urlsplit(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as exc:  # idna's errors are UnicodeErrors
        if str(exc).startswith("Invalid port"):
            raise _refused(what, BAD_PORT) from None
        raise _refused(what, "is not a valid URL") from None
    # Two parsers, and either one seeing user info is enough: a value both read the same
    # way is the only one trusted.
    if parsed.userinfo or "@" in split.netloc:
        raise UnsafeUrlError(
            f"{what} holds a user name or password; {sent}",
            f"remove the user:password@ part from {what} (and change that password if it "
            "was real: it may be in shell history or CI settings)",
        )
    if "#" in url or (not allow_query and "?" in url):
        raise _refused(
            what,
            "has a query string or fragment (?... or #...), which would be sent with every "
            "request and written to plan and audit files",
        )
    if port is not None and not 1 <= port <= 65535:
        raise _refused(what, BAD_PORT)
    if not _valid_host(parsed):
        raise _refused(what, "has no valid host name")
    return parsed


def require_safe_url(
    url: str, what: str, *, sent: str = SENT_IN_HEADERS, allow_query: bool = False
) -> httpx.URL:
    """:func:`check_url`, and https only (plain http to a loopback address only)."""
    parsed = check_url(url, what, sent=sent, allow_query=allow_query)
    if parsed.scheme == "https":
        return parsed
    if parsed.scheme == "http" and is_loopback_host(parsed.host):
        return parsed
    raise UnsafeUrlError(
        f"{what} is not an https:// URL; credentials are only sent over https "
        "(or plain http to a loopback address)",
        f"use the https:// address in {what}",
    )


def _valid_host(parsed: httpx.URL) -> bool:
    host = parsed.raw_host.decode("ascii", "replace")
    try:
        parsed.host  # noqa: B018  decodes an IDNA host (xn--...): a malformed one raises
    except ValueError:  # idna's errors are UnicodeErrors
        return False
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _refused(what: str, problem: str) -> UnsafeUrlError:
    return UnsafeUrlError(
        f"{what} {problem}",
        f"set {what} to the bare endpoint: https://, the host, an optional :port and the path",
    )

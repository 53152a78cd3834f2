"""The one check every URL that receives a credential passes before any request is made.

A URL can carry credentials of its own, and then they go where entrasync's should: an HTTP
client turns ``https://user:pass@host`` into a Basic ``Authorization`` header (replacing the
bearer token on loopback), and a query string is copied into the plan file, the audit file
and, for Graph, the token scope and Entra's error text. So a URL with user info, or with a
query string or a fragment, is refused; so are a port or a host that cannot be right. The
refusal names where the URL came from (``NEURALTRUST_SCIM_URL``, a config key) and never echoes
the value, which may hold a password (docs/safety.md, "Credentials only where they belong").

Standard library only, so the mappings file's URL keys are checked by the same rules without
loading an HTTP client; :mod:`entrasync.adapters.urls` adds the scheme rule and the HTTP
client's own parse.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from entrasync.errors import EntrasyncError

BAD_PORT = "has an invalid port: a number from 1 to 65535 is expected"
# RFC 1123 labels; underscores too, as container and lab host names use them and HTTP clients
# accept them.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
# C0 controls and DEL: never part of a URL (RFC 3986 section 2); urlsplit would drop some.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SENT_IN_HEADERS = "credentials are sent only in request headers, never in the URL"
# How each credential-routing URL's credential does travel, for the user info message.
SENT_SCIM = "the SCIM token is sent only as a bearer token"
SENT_GRAPH = "the Graph access token is sent only as a bearer token"
SENT_AUTHORITY = "the app's secret or assertion is sent only in the token request's body"


class UnsafeUrlError(EntrasyncError):
    """A URL that would receive a credential is malformed or carries data of its own."""


# The loopback hosts plain http:// may go to, and that are reached without a proxy: the same
# three, so a credential that may travel in clear never leaves the machine. (Other 127.x
# addresses and "localhost." are loopback too, but no proxy rule of HTTP clients names them.)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    """``host`` is one of :data:`LOOPBACK_HOSTS` (any case; IPv6 with or without brackets)."""
    return host.lower() in _LOOPBACK


def check_url(
    url: str, what: str, *, sent: str = SENT_IN_HEADERS, allow_query: bool = False
) -> SplitResult:
    """The URL split, or :class:`UnsafeUrlError` naming ``what`` (never the value).

    Refused: anything that does not parse, user info (even an empty ``@``), a query string or a
    fragment (even empty; a query only when ``allow_query``), a port outside 1-65535, and a
    missing or malformed host. ``sent`` says how the credential does travel, for the user info
    message. The scheme is :func:`entrasync.adapters.urls.require_safe_url`'s business.
    """
    if _CONTROL.search(url):
        raise refused(what, "is not a valid URL")
    try:
        split = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        raise refused(what, "is not a valid URL") from None
    if "@" in split.netloc:
        raise user_info_error(what, sent)
    if "#" in url or (not allow_query and "?" in url):
        raise refused(
            what,
            "has a query string or fragment (?... or #...), which would be sent with every "
            "request and written to plan and audit files",
        )
    try:
        port = split.port
    except ValueError:  # not a number, or above 65535
        raise refused(what, BAD_PORT) from None
    if port == 0:
        raise refused(what, BAD_PORT)
    if not _valid_host(split.hostname or ""):
        raise refused(what, "has no valid host name")
    return split


def user_info_error(what: str, sent: str) -> UnsafeUrlError:
    return UnsafeUrlError(
        f"{what} holds a user name or password; {sent}",
        f"remove the user:password@ part from {what} (and change that password if it "
        "was real: it may be in shell history or CI settings)",
    )


def _valid_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        # An internationalised name is checked in its ASCII form; an ASCII one must decode,
        # so a malformed IDNA label (xn--...) is refused (RFC 3490).
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
        ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        return False
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def refused(what: str, problem: str) -> UnsafeUrlError:
    return UnsafeUrlError(
        f"{what} {problem}",
        f"set {what} to the bare endpoint: https://, the host, an optional :port and the path",
    )

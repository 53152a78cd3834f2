"""Proxies from the environment, as httpx and requests (under msal) read them: which variable
names each scheme's proxy, the errors for one that cannot be used, and loopback reached
without any.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import httpx

from entrasync.adapters.shell import pip_install
from entrasync.core.redact import remember
from entrasync.core.urls import LOOPBACK_HOSTS, is_loopback_host
from entrasync.errors import EntrasyncError

_SCHEMES = ("http", "https", "all")  # in the order httpx builds their proxies


def proxy_variables() -> dict[str, str]:
    """The variable each scheme's proxy comes from, as ``urllib.request.getproxies_environment``
    reads them for httpx and requests alike: any ``*_proxy`` name in any case; under CGI
    (``REQUEST_METHOD`` set) no ``HTTP_PROXY``; then a name ending in a lower-case ``_proxy``
    wins, and one set empty turns its scheme off."""
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        scheme = name[:-6].lower()
        if value and name.lower().endswith("_proxy") and scheme in _SCHEMES:
            found[scheme] = name
    if "REQUEST_METHOD" in os.environ:
        found.pop("http", None)
    for name, value in os.environ.items():
        scheme = name[:-6].lower()
        if name.endswith("_proxy") and scheme in _SCHEMES:
            if value:
                found[scheme] = name
            else:
                found.pop(scheme, None)
    return found


def remember_proxy_passwords() -> None:
    """Keep each proxy variable's password out of every text told, as each credential sent is
    (:func:`entrasync.core.redact.remember`): it goes to the proxy, and a proxy may echo it in
    the refusal an error quotes, alone, with its user, or in Basic's base64."""
    for variable in proxy_variables().values():
        value = os.environ[variable]
        try:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            user, password = unquote(parts.username or ""), unquote(parts.password or "")
        except ValueError:  # no URL: no password to send, and an error names the variable
            continue
        if password:
            # The password, and with its user (a short password alone would mask words); as
            # written in the URL; in Basic's base64, as httpx (UTF-8) and requests (Latin-1,
            # where it can) encode it.
            pair = f"{user}:{password}"
            for shown in (password, pair, parts.netloc.rpartition("@")[0]):
                remember(shown)
            for encoding in ("utf-8", "latin-1"):
                with contextlib.suppress(UnicodeEncodeError):
                    remember(base64.b64encode(pair.encode(encoding)).decode("ascii"))


class Refused(httpx.BaseTransport):
    """Where a proxy variable httpx cannot use applies: each request fails with its error."""

    def __init__(self, error: EntrasyncError) -> None:
        self.error = error

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise EntrasyncError(self.error.message, self.error.hint)


def proxy_for(url: httpx.URL) -> str | None:
    """The variable naming a proxy a request to ``url`` may go through (unless ``NO_PROXY``
    names its host, which httpx reads by rules of its own); None for loopback, always direct."""
    if is_loopback_host(url.host):
        return None
    variables = proxy_variables()
    return variables.get(url.scheme) or variables.get("all")


def socks_missing(whose: str = "httpx's", schemes: tuple[str, ...] = _SCHEMES) -> EntrasyncError:
    """A SOCKS proxy named for one of ``schemes``, and ``whose`` support for it (httpx's, or
    that of requests, under msal) is not installed."""
    variables = proxy_variables()
    named = (variables[s] for s in schemes if s in variables)
    socks = next((v for v in named if _socks(os.environ.get(v))), "a variable")
    return EntrasyncError(
        f"{socks} names a SOCKS proxy, and {whose} SOCKS support is not installed",
        f"install it for both ({pip_install('httpx[socks]', 'requests[socks]')}) or unset {socks}",
    )


def unusable_proxy() -> EntrasyncError | None:
    """The proxy variable httpx refuses, as an error naming it; None when none is. Its value
    is not quoted: a proxy URL may hold its password."""
    name = _unusable_proxy()
    if name is None:
        return None
    return EntrasyncError(
        f"{name} holds a URL that cannot be used as a proxy: it is http://, https:// or "
        "socks5://HOST:PORT",
        f"fix or unset {name}",
    )


def unusable_proxy_error() -> EntrasyncError:
    return unusable_proxy() or EntrasyncError(
        "NO_PROXY (or no_proxy) holds an entry that cannot be read as a host, a domain "
        "or an IP address (an IPv6 range such as fd00::/8 is not read)",
        "fix or remove that entry",
    )


def _socks(value: str | None) -> bool:
    return bool(value) and str(value).lower().startswith("socks")


def _unusable_proxy() -> str | None:
    """The proxy variable httpx refuses, None when none is (so NO_PROXY is the one)."""
    variables = proxy_variables()
    for variable in (variables[s] for s in _SCHEMES if s in variables):
        value = os.environ.get(variable)
        try:
            if value:
                httpx.Proxy(value if "://" in value else f"http://{value}")
        except (ValueError, httpx.InvalidURL):
            return variable
    return None


# Loopback is reached directly, whatever HTTP(S)_PROXY says: a proxy would take the sandbox's
# traffic off the machine (and fail), and plain http:// is allowed to loopback only because
# it stays on the machine. None: the client's own transport, without a proxy.
LOOPBACK_DIRECT: Mapping[str, httpx.BaseTransport | None] = {
    f"all://{host}": None for host in LOOPBACK_HOSTS
}

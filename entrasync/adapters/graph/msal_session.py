"""msal's HTTP session (requests), trusting the same CAs as every httpx client.

requests takes a CA *path* (``verify``), and lets ``REQUESTS_CA_BUNDLE`` from the process
environment override ``Session.verify`` (psf/requests#3829). Neither can say "the system's
trust store plus ``ENTRASYNC_CA_BUNDLE``", so the adapter hands urllib3 the SSL context from
:func:`entrasync.adapters.trust.ssl_context` for every connection instead, the way requests'
own ``build_connection_pool_key_attributes`` docstring describes; a CA path requests derives
from the environment is dropped.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import prepend_scheme_if_needed, should_bypass_proxies
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from entrasync.adapters.deadline import answer_within
from entrasync.adapters.http import (
    RETRY_STATUSES,
    TIMEOUT,
    USER_AGENT,
    RetryPolicy,
    retry_after,
)
from entrasync.adapters.proxy import proxy_variables, remember_proxy_passwords, socks_missing
from entrasync.adapters.throttle import Abandoned, pause, waits_ended
from entrasync.core.urls import is_loopback_host
from entrasync.errors import EntrasyncError


class _ContextAdapter(HTTPAdapter):
    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=1)  # what msal mounts by default

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if pool.get("cert_reqs") == "CERT_REQUIRED":
            pool.pop("ca_certs", None)
            pool.pop("ca_cert_dir", None)
            pool["ssl_context"] = self._context
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # A CA path from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is not checked here (a stale
        # one raised OSError): ssl_context() chose the trust, and said why if it could not.
        super().cert_verify(conn, url, verify is not False, cert)
        conn.ca_certs = conn.ca_cert_dir = None  # the context holds the trust


def _request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """``Session.request`` with entrasync's timeout, and loopback reached directly, never
    through a proxy from the environment (as ``new_client`` does; requests reads a
    ``no_proxy`` of the request's own ``proxies``).

    A 429, 503 or 504 is retried as Graph's requests are (:class:`RetryPolicy`: Retry-After
    honoured, the waits cut short by a stop): msal retries nothing itself when given its HTTP
    client, and a token endpoint that throttled once failed the whole run. Asking for a token
    again does no harm."""
    kwargs.setdefault("timeout", TIMEOUT)
    if is_loopback_host(urlsplit(url).hostname or ""):
        kwargs["proxies"] = {"no_proxy": "*"}
    elif not should_bypass_proxies(url, None) and (unusable := _unusable_proxy()) is not None:
        raise unusable  # requests fails on some (no host) with a TypeError msal reports oddly
    policy = RetryPolicy()
    attempt, waited = 0, 0.0
    while True:
        attempt += 1
        if waits_ended():  # a signal is ending the command: no new request starts
            raise Abandoned()
        try:  # the whole answer within the deadline, kept by the TLS socket (msal's is tiny)
            with answer_within(policy.answer_deadline):
                response = requests.Session.request(session, method, url, **kwargs)
        except ValueError as exc:  # requests' InvalidSchema or InvalidURL: msal says no tenant
            raise _proxy_refused(exc) or exc from None
        if response.status_code not in RETRY_STATUSES or attempt > policy.max_retries:
            return response
        asked = retry_after(response.headers)
        delay = policy.backoff(attempt, asked)
        if not policy.waits_out(asked) or not policy.within_budget(waited, delay):
            return response
        waited += delay
        pause(delay)


def _proxy_refused(exc: ValueError) -> EntrasyncError | None:
    """The proxy variable requests could not use for the token request (always https), as an
    error naming it; None when no proxy variable applies. Its value is not quoted: a proxy URL
    may hold its password."""
    if "SOCKS" in str(exc) and _proxy_variable() is not None:
        return socks_missing("requests'", ("https", "all"))
    return _unusable_proxy()  # None: the request's own URL, then


def _proxy_variable() -> str | None:
    """The variable naming the token request's proxy (it is https), if any."""
    variables = proxy_variables()
    return variables.get("https") or variables.get("all")


def _unusable_proxy() -> EntrasyncError | None:
    """The token request's proxy variable, as an error, when requests cannot use it."""
    name = _proxy_variable()
    if name is None or not _unusable(os.environ[name]):
        return None
    return EntrasyncError(
        f"{name} holds a URL requests (which fetches the token) cannot use as a proxy",
        f"fix or unset {name}: it is http://, https:// or socks5://HOST:PORT",
    )


def _unusable(proxy: str) -> bool:
    """Whether requests (urllib3) cannot send through ``proxy``: not a URL, or one of a
    scheme it has no proxy for."""
    try:  # read as requests reads it: `squid:3128` has the scheme `squid`
        url = parse_url(prepend_scheme_if_needed(proxy, "http"))
    except (LocationParseError, TypeError):  # TypeError: a user and no host (`http://u@`)
        return True
    return not url.host or url.scheme not in _PROXY_SCHEMES


_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def requests_session(context: ssl.SSLContext) -> requests.Session:
    """A session for msal's ``http_client``, as :func:`entrasync.adapters.http.new_client`
    makes httpx's: ``context``'s trust, the same timeout and User-Agent, no redirects."""
    remember_proxy_passwords()
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = _ContextAdapter(context)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.request = functools.partial(_request, session)  # type: ignore[method-assign]
    # requests follows a 307 or 308 with the same POST body, client_secret or assertion
    # included, to whatever Location names, another host or plain http://: the token endpoint
    # never needs a redirect, so none is followed (the first raises TooManyRedirects).
    session.max_redirects = 0
    return session

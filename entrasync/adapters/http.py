"""The one place HTTP clients are made and requests are sent and retried (Graph, SCIM, GitHub).

:func:`new_client` makes every client: TLS trust from the environment, explicit timeouts,
pool limits, entrasync's User-Agent, and no redirects (a redirect would carry the bearer token
to wherever the ``Location`` points).

Retry policy (https://learn.microsoft.com/graph/throttling): retry 429/503/504 on any method,
honouring ``Retry-After`` (seconds, fractional seconds or an HTTP date), else exponential
backoff with full jitter, both capped; retry connection errors and timeouts only for
idempotent requests; never retry any other 4xx. How a throttle holds back the client's other
requests is :mod:`entrasync.adapters.throttle`'s business.
"""

from __future__ import annotations

import math
import os
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from entrasync import __version__
from entrasync.adapters.clock import utc_moment
from entrasync.adapters.deadline import answer_within
from entrasync.adapters.pool import DEFAULT_PARALLELISM as DEFAULT_PARALLELISM
from entrasync.adapters.proxy import (
    LOOPBACK_DIRECT,
    Refused,
    proxy_for,
    remember_proxy_passwords,
    socks_missing,
    unusable_proxy_error,
)
from entrasync.adapters.throttle import (
    LONGEST_ASKED,
    MAX_DELAY,
    Abandoned,
    AdaptiveLimit,
    ThrottleGate,
    gates,
    pause,
    waits_ended,
)
from entrasync.adapters.trust import CA_HINT, LOOPBACK_GONE_HINT, ssl_context
from entrasync.adapters.urls import is_loopback_host as is_loopback_host
from entrasync.adapters.urls import require_safe_url as require_safe_url
from entrasync.core import sanitize
from entrasync.core.redact import redact, remember
from entrasync.errors import EntrasyncError

USER_AGENT = f"entrasync/{__version__}"
TIMEOUT = 30.0  # seconds per request, unless the client says otherwise

RETRY_STATUSES = frozenset({429, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def new_client(
    environ: Mapping[str, str] | None = None,
    *,
    timeout: float | httpx.Timeout = TIMEOUT,
    max_connections: int = 16,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A pooled client (connection reuse, keep-alive) trusting the CAs the environment names
    (:func:`entrasync.adapters.trust.ssl_context`); proxies still come from the environment,
    except for loopback (:data:`LOOPBACK_DIRECT`). A proxy variable httpx cannot use is an
    error at the first request that is not to loopback."""
    verify = ssl_context(os.environ if environ is None else environ)
    remember_proxy_passwords()

    def client(trust_env: bool, mounts: Mapping[str, httpx.BaseTransport | None]) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            verify=verify,
            timeout=timeout,
            trust_env=trust_env,
            follow_redirects=False,
            # Keep every connection the pool may open: with fewer kept alive than open, parallel
            # directory reads closed and re-handshook TLS connections all the time (benchmarks/:
            # read_directory of 100,000 users 4.9 s -> 3.8 s, CPU 2.4 s -> 1.8 s).
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            transport=transport,
            mounts=mounts,
        )

    try:
        return client(True, LOOPBACK_DIRECT)
    except ImportError:  # httpx reads the proxy variables here, and SOCKS needs socksio
        unusable = socks_missing()
    except (ValueError, httpx.InvalidURL):
        unusable = unusable_proxy_error()
    # Loopback (the sandbox, the demo) needs no proxy: only a request elsewhere fails.
    return client(False, {"all://": Refused(unusable), **LOOPBACK_DIRECT})


CREDENTIAL_HEADERS = ("authorization", "private-token")  # GitLab sends its token alone


def server_text(response: httpx.Response, text: str, limit: int | None = None) -> str:
    """Text from a server's answer (an error's message, a request id) as one inert line and
    without any credential: a gateway or a server in debug mode may echo the
    ``Authorization`` header back, and the text goes to the log, the audit file and comments.
    The credential the request carried is known here even when nothing else made it a
    :class:`~entrasync.core.secret.Secret`. ``limit``: the most characters wanted."""
    try:
        headers = response.request.headers
    except RuntimeError:  # a response made without its request (tests)
        headers = httpx.Headers()
    for name in CREDENTIAL_HEADERS:
        sent = headers.get(name, "")
        remember(sent.partition(" ")[2] if " " in sent.strip() else sent)
    return sanitize.text(redact(text, limit))  # one inert line: no forged `error:` line


def error_detail(response: httpx.Response, *keys: str) -> str:
    """The first of ``keys`` in a JSON error body, or the start of the body's text."""
    try:
        data = json_of(response)
    except ValueError:
        return server_text(response, response.text, 200)
    if isinstance(data, dict):
        for key in keys:
            if data.get(key):
                return server_text(response, str(data[key]), 500)
    return server_text(response, str(data), 200)


def asked_to_wait(response: httpx.Response) -> str:
    """``, and asked to wait 3,600 s (Retry-After)`` for a 429, 503 or 504 the default policy
    does not wait out (:meth:`RetryPolicy.waits_out`: not retried, so the caller's error says
    so); else empty (another error with the header is about the request, not about waiting)."""
    if response.status_code not in RETRY_STATUSES:
        return ""
    asked = retry_after(response.headers)
    if asked is None or RetryPolicy().waits_out(asked):
        return ""
    return f", and asked to wait {asked:,.0f} s (Retry-After), longer than entrasync waits"


def json_of(response: httpx.Response) -> Any:
    """``response.json()``; a body nested deeper than Python's parser goes is a ``ValueError``
    too, as any other body that is not JSON (the parser raised ``RecursionError``, a
    traceback)."""
    try:
        return response.json()
    except RecursionError:
        raise ValueError("JSON nested too deep to read") from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait that an answer's headers ask for (None: not said). An HTTP-date
    Retry-After counts from the answer's own ``Date``, when it has one: the server's clock
    running minutes ahead of this machine's made a 5 s wait read as ten minutes."""
    value = headers.get("Retry-After")
    return None if value is None else parse_retry_after(value, _http_date(headers.get("Date")))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: ``10``, ``2.128`` or an HTTP date (from
    ``now``, a POSIX time, else this machine's clock)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        return max(0.0, when - (utc_moment().timestamp() if now is None else now))
    # Seconds are digits (RFC 9110 section 10.2.3): "-5", "nan" or "inf" are not a wait, and
    # taken as none, so the client's own backoff applies instead of an immediate retry.
    return seconds if 0 <= seconds < math.inf else None


def _http_date(value: str | None) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7, always GMT) as a POSIX time; None when it is none."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
        if when.tzinfo is None:  # "-0000": GMT all the same
            when = when.replace(tzinfo=UTC)
        return float(when.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999
        return None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = MAX_DELAY  # cap for one wait entrasync chooses (no Retry-After)
    # A Retry-After up to this is waited out in full: asking again sooner is answered 429 again
    # and counts against the app's budget. A server that asks for longer is not retried at all:
    # its answer is final, and the error says how long it asked for. Waiting and asking again,
    # six times, held a CI job for six minutes, then told it to run again "in a few minutes".
    # It also bounds one request's waits together (:meth:`within_budget`): six waits of 300 s
    # each held an apply at one write at a time for 30 minutes a write.
    longest_asked: float = LONGEST_ASKED
    jitter: Callable[[], float] = random.random
    # One answer, from its request (plus a second per 16 KB received, up to 4 times as long):
    # the client's timeout bounds each read, not the whole answer, and a server trickling a
    # byte every few seconds held a run for days.
    answer_deadline: float = 120.0
    # Decoded: a 1,000-user SCIM page or a 999-member Graph page is about 1 MB, and a gzip
    # answer of 3 MB may decode to 3 GB.
    max_answer_bytes: int = 256 * 1024 * 1024

    def waits_out(self, retry_after: float | None) -> bool:
        """Whether a throttled answer's Retry-After (None: not given) is waited for and the
        request sent again."""
        return retry_after is None or retry_after <= self.longest_asked

    def within_budget(self, waited: float, delay: float) -> bool:
        """Whether one request that has waited ``waited`` seconds before its retries so far
        may wait ``delay`` more and be sent again."""
        return waited + delay <= self.longest_asked

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.longest_asked)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + float(self.jitter()) / 2)


class TransportError(EntrasyncError):
    """The server could not be reached, after retries where retrying was safe."""


class NotSent(Exception):
    """``give_up`` answered True before the request went out: nothing was sent."""


def send(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = pause,
    on_retry: Callable[[httpx.Response | None, float], None] | None = None,
    what: str = "the server",
    idempotent: bool | None = None,
    resend: bool | None = None,
    gate: ThrottleGate | None = None,
    limit: AdaptiveLimit | None = None,
    give_up: Callable[[], bool] | None = None,
    refused_is_throttle: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request, retrying per the policy; return the final response (any status).

    ``refused_is_throttle``: a 403 with Retry-After is a throttle, retried as a 429 is (GitHub
    answers a secondary rate limit with either).

    ``give_up``: asked before each retry; when it answers True the last response is final (or
    the connection error raised). A stopping apply uses it so that the writes in flight end
    within a runner's grace period instead of waiting out Retry-After: a throttled write was
    not carried out, and is recorded as failed. Asked again once a slot of ``limit`` is free:
    a first attempt that waited for one while the stop came is never sent (:class:`NotSent`);
    a retry that did is not sent either, and the last answer is final.

    Once a signal ends the command (:func:`entrasync.adapters.throttle.end_waits`), no
    attempt starts: :class:`~entrasync.adapters.throttle.Abandoned` is raised instead.

    ``gate``: the client's shared :class:`ThrottleGate` (Graph). The request waits at it
    before every attempt, and a throttle it meets closes it for every other request too (the
    retry of this one then waits at the gate instead of sleeping on its own).

    ``limit``: the client's shared :class:`AdaptiveLimit` (SCIM). Each attempt holds a slot
    only while on the wire; a throttle it meets halves the limit, and the retry sleeps its own
    Retry-After without a slot. A client may pass both.

    ``idempotent`` overrides the method's own answer: a POST that only reads (Graph's
    ``$batch`` of GETs) is as safe to resend after a dropped connection as a GET.

    A 504 may follow a write the server carried out, so a write answered 504 is sent again
    only when ``resend`` says a second copy does no harm (SCIM's: a create sent twice meets
    409 and is looked up, a PATCH sets the same values); otherwise the 504 is final (a comment
    posted twice is two comments). When a write's retries then end in a throttle (or, for a
    resent one, a credential's refusal: a token revoked meanwhile), the outcome is that earlier
    504, or 503 without Retry-After, the answer that says the write may have been carried out; when
    they lose the connection, a :class:`TransportError` says so.
    Raises :class:`TransportError` when the connection fails and retrying is not safe or
    the retries are used up, and at once for any other httpx error (a proxy's refusal, an
    answer that cannot be decoded).
    """
    if idempotent is None:
        idempotent = method.upper() in IDEMPOTENT_METHODS
    if resend is None:
        resend = idempotent
    attempt, waited = 0, 0.0
    answered: httpx.Response | None = None  # the last answer, when a retry is not sent
    # A write's 504, or 503 without Retry-After (with it, a server refusing work for now): the
    # server may have carried it out.
    maybe_made: httpx.Response | None = None
    while True:
        attempt += 1
        if waits_ended():  # a signal is ending the command: no new request starts
            raise Abandoned()
        if gate is not None:
            gate.wait()
        try:
            response, asked = _attempt(client, method, url, limit, policy, give_up, kwargs)
        except NotSent:
            if attempt == 1:
                raise  # nothing of this request reached the server
            if answered is not None:
                # final, as when give_up ends the wait before a retry
                return _final(answered, maybe_made, resend)
            raise TransportError(  # a read whose connection failed, then a stop
                f"could not reach {what}, and entrasync stopped before retrying",
                "run again",
            ) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            delay = policy.backoff(attempt, None)
            untrusted = _caused_by(exc, ssl.SSLCertVerificationError) is not None
            if (
                not idempotent
                or attempt > policy.max_retries
                or _nothing_listens(exc)
                or untrusted  # the same certificate on every try
                or not _pause(sleep, delay, give_up, on_retry)
            ):
                if maybe_made is not None:  # a lost connection stops the later writes too
                    raise TransportError(
                        f"sent a write to {what}, answered {maybe_made.status_code}, then lost "
                        f"the connection retrying it ({type(exc).__name__}): it may have been "
                        "carried out",
                        UNKNOWN_WRITE_HINT,
                    ) from None
                if not idempotent and isinstance(exc, _UNANSWERED):
                    raise TransportError(
                        f"sent a write to {what} but got no answer ({type(exc).__name__}): it "
                        "may have been carried out",
                        UNKNOWN_WRITE_HINT,
                    ) from None
                via = _proxy_of(exc)
                if untrusted:
                    hint = CA_HINT
                elif _nothing_listens(exc):
                    hint = LOOPBACK_GONE_HINT
                elif via is not None:  # the proxy may be what could not be reached
                    hint = (
                        f"check the URL and the network; {via} is set: unless NO_PROXY names "
                        "this host, the request goes through that proxy, so check it too"
                    )
                else:
                    hint = "check the URL and the network, then run again"
                raise TransportError(
                    f"could not reach {what}: {type(exc).__name__}: {exc}", hint
                ) from None
            continue
        except httpx.HTTPError as exc:
            raise TransportError(*_not_sent(exc, what, write=not idempotent)) from None
        status = response.status_code
        throttled = refused_is_throttle and status == 403 and asked is not None
        if (status not in RETRY_STATUSES and not throttled) or (status == 504 and not resend):
            return _final(response, maybe_made, resend)
        if (
            status >= 500
            and not idempotent
            and maybe_made is None
            and (asked is None or status != 503)
        ):
            maybe_made = response
        if not policy.waits_out(asked):
            return _final(response, maybe_made, resend)
        delay = policy.backoff(attempt, asked)
        shared = gate is not None and gates(status, asked)
        if gate is not None and shared:
            # Even a last answer holds the others back: the server asked the client to wait.
            delay = gate.hold(delay)
        if attempt > policy.max_retries or not policy.within_budget(waited, delay):
            return _final(response, maybe_made, resend)
        waited += delay
        if shared:  # the retry waits at the gate, with every other request
            if on_retry is not None:
                on_retry(response, delay)
        elif not _pause(sleep, delay, give_up, on_retry, response):
            return _final(response, maybe_made, resend)
        response.close()
        answered = response


def _final(
    response: httpx.Response, maybe_made: httpx.Response | None, resend: bool
) -> httpx.Response:
    """The last answer to a request, unless it is a throttle, or for a write sent again by
    design (``resend``: SCIM's, which apply reads back) a credential's refusal (a token revoked
    meanwhile), after a 5xx that may have followed the write being carried out: that 5xx is
    the outcome. Any other answer stands: a 409 or 412 is the server's own word on the write,
    which apply reads back itself, and a review platform's refusal keeps its hint."""
    status = response.status_code
    gives_way = status == 429 or (resend and status in (401, 403))
    if maybe_made is None or maybe_made is response:
        return response
    if gives_way:
        return maybe_made
    response.extensions[_AFTER] = maybe_made.status_code  # see answered_after()
    return response


_AFTER = "entrasync.answered_after"


def answered_after(response: httpx.Response) -> int | None:
    """The status of an earlier attempt of this write (a 5xx that may have followed the write
    being carried out, in part or whole) when this answer is its retry's: a 412 or 409 then
    may be the earlier attempt's own doing."""
    status = response.extensions.get(_AFTER)
    return status if isinstance(status, int) else None


# A write went out and its answer did not come back (a timeout, a dropped or reset connection).
_UNANSWERED = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
PROXY_HINT = "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY, and the proxy's credentials"
UNKNOWN_WRITE_HINT = "run again: entrasync reads what is there now before it writes"


def _not_sent(exc: httpx.HTTPError, what: str, *, write: bool) -> tuple[str, str]:
    """The message and hint for an httpx error that no retry mends. Named by its type alone:
    a LocalProtocolError quotes the header it refused, which may hold a token."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ProxyError):
        return (
            f"the proxy refused the connection to {what} ({name})",
            PROXY_HINT,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return (
            f"cannot send a request to {what}: its URL is not http:// or https:// ({name})",
            "check the URL",
        )
    if isinstance(exc, httpx.LocalProtocolError):
        return (
            f"entrasync's request to {what} is not valid HTTP ({name}): a header it would "
            "send holds a character HTTP does not allow",
            "check that each token variable holds the token alone, on one line",
        )
    if isinstance(exc, httpx.DecodingError) and write:
        return (
            f"{what} answered a write, but the answer could not be decoded ({name}): the "
            "write may have been carried out",
            UNKNOWN_WRITE_HINT,
        )
    if isinstance(exc, httpx.DecodingError):
        return (
            f"{what} answered, but its answer could not be decoded ({name})",
            f"run again; if it repeats, something between entrasync and {what} (a proxy) "
            "changes its answers",
        )
    return (f"the request to {what} failed ({name})", "check the URL and the network")


def _proxy_of(exc: httpx.RequestError) -> str | None:
    """The variable naming a proxy the failed request may have gone through, if any."""
    try:
        return proxy_for(exc.request.url)
    except RuntimeError:  # an exception raised without its request
        return None


def _nothing_listens(exc: httpx.RequestError) -> bool:
    """A connection to a loopback address refused: nothing listens there (for entrasync, a
    sandbox that has stopped), so retrying would only hold back the hint for half a minute."""
    try:
        host = exc.request.url.host
    except RuntimeError:  # an exception raised without its request
        return False
    return _caused_by(exc, ConnectionRefusedError) is not None and is_loopback_host(host)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The ``kind`` error under ``exc`` (httpx's errors wrap httpcore's, which wrap the OS's
    or the ssl module's), or None."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, kind):
        cause = cause.__cause__ or cause.__context__
    return cause


def _pause(
    sleep: Callable[[float], None],
    delay: float,
    give_up: Callable[[], bool] | None,
    on_retry: Callable[[httpx.Response | None, float], None] | None,
    response: httpx.Response | None = None,
) -> bool:
    """Wait ``delay`` before a retry; False (no retry) when ``give_up`` answers True before or
    during the wait, which is cut into short naps so a stop ends it within a quarter second."""
    if give_up is not None and give_up():
        return False
    if on_retry is not None:
        on_retry(response, delay)
    if give_up is None:
        sleep(delay)
        return True
    left = delay
    while left > 0:
        nap = min(left, 0.25)
        sleep(nap)
        left -= nap
        if give_up():
            return False
    return True


def _attempt(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    limit: AdaptiveLimit | None,
    policy: RetryPolicy,
    give_up: Callable[[], bool] | None,
    kwargs: dict[str, Any],
) -> tuple[httpx.Response, float | None]:
    """One request on the wire (holding a slot of ``limit``, if any) and its Retry-After."""
    if limit is None:
        response = _received(client, method, url, policy, kwargs)
        return response, retry_after(response.headers)
    with limit.slot() as slot:
        if give_up is not None and give_up():
            raise NotSent()  # the wait for a slot (a throttled server) outlasted a stop
        response = _received(client, method, url, policy, kwargs)
        asked = retry_after(response.headers)
        if gates(response.status_code, asked):
            window = None if asked is None else min(asked, policy.longest_asked)
            slot.throttled(window)
        elif response.status_code in RETRY_STATUSES:
            slot.neutral()  # a 503/504 without Retry-After: an outage, not a rate
    return response, asked


class AnswerTooLarge(EntrasyncError):
    """An answer past :attr:`RetryPolicy.max_answer_bytes`: not read further."""


_KEPT_EXTENSIONS = ("http_version", "reason_phrase")
_RECODED = (b"content-encoding", b"content-length")  # of the body as sent, not as decoded
MIN_ANSWER_RATE = 16 * 1024  # bytes a second past the deadline, for a slow but moving answer


class _Deadlined(httpx.SyncByteStream):
    """An answer's body as sent, piece by piece, within its deadline: a slow link still moving
    gets more time the more it has sent (counted as sent, not as decoded: a compressed trickle
    earns nothing), up to 4 times the deadline."""

    def __init__(
        self, inner: Any, started: float, policy: RetryPolicy, request: httpx.Request
    ) -> None:
        self.inner, self.started, self.policy, self.request = inner, started, policy, request

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        deadline = self.policy.answer_deadline
        for piece in self.inner:
            sent += len(piece)
            allowed = deadline + min(sent / MIN_ANSWER_RATE, 3 * deadline)
            if time.monotonic() - self.started > allowed:
                raise httpx.ReadTimeout(
                    f"the answer took more than {allowed:.0f} s to arrive ({sent:,} bytes so far)",
                    request=self.request,
                )
            yield piece

    def close(self) -> None:
        self.inner.close()


@contextmanager
def _streamed(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    policy: RetryPolicy,
    started: float,
    kwargs: dict[str, Any],
) -> Iterator[httpx.Response]:
    """``client.stream``, its status line and headers read within the policy's deadline (kept
    by the TLS socket: httpx's timeout bounds each read only), the body within 4 times it,
    where :class:`_Deadlined` keeps the finer rule."""
    request = client.build_request(method, url, **kwargs)
    with answer_within(policy.answer_deadline, started):
        streamed = client.send(request, stream=True)
    try:
        with answer_within(4 * policy.answer_deadline, started):
            yield streamed
    finally:
        streamed.close()


def _received(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    policy: RetryPolicy,
    kwargs: dict[str, Any],
) -> httpx.Response:
    """One answer, read whole within the policy's deadline and size, as a response with its
    body in hand. It is a new response: httpx's read-and-closed stream still points back at
    its response (BoundSyncStream), a cycle that kept every page body (a 999-member page is
    ~200 KB) alive until a cyclic collection found it (benchmarks/)."""
    started = time.monotonic()
    with _streamed(client, method, url, policy, started, kwargs) as streamed:
        # Checked on every piece as sent, before decoding: pieces that decode to nothing (an
        # empty gzip block) still count.
        streamed.stream = _Deadlined(streamed.stream, started, policy, streamed.request)
        chunks: list[bytes] = []
        size = 0
        for chunk in streamed.iter_bytes():
            size += len(chunk)
            if size > policy.max_answer_bytes:
                raise AnswerTooLarge(
                    f"{streamed.request.url.host} answered with more than "
                    f"{policy.max_answer_bytes // (1024 * 1024)} MB; entrasync read no further",
                    "check the URL: no page of users comes near that",
                )
            chunks.append(chunk)
    # The body is decoded already: the new response must not decode it again. The raw bytes
    # of the other headers, as sent: decoded and encoded again, a non-ASCII one fails.
    headers = [(k, v) for k, v in streamed.headers.raw if k.lower() not in _RECODED]
    extensions = {k: v for k, v in streamed.extensions.items() if k in _KEPT_EXTENSIONS}
    return httpx.Response(
        streamed.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=streamed.request,
        extensions=extensions,
    )

"""Graph credentials: every app-only mode of docs/entra.md behind one token callable.

Precedence among credentials: ``ENTRASYNC_GRAPH_TOKEN``, then ``AZURE_CLIENT_SECRET``, then
``AZURE_CLIENT_CERTIFICATE_PATH``, then ``AZURE_FEDERATED_TOKEN_FILE``, then GitHub Actions
OIDC. msal does the OAuth exchange (and caches the token in memory); this module only chooses
the credential, keeps it in a :class:`Secret`, and turns msal's error dicts into
:class:`AuthError` with a plain hint.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from entrasync.adapters.graph import credentials
from entrasync.adapters.graph.aadsts import describe_msal_error
from entrasync.adapters.http import PROXY_HINT, require_safe_url
from entrasync.adapters.trust import CA_HINT, LOOPBACK_GONE_HINT, ca_hint, ssl_context
from entrasync.adapters.urls import SENT_AUTHORITY, SENT_GRAPH, is_loopback_host
from entrasync.config import routing
from entrasync.config.models import DEFAULT_AUTHORITY_HOST, DEFAULT_GRAPH_URL, Config
from entrasync.config.patterns import is_guid
from entrasync.core import sanitize
from entrasync.core.redact import remember
from entrasync.core.secret import Secret, bearer, refuse_macro
from entrasync.errors import AuthError, EntrasyncError, SeveralErrors

if TYPE_CHECKING:
    import requests

NO_CREDENTIALS_HINT = (
    "set one of: ENTRASYNC_GRAPH_TOKEN (a ready token, e.g. `az account get-access-token "
    "--resource-type ms-graph --query accessToken -o tsv`); AZURE_CLIENT_SECRET; "
    "AZURE_CLIENT_CERTIFICATE_PATH (PEM with key, + AZURE_CLIENT_CERTIFICATE_PASSWORD); "
    "AZURE_FEDERATED_TOKEN_FILE; or run in GitHub "
    "Actions with `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN)"
)


@dataclass(frozen=True)
class GraphEndpoints:
    """Where Graph and its token authority live (global cloud unless told otherwise)."""

    graph_url: str  # the root, e.g. https://graph.microsoft.com (no version segment)
    authority_host: str  # e.g. https://login.microsoftonline.com

    @property
    def api_base(self) -> str:
        return f"{self.graph_url}/v1.0"

    @property
    def scope(self) -> str:
        return f"{self.graph_url}/.default"


def _root(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"  # national-cloud tables list bare host names
    for suffix in ("/v1.0", "/beta"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def resolve_endpoints(config: Config, environ: Mapping[str, str]) -> GraphEndpoints:
    """Environment over config over the global cloud; each URL passes require_safe_url (https
    or loopback, no user info, query or fragment) before anything is sent to it."""
    graph = routing.GRAPH_URL.resolve(config, environ, DEFAULT_GRAPH_URL)
    host = routing.AUTHORITY_HOST.resolve(config, environ, DEFAULT_AUTHORITY_HOST)
    endpoints = GraphEndpoints(graph_url=_root(graph.value), authority_host=_root(host.value))
    require_safe_url(endpoints.graph_url, graph.origin, sent=SENT_GRAPH)
    require_safe_url(endpoints.authority_host, host.origin, sent=SENT_AUTHORITY)
    return endpoints


class TokenProvider(Protocol):
    """Returns a Graph access token; ``rejected`` is one Graph just refused (a 401): never
    return that one again."""

    mode: str  # which credential is in use, for messages ("client secret", ...)

    def __call__(self, *, rejected: str | None = None) -> str: ...


class StaticTokenProvider:
    """``ENTRASYNC_GRAPH_TOKEN``: used as given; it cannot be refreshed."""

    mode = "ENTRASYNC_GRAPH_TOKEN"

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, *, rejected: str | None = None) -> str:
        return self._token.reveal()


class MsalTokenProvider:
    """App-only tokens from msal, built lazily so nothing touches the network until needed."""

    def __init__(
        self,
        *,
        mode: str,
        tenant_id: str,
        client_id: str,
        endpoints: GraphEndpoints,
        credential: Callable[[], Any],
        verify: ssl.SSLContext,
        describe_assertion: Callable[[], str | None] = lambda: None,
        secret_like_id: bool = False,
        untrusted_hint: str = CA_HINT,
    ) -> None:
        self.mode = mode
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._endpoints = endpoints
        self._credential = credential
        self._verify = verify
        self._describe_assertion = describe_assertion
        self._secret_like_id = secret_like_id
        self._untrusted_hint = untrusted_hint  # what an SSLError's hint says: the trust chosen
        self._app: Any = None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()  # directory reads fetch tokens from several threads

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    @property
    def authority(self) -> str:
        return f"{self._endpoints.authority_host}/{self._tenant_id}"

    def _build_app(self) -> Any:
        if urlsplit(self.authority).scheme.lower() != "https":
            # Loopback may be plain http for Graph, not for the token: msal refuses it, with a
            # message that read as if the tenant had answered.
            raise AuthError(
                f"the token authority {self.authority} is not https://: msal, which fetches "
                "the token, takes only an https authority",
                "set AZURE_AUTHORITY_HOST (or entra.authority_host) to an https:// URL, or "
                "give a Graph token in ENTRASYNC_GRAPH_TOKEN instead",
            )
        # msal (and requests under it) are imported on the first token fetch, not with this
        # module: ENTRASYNC_GRAPH_TOKEN never needs them, and the CLI's path to its first
        # request is shorter without them.
        import msal.exceptions  # binds msal too; msal imports its exceptions only from 1.33
        import requests

        from entrasync.adapters.graph.msal_session import requests_session

        self._session = requests_session(self._verify)
        try:
            app = msal.ConfidentialClientApplication(
                self._client_id,
                authority=self.authority,
                client_credential=self._credential(),
                # Skip msal's instance-discovery GET: it only knows Microsoft's hosts, and
                # without it national clouds, test tenants and cassettes all work the same.
                instance_discovery=False,
                http_client=self._session,
            )
        except EntrasyncError:
            raise
        except requests.exceptions.RequestException as exc:
            raise _unreachable(self.authority, exc, self._untrusted_hint) from None
        except msal.exceptions.MsalError as exc:  # an error status (5xx) from its discovery
            raise _failing(self.authority, exc) from None
        # Not a discovery document msal can read: not JSON, nested past the parser
        # (RecursionError), or JSON of another shape (msal's KeyError, AttributeError, ...).
        except (ValueError, RecursionError, KeyError, TypeError, AttributeError) as exc:
            said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AuthError(
                f"the authority {self.authority} did not answer as an Entra tenant: {said}",
                "check AZURE_TENANT_ID (or entra.tenant_id) and that AZURE_AUTHORITY_HOST is "
                "the login host of the tenant's cloud",
            ) from None
        _refuse_other_token_host(self.authority, str(app.authority.token_endpoint))
        return app

    def __call__(self, *, rejected: str | None = None) -> str:
        with self._lock:
            if self._app is None:
                self._app = self._build_app()
            token = self._acquire()
            if rejected is not None and token == rejected:
                # Drop only the token Graph refused: concurrent readers that got the same
                # 401 then find the new one cached instead of each fetching another.
                self._app.remove_tokens_for_client()
                token = self._acquire()
            return token

    def _acquire(self) -> str:
        # Loaded by _build_app already; here for their exception types.
        import msal.exceptions
        import requests

        try:
            result = self._app.acquire_token_for_client(scopes=[self._endpoints.scope])
        except EntrasyncError:
            raise
        except requests.exceptions.RequestException as exc:
            raise _unreachable(self.authority, exc, self._untrusted_hint) from None
        except msal.exceptions.MsalError as exc:  # an error status (5xx) from the token endpoint
            raise _failing(self.authority, exc) from None
        # msal's json.loads of the token endpoint's answer: not JSON, or nested past what
        # Python's parser reads (RecursionError, a traceback).
        except (json.JSONDecodeError, RecursionError):
            raise AuthError(
                f"the token authority {self.authority} answered something that is not JSON "
                "(a proxy's or firewall's page, or not an Entra login host)",
                "check AZURE_AUTHORITY_HOST and any proxy between the runner and it, then run "
                "again",
            ) from None
        # msal reading a JSON answer that is no object, or whose expires_in is no number
        # (int() of it: ValueError, OverflowError for 1e400).
        except (AttributeError, TypeError, ValueError, OverflowError):
            raise AuthError(
                f"the token authority {self.authority} answered JSON that is no token answer "
                "(a proxy's or firewall's answer, or not an Entra login host)",
                "check AZURE_AUTHORITY_HOST and any proxy between the runner and it, then run "
                "again",
            ) from None
        if not isinstance(result, dict) or "access_token" not in result:
            message, hint = describe_msal_error(
                result if isinstance(result, dict) else {},
                self.mode,
                self._describe_assertion(),
                secret_like_id=self._secret_like_id,
            )
            raise AuthError(f"could not get a Microsoft Graph token ({self.mode}): {message}", hint)
        token = str(result["access_token"])
        remember(token)  # kept out of every message, should Graph echo it back
        return token


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or 443


# A URL's characters (RFC 3986) but "@": readers that differ on a user part, a backslash or a
# blank (urlsplit, and urllib3, which sends msal's requests) would see two hosts in one URL.
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]!$&'()*+,;=%]*")


def _same_origin(url: str, authority: str) -> bool:
    if not _PLAIN_URL.fullmatch(url):
        return False
    try:
        return _origin(url) == _origin(authority)
    except ValueError:  # a port that is not a number, or out of range
        return False


def _refuse_other_token_host(authority: str, token_endpoint: str) -> None:
    """The credential goes to the token endpoint the authority's discovery document names:
    only when that is the authority's own scheme, host and port, as Entra's always is, written
    so that every URL reader sees that host."""
    if not _same_origin(token_endpoint, authority):
        raise AuthError(
            f"the token authority {authority} names a token endpoint that is not plainly on its "
            f"own host ({sanitize.text(token_endpoint[:200])}): the client's credential is not "
            "sent there",
            "set AZURE_AUTHORITY_HOST to the login host itself (https://login.microsoftonline.com "
            "or the national cloud's)",
        )


def _failing(authority: str, exc: Exception) -> AuthError:
    """msal's error for an answer it could not read as an OAuth one: a status of 500 or more
    (its text says which, "HTTP Error: 503"), where Entra answers errors as JSON."""
    said = sanitize.text(str(exc.args[0]) if exc.args else type(exc).__name__)[:80]
    return AuthError(
        f"the token authority {authority} answered with an error ({said}): Entra's sign-in "
        "service is failing, or a proxy between the runner and it is",
        "nothing was read or changed; run again in a few minutes, and if it persists check the "
        "Azure status page and any proxy on the way",
    )


def _unreachable(authority: str, exc: Exception, untrusted_hint: str) -> AuthError:
    import requests  # as in _acquire: only where msal, which needs it, was loaded

    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return AuthError(
            f"the token authority {authority} answered with a redirect, which entrasync does "
            "not follow: the request carries the client's credential",
            "set AZURE_AUTHORITY_HOST to the login host itself (https://login.microsoftonline.com "
            "or the national cloud's), not an address that forwards",
        )
    if isinstance(exc, requests.exceptions.SSLError):
        hint = untrusted_hint
    elif isinstance(exc, requests.exceptions.ProxyError):
        hint = PROXY_HINT
    elif isinstance(exc, requests.exceptions.ConnectionError) and is_loopback_host(
        urlsplit(authority).hostname or ""
    ):
        hint = LOOPBACK_GONE_HINT
    else:
        hint = "check AZURE_AUTHORITY_HOST and the network, then run again"
    return AuthError(f"could not reach the token authority {authority}: {type(exc).__name__}", hint)


def _ids(config: Config, environ: Mapping[str, str]) -> tuple[str, str]:
    keys = (routing.TENANT_ID, routing.CLIENT_ID)
    tenant, client = (key.resolve(config, environ, "").value.strip() for key in keys)
    missing = [key.env for key, value in zip(keys, (tenant, client), strict=True) if not value]
    # A variable of blanks set over an id the file holds: say so, not "set the file's id".
    blank = [k.env for k in keys if k.env in missing and environ.get(k.env) and k.in_config(config)]
    if blank and blank == missing:
        raise _only_blanks(blank)
    if missing:
        hiding = (
            f" ({' and '.join(blank)} holds only blanks, hiding the file's id)" if blank else ""
        )
        raise AuthError(
            f"no {' or '.join(missing)} for the Entra app registration{hiding}",
            "set entra.tenant_id and entra.client_id in the mappings file, or the "
            "AZURE_TENANT_ID and AZURE_CLIENT_ID environment variables",
        )
    _refuse_odd_ids([(k.env, v) for k, v in zip(keys, (tenant, client), strict=True)])
    return tenant, client


def _only_blanks(variables: list[str]) -> AuthError:
    """Variables of blanks set over ids the mappings file holds."""
    return AuthError(
        f"{' and '.join(variables)} {'holds' if len(variables) == 1 else 'hold'} only blanks",
        "unset it to use entra.tenant_id and entra.client_id from the mappings file, or set it "
        "to the app registration's GUID (a set variable wins over the file)",
    )


def _refuse_odd_ids(named: Sequence[tuple[str, str]]) -> None:
    """(variable, id) pairs: an Azure Pipelines macro left unexpanded is named (it is no
    secret); any other id that is not a GUID is refused unshown: a secret set in the wrong
    variable was printed in full, twice."""
    for variable, value in named:
        refuse_macro(variable, value)  # an id is no secret: never remembered as one
    odd = [variable for variable, value in named if not is_guid(value)]
    if odd:
        raise AuthError(
            f"{' and '.join(odd)} {'is' if len(odd) == 1 else 'are'} not a GUID (the value is "
            "not shown: it may be a secret set in the wrong variable)",
            "use the app registration's Directory (tenant) ID and Application (client) ID, "
            "from its overview in the Entra admin center, as in the mappings file",
        )


def _tenant(config: Config, environ: Mapping[str, str]) -> str:
    """The tenant the mappings are for, lower-cased, checked as :func:`_ids` checks it; ""
    when none is set."""
    key = routing.TENANT_ID
    value = key.resolve(config, environ, "").value.strip()
    if not value and environ.get(key.env) and key.in_config(config):
        raise _only_blanks([key.env])
    if value:
        _refuse_odd_ids([(key.env, value)])
    return value.lower()


def _refuse_other_tenant(token: str, config: Config, environ: Mapping[str, str]) -> None:
    """A ready token whose tenant (its ``tid``) is not the one configured: `az` gives a token
    for its current tenant, and a group named alike in both (test and production) would have
    been read from the wrong one. Not compared when no tenant is set, or the token says none."""
    configured = _tenant(config, environ)
    said = credentials.unverified_claims(token).get("tid")
    if not configured or not isinstance(said, str) or not is_guid(said):
        return
    if said.lower() != configured:
        raise AuthError(
            f"ENTRASYNC_GRAPH_TOKEN is a token for tenant {said.lower()}, not for the tenant "
            f"the mappings are for ({configured}, from AZURE_TENANT_ID or entra.tenant_id)",
            f"get a token for that tenant: `az account get-access-token --tenant {configured} "
            "--resource-type ms-graph --query accessToken -o tsv`",
        )


def make_token_provider(config: Config, environ: Mapping[str, str]) -> TokenProvider:
    """Pick the credential in the order of docs/entra.md; fail early when there is none."""
    endpoints = resolve_endpoints(config, environ)
    ready = environ.get("ENTRASYNC_GRAPH_TOKEN", "").strip()
    if ready:
        token = bearer("ENTRASYNC_GRAPH_TOKEN", ready)
        _refuse_other_tenant(token.reveal(), config, environ)
        return StaticTokenProvider(token)
    choice = credentials.choose(environ, endpoints.authority_host)
    if choice is None:
        why = credentials.half_set(environ)
        said = f": {why}" if why else ""
        none = AuthError(f"no Microsoft Graph credentials found{said}", NO_CREDENTIALS_HINT)
        try:
            _ids(config, environ)
        except AuthError as ids:  # told together: a first run learns both at once
            raise SeveralErrors((none, ids)) from None
        raise none
    tenant, client = _ids(config, environ)
    return MsalTokenProvider(
        mode=choice.mode,
        tenant_id=tenant,
        client_id=client,
        endpoints=endpoints,
        credential=choice.build,
        verify=ssl_context(environ, for_requests=True),
        untrusted_hint=ca_hint(environ, for_requests=True),
        describe_assertion=choice.describe_assertion,
        secret_like_id=choice.secret_like_id,
    )

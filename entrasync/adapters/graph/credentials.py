"""The msal credential for each mode: secret, PEM certificate, federated token file, GitHub OIDC.

Federated assertions are callables, so msal asks for a fresh one whenever it goes to the
token endpoint: GitHub ID tokens live about five minutes and a projected token file is
rotated underneath us. msal's AutoRefresher is not used: its default 540 s outlives GitHub's
token (https://github.com/AzureAD/microsoft-authentication-library-for-python, issue 746).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from entrasync.adapters.clock import utc_moment
from entrasync.adapters.http import json_of, new_client, require_safe_url, send
from entrasync.adapters.pathvars import shown_path
from entrasync.config.patterns import is_guid
from entrasync.core.redact import remember
from entrasync.core.secret import Secret, bearer
from entrasync.errors import AuthError

if TYPE_CHECKING:
    from cryptography import x509

# FIC audiences per cloud (https://learn.microsoft.com/entra/workload-id/
# workload-identity-federation-create-trust); anything else is the global audience.
GLOBAL_AUDIENCE = "api://AzureADTokenExchange"
AUDIENCES = {
    "login.microsoftonline.us": "api://AzureADTokenExchangeUSGov",
    "login.partner.microsoftonline.cn": "api://AzureADTokenExchangeChina",
    "login.chinacloudapi.cn": "api://AzureADTokenExchangeChina",
}


def federated_audience(authority_host: str) -> str:
    host = urlsplit(authority_host).hostname or ""
    return AUDIENCES.get(host.lower(), GLOBAL_AUDIENCE)


JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # RFC 7519 §3.1


def unverified_claims(jwt: str) -> dict[str, Any]:
    """A JWT's claims as written, its signature unchecked: for messages and sanity checks
    only, never for trust (Entra and Graph check the token itself); {} when it is no JWT."""
    try:
        payload = jwt.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, RecursionError):  # RecursionError: nested past the parser
        decoded = {}
    return decoded if isinstance(decoded, dict) else {}


@dataclass
class _LastAssertion:
    """The claims (never the token) of the last assertion sent, for error messages."""

    claims: dict[str, Any] = field(default_factory=dict)

    def remember(self, jwt: str) -> None:
        self.claims = unverified_claims(jwt)

    def describe(self) -> str | None:
        if not self.claims:
            return None
        parts = [f"{k}={self.claims[k]!r}" for k in ("iss", "sub", "aud") if k in self.claims]
        return ", ".join(parts) or None


@dataclass(frozen=True)
class CredentialChoice:
    mode: str
    build: Callable[[], Any]  # msal's client_credential: a str or a dict
    describe_assertion: Callable[[], str | None] = lambda: None
    secret_like_id: bool = False  # a client secret of a GUID's shape (a secret's ID?)


def _secret(value: str) -> CredentialChoice:
    # An unexpanded $(AZURE_CLIENT_SECRET) was sent, refused as an expired secret, and the
    # hint said to create a new one: the pipeline only lacked the variable.
    secret = bearer("AZURE_CLIENT_SECRET", value)
    # Still sent: only Entra knows whether it is a secret; its refusal then says which to set.
    like_id = is_guid(secret.reveal())
    return CredentialChoice("client secret", secret.reveal, secret_like_id=like_id)


def load_certificate(path: str, password: Secret | None) -> tuple[Secret, str]:
    """The private key (unencrypted PEM, kept secret) and the SHA-1 thumbprint of the cert."""
    # Imported here: only the certificate mode needs cryptography (about 20 ms to import).
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    hint_pem = (
        "AZURE_CLIENT_CERTIFICATE_PATH must be a PEM file holding the certificate and its "
        "private key (from a .pfx: `openssl pkcs12 -in cert.pfx -nodes -out cert.pem`)"
    )
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AuthError(
            f"cannot read the certificate file {shown_path(path)}: {exc.strerror}", hint_pem
        ) from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise AuthError(f"no PEM certificate found in {path}", hint_pem) from None
    if b"PRIVATE KEY-----" not in data:
        raise AuthError(
            f"the certificate file {path} holds no private key (the public certificate, as "
            "uploaded to Entra, alone?)",
            hint_pem,
        )
    secret_bytes = password.reveal().encode() if password else None
    try:
        key = serialization.load_pem_private_key(data, password=secret_bytes)
    except TypeError:
        raise AuthError(
            f"the private key in {path} is encrypted and no password was given"
            if secret_bytes is None
            else f"the private key in {path} is not encrypted but a password was given",
            "set (or unset) AZURE_CLIENT_CERTIFICATE_PASSWORD",
        ) from None
    except UnsupportedAlgorithm:  # a curve or key type cryptography cannot load (SM2)
        raise AuthError(
            f"the key in {path} is not an RSA key", "Entra app certificates use RSA"
        ) from None
    except ValueError:
        if not any(mark in data for mark in _ENCRYPTED):  # no password to be wrong: the data is
            raise AuthError(
                f"cannot load the private key in {path}: its data is damaged or in a form "
                "that cannot be read",
                "export the certificate and its key again into one PEM file (`openssl pkcs12 "
                "-in cert.pfx -out cert.pem -nodes` for a .pfx)",
            ) from None
        raise AuthError(
            f"cannot load the private key in {path}: a wrong password, or an encryption "
            "cryptography cannot read",
            "check AZURE_CLIENT_CERTIFICATE_PASSWORD; a key encrypted with DES or Blowfish "
            "reads as a wrong password: re-encrypt it with AES "
            "(`openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem`)",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(f"the key in {path} is not an RSA key", "Entra app certificates use RSA")
    # The key's own certificate, wherever it stands: a chain exported CA first put the CA's
    # first, and the key was said not to belong to it.
    numbers = key.public_key().public_numbers()
    certificate = next((c for c in certificates if _public_numbers(c) == numbers), None)
    if certificate is None:
        raise AuthError(
            f"the private key in {path} does not belong to its certificate",
            "export the certificate and its own key together into one PEM file",
        )
    _check_dates(certificate, path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # Entra's x5t: SHA-1 of the DER certificate (msal signs RS256 with it).
    return Secret(pem, sent=False), certificate.fingerprint(hashes.SHA1()).hex().upper()


# How PEM says a key is encrypted: PKCS#8's label, or the traditional format's header.
_ENCRYPTED = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")


def _public_numbers(certificate: Any) -> object:
    """An RSA certificate's public numbers; None for another kind of key, one cryptography
    cannot load included (a CA of the chain on the SM2 curve)."""
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        public = certificate.public_key()
    except UnsupportedAlgorithm:
        return None
    return public.public_numbers() if hasattr(public, "public_numbers") else None


def _certificate(path: str, password: str | None) -> CredentialChoice:
    key, thumbprint = load_certificate(path, Secret(password, sent=False) if password else None)
    return CredentialChoice(
        "certificate", lambda: {"private_key": key.reveal(), "thumbprint": thumbprint}
    )


def _check_dates(certificate: x509.Certificate, path: str) -> None:
    """Refuse a certificate outside its validity period before it is sent: Entra answers an
    expired one with a code of its own (AADSTS1000502) only after the round trip."""
    now = utc_moment()
    until, since = certificate.not_valid_after_utc, certificate.not_valid_before_utc
    if until < now:
        raise AuthError(
            f"the certificate in {path} expired on {until:%Y-%m-%d %H:%M} UTC",
            "create a new certificate, upload its public part to the app registration under "
            "Certificates & secrets, and point AZURE_CLIENT_CERTIFICATE_PATH at it with its key",
        )
    if since > now + CLOCK_SKEW:
        raise AuthError(
            f"the certificate in {path} is valid only from {since:%Y-%m-%d %H:%M} UTC",
            "check this machine's clock, or use a certificate valid now",
        )


CLOCK_SKEW = timedelta(minutes=5)  # as Entra allows a token's times to differ from its clock


def _token_file(path: str) -> CredentialChoice:
    last = _LastAssertion()

    def assertion() -> str:
        # Re-read every time: the platform rotates the file under a long-running process.
        try:
            # utf-8-sig: PowerShell 5's `Out-File -Encoding utf8` starts the file with a BOM.
            token = Path(path).read_bytes().decode("utf-8-sig").strip()
        except OSError as exc:
            raise AuthError(
                f"cannot read AZURE_FEDERATED_TOKEN_FILE {shown_path(path)}: {exc.strerror}",
                "point AZURE_FEDERATED_TOKEN_FILE at the projected service-account token",
            ) from None
        except UnicodeDecodeError:
            why = "it is not UTF-8 text (a certificate or another binary file?)"
            raise _no_token(path, why) from None
        if not token:
            raise AuthError(
                f"AZURE_FEDERATED_TOKEN_FILE {shown_path(path)} is empty",
                "the platform that writes it (a projected service-account token, a CI's OIDC "
                "step) has not written it yet, or wrote it elsewhere: check the path and that "
                "the step writing it ran before this one",
            )
        remember(token)
        # The whole text a JWT, not text holding one (JSON around it, a "Bearer " before it).
        if not JWT_SHAPE.fullmatch(token) or not unverified_claims(token):
            raise _no_token(path, _not_a_jwt(token))
        last.remember(token)
        return token

    return CredentialChoice(
        "federated token file", lambda: {"client_assertion": assertion}, last.describe
    )


def _no_token(path: str, why: str) -> AuthError:
    return AuthError(
        f"AZURE_FEDERATED_TOKEN_FILE {shown_path(path)} does not hold a token: {why}; nothing "
        "was sent",
        "point AZURE_FEDERATED_TOKEN_FILE at the file holding the federated token itself (a "
        "JWT, as text: three base64url parts joined by dots)",
    )


def _not_a_jwt(text: str) -> str:
    """What a federated token file holds instead of a JWT, without a word of it: it is sent
    to the token authority, and a key sent there has left the machine."""
    if "-----BEGIN" in text:
        return "it holds a PEM block (a certificate or a private key)"
    if text.startswith("{"):
        return "it holds JSON (an OIDC endpoint's whole answer? write only the token in it)"
    return "it is not a JWT"


def fetch_github_id_token(
    request_url: str, request_token: Secret, audience: str, environ: Mapping[str, str]
) -> str:
    """One fresh GitHub Actions ID token (https://docs.github.com/en/actions/reference/security/oidc)."""
    # The URL already carries a query (api-version=...): since httpx 0.28 `params=` would
    # replace it (encode/httpx#3433), so merge the audience into it instead.
    url = require_safe_url(
        request_url, "ACTIONS_ID_TOKEN_REQUEST_URL", allow_query=True
    ).copy_merge_params({"audience": audience})
    with new_client(environ) as client:
        response = send(
            client,
            "GET",
            url,
            headers={
                "Authorization": f"bearer {request_token.reveal()}",
                "Accept": "application/json",
            },
            what="the GitHub Actions OIDC endpoint",
        )
    # GitHub sets the request URL and token only in a job granted id-token: write, so the
    # permission is the fix for a refusal (403) alone.
    status = response.status_code
    foreign = (
        "check ACTIONS_ID_TOKEN_REQUEST_URL and any proxy between the runner and GitHub: "
        "something other than GitHub's OIDC endpoint answered"
    )
    if status == 401:  # the job has the permission: its request token was refused
        hint = (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN was refused: it is the job's own and expires with it; "
            "pass it through unchanged from the job that runs entrasync"
        )
    elif status == 403:
        hint = "give the job `permissions: id-token: write` (fork pull requests get no OIDC token)"
    elif status == 404:
        hint = "check ACTIONS_ID_TOKEN_REQUEST_URL: GitHub sets it in a job with id-token: write"
    elif status >= 500:
        hint = "GitHub's OIDC endpoint is failing: run the job again (githubstatus.com)"
    else:
        hint = foreign
    if status != 200:
        raise AuthError(f"GitHub refused the OIDC token request (HTTP {status})", hint)
    try:
        value = json_of(response).get("value")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not unverified_claims(value):
        raise AuthError("GitHub's OIDC token response carried no token", foreign)
    return value


def _github(url: str, token: str, audience: str, environ: Mapping[str, str]) -> CredentialChoice:
    request_token = bearer("ACTIONS_ID_TOKEN_REQUEST_TOKEN", token)
    last = _LastAssertion()

    def assertion() -> str:
        jwt = fetch_github_id_token(url, request_token, audience, environ)
        last.remember(jwt)
        remember(jwt)
        return jwt

    return CredentialChoice(
        "GitHub Actions OIDC", lambda: {"client_assertion": assertion}, last.describe
    )


CREDENTIAL_VARIABLES = (
    "ENTRASYNC_GRAPH_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
)
GITHUB_OIDC_PAIR = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


def half_set(environ: Mapping[str, str]) -> str | None:
    """Why no credential was found though one was meant, when it shows: a variable set but
    blank (a CI secret that is undefined, or withheld from a fork's pull request), or one of
    GitHub's two OIDC variables without the other (a step passing one of them on)."""
    blank = [v for v in CREDENTIAL_VARIABLES if v in environ and not environ[v].strip()]
    if blank:
        return f"{' and '.join(blank)} {'is' if len(blank) == 1 else 'are'} set but empty"
    given = [v for v in GITHUB_OIDC_PAIR if environ.get(v, "").strip()]
    if len(given) == 1:
        (missing,) = set(GITHUB_OIDC_PAIR) - set(given)
        return f"{given[0]} is set but {missing} is not"
    return None


def choose(environ: Mapping[str, str], authority_host: str) -> CredentialChoice | None:
    """The first credential present, in docs/entra.md order (the ready token is handled above)."""
    env = {k: v.strip() for k, v in environ.items() if isinstance(v, str)}
    if env.get("AZURE_CLIENT_SECRET"):
        return _secret(env["AZURE_CLIENT_SECRET"])
    if env.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        # Its blanks may be the password's own; a line end is a file's (a secret made from one).
        password = environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        return _certificate(
            env["AZURE_CLIENT_CERTIFICATE_PATH"], password.rstrip("\r\n") if password else None
        )
    if env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return _token_file(env["AZURE_FEDERATED_TOKEN_FILE"])
    url, token = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if url and token:
        return _github(url, token, federated_audience(authority_host), environ)
    return None

"""The emulated identity platform: token endpoint, OpenID discovery, GitHub Actions OIDC signer.

Behaves like login.microsoftonline.com for app-only flows (client secret, certificate
assertion, federated GitHub token) including its AADSTS error bodies, so the Graph client's
msal wiring and error translation run for real against loopback.
See https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow and
https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599
# Entra checks times, issuer, audience and subject itself, each with its own AADSTS code.
_SIGNATURE_ONLY: jwt.types.Options = {"verify_exp": False, "verify_aud": False, "verify_nbf": False}


@dataclass(frozen=True)
class AADError(Exception):
    """An AADSTS failure as the token endpoint reports it."""

    status: int
    error: str
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def tenant_not_found(tenant: str) -> AADError:
    return AADError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud.",
    )


class TokenStore:
    """Opaque access tokens tracked server-side: Graph decides validity, not the client."""

    def __init__(self, lifetime: int = TOKEN_LIFETIME) -> None:
        self.lifetime = lifetime
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_hex(32)  # hex on purpose: nothing about it looks like a JWT
        with self._lock:
            self._expiry[token] = time.monotonic() + self.lifetime
        return token

    def check(self, token: str) -> str | None:
        """None when valid, else why not: the text Graph puts in its 401."""
        if not token:
            return "Access token is empty."
        with self._lock:
            expiry = self._expiry.get(token)
        if expiry is None:
            return "Access token validation failure. Invalid audience."
        if expiry <= time.monotonic():
            return "Lifetime validation failed, the token is expired."
        return None

    def expire_all(self) -> None:
        with self._lock:
            self._expiry = dict.fromkeys(self._expiry, 0.0)


@cache
def _signing_key() -> rsa.RSAPrivateKey:
    # One key per process: generating RSA keys per emulator would slow every test.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class GitHubOidcSigner:
    """Mints GitHub Actions ID tokens (RS256 JWTs) that only this emulator accepts."""

    def __init__(self) -> None:
        self._key = _signing_key()
        self.kid = secrets.token_hex(8)

    def issue(self, subject: str, audience: str, *, lifetime: int = 300) -> str:
        now = int(time.time())
        claims = {
            "iss": GITHUB_ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str) -> dict[str, Any]:
        """Signature only; the caller checks time, issuer, audience and subject as Entra does."""
        claims: dict[str, Any] = jwt.decode(
            token, self._key.public_key(), algorithms=["RS256"], options=_SIGNATURE_ONLY
        )
        return claims


@dataclass(frozen=True)
class AppRegistration:
    """What the emulated tenant knows about the one app entrasync signs in as."""

    tenant_id: str
    client_id: str
    client_secret: str
    certificate_pem: bytes | None
    federated_subject: str | None


def authenticate_client(
    form: Mapping[str, str],
    app: AppRegistration,
    token_endpoint: str,
    resource: str,
    signer: GitHubOidcSigner,
) -> None:
    """Raise the AADError Entra would give for this client_credentials request, if any."""
    if form.get("grant_type") != "client_credentials":
        raise AADError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
        )
    if form.get("client_id") != app.client_id:
        raise AADError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{form.get('client_id', '')}' was not found in the "
            f"directory '{app.tenant_id}'.",
        )
    scopes = form.get("scope", "").split()
    if scopes != [f"{resource}/.default"]:
        raise AADError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope', '')} is not valid. Client "
            f"credential flows must have a scope value with /.default suffixed to the "
            f"resource identifier {resource}.",
        )
    if "client_secret" in form:
        if not secrets.compare_digest(form["client_secret"], app.client_secret):
            raise _invalid_client(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID, for a secret added to "
                f"app '{app.client_id}'.",
            )
        return
    assertion = form.get("client_assertion")
    if not assertion or form.get("client_assertion_type") != ASSERTION_TYPE:
        raise _invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise _invalid_client(50027, "JWT token is invalid or malformed.") from None
    if "x5t" in header or "x5t#S256" in header:
        _check_certificate_assertion(assertion, header, app, token_endpoint)
    else:
        _check_federated_assertion(assertion, app, signer)


def _check_certificate_assertion(
    assertion: str, header: Mapping[str, Any], app: AppRegistration, token_endpoint: str
) -> None:
    unregistered = _invalid_client(
        700027,
        "The certificate with identifier used to sign the client assertion is not "
        f"registered on application. [Reason - The key was not found., Thumbprint of key "
        f"used by client: '{header.get('x5t') or header.get('x5t#S256')}']",
    )
    if app.certificate_pem is None:
        raise unregistered
    cert = x509.load_pem_x509_certificate(app.certificate_pem)
    expected = {
        "x5t": _b64url(cert.fingerprint(hashes.SHA1())),
        "x5t#S256": _b64url(cert.fingerprint(hashes.SHA256())),
    }
    # msal pads its base64url thumbprints; RFC 7515 says unpadded. Entra takes both.
    presented = {name: str(header.get(name, "")).rstrip("=") for name in expected}
    if not any(presented[name] == value for name, value in expected.items()):
        raise unregistered
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            options=_SIGNATURE_ONLY,
        )
    except jwt.PyJWTError:
        raise _invalid_client(700027, "Client assertion failed signature validation.") from None
    _check_lifetime(claims)
    if claims.get("aud") != token_endpoint:
        raise _invalid_client(50012, "Client assertion audience claim does not match Realm issuer.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise _invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        )


def _check_federated_assertion(
    assertion: str, app: AppRegistration, signer: GitHubOidcSigner
) -> None:
    try:
        claims = signer.verify(assertion)
    except jwt.PyJWTError:
        raise _invalid_client(
            700211,
            _NO_RECORD + "issuer. The assertion's signature does not match a key of the issuer.",
        ) from None
    _check_lifetime(claims)
    if claims.get("iss") != GITHUB_ISSUER:
        raise _invalid_client(
            700211,
            _NO_RECORD + f"issuer '{claims.get('iss')}'.",
        )
    if claims.get("aud") != FEDERATION_AUDIENCE:
        raise _invalid_client(
            700212,
            _NO_RECORD + f"audience '{claims.get('aud')}'.",
        )
    subject = str(claims.get("sub"))
    if subject == app.federated_subject:
        return
    if app.federated_subject is not None and subject.lower() == app.federated_subject.lower():
        # Federated credentials match case-sensitively since 2025; Entra says so with its own code.
        raise _invalid_client(
            7002138,
            _NO_RECORD
            + f"subject '{subject}'. The subject matches a federated identity credential only when "
            "compared case-insensitively; matching is case-sensitive.",
        )
    raise _invalid_client(
        700213,
        f"No matching federated identity record found for presented assertion subject "
        f"'{subject}'. Check your federated identity credential Subject, Audience and "
        "Issuer against the presented assertion. "
        "https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
    )


def _check_lifetime(claims: Mapping[str, Any]) -> None:
    now = time.time()
    exp = float(claims.get("exp", 0))
    nbf = float(claims.get("nbf", claims.get("iat", 0)))
    if exp <= now or nbf > now + 300:
        stamp = datetime.datetime.fromtimestamp
        raise _invalid_client(
            700024,
            "Client assertion is not within its valid time range. Current time: "
            f"{stamp(now, datetime.UTC):%Y-%m-%dT%H:%M:%S.%fZ}, assertion valid from "
            f"{stamp(nbf, datetime.UTC):%Y-%m-%dT%H:%M:%S.%fZ}, expiry time of assertion "
            f"{stamp(exp, datetime.UTC):%Y-%m-%dT%H:%M:%S.%fZ}.",
        )


_NO_RECORD = "No matching federated identity record found for presented assertion "


def _invalid_client(code: int, message: str) -> AADError:
    return AADError(401, "invalid_client", code, message)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_response(access_token: str, lifetime: int) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }


def openid_configuration(authority_host: str, tenant_id: str, graph_host: str) -> dict[str, Any]:
    """The v2.0 discovery document, pointing at the emulator itself."""
    base = f"{authority_host}/{tenant_id}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{graph_host}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "sandbox.invalid",
        "cloud_graph_host_name": "sandbox.invalid",
        "msgraph_host": graph_host.split("://", 1)[-1],
        "rbac_url": "https://sandbox.invalid",
    }

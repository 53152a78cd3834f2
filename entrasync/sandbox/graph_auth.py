"""Client authentication at the emulated token endpoint, with Entra's AADSTS failures.

Behaves like login.microsoftonline.com for app-only flows (client secret, certificate
assertion, federated GitHub token), so the Graph client's msal wiring and error translation
run for real against loopback.
See https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow and
https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from entrasync.sandbox.graph_tokens import (
    FEDERATION_AUDIENCE,
    GITHUB_ISSUER,
    SIGNATURE_ONLY,
    GitHubOidcSigner,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


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
            options=SIGNATURE_ONLY,
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

"""msal's error dicts in plain words: branch on the AADSTS code, show Entra's text to humans.

Codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from entrasync.core import sanitize
from entrasync.core.redact import redact

_AADSTS = re.compile(r"AADSTS(\d+)")

FIC_SUBJECTS = (
    "repo:OWNER/REPO:environment:neuraltrust-plan (plan.yml, drift.yml), "
    "repo:OWNER/REPO:environment:neuraltrust-prod (apply.yml), "
    "repo:OWNER/REPO:environment:neuraltrust-sync (sync.yml); without environments "
    "repo:OWNER/REPO:pull_request or repo:OWNER/REPO:ref:refs/heads/main "
    "(newer repositories: repo:OWNER@OWNER_ID/REPO@REPO_ID:...)"
)
_FIC = (
    "add a federated credential to the app registration (Certificates & secrets > Federated "
    "credentials) with issuer https://token.actions.githubusercontent.com, audience "
    "api://AzureADTokenExchange (api://AzureADTokenExchangeUSGov or "
    "api://AzureADTokenExchangeChina in those clouds, as the token sent shows) and the exact, "
    f"case-sensitive subject, one of: {FIC_SUBJECTS}"
)

# Any other issuer (a federated token file: GitLab, Azure DevOps, Kubernetes): its own claims.
_FIC_TOKEN = (
    "add a federated credential to the app registration (Certificates & secrets > Federated "
    "credentials) whose issuer, subject and audience are exactly the token's (shown above; "
    "subjects are case-sensitive)"
)
# Codes of a federated assertion Entra matched to no federated credential.
FEDERATED_MISMATCH = (700211, 700212, 700213, 70021, 7002138)

_SAME_CLOUD = (
    "ENTRASYNC_GRAPH_URL (or entra.graph_url) and AZURE_AUTHORITY_HOST (or "
    "entra.authority_host) must name the same cloud, e.g. https://graph.microsoft.us with "
    "https://login.microsoftonline.us; set both, or neither for the global cloud"
)

# code -> (what happened, what to do)
HINTS: dict[int, tuple[str, str]] = {
    7000215: (
        "the client secret is invalid or expired",
        "create a new one in the app registration (Certificates & secrets) and update "
        "AZURE_CLIENT_SECRET",
    ),
    7000222: (
        "the client secret has expired",
        "create a new one in the app registration (Certificates & secrets) and update "
        "AZURE_CLIENT_SECRET",
    ),
    700211: ("no federated credential matches the token's issuer", _FIC),
    700212: ("no federated credential matches the token's audience", _FIC),
    700213: ("no federated credential matches the token's issuer and subject", _FIC),
    70021: ("no federated credential matches the token's issuer, subject and audience", _FIC),
    7002138: (
        "the token's subject differs from the federated credential only in letter case",
        "subjects are case-sensitive: make the federated credential's subject match exactly",
    ),
    700024: (
        "the federated token (client assertion) has expired",
        "GitHub ID tokens live about 5 minutes and are fetched fresh per exchange; a "
        "AZURE_FEDERATED_TOKEN_FILE must be refreshed by the platform that writes it",
    ),
    700027: (
        "the certificate signature was rejected",
        "upload this certificate (its public part) to the app registration under "
        "Certificates & secrets, and check AZURE_CLIENT_CERTIFICATE_PATH points at the "
        "matching PEM with its key",
    ),
    1000502: (
        "the certificate is outside its validity period",
        "upload a new certificate (its public part) to the app registration under "
        "Certificates & secrets, and point AZURE_CLIENT_CERTIFICATE_PATH at it with its key",
    ),
    700016: (
        "no application with this client id exists in the tenant",
        "check AZURE_CLIENT_ID (or entra.client_id) and AZURE_TENANT_ID",
    ),
    90002: (
        "the tenant was not found",
        "check AZURE_TENANT_ID (or entra.tenant_id), and that AZURE_AUTHORITY_HOST is the "
        "login host of the tenant's cloud",
    ),
    7000112: (
        "the application is disabled",
        "an administrator must re-enable the app registration's service principal",
    ),
    900382: (
        "the tenant is in another cloud than this login host (a cross-cloud request)",
        "a US Government or China tenant signs in at its own cloud: set AZURE_AUTHORITY_HOST "
        "and ENTRASYNC_GRAPH_URL (or entra.authority_host and entra.graph_url) to that cloud's "
        "hosts, e.g. https://login.microsoftonline.us with https://graph.microsoft.us",
    ),
    1002012: (
        "the token was asked for a Microsoft Graph this login host does not serve",
        _SAME_CLOUD,
    ),
    500011: (
        "the Microsoft Graph asked for is not known in this tenant's cloud",
        _SAME_CLOUD,
    ),
}

# Entra shows a client secret's ID (a GUID) beside its value, and only the ID stays visible.
SECRET_ID_HINT = (
    "AZURE_CLIENT_SECRET has the shape of a GUID, as a secret's ID has (the Secret ID column "
    "in Certificates & secrets): set the secret's Value instead, shown once when the secret was "
    "created, or create a new secret and set its Value"
)

DEFAULT_HINT = (
    "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential in use; Entra's error text "
    "above names the problem (https://learn.microsoft.com/entra/identity-platform/"
    "reference-error-codes)"
)


# OAuth 2.0's errors for a server that cannot answer now (RFC 6749 §4.1.2.1), which Entra's
# token endpoint gives too when it throttles or fails: nothing is wrong with the app.
_BUSY = dict.fromkeys(
    ("temporarily_unavailable", "server_error"),
    "Entra's sign-in service is throttling or failing, after entrasync's retries: nothing is "
    "wrong with the app or its credential; run again in a few minutes",
)


def aadsts_code(result: Mapping[str, Any]) -> int | None:
    codes = result.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    found = _AADSTS.search(str(result.get("error_description") or ""))
    return int(found.group(1)) if found else None


def describe_msal_error(
    result: Mapping[str, Any],
    mode: str,
    assertion: str | None = None,
    *,
    secret_like_id: bool = False,
) -> tuple[str, str]:
    """(message, hint) for a failed token request; the description's first line only.

    ``secret_like_id``: the client secret sent has a GUID's shape, as a secret's ID does."""
    code = aadsts_code(result)
    error = _said(result.get("error")) or "unknown_error"
    # Redacted whole before its first line is taken: a credential echoed over two lines.
    description = redact(str(result.get("error_description") or "")).strip().splitlines()
    first = _said(description[0]) if description else error
    if code in HINTS:
        what, hint = HINTS[code]
        message = f"AADSTS{code}: {what}"
    else:
        message, hint = f"{error}: {first}", _BUSY.get(error, DEFAULT_HINT)
    if code == 7000215 and secret_like_id:
        hint = SECRET_ID_HINT
    if hint == _FIC and mode == "federated token file":  # GitHub's issuer and subjects: not it
        hint = _FIC_TOKEN
    if assertion and code in FEDERATED_MISMATCH:
        message += f" (the token sent had {assertion})"
    correlation = _said(result.get("correlation_id"))
    if correlation:
        message += f" [correlation id {correlation}]"
    return message, hint


def _said(value: object) -> str:
    """A field of the token authority's answer as one inert line, redacted first (signed
    tokens included: ``entrasync.core.redact``): made inert, a line break inside an echoed
    credential is the text ``\\x0a``, which hides it from the redaction of the error."""
    return sanitize.text(redact(str(value or "").strip()))

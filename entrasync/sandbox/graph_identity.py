"""The emulated identity platform's endpoints and the GitHub Actions OIDC stand-in.

Routes: ``POST /{tenant}/oauth2/v2.0/token``,
``GET /{tenant}/v2.0/.well-known/openid-configuration``, ``GET /common/discovery/instance``
(msal asks only with instance discovery on), the JWKS, and ``GET /_github/oidc/token``.
Response shapes follow
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow and
https://docs.github.com/en/actions/reference/security/oidc.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from entrasync.sandbox.graph_auth import (
    AADError,
    AppRegistration,
    authenticate_client,
    tenant_not_found,
)
from entrasync.sandbox.graph_server import Request, Response
from entrasync.sandbox.graph_tokens import GitHubOidcSigner, TokenStore

_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_DISCOVERY_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
_KEYS_PATH = re.compile(r"^/([^/]+)/discovery/v2\.0/keys$")
GITHUB_PATH = "/_github/oidc/token"
_JSON = "application/json; charset=utf-8"


class IdentityPlatform:
    """Answers the identity routes; ``route`` returns None for anything else."""

    def __init__(
        self,
        app: AppRegistration,
        tokens: TokenStore,
        signer: GitHubOidcSigner,
        github_subject: str,
        count: Callable[[str], None],
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.signer = signer
        self.github_subject = github_subject
        self.github_request_token = secrets.token_hex(16)
        self._count = count

    def route(self, request: Request, base_url: str) -> Response | None:
        path, tenant_id = request.path, self.app.tenant_id
        if path == GITHUB_PATH and request.method == "GET":
            return self._github_oidc(request)
        if (match := _TOKEN_PATH.match(path)) and request.method == "POST":
            return self._token(request, match.group(1), base_url)
        if match := _DISCOVERY_PATH.match(path):
            self._count("discovery")
            if match.group(1).lower() != tenant_id.lower():
                return _aad_reply(tenant_not_found(match.group(1)))
            return Response(200, openid_configuration(base_url, tenant_id, base_url), _no_store())
        if path == "/common/discovery/instance":
            self._count("instance_discovery")
            host = base_url.split("://", 1)[1]
            body = {
                "tenant_discovery_endpoint": (
                    f"{base_url}/{tenant_id}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
            return Response(200, body, content_type=_JSON)
        if _KEYS_PATH.match(path):
            return Response(200, {"keys": []}, content_type=_JSON)
        return None

    def _token(self, request: Request, tenant: str, base_url: str) -> Response:
        self._count("token")
        if tenant.lower() != self.app.tenant_id.lower():
            return _aad_reply(tenant_not_found(tenant))
        fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {k: v[-1] for k, v in fields.items()}
        endpoint = f"{base_url}/{self.app.tenant_id}/oauth2/v2.0/token"
        try:
            authenticate_client(form, self.app, endpoint, base_url, self.signer)
        except AADError as error:
            self._count("token_error")
            return _aad_reply(error)
        token = self.tokens.issue()
        return Response(200, token_response(token, self.tokens.lifetime), _no_store(), _JSON)

    def _github_oidc(self, request: Request) -> Response:
        self._count("github_oidc")
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            presented.strip(), self.github_request_token
        ):
            return Response(401, {"message": "Bad credentials"}, content_type=_JSON)
        # Without ?audience= GitHub uses the repository owner's URL.
        audience = request.query.get("audience", ["https://github.com/contoso"])[-1]
        value = self.signer.issue(self.github_subject, audience)
        return Response(200, {"count": 1, "value": value}, content_type=_JSON)


def _aad_reply(error: AADError) -> Response:
    return Response(error.status, error.body(), _no_store(), _JSON)


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store, no-cache", "x-ms-request-id": str(uuid.uuid4())}


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

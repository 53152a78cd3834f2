"""The emulated identity platform and GitHub OIDC stand-in, over real sockets and real msal."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import msal
import pytest

from entrasync.sandbox.graph_emulator import DEFAULT_CLIENT_SECRET, GraphEmulator
from entrasync.sandbox.graph_tokens import FEDERATION_AUDIENCE
from entrasync.sandbox.tenant import SandboxTenant
from entrasync.sandbox.tls import ClientCertificate, make_client_certificate
from tests.integration.emulator.conftest import PARENT, fetch_token

SUBJECT = "repo:contoso/access:environment:production"


@pytest.fixture(scope="module")
def certificate() -> ClientCertificate:
    return make_client_certificate()


@pytest.fixture
def idp(
    tenant: SandboxTenant, certificate: ClientCertificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphEmulator]:
    emulator = GraphEmulator(
        tenant, certificate_pem=certificate.certificate_pem, federated_subject=SUBJECT
    )
    with emulator:
        # msal uses requests, which trusts a custom CA through REQUESTS_CA_BUNDLE.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_pem_path or "")
        yield emulator


@pytest.fixture
def http(idp: GraphEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(verify=idp.verify) as client:
        yield client


def acquire(idp: GraphEmulator, credential: object) -> dict[str, object]:
    """msal as entrasync uses it: custom authority, instance discovery off, sandbox CA."""
    app = msal.ConfidentialClientApplication(
        idp.tenant.client_id,
        authority=f"{idp.base_url}/{idp.tenant.tenant_id}",
        client_credential=credential,
        instance_discovery=False,
    )
    result: dict[str, object] = app.acquire_token_for_client(scopes=[f"{idp.base_url}/.default"])
    return result


def test_a_client_secret_token_is_opaque_and_opens_graph(
    idp: GraphEmulator, http: httpx.Client
) -> None:
    body = fetch_token(http, idp).json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    assert "." not in body["access_token"]  # not JWT-looking: clients must not parse it
    group = http.get(
        f"{idp.base_url}/v1.0/groups/{PARENT}",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert group.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "authority_tenant", "status", "error", "code"),
    [
        pytest.param(
            {"client_secret": "wrong"}, None, 401, "invalid_client", 7000215, id="a wrong secret"
        ),
        pytest.param(
            {},
            "00000000-0000-0000-0000-000000000000",
            400,
            "invalid_tenant",
            90002,
            id="an unknown tenant",
        ),
        pytest.param(
            {"client_id": "nobody"},
            None,
            400,
            "unauthorized_client",
            700016,
            id="an unknown client id",
        ),
        pytest.param(
            {"scope": "https://graph.microsoft.com/.default"},
            None,
            400,
            "invalid_scope",
            1002012,
            id="a scope for another cloud",
        ),
        pytest.param(
            {"grant_type": "password"},
            None,
            400,
            "unsupported_grant_type",
            70003,
            id="a grant other than client credentials",
        ),
        pytest.param(
            {"client_secret": None},
            None,
            401,
            "invalid_client",
            7000218,
            id="no secret and no assertion",
        ),
    ],
)
def test_token_failures_have_aadsts_bodies(
    idp: GraphEmulator,
    http: httpx.Client,
    overrides: dict[str, str | None],
    authority_tenant: str | None,
    status: int,
    error: str,
    code: int,
) -> None:
    response = fetch_token(http, idp, tenant=authority_tenant, **overrides)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["correlation_id"]


def test_discovery_points_at_the_emulator(idp: GraphEmulator, http: httpx.Client) -> None:
    url = f"{idp.base_url}/{idp.tenant.tenant_id}/v2.0/.well-known/openid-configuration"
    document = http.get(url).json()
    assert document["token_endpoint"] == (
        f"{idp.base_url}/{idp.tenant.tenant_id}/oauth2/v2.0/token"
    )
    assert document["issuer"] == f"{idp.base_url}/{idp.tenant.tenant_id}/v2.0"


def test_msal_with_a_secret_gets_a_token_without_instance_discovery(idp: GraphEmulator) -> None:
    result = acquire(idp, DEFAULT_CLIENT_SECRET)
    assert "access_token" in result, result
    assert idp.counters["instance_discovery"] == 0
    assert idp.counters["discovery"] == 1


def test_msal_with_instance_discovery_at_the_emulator_is_sent_to_itself(
    idp: GraphEmulator,
) -> None:
    app = msal.ConfidentialClientApplication(
        idp.tenant.client_id,
        authority=f"{idp.base_url}/{idp.tenant.tenant_id}",
        client_credential=DEFAULT_CLIENT_SECRET,
        instance_discovery=f"{idp.base_url}/common/discovery/instance",
    )
    result = app.acquire_token_for_client(scopes=[f"{idp.base_url}/.default"])
    assert "access_token" in result, result
    assert idp.counters["instance_discovery"] == 1


def test_msal_with_the_registered_certificate_gets_a_token(
    idp: GraphEmulator, certificate: ClientCertificate
) -> None:
    credential = {
        "private_key": certificate.private_key_pem.decode(),
        "thumbprint": certificate.sha1_thumbprint,
    }
    assert "access_token" in acquire(idp, credential)


@pytest.mark.parametrize(
    "use_sha256",
    [
        pytest.param(False, id="an SHA-1 x5t of another certificate is refused"),
        pytest.param(True, id="an SHA-256 x5t of another certificate is refused"),
    ],
)
def test_msal_with_an_unregistered_certificate_is_aadsts700027(
    idp: GraphEmulator, use_sha256: bool
) -> None:
    other = make_client_certificate("someone-else")
    credential: dict[str, str] = {"private_key": other.private_key_pem.decode()}
    if use_sha256:
        credential["public_certificate"] = other.certificate_pem.decode()
    else:
        credential["thumbprint"] = other.sha1_thumbprint
    result = acquire(idp, credential)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


def test_a_certificate_signature_by_another_key_is_aadsts700027(
    idp: GraphEmulator, certificate: ClientCertificate
) -> None:
    # The registered certificate's thumbprint, signed by a key that is not its own.
    impostor = make_client_certificate("impostor")
    credential = {
        "private_key": impostor.private_key_pem.decode(),
        "thumbprint": certificate.sha1_thumbprint,
    }
    result = acquire(idp, credential)
    assert result["error_codes"] == [700027]
    assert "signature validation" in str(result["error_description"])


def github_id_token(idp: GraphEmulator, http: httpx.Client, request_token: str) -> httpx.Response:
    url = httpx.URL(idp.github_oidc_request_url).copy_merge_params(
        {"audience": FEDERATION_AUDIENCE}
    )
    return http.get(url, headers={"Authorization": f"bearer {request_token}"})


def test_the_github_oidc_stand_in_needs_the_request_token(
    idp: GraphEmulator, http: httpx.Client
) -> None:
    assert "?api-version=2.0" in idp.github_oidc_request_url
    assert github_id_token(idp, http, "wrong").status_code == 401
    issued = github_id_token(idp, http, idp.github_oidc_request_token)
    assert issued.status_code == 200
    assert issued.json()["value"].count(".") == 2


def test_msal_with_a_github_id_token_gets_a_token(idp: GraphEmulator, http: httpx.Client) -> None:
    def assertion() -> str:
        response = github_id_token(idp, http, idp.github_oidc_request_token)
        return str(response.json()["value"])

    assert "access_token" in acquire(idp, {"client_assertion": assertion})


FederatedCase = Callable[[GraphEmulator], str]


@pytest.mark.parametrize(
    ("make_assertion", "code"),
    [
        pytest.param(
            lambda e: e.issue_github_oidc_token(
                "repo:contoso/other:pull_request", FEDERATION_AUDIENCE
            ),
            700213,
            id="another subject has no federated credential",
        ),
        pytest.param(
            lambda e: e.issue_github_oidc_token(SUBJECT.upper(), FEDERATION_AUDIENCE),
            7002138,
            id="a subject differing only in case is refused",
        ),
        pytest.param(
            lambda e: e.issue_github_oidc_token(SUBJECT, "https://github.com/contoso"),
            700212,
            id="the default GitHub audience is refused",
        ),
        pytest.param(
            lambda e: e.issue_github_oidc_token(SUBJECT, FEDERATION_AUDIENCE, lifetime=-10),
            700024,
            id="an expired GitHub token is refused",
        ),
    ],
)
def test_federated_assertion_failures(
    idp: GraphEmulator, make_assertion: FederatedCase, code: int
) -> None:
    result = acquire(idp, {"client_assertion": lambda: make_assertion(idp)})
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [code]

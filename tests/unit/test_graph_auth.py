"""Credential choice, endpoints, certificates and AADSTS wording, without a network (the OIDC
token request against a loopback server is in tests/integration/graph/test_oidc_token.py)."""

from __future__ import annotations

import base64
import datetime
import io
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from entrasync.adapters.graph.aadsts import FIC_SUBJECTS, describe_msal_error
from entrasync.adapters.graph.auth import (
    MsalTokenProvider,
    StaticTokenProvider,
    make_token_provider,
    resolve_endpoints,
)
from entrasync.adapters.graph.credentials import (
    choose,
    federated_audience,
    load_certificate,
)
from entrasync.config.models import Config
from entrasync.console import Console
from entrasync.core import redact as redact_module
from entrasync.core.redact import remember
from entrasync.core.secret import Secret
from entrasync.errors import AuthError, EntrasyncError, SeveralErrors, error_lines
from entrasync.operations.planning import read_sources
from entrasync.sandbox.tls import make_client_certificate
from tests.fake_tokens import fake_jwt

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
IDS = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT}
CONFIG = Config(version=1)


@pytest.fixture(scope="module")
def cert_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cert") / "app.pem"
    path.write_bytes(make_client_certificate().combined_pem)
    return path


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({"ENTRASYNC_GRAPH_TOKEN": "t", "AZURE_CLIENT_SECRET": "s"}, "ENTRASYNC_GRAPH_TOKEN"),
        ({"AZURE_CLIENT_SECRET": "s", "AZURE_CLIENT_CERTIFICATE_PATH": "CERT"}, "client secret"),
        (
            {"AZURE_CLIENT_CERTIFICATE_PATH": "CERT", "AZURE_FEDERATED_TOKEN_FILE": "/f"},
            "certificate",
        ),
        (
            {"AZURE_FEDERATED_TOKEN_FILE": "/f", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/?a=1"},
            "federated token file",
        ),
        (
            {
                "ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/?a=1",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "r",
            },
            "GitHub Actions OIDC",
        ),
    ],
    ids=[
        "a ready token beats a client secret",
        "a client secret beats a certificate",
        "a certificate beats a federated token file",
        "a federated token file beats GitHub OIDC",
        "GitHub OIDC is the last resort",
    ],
)
def test_credentials_follow_the_contract_precedence(
    env: dict[str, str], mode: str, cert_file: Path
) -> None:
    environ = {**IDS, **{k: str(cert_file) if v == "CERT" else v for k, v in env.items()}}
    assert make_token_provider(CONFIG, environ).mode == mode


def test_no_credentials_lists_every_option() -> None:
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, IDS)
    hint = caught.value.hint or ""
    for name in (
        "ENTRASYNC_GRAPH_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "id-token: write",
    ):
        assert name in hint


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"AZURE_CLIENT_SECRET": "  "}, "AZURE_CLIENT_SECRET is set but empty"),
        (
            {"AZURE_CLIENT_SECRET": "", "AZURE_FEDERATED_TOKEN_FILE": ""},
            "AZURE_CLIENT_SECRET and AZURE_FEDERATED_TOKEN_FILE are set but empty",
        ),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/x"},
            "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not",
        ),
    ],
    ids=["an undefined CI secret", "two", "half of GitHub's OIDC pair"],
)
def test_a_credential_meant_but_not_given_is_named(env: dict[str, str], said: str) -> None:
    # The generic "no credentials found" left the user to guess which of five was meant.
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, {**IDS, **env})
    assert caught.value.message == f"no Microsoft Graph credentials found: {said}"


def test_a_first_run_with_nothing_set_is_told_every_setting_it_lacks_at_once() -> None:
    # One per run: the credential, then the app's ids, then NeuralTrust's token.
    with pytest.raises(SeveralErrors) as caught:
        read_sources(CONFIG, {}, Console(out=io.StringIO(), err=io.StringIO()))
    said = [line for line in error_lines(caught.value) if line.startswith("error: ")]
    assert said == [
        "error: no Microsoft Graph credentials found",
        "error: no AZURE_TENANT_ID or AZURE_CLIENT_ID for the Entra app registration",
        "error: NEURALTRUST_SCIM_TOKEN is not set: entrasync needs NeuralTrust's SCIM token to "
        "read users",
    ]


def test_a_setting_both_connections_read_is_told_once_when_both_fail_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_CLIENT_SECRET": "fake-client-secret-for-tests",
        "NEURALTRUST_SCIM_TOKEN": "fake-scim-token-for-tests",
        "ENTRASYNC_CA_BUNDLE": str(tmp_path / "gone.pem"),
    }
    for name, value in environ.items():  # as the command line reads them
        monkeypatch.setenv(name, value)
    with pytest.raises(EntrasyncError) as caught:
        read_sources(CONFIG, environ, Console(out=io.StringIO(), err=io.StringIO()))
    said = [line for line in error_lines(caught.value) if line.startswith("error: ")]
    assert said == [
        f"error: ENTRASYNC_CA_BUNDLE names {tmp_path / 'gone.pem'}, which does not exist"
    ]


def test_missing_tenant_id_names_both_places_to_set_it() -> None:
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, {"AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": "s"})
    assert caught.value.message == "no AZURE_TENANT_ID for the Entra app registration"
    assert "entra.tenant_id" in (caught.value.hint or "")


@pytest.mark.parametrize("variable", ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"])
def test_an_id_that_is_no_guid_is_refused_unshown(variable: str) -> None:
    """A secret set in the wrong variable was printed in full, twice, in the authority's URL
    and in msal's message (the mappings file already refused such ids unshown)."""
    pasted = "fake-client-secret-for-tests"
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, {**IDS, variable: pasted, "AZURE_CLIENT_SECRET": "s"})
    assert caught.value.message.startswith(f"{variable} is not a GUID (the value is not shown")
    assert pasted not in f"{caught.value.message} {caught.value.hint}"


def test_a_blank_tenant_id_variable_says_it_shadows_the_file() -> None:
    config = Config.model_validate(
        {"version": 1, "entra": {"tenant_id": TENANT, "client_id": CLIENT}}
    )
    with pytest.raises(AuthError) as caught:
        make_token_provider(config, {"AZURE_TENANT_ID": "  ", "AZURE_CLIENT_SECRET": "s"})
    assert caught.value.message == "AZURE_TENANT_ID holds only blanks"
    assert "a set variable wins over the file" in (caught.value.hint or "")


def test_a_blank_tenant_id_hiding_the_files_is_named_when_the_client_id_is_missing_too() -> None:
    config = Config.model_validate({"version": 1, "entra": {"tenant_id": TENANT}})
    with pytest.raises(AuthError) as caught:
        make_token_provider(config, {"AZURE_TENANT_ID": " ", "AZURE_CLIENT_SECRET": "s"})
    assert caught.value.message == (
        "no AZURE_TENANT_ID or AZURE_CLIENT_ID for the Entra app registration "
        "(AZURE_TENANT_ID holds only blanks, hiding the file's id)"
    )


def test_a_blank_tenant_id_over_a_file_without_one_asks_for_every_missing_id() -> None:
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, {"AZURE_TENANT_ID": "  ", "AZURE_CLIENT_SECRET": "s"})
    assert caught.value.message == (
        "no AZURE_TENANT_ID or AZURE_CLIENT_ID for the Entra app registration"
    )


def test_environment_ids_override_the_config() -> None:
    config = Config.model_validate(
        {"version": 1, "entra": {"tenant_id": CLIENT, "client_id": CLIENT}}
    )
    provider = make_token_provider(config, {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": "s"})
    assert isinstance(provider, MsalTokenProvider)
    assert provider.authority == f"https://login.microsoftonline.com/{TENANT}"


def test_the_ready_token_is_kept_secret() -> None:
    provider = make_token_provider(CONFIG, {"ENTRASYNC_GRAPH_TOKEN": " abc.def "})
    assert isinstance(provider, StaticTokenProvider)
    assert provider() == "abc.def"
    assert "abc" not in repr(vars(provider))


@pytest.mark.parametrize(
    ("env", "config", "graph", "authority"),
    [
        ({}, {}, "https://graph.microsoft.com", "https://login.microsoftonline.com"),
        (
            {},
            {
                "graph_url": "https://graph.microsoft.us/",
                "authority_host": "https://login.microsoftonline.us",
            },
            "https://graph.microsoft.us",
            "https://login.microsoftonline.us",
        ),
        (
            {
                "ENTRASYNC_GRAPH_URL": "https://127.0.0.1:8443/v1.0",
                "AZURE_AUTHORITY_HOST": "login.partner.microsoftonline.cn",
            },
            {"graph_url": "https://graph.microsoft.us"},
            "https://127.0.0.1:8443",
            "https://login.partner.microsoftonline.cn",
        ),
    ],
    ids=[
        "the global cloud by default",
        "the config names a national cloud",
        "the environment wins and a /v1.0 suffix or bare host is tolerated",
    ],
)
def test_endpoints_resolve_env_over_config_over_default(
    env: dict[str, str], config: dict[str, str], graph: str, authority: str
) -> None:
    endpoints = resolve_endpoints(Config.model_validate({"version": 1, "entra": config}), env)
    assert (endpoints.graph_url, endpoints.authority_host) == (graph, authority)
    assert endpoints.scope == f"{graph}/.default"
    assert endpoints.api_base == f"{graph}/v1.0"


def test_credentials_never_go_to_plain_http_outside_loopback() -> None:
    with pytest.raises(EntrasyncError, match="https"):
        resolve_endpoints(CONFIG, {"AZURE_AUTHORITY_HOST": "http://login.example.com"})


def test_a_plain_http_token_authority_on_loopback_is_refused_before_anything_is_sent() -> None:
    """Allowed to loopback for Graph, plain http cannot serve the token: msal refuses it, and
    its refusal read as if the tenant had answered ("check AZURE_TENANT_ID")."""
    environ = {**IDS, "AZURE_CLIENT_SECRET": "fake-secret-for-tests"}
    provider = make_token_provider(
        CONFIG, {**environ, "AZURE_AUTHORITY_HOST": "http://localhost:1"}
    )
    with pytest.raises(AuthError) as caught:
        provider()
    assert caught.value.message == (
        f"the token authority http://localhost:1/{TENANT} is not https://: msal, which fetches "
        "the token, takes only an https authority"
    )
    assert "AZURE_AUTHORITY_HOST" in (caught.value.hint or "")


URL_PASSWORD = "fake-url-password-for-tests"


@pytest.mark.parametrize(
    ("entra", "env", "message"),
    [
        (
            {"graph_url": f"https://u:{URL_PASSWORD}@graph.example.com"},
            {},
            "entra.graph_url in the mappings file holds a user name or password; the Graph "
            "access token is sent only as a bearer token",
        ),
        (
            {},
            {"ENTRASYNC_GRAPH_URL": f"https://graph.example.com/?x={URL_PASSWORD}"},
            "ENTRASYNC_GRAPH_URL has a query string or fragment",
        ),
        (
            {"authority_host": f"https://{URL_PASSWORD}@login.example.com"},
            {},
            "entra.authority_host in the mappings file holds a user name or password; the "
            "app's secret or assertion is sent only in the token request's body",
        ),
        (
            {},
            {"AZURE_AUTHORITY_HOST": f"login.example.com:{URL_PASSWORD}"},
            "AZURE_AUTHORITY_HOST has an invalid port",
        ),
    ],
    ids=[
        "a Graph URL with a password in a config built in code (it would be the token scope)",
        "a Graph URL with a query from the environment",
        "an authority host with user info in the config",
        "a bare authority host with a bad port",
    ],
)
def test_endpoints_carrying_data_are_refused_by_source_without_echo(
    entra: dict[str, str], env: dict[str, str], message: str
) -> None:
    # Config.model_validate skips the file checks: the endpoints check on their own.
    config = Config.model_validate({"version": 1, "entra": entra})
    with pytest.raises(EntrasyncError) as caught:
        resolve_endpoints(config, env)
    assert caught.value.message.startswith(message)
    assert URL_PASSWORD not in f"{caught.value.message} {caught.value.hint}"


@pytest.mark.parametrize(
    ("host", "audience"),
    [
        ("https://login.microsoftonline.com", "api://AzureADTokenExchange"),
        ("https://login.microsoftonline.us", "api://AzureADTokenExchangeUSGov"),
        ("https://login.partner.microsoftonline.cn", "api://AzureADTokenExchangeChina"),
        ("https://127.0.0.1:8443", "api://AzureADTokenExchange"),
    ],
    ids=["global", "US government", "China", "a test authority uses the global audience"],
)
def test_federation_audience_follows_the_cloud(host: str, audience: str) -> None:
    assert federated_audience(host) == audience


def test_certificate_thumbprint_is_sha1_of_the_der_certificate(cert_file: Path) -> None:
    key, thumbprint = load_certificate(str(cert_file), None)
    assert "PRIVATE KEY" in key.reveal()
    assert "PRIVATE KEY" not in repr(key)
    assert len(thumbprint) == 40
    assert thumbprint == thumbprint.upper()


def _encrypted(tmp_path: Path, password: bytes) -> Path:
    cert = make_client_certificate()
    key = serialization.load_pem_private_key(cert.private_key_pem, None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    path = tmp_path / "enc.pem"
    path.write_bytes(encrypted + cert.certificate_pem)
    return path


def test_an_encrypted_key_opens_with_its_password(tmp_path: Path) -> None:
    key, _ = load_certificate(str(_encrypted(tmp_path, b"pw")), Secret("pw"))
    assert "ENCRYPTED" not in key.reveal()


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "encrypted and no password"), (Secret("wrong"), "wrong password")],
    ids=["an encrypted key without a password", "an encrypted key with the wrong password"],
)
def test_certificate_password_problems_are_plain_errors(
    tmp_path: Path, password: Secret | None, message: str
) -> None:
    with pytest.raises(AuthError, match=message):
        load_certificate(str(_encrypted(tmp_path, b"pw")), password)


def test_a_certificate_without_its_key_is_told_so_not_blamed_on_a_password(
    tmp_path: Path,
) -> None:
    """The public certificate uploaded to Entra, pointed at by mistake: the message said
    "missing, or wrong password" and the hint to check a password that was never set."""
    path = tmp_path / "cert.pem"
    path.write_bytes(make_client_certificate().certificate_pem)
    with pytest.raises(AuthError) as caught:
        load_certificate(str(path), None)
    assert caught.value.message == (
        f"the certificate file {path} holds no private key (the public certificate, as "
        "uploaded to Entra, alone?)"
    )
    assert "PASSWORD" not in (caught.value.hint or "")


@pytest.mark.parametrize("password", [None, Secret("pw")], ids=["no password", "a password"])
def test_a_damaged_key_that_is_not_encrypted_is_not_blamed_on_a_password(
    tmp_path: Path, password: Secret | None
) -> None:
    cert = make_client_certificate()
    lines = cert.private_key_pem.splitlines(keepends=True)
    damaged = b"".join(lines[:3] + lines[4:])  # one line of the key's base64 left out
    path = tmp_path / "damaged.pem"
    path.write_bytes(damaged + cert.certificate_pem)
    with pytest.raises(AuthError) as caught:
        load_certificate(str(path), password)
    assert caught.value.message == (
        f"cannot load the private key in {path}: its data is damaged or in a form that cannot "
        "be read"
    )
    assert "PASSWORD" not in (caught.value.hint or "")


def test_a_key_from_another_certificate_is_refused(tmp_path: Path) -> None:
    one, two = make_client_certificate(), make_client_certificate()
    path = tmp_path / "mixed.pem"
    path.write_bytes(one.private_key_pem + two.certificate_pem)
    with pytest.raises(AuthError, match="does not belong"):
        load_certificate(str(path), None)


def test_a_pfx_or_missing_file_gets_the_conversion_hint(tmp_path: Path) -> None:
    path = tmp_path / "cert.pfx"
    path.write_bytes(b"\x30\x82binary")
    with pytest.raises(AuthError) as caught:
        load_certificate(str(path), None)
    assert "openssl pkcs12" in (caught.value.hint or "")
    with pytest.raises(AuthError, match="cannot read"):
        load_certificate(str(tmp_path / "absent.pem"), None)


@pytest.mark.parametrize(
    ("result", "message", "hint"),
    [
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret.\r\nTrace ID: x",
                "error_codes": [7000215],
            },
            "AADSTS7000215: the client secret is invalid or expired",
            "create a new one in the app registration (Certificates & secrets) and update "
            "AZURE_CLIENT_SECRET",
        ),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS700213: No matching federated identity record found.",
            },
            "AADSTS700213",
            "repo:OWNER/REPO:environment:neuraltrust-plan",
        ),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS700024: Client assertion is not within its valid time.",
            },
            "expired",
            "5 minutes",
        ),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS700027: Client assertion failed signature validation.",
            },
            "certificate",
            "Certificates & secrets",
        ),
        (
            {
                "error": "invalid_tenant",
                "error_description": "AADSTS90002: Tenant 'x' not found.",
                "correlation_id": "c-1",
            },
            "tenant was not found",
            "AZURE_TENANT_ID",
        ),
        (
            {
                "error": "invalid_scope",
                "error_description": "AADSTS1002012: The provided value for scope "
                "https://graph.microsoft.com/.default is not valid.",
            },
            "a Microsoft Graph this login host does not serve",
            "must name the same cloud",
        ),
        (
            {
                "error": "invalid_request",
                "error_description": "AADSTS900382: Confidential Client is not supported in "
                "Cross Cloud request.\r\nTrace ID: t",
                "error_codes": [900382],
            },
            "the tenant is in another cloud than this login host",
            "https://login.microsoftonline.us with https://graph.microsoft.us",
        ),
        (
            {
                "error": "invalid_request",
                "error_description": "AADSTS9999999: Something new.\nTrace ID: t",
            },
            "invalid_request: AADSTS9999999: Something new.",
            "reference-error-codes",
        ),
    ],
    ids=[
        "7000215 says to create a new secret",
        "700213 lists the subject forms",
        "700024 explains the short token life",
        "700027 points at the uploaded certificate",
        "90002 checks the tenant and keeps the correlation id",
        "1002012 says the Graph URL and the login host name different clouds",
        "900382 says the tenant signs in at its own cloud",
        "an unknown code shows Entra's first line only",
    ],
)
def test_msal_errors_become_plain_words(result: dict[str, object], message: str, hint: str) -> None:
    got_message, got_hint = describe_msal_error(result, "client secret")
    assert message in got_message
    assert hint in got_hint
    assert "Trace ID" not in got_message


@pytest.mark.parametrize("cut", ["\n", "\t", "\r\n"], ids=["LF", "tab", "CRLF"])
@pytest.mark.parametrize("field", ["error", "error_description", "correlation_id"])
def test_a_secret_the_token_authority_echoes_cut_by_a_line_break_is_withheld(
    cut: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made inert before it was redacted, the cut was the text ``\\x0a``: the secret went
    into the error, and from it into the pull request's comment."""
    secret = "fake-echoed-client-secret-for-tests"
    monkeypatch.setattr(redact_module, "_known", dict(redact_module._known))  # forgotten after
    remember(secret)
    echoed = f"bad secret {secret[:12]}{cut}{secret[12:]}"
    result = {"error": "invalid_client", "error_description": "x", field: echoed}
    message, _ = describe_msal_error(result, "client secret")
    shown = AuthError(message).message
    assert secret[12:] not in shown
    assert secret[:12] not in shown


def test_subject_mismatch_shows_the_subject_that_was_sent() -> None:
    result = {
        "error": "invalid_client",
        "error_codes": [700213],
        "error_description": "AADSTS700213",
    }
    message, _ = describe_msal_error(result, "GitHub Actions OIDC", "sub='repo:a/b:pull_request'")
    assert "repo:a/b:pull_request" in message


@pytest.mark.parametrize("code", [700211, 700212, 700213])
@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("GitHub Actions OIDC", "issuer https://token.actions.githubusercontent.com"),
        ("federated token file", "whose issuer, subject and audience are exactly the token's"),
    ],
)
def test_a_federated_mismatch_shows_the_claims_sent_and_a_hint_for_the_issuer_in_use(
    code: int, mode: str, said: str
) -> None:
    """A token file (GitLab, Azure DevOps, Kubernetes) got GitHub's issuer and subjects, and
    a wrong issuer or audience (700211, 700212) the generic hint without the claims sent."""
    result = {"error": "invalid_client", "error_codes": [code], "error_description": "x"}
    message, hint = describe_msal_error(result, mode, "iss='https://gitlab.example', aud='x'")
    assert message.startswith(f"AADSTS{code}: no federated credential matches the token's ")
    assert message.endswith("(the token sent had iss='https://gitlab.example', aud='x')")
    assert said in hint


def test_the_subjects_a_mismatch_lists_name_every_environment_the_workflows_use() -> None:
    """sync.yml's neuraltrust-sync was left out: a scheduled sync without its credential was
    told to register the subjects of the other workflows."""
    workflows = Path(__file__).resolve().parents[2] / ".github" / "workflows"
    used = {
        line.split("environment:", 1)[1].strip()
        for workflow in workflows.glob("*.yml")
        for line in workflow.read_text().splitlines()
        if line.strip().startswith("environment:")
    }
    assert used == {"neuraltrust-plan", "neuraltrust-prod", "neuraltrust-sync"}
    for environment in used:
        assert f"repo:OWNER/REPO:environment:{environment} (" in FIC_SUBJECTS


def test_a_certificate_put_in_its_path_variable_is_never_printed() -> None:
    # AZURE_CLIENT_CERTIFICATE_PATH: ${{ secrets.CERT }} holds the PEM itself, not a path.
    pem = make_client_certificate()
    value = (pem.private_key_pem + pem.certificate_pem).decode()
    with pytest.raises(AuthError) as caught:
        load_certificate(value, None)
    shown = f"{caught.value.message} {caught.value.hint}"
    assert "PRIVATE KEY" not in shown
    assert value.splitlines()[1] not in shown
    assert "looks like a certificate or token itself" in shown


def test_a_token_put_in_the_token_file_variable_is_never_printed() -> None:
    jwt = fake_jwt({"sub": "fake"})
    choice = choose({"AZURE_FEDERATED_TOKEN_FILE": jwt}, "https://login.microsoftonline.com")
    assert choice is not None
    with pytest.raises(AuthError) as caught:
        choice.build()["client_assertion"]()
    assert jwt not in f"{caught.value.message} {caught.value.hint}"
    assert "AZURE_FEDERATED_TOKEN_FILE (not shown" in caught.value.message


def test_a_path_that_is_a_path_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "cert.pem"
    with pytest.raises(AuthError, match=f"cannot read the certificate file {missing}: "):
        load_certificate(str(missing), None)


@pytest.mark.parametrize(
    "variable", ["AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"]
)
@pytest.mark.parametrize(
    "secret",
    [
        # Their shapes without their look (a scanner takes "abc8Q~…" for a real Entra one):
        "fake~client.secret~for~tests",  # "~" and ".", as Entra makes them now
        "fake/base64+client/secret+for+tests=",  # base64, as it made them before: "/"
        "/fake+base64+client+secret+for+tests=",
    ],
    ids=["Entra secret", "base64 secret", "base64 secret starting with a slash"],
)
def test_a_client_secret_put_in_a_path_variable_is_never_printed(
    variable: str, secret: str
) -> None:
    environ = {variable: secret, "AZURE_CLIENT_CERTIFICATE_PASSWORD": ""}

    def use() -> None:  # a certificate is read when chosen, a token file when the token is made
        choice = choose(environ, "https://login.microsoftonline.com")
        if choice is not None:
            choice.build()["client_assertion"]()

    with pytest.raises(AuthError) as caught:
        use()
    shown = f"{caught.value.message} {caught.value.hint}"
    assert secret not in shown
    assert "(not shown: no .pem or token file, nor a folder that exists" in shown


@pytest.mark.parametrize(
    ("name", "shown"),
    [("token", False), ("cert.pem", True), ("app.TOKEN", True), ("certs/app", True)],
)
def test_a_path_is_named_when_it_looks_like_one(
    name: str, shown: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "certs").mkdir()
    with pytest.raises(AuthError) as caught:
        load_certificate(name, None)
    named = name if shown else "(not shown"
    assert f"cannot read the certificate file {named}" in caught.value.message


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            "-----BEGIN PRIVATE KEY-----\nfake-key-body-for-tests\n-----END PRIVATE KEY-----\n",
            "it holds a PEM block (a certificate or a private key)",
        ),
        (
            '{"count": 1, "value": "fake-value-for-tests"}',
            "it holds JSON (an OIDC endpoint's whole answer? write only the token in it)",
        ),
        (
            # A JWT inside: its second part decoded as claims, so the whole file was sent.
            json.dumps({"count": 1, "value": fake_jwt({"sub": "x"})}),
            "it holds JSON (an OIDC endpoint's whole answer? write only the token in it)",
        ),
        ("Bearer " + fake_jwt({"sub": "x"}), "it is not a JWT"),
        (fake_jwt({"sub": "x"}) + "\n# the pipeline's token", "it is not a JWT"),
        ("fake-federated-token-for-tests", "it is not a JWT"),
        (
            b"0\x82\x03\x10\xa0\x03\x02\x01\x02",  # a DER certificate's start
            "it is not UTF-8 text (a certificate or another binary file?)",
        ),
    ],
    ids=[
        "a private key",
        "the OIDC endpoint's whole answer",
        "the answer with a token in it",
        "a Bearer prefix",
        "a second line",
        "another text",
        "not text",
    ],
)
def test_a_federated_token_file_that_holds_no_jwt_is_refused_before_anything_is_sent(
    tmp_path: Path, content: str | bytes, said: str
) -> None:
    """Sent as the client assertion, a private key put in the wrong variable left the machine
    for the token authority, which answered AADSTS50027 with the generic hint."""
    path = tmp_path / "token"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    choice = choose({"AZURE_FEDERATED_TOKEN_FILE": str(path)}, "https://login.example")
    assert choice is not None
    with pytest.raises(AuthError) as caught:
        choice.build()["client_assertion"]()
    assert caught.value.message == (
        f"AZURE_FEDERATED_TOKEN_FILE {path} does not hold a token: {said}; nothing was sent"
    )
    assert "fake-" not in caught.value.message + (caught.value.hint or "")


def test_a_federated_token_file_written_with_a_byte_order_mark_is_read_without_it(
    tmp_path: Path,
) -> None:
    # PowerShell 5: `$token | Out-File -Encoding utf8 token.jwt` writes a BOM first.
    jwt = fake_jwt({"sub": "fake"})
    path = tmp_path / "token.jwt"
    path.write_bytes(b"\xef\xbb\xbf" + jwt.encode() + b"\r\n")
    choice = choose({"AZURE_FEDERATED_TOKEN_FILE": str(path)}, "https://login.example")
    assert choice is not None
    assert choice.build()["client_assertion"]() == jwt


def _certificate_file(folder: Path, since: datetime.datetime, until: datetime.datetime) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entrasync")])
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name)
    certificate = (
        builder.public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(since)
        .not_valid_after(until)
        .sign(key, hashes.SHA256())
    )
    path = folder / "app.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_an_expired_certificate_is_named_with_its_date_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ended = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.UTC)
    path = _certificate_file(tmp_path, ended - datetime.timedelta(days=365), ended)
    with pytest.raises(AuthError) as caught:
        load_certificate(str(path), None)
    assert caught.value.message == f"the certificate in {path} expired on 2026-01-31 12:00 UTC"
    assert "upload its public part" in (caught.value.hint or "")
    # Valid from tomorrow: this machine's clock, or a certificate made for later.
    soon = now + datetime.timedelta(days=1)
    later = _certificate_file(tmp_path, soon, soon + datetime.timedelta(days=30))
    with pytest.raises(AuthError, match=r"is valid only from .* UTC") as early:
        load_certificate(str(later), None)
    assert "clock" in (early.value.hint or "")
    # Made a minute ago, as the sandbox makes one: within the clocks' allowance.
    fresh = _certificate_file(
        tmp_path, now + datetime.timedelta(minutes=1), now + datetime.timedelta(days=1)
    )
    assert load_certificate(str(fresh), None)[1]


def test_entra_refusing_a_certificate_out_of_its_dates_gets_the_new_certificate_hint() -> None:
    message, hint = describe_msal_error(
        {
            "error": "invalid_client",
            "error_description": "AADSTS1000502: Client certificate is not within its "
            "specified validity window.",
            "error_codes": [1000502],
        },
        "certificate",
    )
    assert "outside its validity period" in message
    assert "upload a new certificate" in hint


def test_a_certificate_file_with_a_ca_before_the_leaf_uses_the_keys_own_certificate(
    tmp_path: Path,
) -> None:
    """A chain exported CA first was refused: "the private key does not belong to its
    certificate", the first one read being the CA's."""
    leaf, other = make_client_certificate("leaf"), make_client_certificate("ca")
    path = tmp_path / "app.pem"
    path.write_bytes(other.certificate_pem + leaf.certificate_pem + leaf.private_key_pem)
    _, thumbprint = load_certificate(str(path), None)
    assert thumbprint == leaf.sha1_thumbprint.upper()


# The DER of the P-256 curve's OID and of SM2's (GB/T 32918), both eight bytes: a P-256 key
# and certificate with one swapped for the other are an SM2 key and certificate to a reader,
# a curve cryptography cannot load (their signature is not checked when they are read).
_P256_OID, _SM2_OID = bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a811ccf5501822d")


@pytest.fixture
def sm2() -> tuple[bytes, bytes]:
    """An SM2 key and its certificate, as PEM."""
    made = make_client_certificate("sm2", key=ec.generate_private_key(ec.SECP256R1()))
    key = serialization.load_pem_private_key(made.private_key_pem, None)
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_der = key.private_bytes(serialization.Encoding.DER, pkcs8, serialization.NoEncryption())
    cert_der = x509.load_pem_x509_certificate(made.certificate_pem).public_bytes(
        serialization.Encoding.DER
    )
    assert key_der.count(_P256_OID) == cert_der.count(_P256_OID) == 1
    return _pem("PRIVATE KEY", key_der.replace(_P256_OID, _SM2_OID)), _pem(
        "CERTIFICATE", cert_der.replace(_P256_OID, _SM2_OID)
    )


def _pem(kind: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""]).encode()


def test_a_key_on_a_curve_cryptography_cannot_load_is_not_an_rsa_key(
    tmp_path: Path, sm2: tuple[bytes, bytes]
) -> None:
    """It was a traceback, "a bug": UnsupportedAlgorithm from cryptography."""
    key, cert = sm2
    path = tmp_path / "app.pem"
    path.write_bytes(cert + key)
    with pytest.raises(AuthError) as caught:
        load_certificate(str(path), None)
    assert caught.value.message == f"the key in {path} is not an RSA key"


def test_a_chain_holding_a_ca_cryptography_cannot_load_still_finds_the_keys_certificate(
    tmp_path: Path, sm2: tuple[bytes, bytes]
) -> None:
    leaf = make_client_certificate("leaf")
    path = tmp_path / "app.pem"
    path.write_bytes(sm2[1] + leaf.certificate_pem + leaf.private_key_pem)
    _, thumbprint = load_certificate(str(path), None)
    assert thumbprint == leaf.sha1_thumbprint.upper()


def test_an_empty_federated_token_file_says_what_to_check(tmp_path: Path) -> None:
    """It printed an `error:` with no `hint:` line."""
    empty = tmp_path / "token"
    empty.write_text("\n")
    choice = choose({"AZURE_FEDERATED_TOKEN_FILE": str(empty)}, "https://login.example")
    assert choice is not None
    with pytest.raises(AuthError) as caught:
        choice.build()["client_assertion"]()
    assert caught.value.message.endswith("is empty")
    assert "check the path and that the step writing it ran before this one" in (
        caught.value.hint or ""
    )

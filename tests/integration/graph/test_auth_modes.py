"""Every credential mode of docs/entra.md against the emulated identity platform, over HTTPS."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from entrasync.adapters.graph.auth import make_token_provider
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import read_directory
from entrasync.errors import AuthError
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tls import make_client_certificate
from tests.fake_tokens import fake_jwt

from .conftest import (
    G_SMALL,
    TENANT_ID,
    EmulatorFactory,
    base_env,
    make_config,
    secret_env,
    uid,
)

CONFIG = make_config([{"id": G_SMALL, "role": "owner"}])
SUBJECT = "repo:contoso/access:environment:neuraltrust-prod"
AUDIENCE = "api://AzureADTokenExchange"


def read_small(env: dict[str, str]) -> tuple[str, ...]:
    with GraphClient.connect(CONFIG, env) as client:
        return read_directory(CONFIG, client).groups[0].member_ids


EXPECTED = (uid(2506), uid(2507))


def test_client_secret(emulator: GraphEmulator) -> None:
    assert read_small(secret_env(emulator)) == EXPECTED


def test_a_ready_token_skips_the_token_endpoint(emulator: GraphEmulator) -> None:
    env = {**base_env(emulator), "ENTRASYNC_GRAPH_TOKEN": emulator.tokens.issue()}
    assert read_small(env) == EXPECTED
    assert emulator.counters["token"] == 0


@pytest.mark.parametrize(
    "password",
    [None, "pa55", "pa55\n"],
    ids=["plain PEM", "encrypted PEM", "a password read from a file, with its line end"],
)
def test_certificate(
    emulator_factory: EmulatorFactory, tmp_path: Path, password: str | None
) -> None:
    cert = make_client_certificate()
    key = cert.private_key_pem
    if password:
        loaded = serialization.load_pem_private_key(key, None)
        key = loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.rstrip("\n").encode()),
        )
    path = tmp_path / "app.pem"
    path.write_bytes(cert.certificate_pem + key)  # certificate first: order must not matter
    emulator = emulator_factory(certificate_pem=cert.certificate_pem)
    env = {**base_env(emulator), "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
    if password:
        env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = password
    assert read_small(env) == EXPECTED


def test_a_certificate_the_app_does_not_know_is_aadsts700027(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(certificate_pem=make_client_certificate().certificate_pem)
    path = tmp_path / "other.pem"
    path.write_bytes(make_client_certificate().combined_pem)
    env = {**base_env(emulator), "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
    with pytest.raises(AuthError, match="AADSTS700027") as caught:
        read_small(env)
    assert "Certificates & secrets" in (caught.value.hint or "")


def test_federated_token_file_is_re_read_for_every_exchange(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(federated_subject=SUBJECT)
    token_file = tmp_path / "token"
    token_file.write_text(emulator.issue_github_oidc_token(SUBJECT, AUDIENCE, lifetime=-10))
    env = {**base_env(emulator), "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    provider = make_token_provider(CONFIG, env)
    with pytest.raises(AuthError, match="AADSTS700024"):
        provider()
    token_file.write_text(emulator.issue_github_oidc_token(SUBJECT, AUDIENCE) + "\n")
    assert provider()  # the platform rotated the file: the new token is used
    assert read_small(env) == EXPECTED


def test_github_actions_oidc_fetches_a_fresh_id_token_per_exchange(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(federated_subject=SUBJECT, github_subject=SUBJECT)
    env = {
        **base_env(emulator),
        "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.github_oidc_request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": emulator.github_oidc_request_token,
    }
    provider = make_token_provider(CONFIG, env)
    first = provider()
    assert provider() == first  # cached by msal: no second exchange
    assert provider(rejected="another token") == first
    assert provider(rejected=first) != first  # Graph refused it: a fresh exchange
    assert emulator.counters["github_oidc"] == emulator.counters["token"] == 2
    assert read_small(env) == EXPECTED


def test_a_federated_subject_mismatch_names_the_subject_sent_and_the_forms(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(
        federated_subject=SUBJECT, github_subject="repo:contoso/access:pull_request"
    )
    env = {
        **base_env(emulator),
        "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.github_oidc_request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": emulator.github_oidc_request_token,
    }
    with pytest.raises(AuthError, match="AADSTS700213") as caught:
        read_small(env)
    assert "repo:contoso/access:pull_request" in caught.value.message
    assert "repo:OWNER/REPO:environment:neuraltrust-plan" in (caught.value.hint or "")


def test_a_subject_differing_in_case_only_is_aadsts7002138(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(federated_subject=SUBJECT, github_subject=SUBJECT.upper())
    env = {
        **base_env(emulator),
        "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.github_oidc_request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": emulator.github_oidc_request_token,
    }
    with pytest.raises(AuthError, match="AADSTS7002138") as caught:
        read_small(env)
    assert "case-sensitive" in (caught.value.hint or "")


def test_a_wrong_github_request_token_says_the_request_token_was_refused(
    emulator: GraphEmulator,
) -> None:
    """A 401 means the job has id-token: write (GitHub sets the variables only then): the hint
    asked for the permission the job already had."""
    env = {
        **base_env(emulator),
        "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.github_oidc_request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "fake-wrong-token-for-tests",
    }
    with pytest.raises(AuthError, match="GitHub refused") as caught:
        read_small(env)
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN was refused" in (caught.value.hint or "")


def test_a_wrong_client_secret_is_aadsts7000215_in_plain_words(emulator: GraphEmulator) -> None:
    env = {**base_env(emulator), "AZURE_CLIENT_SECRET": "fake-wrong-client-secret-for-tests"}
    with pytest.raises(AuthError) as caught:
        read_small(env)
    assert "AADSTS7000215: the client secret is invalid or expired" in caught.value.message
    assert "update AZURE_CLIENT_SECRET" in (caught.value.hint or "")
    assert "GUID" not in (caught.value.hint or "")
    assert "fake-wrong-client-secret-for-tests" not in f"{caught.value.message} {caught.value.hint}"


def test_a_secret_id_set_for_the_secret_says_to_set_its_value(emulator: GraphEmulator) -> None:
    """Entra lists a secret's ID (a GUID) beside a value it shows only once: the ID is what an
    administrator finds to copy later, and "create a new one" did not say what went wrong."""
    secret_id = str(uuid.UUID(int=1))  # a secret ID's GUID shape, and nothing of a real one
    env = {**base_env(emulator), "AZURE_CLIENT_SECRET": secret_id}
    with pytest.raises(AuthError) as caught:
        read_small(env)
    assert "AADSTS7000215: the client secret is invalid or expired" in caught.value.message
    assert (caught.value.hint or "").startswith(
        "AZURE_CLIENT_SECRET has the shape of a GUID, as a secret's ID has"
    )
    assert "set the secret's Value instead" in (caught.value.hint or "")


def test_an_unknown_tenant_is_explained(emulator: GraphEmulator) -> None:
    env = {**secret_env(emulator), "AZURE_TENANT_ID": "99999999-2222-3333-4444-555555555555"}
    with pytest.raises(AuthError, match="did not answer as an Entra tenant") as caught:
        read_small(env)
    assert "AZURE_TENANT_ID" in (caught.value.hint or "")


def test_an_untrusted_certificate_authority_is_a_tls_hint(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**secret_env(emulator)}
    del env["SSL_CERT_FILE"], env["REQUESTS_CA_BUNDLE"]
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(AuthError, match="SSLError") as caught:
        read_small(env)
    assert "REQUESTS_CA_BUNDLE" in (caught.value.hint or "")


def test_a_certificate_the_token_requests_bundle_leaves_out_names_that_bundle(
    emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # SSL_CERT_FILE trusts the emulator; the token request reads REQUESTS_CA_BUNDLE, which not.
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    env = {**secret_env(emulator), "REQUESTS_CA_BUNDLE": str(other)}
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    with pytest.raises(AuthError, match="SSLError") as caught:
        read_small(env)
    assert (caught.value.hint or "").startswith(
        f"REQUESTS_CA_BUNDLE ({other}) replaces the system's trust store here: put the server's "
        "CA in that bundle"
    )


OTHER_TENANT = "99999999-9999-4999-8999-999999999999"


def test_a_ready_token_for_another_tenant_is_refused_before_any_request(
    emulator: GraphEmulator,
) -> None:
    """`az` gives a token for its current tenant: a group named alike there was read from it."""
    env = {**base_env(emulator), "ENTRASYNC_GRAPH_TOKEN": fake_jwt({"tid": OTHER_TENANT})}
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, env)
    assert caught.value.message == (
        f"ENTRASYNC_GRAPH_TOKEN is a token for tenant {OTHER_TENANT}, not for the tenant the "
        f"mappings are for ({TENANT_ID}, from AZURE_TENANT_ID or entra.tenant_id)"
    )
    assert f"--tenant {TENANT_ID}" in (caught.value.hint or "")
    assert emulator.counters["token"] == 0


@pytest.mark.parametrize(
    ("tenant", "said"),
    [
        ("   ", "AZURE_TENANT_ID holds only blanks"),
        ("contoso.onmicrosoft.com", "AZURE_TENANT_ID is not a GUID (the value is not shown"),
        ("$(ENTRA_TENANT_ID)", "AZURE_TENANT_ID holds the Azure Pipelines macro $(ENTRA"),
    ],
    ids=["blank over the file's", "a domain name", "an unexpanded macro"],
)
def test_a_ready_tokens_tenant_check_is_not_turned_off_by_an_odd_tenant_variable(
    tenant: str, said: str
) -> None:
    """A blank variable hid the file's tenant and a domain name skipped the comparison: the
    token for another tenant was used."""
    config = make_config([{"id": G_SMALL, "role": "owner"}], tenant_id=TENANT_ID)
    env = {"AZURE_TENANT_ID": tenant, "ENTRASYNC_GRAPH_TOKEN": fake_jwt({"tid": OTHER_TENANT})}
    with pytest.raises(AuthError) as caught:
        make_token_provider(config, env)
    assert caught.value.message.startswith(said)
    assert "onmicrosoft" not in caught.value.message


@pytest.mark.parametrize(
    "token",
    [fake_jwt({"tid": TENANT_ID.upper()}), fake_jwt({"aud": "x"}), "opaque-token-for-tests"],
    ids=["its own tenant", "no tid", "not a JWT"],
)
def test_a_ready_token_of_the_tenant_or_without_one_is_used(token: str) -> None:
    env = {"AZURE_TENANT_ID": TENANT_ID, "ENTRASYNC_GRAPH_TOKEN": token}
    assert make_token_provider(CONFIG, env)() == token


def test_an_unexpanded_pipeline_macro_as_the_client_secret_says_so(
    emulator: GraphEmulator,
) -> None:
    """It was sent, refused as an expired secret, and the hint said to create a new one."""
    env = {**base_env(emulator), "AZURE_CLIENT_SECRET": "$(AZURE_CLIENT_SECRET)"}
    with pytest.raises(AuthError) as caught:
        make_token_provider(CONFIG, env)
    assert caught.value.message == (
        "AZURE_CLIENT_SECRET holds the Azure Pipelines macro $(AZURE_CLIENT_SECRET), not "
        "expanded: the pipeline has no variable of that name"
    )
    assert emulator.counters["token"] == 0


def test_a_ready_token_without_the_permissions_is_told_so_not_to_grant_an_app(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(permission_mode="denied")
    env = {**base_env(emulator), "ENTRASYNC_GRAPH_TOKEN": emulator.tokens.issue()}
    with pytest.raises(AuthError) as caught:
        read_small(env)
    assert "the token in ENTRASYNC_GRAPH_TOKEN lacks GroupMember.Read.All" in (
        caught.value.hint or ""
    )

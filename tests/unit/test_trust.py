"""Which CAs entrasync trusts (entrasync.adapters.trust): ENTRASYNC_CA_BUNDLE on top of the
system's store, the standard variables instead of it, and an error that says what to do when
a variable names a file that cannot serve, a stopped sandbox's above all."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from entrasync.adapters.trust import ca_hint, ssl_context
from entrasync.errors import EntrasyncError


def _cas(context: ssl.SSLContext) -> int:
    return int(context.cert_store_stats()["x509_ca"])


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_entrasync_ca_bundle_adds_to_the_system_store(pem: Path) -> None:
    system = _cas(ssl_context({}))
    assert _cas(ssl_context({"ENTRASYNC_CA_BUNDLE": str(pem)})) == system + 1


def test_a_standard_variable_replaces_the_system_store_and_the_entrasync_one_adds(
    pem: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    assert _cas(ssl_context({"REQUESTS_CA_BUNDLE": str(pem)})) == 1
    both = {"SSL_CERT_FILE": str(pem), "ENTRASYNC_CA_BUNDLE": str(other)}
    assert _cas(ssl_context(both)) == 2


def test_with_both_standard_variables_httpx_takes_ssl_cert_file_and_msal_requests_bundle(
    pem: Path, tmp_path: Path
) -> None:
    two = tmp_path / "two.pem"
    two.write_bytes(trustme.CA().cert_pem.bytes() + trustme.CA().cert_pem.bytes())
    both = {"SSL_CERT_FILE": str(two), "REQUESTS_CA_BUNDLE": str(pem)}
    assert _cas(ssl_context(both)) == 2  # Graph, SCIM, the review platforms: as httpx reads
    assert _cas(ssl_context(both, for_requests=True)) == 1  # the token endpoint: as requests
    assert _cas(ssl_context({"SSL_CERT_FILE": str(two)}, for_requests=True)) == 2  # one serves both


def test_clients_share_a_context_until_the_file_changes(pem: Path) -> None:
    env = {"ENTRASYNC_CA_BUNDLE": str(pem)}
    first = ssl_context(env)
    assert ssl_context(env) is first
    assert ssl_context(env, for_requests=True) is not first  # msal's own, for urllib3 to set up
    trustme.CA().cert_pem.write_to_path(str(pem))  # a restarted sandbox's new CA, same path
    assert ssl_context(env) is not first


SANDBOX_HINT = "the sandbox that wrote sandbox.env has stopped or restarted"


@pytest.mark.parametrize(
    ("variable", "relative", "content", "problem", "hint"),
    [
        pytest.param(
            "ENTRASYNC_CA_BUNDLE",
            "entrasync-sandbox-ca-x1y2.pem",
            None,
            "which does not exist",
            SANDBOX_HINT,
            id="a stopped sandbox's CA says to source the new sandbox.env",
        ),
        pytest.param(
            "SSL_CERT_FILE",
            "entrasync-sandbox-ca-x1y2.pem",
            None,
            "which does not exist",
            SANDBOX_HINT,
            id="so does an older sandbox.env's SSL_CERT_FILE",
        ),
        pytest.param(
            "ENTRASYNC_CA_BUNDLE",
            "entrasync-sandbox/ca.pem",
            "not a certificate\n",
            "which holds no PEM certificate",
            SANDBOX_HINT,
            id="a file in an entrasync-sandbox folder is a sandbox's",
        ),
        pytest.param(
            "REQUESTS_CA_BUNDLE",
            "corp/ca.pem",
            None,
            "which does not exist",
            "point REQUESTS_CA_BUNDLE at a PEM file of trusted CA certificates, or unset it",
            id="any other missing file says to fix or unset the variable",
        ),
        pytest.param(
            "ENTRASYNC_CA_BUNDLE",
            "corp/ca.der",
            "\x30\x82\x01\x0a",
            "which holds no PEM certificate",
            "point ENTRASYNC_CA_BUNDLE at a PEM file of trusted CA certificates, or unset it",
            id="a file that is not PEM is named as such",
        ),
    ],
)
def test_a_variable_naming_an_unusable_file_is_an_error_naming_both(
    tmp_path: Path, variable: str, relative: str, content: str | None, problem: str, hint: str
) -> None:
    path = tmp_path / relative
    if content is not None:
        path.parent.mkdir(parents=True)
        path.write_text(content)
    with pytest.raises(EntrasyncError) as caught:
        ssl_context({variable: str(path)})
    assert caught.value.message == f"{variable} names {path}, {problem}"
    assert (caught.value.hint or "").startswith(hint)


def test_a_folder_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(EntrasyncError, match=r"ENTRASYNC_CA_BUNDLE names .*, which "):
        ssl_context({"ENTRASYNC_CA_BUNDLE": str(tmp_path)})


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            "{tmp}/x\nhint: unset everything.pem",
            "not shown: the value looks like a certificate or token itself, not a path",
        ),
        (
            "".join(("Q7x8Q~", "fakeSecret", "ForTests", "0123456789")),  # no literal to scan
            "not shown: no .pem or token file, nor a folder that exists: it may be a secret",
        ),
    ],
    ids=["a line break, which would forge a line", "a secret set as the bundle by mistake"],
)
def test_a_value_that_is_no_path_is_not_shown(
    tmp_path: Path, pem: Path, value: str, shown: str
) -> None:
    value = value.format(tmp=tmp_path)
    with pytest.raises(EntrasyncError) as caught:
        ssl_context({"SSL_CERT_FILE": value})
    assert caught.value.message == f"SSL_CERT_FILE names ({shown}), which does not exist"
    hint = ca_hint({"REQUESTS_CA_BUNDLE": value, "SSL_CERT_FILE": str(pem)}, for_requests=True)
    assert hint.startswith(f"REQUESTS_CA_BUNDLE ({shown}) replaces")
    assert ca_hint({"SSL_CERT_FILE": str(pem)}).startswith(f"SSL_CERT_FILE ({pem})")


def test_a_path_that_reads_like_the_words_for_a_hidden_one_is_shown_in_brackets() -> None:
    # Whether a value is shown is decided on the value, never on the text that shows it.
    hint = ca_hint({"SSL_CERT_FILE": "(not shown).pem"})
    assert hint.startswith("SSL_CERT_FILE ((not shown).pem) replaces"), hint

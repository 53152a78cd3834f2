"""TLS for the sandbox servers: one throwaway trustme CA per process, its PEM in a temp file.

entrasync trusts it through ``ENTRASYNC_CA_BUNDLE`` (on top of the system's store, for httpx
and msal alike: :mod:`entrasync.adapters.trust`), so the code under test runs its real TLS path
against loopback while other programs in the shell keep their own trust.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from entrasync.adapters.trust import SANDBOX_CA_PREFIX
from entrasync.errors import EntrasyncError


@dataclass(frozen=True)
class SandboxCA:
    ca: trustme.CA
    server_cert: trustme.LeafCert  # for 127.0.0.1 and localhost
    pem_path: str  # the CA certificate, for ENTRASYNC_CA_BUNDLE

    def server_context(self) -> ssl.SSLContext:
        """A server context for 127.0.0.1 and localhost, signed by this CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with _in_temp_folder():  # trustme hands the key to ssl through a temporary file
            self.server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@cache
def sandbox_ca() -> SandboxCA:
    ca = trustme.CA(organization_name="entrasync sandbox")
    with _in_temp_folder():
        handle, path = tempfile.mkstemp(prefix=SANDBOX_CA_PREFIX, suffix=".pem")
        atexit.register(_remove_quietly, path)  # first: a failed or stopped write leaves none
        with os.fdopen(handle, "wb") as out:
            out.write(ca.cert_pem.bytes())
    return SandboxCA(ca=ca, server_cert=ca.issue_cert("127.0.0.1", "localhost"), pem_path=path)


@contextlib.contextmanager
def _in_temp_folder() -> Iterator[None]:
    """Files written in the temporary folder ($TMPDIR): one that cannot take them (full, read
    only, a file size limit) is the user's to fix, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise EntrasyncError(
            f"cannot write the sandbox's TLS files in {tempfile.gettempdir()}: "
            f"{exc.strerror or exc}",
            "free space there (or raise the file size limit, `ulimit -f`), or set TMPDIR to a "
            "folder you can write to; nothing was started",
        ) from None


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed app-registration certificate, as a user uploads to Entra."""

    certificate_pem: bytes
    private_key_pem: bytes
    sha1_thumbprint: str  # hex, what msal's "thumbprint" takes
    sha256_thumbprint: str

    @property
    def combined_pem(self) -> bytes:
        """Key and certificate in one file, the AZURE_CLIENT_CERTIFICATE_PATH format."""
        return self.private_key_pem + self.certificate_pem


def make_client_certificate(
    common_name: str = "entrasync",
    *,
    days: int = 30,
    key: CertificateIssuerPrivateKeyTypes | None = None,
) -> ClientCertificate:
    """``key``: the key to certify, a new 2048-bit RSA key by default (Entra's)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return ClientCertificate(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex(),
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
    )

"""Tokens of the emulated identity platform: opaque Graph access tokens, GitHub ID tokens."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
TOKEN_LIFETIME = 3599
# Entra checks times, issuer, audience and subject itself, each with its own AADSTS code.
SIGNATURE_ONLY: jwt.types.Options = {"verify_exp": False, "verify_aud": False, "verify_nbf": False}


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
            token, self._key.public_key(), algorithms=["RS256"], options=SIGNATURE_ONLY
        )
        return claims

"""Tokens for tests, made when a test runs: nothing shaped like a credential is committed
(a secret scanner would take a JWT or an Entra client secret in the tree for a leak)."""

from __future__ import annotations

import base64
import json
from typing import Any


def fake_jwt(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A JWT's shape (base64url JSON header.payload.signature) around ``claims``, unsigned."""

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = json.dumps(header or {"alg": "none"}).encode()
    return f"{part(head)}.{part(json.dumps(claims).encode())}.{part(b'fake-signature')}"

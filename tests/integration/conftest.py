"""Fixtures every integration test may take."""

from __future__ import annotations

import socket
from typing import Any

import pytest

_LOOPBACK = ("localhost", "::1")


@pytest.fixture
def off_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts this process looked up off loopback while the test ran, each refused as if
    unknown. A request refused before it is sent leaves it empty: the loopback servers'
    request logs cannot see one sent to another host."""
    tried: list[str] = []
    resolve = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK and not name.startswith("127."):
            tried.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return tried

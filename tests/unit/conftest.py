"""Unit tests start no server: a test that listens on a socket belongs under tests/integration/."""

from __future__ import annotations

import socket

import pytest


def _refuse(_self: socket.socket, *_args: object) -> None:
    raise AssertionError("a unit test started a server: move it under tests/integration/")


@pytest.fixture(autouse=True)
def _no_listening_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "listen", _refuse)

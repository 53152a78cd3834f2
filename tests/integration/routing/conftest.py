"""A loopback TCP listener that only counts the connections it accepts: put its address where
a config under review (or a URL carrying credentials) would send something, and assert that
nothing ever connected."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

ROUTING_VARIABLES = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_AUTHORITY_HOST",
    "ENTRASYNC_GRAPH_URL",
    "NEURALTRUST_SCIM_URL",
)
# Anything that could steer a run from the developer's environment.
UNRELATED_VARIABLES = (
    "ENTRASYNC_CONFIG",
    "ENTRASYNC_GRAPH_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_STEP_SUMMARY",
    "NEURALTRUST_SCIM_TOKEN",
)


class Listener:
    """Accepts on 127.0.0.1 and closes at once; ``accepted`` counts every connection."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port: int = self._socket.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*ROUTING_VARIABLES, *UNRELATED_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch

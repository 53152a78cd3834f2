"""`-vv` shows each request, never an answer's headers: a proxy's Set-Cookie, or a
Proxy-Authorization it echoes back (base64, which no redaction can tell)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.loopback_http import Quiet, serving

COOKIE = "session=fake-cookie-for-tests-0123"
# Built here, not written out: a committed base64 credential reads as a real one to scanners.
ECHOED = "Basic " + base64.b64encode(b"fake-proxy-user-for-tests:fake-pass-for-tests").decode()


class _Refusing(Quiet):
    def do_GET(self) -> None:
        body = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}'
        headers = {"Set-Cookie": COOKIE, "Proxy-Authorization": ECHOED}
        self.answer(401, body, {"Content-Type": "application/scim+json", **headers})


@pytest.fixture
def refusing_url() -> Iterator[str]:
    with serving(_Refusing) as url:
        yield f"{url}/v2"


def test_vv_logs_the_requests_and_no_answers_headers(refusing_url: str, tmp_path: Path) -> None:
    (tmp_path / "mappings.yaml").write_text("version: 1\nmappings: []\n", encoding="utf-8")
    env = {
        **os.environ,
        "NEURALTRUST_SCIM_URL": refusing_url,
        "NEURALTRUST_SCIM_TOKEN": "fake-scim-token-for-tests",
        "ENTRASYNC_GRAPH_URL": refusing_url.removesuffix("/v2"),
        "ENTRASYNC_GRAPH_TOKEN": "fake-graph-token-for-tests",
    }
    done = subprocess.run(
        [sys.executable, "-m", "entrasync", "-vv", "--config", "mappings.yaml", "users"],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "HTTP Request: GET http://127.0.0.1:" in done.stderr  # -vv shows the requests
    assert "fake-cookie-for-tests" not in done.stderr
    assert ECHOED.split()[1] not in done.stderr
    assert "Traceback" not in done.stderr

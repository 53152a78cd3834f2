"""Every cassette under tests/cassettes/, recorded or hand-written, holds no credential: no
credential header with a value, no signed token, and none of the credentials the tests send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
# A header that carries a credential, as vcrpy writes one (`Authorization: [...]`, any case).
CREDENTIAL_HEADER = re.compile(
    r"^\s*['\"]?(authorization|proxy-authorization|private-token|cookie|set-cookie)['\"]?\s*:",
    re.IGNORECASE | re.MULTILINE,
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.")
# What the cassette tests send: a cassette holding one was recorded without its filter.
SENT = ("fake-cassette-secret-for-tests", "never-in-a-cassette")
FOUND = sorted(CASSETTES.rglob("*.yaml"))


def test_every_cassette_is_checked() -> None:
    assert {p.parent.name for p in FOUND} == {"graph", "scim"}


@pytest.mark.parametrize("path", FOUND, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cassette_holds_no_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not JWT.search(text)
    for sent in SENT:
        assert sent.lower() not in text.lower()
    for header in CREDENTIAL_HEADER.finditer(text):
        line = text[header.start() : text.find("\n", header.end())]
        assert re.fullmatch(r".*:\s*\[?['\"]?REDACTED['\"]?\]?\s*", line), line

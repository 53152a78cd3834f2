"""Every cassette under tests/cassettes/, recorded or hand-written, holds no credential: no
credential header with a value, no signed token, none of the credentials the tests send, and
no credential field in a body (a JSON answer's or a form's) but a redacted or fake one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import yaml

from tests.unit.json_walk import walk

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
# A header that carries a credential, as vcrpy writes one (`Authorization: [...]`, any case).
CREDENTIAL_HEADER = re.compile(
    r"^\s*['\"]?(authorization|proxy-authorization|private-token|cookie|set-cookie)['\"]?\s*:",
    re.IGNORECASE | re.MULTILINE,
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.")
# What the cassette tests send, and which one sends it: a cassette holding one was recorded
# without its filter.
SENDERS = {
    "fake-cassette-secret-for-tests": "graph/test_cassettes.py",
    "fake-scim-token-for-tests": "scim/test_wire_format.py",
}
SENT = tuple(SENDERS)
FOUND = sorted(CASSETTES.rglob("*.yaml"))


def test_every_cassette_is_checked() -> None:
    assert {p.parent.name for p in FOUND} == {"graph", "scim"}


def test_the_credentials_looked_for_are_those_the_cassette_tests_send() -> None:
    # One no test sent made the check of it pass whatever a cassette held.
    integration = Path(__file__).resolve().parents[1] / "integration"
    for sent, sender in SENDERS.items():
        assert f'"{sent}"' in (integration / sender).read_text(encoding="utf-8"), sender


@pytest.mark.parametrize("path", FOUND, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cassette_holds_no_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not JWT.search(text)
    for sent in SENT:
        assert sent.lower() not in text.lower()
    for header in CREDENTIAL_HEADER.finditer(text):
        line = text[header.start() : text.find("\n", header.end())]
        assert re.fullmatch(r".*:\s*\[?['\"]?REDACTED['\"]?\]?\s*", line), line


# Fields that hold a credential in OAuth 2.0 (RFC 6749 §4.4, §5.1; RFC 7523) and SCIM answers.
CREDENTIAL_FIELDS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "client_assertion"}
    | {"assertion", "password"}
)
HARMLESS = re.compile(r"REDACTED|fake-[a-z0-9-]+-for-tests")


def _bodies(path: Path) -> Iterator[Any]:
    """Each request's and response's body, read as JSON, else as a form."""
    for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
        sent = interaction["request"].get("body") or ""
        answered = interaction["response"].get("body", {}).get("string") or ""
        for body in (sent, answered):
            text = body.decode() if isinstance(body, bytes) else str(body)
            try:
                yield json.loads(text)
            except ValueError:
                yield dict(parse_qsl(text))


@pytest.mark.parametrize("path", FOUND, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cassette_body_holds_no_credential_but_a_redacted_or_fake_one(path: Path) -> None:
    for body in _bodies(path):
        for key, value in walk(body):
            if key.lower() in CREDENTIAL_FIELDS:
                assert HARMLESS.fullmatch(str(value)), (key, value)


def test_a_plain_token_in_a_body_is_found(tmp_path: Path) -> None:
    """The check above finds what the header and JWT checks cannot: an opaque token."""
    leak = tmp_path / "leak.yaml"
    # Neither REDACTED nor fake-…-for-tests, and made at run time: no literal in the tree
    # that a secret scanner would read as a token.
    unredacted = "-".join(("opaque", "value", "left", "unredacted"))
    answer = json.dumps({"token_type": "Bearer", "refresh_token": unredacted})
    leak.write_text(
        yaml.safe_dump(
            {
                "interactions": [
                    {"request": {"body": None}, "response": {"body": {"string": answer}}}
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match="refresh_token"):
        test_a_cassette_body_holds_no_credential_but_a_redacted_or_fake_one(leak)

"""No client secret, assertion or access token reaches output, logs (DEBUG) or a plan file."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from entrasync.cli import main
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox

from .conftest import G_PARENT, G_SMALL, EmulatorFactory, base_env

CLIENT_SECRET = "fake-client-secret-for-leak-tests"
SCIM_TOKEN = "fake-scim-bearer-for-leak-tests"
SUBJECT = "repo:contoso/access:pull_request"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.")
MAPPINGS = f"""\
version: 1
mappings:
  - id: {G_PARENT}
    role: owner
  - name: NT-Small
    role: member
"""


def record(obj: Any, name: str, into: list[str]) -> None:
    """Wrap an emulator method that mints a credential, to know every value it handed out."""
    original: Callable[..., str] = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> str:
        value = original(*args, **kwargs)
        into.append(value)
        return value

    setattr(obj, name, wrapper)


@pytest.mark.parametrize("mode", ["client secret", "GitHub Actions OIDC"])
def test_credentials_never_reach_output_logs_or_plan_files(
    mode: str,
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator: GraphEmulator = emulator_factory(
        client_secret=CLIENT_SECRET, federated_subject=SUBJECT, github_subject=SUBJECT
    )
    minted: list[str] = []
    record(emulator.tokens, "issue", minted)
    record(emulator.signer, "issue", minted)
    env = base_env(emulator)
    if mode == "client secret":
        env["AZURE_CLIENT_SECRET"] = CLIENT_SECRET
    else:
        env["ACTIONS_ID_TOKEN_REQUEST_URL"] = emulator.github_oidc_request_url
        env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = emulator.github_oidc_request_token
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "mappings.yaml"
    config.write_text(MAPPINGS)
    plan_file = tmp_path / "plan.json"
    caplog.set_level(logging.DEBUG)

    with ScimSandbox(SCIM_TOKEN) as scim:
        monkeypatch.setenv("NEURALTRUST_SCIM_URL", scim.url)
        monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", SCIM_TOKEN)
        codes = [
            main(["-vv", "validate", "--online", "--config", str(config)]),
            main(["-vv", "groups", "NT-", "--config", str(config)]),
            main(["-vv", "plan", "--out", str(plan_file), "--config", str(config)]),
        ]
    # A failing exchange must not echo the credential either.
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET + "-wrong")
    codes.append(main(["-vv", "groups", "--config", str(config)]))

    out, err = capsys.readouterr()
    assert codes == [0, 0, 0, 1]
    assert minted  # the emulator did hand out tokens (and assertions, under OIDC)
    assert G_SMALL in out  # the runs did real work
    assert plan_file.exists()
    secrets = [
        *minted,
        CLIENT_SECRET,
        SCIM_TOKEN,
        emulator.github_oidc_request_token,
    ]
    haystacks = {
        "stdout": out,
        "stderr": err,
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "plan file": plan_file.read_text(),
    }
    for where, text in haystacks.items():
        assert text, where
        assert not JWT.search(text), where
        for secret in secrets:
            assert secret not in text, f"a credential leaked into {where}"

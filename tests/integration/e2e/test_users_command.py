"""`entrasync users` through the real entry point, against the demo tenant on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from entrasync.cli import main
from entrasync.sandbox.tenant import demo_tenant
from tests.integration.e2e.loopback import serve_both


def test_users_says_what_plan_warns_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user held back or a mapping expired changes a status; `users` says why, as `plan`."""
    demo = demo_tenant()
    config = yaml.safe_load(demo.config_yaml)
    config["mappings"][-1]["expires"] = "2020-01-31"
    expired = config["mappings"][-1].get("name") or config["mappings"][-1]["id"]
    monkeypatch.chdir(tmp_path)
    with serve_both(demo.tenant, demo.scim_users, yaml.safe_dump(config), tmp_path, monkeypatch):
        assert main(["users"]) == 0
        _, err = capsys.readouterr()
        assert main(["plan"]) in (0, 2)
        planned = "".join(capsys.readouterr())
    said = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert any("expired on 2020-01-31" in line and expired in line for line in said), err
    assert all(line.removeprefix("warning: ") in planned for line in said)

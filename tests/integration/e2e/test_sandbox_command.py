"""`entrasync sandbox`: servers stay up, the environment file points plan at them, and
SIGTERM (like Ctrl-C) stops everything and removes the now-useless credentials file."""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} not printed; got:\n{seen}")


def _read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def test_sandbox_serves_plan_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrasync", "sandbox", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _wait_for(proc, "Press Ctrl-C to stop.")
        env_file = tmp_path / "sandbox.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        sandbox_env = _read_env_file(env_file)
        for secret in ("AZURE_CLIENT_SECRET", "NEURALTRUST_SCIM_TOKEN"):
            assert sandbox_env[secret] not in banner
        mappings = tmp_path / "config" / "mappings.yaml"
        assert yaml.safe_load(mappings.read_text())["version"] == 1
        schema_hint = mappings.read_text().splitlines()[0].split("$schema=")[1]
        assert (mappings.parent / schema_hint).resolve().is_file()

        command = ["-vv", "plan", "--detailed-exitcode", "--out", str(tmp_path / "plan.json")]
        plan = subprocess.run(
            [sys.executable, "-m", "entrasync", *command],
            env={**os.environ, **sandbox_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert plan.returncode == 2, plan.stderr
        assert "to create" in plan.stdout
        assert plan.stdout.rstrip().splitlines()[-1].startswith("Plan: ")
        assert json.loads((tmp_path / "plan.json").read_text())["summary"]["create"] >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    assert not (tmp_path / "sandbox.env").exists()
    ca_file = Path(sandbox_env["SSL_CERT_FILE"])
    assert not ca_file.exists()

"""entrasync where the POSIX-only parts it uses are missing, as on Windows (docs/install.md):
no ``fcntl`` module, no ``os.pwrite``, ``os.pread`` or ``os.fchmod``, no ``O_NOFOLLOW`` and no
SIGHUP. Every command that needs none of them runs; apply, the demo and the sandbox, which
need ``flock``, stop with an ``error:`` before they read, write or make anything.

This takes the parts away in a child process on this system; it is not a run on Windows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from entrasync.adapters.files import read_plan
from tests.integration.e2e.apply_runs import Finished, World

WITHOUT_POSIX = """\
import os, signal, sys
sys.modules["fcntl"] = None  # `import fcntl` raises ImportError
for name in ("pwrite", "pread", "fchmod", "O_NOFOLLOW", "O_NOCTTY"):
    delattr(os, name)
del signal.SIGHUP
import runpy; runpy.run_module("entrasync", run_name="__main__")
"""
NO_FLOCK = "error: this system has no flock(2)"


def run(world: World, *argv: str, posix: bool = False) -> Finished:
    code = ["-m", "entrasync"] if posix else ["-c", WITHOUT_POSIX]
    done = subprocess.run(
        [sys.executable, *code, *argv],
        cwd=world.tmp,
        env=world.environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Finished(done.returncode, done.stdout, done.stderr)


def test_help_and_validate_run(world: World) -> None:
    assert run(world, "--help").code == 0
    validated = run(world, "validate")
    assert validated.code == 0, validated.err
    assert "is valid" in validated.out


def test_plan_saves_the_plan_file_a_posix_run_saves(world: World) -> None:
    without, posix = world.tmp / "without.json", world.tmp / "posix.json"
    planned = run(world, "plan", "--out", str(without))
    assert planned.code == run(world, "plan", "--out", str(posix), posix=True).code
    assert "Saved the plan to" in planned.err, planned.err

    assert read_plan(without).digest == read_plan(posix).digest  # each checks its own digest
    lines = [path.read_text().splitlines() for path in (without, posix)]
    assert [line for line in lines[0] if '"created_at"' not in line] == [
        line for line in lines[1] if '"created_at"' not in line
    ]
    again = run(world, "plan", "--out", str(without))  # over an existing file: no fchmod
    assert again.code == planned.code, again.err
    assert json.loads(without.read_text())["summary"]["create"] > 0


def test_apply_stops_before_it_reads_or_makes_anything(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert "Saved the plan" in run(world, "plan", "--out", str(plan_file), posix=True).err
    before = world.scim.counters.requests

    applied = run(world, *world.command(str(plan_file)))

    assert applied.code == 1
    assert NO_FLOCK in applied.err
    assert "hint: run this command on Linux or macOS, or on Windows in WSL 2" in applied.err
    assert world.scim.counters.requests == before
    assert not world.audit_dir.exists()
    assert world.scim.users() == []

    # Before it reads the plan file or the config: nothing else would let apply run here.
    missing = run(world, *world.command(str(world.tmp / "no-such-plan.json")))
    assert missing.code == 1
    assert NO_FLOCK in missing.err

    assert run(world, *world.command(str(plan_file)), posix=True).code == 0
    verified = run(world, "audit", "verify", str(world.audit_file()))
    assert verified.code == 0, verified.err


def test_users_groups_and_init_run(world: World) -> None:
    for argv in (["users"], ["groups"], ["init", "--out", str(world.tmp / "drafted.yaml")]):
        done = run(world, *argv)
        assert done.code == 0, (argv, done.err)
    assert "mappings:" in (world.tmp / "drafted.yaml").read_text()


def test_demo_and_sandbox_stop_before_they_make_their_folder(world: World) -> None:
    for command in ("demo", "sandbox"):
        folder = world.tmp / command
        stopped = run(world, command, "--dir", str(folder))
        assert stopped.code == 1
        assert NO_FLOCK in stopped.err
        assert not Path(folder).exists()

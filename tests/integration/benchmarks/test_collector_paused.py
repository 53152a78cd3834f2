"""With the cyclic collector paused (entrasync.gctune), a plan must not leave objects in
reference cycles for each user it reads: nothing would free them until the command ends.

The plan runs in its own interpreter against the benchmark's emulators at two sizes;
``gc.collect()`` at the end counts the objects the whole run left in cycles (objects, not
cycles: a cycle holds one object or more).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.servers import Servers, Spec

# The CLI with the collector already off (collector_paused() leaves it off), then the count
# of the objects it left in cycles.
COUNT_IN_CYCLES = (
    "import gc, sys\n"
    "from entrasync.cli import main\n"
    "gc.collect()\n"
    "gc.disable()\n"
    "code = main(sys.argv[1:])\n"
    "print('in cycles', gc.collect(), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def objects_in_cycles_after_a_plan(users: int, tmp_path: Path) -> int:
    with Servers(Spec(f"users-{users}")) as servers:
        config = tmp_path / f"mappings-{users}.yaml"
        config.write_text(servers.config_yaml)
        done = subprocess.run(
            [sys.executable, "-c", COUNT_IN_CYCLES, "--config", str(config), "plan"],
            env={**os.environ, **servers.environ},
            capture_output=True,
            text=True,
            check=False,
        )
    # The plan breaks a safety limit at these sizes (exit 1), but it is made and printed.
    assert "Plan: " in done.stdout, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("in cycles "), done.stderr[-2000:]
    return int(last.removeprefix("in cycles "))


def test_a_plan_leaves_no_cycles_per_user(tmp_path: Path) -> None:
    small = objects_in_cycles_after_a_plan(300, tmp_path)
    large = objects_in_cycles_after_a_plan(3000, tmp_path)
    assert 0 < small < 10_000  # the interpreter's and the libraries' own, made once
    # The same count at both sizes (1,677 objects, benchmarks/README.md). One cycle per ten
    # users read (one-object cycles, the smallest) left 247 objects more at 3,000 than at 300.
    assert abs(large - small) < 100

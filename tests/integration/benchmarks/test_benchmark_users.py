"""``benchmarks/run.py --users N`` at a tiny N: the phases run end to end and report figures.

Benchmarks are not tests; this only keeps the code of its core and plan phases working (the
emulators in a child process, the CLI probe, the I/O floor) at a size that takes seconds.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import phases


def test_a_tiny_users_run_measures_the_core_and_the_plan(tmp_path: Path) -> None:
    core, raw_core = phases.core("users-300", tmp_path / "profile.txt")
    plan, raw_plan = phases.plan("users-300", parallelism=4, repeats=1)
    figures = {f.name: f for f in core + plan}
    assert raw_core["directory_users"] > 0
    assert raw_core["changes"] > 0
    assert figures["plan completed"].passed
    assert isinstance(figures["linear reference pass (the machine's yardstick)"].value, float)
    assert raw_plan["shape"]["directory_users"] == 300
    assert raw_plan["probe"]["requests"]["graph_member_page"] >= 1
    assert figures["peak requests in flight (Graph, SCIM)"].passed

"""CPU and memory of the pure core: resolve + diff + safety + render (text, Markdown, JSON).

Run in its own process (``python benchmarks/core_cpu.py [OUT.json] --size full``) so the
figures are this work's alone. The inputs are built straight from the generated tenant (no
sockets), CPU is ``time.process_time`` around the core only, under the CLI's GC thresholds
(``entrasync.gctune``; the default thresholds' figure is kept too), and memory is the
tracemalloc peak of a separate run (tracemalloc slows the code it watches).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workload import Size, config_of, directory_of, generate, size_named, target_of
from entrasync.config.models import Config
from entrasync.core.model import Directory, Target
from entrasync.gctune import collector_paused
from entrasync.operations.planning import make_plan
from entrasync.render.jsonout import json_lines
from entrasync.render.markdown import render_markdown
from entrasync.render.text import text_chunks

CONFIG_PATH = "config/mappings.yaml"


def core(config: Config, directory: Directory, target: Target) -> dict[str, Any]:
    """The work measured: one plan, its digest and its three renderings, each step timed."""
    steps: dict[str, float] = {}
    clock = time.process_time()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.process_time()
        steps[name] = round(now - clock, 3)
        clock = now

    plan = make_plan(config, CONFIG_PATH, "0" * 64, directory, target, "2026-11-28T12:00:00Z")
    lap("make_plan (resolve, diff, safety)")
    digest = plan.digest
    lap("plan digest (canonical JSON)")
    # Text and plan file are consumed piece by piece, as `plan` prints and saves them.
    text_chars = sum(map(len, text_chunks(plan, color=False)))
    lap("render text")
    markdown = render_markdown(plan, config_path=CONFIG_PATH)
    lap("render markdown")
    json_chars = sum(map(len, json_lines(plan)))
    lap("render json (plan file)")
    return {
        "steps_cpu_seconds": steps,
        "digest": digest,
        "changes": len(plan.changes),
        "orphans": len(plan.orphans),
        "unchanged": plan.unchanged,
        "text_chars": text_chars,
        "markdown_chars": len(markdown),
        "json_chars": json_chars,
    }


def linear_reference(directory: Directory) -> float:
    """CPU of one plain pass over the directory's users as they lie in memory: a dict by
    lower-cased UPN and one JSON array of their fields. Linear by construction, so its growth
    from one size to the next is the machine's own (caches, memory bandwidth): the yardstick
    for the core's exponent in the curve of benchmarks/README.md."""
    start = time.process_time()
    by_upn = {user.user_principal_name.lower(): user for user in directory.users.values()}
    json.dumps([(u.id, u.user_principal_name, u.mail, u.display_name) for u in by_upn.values()])
    return time.process_time() - start


def measure(size: Size, profile_to: Path | None = None) -> dict[str, Any]:
    t0 = time.process_time()
    generated = generate(size)
    config = config_of(generated)
    directory = directory_of(config, generated.tenant)
    target = target_of(generated)
    inputs_cpu = time.process_time() - t0

    gc.collect()
    start = time.process_time()
    core(config, directory, target)
    cpu_collector_on = time.process_time() - start

    # As the CLI runs it: entrasync.cli wraps every command in collector_paused().
    gc.collect()
    start = time.process_time()
    with collector_paused():
        shape = core(config, directory, target)
    cpu = time.process_time() - start

    with collector_paused():
        reference = min(linear_reference(directory) for _ in range(3))

    gc.collect()
    tracemalloc.start()
    core(config, directory, target)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    result: dict[str, Any] = {
        "cpu_seconds": round(cpu, 3),
        "cpu_seconds_collector_on": round(cpu_collector_on, 3),
        "tracemalloc_peak_mb": round(peak / 2**20, 1),
        "inputs_cpu_seconds": round(inputs_cpu, 3),
        "linear_reference_cpu_seconds": round(reference, 3),
        "directory_users": len(directory.users),
        "groups": len(directory.groups),
        "memberships": sum(len(g.member_ids) for g in directory.groups),
        "target_users": len(target.users),
        **shape,
    }
    if profile_to is not None:
        result["profile_top"] = profile(config, directory, target, profile_to)
    return result


def profile(config: Config, directory: Directory, target: Target, out: Path) -> list[str]:
    """cProfile of one core run as the CLI runs it (the collector paused, else its pauses are
    charged to whichever function allocates): the full table to ``out``, the top lines."""
    gc.collect()
    profiler = cProfile.Profile()
    with collector_paused():
        profiler.enable()
        core(config, directory, target)
        profiler.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats("tottime")
    stats.print_stats(40)
    out.write_text(buffer.getvalue())
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return lines[header : header + 13]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="full", help="full, quick or users-N")
    parser.add_argument("--profile", type=Path, help="write a cProfile table here")
    parser.add_argument("json", type=Path, nargs="?", help="write the figures here")
    args = parser.parse_args()
    result = measure(size_named(args.size), args.profile)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

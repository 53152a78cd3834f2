"""entrasync at enterprise scale (issue 7): one command, every figure next to its target.

    python benchmarks/run.py            # 100,000 users, 300 groups, 60,000 in NeuralTrust
    python benchmarks/run.py --quick    # a small smoke size, under a minute
    python benchmarks/run.py --users 1000000 --only core,plan   # the same shape, 10x
    python benchmarks/run.py --only plan,core

Both APIs are emulated on loopback in a child process, with 20 ms per request and 16 requests
served at once (the SCIM side by ``lean_scim.py``; a realism phase uses scim2-server itself).
Results go to ``benchmarks/results/`` (git-ignored); ``--snapshot`` also writes the committed
``benchmarks/latest.json``. Benchmarks never gate CI: the exit code is 0 unless a phase
crashed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import phases
from benchmarks.phases import Figure
from benchmarks.workload import FULL, QUICK, scaled

HERE = Path(__file__).resolve().parent
PHASES = ("core", "plan", "apply", "realism", "concurrency")


def _table(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "target", "")]
    for f in figures:
        verdict = "" if f.passed is None else "PASS" if f.passed else "FAIL"
        rows.append((f.name, f"{f.value} {f.unit}".strip(), f.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def markdown_table(figures: list[Figure]) -> str:
    """The README's table: figure, measured, target, verdict."""
    lines = ["| figure | measured | target | |", "|---|---|---|---|"]
    for f in figures:
        verdict = "" if f.passed is None else "PASS" if f.passed else "**FAIL**"
        measured = f"{f.value} {f.unit}".strip()
        name = f"↳ {f.name.strip()}" if f.name.startswith(" ") else f.name
        lines.append(f"| {name} | {measured} | {f.target} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small smoke size")
    sizes.add_argument(
        "--users",
        type=int,
        metavar="N",
        help="N directory users, the full size's proportions kept (workload.scaled)",
    )
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--parallelism", type=int, default=16, help="passed to entrasync")
    parser.add_argument("--repeats", type=int, default=5, help="floor/plan pairs in plan")
    parser.add_argument("--snapshot", action="store_true", help="also write benchmarks/latest.json")
    args = parser.parse_args(argv)
    if args.users is not None and args.users < 100:
        parser.error("--users must be at least 100")
    size = QUICK if args.quick else FULL if args.users is None else scaled(args.users)
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(chosen) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {PHASES}")
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    # An installed entrasync runs from the bytecode pip compiles at install time; a checkout run
    # with PYTHONDONTWRITEBYTECODE set (as on CI runners and this machine) would make each
    # measured process compile it from source first (30-40 ms of the plan's start-up).
    compileall.compile_dir(str(HERE.parent / "entrasync"), quiet=1)
    load_at_start = round(os.getloadavg()[0], 2)
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    for name in chosen:
        started = time.perf_counter()
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        if name == "core":
            found, data = phases.core(size.name, results_dir / f"profile-{stamp}.txt")
        elif name == "plan":
            found, data = phases.plan(size.name, args.parallelism, args.repeats)
        elif name == "apply":
            found, data = phases.apply(size.name, size.apply_creates, args.parallelism)
        elif name == "realism":
            found, data = phases.realism(size.name, size.realism_users, size.realism_scim_users)
        else:
            found, data = phases.concurrency()
        data["phase_seconds"] = round(time.perf_counter() - started, 1)
        figures += found
        raw[name] = data
        print(_table(found), file=sys.stderr, flush=True)

    result = {
        "created_at": stamp,
        "size": size.to_json(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # The machine is shared: a load above the core count means the figures are slow.
            "load_average_1m_at_start": load_at_start,
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "parallelism": args.parallelism,
        "figures": [f.to_json() for f in figures],
        "raw": raw,
    }
    text = json.dumps(result, indent=2) + "\n"
    (results_dir / f"run-{stamp}.json").write_text(text)
    (results_dir / "latest.json").write_text(text)
    (results_dir / "latest.md").write_text(markdown_table(figures))
    if args.snapshot:
        (HERE / "latest.json").write_text(text)
    print(f"\nentrasync benchmark, size {size.name} ({size.users:,} users)")
    load_at_end = os.getloadavg()[0]
    print(f"load average {load_at_start} at start, {load_at_end:.2f} at end, {os.cpu_count()} CPUs")
    print(_table(figures))
    print(f"\nJSON: {results_dir / f'run-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

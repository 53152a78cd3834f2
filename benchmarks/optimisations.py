"""What each kept optimisation of the core saves at 100,000 users (benchmarks/README.md).

Each step is timed (``time.process_time``, the cyclic collector paused as the CLI runs) on
``core_cpu.py``'s inputs, three times alternately with the optimisation and without it (the
code without it is put in place here, for the run only), and the median of each is printed.

    python benchmarks/optimisations.py [--size full]

Needs the ``test`` extra (``rfc8785``, the package the canonical JSON is proven against).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rfc8785

from benchmarks.workload import config_of, directory_of, generate, size_named, target_of
from entrasync.core import planfile, sanitize
from entrasync.gctune import collector_paused
from entrasync.operations.planning import make_plan
from entrasync.render import markdown, text
from entrasync.render.common import MARKERS, is_adoption


def _cpu(work: Callable[[], object]) -> float:
    gc.collect()
    start = time.process_time()
    with collector_paused():
        work()
    return time.process_time() - start


@contextmanager
def _replaced(module: Any, name: str, value: object) -> Iterator[None]:
    kept = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, kept)


def _translated_always(value: str | None) -> str:
    """``sanitize.text`` without its fast path for printable strings."""
    if not value:
        return ""
    value = value.translate(sanitize._TABLE)
    if "::" in value or "##" in value:
        value = sanitize._inert_commands(value)
    return value


def _block_built_whole(change: Any, style: Any, _shared: object) -> str:
    """``text._change_block`` as it was before the shared lines: every line built each time."""
    name = f" ({sanitize.text(change.display_name)})" if change.display_name else ""
    head = f"  {MARKERS[change.action]} {change.action.value} {sanitize.text(change.user)}{name}"
    access, membership = text._rest(change)
    adopted = ""
    if is_adoption(change):
        adopted = style(f"      + externalId: {sanitize.text(change.entra_id)}", "green") + "\n"
    return f"{style(head, text._COLORS[change.action], bold=True)}\n{access}{adopted}{membership}\n"


class _EagerRows(list[str]):
    """``LazyRows`` undone: every row rendered up front."""

    def __init__(self, count: int, render: Callable[[int], str]) -> None:
        super().__init__(render(i) for i in range(count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="full", help="full, quick or users-N")
    args = parser.parse_args()
    generated = generate(size_named(args.size))
    config = config_of(generated)
    directory = directory_of(config, generated.tenant)
    target = target_of(generated)
    plan = make_plan(
        config, "config/mappings.yaml", "0" * 64, directory, target, "2026-11-28T12:00:00Z"
    )

    def text_plan() -> int:
        return sum(map(len, text.text_chunks(plan, color=False)))

    def text_without_shared_lines() -> int:
        with _replaced(text, "_change_block", _block_built_whole):
            return text_plan()

    def text_without_fast_path() -> int:
        with _replaced(text, "clean", _translated_always):
            return text_plan()

    def comment() -> int:
        return len(markdown.render_markdown(plan, config_path="config/mappings.yaml"))

    def comment_eager() -> int:
        with _replaced(markdown, "LazyRows", _EagerRows):
            return comment()

    def digest() -> str:
        object.__setattr__(plan, "_digest", "")
        return plan.digest

    data = json.loads(planfile.dumps(plan))
    hashed = {k: v for k, v in data.items() if k not in ("created_at", "digest")}

    def digest_rfc8785() -> str:
        return hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()

    assert digest() == digest_rfc8785(), "the canonical JSON differs from rfc8785's"

    def plan_file() -> int:
        return sum(map(len, planfile.file_lines(plan)))

    def plan_file_indented() -> int:
        return len(json.dumps(data, indent=2))

    pairs = [
        ("render text", "the shared lines built once", text_plan, text_without_shared_lines),
        ("render text", "sanitize's fast path", text_plan, text_without_fast_path),
        ("render markdown", "LazyRows", comment, comment_eager),
        ("plan digest", "canonical.py, not rfc8785", digest, digest_rfc8785),
        ("plan file text", "one line per change, not indent=2", plan_file, plan_file_indented),
    ]
    print(f"{len(plan.changes):,} changes; CPU seconds, median of 3 (with / without)")
    for step, what, kept, undone in pairs:
        with_it, without = [], []
        for _ in range(3):
            with_it.append(_cpu(kept))
            without.append(_cpu(undone))
        print(
            f"{step:16} {what:36} {statistics.median(with_it):6.3f} / "
            f"{statistics.median(without):6.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

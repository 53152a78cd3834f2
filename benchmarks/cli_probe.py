"""Run one ``entrasync`` command in this process and report what it cost, as JSON on a file.

Started by ``run.py`` as a fresh interpreter with the servers' environment, so the peak RSS
is that one command's (a plan, an apply). Requests are counted on the client side, at
httpx's transport (every request that reaches a socket, retries included), by what they ask.

    python benchmarks/cli_probe.py RESULT.json -- plan --parallelism 16 ...
"""

from __future__ import annotations

import json
import re
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

_GROUP_LOOKUP = re.compile(r"^/v1\.0/groups/[^/]+$")
_MEMBER_PAGE = re.compile(r"^/v1\.0/groups/[^/]+/(transitiveMembers|members)")


def classify(method: str, url: httpx.URL) -> str:
    path = url.path
    if path.startswith("/v1.0/"):
        if path == "/v1.0/$batch":
            return "graph_batch"
        if _MEMBER_PAGE.match(path):
            return "graph_member_page"
        if _GROUP_LOOKUP.match(path):
            return "graph_group_lookup"
        if path == "/v1.0/groups":
            return "graph_group_search"
        return "graph_other"
    if "/oauth2/" in path or "openid-configuration" in path or "/discovery/" in path:
        return "login"
    if path.endswith("/ServiceProviderConfig"):
        return "scim_config"
    if path.endswith("/Users") and method == "GET":
        return "scim_list" if "filter" not in url.params else "scim_lookup"
    if path.endswith("/Users") and method == "POST":
        return "scim_create"
    if "/Users/" in path:
        return f"scim_{method.lower()}"
    return "other"


class Meter:
    """Counts requests and the peak number in flight, per API host:port."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.peak: dict[str, int] = {}
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    def install(self) -> None:
        original = httpx.HTTPTransport.handle_request
        meter = self

        def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            host = f"{request.url.host}:{request.url.port}"
            kind = classify(request.method, request.url)
            with meter._lock:
                meter.kinds[kind] += 1
                meter._in_flight[host] += 1
                meter.peak[host] = max(meter.peak.get(host, 0), meter._in_flight[host])
            try:
                response = original(self, request)
            finally:
                with meter._lock:
                    meter._in_flight[host] -= 1
            with meter._lock:
                meter.statuses[f"{kind}:{response.status_code}"] += 1
            return response

        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]


# The steps worth a line in the timeline: (module, attribute) of functions looked up at call
# time by their callers, so wrapping the module attribute sees every call.
STEPS = (
    ("entrasync.adapters.graph.directory", "read_directory"),
    ("entrasync.adapters.scim.target", "read_target"),
    ("entrasync.operations.planning", "make_plan"),
    ("entrasync.commands.plan", "write_plan"),  # the plan file, rendered as written
    ("entrasync.commands.plan", "show"),  # the plan printed, rendered as printed
    ("entrasync.operations.apply", "apply_plan"),
)


class Timeline:
    """Wall start/end (from the probe's start) and thread CPU of each step, in call order."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.spans: list[dict[str, Any]] = []

    def install(self) -> None:
        import importlib

        for module_name, attribute in STEPS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            original = getattr(module, attribute, None)
            if original is not None:
                setattr(module, attribute, self._wrap(attribute, original))

    def _wrap(self, name: str, func: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.spans.append(
                    {
                        "step": name,
                        "start": round(start - self.origin, 3),
                        "wall": round(time.perf_counter() - start, 3),
                        "thread_cpu": round(time.thread_time() - cpu, 3),
                        # The process's peak so far: which step raised it.
                        "maxrss_mb_after": round(_maxrss_mb(), 1),
                    }
                )

        return timed


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    cli_args = argv[argv.index("--") + 1 :]
    meter = Meter()
    meter.install()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    from entrasync.cli import main as cli_main

    timeline = Timeline(wall0)
    timeline.install()

    try:
        code = cli_main(cli_args)
    except SystemExit as exc:  # click's standalone mode may exit instead of returning
        code = exc.code if isinstance(exc.code, int) else 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    result: dict[str, Any] = {
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "maxrss_mb": round(_maxrss_mb(), 1),
        "requests": dict(meter.kinds),
        "statuses": dict(meter.statuses),
        "peak_in_flight": meter.peak,
        "timeline": timeline.spans,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

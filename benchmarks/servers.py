"""The emulated APIs of one benchmark phase, in a child process of their own.

The servers run apart from the process being measured, so its CPU time, peak memory and GIL
are entrasync's alone (on 2 cores the servers still compete for CPU, as a busy CI runner does).
The parent talks to the child with JSON lines on its stdin and stdout; ``Servers(spec)``
returns once they listen.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LATENCY = 0.020  # seconds added to every request, both APIs (issue 7)
MAX_CONCURRENCY = 16  # requests each API serves at once; more wait their turn
SCIM_PAGE = 1000  # both SCIM servers' filter.maxResults


@dataclass(frozen=True)
class Spec:
    """What to serve: the tenant size, and which SCIM server holding what."""

    size: str  # "full" | "quick" | "users-N" (workload.size_named)
    users: int | None = None  # override the size's directory users
    groups: int | None = None  # override the size's groups
    scim_users: int | None = None  # override the size's NeuralTrust users
    scim: str = "lean"  # "lean" | "scim2-server"
    seed_scim: bool = True  # hold the generated NeuralTrust users (False: start empty)
    throttle_rate: float = 0.0  # share of SCIM writes answered 429 (lean only)
    graph: bool = True


def _send(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value) + "\n")
    out.flush()


def _serve(spec: Spec, commands: TextIO, out: TextIO) -> None:
    from benchmarks.lean_scim import LeanScim
    from benchmarks.workload import config_of, config_yaml, generate, minimums, size_named
    from entrasync.sandbox.graph_emulator import GraphEmulator
    from entrasync.sandbox.scim_server import ScimSandbox

    size = size_named(spec.size)
    generated = generate(size, users=spec.users, groups=spec.groups, scim_users=spec.scim_users)
    config = config_of(generated)
    least = minimums(config, generated, SCIM_PAGE)
    shape = {
        "directory_users": len(generated.tenant.users),
        "groups": len(generated.tenant.groups),
        "synced_mappings": len(config.synced_mappings),
        "scim_users": len(generated.scim_users) if spec.seed_scim else 0,
        "min_graph_member_pages": least.graph_member_pages,
        "min_graph_name_lookups": least.graph_name_lookups,
        "min_graph_id_batches": least.graph_id_batches,
        "min_graph_requests": least.graph,
        "min_scim_list_pages": least.scim_list_pages if spec.seed_scim else 1,
    }
    seeds = generated.scim_users if spec.seed_scim else ()
    secret, token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with ExitStack() as stack:
        environ: dict[str, str] = {}
        graph = None
        if spec.graph:
            graph = GraphEmulator(
                generated.tenant,
                latency=LATENCY,
                max_concurrency=MAX_CONCURRENCY,
                client_secret=secret,
            )
            stack.enter_context(graph.start())
            ca = graph.ca_pem_path or ""
            environ |= {
                "AZURE_TENANT_ID": generated.tenant.tenant_id,
                "AZURE_CLIENT_ID": generated.tenant.client_id,
                "AZURE_CLIENT_SECRET": secret,
                "AZURE_AUTHORITY_HOST": graph.base_url,
                "ENTRASYNC_GRAPH_URL": graph.base_url,
                "SSL_CERT_FILE": ca,
                "REQUESTS_CA_BUNDLE": ca,
            }
        scim: Any
        if spec.scim == "lean":
            scim = LeanScim(
                token,
                seed=seeds,
                latency=LATENCY,
                max_concurrency=MAX_CONCURRENCY,
                throttle_rate=spec.throttle_rate,
            )
        else:
            scim = ScimSandbox(token, seed=seeds, latency=LATENCY)
        stack.enter_context(scim.start())
        environ |= {"NEURALTRUST_SCIM_URL": scim.url, "NEURALTRUST_SCIM_TOKEN": token}
        ready = {"environ": environ, "config_yaml": config_yaml(generated), "shape": shape}
        _send(out, ready)
        for line in commands:
            command = line.strip()
            if command == "stop":
                break
            if command == "counters":
                _send(out, _counters(graph, scim))
            elif command == "reset":
                if graph is not None:
                    graph.reset_counters()
                _send(out, True)
            elif command == "scim_users":
                users = scim.users()
                _send(
                    out, [[u.get("userName"), u.get("externalId"), u.get("active")] for u in users]
                )
            else:
                _send(out, {"error": f"unknown command {command!r}"})
    _send(out, "stopped")


def _counters(graph: Any, scim: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if graph is not None:
        out["graph"] = dict(graph.counters) | {"peak_concurrency": graph.peak_concurrency}
    c = scim.counters
    out["scim"] = {
        "requests": c.requests,
        "by_method": dict(c.by_method),
        "writes": c.writes,
        "throttled": c.throttled,
        "lists": getattr(c, "lists", None),
        "peak_concurrency": getattr(c, "peak_concurrency", None),
    }
    return out


class Servers:
    """A running phase's servers: ``environ`` points the CLI at them."""

    def __init__(self, spec: Spec) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, json.dumps(asdict(spec))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._receive()
        self.environ: dict[str, str] = ready["environ"]
        self.config_yaml: str = ready["config_yaml"]
        self.shape: dict[str, int] = ready["shape"]

    def _receive(self) -> Any:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark servers exited ({self._process.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return self._receive()

    def stop(self) -> None:
        if self._process.poll() is None:
            self.ask("stop")
        # Tearing down a large tenant takes a while (6 s at 100,000 users, longer at 1,000,000);
        # a process killed meanwhile runs no atexit, so its CA file is removed here.
        try:
            self._process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            if ca := self.environ.get("SSL_CERT_FILE"):
                Path(ca).unlink(missing_ok=True)

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    _serve(Spec(**json.loads(sys.argv[1])), sys.stdin, sys.stdout)

"""The running sandbox: the emulated Entra tenant and a real SCIM server, wired for the CLI.

Used by ``entrasync demo`` and ``entrasync sandbox``. Everything listens on 127.0.0.1 only;
the credentials are random per run and exist only for these two loopback servers.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from entrasync.sandbox.tenant import demo_tenant


@dataclass(frozen=True)
class RunningSandbox:
    graph: GraphEmulator
    scim: ScimSandbox
    config_yaml: str
    environ: dict[str, str]  # holds the sandbox's (throwaway) secrets: never print it whole

    @property
    def public_environ(self) -> dict[str, str]:
        """The variables that are safe to show: everything but the secret and the token."""
        return {k: v for k, v in self.environ.items() if k not in SECRET_VARIABLES}


SECRET_VARIABLES = frozenset({"AZURE_CLIENT_SECRET", "NEURALTRUST_SCIM_TOKEN"})


def new_credential() -> str:
    """A throwaway credential for one sandbox run."""
    return secrets.token_urlsafe(24)


@contextmanager
def running_sandbox() -> Iterator[RunningSandbox]:
    """Start both servers on loopback; stop them on every way out, Ctrl-C included."""
    demo = demo_tenant()
    client_secret = new_credential()
    scim_token = new_credential()
    with ExitStack() as stack:
        graph = stack.enter_context(GraphEmulator(demo.tenant, client_secret=client_secret))
        scim = stack.enter_context(ScimSandbox(scim_token, seed=demo.scim_users))
        ca = graph.ca_pem_path or ""
        environ = {
            "AZURE_TENANT_ID": demo.tenant.tenant_id,
            "AZURE_CLIENT_ID": demo.tenant.client_id,
            "AZURE_CLIENT_SECRET": client_secret,
            "AZURE_AUTHORITY_HOST": graph.base_url,
            "ENTRASYNC_GRAPH_URL": graph.base_url,
            "SSL_CERT_FILE": ca,
            "REQUESTS_CA_BUNDLE": ca,
            "NEURALTRUST_SCIM_URL": scim.url,
            "NEURALTRUST_SCIM_TOKEN": scim_token,
        }
        yield RunningSandbox(graph=graph, scim=scim, config_yaml=demo.config_yaml, environ=environ)


@contextmanager
def sandbox_environment(environ: dict[str, str]) -> Iterator[None]:
    """Point this process's environment at the sandbox, restoring it afterwards.

    Credentials a user has set for a real tenant are removed for the duration, so the demo
    can never reach anything but loopback.
    """
    real_credentials = (
        "ENTRASYNC_GRAPH_TOKEN",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_FEDERATED_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITHUB_STEP_SUMMARY",
        "ENTRASYNC_CONFIG",
    )
    saved = dict(os.environ)
    try:
        for name in real_credentials:
            os.environ.pop(name, None)
        os.environ.update(environ)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write_workspace(directory: Path, config_yaml: str, config: Path | None = None) -> Path:
    """Lay out a folder like a repository: ``config/mappings.yaml`` and ``schemas/``.

    The demo mappings start with a yaml-language-server ``$schema=../schemas/…`` hint, so the
    schema is written beside them and editors show help and errors. An existing mappings file
    is kept: a user's edits survive a restart of the sandbox.
    """
    from entrasync.config.schema import render_schema

    mappings = config if config is not None else directory / "config" / "mappings.yaml"
    mappings.parent.mkdir(parents=True, exist_ok=True)
    if not mappings.exists():
        mappings.write_text(config_yaml, encoding="utf-8")
    schema = mappings.parent.parent / "schemas" / "mappings.schema.json"
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text(render_schema(), encoding="utf-8")
    return mappings


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so the servers stop and their files are removed."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_env_file(path: Path, environ: dict[str, str]) -> None:
    """`export NAME=value` lines, readable by the owner only (they hold sandbox secrets)."""
    lines = [f"export {name}={_shell_quote(value)}" for name, value in sorted(environ.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"

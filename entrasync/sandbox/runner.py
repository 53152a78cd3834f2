"""The running sandbox: the emulated Entra tenant and a real SCIM server, wired for the CLI.

Used by ``entrasync demo`` and ``entrasync sandbox``. Everything listens on 127.0.0.1 only;
the credentials are random per run and exist only for these two loopback servers.
"""

from __future__ import annotations

import os
import secrets
import shlex
import stat
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from entrasync.adapters.clock import utc_now_ms
from entrasync.adapters.files import make_folder, write_atomic
from entrasync.adapters.lockfile import Holder, holding, open_lock
from entrasync.adapters.trust import EXTRA_CA_VARIABLE
from entrasync.config.schema import render_schema
from entrasync.errors import EntrasyncError
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


LOCK_NAME = ".entrasync-sandbox.lock"
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
            EXTRA_CA_VARIABLE: ca,  # entrasync's own: other programs keep their trust
            "NEURALTRUST_SCIM_URL": scim.url,
            "NEURALTRUST_SCIM_TOKEN": scim_token,
        }
        yield RunningSandbox(graph=graph, scim=scim, config_yaml=demo.config_yaml, environ=environ)


# What the sandbox's environment does not set and a real tenant's may: entrasync would take
# each over the sandbox's credentials (a ready token, a certificate, a federated token) or
# its files. The demo clears them; `sandbox.env` unsets them.
REAL_ONLY = (
    "ENTRASYNC_GRAPH_TOKEN",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_STEP_SUMMARY",
    "ENTRASYNC_CONFIG",
)


@contextmanager
def sandbox_environment(environ: dict[str, str]) -> Iterator[None]:
    """Point this process's environment at the sandbox, restoring it afterwards.

    Credentials a user has set for a real tenant are removed for the duration, so the demo
    can never reach anything but loopback.
    """
    saved = dict(os.environ)
    try:
        for name in REAL_ONLY:
            os.environ.pop(name, None)
        os.environ.update(environ)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write_workspace(
    directory: Path,
    config_yaml: str,
    config: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Lay out a folder like a repository: ``config/mappings.yaml`` and ``schemas/``.

    The demo mappings start with a yaml-language-server ``$schema=../schemas/…`` hint, so the
    schema is written beside them and editors show help and errors. An existing mappings file
    is kept: a user's edits survive a restart of the sandbox. The schema is the sandbox's own
    in ``directory`` (refreshed each start). Beside a ``config`` of the user's, it is written
    only in a repository's layout (the file in a folder named ``config``, the schema in
    ``schemas/`` beside that folder), when the demo mappings were just written there and no
    schema is there: a repository's is never replaced, and no folder the user did not name
    is made elsewhere. It only helps an editor, so one that cannot be written is a warning.
    """

    mappings = config if config is not None else directory / "config" / "mappings.yaml"
    make_folder(mappings.parent)
    created = not mappings.exists()
    if created:
        write_atomic(mappings, config_yaml)
    if config is None:
        write_atomic(directory / "schemas" / "mappings.schema.json", render_schema())
        return mappings
    folder = _folder_named(mappings.parent)
    schema = folder.parent / "schemas" / "mappings.schema.json"
    if created and folder.name == "config" and not schema.exists():
        try:
            write_atomic(schema, render_schema())
        except EntrasyncError as exc:
            if warn is None:
                raise
            warn(f"the schema its header names was not written: {exc.message}")
    return mappings


def _folder_named(folder: Path) -> Path:
    """``folder`` as an editor reading the header's ``../schemas/`` names it: absolute, its
    path kept as written (a link in it is not followed), except up to its last ``..``, which
    the system reads after following the links before it (``link/..`` is beside the link's
    target). The parent of ``.`` is then the folder above, not ``.`` again."""
    parts = folder.parts
    up = max((i for i, part in enumerate(parts) if part == ".."), default=-1)
    start = Path(os.path.realpath(Path(*parts[: up + 1]))) if up >= 0 else Path.cwd()
    return Path(os.path.abspath(start.joinpath(*parts[up + 1 :])))


def source_command(env_file: Path) -> str:
    """The shell command that reads ``env_file``, to paste in another shell, in any folder."""
    return f"source {shlex.quote(str(env_file.resolve()))}"


@dataclass(frozen=True)
class EnvFile:
    """The ``sandbox.env`` written: the file that holds the credentials (itself, or the target
    of the symlink it is) and what was written, so that a stop clears only that file, and
    only while it still holds that text."""

    holder: Path
    through_link: bool
    text: str


def write_env_file(path: Path, environ: dict[str, str]) -> EnvFile:
    """`export NAME=value` lines, readable by the owner only (they hold sandbox secrets),
    after one that unsets what a real tenant's shell may hold and the sandbox does not set
    (:data:`REAL_ONLY`): a ready token there was sent to the sandbox's Graph, and refused.

    Written whole or not at all (:func:`write_atomic`); a regular file left from before, of
    whatever mode, is made 0600 first, as write_atomic keeps an existing file's mode.
    """
    unset = [name for name in REAL_ONLY if name not in environ]
    lines = [f"unset {' '.join(unset)}"] if unset else []
    lines += [f"export {name}={_shell_quote(value)}" for name, value in sorted(environ.items())]
    try:
        if stat.S_ISREG(os.stat(path).st_mode):  # not a folder a symlink names: refused below
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass  # write_atomic makes a new file 0600
    except OSError as exc:
        raise EntrasyncError(
            f"cannot make {path} private: {exc.strerror or exc}",
            "remove it (the sandbox writes a new one) or pass another --dir",
        ) from None
    text = "\n".join(lines) + "\n"
    write_atomic(path, text)
    return EnvFile(path.resolve(), path.is_symlink(), text)


def clear_env_file(written: EnvFile) -> None:
    """What a stopped sandbox leaves of ``sandbox.env``: no credentials, and no file of the
    user's touched. The file written, while it holds what was written, is removed, or, written
    through a symlink, emptied with the link kept; anything else is left as it is (a FIFO, a
    file or folder the user put in its place)."""
    try:
        if not written.holder.is_file() or written.holder.read_text() != written.text:
            return
        if written.through_link:
            with written.holder.open("w"):  # emptied; the link to it is the user's
                pass
        else:
            written.holder.unlink()
    except OSError as exc:
        raise EntrasyncError(
            f"could not clear the sandbox's credentials from {written.holder}: "
            f"{exc.strerror or exc}",
            "remove the file by hand: the credentials in it stopped working with the sandbox",
        ) from None


@contextmanager
def sandbox_lock(directory: Path, command: str = "sandbox") -> Iterator[None]:
    """One sandbox or demo per folder: a second sandbox would overwrite the first's
    sandbox.env, then delete it on exit; a second demo would apply the first's plan.json.
    Raises at once, naming the running one, when the folder is taken."""
    try:
        fd = open_lock(directory / LOCK_NAME)
    except OSError as exc:
        raise EntrasyncError(
            f"cannot open the lock file {directory / LOCK_NAME}: {exc.strerror or exc}",
            "pass another --dir, or make the lock file a regular file you can write",
        ) from None

    def busy(holder: Holder) -> EntrasyncError:
        # The lock's file is in a folder others may write: only a command of its own is taken.
        said = holder.command if holder.command in ("sandbox", "demo") else None
        running = said or "sandbox or demo"
        # A sandbox runs until stopped (its sandbox.env comes once it runs); a demo writes none.
        # A holder that did not say (an older entrasync) is a sandbox if its file is there.
        if said == "sandbox" or (said is None and (directory / "sandbox.env").exists()):
            hint = (
                f"use it (`{source_command(directory / 'sandbox.env')}`, once it says it is "
                f"running), stop it with Ctrl-C first, or pass --dir to run a second {command} "
                "in another folder"
            )
        else:
            hint = f"wait for it to end, or pass --dir to run a second {command} in another folder"
        return EntrasyncError(
            f"another entrasync {running} is running in {directory} ({holder})", hint
        )

    with holding(
        fd,
        utc_now_ms(),
        busy=busy,
        failed=lambda exc: EntrasyncError(
            f"cannot lock the {command} folder {directory}: {exc.strerror or exc}",
            "pass a --dir on a local file system that supports flock",
        ),
        command=command,
    ):
        yield


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"

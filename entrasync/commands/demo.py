"""`entrasync demo` and `entrasync sandbox`: the whole loop on loopback, no credentials needed."""

from __future__ import annotations

import hashlib
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import chdir, contextmanager
from pathlib import Path

import click

from entrasync.adapters.files import make_folder, write_atomic
from entrasync.adapters.lockfile import require_flock
from entrasync.adapters.shell import pip_install
from entrasync.cli import main
from entrasync.commands import examples, folder
from entrasync.console import Console, app_context, config_option, output_options, reads_no_config
from entrasync.errors import EntrasyncError, ExitCode
from entrasync.gctune import collector_running
from entrasync.operations.stopping import (
    ending_as_ctrl_c,
    raise_if_stopped,
    stopped_by_step,
    wait_for_stop,
)


@contextmanager
def _sandbox_extra() -> Iterator[None]:
    """Turn a missing sandbox package into an ``error:`` naming the extra that installs it.

    The sandbox's servers (scim2-server, trustme) are an optional extra, so production
    installs do not carry them (README.md, "Try it").
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "entrasync").partition(".")[0] == "entrasync":
            raise  # one of our own modules is missing: a bug, not a missing extra
        raise EntrasyncError(
            f"the sandbox needs the Python package {exc.name!r}, which is not installed",
            f"add the sandbox extra's packages to entrasync's environment: {_extra_command()}",
        ) from exc


# pyproject.toml's `sandbox` extra, as written there (tests/unit/test_sandbox_extra.py).
SANDBOX_REQUIREMENTS = ("scim2-server>=0.8", "trustme>=1.1", "PyJWT>=2.8")


def _extra_command() -> str:
    """A pip command that adds the sandbox extra's packages to entrasync's environment."""
    return pip_install(*SANDBOX_REQUIREMENTS)


# In a folder the demo used: the sha256 of the mappings it wrote there, then of the draft init
# wrote and of its plan.json. A later demo may write over its files only while they are as it
# left them.
DEMO_MARKER = ".entrasync-demo"
DEMO_MAPPINGS = Path("config", "mappings.yaml")
DEMO_DRAFT = Path("config", "drafted.yaml")
DEMO_PLAN = Path("plan.json")


def _claim(directory: Path) -> None:
    """Refuse a --dir the demo would take from someone: one holding files it did not make,
    or whose mappings or draft were edited since the demo wrote them (`sandbox` says "edit
    them freely", the demo says to review the draft), or that a sandbox is using."""
    from entrasync.sandbox.runner import LOCK_NAME  # the sandbox extra, checked by the command

    try:
        if not directory.is_dir() or all(p.name == LOCK_NAME for p in directory.iterdir()):
            return
        marker, mappings = directory / DEMO_MARKER, directory / DEMO_MAPPINGS
        draft, plan = directory / DEMO_DRAFT, directory / DEMO_PLAN
        written = _marked(marker)
        output: Path | None = None  # a file the demo writes whose hash the marker lacks
        if written is None:
            why = "holds files the demo did not make"
        elif (directory / "sandbox.env").exists() or mappings.parent.is_symlink():
            why = "is an `entrasync sandbox` folder, or its config/ is a link"
        elif mappings.exists() and [_sha256(mappings.read_bytes())] != written[:1]:
            why = f"has its {DEMO_MAPPINGS} edited since the demo wrote it"
        elif draft.exists() and len(written) > 1 and _sha256(draft.read_bytes()) != written[1]:
            why, output = f"has its {DEMO_DRAFT} edited since the demo wrote it", DEMO_DRAFT
        elif plan.exists() and len(written) > 2 and _sha256(plan.read_bytes()) != written[2]:
            why, output = f"has its {DEMO_PLAN} changed since the demo wrote it", DEMO_PLAN
        else:
            return
    except OSError as exc:
        raise EntrasyncError(
            f"cannot use {directory}: {exc.strerror or exc}", "pass a new or empty folder to --dir"
        ) from None
    # A demo killed outright (SIGKILL) after a step wrote the file, before it was marked,
    # leaves one nobody changed: only the user can tell.
    killed = (
        f", or, if you did not change it (a demo killed just after writing it), delete "
        f"{(directory / output).as_posix()} and run again"
        if output is not None
        else ""
    )
    raise EntrasyncError(
        f"{directory} {why}: the demo writes its own config/, plan.json and audit/ there",
        f"pass a new or empty folder to --dir{killed}",
    )


def _mark(work: Path, mappings_sha256: str) -> None:
    """Write the folder's marker: the hashes :func:`_claim` checks, in its order: the demo's
    mappings, then its draft and its plan as they are now ("-": none, so any file there later
    is someone else's)."""
    hashes = [mappings_sha256]
    for path in (work / DEMO_DRAFT, work / DEMO_PLAN):
        try:
            hashes.append(_sha256(path.read_bytes()))
        except OSError:  # none, or none the demo could have written
            hashes.append("-")
    write_atomic(work / DEMO_MARKER, "\n".join(hashes) + "\n")


def _marked(marker: Path) -> list[str] | None:
    """The hashes a demo's marker holds; None when there is no marker (or no demo's)."""
    if not marker.is_file():
        return None
    try:
        return marker.read_text(encoding="utf-8").split()
    except UnicodeDecodeError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _workdir(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        from entrasync.sandbox.runner import sandbox_lock

        _claim(directory)  # before the lock: a folder refused is left as it was
        make_folder(directory)
        with sandbox_lock(directory, "demo"):  # a second demo here stops now
            _claim(directory)  # as it is now that no other demo can change it
            yield directory.resolve()
        return
    tmp = Path(tempfile.mkdtemp(prefix="entrasync-demo-"))
    try:
        yield tmp
    finally:
        _despite_a_stop(lambda: shutil.rmtree(tmp, ignore_errors=True))


def _despite_a_stop(action: Callable[[], object]) -> None:
    """``action`` carried out whole: cut short by a stop signal, it is done again, then the
    stop goes on (a later signal is only noted, a Ctrl-C pressed again interrupts again)."""
    try:
        action()
    except BaseException:
        action()
        raise


def _step(console: Console, number: int, title: str, argv: Sequence[str]) -> int:
    console.result("")
    console.result(console.style(f"── {number}. {title}", bold=True))
    console.result(console.style("$ entrasync " + " ".join(argv), fg="cyan"))
    context = app_context()  # the demo's own output options, passed on to each step
    args = [*argv, *["-v"] * context.verbose, *["-q"] * context.quiet]
    if not console.color:
        args.append("--no-color")
    code = main(args)
    if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
        # The step was stopped by a signal and said so: the demo ends with its exit code, and
        # a runner's next signal (SIGINT, then SIGTERM) is only noted.
        stopped_by_step(signal.SIGINT if code == ExitCode.INTERRUPTED else signal.SIGTERM)
        raise click.exceptions.Exit(code)
    raise_if_stopped()  # the demo's own stop, should Python have dropped its exception
    return code


def _expect(code: int, wanted: int, what: str) -> None:
    if code != wanted:
        raise EntrasyncError(
            f"the demo stopped: `{what}` exited {code} (expected {wanted})",
            "the error above says why; unless it names this machine's setup (a proxy, a CA "
            "bundle, a folder), run `entrasync demo -v` and report its output as a bug",
        )


def _steps(console: Console, work: Path, mappings_sha256: str) -> None:
    """The demo's seven commands, run in ``work`` on the sandbox."""
    _expect(_step(console, 1, "Check the mappings", ["validate"]), 0, "validate")
    _expect(
        _step(console, 2, "Plan: what would change", ["plan", "--out", str(DEMO_PLAN)]),
        0,
        "plan",
    )
    _mark(work, mappings_sha256)  # its plan, kept should the process be killed from here on
    before = set((work / "audit").glob("*.jsonl"))  # a folder reused: its own stay
    _expect(
        _step(
            console,
            3,
            "Apply exactly the reviewed plan",
            ["apply", str(DEMO_PLAN), "--audit-dir", "audit"],
        ),
        0,
        "apply",
    )
    _expect(
        _step(console, 4, "Plan again: in sync", ["plan", "--detailed-exitcode"]),
        0,
        "plan --detailed-exitcode",
    )
    written = sorted(set((work / "audit").glob("*.jsonl")) - before)
    if len(written) != 1:
        raise EntrasyncError(
            f"the demo's apply wrote {len(written)} audit files, not one", "report this bug"
        )
    audit_file = written[0].relative_to(work)
    _expect(
        _step(console, 5, "Verify the audit trail", ["audit", "verify", str(audit_file)]),
        0,
        "audit verify",
    )
    _expect(_step(console, 6, "Who has access now", ["users"]), 0, "users")
    # The draft of a previous demo in this --dir is the demo's own (_claim checked):
    # init never writes over a file without --force, which the demo does not teach.
    (work / DEMO_DRAFT).unlink(missing_ok=True)
    _expect(
        _step(
            console,
            7,
            "Starting from a tenant of your own: draft mappings from what exists",
            ["init", "NT-", "--out", DEMO_DRAFT.as_posix()],
        ),
        0,
        "init",
    )


@click.command(
    "demo", epilog=examples("entrasync demo", "entrasync demo --dir /tmp/entrasync-demo")
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    callback=folder,
    help="Keep the demo's config, plan and audit files here (default: a temporary folder).",
)
@output_options
@reads_no_config
def demo(directory: Path | None) -> int:
    """Run validate, plan, apply, plan, audit verify, users and init on the built-in sandbox."""
    require_flock()  # the demo's apply takes the apply lock; first, as no extra would help
    with _sandbox_extra():
        from entrasync.sandbox.runner import (
            running_sandbox,
            sandbox_environment,
            write_workspace,
        )

    console = app_context().console()
    started = time.monotonic()
    with _workdir(directory) as work, running_sandbox() as sandbox:
        (work / DEMO_MAPPINGS).unlink(missing_ok=True)  # the demo's own, as _claim checked
        # Before the files it claims: a demo stopped in between leaves a folder it takes again.
        # The draft and the plan there are the demo's (_claim checked them), and keep their
        # hashes until a step writes them anew: a demo that stops before then must not leave
        # an edited file for the next one to write over.
        mappings_sha256 = _sha256(sandbox.config_yaml.encode())
        _mark(work, mappings_sha256)
        write_workspace(work, sandbox.config_yaml)
        console.result(console.style("entrasync demo", bold=True))
        console.result(
            f"An emulated Entra tenant answers at {sandbox.graph.base_url} (Microsoft Graph and "
            f"the token endpoint) and a real SCIM 2.0 server (scim2-server) at {sandbox.scim.url}, "
            "both on loopback. Credentials are throwaway; nothing leaves this machine."
        )
        console.result(f"Working folder: {work}")
        with sandbox_environment(sandbox.environ), chdir(work):
            try:
                _steps(console, work, mappings_sha256)
            finally:
                # The plan and draft as this run leaves them, stopped or not, are its own.
                _despite_a_stop(lambda: _mark(work, mappings_sha256))
        elapsed = time.monotonic() - started
        console.result("")
        console.result(console.style("What happened", bold=True))
        console.result(
            "  - `plan` read the groups from Graph and the users from SCIM and showed the diff:\n"
            "    creates for new group members, an adoption of a user made by hand in\n"
            "    NeuralTrust, a role change, and a deactivation for someone who left the groups.\n"
            "  - `apply plan.json` executed exactly that plan after checking nothing changed\n"
            "    since, and wrote a hash-chained audit file; `audit verify` checked the chain.\n"
            "  - The second `plan` found nothing to do (exit 0 under --detailed-exitcode).\n"
            "  - `init` read the same groups and users and drafted mappings that reproduce\n"
            "    them: a first mappings file for a tenant that already uses NeuralTrust (the\n"
            "    `plan` it suggests needs a tenant that runs: this one stops with the demo).\n"
            f"  Took {elapsed:.1f} s. Next: `entrasync sandbox` to try your own mappings against\n"
            '  this tenant, or "Use it on your tenant, read-only first" in the entrasync\n'
            "  repository's README.md."
        )
        if directory is not None:
            console.result(f"  Files kept in {work} (config/, plan.json, audit/).")
        else:
            # init's own line above names config/drafted.yaml: it was in the demo's folder.
            console.result(
                "  The demo's folder (its config/drafted.yaml, plan.json and audit/) is removed;\n"
                "  `entrasync demo --dir DIR` keeps them."
            )
    return ExitCode.OK


@click.command(
    "sandbox",
    epilog=examples(
        "entrasync sandbox                      # then, in another shell:",
        "source entrasync-sandbox/sandbox.env && entrasync plan",
    ),
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default="entrasync-sandbox",
    callback=folder,
    show_default=True,
    help="Where to keep the demo mappings (config/), the schema and the environment file.",
)
@config_option(
    "Mappings file to serve, created from the demo mappings if missing [default: "
    "DIR/config/mappings.yaml; ENTRASYNC_CONFIG is not read]."
)
@output_options
def sandbox(directory: Path) -> int:
    """Keep the sandbox running and write the environment that points plan/apply at it."""
    require_flock()  # first, as no extra would help
    with _sandbox_extra():
        from entrasync.sandbox.runner import (
            EnvFile,
            clear_env_file,
            running_sandbox,
            sandbox_lock,
            source_command,
            write_env_file,
            write_workspace,
        )

    ctx = app_context()
    console = ctx.console()
    make_folder(directory)
    env_file = directory / "sandbox.env"
    with sandbox_lock(directory):  # a second sandbox here stops now, before touching anything
        written: EnvFile | None = None
        try:
            with collector_running(), ending_as_ctrl_c(), running_sandbox() as running:
                config = write_workspace(
                    directory, running.config_yaml, ctx.config_path, console.warn
                )
                environ = {**running.environ, "ENTRASYNC_CONFIG": str(config.resolve())}
                written = write_env_file(env_file, environ)
                console.result(console.style("entrasync sandbox is running", bold=True))
                console.result(f"  Entra (Graph) emulator: {running.graph.base_url}")
                console.result(f"  SCIM server:            {running.scim.url}")
                console.result(f"  Mappings:               {config}  (edit them freely)")
                console.result("")
                console.result("In another shell:")
                console.result(
                    f"  {source_command(env_file)}     # sandbox-only credentials, mode 0600"
                )
                console.result("  entrasync plan")
                console.result("  entrasync apply --auto-approve")
                console.result("")
                console.result("Press Ctrl-C to stop.")
                wait_for_stop()
        except KeyboardInterrupt:
            console.last_result("\nsandbox stopped")
        finally:
            # Its credentials died with the servers; a stale file would only mislead. The
            # folder's lock kept any other sandbox from writing it meanwhile.
            if written is not None:
                try:
                    clear_env_file(written)
                except EntrasyncError as exc:
                    console.warn(f"{exc.message}; {exc.hint}")
    return ExitCode.OK

"""The command line: parse, build the pieces, call the core, and map every error to an exit code.

This module is the one error boundary. Expected failures (:class:`EntrasyncError`) print
``error:`` and a hint and exit 1; usage errors exit 1 too (2 is reserved for "changes present"
under ``--detailed-exitcode``); Ctrl-C exits 130, SIGTERM and SIGHUP 143
(``entrasync.operations.stopping``); anything else prints a traceback and the version,
because it is a bug.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import click

from entrasync import __version__
from entrasync.commands import apply, audit, demo, github_cmd, groups, plan, users, validate
from entrasync.console import AppContext, configure_logging, global_options
from entrasync.core import sanitize
from entrasync.errors import ConfigError, EntrasyncError
from entrasync.gctune import exit_now, fewer_collections, release_kept
from entrasync.operations.stopping import Stopped, signals_interrupt

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="entrasync")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Keep NeuralTrust users in line with Microsoft Entra ID groups, the GitOps way."""
    ctx.ensure_object(AppContext)


for _module in (validate, plan, apply, users, groups, audit, demo, github_cmd):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def _print_error(exc: EntrasyncError) -> None:
    # Messages quote names from Entra, NeuralTrust and the config: each line is made inert
    # (no control, bidi or workflow command), keeping the line breaks the message is built with.
    click.echo(f"error: {sanitize.lines(exc.message)}", file=sys.stderr)
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(f"  {sanitize.lines(problem)}", file=sys.stderr)
    if exc.hint:
        click.echo(f"hint: {sanitize.lines(exc.hint)}", file=sys.stderr)


def run() -> NoReturn:
    """The ``entrasync`` program: :func:`main`, then an exit that frees nothing one by one."""
    exit_now(main())


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = sum(a.count("v") for a in args if a.startswith("-v") and set(a[1:]) == {"v"})
    verbose += args.count("--verbose")
    configure_logging(verbose)
    release_kept()  # the values an earlier command in this process kept
    try:
        with fewer_collections(), signals_interrupt():
            result = cli.main(args=args, prog_name="entrasync", standalone_mode=False)
    except EntrasyncError as exc:
        _print_error(exc)
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except (click.Abort, KeyboardInterrupt):
        click.echo("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Stopped as exc:
        click.echo(
            "\ninterrupted" if exc.exit_code == EXIT_INTERRUPTED else f"\nstopped by {exc.name}",
            file=sys.stderr,
        )
        return exc.exit_code
    except Exception:
        traceback.print_exc()
        click.echo(
            f"entrasync {__version__} hit an unexpected error (a bug): please report it "
            "with the traceback above",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else EXIT_OK

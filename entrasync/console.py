"""Output for humans: results on stdout, messages on stderr, colour and progress on a terminal only.

Global options (``--config``, ``-v``, ``-q``, ``--no-color``) are accepted before or after the
command; :func:`global_options` adds them to every command and they land in :class:`AppContext`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

import click

from entrasync.adapters.pool import DEFAULT_PARALLELISM
from entrasync.config import DEFAULT_CONFIG
from entrasync.core import sanitize
from entrasync.core.redact import WITHHELD, redact

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    config_path: Path | None = None
    verbose: int = 0
    quiet: bool = False
    no_color: bool = False

    @property
    def config_given(self) -> bool:
        """Whether --config or ENTRASYNC_CONFIG names the file (set but empty names none)."""
        return self.config_path is not None or bool(os.environ.get("ENTRASYNC_CONFIG"))

    @property
    def resolved_config_path(self) -> Path:
        if self.config_path is not None:
            return self.config_path
        return Path(os.environ.get("ENTRASYNC_CONFIG") or DEFAULT_CONFIG)

    @property
    def config_name(self) -> str:
        """The mappings file as plan files, audit records and comment markers name it, as
        ``load_config`` does: ``/`` separators, bytes that are not UTF-8 escaped."""
        return sanitize.file_name(self.resolved_config_path.as_posix())

    def console(self) -> Console:
        return Console(quiet=self.quiet, verbose=self.verbose, no_color=self.no_color)


def refuse_empty(param: click.Parameter, value: str, what: str) -> None:
    """A path set empty (an unset CI variable) would name the working folder."""
    if not value.strip():
        hint = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        raise click.BadParameter(f"is empty: name {what}", param_hint=hint)


def refuse_folder_name(param: click.Parameter, value: str, what: str) -> None:
    """A file's path ending in a separator, `.` or `..` names a folder: Path() would drop the
    end, and `--out drafts/` (or `drafts/.`) would write a file called drafts."""
    last = os.path.basename(value.replace(os.altsep, os.sep) if os.altsep else value)
    if last in ("", ".", ".."):
        hint = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        raise click.BadParameter(
            f"{value} names a folder, not a file: name {what} in it", param_hint=hint
        )


def path_value(what: str = "a file") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """The callback of a path option or argument typed ``click.Path()`` without ``path_type``
    (so that "" is not yet "."): refused when empty, else a Path (one per value of an
    ``nargs=-1`` argument)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(callback(ctx, param, one) for one in value)
        refuse_empty(param, value, what)
        if isinstance(param.type, click.Path) and not param.type.dir_okay:
            refuse_folder_name(param, value, what)
        return Path(value)

    return callback


_file = path_value()


def _set_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    path = _file(ctx, param, value)
    if path is not None:
        ctx.ensure_object(AppContext).config_path = path


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        ctx.ensure_object(AppContext).verbose += value


def _set_flag(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            setattr(ctx.ensure_object(AppContext), name, True)

    return callback


def config_option(help_text: str) -> Callable[[F], F]:
    """``--config FILE``, read through the app context (``ctx.config_path``)."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, readable=False),
        callback=_set_config,
        expose_value=False,
        help=help_text,
    )


_CONFIG_OPTION = config_option(
    "Mappings file [env ENTRASYNC_CONFIG; default config/mappings.yaml]."
)
_OUTPUT_OPTIONS = (
    click.option(
        "-v",
        "--verbose",
        count=True,
        callback=_set_verbose,
        expose_value=False,
        help="More detail (repeat for debug logs).",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        callback=_set_flag("quiet"),
        expose_value=False,
        help="Only results, warnings and errors.",
    ),
    click.option(
        "--no-color",
        is_flag=True,
        callback=_set_flag("no_color"),
        expose_value=False,
        help="No ANSI colour (also: NO_COLOR env).",
    ),
)


def output_options(func: F) -> F:
    """``-v``, ``-q`` and ``--no-color``: on every command, before or after its name."""
    for option in reversed(_OUTPUT_OPTIONS):
        func = option(func)
    return func


def reads_no_config(func: F) -> F:
    """On a command that reads no mappings file (it offers no ``--config``): a ``--config``
    given before its name, on the group, is accepted as a global option is, and said to do
    nothing rather than silently ignored."""

    @functools.wraps(func)
    def warning(*args: Any, **kwargs: Any) -> Any:
        context = app_context()
        if context.config_path is not None:
            command = click.get_current_context().command_path
            context.console().warn(f"--config is ignored: `{command}` reads no mappings file")
        return func(*args, **kwargs)

    return cast(F, warning)


def global_options(func: F) -> F:
    """The output options and ``--config``, on the group and every command that reads the
    mappings file (commands that do not, such as ``audit verify``, offer no ``--config``)."""
    return _CONFIG_OPTION(output_options(func))


def parallelism_option(help_text: str = "Concurrent requests to each API.") -> Callable[[F], F]:
    """``--parallelism N``: how many requests run at once against each API (bounded)."""

    return click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=DEFAULT_PARALLELISM,
        show_default=True,
        help=help_text,
    )


def trusted_config_option() -> Callable[[F], F]:
    """``--trusted-config FILE``: where credentials go comes from FILE (or the environment),
    never from the config under review (entrasync.config.routing)."""
    return click.option(
        "--trusted-config",
        type=click.Path(dir_okay=False, readable=False),
        callback=_file,
        default=None,
        help="The reviewed config (e.g. the base branch's): the keys that decide where "
        "credentials are sent come from the environment or FILE only; a config that changes "
        "them is refused before any connection.",
    )


def app_context() -> AppContext:
    return click.get_current_context().ensure_object(AppContext)


class Console:
    def __init__(
        self,
        quiet: bool = False,
        verbose: int = 0,
        no_color: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        dumb = os.environ.get("TERM") == "dumb"  # shows escapes as text (an Emacs shell buffer)
        # https://no-color.org: set and not empty
        self.color = not (no_color or dumb or os.environ.get("NO_COLOR")) and _isatty(self.out)
        in_ci = os.environ.get("CI", "").lower() == "true"
        self.interactive = not (dumb or in_ci) and _isatty(self.err)

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def result(self, text: str = "") -> None:
        """A command's result (stdout), printed even with --quiet, ending in one newline."""
        with own_line():
            click.echo(text.rstrip("\n"), file=self.out, color=self.color)

    def last_result(self, text: str) -> None:
        """:meth:`result` for a command's last words, which may find no one to read them (a
        terminal closed, which is what stopped it): then they are not said. The failed flush
        drops what it held, so the interpreter's own flush at exit does not fail again."""
        with contextlib.suppress(OSError):
            self.result(text)

    def result_lines(self, lines: Iterable[str], *, data: bool = False) -> None:
        """A long result written as it is produced, each piece whole lines ending in a newline:
        a 1,000,000-user plan (250 MB of text) is never one string (benchmarks/README.md).

        ``data``: read by programs (JSON, CSV), so written in UTF-8 whatever the stream's
        encoding, as the files these formats save are: on a cp1252 or ASCII stdout, a name
        with an accent became an escape no JSON reader takes."""
        pieces = iter(lines)
        buffer = getattr(self.out, "buffer", None) if data else None
        encoding = (getattr(self.out, "encoding", None) or "").lower().replace("-", "")
        with own_line():
            if buffer is None or encoding == "utf8":
                while batch := list(islice(pieces, 1000)):
                    click.echo("".join(batch), file=self.out, color=self.color, nl=False)
                return
            self.out.flush()
            while batch := list(islice(pieces, 1000)):
                buffer.write("".join(batch).encode("utf-8"))
            buffer.flush()

    # Messages (info, detail, warn, progress) interpolate names from Entra, NeuralTrust and the
    # config, which their callers put through sanitize.text; every line is put through it
    # again here, the last defence (docs/safety.md). Results are rendered output whose
    # fields the renderers sanitised, and may be coloured: they are written as they are.

    def info(self, text: str) -> None:
        if not self.quiet:
            with own_line():
                color = self.color and _isatty(self.err)
                click.echo(sanitize.lines(text), file=self.err, color=color)

    def detail(self, text: str) -> None:
        if self.verbose and not self.quiet:
            with own_line():
                click.echo(sanitize.lines(text), file=self.err)

    def warn(self, text: str) -> None:
        # Coloured where stderr is a terminal: `2>warnings.log` keeps no escape codes. One line
        # always: a warning quoting a name whose line break was kept wrote a line of its own.
        color = self.color and _isatty(self.err)
        prefix = click.style("warning:", fg="yellow", bold=True) if color else "warning:"
        with own_line():
            click.echo(f"{prefix} {sanitize.text(text)}", file=self.err, color=color)

    def progress(self, text: str) -> None:
        """Transient progress: shown on an interactive terminal only, silent in CI logs.

        One line, always: a line break or carriage return in it would leave lines behind, and
        so would a line the terminal wraps (the clear reaches its last row only). Any other
        line written while it shows clears it first (:func:`own_line`)."""
        if self.interactive and not self.quiet:
            shown = sanitize.text(text)
            width = _columns(self.err)
            with _progress.lock:  # readers and apply's writers report from their threads
                click.echo(
                    f"\r\033[K{_cut(shown, width - 1) if width else shown}",
                    file=self.err,
                    nl=False,
                )
                _progress.showing = self.err

    def progress_done(self) -> None:
        with own_line():
            pass


class _Progress:
    # Reentrant: a signal handler runs in the main thread, which may hold it.
    lock = threading.RLock()
    showing: TextIO | None = None  # the terminal a progress line shows on now


_progress = _Progress()


@contextlib.contextmanager
def own_line() -> Iterator[None]:
    """Hold the terminal while a line (or a result) is written: the progress line, if one
    shows, is cleared first, and none is drawn until the writing is done. Written after it,
    an error, a warning or a log line started in its middle."""
    with _progress.lock:
        showing, _progress.showing = _progress.showing, None
        if showing is not None:
            with contextlib.suppress(OSError, ValueError):  # a terminal closed meanwhile
                click.echo("\r\033[K", file=showing, nl=False)
        yield


def _cut(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` terminal columns, an East Asian wide or fullwidth character
    taking two: cut to as many characters, a line of them wrapped, and its clear reached the
    last row only."""
    if text.isascii():
        return text[:columns]
    used = 0
    for position, character in enumerate(text):
        used += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
        if used > columns:
            return text[:position]
    return text


def _columns(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to (``COLUMNS`` first, as shutil reads
    it); None when unknown: stdout's may be another's, or a file's."""
    try:
        said = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        said = 0
    if said > 0:
        return said
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def masked_traceback(exc: BaseException | None) -> str:
    """``exc``'s traceback, masked as every message is: an exception's text may quote what a
    server sent back, which may echo the credential it was sent. Where one is there in another
    form (all of it would be withheld), the frames and types stay and each message goes."""
    masked = redact("".join(traceback.format_exception(exc)))
    if masked != WITHHELD or exc is None:
        return masked
    chain: list[BaseException] = []
    part: BaseException | None = exc
    while part is not None and all(part is not seen for seen in chain):  # a cycle ends it
        chain.append(part)
        part = part.__cause__ or (None if part.__suppress_context__ else part.__context__)
    lines = []
    for part in reversed(chain):
        lines.append("Traceback (most recent call last):")
        frames = traceback.extract_tb(part.__traceback__)
        lines += (f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames)
        lines.append(f"{type(part).__qualname__}: {WITHHELD}")
    return "\n".join(lines) + "\n"


class InertFormatter(logging.Formatter):
    """Log lines at ``-v`` carry names and URLs read from the directory, and what servers
    said: printed inert too, and without any credential. The message and the traceback are
    masked apart, so a credential in another form withholds only the one it is in."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        parts = [redact(self.formatMessage(record))]
        # Made here, never taken from record.exc_text: another handler may have cached it
        # unmasked.
        if record.exc_info:
            parts.append(masked_traceback(record.exc_info[1]).rstrip("\n"))
        elif record.exc_text:
            parts.append(redact(record.exc_text))
        if record.stack_info:
            parts.append(redact(self.formatStack(record.stack_info)))
        return sanitize.lines("\n".join(parts))


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines to a stream, each on a line of its own (:func:`own_line`)."""

    def emit(self, record: logging.LogRecord) -> None:
        with own_line():
            super().emit(record)


def configure_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    handler = LogHandler(sys.stderr)
    handler.setFormatter(InertFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs full URLs at INFO; keep them at -vv only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    # msal's OAuth client logs a token answer that is not JSON whole, at ERROR: a proxy's page
    # can echo the form it was sent, client_secret included. entrasync says what happened.
    logging.getLogger("msal.oauth2cli").setLevel(logging.CRITICAL)
    # msal's debug lines show a token answer's fields it does not know, whatever they hold.
    logging.getLogger("msal").setLevel(max(level, logging.INFO))
    # httpcore's debug trace holds every answer's headers as sent: a proxy's Set-Cookie, or a
    # Proxy-Authorization echoed back (base64, which no redaction can tell). Never shown.
    logging.getLogger("httpcore").setLevel(logging.INFO)
    # urllib3 (under msal) warns of each retry of a connection it could not make, before
    # entrasync's own error says which authority it could not reach: at -vv only.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose >= 2 else logging.ERROR)
    # The sandbox's SCIM server logs each answer it fails with a traceback: a stop landing as
    # it adds its seed users printed one among the demo's lines. Its 500 says enough.
    logging.getLogger("scim2_server").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)

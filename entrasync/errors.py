"""The one exception family the CLI's error boundary knows.

Every expected failure is an :class:`EntrasyncError` carrying what happened and what to do
about it. The CLI prints ``error: <message>`` and ``hint: <hint>`` and exits 1; anything
else is a bug and gets a traceback with the version.
"""

from __future__ import annotations

from enum import IntEnum

from entrasync.core.redact import redact


class ExitCode(IntEnum):
    """Every exit status the ``entrasync`` program uses (docs/commands.md, "Exit codes")."""

    OK = 0
    ERROR = 1  # any error: config, credentials, API, safety, a stale plan, a failed change
    CHANGES = 2  # changes present, only under ``plan --detailed-exitcode``
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM or SIGHUP: a runner or a closed terminal ended the job


class EntrasyncError(Exception):
    """An expected failure, with a message for humans and a hint of what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        # What a server said goes into many messages: none may carry a credential it echoed.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else redact(hint)

    def __str__(self) -> str:
        return self.message


class SeveralErrors(EntrasyncError):
    """Expected failures found together (one per mapping, say), each printed as its own
    ``error:`` and ``hint:`` lines, in order; one told in the same lines as an earlier one (a
    setting both connections read) is told once."""

    def __init__(self, errors: tuple[EntrasyncError, ...]) -> None:
        super().__init__(errors[-1].message, errors[-1].hint)
        told: dict[tuple[str, ...], EntrasyncError] = {}
        for error in errors:
            told.setdefault(tuple(error_lines(error)), error)
        self.errors = tuple(told.values())


def error_lines(exc: EntrasyncError) -> list[str]:
    """The lines an error is told in, as the command line prints them: ``error:`` (each of
    several errors in turn), a config error's problems indented, then ``hint:``."""
    if isinstance(exc, SeveralErrors):
        return [line for each in exc.errors for line in error_lines(each)]
    lines = [f"error: {exc.message}"]
    if isinstance(exc, ConfigError):
        lines += [f"  {problem}" for problem in exc.problems]
    if exc.hint:
        lines.append(f"hint: {exc.hint}")
    return lines


def output_refused(exc: OSError) -> EntrasyncError:
    """The error of an output whose device refused it (a full disk under a redirect)."""
    return EntrasyncError(
        f"could not write the output: {exc.strerror or exc}",
        "free space where the output goes, or send it elsewhere, then run again",
    )


class ConfigError(EntrasyncError):
    """The mappings file is missing, unreadable or invalid.

    ``problems`` lists every problem found (``file:line:col: key.path: what``), not just the
    first; ``message`` summarises them.
    """

    def __init__(
        self, message: str, hint: str | None = None, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint)
        self.problems = problems


class AuthError(EntrasyncError):
    """A credential is missing, wrong, expired or lacks a permission."""


class GraphError(EntrasyncError):
    """Microsoft Graph answered with an error, or a group could not be resolved."""


class ScimError(EntrasyncError):
    """The NeuralTrust SCIM endpoint answered with an error."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.request_id = request_id
        # The status of an earlier attempt of this write (a 5xx after which it may have been
        # carried out) when this error answered its retry (adapters/http.py, answered_after).
        self.after: int | None = None


class PlanFileError(EntrasyncError):
    """A plan file is unreadable, of an unknown version, or its digest does not match."""


class StalePlanError(EntrasyncError):
    """The NeuralTrust state changed since the plan was made."""


class SafetyError(EntrasyncError):
    """The plan breaks a safety limit and no override names it."""


class ApplyError(EntrasyncError):
    """One or more changes failed during apply."""


class ReviewError(EntrasyncError):
    """Posting to the review platform (GitHub, GitLab, Azure DevOps) failed or was refused."""


class GitHubError(ReviewError):
    """Posting to GitHub (PR comment, labels, issue) failed; ``status`` and ``answer`` are
    GitHub's HTTP status and error message when it answered with an error."""

    def __init__(
        self, message: str, hint: str | None = None, status: int | None = None, answer: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.answer = answer


class AuditError(EntrasyncError):
    """An audit file's hash chain is broken or the run it records is incomplete."""

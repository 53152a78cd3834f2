"""The GitHub Actions runner's files and variables: the job summary, step outputs, the event
payload and the run's URL (https://docs.github.com/en/actions/reference/workflows-and-actions/variables).

Nothing here talks to the GitHub API (that is :mod:`entrasync.adapters.github.rest`): these are
the files the runner hands a step, and the variables that describe the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from entrasync.errors import GitHubError
from entrasync.render.truncate import STEP_SUMMARY_LIMIT as STEP_SUMMARY_LIMIT


def run_url(environ: Mapping[str, str]) -> str | None:
    """The URL of this workflow run and attempt (None outside GitHub Actions)."""
    server, repo, run_id = (
        environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if not (server and repo and run_id):
        return None
    url = f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    attempt = environ.get("GITHUB_RUN_ATTEMPT")
    return f"{url}/attempts/{attempt}" if attempt else url


def workflow_name(environ: Mapping[str, str]) -> str | None:
    """The running workflow's name, when running in GitHub Actions."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return None
    return environ.get("GITHUB_WORKFLOW") or None


def _event(event_path: str | None) -> object:
    """The event payload file's JSON."""
    if not event_path:
        raise GitHubError(
            "GITHUB_EVENT_PATH is not set, so the pull request number is unknown",
            "use --comment only in a pull_request or pull_request_target workflow",
        )
    try:
        return json.loads(Path(event_path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GitHubError(
            f"cannot read the event payload {event_path}: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise GitHubError(f"cannot read the event payload {event_path}: {exc}") from None


def pull_request_head(event_path: str | None) -> str:
    """``pull_request.head.sha`` from the event payload file ("" when it has none)."""
    event = _event(event_path)
    pull = event.get("pull_request") if isinstance(event, dict) else None
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else ""


def pull_request_number(event_path: str | None) -> int:
    """``pull_request.number`` (or ``issue.number``) from the event payload file."""
    event = _event(event_path)
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number") if isinstance(event, dict) else None
        if isinstance(number, int):
            return number
    raise GitHubError(
        "the workflow event has no pull request number",
        "use --comment only in a pull_request or pull_request_target workflow",
    )


def append_outputs(lines: str, environ: Mapping[str, str]) -> None:
    """Append ``key=value`` lines to ``$GITHUB_OUTPUT`` when set."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(lines)
    except OSError as exc:
        raise GitHubError(
            f"cannot write the step outputs GITHUB_OUTPUT={path}: {exc.strerror or exc}",
            "GitHub Actions sets GITHUB_OUTPUT to a writable file; outside Actions, unset it",
        ) from None


def step_summary_room(environ: Mapping[str, str]) -> int | None:
    """The bytes this step's ``$GITHUB_STEP_SUMMARY`` still holds (earlier output counts);
    None outside Actions. What goes there is cut to fit first (``render.truncate.fit``)."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    return max(0, STEP_SUMMARY_LIMIT - used)


def append_step_summary(text: str, environ: Mapping[str, str]) -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY``; False if unset. Text past its 1 MiB per-step limit,
    which would make GitHub drop the whole summary, is refused whole."""
    room = step_summary_room(environ)
    if room is None:
        return False
    path = environ["GITHUB_STEP_SUMMARY"]
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    if len(data) > room:
        raise GitHubError(
            f"the job summary has room for {room:,} more bytes, not the {len(data):,} of this "
            "text (GitHub drops a step's whole summary past 1 MiB)",
            "the job log holds the same text",
        )
    try:
        with open(path, "ab") as handle:
            handle.write(data)
    except OSError as exc:
        raise GitHubError(
            f"cannot write the job summary GITHUB_STEP_SUMMARY={path}: {exc.strerror or exc}",
            "GitHub Actions sets GITHUB_STEP_SUMMARY to a writable file; outside Actions, unset it",
        ) from None
    return True


def try_step_summary(text: str, environ: Mapping[str, str], warn: Callable[[str], None]) -> bool:
    """:func:`append_step_summary`, where a failure is a warning: the summary is a courtesy."""
    try:
        return append_step_summary(text, environ)
    except GitHubError as exc:
        warn(f"{exc.message} (the job summary was not written)")
        return False

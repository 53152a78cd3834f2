"""GitHub REST: the sticky PR comment, labels, the drift issue, merged pull requests, artifacts.

PR comments are issue comments (https://docs.github.com/en/rest/issues/comments). One comment
per marker: list every comment (following ``Link: rel="next"``), edit the one carrying the
marker, post only when there is none. PR labels are issue labels
(https://docs.github.com/en/rest/issues/labels). :class:`GitHubPlatform` is GitHub's
:class:`entrasync.adapters.review.ReviewPlatform`. Retries go through
:func:`entrasync.adapters.http.send`; ``GITHUB_API_URL`` points at GitHub Enterprise Server
when set. The runner's own files (job summary, step outputs, event payload) are
:mod:`entrasync.adapters.github.actions`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx

from entrasync.adapters.github.actions import pull_request_head, pull_request_number, run_url
from entrasync.adapters.http import error_detail, require_safe_url, server_text
from entrasync.adapters.review import (
    all_own,
    check_length,
    commit_id,
    ensure_marker,
    item_id,
    keep_one,
    member,
    relabel,
    text_of,
)
from entrasync.adapters.review.client import RestClient, fallback_hint
from entrasync.adapters.urls import parsed_url
from entrasync.core.secret import Secret, bearer
from entrasync.errors import EntrasyncError, GitHubError
from entrasync.render.truncate import CHARACTERS, GITHUB_COMMENT_LIMIT

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
FULL_PLAN_HINT = "the job summary and the plan artifact of this workflow run"
_LISTING_ISSUES = "listing open issues"
# GitHub's message with the 403 that GET /user answers an installation token, such as the
# workflow's GITHUB_TOKEN (https://github.com/actions/create-github-app-token/issues/258).
_INTEGRATION_DENIED = "Resource not accessible by integration"


_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")  # owner/name, as GitHub names them


@dataclass(frozen=True)
class GitHubContext:
    api_url: httpx.URL
    token: Secret
    repository: str  # "owner/name"
    event_path: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHubContext:
        token = environ.get("GITHUB_TOKEN", "").strip()  # blank is not set
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set, so entrasync cannot post to GitHub",
                "pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env",
            )
        if not _REPOSITORY.fullmatch(repository) or {".", ".."} & set(repository.split("/")):
            raise GitHubError(
                f"GITHUB_REPOSITORY {repository!r} is not of the form owner/name",
                "run inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
            )
        raw_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        try:
            api_url = require_safe_url(raw_url, "the GitHub API URL (GITHUB_API_URL)")
        except EntrasyncError as exc:
            raise GitHubError(exc.message, exc.hint) from None
        return cls(
            api_url,
            bearer("GITHUB_TOKEN", token, GitHubError),
            repository,
            environ.get("GITHUB_EVENT_PATH") or None,
        )

    def pull_request_number(self) -> int:
        """``pull_request.number`` (or ``issue.number``) from the event payload."""
        return pull_request_number(self.event_path)


_HINTS = {
    401: "GITHUB_TOKEN is invalid or expired: pass `${{ github.token }}`",
    403: "the workflow job needs `permissions: pull-requests: write` (comments, labels) and "
    "`issues: write` (new labels, the drift issue); fork pull requests get a read-only token",
    404: "check GITHUB_REPOSITORY, the pull request number and GITHUB_API_URL (GitHub "
    "Enterprise Server: https://HOST/api/v3); a token without access also sees 404",
    422: "GitHub refused the content, as its message above says: a comment may hold at most "
    f"{GITHUB_COMMENT_LIMIT:,} characters, an issue or pull request at most 100 labels",
}


class GitHubClient(RestClient):
    """GitHub's REST API: bearer token, API version header, ``Link`` paging."""

    platform = "GitHub"
    api_variable = "GITHUB_API_URL"
    error = GitHubError
    # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api: a
    # secondary rate limit is a 403 or a 429, with Retry-After when GitHub says how long.
    refused_is_throttle = True

    def __init__(self, ctx: GitHubContext, *, http: httpx.Client | None = None) -> None:
        super().__init__(ctx.api_url, http=http)
        self.ctx = ctx

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.ctx.token.reveal()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def failure(self, response: httpx.Response, method: str, what: str) -> GitHubError:
        return _error(response, method, what)

    def repo_url(self, path: str) -> httpx.URL:
        return self.url(f"/repos/{self.ctx.repository}{path}")

    def paginate(
        self, url: httpx.URL, *, what: str, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link: rel="next"``.

        ``key`` names the list inside a wrapping object (``/actions/artifacts``).
        """
        next_url: httpx.URL | None = url
        followed: set[str] = set()
        while next_url is not None:
            self.follow(followed, str(next_url), what)
            response = self.request("GET", next_url, what=what)
            if key is None:
                yield from self.objects(self.read(response, list, what), what)
            else:
                yield from self.listed(self.read(response, dict, what), key, what)
            link = response.links.get("next", {}).get("url")
            next_url = parsed_url(link) if link else None
            if link and next_url is None:
                raise self.unexpected(
                    f"GitHub named a next page that is not a valid URL while {what}"
                )

    def is_own(self) -> Callable[[dict[str, Any]], bool]:
        """Whether a comment or an issue is the token's own, by the token's login: the one
        ``GET /user`` answers a personal token, else (an installation token, whose ``GET /user``
        is 403 "Resource not accessible by integration": the workflow's, ``github-actions[bot]``,
        or a GitHub App's, ``<app>[bot]``) GraphQL's ``viewer``. Another app's bot may carry the
        marker too, so no other bot's is taken. Any other failure is an error: taking the
        token's own comment for someone else's would post a second one on every run."""
        what = "reading the token's user"
        try:
            user = self.request_json("GET", self.url("/user"), dict, what=what)
        except GitHubError as exc:
            if (exc.status, exc.answer) != (403, _INTEGRATION_DENIED):
                raise  # a rate limit, an IP allow list, a 5xx, another answer: an error
            login = self._viewer_login()
        else:
            login = text_of(user.get("login"))
            if not login:
                raise self.unexpected(f"GitHub's answer while {what} has no login")
        return lambda item: member(item.get("user"), "login") == login

    def _viewer_login(self) -> str:
        """An installation token's login (``github-actions[bot]``, ``<app>[bot]``), as GraphQL's
        ``viewer`` names it: https://docs.github.com/en/graphql/reference/queries#viewer."""
        what = "reading the token's login (GraphQL viewer)"
        url = graphql_url(self.ctx.api_url)
        response = self.request("POST", url, what=what, json=_VIEWER, resend=True)
        answer = self.read(response, dict, what)
        login = text_of(member(member(answer.get("data"), "viewer"), "login"))
        if login:
            return login
        errors = answer.get("errors")  # GraphQL's errors come with status 200
        error = errors[0] if isinstance(errors, list) and errors else None
        if error is None:
            raise self.unexpected(f"GitHub's GraphQL API named no login while {what}")
        said = server_text(response, text_of(member(error, "message")), 200)
        limited = member(error, "type") == "RATE_LIMITED"
        raise GitHubError(
            f"GitHub's GraphQL API answered an error while {what}: {said}",
            _RATE_LIMITED
            if limited or response.headers.get("x-ratelimit-remaining") == "0"
            else "GitHub refused the query its message names; re-run the job, and if it says "
            "the same, check the token the step passes as GITHUB_TOKEN",
        )


_VIEWER = {"query": "query { viewer { login } }"}
_RATE_LIMITED = "the GitHub API rate limit is used up: wait for the reset and re-run the job"


def graphql_url(api_url: httpx.URL) -> httpx.URL:
    """GitHub's GraphQL endpoint beside its REST API: ``https://api.github.com/graphql``, or on
    GitHub Enterprise Server ``https://HOST/api/graphql`` beside ``https://HOST/api/v3``."""
    path = api_url.path.rstrip("/")
    base = path.removesuffix("/v3") if path.endswith("/api/v3") else path
    return api_url.copy_with(path=base + "/graphql", query=None)


# The permission a 403 lacks, by the endpoint: workflow runs and their artifacts (find-plan),
# a commit's pull requests (report-apply); comments, labels and issues otherwise.
_ACTIONS_DENIED = "the workflow job needs `permissions: actions: read` (workflow runs, artifacts)"
_PULLS_DENIED = (
    "the workflow job needs `permissions: contents: read` and `pull-requests: read` (the pull "
    "requests of a commit)"
)


# Below /repos/{owner}/{name}, which may themselves be named "actions" or "commits".
_ACTIONS_PATH = re.compile(r"/repos/[^/]+/[^/]+/actions/")
_PULLS_PATH = re.compile(r"/repos/[^/]+/[^/]+/commits/[^/]+/pulls$")


def _error(response: httpx.Response, method: str, what: str) -> GitHubError:
    detail = error_detail(response, "message")
    status = response.status_code
    hint = _HINTS.get(status) or fallback_hint("GitHub", status)
    if status == 403:
        try:
            path = response.request.url.path
        except RuntimeError:  # a response made without its request (tests)
            path = ""
        if _ACTIONS_PATH.search(path):
            hint = _ACTIONS_DENIED
        elif _PULLS_PATH.search(path):
            hint = _PULLS_DENIED
    if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        hint = _RATE_LIMITED
    elif status in (403, 429) and (
        "retry-after" in response.headers or "secondary rate limit" in detail.lower()
    ):
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
        wait = response.headers.get("retry-after", "").strip()
        hint = (
            "GitHub's secondary rate limit (too many requests at once or in a minute) was hit: "
            f"wait {f'{wait} seconds' if wait.isdecimal() else 'a minute'} and re-run the job"
        )
    message = f"GitHub answered {status} to {method} while {what}: {detail}"
    return GitHubError(message, hint, status, detail)


class GitHubPlatform:
    """GitHub's :class:`entrasync.adapters.review.ReviewPlatform` (``GITHUB_ACTIONS=true``)."""

    name = "GitHub"
    comment_limit = GITHUB_COMMENT_LIMIT
    comment_measure = CHARACTERS
    full_plan_hint = FULL_PLAN_HINT

    def __init__(self, ctx: GitHubContext, environ: Mapping[str, str]) -> None:
        self.ctx = ctx
        self._environ = environ
        self.client = GitHubClient(ctx)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHubPlatform:
        return cls(GitHubContext.from_environ(environ), environ)

    def __enter__(self) -> GitHubPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def request_number(self) -> int:
        return self.ctx.pull_request_number()

    def commit_sha(self) -> str:
        return self._environ.get("GITHUB_SHA", "")

    def planned_commit(self) -> str:
        # pull_request_target runs on the base branch (GITHUB_SHA); the head is the event's.
        return pull_request_head(self.ctx.event_path)

    def request_head(self, number: int) -> str:
        what = f"reading #{number}"
        pull = self.client.request_json(
            "GET", self.client.repo_url(f"/pulls/{number}"), dict, what=what
        )
        head = pull.get("head")
        return text_of(head.get("sha")) if isinstance(head, dict) else ""

    def run_url(self) -> str | None:
        return run_url(self._environ)

    def run_id(self) -> str:
        run, attempt = (self._environ.get(v, "") for v in ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"))
        return run if attempt in ("", "1") else f"{run}.{attempt}"

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        """Create or edit in place the one comment carrying ``marker``; return its URL."""
        body = ensure_marker(body, marker)
        check_length(body, self.comment_limit, self.name, self.comment_measure)
        client = self.client
        listing = f"listing the comments of #{number}"
        ours = cache(client.is_own)

        def own() -> list[dict[str, Any]]:
            return self._own(number, marker, ours)

        def edit(comment: dict[str, Any], text: str) -> str:
            comment_id = client.integer(comment, "id", listing)
            url = client.repo_url(f"/issues/comments/{comment_id}")
            what = f"editing comment {comment_id} on #{number}"
            return text_of(
                client.request_json(
                    "PATCH", url, dict, what=what, json={"body": text}, edits_comment=True
                ).get("html_url")
            )

        def post(text: str) -> tuple[dict[str, Any], str]:
            url, what = client.repo_url(f"/issues/{number}/comments"), f"commenting on #{number}"
            posted = client.request_json("POST", url, dict, what=what, json={"body": text})
            return posted, text_of(posted.get("html_url"))

        return keep_one(own, edit, post, item_id, body)

    def _own(
        self, number: int, marker: str, ours: Callable[[], Callable[[dict[str, Any]], bool]]
    ) -> list[dict[str, Any]]:
        """The tool's comments carrying ``marker`` on #``number``, oldest first."""
        url = self.client.repo_url(f"/issues/{number}/comments?per_page=100")
        listed = self.client.paginate(url, what=f"listing the comments of #{number}")
        return all_own(listed, marker, _body, ours)

    def plan_comment(self, number: int, marker: str) -> str | None:
        found = self._own(number, marker, cache(self.client.is_own))
        return _body(found[0]) if found else None

    def set_labels(self, number: int, wanted: frozenset[str]) -> None:
        """``GET``/``POST /issues/{n}/labels``, ``DELETE /issues/{n}/labels/{name}``
        (https://docs.github.com/en/rest/issues/labels); GitHub creates a missing label."""
        client = self.client
        current = [
            text_of(label.get("name"))
            for label in client.paginate(
                client.repo_url(f"/issues/{number}/labels?per_page=100"),
                what=f"listing the labels of #{number}",
            )
        ]

        def remove(labels: list[str]) -> None:
            for label in labels:
                client.request(
                    "DELETE",
                    client.repo_url(f"/issues/{number}/labels/{quote(label, safe='')}"),
                    what=f"removing the label {label!r} from #{number}",
                    gone_is_done=True,
                )

        def add(labels: list[str]) -> None:
            client.request(
                "POST",
                client.repo_url(f"/issues/{number}/labels"),
                what=f"labelling #{number}",
                json={"labels": labels},
                resend=True,
            )

        relabel(current, wanted, remove, add)

    def merged_request_for(self, sha: str) -> int | None:
        found = self.merged_pull_for(sha)
        return None if found is None else found[0]

    def merged_pull_for(self, sha: str) -> tuple[int, str] | None:
        """The first merged pull request of ``/commits/{sha}/pulls``, with the commit its head
        was at when merged ("" when not said)
        (https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit)."""
        what = f"finding the pull request of commit {sha[:12]}"
        pulls = self.client.paginate(
            self.client.repo_url(f"/commits/{commit_id(sha, 'the commit')}/pulls?per_page=100"),
            what=what,
        )
        merged = next((p for p in pulls if p.get("merged_at")), None)
        if merged is None:
            return None
        head = merged.get("head")
        head_sha = text_of(head.get("sha")) if isinstance(head, dict) else ""
        return self.client.integer(merged, "number", what), head_sha


def upsert_issue(title: str, body: str, marker: str, environ: Mapping[str, str]) -> str:
    """Open the one issue carrying ``marker``, or edit it when already open; return its URL."""
    ctx = GitHubContext.from_environ(environ)
    body = ensure_marker(body, marker)
    check_length(body, GITHUB_COMMENT_LIMIT, "GitHub")
    with GitHubClient(ctx) as client:
        found = _open_marked_issues(client, marker)
        if found:
            (number, _), *others = found
            method, url = "PATCH", client.repo_url(f"/issues/{number}")
            what = f"updating issue #{number}"
            # Two runs that found none at once (the drift check and the scheduled sync) each
            # opened one: the first opened is kept, the others closed in its favour.
            for other, _ in others:
                _close(
                    client,
                    other,
                    f"Closed in favour of #{number}, which entrasync keeps up to date.",
                    "not_planned",
                )
        else:
            method, url, what = "POST", client.repo_url("/issues"), "opening an issue"
        issue = {"title": title, "body": body}
        return text_of(
            client.request_json(method, url, dict, what=what, json=issue).get("html_url")
        )


def close_marked_issue(marker: str, comment: str, environ: Mapping[str, str]) -> str | None:
    """Comment on and close the open issues carrying ``marker`` (one, unless two runs opened
    one each); the first one's URL, or None if none was open."""
    ctx = GitHubContext.from_environ(environ)
    with GitHubClient(ctx) as client:
        found = _open_marked_issues(client, marker)
        for number, _ in found:
            _close(client, number, comment, "completed")
    return None if not found else text_of(found[0][1].get("html_url"))


def _close(client: GitHubClient, number: int, comment: str, reason: str) -> None:
    client.request(
        "POST",
        client.repo_url(f"/issues/{number}/comments"),
        what=f"commenting on issue #{number}",
        json={"body": comment},
    )
    client.request(
        "PATCH",
        client.repo_url(f"/issues/{number}"),
        what=f"closing issue #{number}",
        json={"state": "closed", "state_reason": reason},
    )


def _open_marked_issues(client: GitHubClient, marker: str) -> list[tuple[int, dict[str, Any]]]:
    """The open issues carrying ``marker`` that the token opened, by number, oldest first."""
    issues = (
        issue
        for issue in client.paginate(
            client.repo_url("/issues?state=open&per_page=100"), what=_LISTING_ISSUES
        )
        if "pull_request" not in issue  # the issues list includes pull requests
    )
    own = all_own(issues, marker, _body, client.is_own)
    numbered = [(client.integer(issue, "number", _LISTING_ISSUES), issue) for issue in own]
    return sorted(numbered, key=lambda pair: pair[0])


def _body(item: dict[str, Any]) -> str:
    return text_of(item.get("body"))


def pull_for_commit(sha: str, environ: Mapping[str, str]) -> tuple[int, str] | None:
    """The merged pull request that brought ``sha`` and its head commit, or None."""
    with GitHubPlatform.from_environ(environ) as github:
        return github.merged_pull_for(sha)


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    run_id: int
    artifact_id: int


_WORKFLOW_FILE = re.compile(r"\.ya?ml(@|$)", re.IGNORECASE)  # a workflow file's name ends so


def latest_artifact(
    name: str, environ: Mapping[str, str], *, workflow: str, event: str
) -> ArtifactRef | None:
    """The newest unexpired artifact called ``name`` that a run of ``workflow`` (its path,
    ``.github/workflows/plan.yml``) on ``event`` uploaded (needs actions: read).

    Asked for by name, so the request count does not grow with the repository's other
    artifacts (a scheduled sync uploads two an hour). Any workflow can upload an artifact of
    any name, a pull request's own changes to ci.yml included; only the default branch's
    ``workflow``, run on ``pull_request_target``, makes the plan that was reviewed. Others of
    the name are skipped with a warning in the log.
    """
    ctx = GitHubContext.from_environ(environ)
    with GitHubClient(ctx) as client:
        url = client.repo_url(f"/actions/artifacts?name={quote(name, safe='')}&per_page=100")
        what = "listing workflow artifacts"
        found: list[ArtifactRef] = []
        for item in client.paginate(url, what=what, key="artifacts"):
            run = item.get("workflow_run")  # null when GitHub names no run: nothing to fetch
            if item.get("expired") or run is None or text_of(item.get("name")) != name:
                continue
            run_id = client.integer(run, "id", what)
            found.append(ArtifactRef(name, run_id, client.integer(item, "id", what)))
        # Newest first by id, as actions/download-artifact picks among a run's artifacts of one
        # name (a re-run's attempts may each keep theirs): the one found is the one downloaded.
        for ref in sorted(found, key=lambda r: r.artifact_id, reverse=True):
            doing = f"reading workflow run {ref.run_id}"
            try:
                made = client.request_json(
                    "GET", client.repo_url(f"/actions/runs/{ref.run_id}"), dict, what=doing
                )
            except GitHubError as exc:
                if exc.status != 404:
                    raise
                made = {}  # a run deleted since: nothing shows who made its artifact
            # GitHub's example answer names the path with its ref (`….yml@main`): either way,
            # the event says which branch's file ran (pull_request_target: the default's).
            # `plan.yml@x.yml` (or `plan.yml@x.yml@main`) is another workflow file.
            path, at, ref_name = text_of(made.get("path")).partition("@")
            if at and _WORKFLOW_FILE.search(ref_name):
                path += at + ref_name
            if (path, made.get("event")) == (workflow, event):
                return ref
            log.warning(
                "skipped artifact %s of run %d: uploaded by %s on %s, not by %s on %s",
                ref.name,
                ref.run_id,
                text_of(made.get("path")) or "?",
                text_of(made.get("event")) or "?",
                workflow,
                event,
            )
    return None

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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from entrasync.adapters.github.actions import pull_request_number, run_url
from entrasync.adapters.http import require_safe_url
from entrasync.adapters.review import (
    check_length,
    ensure_marker,
    find_own,
    label_changes,
    text_of,
)
from entrasync.adapters.review.client import RestClient, error_detail
from entrasync.core.secret import Secret
from entrasync.errors import EntrasyncError, GitHubError
from entrasync.render.truncate import GITHUB_COMMENT_LIMIT

DEFAULT_API_URL = "https://api.github.com"
FULL_PLAN_HINT = "the job summary and the plan artifact of this workflow run"


@dataclass(frozen=True)
class GitHubContext:
    api_url: httpx.URL
    token: Secret
    repository: str  # "owner/name"
    event_path: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHubContext:
        token = environ.get("GITHUB_TOKEN", "")
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set, so entrasync cannot post to GitHub",
                "pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env",
            )
        if repository.count("/") != 1:
            raise GitHubError(
                f"GITHUB_REPOSITORY {repository!r} is not of the form owner/name",
                "run inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
            )
        raw_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        try:
            api_url = require_safe_url(raw_url, "the GitHub API URL (GITHUB_API_URL)")
        except EntrasyncError as exc:
            raise GitHubError(exc.message, exc.hint) from None
        return cls(api_url, Secret(token), repository, environ.get("GITHUB_EVENT_PATH") or None)

    def pull_request_number(self) -> int:
        """``pull_request.number`` (or ``issue.number``) from the event payload."""
        return pull_request_number(self.event_path)


_HINTS = {
    401: "GITHUB_TOKEN is invalid or expired: pass `${{ github.token }}`",
    403: "the workflow job needs `permissions: pull-requests: write` (comments, labels) or "
    "`issues: write` (drift issue); fork pull requests get a read-only token",
    404: "check GITHUB_REPOSITORY, the pull request number and GITHUB_API_URL (GitHub "
    "Enterprise Server: https://HOST/api/v3); a token without access also sees 404",
    422: f"GitHub refused the content: a comment may hold at most {GITHUB_COMMENT_LIMIT:,} "
    "characters",
}


class GitHubClient(RestClient):
    """GitHub's REST API: bearer token, API version header, ``Link`` paging."""

    platform = "GitHub"
    error = GitHubError

    def __init__(self, ctx: GitHubContext, *, http: httpx.Client | None = None) -> None:
        super().__init__(ctx.api_url, http=http)
        self.ctx = ctx
        self._own_login: str | bool | None = False  # False: not looked up yet

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
        while next_url is not None:
            response = self.request("GET", next_url, what=what)
            data = response.json()
            yield from (data.get(key, []) if key is not None else data)
            link = response.links.get("next", {}).get("url")
            next_url = httpx.URL(link) if link else None

    def own_login(self) -> str | None:
        """The token's own login, or None for installation tokens (``GET /user`` is 403)."""
        if self._own_login is False:
            try:
                response = self.request("GET", self.url("/user"), what="reading the token's user")
                self._own_login = str(response.json()["login"])
            except (GitHubError, KeyError, ValueError):
                self._own_login = None
        return self._own_login if isinstance(self._own_login, str) else None

    def find_marked(self, items: list[dict[str, Any]], marker: str) -> dict[str, Any] | None:
        """The oldest of our own items that starts with the marker, or None.

        Ours: by the token's own login when GitHub tells it (a personal token), else by a bot
        (``github-actions[bot]`` for the workflow token). A person's comment that quotes or
        copies the marker is never edited over.
        """
        if not any(text_of(i.get("body")).startswith(marker) for i in items):
            return None  # no need to ask who we are
        login = self.own_login()

        def ours(item: dict[str, Any]) -> bool:
            user = item.get("user") or {}
            return bool(user.get("login") == login if login else user.get("type") == "Bot")

        return find_own(items, marker, lambda i: text_of(i.get("body")), ours)


def _error(response: httpx.Response, method: str, what: str) -> GitHubError:
    detail = error_detail(response, "message")
    status = response.status_code
    hint = _HINTS.get(status)
    if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        hint = "the GitHub API rate limit is used up: wait for the reset and re-run the job"
    return GitHubError(f"GitHub answered {status} to {method} while {what}: {detail}", hint)


class GitHubPlatform:
    """GitHub's :class:`entrasync.adapters.review.ReviewPlatform` (``GITHUB_ACTIONS=true``)."""

    name = "GitHub"
    comment_limit = GITHUB_COMMENT_LIMIT
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

    def run_url(self) -> str | None:
        return run_url(self._environ)

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        """Create or edit in place the one comment carrying ``marker``; return its URL."""
        body = ensure_marker(body, marker)
        check_length(body, self.comment_limit, self.name)
        client = self.client
        comments = list(
            client.paginate(
                client.repo_url(f"/issues/{number}/comments?per_page=100"),
                what=f"listing the comments of #{number}",
            )
        )
        existing = client.find_marked(comments, marker)
        if existing is not None:
            response = client.request(
                "PATCH",
                client.repo_url(f"/issues/comments/{existing['id']}"),
                what=f"editing comment {existing['id']} on #{number}",
                json={"body": body},
            )
        else:
            response = client.request(
                "POST",
                client.repo_url(f"/issues/{number}/comments"),
                what=f"commenting on #{number}",
                json={"body": body},
            )
        return str(response.json().get("html_url", ""))

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
        add, remove = label_changes(current, wanted)
        if add:
            client.request(
                "POST",
                client.repo_url(f"/issues/{number}/labels"),
                what=f"labelling #{number}",
                json={"labels": add},
            )
        for label in remove:
            client.request(
                "DELETE",
                client.repo_url(f"/issues/{number}/labels/{quote(label, safe='')}"),
                what=f"removing the label {label!r} from #{number}",
            )

    def merged_request_for(self, sha: str) -> int | None:
        """The first merged pull request of ``/commits/{sha}/pulls``
        (https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit)."""
        pulls = self.client.paginate(
            self.client.repo_url(f"/commits/{sha}/pulls?per_page=100"),
            what=f"finding the pull request of commit {sha[:12]}",
        )
        return next((int(p["number"]) for p in pulls if p.get("merged_at")), None)


def post_sticky_comment(
    body: str, marker: str, environ: Mapping[str, str], *, number: int | None = None
) -> str:
    """Create or edit in place the one comment carrying ``marker``; return its URL."""
    with GitHubPlatform.from_environ(environ) as github:
        number = github.request_number() if number is None else number
        return github.upsert_comment(number, body, marker)


def upsert_issue(title: str, body: str, marker: str, environ: Mapping[str, str]) -> str:
    """Open the one issue carrying ``marker``, or edit it when already open; return its URL."""
    ctx = GitHubContext.from_environ(environ)
    body = ensure_marker(body, marker)
    check_length(body, GITHUB_COMMENT_LIMIT, "GitHub")
    with GitHubClient(ctx) as client:
        existing = _open_marked_issue(client, marker)
        if existing is not None:
            response = client.request(
                "PATCH",
                client.repo_url(f"/issues/{existing['number']}"),
                what=f"updating issue #{existing['number']}",
                json={"title": title, "body": body},
            )
        else:
            response = client.request(
                "POST",
                client.repo_url("/issues"),
                what="opening an issue",
                json={"title": title, "body": body},
            )
    return str(response.json().get("html_url", ""))


def close_marked_issue(marker: str, comment: str, environ: Mapping[str, str]) -> str | None:
    """Comment on and close the open issue carrying ``marker``; its URL, or None if none."""
    ctx = GitHubContext.from_environ(environ)
    with GitHubClient(ctx) as client:
        existing = _open_marked_issue(client, marker)
        if existing is None:
            return None
        number = existing["number"]
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
            json={"state": "closed", "state_reason": "completed"},
        )
    return str(existing.get("html_url", ""))


def _open_marked_issue(client: GitHubClient, marker: str) -> dict[str, Any] | None:
    issues = [
        issue
        for issue in client.paginate(
            client.repo_url("/issues?state=open&per_page=100"), what="listing open issues"
        )
        if "pull_request" not in issue  # the issues list includes pull requests
    ]
    return client.find_marked(issues, marker)


def pull_for_commit(sha: str, environ: Mapping[str, str]) -> int | None:
    """The merged pull request that brought ``sha`` (``/commits/{sha}/pulls``), or None."""
    with GitHubPlatform.from_environ(environ) as github:
        return github.merged_request_for(sha)


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    run_id: int
    created_at: str


def latest_artifact(prefix: str, environ: Mapping[str, str]) -> ArtifactRef | None:
    """The newest unexpired artifact whose name starts with ``prefix`` (needs actions: read)."""
    ctx = GitHubContext.from_environ(environ)
    with GitHubClient(ctx) as client:
        url = client.repo_url("/actions/artifacts?per_page=100")
        best: ArtifactRef | None = None
        for item in client.paginate(url, what="listing workflow artifacts", key="artifacts"):
            if item.get("expired") or not str(item.get("name", "")).startswith(prefix):
                continue
            ref = ArtifactRef(
                item["name"], int(item["workflow_run"]["id"]), str(item["created_at"])
            )
            if best is None or ref.created_at > best.created_at:
                best = ref
    return best

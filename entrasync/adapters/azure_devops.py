"""Azure DevOps REST 7.1: the sticky pull request thread, its labels, the merged PR of a commit.

- Threads (https://learn.microsoft.com/rest/api/azure/devops/git/pull-request-threads):
  ``GET``/``POST …/pullRequests/{id}/threads?api-version=7.1``; our thread's first comment is
  edited with ``PATCH …/threads/{tid}/comments/{cid}?api-version=7.1``
  (https://learn.microsoft.com/rest/api/azure/devops/git/pull-request-thread-comments/update).
  A new thread is posted ``closed``, so a "comments must be resolved" branch policy does not
  hold the merge on it; the check's exit status is what gates the merge.
- Labels (https://learn.microsoft.com/rest/api/azure/devops/git/pull-request-labels):
  ``GET``/``POST …/pullRequests/{id}/labels?api-version=7.1``, ``DELETE …/labels/{name}``.
- The merged PR of a commit
  (https://learn.microsoft.com/rest/api/azure/devops/git/pull-request-query/get):
  ``POST …/pullrequestquery?api-version=7.1`` with a ``lastMergeCommit`` query.
- Our own thread: its first comment's ``author.id`` is the token's identity,
  ``authenticatedUser.id`` of ``GET {collection}/_apis/connectionData``.

The token is ``SYSTEM_ACCESSTOKEN`` (``$(System.AccessToken)`` mapped into the step's env),
sent as ``Authorization: Bearer`` to ``SYSTEM_COLLECTIONURI``'s host only. Azure DevOps answers
a bad or expired token with ``203`` and an HTML sign-in page instead of ``401``: that is an
authentication error here, never a success. A comment holds at most 150,000 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx

from entrasync.adapters.http import asked_to_wait, error_detail, require_safe_url
from entrasync.adapters.review import (
    all_own,
    check_length,
    ensure_marker,
    item_id,
    keep_one,
    member,
    path_part,
    relabel,
    text_of,
)
from entrasync.adapters.review.client import RestClient, fallback_hint
from entrasync.core import sanitize
from entrasync.core.secret import Secret, bearer
from entrasync.errors import EntrasyncError, ReviewError
from entrasync.render.truncate import UTF16_UNITS

AZURE_DEVOPS_COMMENT_LIMIT = 150_000
API_VERSION = "7.1"
FULL_PLAN_HINT = "the log and the published artifacts of this pipeline run"
PERMISSION = "Contribute to pull requests"

_TOKEN_HINT = (
    "map the job's token into the step's env (`env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`) "
    f'and grant the project\'s build service identity "{PERMISSION}" on the repository'
)
_HINTS = {
    401: _TOKEN_HINT,
    403: f'grant the build service identity "{PERMISSION}" on the repository (Project '
    "settings → Repositories → Security)",
    404: "check SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT, BUILD_REPOSITORY_ID and the pull "
    "request id; a token without access also sees 404",
    429: "Azure DevOps throttled the pipeline's identity "
    "(https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits): wait a few "
    "minutes and re-run the job",
}
_WHERE = ("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_REPOSITORY_ID")


@dataclass(frozen=True)
class AzureDevOpsContext:
    collection_url: httpx.URL  # https://dev.azure.com/{organization}/
    token: Secret
    project: str
    repository_id: str
    environ: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AzureDevOpsContext:
        provider = environ.get("BUILD_REPOSITORY_PROVIDER", "").strip()
        if provider and provider != "TfsGit":
            # Its pull requests live elsewhere: the Azure Repos API answered 404, with a hint
            # to check variables the user cannot change.
            raise ReviewError(
                f"Azure Pipelines builds a repository hosted on {sanitize.text(provider)} "
                "(BUILD_REPOSITORY_PROVIDER), and entrasync comments on Azure Repos pull "
                "requests only",
                "run `plan --comment` in the repository's own CI (GitHub Actions for GitHub, "
                "docs/github-setup.md), or leave out --comment here: the plan is in the job log",
            )
        missing = [
            name for name in (*_WHERE, "SYSTEM_ACCESSTOKEN") if not environ.get(name, "").strip()
        ]
        if missing:
            raise ReviewError(
                f"Azure Pipelines detected (TF_BUILD=True) but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set, so entrasync cannot post to "
                "the pull request",
                "secrets are not in the env unless mapped: "
                + _TOKEN_HINT
                + "; the others are set by Azure Pipelines (docs/azure-devops.md)",
            )
        raw = environ["SYSTEM_COLLECTIONURI"].rstrip("/") + "/"
        try:
            url = require_safe_url(raw, "the Azure DevOps collection URL (SYSTEM_COLLECTIONURI)")
        except EntrasyncError as exc:
            raise ReviewError(exc.message, exc.hint) from None
        return cls(
            url,
            bearer("SYSTEM_ACCESSTOKEN", environ["SYSTEM_ACCESSTOKEN"], ReviewError),
            path_part(environ["SYSTEM_TEAMPROJECT"], "SYSTEM_TEAMPROJECT"),
            path_part(environ["BUILD_REPOSITORY_ID"], "BUILD_REPOSITORY_ID"),
            environ,
        )


class AzureDevOpsClient(RestClient):
    platform = "Azure DevOps"
    api_variable = "SYSTEM_COLLECTIONURI"

    def __init__(self, ctx: AzureDevOpsContext, *, http: httpx.Client | None = None) -> None:
        super().__init__(ctx.collection_url, http=http)
        self.ctx = ctx

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ctx.token.reveal()}", "Accept": "application/json"}

    def git_url(self, path: str) -> httpx.URL:
        """``{collection}{project}/_apis/git/repositories/{repo}{path}?api-version=7.1``."""
        project, repo = quote(self.ctx.project, safe=""), quote(self.ctx.repository_id, safe="")
        url = self.url(f"/{project}/_apis/git/repositories/{repo}{path}")
        return url.copy_set_param("api-version", API_VERSION)

    def check(self, response: httpx.Response, method: str, what: str) -> None:
        status = response.status_code
        html = "html" in response.headers.get("Content-Type", "").lower()
        if status == 203 or 300 <= status < 400 or (status < 400 and html):
            raise ReviewError(
                f"Azure DevOps answered {response.status_code} with a sign-in page to {method} "
                f"while {what}: SYSTEM_ACCESSTOKEN is missing, invalid or expired",
                _TOKEN_HINT,
            )
        super().check(response, method, what)

    def failure(self, response: httpx.Response, method: str, what: str) -> ReviewError:
        status = response.status_code
        detail = error_detail(response, "message")
        hint = _HINTS.get(status) or fallback_hint(self.platform, status)
        if status == 400 and "api-version" in detail:
            hint = f"a bug, please report it: every request must carry api-version={API_VERSION}"
        elif status == 400 and ("longer than" in detail or "comment.Content" in detail):
            # "A discussion comment cannot be longer than 150000 characters.\r\nParameter
            # name: comment.Content" (as Azure DevOps answers; atlantis, infracost quote it)
            hint = (
                f"an Azure DevOps comment holds at most {AZURE_DEVOPS_COMMENT_LIMIT:,} characters, "
                "which entrasync keeps to: a bug, please report it"
            )
        asked = asked_to_wait(response)
        if asked:
            hint = "Azure DevOps is throttling the pipeline's identity: re-run the job once that "
            hint += "time has passed"
        return ReviewError(
            f"Azure DevOps answered {status} to {method} while {what}{asked}: {detail}", hint
        )

    def is_own(self) -> Callable[[dict[str, Any]], bool]:
        """Whether a thread's first comment is by the token's identity, the
        ``authenticatedUser`` of ``GET {collection}/_apis/connectionData``."""
        what = "reading the token's own identity"
        found = self.request_json("GET", self.url("/_apis/connectionData"), dict, what=what)
        user = found.get("authenticatedUser")
        identity = text_of(member(user, "id"))
        if not identity:
            raise ReviewError(
                "Azure DevOps connectionData named no authenticated user", _TOKEN_HINT
            )
        return lambda thread: member(_first(thread).get("author"), "id") == identity


class AzureDevOpsPlatform:
    """Azure DevOps' :class:`entrasync.adapters.review.ReviewPlatform` (``TF_BUILD=True``)."""

    name = "Azure DevOps"
    comment_limit = AZURE_DEVOPS_COMMENT_LIMIT
    comment_measure = UTF16_UNITS
    full_plan_hint = FULL_PLAN_HINT

    def __init__(self, ctx: AzureDevOpsContext) -> None:
        self.ctx = ctx
        self.client = AzureDevOpsClient(ctx)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AzureDevOpsPlatform:
        return cls(AzureDevOpsContext.from_environ(environ))

    def close(self) -> None:
        self.client.close()

    def request_number(self) -> int:
        number = self.ctx.environ.get("SYSTEM_PULLREQUEST_PULLREQUESTID", "")
        if not (number.isascii() and number.isdigit() and len(number) < 20):  # "²" too
            raise ReviewError(
                "SYSTEM_PULLREQUEST_PULLREQUESTID is not set: this run was not triggered by a "
                "pull request",
                "run the plan stage from the branch policy's build validation "
                "(docs/azure-devops.md)",
            )
        return int(number)

    def commit_sha(self) -> str:
        return self.ctx.environ.get("BUILD_SOURCEVERSION", "")

    def planned_commit(self) -> str:
        # A pull request build runs on its merge commit; the source branch's head is this.
        return self.ctx.environ.get("SYSTEM_PULLREQUEST_SOURCECOMMITID", "")

    def request_head(self, number: int) -> str:
        what = f"reading PR {number}"
        client = self.client
        pull = client.request_json(
            "GET", client.git_url(f"/pullRequests/{number}"), dict, what=what
        )
        source = pull.get("lastMergeSourceCommit")
        return text_of(source.get("commitId")) if isinstance(source, dict) else ""

    def run_id(self) -> str:
        # "Rerun failed jobs" keeps the build and counts the job's attempts.
        build, attempt = (
            self.ctx.environ.get(v, "") for v in ("BUILD_BUILDID", "SYSTEM_JOBATTEMPT")
        )
        return build if attempt in ("", "1") else f"{build}.{attempt}"

    def run_url(self) -> str | None:
        build = self.ctx.environ.get("BUILD_BUILDID", "")
        if not (build.isascii() and build.isdigit()):
            return None
        project = quote(self.ctx.project, safe="")
        return str(self.client.url(f"/{project}/_build/results?buildId={build}"))

    def _web_url(self, number: int, thread: int) -> str:
        project, repo = quote(self.ctx.project, safe=""), quote(self.ctx.repository_id, safe="")
        path = f"/{project}/_git/{repo}/pullrequest/{number}?discussionId={thread}"
        return str(self.client.url(path))

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        body = ensure_marker(body, marker)
        check_length(body, self.comment_limit, self.name, self.comment_measure)
        client = self.client
        threads_url = client.git_url(f"/pullRequests/{number}/threads")
        listing = f"listing the threads of PR {number}"
        ours = cache(client.is_own)

        def own() -> list[dict[str, Any]]:
            return self._own(number, marker, ours)

        def edit(thread: dict[str, Any], text: str) -> str:
            thread_id = client.integer(thread, "id", listing)
            comment_id = client.integer(_first(thread), "id", listing)
            client.request(
                "PATCH",
                client.git_url(f"/pullRequests/{number}/threads/{thread_id}/comments/{comment_id}"),
                what=f"editing thread {thread_id} on PR {number}",
                json={"content": text},
                edits_comment=True,
            )
            return self._web_url(number, thread_id)

        def post(text: str) -> tuple[dict[str, Any], str]:
            thread = {
                "comments": [{"parentCommentId": 0, "content": text, "commentType": "text"}],
                "status": "closed",
            }
            what = f"commenting on PR {number}"
            posted = client.request_json("POST", threads_url, dict, what=what, json=thread)
            return posted, self._web_url(number, client.integer(posted, "id", what))

        return keep_one(own, edit, post, item_id, body)

    def _own(
        self, number: int, marker: str, ours: Callable[[], Callable[[dict[str, Any]], bool]]
    ) -> list[dict[str, Any]]:
        """The tool's threads carrying ``marker`` on PR ``number``, oldest (smallest id) first:
        the API documents no order for its listing."""
        client = self.client
        listing = f"listing the threads of PR {number}"
        threads_url = client.git_url(f"/pullRequests/{number}/threads")
        listed = client.request_json("GET", threads_url, dict, what=listing)
        # A deleted thread, or one whose first comment was deleted (the thread stays, its
        # comment flagged): neither is the plan's comment, nor edited.
        threads = (
            t
            for t in client.listed(listed, "value", listing)
            if not t.get("isDeleted") and not _first(t).get("isDeleted")
        )
        own = all_own(threads, marker, _content, ours)
        return sorted(own, key=lambda thread: client.integer(thread, "id", listing))

    def plan_comment(self, number: int, marker: str) -> str | None:
        found = self._own(number, marker, cache(self.client.is_own))
        return _content(found[0]) if found else None

    def set_labels(self, number: int, wanted: frozenset[str]) -> None:
        client = self.client
        labels_url = client.git_url(f"/pullRequests/{number}/labels")
        listing = f"listing the labels of PR {number}"
        listed = client.request_json("GET", labels_url, dict, what=listing)
        # Deleted by id: a name holding ":" (every entrasync label) is a request path ASP.NET
        # refuses by default, and labelIdOrName takes either.
        ids = {
            text_of(label.get("name")): text_of(label.get("id")) or text_of(label.get("name"))
            for label in client.listed(listed, "value", listing)
            if label.get("active", True)
        }

        def remove(labels: list[str]) -> None:
            for label in labels:
                client.request(
                    "DELETE",
                    client.git_url(f"/pullRequests/{number}/labels/{quote(ids[label], safe='')}"),
                    what=f"removing the label {label!r} from PR {number}",
                    gone_is_done=True,
                )

        def add(labels: list[str]) -> None:
            for label in labels:
                what = f"labelling PR {number}"
                client.request("POST", labels_url, what=what, json={"name": label}, resend=True)

        relabel(list(ids), wanted, remove, add)

    def merged_request_for(self, sha: str) -> int | None:
        client = self.client
        query = {"queries": [{"type": "lastMergeCommit", "items": [sha]}]}
        what = f"finding the pull request of commit {sha[:12]}"
        url = client.git_url("/pullrequestquery")
        answer = client.request_json("POST", url, dict, what=what, json=query, resend=True)
        for result in client.listed(answer, "results", what):
            for pull in client.objects(result.get(sha) or [], what):
                if pull.get("status") == "completed":
                    return client.integer(pull, "pullRequestId", what)
        return None


def _first(thread: dict[str, Any]) -> dict[str, Any]:
    """The thread's first comment (the lowest id: replies come after it), or {}. A comment
    without an integer id sorts first; editing it is then the API-URL error, not a traceback."""
    comments = thread.get("comments")
    listed = [c for c in comments if isinstance(c, dict)] if isinstance(comments, list) else []
    return min(listed, key=lambda c: c["id"] if isinstance(c.get("id"), int) else 0, default={})


def _content(thread: dict[str, Any]) -> str:
    return text_of(_first(thread).get("content"))

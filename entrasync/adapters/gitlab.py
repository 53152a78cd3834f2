"""GitLab REST v4: the sticky merge request note, its labels and the merged request of a commit.

- Notes (https://docs.gitlab.com/api/notes/#merge-requests): ``GET`` and ``POST
  /projects/:id/merge_requests/:iid/notes``, ``PUT …/notes/:note_id``; lists page by
  ``X-Next-Page`` (https://docs.gitlab.com/api/rest/#pagination). A note holds at most
  1,000,000 characters (GitLab answers ``400`` ``is too long``).
- Labels (https://docs.gitlab.com/api/merge_requests/#update-mr): ``PUT
  /projects/:id/merge_requests/:iid`` with ``add_labels`` / ``remove_labels``, comma-separated.
- The merged request of a commit
  (https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit):
  ``GET /projects/:id/repository/commits/:sha/merge_requests``.
- Our own note: its ``author.id`` is the token's own user (``GET /user``,
  https://docs.gitlab.com/api/users/#get-the-current-user); a project access token has a bot
  user of its own.

The token is ``ENTRASYNC_GITLAB_TOKEN`` (a project access token with the ``api`` scope), sent
as ``PRIVATE-TOKEN`` to ``CI_API_V4_URL`` only. ``CI_JOB_TOKEN`` cannot write notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from typing import Any
from urllib.parse import quote

import httpx

from entrasync.adapters.http import asked_to_wait, error_detail, require_safe_url
from entrasync.adapters.review import (
    all_own,
    check_length,
    commit_id,
    ensure_marker,
    item_id,
    keep_one,
    member,
    path_part,
    relabel,
    text_of,
)
from entrasync.adapters.review.client import RestClient, fallback_hint
from entrasync.core.secret import Secret, bearer
from entrasync.errors import EntrasyncError, ReviewError
from entrasync.render.truncate import CHARACTERS

GITLAB_NOTE_LIMIT = 1_000_000
FULL_PLAN_HINT = "the log and the artifacts of this pipeline's plan job"
TOKEN_VARIABLE = "ENTRASYNC_GITLAB_TOKEN"

_HINTS = {
    401: f"{TOKEN_VARIABLE} is missing, expired or revoked: create a project access token "
    "with the `api` scope and store it as a masked CI/CD variable",
    403: f"the token of {TOKEN_VARIABLE} needs the `api` scope and at least the Reporter role "
    "(Developer to add labels) in the project",
    404: "check CI_API_V4_URL, CI_PROJECT_ID (CI_MERGE_REQUEST_PROJECT_ID in a merge request "
    "pipeline) and the merge request IID; a token without access to the project also sees 404",
    429: "GitLab's rate limit was reached (https://docs.gitlab.com/security/rate_limits/): "
    "wait a minute and re-run the job",
}


@dataclass(frozen=True)
class GitLabContext:
    api_url: httpx.URL
    token: Secret
    project: str  # CI_PROJECT_ID: a number, or a path (URL-encoded when sent)
    environ: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitLabContext:
        missing = [
            name
            for name in ("CI_API_V4_URL", "CI_PROJECT_ID", TOKEN_VARIABLE)
            if not environ.get(name, "").strip()  # blank is not set
        ]
        if missing:
            raise ReviewError(
                f"GitLab CI detected (GITLAB_CI=true) but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set, so entrasync cannot post to "
                "the merge request",
                f"store a project access token (`api` scope) as the masked CI/CD variable "
                f"{TOKEN_VARIABLE}; CI_API_V4_URL and CI_PROJECT_ID are set by GitLab itself "
                "(docs/gitlab.md)",
            )
        try:
            api_url = require_safe_url(
                environ["CI_API_V4_URL"].rstrip("/"), "the GitLab API URL (CI_API_V4_URL)"
            )
        except EntrasyncError as exc:
            raise ReviewError(exc.message, exc.hint) from None
        # In a merge request pipeline, the request's own project: a fork's pipeline runs in
        # the fork (CI_PROJECT_ID), while CI_MERGE_REQUEST_IID numbers the request in its target.
        in_request = environ.get("CI_MERGE_REQUEST_IID") and environ.get(
            "CI_MERGE_REQUEST_PROJECT_ID"
        )
        project = "CI_MERGE_REQUEST_PROJECT_ID" if in_request else "CI_PROJECT_ID"
        return cls(
            api_url,
            bearer(TOKEN_VARIABLE, environ[TOKEN_VARIABLE], ReviewError),
            path_part(environ[project], project),
            environ,
        )


class GitLabClient(RestClient):
    platform = "GitLab"
    api_variable = "CI_API_V4_URL"

    def __init__(self, ctx: GitLabContext, *, http: httpx.Client | None = None) -> None:
        super().__init__(ctx.api_url, http=http)
        self.ctx = ctx

    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.ctx.token.reveal()}

    def project_url(self, path: str) -> httpx.URL:
        return self.url(f"/projects/{quote(self.ctx.project, safe='')}{path}")

    def failure(self, response: httpx.Response, method: str, what: str) -> ReviewError:
        status = response.status_code
        detail = error_detail(response, "message", "error")
        hint = _HINTS.get(status) or fallback_hint(self.platform, status)
        if status == 400 and "too long" in detail:
            hint = (
                f"a GitLab note holds at most {GITLAB_NOTE_LIMIT:,} characters, which entrasync "
                "keeps to: a bug, please report it"
            )
        asked = asked_to_wait(response)
        if asked:
            hint = "GitLab is throttling the token: re-run the job once that time has passed"
        return ReviewError(
            f"GitLab answered {status} to {method} while {what}{asked}: {detail}", hint
        )

    def paginate(self, url: httpx.URL, *, what: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page by page as ``X-Next-Page`` names them.

        The next page is asked of the same URL with ``page`` set: the token never follows a
        link elsewhere."""
        page: str | None = "1"
        followed: set[str] = set()
        while page:
            self.follow(followed, page, what)
            response = self.request("GET", url.copy_set_param("page", page), what=what)
            yield from self.objects(self.read(response, list, what), what)
            page = response.headers.get("X-Next-Page", "").strip() or None

    def is_own(self) -> Callable[[dict[str, Any]], bool]:
        """Whether a note's author is the token's own user, who ``GET /user`` names."""
        what = "reading the token's own user"
        user = self.request_json("GET", self.url("/user"), dict, what=what)
        own_id = self.integer(user, "id", what)
        return lambda note: member(note.get("author"), "id") == own_id


class GitLabPlatform:
    """GitLab's :class:`entrasync.adapters.review.ReviewPlatform` (``GITLAB_CI=true``)."""

    name = "GitLab"
    comment_limit = GITLAB_NOTE_LIMIT
    comment_measure = CHARACTERS
    full_plan_hint = FULL_PLAN_HINT

    def __init__(self, ctx: GitLabContext) -> None:
        self.ctx = ctx
        self.client = GitLabClient(ctx)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitLabPlatform:
        return cls(GitLabContext.from_environ(environ))

    def close(self) -> None:
        self.client.close()

    def request_number(self) -> int:
        iid = self.ctx.environ.get("CI_MERGE_REQUEST_IID", "")
        if not (iid.isascii() and iid.isdigit() and len(iid) < 20):  # "²" is a digit too
            raise ReviewError(
                "CI_MERGE_REQUEST_IID is not set: this job does not run in a merge request "
                "pipeline",
                "run the plan job with `rules: - if: $CI_PIPELINE_SOURCE == "
                '"merge_request_event"` (docs/gitlab.md)',
            )
        return int(iid)

    def commit_sha(self) -> str:
        return self.ctx.environ.get("CI_COMMIT_SHA", "")

    def planned_commit(self) -> str:
        # A merged results pipeline runs on a merge commit; the source branch's head is this.
        environ = self.ctx.environ
        return environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or environ.get("CI_COMMIT_SHA", "")

    def request_head(self, number: int) -> str:
        what = f"reading !{number}"
        return text_of(
            self.client.request_json("GET", self._mr(number), dict, what=what).get("sha")
        )

    def run_url(self) -> str | None:
        return self.ctx.environ.get("CI_PIPELINE_URL") or None

    def run_id(self) -> str:
        return self.ctx.environ.get("CI_JOB_ID", "")  # a retried job is a new job, same pipeline

    def _mr(self, number: int) -> httpx.URL:
        return self.client.project_url(f"/merge_requests/{number}")

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        body = ensure_marker(body, marker)
        check_length(body, self.comment_limit, self.name, self.comment_measure)
        client = self.client
        notes_url = client.project_url(f"/merge_requests/{number}/notes")
        listing = f"listing the notes of !{number}"
        ours = cache(client.is_own)
        environ = self.ctx.environ
        project_url = environ.get("CI_MERGE_REQUEST_PROJECT_URL") or environ.get("CI_PROJECT_URL")

        def web(note_id: int) -> str:
            if not project_url:
                return f"note {note_id} on !{number}"
            return f"{project_url}/-/merge_requests/{number}#note_{note_id}"

        def own() -> list[dict[str, Any]]:
            return self._own(number, marker, ours)

        def edit(note: dict[str, Any], text: str) -> str:
            note_id = client.integer(note, "id", listing)
            client.request(
                "PUT",
                client.project_url(f"/merge_requests/{number}/notes/{note_id}"),
                what=f"editing note {note_id} on !{number}",
                json={"body": text},
                edits_comment=True,
            )
            return web(note_id)

        def post(text: str) -> tuple[dict[str, Any], str]:
            what = f"commenting on !{number}"
            posted = client.request_json("POST", notes_url, dict, what=what, json={"body": text})
            return posted, web(client.integer(posted, "id", what))

        return keep_one(own, edit, post, item_id, body)

    def _own(
        self, number: int, marker: str, ours: Callable[[], Callable[[dict[str, Any]], bool]]
    ) -> list[dict[str, Any]]:
        """The tool's notes carrying ``marker`` on !``number``, oldest first."""
        order = {"per_page": "100", "sort": "asc", "order_by": "created_at"}
        notes_url = self.client.project_url(f"/merge_requests/{number}/notes")
        listing = f"listing the notes of !{number}"
        notes = self.client.paginate(notes_url.copy_merge_params(order), what=listing)
        return all_own((n for n in notes if not n.get("system")), marker, _body, ours)

    def plan_comment(self, number: int, marker: str) -> str | None:
        found = self._own(number, marker, cache(self.client.is_own))
        return _body(found[0]) if found else None

    def set_labels(self, number: int, wanted: frozenset[str]) -> None:
        client = self.client
        what = f"reading !{number}"
        mr = client.request_json("GET", self._mr(number), dict, what=what)
        current = mr.get("labels")
        if not isinstance(current, list) or not all(isinstance(name, str) for name in current):
            # A string read letter by letter hid an entrasync label, which then stayed.
            raise client.unexpected(
                f"GitLab's answer while {what} has labels that are not a list of names"
            )

        def put(key: str, labels: list[str]) -> None:
            # A request each: the removal stands if the addition is refused.
            change = {key: ",".join(labels)}
            client.request("PUT", self._mr(number), what=f"labelling !{number}", json=change)

        relabel(current, wanted, partial(put, "remove_labels"), partial(put, "add_labels"))

    def merged_request_for(self, sha: str) -> int | None:
        what = f"finding the merge request of commit {sha[:12]}"
        requests = self.client.paginate(
            self.client.project_url(
                f"/repository/commits/{commit_id(sha, 'the commit')}/merge_requests"
            ).copy_set_param("per_page", "100"),
            what=what,
        )
        merged = [r for r in requests if r.get("state") == "merged"]
        chosen = [
            r for r in merged if sha in (r.get("merge_commit_sha"), r.get("squash_commit_sha"))
        ]
        if not chosen:
            # A fast-forward merge makes no commit of its own: the request whose head is sha,
            # merged into the default branch (the apply job's), not one into another branch
            # that merely holds the commit.
            branch = self.ctx.environ.get("CI_DEFAULT_BRANCH")
            into = [r for r in merged if not branch or r.get("target_branch") == branch]
            chosen = [r for r in into if r.get("sha") == sha]
            if not chosen:
                # A fast-forward merge train without squash rebases the request's commits onto
                # the branch: GitLab names the request by the commit it merged (merged_commit_sha,
                # which its API does not show), the commit being none of the request's own.
                # One commit of its own is a request holding it, which merged nothing here.
                holds = [self._holds(r, sha, what) for r in into]
                chosen = [r for r, held in zip(into, holds, strict=True) if held is False]
                # Two, or one beside a request whose commits GitLab did not list: a guess.
                chosen = chosen if len(chosen) == 1 and None not in holds else []
        return self.client.integer(chosen[0], "iid", what) if chosen else None

    def _holds(self, request: dict[str, Any], sha: str, what: str) -> bool | None:
        """Whether ``sha`` is one of a merge request's own commits (read until found); None
        when GitLab does not say: no request is then taken for it, as none was before."""
        iid = self.client.integer(request, "iid", what)
        url = self.client.project_url(f"/merge_requests/{iid}/commits")
        try:
            pages = self.client.paginate(url.copy_set_param("per_page", "100"), what=what)
            return any(text_of(commit.get("id")) == sha for commit in pages)
        except ReviewError:
            return None


def _body(note: dict[str, Any]) -> str:
    return text_of(note.get("body"))

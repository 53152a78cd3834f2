"""A loopback Azure DevOps REST emulator: pull request threads, their comments and labels,
connectionData, and the pull request query.

Only what entrasync calls, with Azure DevOps' observable behaviour
(https://learn.microsoft.com/rest/api/azure/devops/git/): a collection URL with the
organization as its first path segment; a missing or wrong bearer token answered ``203`` with
an HTML sign-in page, not ``401``; a git call without ``api-version`` answered ``400``
(``VssVersionNotSpecifiedException``); ``connectionData`` served without one; threads listed
whole (``{"value": [...], "count": n}``); ``400`` for a comment over 150,000 characters;
``403`` for editing another identity's comment; labels added by name, listed with a GUID id,
and deleted by id or name (``404`` when absent), where a name holding ``:`` (``entrasync: ...``)
is refused ``400`` as ASP.NET refuses such a request path by default
(``requestPathInvalidCharacters``, https://learn.microsoft.com/dotnet/api/system.web.configuration.httpruntimesection.requestpathinvalidcharacters).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.integration.review_api import Handler, LoopbackApi

TOKEN = "fake-ado-emulated-system-access-token-for-tests"
BUILD_SERVICE = {"id": "6c1b0ff2-0000-4000-8000-00000000b111", "displayName": "Build Service"}
REVIEWER = {"id": "1f2e3d4c-0000-4000-8000-00000000a222", "displayName": "Rita Reviewer"}
ORGANIZATION = "contoso"
PROJECT = "Identity Platform"
REPOSITORY = "2f3a4b5c-0000-4000-8000-00000000c333"
COMMENT_LIMIT = 150_000
SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head>"
    "<body>Sign in to your account</body></html>"
)


def label_id(name: str) -> str:
    """A label's id: a GUID, the same for the same name, as Azure DevOps keeps one per name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"label:{name}"))


def _units(text: str) -> int:
    """A comment's length as Azure DevOps counts it: in UTF-16 units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class State:
    threads: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # PR id -> threads
    labels: dict[int, list[str]] = field(default_factory=dict)
    heads: dict[int, str] = field(default_factory=dict)  # PR id -> source branch head
    merge_commits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)  # (method, re)
    next_id: int = 70

    def add_thread(self, pr: int, content: str, author: dict[str, Any] | None = None) -> int:
        self.next_id += 1
        comment = {
            "id": 1,
            "parentCommentId": 0,
            "content": content,
            "author": author or BUILD_SERVICE,
        }
        thread = {"id": self.next_id, "comments": [comment], "status": "active", "isDeleted": False}
        self.threads.setdefault(pr, []).append(thread)
        return self.next_id

    def contents(self, pr: int) -> dict[int, str]:
        return {t["id"]: t["comments"][0]["content"] for t in self.threads.get(pr, [])}


class AzureDevOps(LoopbackApi):
    base_path = f"/{ORGANIZATION}"

    def __init__(self) -> None:
        self.state = State()
        super().__init__()

    def handle(
        self, request: Handler, method: str, path: str, query: dict[str, list[str]], payload: Any
    ) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return request.send(203, SIGN_IN_PAGE, content_type="text/html; charset=utf-8")
        if not path.startswith(self.base_path + "/"):
            return request.send(404, {"message": "TF400898: not found"})
        path = unquote(path[len(self.base_path) :])
        if path == "/_apis/connectionData" and method == "GET":
            return request.send(
                200, {"authenticatedUser": BUILD_SERVICE, "authorizedUser": BUILD_SERVICE}
            )
        if "api-version" not in query:
            return request.send(
                400,
                {
                    "message": f'No api-version was supplied for the "{method}" request. The '
                    "version must be supplied either as part of the Accept header (e.g. "
                    '"application/json; api-version=1.0") or as a query parameter (e.g. '
                    "'?api-version=1.0').",
                    "typeKey": "VssVersionNotSpecifiedException",
                },
            )
        for (fail_method, pattern), (status, message) in self.state.fail.items():
            if fail_method == method and re.fullmatch(pattern, path):
                return request.send(status, {"message": message})
        m = re.fullmatch(rf"/{PROJECT}/_apis/git/repositories/{REPOSITORY}(/.*)", path)
        if not m:
            return request.send(404, {"message": "TF401019: The Git repository does not exist"})
        self._route(request, method, m.group(1), payload or {})

    def _route(self, request: Handler, method: str, path: str, data: Any) -> None:
        state = self.state
        if (m := re.fullmatch(r"/pullRequests/(\d+)", path)) and method == "GET":
            pr = int(m.group(1))
            source = {"commitId": state.heads[pr]} if pr in state.heads else None
            return request.send(200, {"pullRequestId": pr, "lastMergeSourceCommit": source})
        if m := re.fullmatch(r"/pullRequests/(\d+)/threads", path):
            pr = int(m.group(1))
            if method == "GET":
                threads = state.threads.get(pr, [])
                return request.send(200, {"value": threads, "count": len(threads)})
            content = data["comments"][0]["content"]
            if _units(content) > COMMENT_LIMIT:
                return self._too_long(request)
            tid = state.add_thread(pr, content)
            thread = state.threads[pr][-1]
            thread["status"] = data.get("status", "active")
            return request.send(200, thread | {"id": tid})
        if m := re.fullmatch(r"/pullRequests/(\d+)/threads/(\d+)/comments/(\d+)", path):
            comment = next(
                (
                    c
                    for t in state.threads.get(int(m.group(1)), [])
                    if t["id"] == int(m.group(2))
                    for c in t["comments"]
                    if c["id"] == int(m.group(3))
                ),
                None,
            )
            if comment is None:
                return request.send(404, {"message": "TF401180: comment not found"})
            if comment["author"]["id"] != BUILD_SERVICE["id"]:
                return request.send(403, {"message": "TF401181: not the comment's author"})
            if _units(data["content"]) > COMMENT_LIMIT:
                return self._too_long(request)
            comment["content"] = data["content"]
            return request.send(200, comment)
        if m := re.fullmatch(r"/pullRequests/(\d+)/labels", path):
            labels = state.labels.setdefault(int(m.group(1)), [])
            if method == "POST":
                if data["name"] not in labels:
                    labels.append(data["name"])
                return request.send(
                    200, {"id": label_id(data["name"]), "name": data["name"], "active": True}
                )
            return request.send(
                200,
                {
                    "value": [{"id": label_id(n), "name": n, "active": True} for n in labels],
                    "count": len(labels),
                },
            )
        if m := re.fullmatch(r"/pullRequests/(\d+)/labels/([^/]+)", path):
            if any(c in m.group(2) for c in "<>*%&:\\?"):
                return request.send(
                    400, "A potentially dangerous Request.Path value was detected from the client"
                )
            labels = state.labels.setdefault(int(m.group(1)), [])
            named = [n for n in labels if m.group(2) in (n, label_id(n))]
            if method != "DELETE" or not named:
                return request.send(404, {"message": "TF401409: label not found"})
            labels.remove(named[0])
            return request.send(204, "")
        if path == "/pullrequestquery" and method == "POST":
            (query,) = data["queries"]
            assert query["type"] == "lastMergeCommit"
            results = {sha: state.merge_commits.get(sha, []) for sha in query["items"]}
            return request.send(200, {"queries": data["queries"], "results": [results]})
        return request.send(404, {"message": "TF400898: not found"})

    def _too_long(self, request: Handler) -> None:
        request.send(
            400,
            {
                "message": f"A discussion comment cannot be longer than {COMMENT_LIMIT} "
                "characters.\r\nParameter name: comment.Content"
            },
        )

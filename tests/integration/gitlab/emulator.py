"""A loopback GitLab REST v4 emulator: merge request notes and labels, the current user, the
merge requests of a commit.

Only what entrasync calls, with GitLab's observable behaviour (https://docs.gitlab.com/api/):
the API under ``/api/v4``; ``401 Unauthorized`` without a valid ``PRIVATE-TOKEN``; a project
named by id or by URL-encoded path; offset paging with ``per_page`` (default 20, at most 100)
and ``X-Page``/``X-Next-Page``/``X-Total`` headers; system notes in the list; ``400`` for a note
over 1,000,000 characters (``{"message": {"note": ["is too long (maximum is 1000000
characters)"]}}``); ``403`` for editing another user's note; ``add_labels``/``remove_labels``
as comma-separated names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.integration.review_api import Handler, LoopbackApi

TOKEN = "fake-gitlab-token-for-tests"
BOT = {"id": 901, "username": "project_42_bot_entrasync", "bot": True}
REVIEWER = {"id": 17, "username": "rita", "bot": False}
PROJECT_ID = "42"
PROJECT_PATH = "contoso/access"
NOTE_LIMIT = 1_000_000


@dataclass
class State:
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # MR iid -> notes
    labels: dict[int, list[str]] = field(default_factory=dict)  # MR iid -> label names
    heads: dict[int, str] = field(default_factory=dict)  # MR iid -> source branch head
    commit_mrs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mr_commits: dict[int, list[str]] = field(default_factory=dict)  # MR iid -> its commits
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)  # (method, re)
    next_id: int = 5000

    def add_note(
        self, iid: int, body: str, author: dict[str, Any] | None = None, system: bool = False
    ) -> int:
        self.next_id += 1
        note = {"id": self.next_id, "body": body, "author": author or BOT, "system": system}
        self.notes.setdefault(iid, []).append(note)
        return self.next_id

    def bodies(self, iid: int) -> dict[int, str]:
        return {n["id"]: n["body"] for n in self.notes.get(iid, [])}


class GitLab(LoopbackApi):
    base_path = "/api/v4"

    def __init__(self) -> None:
        self.state = State()
        super().__init__()

    def handle(
        self, request: Handler, method: str, path: str, query: dict[str, list[str]], payload: Any
    ) -> None:
        if request.headers.get("PRIVATE-TOKEN") != TOKEN:
            return request.send(401, {"message": "401 Unauthorized"})
        if not path.startswith(self.base_path + "/"):
            return request.send(404, {"error": "404 Not Found"})
        path = path[len(self.base_path) :]
        for (fail_method, pattern), (status, message) in self.state.fail.items():
            if fail_method == method and re.fullmatch(pattern, path):
                return request.send(status, {"message": message})
        body = (payload or {}).get("body")
        if isinstance(body, str) and len(body) > NOTE_LIMIT:
            too_long = f"is too long (maximum is {NOTE_LIMIT} characters)"
            return request.send(400, {"message": {"note": [too_long]}})
        self._route(request, method, path, query, payload or {})

    def _route(
        self, request: Handler, method: str, path: str, query: dict[str, list[str]], data: Any
    ) -> None:
        state = self.state
        if path == "/user" and method == "GET":
            return request.send(200, BOT)
        m = re.fullmatch(r"/projects/([^/]+)(/.*)", path)
        if not m or unquote(m.group(1)) not in (PROJECT_ID, PROJECT_PATH):
            return request.send(404, {"message": "404 Project Not Found"})
        rest = m.group(2)
        if m := re.fullmatch(r"/merge_requests/(\d+)/notes", rest):
            iid = int(m.group(1))
            if method == "GET":
                return self._page(request, state.notes.get(iid, []), query)
            note_id = state.add_note(iid, data["body"])
            return request.send(201, state.notes[iid][-1] | {"id": note_id})
        if m := re.fullmatch(r"/merge_requests/(\d+)/notes/(\d+)", rest):
            note = next(
                (n for n in state.notes.get(int(m.group(1)), []) if n["id"] == int(m.group(2))),
                None,
            )
            if note is None:
                return request.send(404, {"message": "404 Note Not Found"})
            if note["author"]["id"] != BOT["id"]:
                return request.send(403, {"message": "403 Forbidden"})
            note["body"] = data["body"]
            return request.send(200, note)
        if m := re.fullmatch(r"/merge_requests/(\d+)", rest):
            iid = int(m.group(1))
            labels = state.labels.setdefault(iid, [])
            if method == "PUT":
                for name in (data.get("remove_labels") or "").split(","):
                    if name in labels:
                        labels.remove(name)
                labels += [
                    n for n in (data.get("add_labels") or "").split(",") if n and n not in labels
                ]
            return request.send(
                200, {"iid": iid, "labels": sorted(labels), "sha": state.heads.get(iid)}
            )
        if m := re.fullmatch(r"/merge_requests/(\d+)/commits", rest):
            commits = state.mr_commits.get(int(m.group(1)), [])
            return self._page(request, [{"id": sha} for sha in commits], query)
        if m := re.fullmatch(r"/repository/commits/([0-9a-f]+)/merge_requests", rest):
            return self._page(request, state.commit_mrs.get(m.group(1), []), query)
        return request.send(404, {"error": "404 Not Found"})

    def _page(self, request: Handler, items: list[Any], query: dict[str, list[str]]) -> None:
        per_page = min(int(query.get("per_page", ["20"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Next-Page": str(page + 1) if more else "",
        }
        request.send(200, chunk, headers)

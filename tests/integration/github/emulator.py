"""A loopback GitHub REST emulator: issue comments, issue labels, issues, commit pulls,
artifacts (filtered by exact ``name``).

Only what entrasync calls, with GitHub's observable behaviour: ``Link: rel="next"``
pagination honouring ``per_page``, 422 for bodies over 65,536 characters, 401 without the
token, ``x-ratelimit-remaining: 0`` on a failure whose message is the primary rate limit's
("API rate limit exceeded ..."; a secondary limit's 403 has ``retry-after`` instead), the
list of issues including pull requests, labels added by name (created when new; names match
case-blind, an existing label keeping its case; 422 past 100 on one issue)
and removed by URL-encoded name (404 when absent), GraphQL's ``viewer`` (at ``/graphql``, or
``/api/graphql`` beside ``/api/v3``), and an optional base path (GitHub Enterprise Server serves
the API under ``/api/v3``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from tests.integration.review_api import Handler, LoopbackApi

TOKEN = "fake-github-token-for-tests"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


TITLE_TOO_LONG = {
    "resource": "Issue",
    "code": "custom",
    "field": "title",
    "message": "title is too long (maximum is 256 characters)",
}


MAX_LABELS = 100  # an issue's or pull request's labels, at most
TOO_MANY = {
    "resource": "Issue",
    "code": "custom",
    "field": "labels",
    "message": "Issues cannot have more than 100 labels",
}


@dataclass
class State:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # workflow runs by id
    labels: dict[int, list[str]] = field(default_factory=dict)  # issue number -> label names
    heads: dict[int, str] = field(default_factory=dict)  # pull request number -> head commit
    user: dict[str, Any] | None = None  # GET /user; None: 403 as for installation tokens
    # The installation token's bot, who posts (user None): the workflow's, or a GitHub App's.
    bot: dict[str, Any] = field(default_factory=lambda: dict(BOT))
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)  # (method, re)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000
    foreign_next: str | None = None  # a Link rel="next" pointing at another host

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, number: int, body: str, user: dict[str, Any] | None = None) -> int:
        cid = self.new_id()
        self.comments.setdefault(number, []).append(
            {"id": cid, "body": body, "user": user or BOT, "html_url": f"/c/{cid}"}
        )
        return cid

    def calls(self, method: str, path_part: str = "") -> int:
        return sum(1 for m, path in self.requests if m == method and path_part in path)


class Emulator(LoopbackApi):
    def __init__(self, base_path: str = "") -> None:
        self.state = State()
        self.base_path = base_path
        super().__init__()

    def handle(
        self, request: Handler, method: str, path: str, query: dict[str, list[str]], payload: Any
    ) -> None:
        self.state.requests.append((method, request.path))
        _Route(request, self).run(method, path, query, payload)


class _Route:
    def __init__(self, request: Handler, emulator: Emulator) -> None:
        self.request, self.emulator = request, emulator
        self.headers, self.path = request.headers, request.path

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.request.send(status, body, headers)

    def run(self, method: str, path: str, query: dict[str, list[str]], payload: Any) -> None:
        emu = self.emulator
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"message": "Bad credentials"})
        if path == emu.base_path.removesuffix("/v3") + "/graphql":
            path = "/graphql"
        elif not path.startswith(emu.base_path + "/"):
            return self._send(404, {"message": "Not Found"})
        else:
            path = path[len(emu.base_path) :]
        for (fail_method, pattern), (status, message) in emu.state.fail.items():
            if fail_method == method and re.fullmatch(pattern, path):
                if message.startswith("API rate limit exceeded"):
                    limited = {"x-ratelimit-remaining": "0"}
                elif "secondary rate limit" in message:
                    # Past the 300 s entrasync waits out: the answer is final at once.
                    limited = {"retry-after": "400"}
                else:
                    limited = None
                if path == "/graphql" and status == 200:  # GraphQL's errors, with no data
                    kind = "RATE_LIMITED" if message.startswith("API rate limit") else "FORBIDDEN"
                    error = {"type": kind, "message": message}
                    return self._send(200, {"data": None, "errors": [error]})
                return self._send(status, {"message": message}, limited)
        body = (payload or {}).get("body")
        if isinstance(body, str) and len(body) > 65536:
            return self._send(422, {"message": "Body is too long (maximum is 65536 characters)"})
        title = (payload or {}).get("title")
        if isinstance(title, str) and len(title) > 256:  # as GitHub answers an issue's long title
            return self._send(422, {"message": "Validation Failed", "errors": [TITLE_TOO_LONG]})
        self._route(method, path, query, payload or {})

    def _route(self, method: str, path: str, query: dict[str, list[str]], data: Any) -> None:
        state = self.emulator.state
        repo = r"/repos/[^/]+/[^/]+"
        if path == "/user" and method == "GET":
            if state.user is None:
                return self._send(403, {"message": "Resource not accessible by integration"})
            return self._send(200, state.user)
        if path == "/graphql" and method == "POST":
            if data.get("query") != "query { viewer { login } }":
                return self._send(200, {"errors": [{"message": "not emulated"}]})
            viewer = state.user or state.bot
            return self._send(200, {"data": {"viewer": {"login": viewer["login"]}}})
        if m := re.fullmatch(repo + r"/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if method == "GET":
                return self._page(state.comments.get(number, []), query)
            cid = state.add_comment(number, data["body"], state.user or state.bot)
            return self._send(201, state.comments[number][-1] | {"id": cid})
        if m := re.fullmatch(repo + r"/issues/(\d+)/labels", path):
            labels = state.labels.setdefault(int(m.group(1)), [])
            if method == "POST":  # names match case-blind: an existing label keeps its case
                held = {n.casefold() for n in labels}
                new = [name for name in data["labels"] if name.casefold() not in held]
                if len(labels) + len(new) > MAX_LABELS:
                    return self._send(422, {"message": "Validation Failed", "errors": [TOO_MANY]})
                labels += new
            return self._page([{"name": name} for name in labels], query)
        if m := re.fullmatch(repo + r"/issues/(\d+)/labels/([^/]+)", path):
            labels = state.labels.setdefault(int(m.group(1)), [])
            named = [n for n in labels if n.casefold() == unquote(m.group(2)).casefold()]
            if method != "DELETE" or not named:
                return self._send(404, {"message": "Label does not exist"})
            labels.remove(named[0])
            return self._send(200, [{"name": n} for n in labels])
        if m := re.fullmatch(repo + r"/issues/comments/(\d+)", path):
            for comment in (c for cs in state.comments.values() for c in cs):
                if comment["id"] == int(m.group(1)):
                    comment["body"] = data["body"]
                    return self._send(200, comment)
            return self._send(404, {"message": "Not Found"})
        if re.fullmatch(repo + r"/issues", path):
            if method == "GET":
                wanted = query.get("state", ["open"])[0]
                return self._page([i for i in state.issues if i["state"] == wanted], query)
            number = len(state.issues) + 1
            author = state.user or state.bot
            issue = {"number": number, "state": "open", "user": author, "html_url": f"/i/{number}"}
            state.issues.append(issue | {"title": data["title"], "body": data["body"]})
            return self._send(201, state.issues[-1])
        if m := re.fullmatch(repo + r"/issues/(\d+)", path):
            issue = next(i for i in state.issues if i["number"] == int(m.group(1)))
            issue.update(data)
            return self._send(200, issue)
        if (m := re.fullmatch(repo + r"/pulls/(\d+)", path)) and method == "GET":
            number = int(m.group(1))
            return self._send(200, {"number": number, "head": {"sha": state.heads.get(number)}})
        if m := re.fullmatch(repo + r"/commits/([0-9a-f]+)/pulls", path):
            return self._page(state.commit_pulls.get(m.group(1), []), query)
        if re.fullmatch(repo + r"/actions/artifacts", path):
            named = query.get("name", [])  # exact, as GitHub's filter is
            listed = [a for a in state.artifacts if a["name"] in named or not named]
            return self._page(listed, query, key="artifacts")
        if (m := re.fullmatch(repo + r"/actions/runs/(\d+)", path)) and int(m[1]) in state.runs:
            return self._send(200, {"id": int(m[1])} | state.runs[int(m[1])])
        return self._send(404, {"message": "Not Found"})

    def _page(self, items: list[Any], query: dict[str, list[str]], key: str | None = None) -> None:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            base = f"http://{self.headers['Host']}{urlsplit(self.path).path}"
            params = {k: v[0] for k, v in query.items()} | {"page": str(page + 1)}
            nxt = self.emulator.state.foreign_next or base + "?" + urlencode(params)
            headers["Link"] = f'<{nxt}>; rel="next"'
        body: Any = {"total_count": len(items), key: chunk} if key else chunk
        self._send(200, body, headers)

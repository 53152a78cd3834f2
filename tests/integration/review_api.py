"""The loopback server the review platform emulators (GitHub, GitLab, Azure DevOps) share:
a ThreadingHTTPServer on 127.0.0.1, one lock around the state, JSON in and out."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


class LoopbackApi:
    """Serves ``handle(handler, method, path, query, payload)`` of a subclass on loopback."""

    base_path = ""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, raw path with query)
        # What a proxy or another server in the API's place answers, ahead of the API:
        # (method, path pattern) -> (status, body, content type).
        self.answers: dict[tuple[str, str], tuple[int, Any, str]] = {}
        self.answer_headers: dict[tuple[str, str], dict[str, str]] = {}  # sent with an answer
        # What a gateway answers in the API's place once, the request carried out all the same
        # (the API's own answer lost): (method, path pattern) -> (status, body, content type).
        self.carried_out: dict[tuple[str, str], tuple[int, Any, str]] = {}
        # Called with (method, path) as each request comes in, under the lock: what changes
        # on the platform's side between two requests (a comment deleted by a person).
        self.before_each: Callable[[str, str], None] | None = None
        handler = type("Handler", (Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.base_path}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def calls(self, method: str, path_part: str = "") -> int:
        return sum(1 for m, path in self.requests if m == method and path_part in path)

    def handle(
        self, request: Handler, method: str, path: str, query: dict[str, list[str]], payload: Any
    ) -> None:
        raise NotImplementedError


class Handler(BaseHTTPRequestHandler):
    api: LoopbackApi
    replaced: tuple[int, Any, str] | None = None  # sent in place of the API's answer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length)) if length else None
        with self.api.lock:
            self.api.requests.append((method, self.path))
            if self.api.before_each is not None:
                self.api.before_each(method, parts.path)
            # An answer skips handle(): it is in requests, not in GitHub's state.requests.
            for (answer_method, pattern), (status, body, kind) in self.api.answers.items():
                if answer_method == method and re.fullmatch(pattern, parts.path):
                    headers = self.api.answer_headers.get((answer_method, pattern))
                    return self.send(status, body, headers, content_type=kind)
            for key, answer in list(self.api.carried_out.items()):
                if key[0] == method and re.fullmatch(key[1], parts.path):
                    del self.api.carried_out[key]
                    self.replaced = answer
                    break
            self.api.handle(self, method, parts.path, parse_qs(parts.query), payload)

    def send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        if self.replaced is not None:  # carried out; the gateway's answer goes out instead
            (status, body, content_type), headers, self.replaced = self.replaced, None, None
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

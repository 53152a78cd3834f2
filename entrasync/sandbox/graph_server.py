"""HTTP plumbing for the sandbox servers: a threaded loopback server, TLS optional.

The emulators hand it one function, request -> response; it owns sockets, threads, framing.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # JSON-serialisable, or str for text/plain
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = GRAPH_JSON

    def encoded(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode()


Handler = Callable[[Request], Response]

# Connections waiting to be accepted. A reader opens --parallelism connections at once; past
# socketserver's default of 5 the kernel drops the others' SYNs and the clients retry them a
# second later, which stalled a plan's first requests by a second.
LISTEN_BACKLOG = 128


class LoopbackServing:
    """What the sandbox's two servers share: a thread per connection that never holds the
    process at its end, a listen backlog for a reader's first burst, and no traceback for a
    client that went away mid-answer (a stopped command's connections)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLEOFError):
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


class _Server(LoopbackServing, ThreadingHTTPServer):
    pass


class LoopbackServer:
    """Serves ``handler`` on 127.0.0.1 at an ephemeral port, one thread per connection."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        if self._server is not None:  # already serving: a second server would leak
            return
        server = _Server(("127.0.0.1", 0), _make_handler_class(self._handler))
        if self._ssl_context is not None:
            # Handshake in the connection's thread, not in the accept loop, so one slow
            # client cannot stall everyone.
            server.socket = self._ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None


def _make_handler_class(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real clients expect
        timeout = 30
        # Headers and body go out in two writes; without this, delayed ACKs add ~40 ms a page.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            if isinstance(self.connection, ssl.SSLSocket):
                try:
                    self.connection.do_handshake()
                except (ssl.SSLError, OSError):
                    self.close_connection = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=method,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = handler(request)
            payload = response.encoded()
            self.send_response(response.status)
            content_type = "text/plain" if isinstance(response.body, str) else response.content_type
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests and the demo stay quiet; counters say what happened

    return _Handler

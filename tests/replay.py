"""A real HTTP server on 127.0.0.1 that replays recorded API responses to the collectors.

Routes match a path (and optionally a predicate on the query string); each route serves its
replies in order and repeats the last one. Replies can be delayed (timeouts), truncated (a
Content-Length longer than the body), or anything a recorded response says. Every request is
logged so tests can count them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    body: bytes | str | Any = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False  # announce the full length, send half, close

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Predicate = Callable[[Request], bool]


class ReplayServer:
    def __init__(self) -> None:
        self.routes: list[tuple[str, Predicate | None, list[Any]]] = []
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                server.requests.append(request)
                reply = server._reply_for(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.payload()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                if reply.truncate:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, *replies: Reply | Callable[[Request], Reply], when: Predicate | None = None
            ) -> ReplayServer:
        """Serve ``replies`` in order on ``path`` (the last one repeats; a callable builds the reply
        from the request). Later routes win."""
        self.routes.insert(0, (path, when, list(replies)))
        return self

    def _reply_for(self, request: Request) -> Reply:
        for path, when, replies in self.routes:
            if request.path == path and (when is None or when(request)):
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                return reply(request) if callable(reply) else reply
        return Reply({"error": f"no route for {request.path}"}, status=404)

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

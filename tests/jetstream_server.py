"""A Jetstream stand-in on 127.0.0.1: a real WebSocket server replaying recorded events.

Like the real service it honours ``cursor`` (only events with ``time_us >= cursor``) and
``wantedCollections`` (commits of other collections are not sent; identity and account events
always are). After the replay it closes the stream cleanly (``end="close"``) or stays open
sending nothing (``end="idle"``). ``drop_after`` breaks the first connections abruptly (no close
frame, like a network failure) after that many events; ``reject`` refuses the first handshakes
with an HTTP status (and headers). Every connection's query is logged.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


class JetstreamServer:
    def __init__(self, events: Iterable[dict[str, Any]], *, end: str = "close", drop_after: list[int] | None = None,
                 filter_collections: bool = True, reject: list[tuple[int, dict[str, str]]] | None = None):
        self.events = list(events)
        self.end = end
        self.drop_after = list(drop_after or [])  # one entry per connection to break, in order
        self.filter_collections = filter_collections
        self.reject = list(reject or [])
        self.rejected = 0
        self.connections: list[dict[str, list[str]]] = []
        self.user_agents: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server: Server = serve(self._handle, "127.0.0.1", 0, compression=None,
                                     process_request=self._process_request)
        host, port = self._server.socket.getsockname()[:2]
        self.url = f"ws://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def param(self, connection: int, name: str) -> str | None:
        values = self.connections[connection].get(name)
        return values[0] if values else None

    def replace_events(self, events: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            self.events = list(events)

    def _wanted(self, event: dict[str, Any], collections: list[str]) -> bool:
        if not self.filter_collections or not collections or event.get("kind") != "commit":
            return True
        return event.get("commit", {}).get("collection") in collections

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        with self._lock:
            if not self.reject:
                return None
            status, headers = self.reject.pop(0)
            self.rejected += 1
        response = conn.respond(status, "refused by the test server\n")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def _handle(self, conn: ServerConnection) -> None:
        request = conn.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        with self._lock:
            self.connections.append(query)
            self.user_agents.append(request.headers.get("User-Agent", "") if request else "")
            drop = self.drop_after.pop(0) if self.drop_after else None
            events = list(self.events)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        wanted = query.get("wantedCollections", [])
        sent = 0
        try:
            for event in events:
                if (cursor is not None and event["time_us"] < cursor) or not self._wanted(event, wanted):
                    continue
                if drop is not None and sent >= drop:
                    conn.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the client sees 1006
                    return
                conn.send(json.dumps(event))
                sent += 1
            if self.end == "close":
                conn.close(1000, "replay done")
                return
            while not self._stop.is_set():  # idle: keep the connection open until the client leaves
                try:
                    conn.recv(timeout=0.05)
                except TimeoutError:
                    continue
        except (ConnectionClosed, OSError):
            return

    def __enter__(self) -> JetstreamServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._thread.join(timeout=5)

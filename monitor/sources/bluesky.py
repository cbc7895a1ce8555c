"""Bluesky: AppView post views and Jetstream events.

Readers:
- ``bluesky``: response pages of ``app.bsky.feed.searchPosts`` / ``getPosts`` / ``getQuotes``
  (``{"posts": [...]}``), ``getAuthorFeed`` / timelines (``{"feed": [{"post": ...}]}``) and
  ``getPostThread`` (``{"thread": ...}``), one page per line or a single document.
- ``bluesky_jetstream``: JSONL of Jetstream events; only ``app.bsky.feed.post`` creates become
  posts, every other event (likes, follows, deletes, identity...) is skipped.

Live collectors (same mapping functions as the readers):
- ``bluesky_jetstream``: the Jetstream firehose of new posts, matched against the targets locally;
  resumes from a persisted ``time_us`` cursor; post deletes and edits reach the store.
- ``bluesky_search``: ``app.bsky.feed.searchPosts`` back-fill, logged in with an app password
  (the AppView has refused anonymous search since early 2025).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field

from monitor import json_text
from monitor.config import SourceSettings
from monitor.http import FetchError, RateLimited, Response, user_agent, wait_from_headers
from monitor.models import Author, Engagement, Post, Provenance
from monitor.sources.api import CollectContext, Page, register_collector, register_reader
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    RecordError,
    explode_records,
    iter_json_records,
    opt_str,
    parse_time,
    records_with_errors,
    require,
    to_int,
)

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

log = logging.getLogger(__name__)

VIEWS = "bluesky"
JETSTREAM = "bluesky_jetstream"
SEARCH = "bluesky_search"
POST_COLLECTION = "app.bsky.feed.post"



def web_url(actor: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{rkey}"


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _text(record: dict[str, Any]) -> str:
    # An empty text is a real post (an image or link with no caption); a missing one is not.
    if record.get("text") is None:
        raise FieldError("record.text", "missing")
    return str(record["text"])


def _lang(record: dict[str, Any]) -> str | None:
    langs = record.get("langs")
    return opt_str(langs[0]) if isinstance(langs, list) and langs else None


def _reply_parent(record: dict[str, Any]) -> str | None:
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    return opt_str(parent.get("uri")) if isinstance(parent, dict) else None


def _quoted(record: dict[str, Any]) -> str | None:
    """The quoted post: ``embed.record`` (app.bsky.embed.record) or ``embed.record.record``
    (recordWithMedia). Embedded feeds, lists and starter packs are not quotes of a post."""
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return None
    ref = embed.get("record")
    if isinstance(ref, dict) and isinstance(ref.get("record"), dict):  # recordWithMedia
        ref = ref["record"]
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return str(uri) if isinstance(uri, str) and f"/{POST_COLLECTION}/" in uri else None


def post_from_post_view(view: dict[str, Any], provenance: Provenance) -> Post:
    """An ``app.bsky.feed.defs#postView`` (as the AppView returns it) -> Post."""
    uri = str(require(view, "uri"))
    record = view.get("record")
    if not isinstance(record, dict):
        raise FieldError("record", "missing")
    author = view.get("author") if isinstance(view.get("author"), dict) else {}
    did = opt_str(author.get("did")) or uri.removeprefix("at://").split("/", 1)[0]
    handle = opt_str(author.get("handle"))
    if handle == "handle.invalid":  # the AppView's placeholder when the handle does not verify
        handle = None
    return Post(
        platform="bluesky",
        id=uri,
        url=web_url(handle or did, _rkey(uri)),
        author=Author(id=did, handle=handle, name=opt_str(author.get("displayName"))),
        text=_text(record),
        lang=_lang(record),
        created_at=parse_time(record.get("createdAt") or view.get("indexedAt"), "record.createdAt"),
        reply_to=_reply_parent(record),
        quote_of=_quoted(record),
        engagement=Engagement(
            likes=to_int(view.get("likeCount")),
            reposts=to_int(view.get("repostCount")),
            replies=to_int(view.get("replyCount")),
            quotes=to_int(view.get("quoteCount")),
        ),
        provenance=provenance,
        raw=view,
    )


def post_from_jetstream_event(event: dict[str, Any], provenance: Provenance,
                              operations: tuple[str, ...] = ("create",)) -> Post | None:
    """A Jetstream event -> Post for ``app.bsky.feed.post`` creates, None for any other event.
    The live collector also passes ``update`` (an edited post carries its whole new record).

    Jetstream carries no handle, so the author is known by DID only (and the URL uses the DID).
    """
    if not isinstance(event, dict):
        raise FieldError("kind", f"expected a Jetstream event object, got {type(event).__name__}")
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return None
    if commit.get("collection") != POST_COLLECTION or commit.get("operation") not in operations:
        return None
    did = str(require(event, "did"))
    rkey = str(require(commit, "rkey"))
    record = commit.get("record")
    if not isinstance(record, dict):
        raise FieldError("commit.record", "missing")
    return Post(
        platform="bluesky",
        id=f"at://{did}/{POST_COLLECTION}/{rkey}",
        url=web_url(did, rkey),
        author=Author(id=did),
        text=_text(record),
        lang=_lang(record),
        created_at=parse_time(record.get("createdAt") or event.get("time_us"), "record.createdAt"),
        reply_to=_reply_parent(record),
        quote_of=_quoted(record),
        provenance=provenance,
        raw=event,
    )


# --- readers ----------------------------------------------------------------------------------


def _thread_posts(anchor: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Post views of a ``threadViewPost``: ancestors (oldest first), the post, then its replies
    depth first. Blocked and not-found nodes have no post and are skipped."""
    ancestors: list[dict[str, Any]] = []
    parent = anchor.get("parent")
    while isinstance(parent, dict):
        if isinstance(parent.get("post"), dict):
            ancestors.append(parent["post"])
        parent = parent.get("parent")
    yield from reversed(ancestors)
    yield from _subtree(anchor)


def _subtree(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    if isinstance(node.get("post"), dict):
        yield node["post"]
    for reply in node.get("replies") or []:
        yield from _subtree(reply)


def _post_views(page: Any) -> Iterator[Any]:
    if isinstance(page, list):  # a bare array of post views
        yield from page
    elif isinstance(page, dict) and isinstance(page.get("posts"), list):
        yield from page["posts"]
    elif isinstance(page, dict) and isinstance(page.get("feed"), list):
        # Feed items also carry reply context (parent/root views): those are not fetched results.
        for item in page["feed"]:
            yield item.get("post") if isinstance(item, dict) else item
    elif isinstance(page, dict) and isinstance(page.get("thread"), dict):
        yield from _thread_posts(page["thread"])
    elif isinstance(page, dict) and "uri" in page and "record" in page:
        yield page
    else:
        raise FieldError("posts", "not a Bluesky posts, feed or thread response")


_PAGE_KEYS = re.compile(r'"(posts|feed|thread)"\s*:\s*[\[{]')
_JETSTREAM = re.compile(r'"time_us"\s*:\s*\d+')
_JETSTREAM_KIND = re.compile(r'"kind"\s*:\s*"(commit|identity|account)"')


def _looks_post_views(sample: str, name: str) -> bool:
    return (sample.lstrip()[:1] in ("{", "[") and '"at://did:' in sample and f'"{POST_COLLECTION}"' in sample
            and bool(_PAGE_KEYS.search(sample)) and not _JETSTREAM.search(sample[:2048]))


def _looks_jetstream(sample: str, name: str) -> bool:
    first = sample.lstrip().split("\n", 1)[0]
    return first.startswith("{") and bool(_JETSTREAM.search(first)) and bool(_JETSTREAM_KIND.search(first))


@register_reader(VIEWS, description="Bluesky AppView pages: searchPosts, getPosts, getQuotes, feeds, threads",
                 sniff=_looks_post_views, priority=40)
def read_post_views(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(view: Any, lineno: int) -> Iterator[Post]:
        yield post_from_post_view(view, Provenance(source=VIEWS, file=name, line=lineno))

    records = iter_json_records(source, encoding=encoding)
    yield from records_with_errors(source, explode_records(source, records, _post_views), mapper)


@register_reader(JETSTREAM, description="Bluesky Jetstream events JSONL (post creates only)", sniff=_looks_jetstream,
                 priority=30)
def read_jetstream(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(event: Any, lineno: int) -> Iterator[Post]:
        post = post_from_jetstream_event(event, Provenance(source=JETSTREAM, file=name, line=lineno))
        if post is not None:
            yield post

    yield from records_with_errors(source, iter_json_records(source, encoding=encoding), mapper)


# --- live collector: Jetstream ------------------------------------------------------------------


def jetstream_url(base: str, cursor: int | None) -> str:
    """``{base}/subscribe`` with ``wantedCollections`` (posts only) and the replay ``cursor``;
    other parameters of a configured URL (e.g. ``wantedDids``) are kept."""
    parts = urlsplit(base)
    path = parts.path if parts.path.endswith("/subscribe") else parts.path.rstrip("/") + "/subscribe"
    params = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "cursor")]
    params.append(("wantedCollections", POST_COLLECTION))
    if cursor is not None:
        params.append(("cursor", str(cursor)))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(params), ""))


def _post_key(did: str, rkey: str) -> str:
    return f"bluesky:at://{did}/{POST_COLLECTION}/{rkey}"


@dataclass
class _Batch:
    """Events read since the last page. Keyed by post so an event re-delivered after a reconnect,
    or a create followed by an edit or delete, counts once and ends in its latest state."""

    posts: dict[str, Post] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    events: int = 0
    started: float = 0.0

    def add(self, event: dict[str, Any], provenance: Provenance) -> None:
        commit = event.get("commit")
        if event.get("kind") != "commit" or not isinstance(commit, dict) or commit.get("collection") != POST_COLLECTION:
            return  # likes, follows, identity and account events: only the cursor moves
        did, rkey, operation = event.get("did"), commit.get("rkey"), commit.get("operation")
        if not isinstance(did, str) or not isinstance(rkey, str):
            log.warning("%s: skipped a post event without did/rkey", JETSTREAM)
            return
        key = _post_key(did, rkey)
        if operation == "delete":
            self.posts.pop(key, None)
            self.deleted.append(key)
            return
        if operation not in ("create", "update"):
            return
        try:
            post = post_from_jetstream_event(event, provenance, operations=("create", "update"))
        except (FieldError, ValueError) as exc:
            log.warning("%s: skipped %s (%s)", JETSTREAM, key, exc)
            return
        if post is None:
            return
        if operation == "update":  # the store deletes the old version (and its scores) first
            self.deleted.append(key)
            self.posts[key] = post
        else:
            self.posts.setdefault(key, post)

    def page(self, state: dict[str, Any], more: bool, request: str | None) -> Page:
        return Page(list(self.posts.values()), state, more=more, request=request,
                    deleted=list(dict.fromkeys(self.deleted)))


def _connect(ctx: CollectContext, url: str, stack: contextlib.ExitStack) -> ClientConnection:
    """Open the WebSocket (closed with ``stack``); failures become FetchError like HTTP ones
    (offline, timeout, http)."""
    # Imported where used: ~20 ms of every command's start-up otherwise (each validates the config
    # against every source).
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI, WebSocketException
    from websockets.sync.client import connect

    host = urlsplit(url).hostname or url
    ctx.http.requests += 1  # a connection counts as a request in the run record
    try:
        ws = stack.enter_context(connect(url, open_timeout=ctx.settings.open_timeout, close_timeout=2,
                                         user_agent_header=user_agent(ctx.config.contact), max_size=2**21))
    except InvalidURI as exc:
        ctx.http.statuses["bad-url"] += 1
        raise FetchError("http", f"{JETSTREAM}: bad URL {url!r}: {exc}") from exc
    except InvalidStatus as exc:
        status = exc.response.status_code
        ctx.http.statuses[str(status)] += 1
        if status == 429:
            wait = wait_from_headers(exc.response.headers)
            retry_at = datetime.now(UTC) + timedelta(seconds=wait if wait is not None else 60)
            raise RateLimited(f"{host}: rate limited; retry after {retry_at:%H:%M:%S} UTC", retry_at) from exc
        raise FetchError("http", f"{host}: WebSocket upgrade refused: HTTP {status}", status) from exc
    except InvalidHandshake as exc:  # something answered, but not as a WebSocket server
        ctx.http.statuses["bad-handshake"] += 1
        raise FetchError("http", f"{host}: WebSocket handshake failed: {exc}") from exc
    except TimeoutError as exc:
        ctx.http.statuses["timeout"] += 1
        raise FetchError("timeout", f"{host}: WebSocket open timed out") from exc
    except (OSError, WebSocketException) as exc:
        ctx.http.statuses["network"] += 1
        raise FetchError("offline", f"cannot connect to {host}: {exc}") from exc
    ctx.http.statuses["101"] += 1
    return ws


class JetstreamSettings(SourceSettings):
    interval_minutes: float = Field(default=1, gt=0, le=7 * 24 * 60)
    max_seconds: float = Field(default=55, gt=0)  # how long one run reads the stream
    rewind_seconds: float = Field(default=5, ge=0)  # reconnect this far before the cursor
    batch_events: int = Field(default=500, ge=1)  # a page every so many events ...
    batch_seconds: float = Field(default=5, gt=0)  # ... or this many seconds
    max_reconnects: int = Field(default=5, ge=0)
    reconnect_backoff: float = Field(default=1.0, ge=0)
    open_timeout: float = Field(default=10, gt=0)
    caught_up_seconds: float = Field(default=1.0, ge=0)
    stop_when_caught_up: bool = False  # `run --once`: stop once the stream is live


class _JetstreamRun:
    """One run over the stream: connection, reconnects with backoff, batching into pages, and
    the cursor state (``cursor``: the newest ``time_us`` read; ``recent``: the ``time_us`` of post
    events within the rewind window, so re-delivered events are skipped)."""

    def __init__(self, ctx: CollectContext[JetstreamSettings], query: str, state: dict[str, Any]):
        self.ctx, self.query, self.settings = ctx, query, ctx.settings
        self.rewind_us = int(self.settings.rewind_seconds * 1_000_000)
        # The run loop stops after max_pages pages; the last one this run may yield is the final one.
        self.page_budget = max(1, self.settings.max_pages)
        self.clock = time.monotonic
        self.deadline = self.clock() + self.settings.max_seconds
        self.newest: int | None = int(state["cursor"]) if state.get("cursor") else None
        self.recent: set[int] = {int(t) for t in state.get("recent") or []}
        self.batch = _Batch()
        self.pages = self.failures = 0
        self.connected = False
        self.ws: ClientConnection | None = None
        self.stack = contextlib.ExitStack()  # closes the current connection
        self.request: str | None = None

    def flush(self, more: bool) -> Page:
        if self.newest is not None:
            self.recent = {t for t in self.recent if t >= self.newest - self.rewind_us}
        page = self.batch.page({"cursor": self.newest, "recent": sorted(self.recent)}, more, self.request)
        self.batch, self.pages = _Batch(), self.pages + 1
        return page

    def can_flush(self) -> bool:
        return bool(self.batch.events) and self.pages + 1 < self.page_budget

    def backoff(self) -> None:
        delay = self.settings.reconnect_backoff * 2 ** (self.failures - 1) * (0.5 + random.random())
        self.ctx.http.sleep(min(delay, 30.0))

    def connect(self) -> None:
        self.request = jetstream_url(self.ctx.base_url,
                                     self.newest - self.rewind_us if self.newest is not None else None)
        try:
            self.ws = _connect(self.ctx, self.request, self.stack)
        except FetchError as exc:
            # First contact: an unreachable host is one failure line (like HTTP). After a drop, a
            # bounded number of tries with exponential backoff and jitter.
            if isinstance(exc, RateLimited) or (exc.kind == "offline" and not self.connected) \
                    or (exc.status is not None and 400 <= exc.status < 500) \
                    or self.failures >= self.settings.max_reconnects:
                raise
            self.failures += 1
            self.backoff()
            return
        self.connected = True

    def dropped(self, exc: Exception) -> Iterator[Page]:
        self.stack.close()
        self.ws = None
        self.failures += 1
        if self.failures > self.settings.max_reconnects:
            raise FetchError("offline", f"{JETSTREAM}: connection lost {self.failures} times ({exc})") from exc
        log.warning("%s: connection dropped (%s); reconnecting", JETSTREAM, exc)
        if self.can_flush():
            yield self.flush(True)
        self.backoff()

    def apply(self, message: str | bytes) -> bool:
        """Add one message to the batch; True when the stream has caught up and the run should end."""
        try:
            event = json_text.loads(message)
            time_us = int(event["time_us"])
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("%s: skipped a message that is not a Jetstream event (%s)", JETSTREAM, exc)
            return False
        self.failures = 0
        if time_us in self.recent:
            return False  # re-delivered after the rewind: already applied
        commit = event.get("commit")
        if isinstance(commit, dict) and commit.get("collection") == POST_COLLECTION:
            self.recent.add(time_us)
        if not self.batch.events:
            self.batch.started = self.clock()
        self.batch.events += 1
        self.newest = time_us if self.newest is None else max(self.newest, time_us)
        self.batch.add(event, self.ctx.provenance(self.request, self.query))
        caught_up = time.time() * 1_000_000 - time_us <= self.settings.caught_up_seconds * 1_000_000
        if self.settings.stop_when_caught_up and caught_up:
            log.info("%s: caught up with the live stream", JETSTREAM)
            return True
        return False

    def pages_until_done(self) -> Iterator[Page]:
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        try:
            while (now := self.clock()) < self.deadline:
                if self.ws is None:
                    self.connect()
                    continue
                wait = self.deadline - now
                if self.can_flush():
                    wait = min(wait, self.batch.started + self.settings.batch_seconds - now)
                try:
                    message = self.ws.recv(timeout=max(0.0, wait))
                except TimeoutError:
                    if self.can_flush() and self.clock() >= self.batch.started + self.settings.batch_seconds:
                        yield self.flush(True)
                    continue
                except ConnectionClosedOK:
                    log.info("%s: the server closed the stream", JETSTREAM)
                    break
                except (ConnectionClosed, OSError) as exc:
                    yield from self.dropped(exc)
                    continue
                done = self.apply(message)
                if self.batch.events >= self.settings.batch_events and self.can_flush():
                    yield self.flush(True)
                if done:
                    break
            if self.batch.events:
                yield self.flush(False)
        finally:
            self.stack.close()


@register_collector(JETSTREAM, description="Bluesky firehose of new posts (Jetstream), matched locally",
                    base_url="wss://jetstream2.us-east.bsky.network", settings_model=JetstreamSettings,
                    streaming=True, queries=lambda config, settings: ["firehose"])
def fetch_jetstream(ctx: CollectContext[JetstreamSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """Read the stream for up to ``max_seconds``; a page every ``batch_events`` events or
    ``batch_seconds``. Each run reconnects ``rewind_seconds`` before the cursor (Jetstream
    instances do not deliver strictly in ``time_us`` order) and skips the events it already
    applied, so nothing is lost and nothing is counted twice."""
    yield from _JetstreamRun(ctx, query, state).pages_until_done()


# --- live collector: searchPosts ----------------------------------------------------------------

SEARCH_CAP = 10_000  # the search index pages at most this many results deep (offset cursor)
_SEARCH_ENV = ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")


class BlueskySearchSettings(SourceSettings):
    enabled: bool = False  # needs BLUESKY_HANDLE and BLUESKY_APP_PASSWORD
    limit: int = Field(default=100, ge=1, le=100)  # results per request
    max_results: int = Field(default=SEARCH_CAP, ge=1)  # per pass
    backfill_days: float = Field(default=3, ge=0)  # how far a first pass reaches back


class _Session:
    def __init__(self, access: str, refresh: str):
        self.access = access
        self.refresh = refresh

    def __repr__(self) -> str:  # tokens must never reach a log line or a traceback
        return "_Session(<hidden>)"


# One login per account and process: createSession is limited to 30 per 5 minutes and 300 a day
# per account, so sessions outlive a run (in memory only; tokens are never stored).
_SESSIONS: dict[tuple[str, str], _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _xrpc_error(response: Response) -> tuple[str, str]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")


class _Auth:
    def __init__(self, ctx: CollectContext):
        handle, password = ctx.env("BLUESKY_HANDLE"), ctx.env("BLUESKY_APP_PASSWORD")
        if not handle or not password:
            raise FetchError("auth", f"{SEARCH} needs {' and '.join(_SEARCH_ENV)} (an app password) in the environment")
        self.ctx = ctx
        self.handle = handle
        self._password = password
        self.key = (ctx.base_url, handle)

    def header(self) -> dict[str, str]:
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(self.key)
        return {"Authorization": f"Bearer {(session or self.login()).access}"}

    def login(self) -> _Session:
        response = self.ctx.http.request(
            "POST", f"{self.ctx.base_url}/xrpc/com.atproto.server.createSession",
            json_body={"identifier": self.handle, "password": self._password}, ok=(200, 400, 401))
        if response.status != 200:
            error, message = _xrpc_error(response)
            raise FetchError("auth", f"{SEARCH}: login as {self.handle} refused (HTTP {response.status} {error}: "
                                     f"{message}); check {' and '.join(_SEARCH_ENV)}", response.status)
        return self._keep(response, "createSession")

    def refresh(self) -> _Session:
        with _SESSIONS_LOCK:
            session = _SESSIONS.pop(self.key, None)
        if session is None:
            return self.login()
        response = self.ctx.http.request(
            "POST", f"{self.ctx.base_url}/xrpc/com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {session.refresh}"}, ok=(200, 400, 401))
        if response.status != 200:  # the refresh token expired or was revoked: log in again
            log.info("%s: session refresh refused (HTTP %s); logging in again", SEARCH, response.status)
            return self.login()
        return self._keep(response, "refreshSession")

    def _keep(self, response: Response, call: str) -> _Session:
        data = response.json()
        access = data.get("accessJwt") if isinstance(data, dict) else None
        refresh = data.get("refreshJwt") if isinstance(data, dict) else None
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise FetchError("bad-body", f"{SEARCH}: {call} returned no session tokens", response.status)
        session = _Session(access, refresh)
        with _SESSIONS_LOCK:
            _SESSIONS[self.key] = session
        return session


def _search(ctx: CollectContext, auth: _Auth, params: dict[str, Any]) -> tuple[dict[str, Any], Response]:
    url = f"{ctx.base_url}/xrpc/app.bsky.feed.searchPosts"
    for attempt in range(2):
        try:
            response = ctx.http.request("GET", url, params=params, headers=auth.header(), ok=(200, 400, 401))
        except FetchError as exc:
            if exc.status == 403:
                raise FetchError("http", f"{exc} (searchPosts refuses anonymous and unauthorised callers; is "
                                         f"base_url the account's PDS?)", 403) from exc
            raise
        if response.status == 200:
            data = response.json()
            if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
                raise FetchError("bad-body", f"{SEARCH}: unexpected response shape", response.status)
            return data, response
        error, message = _xrpc_error(response)
        if error in ("ExpiredToken", "InvalidToken") and attempt == 0:
            auth.refresh()
            continue
        raise FetchError("http", f"{url}: HTTP {response.status}: {error or 'error'}: {message}", response.status)
    raise AssertionError("unreachable")


def _sort_at(view: dict[str, Any]) -> datetime | None:
    """The AppView orders and filters search results (``since``/``until``) by ``sortAt``: the
    earlier of ``indexedAt`` and the record's ``createdAt``."""
    record = view.get("record") if isinstance(view.get("record"), dict) else {}
    times = []
    for value in (view.get("indexedAt"), record.get("createdAt")):
        try:
            times.append(parse_time(value))
        except (FieldError, ValueError):
            continue
    return min(times) if times else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value else None
    except (FieldError, ValueError):
        return None


def _search_params(query: str, limit: int, floor: datetime, until: datetime | None, cursor: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"q": query, "sort": "latest", "limit": limit, "since": _iso_ms(floor)}
    if until is not None:
        params["until"] = _iso_ms(until)
    if cursor:
        params["cursor"] = cursor
    return params


def _posts_above_floor(ctx: CollectContext[BlueskySearchSettings], query: str, response: Response,
                       views: list[Any], floor: datetime, seen: set[str], pass_newest: datetime | None,
                       oldest: datetime | None) -> tuple[list[Post], bool, datetime | None, datetime | None]:
    """One page of search results: the posts above ``floor`` not seen yet in this run (``seen`` is
    updated), whether the page reached the floor, and the pass's newest and oldest ``sortAt`` so far."""
    posts: list[Post] = []
    reached_floor = False
    for view in views:
        if not isinstance(view, dict):
            continue
        at = _sort_at(view)
        if at is not None and at <= floor:
            reached_floor = True  # stored by an earlier pass
            continue
        if at is not None:
            pass_newest = at if pass_newest is None else max(pass_newest, at)
            oldest = at if oldest is None else min(oldest, at)
        uri = str(view.get("uri"))
        if uri in seen:
            continue
        seen.add(uri)
        try:
            posts.append(post_from_post_view(view, ctx.provenance(response.url, query)))
        except (FieldError, ValueError) as exc:
            log.warning("%s: skipped %s (%s)", SEARCH, uri, exc)
    return posts, reached_floor, pass_newest, oldest


def _just_after(moment: datetime) -> datetime:
    # ``until`` is exclusive and to the millisecond: 1 ms after the oldest post reached keeps it in
    # the next page (the repeated posts at that instant are deduplicated).
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) + timedelta(milliseconds=1)


@register_collector(SEARCH, description="Bluesky searchPosts back-fill (logs in with an app password)",
                    base_url="https://bsky.social", needs="env BLUESKY_HANDLE, BLUESKY_APP_PASSWORD",
                    settings_model=BlueskySearchSettings, required_env=_SEARCH_ENV)
def fetch_search(ctx: CollectContext[BlueskySearchSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """Newest first (``sort=latest``) down to ``floor``: the newest ``sortAt`` of the last
    completed pass (``since=``), or ``backfill_days`` ago on the first run. ``newest`` only
    advances when a pass completes; a capped run resumes from ``cursor`` next time. The offset
    cursor stops at 10,000 results, so a deeper pass continues with ``until=`` below the oldest
    post reached. A run over unchanged data is one request."""
    auth = _Auth(ctx)
    limit = ctx.settings.limit
    cap = ctx.settings.max_results
    floor = _time(state.get("floor")) or _time(state.get("newest")) or \
        datetime.now(UTC) - timedelta(days=ctx.settings.backfill_days)
    pass_newest = _time(state.get("pass_newest"))
    until = _time(state.get("until"))
    cursor = state.get("cursor")
    fetched = int(state.get("fetched", 0))
    oldest = until
    seen: set[str] = set()  # offset paging over a live index repeats results when new posts arrive
    while True:
        data, response = _search(ctx, auth, _search_params(query, limit, floor, until, cursor))
        views = data["posts"]
        posts, reached_floor, pass_newest, oldest = _posts_above_floor(ctx, query, response, views, floor, seen,
                                                                       pass_newest, oldest)
        fetched += len(views)
        next_cursor = data.get("cursor")
        done = reached_floor or not views or not next_cursor
        if not done and fetched + limit > cap:
            # Below the offset cap: restart paging under the oldest post reached.
            below = _just_after(oldest) if oldest is not None else None
            if below is None or (until is not None and below >= until):
                done = True  # no progress possible: end the pass rather than loop
            else:
                until, next_cursor, fetched = below, None, 0
        if done:
            newest = max(pass_newest, floor) if pass_newest is not None else floor
            yield Page(posts, {"newest": _iso(newest)}, more=False, request=response.url)
            return
        cursor = next_cursor
        yield Page(posts, {"floor": _iso(floor), "pass_newest": _iso(pass_newest) if pass_newest else None,
                           "cursor": cursor, "until": _iso(until) if until else None, "fetched": fetched},
                   request=response.url)

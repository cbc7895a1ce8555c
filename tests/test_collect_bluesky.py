"""The Bluesky collectors against local servers: Jetstream over a real WebSocket replaying recorded
events, and searchPosts (with its login) over HTTP replaying the recorded response."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config
from monitor.http import HttpClient
from monitor.ingest.collect import RunReport, run_collector
from monitor.ingest.pool import AnalysisPool
from monitor.sources import bluesky
from monitor.sources.api import load_sources
from monitor.store import Store
from tests.conftest import FIXTURES, stored
from tests.jetstream_server import JetstreamServer
from tests.replay import ReplayServer, Reply, Request

FIX = FIXTURES / "bluesky"
POST = "app.bsky.feed.post"


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


WINDOW = jsonl(FIX / "jetstream_v1_stream_window_2026-07.jsonl")
GOLDEN = jsonl(FIX / "jetstream_v1_golden_10_events.jsonl")


def is_post(event: dict[str, Any], operation: str) -> bool:
    commit = event.get("commit") or {}
    return commit.get("collection") == POST and commit.get("operation") == operation


CREATES = [e for e in WINDOW if is_post(e, "create")]
[RECORDED_DELETE] = [e for e in WINDOW if is_post(e, "delete")]
# What Jetstream sends for wantedCollections=app.bsky.feed.post: post commits, identity and account events.
SENT = [e for e in WINDOW if e["kind"] != "commit" or e["commit"]["collection"] == POST]
WINDOW_NEWEST = max(e["time_us"] for e in SENT)


def uri(event: dict[str, Any]) -> str:
    return f"at://{event['did']}/{POST}/{event['commit']['rkey']}"


def lang(tag: str) -> str:
    return tag.split("-")[0].lower()  # the Post model keeps the primary language subtag ("en-US" -> "en")


def utc_naive(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def collect(name: str, cfg: Config, store: Store, sleeps: list[float] | None = None) -> list[RunReport]:
    sleeps = [] if sleeps is None else sleeps
    http = HttpClient(cfg.contact, timeout=5.0, backoff=0.01, sleep=sleeps.append)
    try:
        return run_collector(load_sources().collectors[name], cfg, store, AnalysisPool(cfg, workers=1), http=http)
    finally:
        http.close()


def state_of(store: Store, source: str) -> dict[str, Any]:
    [(state,)] = stored(store, f"SELECT state FROM source_state WHERE source = '{source}'")
    return json.loads(state)


# --- Jetstream ---------------------------------------------------------------------------------


def jetstream_config(config: Config, url: str, **settings: Any) -> Config:
    cfg = config.model_copy(deep=True)
    cfg.analysis.store_unmatched = True  # the recorded window mentions no target: keep every post
    cfg.sources["bluesky_jetstream"] = dict(base_url=url, **{"max_pages": 20, "max_seconds": 20,
                                                                     "reconnect_backoff": 0.01, **settings})
    return cfg


def jetstream(cfg: Config, store: Store, sleeps: list[float] | None = None) -> RunReport:
    [report] = collect("bluesky_jetstream", cfg, store, sleeps)
    return report


def test_jetstream_stores_post_creates_and_persists_the_cursor(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    with JetstreamServer(WINDOW) as server:
        report = jetstream(jetstream_config(config, server.url), store)
    assert (report.posts_new, report.coverage, report.error, report.query) == (17, "complete", None, "firehose")
    assert report.requests == 1 and report.statuses == "101x1"
    assert server.connections == [{"wantedCollections": [POST]}]  # no cursor stored yet: start live
    assert server.user_agents[0].startswith("discourse-monitor/")
    rows = stored(store, "SELECT post_id, author_id, author_handle, url, created_at, text, lang, reply_to, source, "
                         "source_query, source_request FROM posts")
    by_id = {row[0]: row for row in rows}
    assert sorted(by_id) == sorted(uri(e) for e in CREATES)
    for event in CREATES:
        record = event["commit"]["record"]
        row = by_id[uri(event)]
        assert row[1] == event["did"] and row[2] is None  # Jetstream carries no handle
        assert row[3] == f"https://bsky.app/profile/{event['did']}/post/{event['commit']['rkey']}"
        assert row[4] == utc_naive(record["createdAt"])
        assert row[5] == record["text"]
        assert row[6] == (lang(record["langs"][0]) if record.get("langs") else None)
        assert row[7] == ((record.get("reply") or {}).get("parent") or {}).get("uri")
        assert row[8:10] == ("bluesky_jetstream", "firehose") and row[10].startswith(server.url + "/subscribe?")
    assert state_of(store, "bluesky_jetstream")["cursor"] == WINDOW_NEWEST
    # The recorded delete is of a post from before the window, never stored: the firehose reports every
    # deletion on the network, and only those of stored posts are kept (with the posts they remove).
    assert stored(store, "SELECT count(*) FROM deletions") == [(0,)]


def test_second_run_rewinds_from_the_cursor_and_stores_nothing_new(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    with JetstreamServer(WINDOW) as server:
        cfg = jetstream_config(config, server.url, rewind_seconds=2)
        first = jetstream(cfg, store)
        second = jetstream(cfg, store)
    assert server.param(1, "cursor") == str(WINDOW_NEWEST - 2_000_000)
    assert (first.posts_new, second.posts_new, second.posts_seen, second.coverage) == (17, 0, 0, "complete")
    assert stored(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(17, 17)]
    assert stored(store, "SELECT count(*) FROM sightings") == [(17,)]  # re-delivered events are not re-counted
    assert state_of(store, "bluesky_jetstream")["cursor"] == WINDOW_NEWEST


def test_unmatched_posts_are_dropped_by_the_run_loop(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    with JetstreamServer(WINDOW) as server:
        cfg = jetstream_config(config, server.url)
        cfg.analysis.store_unmatched = False
        report = jetstream(cfg, store)
    assert (report.posts_new, report.unmatched) == (0, 17)
    assert state_of(store, "bluesky_jetstream")["cursor"] == WINDOW_NEWEST  # the cursor moves on all the same


def test_pages_every_batch_events_and_the_last_page_within_max_pages(config: Config, data_dir: Path) -> None:
    with JetstreamServer(WINDOW) as server:
        report = jetstream(jetstream_config(config, server.url, batch_events=8), Store(data_dir / "a"))
        capped = jetstream(jetstream_config(config, server.url, batch_events=8, max_pages=2), Store(data_dir / "b"))
    assert (report.pages, report.posts_new, report.coverage) == (3, 17, "complete")  # 8 + 8 + 4 events
    # The run loop stops after max_pages pages: the collector makes its last allowed page the final one.
    assert (capped.pages, capped.posts_new, capped.coverage) == (2, 17, "complete")


def test_updates_replace_and_deletes_remove_stored_posts(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    edited, gone = CREATES[0], CREATES[3]
    update = {**edited, "time_us": WINDOW_NEWEST + 10,
              "commit": {**edited["commit"], "operation": "update", "rev": "3mptbzzzzzz2a",
                         "record": {**edited["commit"]["record"], "text": "edited: about Sam Altman"}}}
    delete = {**RECORDED_DELETE, "did": gone["did"], "time_us": WINDOW_NEWEST + 20,
              "commit": {**RECORDED_DELETE["commit"], "rkey": gone["commit"]["rkey"]}}
    with JetstreamServer(WINDOW) as server:
        cfg = jetstream_config(config, server.url)
        jetstream(cfg, store)
        server.replace_events([*WINDOW, update, delete])
        second = jetstream(cfg, store)
    assert second.posts_new == 1  # the new version of the edited post
    assert stored(store, "SELECT count(*) FROM posts") == [(16,)]
    assert stored(store, f"SELECT text FROM posts WHERE post_id = '{uri(edited)}'") == [("edited: about Sam Altman",)]
    assert stored(store, f"SELECT count(*) FROM posts WHERE post_id = '{uri(gone)}'") == [(0,)]
    assert stored(store, "SELECT count(*) FROM post_sentiment WHERE post_key NOT IN (SELECT post_key FROM posts)") \
        == [(0,)]
    deleted = {key for (key,) in stored(store, "SELECT post_key FROM deletions")}
    assert {f"bluesky:{uri(edited)}", f"bluesky:{uri(gone)}"} <= deleted
    assert state_of(store, "bluesky_jetstream")["cursor"] == WINDOW_NEWEST + 20


def test_create_edit_and_delete_within_one_page_end_in_the_latest_state(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    first, second = CREATES[0], CREATES[1]
    base = first["time_us"]
    events = [
        {**first, "time_us": base},
        {**first, "time_us": base + 1, "commit": {**first["commit"], "operation": "update",
                                                  "record": {**first["commit"]["record"], "text": "v2"}}},
        {**second, "time_us": base + 2},
        {**RECORDED_DELETE, "did": second["did"], "time_us": base + 3,
         "commit": {**RECORDED_DELETE["commit"], "rkey": second["commit"]["rkey"]}},
    ]
    with JetstreamServer(events) as server:
        report = jetstream(jetstream_config(config, server.url), store)
    assert (report.pages, report.posts_new) == (1, 1)
    assert stored(store, "SELECT post_id, text FROM posts") == [(uri(first), "v2")]


def test_other_collections_and_identity_events_are_ignored(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    # A server that ignores wantedCollections: the golden likes, reposts, follows, profile update,
    # block, other-collection delete, identity and account events must not become posts or deletions.
    with JetstreamServer(GOLDEN, filter_collections=False) as server:
        report = jetstream(jetstream_config(config, server.url), store)
    [post] = [e for e in GOLDEN if is_post(e, "create")]
    assert report.posts_new == 1
    assert stored(store, "SELECT post_id, reply_to FROM posts") == [
        (uri(post), post["commit"]["record"]["reply"]["parent"]["uri"])]
    assert stored(store, "SELECT count(*) FROM deletions") == [(0,)]
    assert state_of(store, "bluesky_jetstream")["cursor"] == max(e["time_us"] for e in GOLDEN)


def test_a_dropped_connection_is_resumed_with_nothing_lost(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    sleeps: list[float] = []
    with JetstreamServer(WINDOW, drop_after=[10]) as server:
        report = jetstream(jetstream_config(config, server.url), store, sleeps)
    assert len(server.connections) == 2 and len(sleeps) == 1
    before_drop = max(e["time_us"] for e in SENT[:10])
    assert server.param(1, "cursor") == str(before_drop - 5_000_000)
    assert (report.posts_new, report.posts_seen, report.coverage) == (17, 0, "complete")
    assert report.statuses == "101x2"
    assert stored(store, "SELECT count(*) FROM posts") == [(17,)]


def test_a_connection_that_keeps_dropping_fails_after_bounded_tries(config: Config, data_dir: Path) -> None:
    sleeps: list[float] = []
    with JetstreamServer(WINDOW, drop_after=[0] * 10) as server:
        report = jetstream(jetstream_config(config, server.url, max_reconnects=3), Store(data_dir), sleeps)
    assert report.coverage == "failed" and report.error.startswith("offline")
    assert len(server.connections) == 4 and len(sleeps) == 3
    # Exponential backoff with jitter (0.5-1.5 times 0.01 s, 0.02 s, 0.04 s).
    assert all(0.005 * 2**n <= wait <= 0.015 * 2**n for n, wait in enumerate(sleeps))


def test_a_refused_handshake_is_retried_with_backoff(config: Config, data_dir: Path) -> None:
    sleeps: list[float] = []
    with JetstreamServer(WINDOW, reject=[(503, {})]) as server:
        report = jetstream(jetstream_config(config, server.url), Store(data_dir), sleeps)
    assert (server.rejected, len(server.connections), len(sleeps)) == (1, 1, 1)
    assert (report.posts_new, report.coverage, report.statuses) == (17, "complete", "101x1,503x1")


def test_a_rate_limited_handshake_ends_the_run_with_a_retry_time(config: Config, data_dir: Path) -> None:
    sleeps: list[float] = []
    with JetstreamServer(WINDOW, reject=[(429, {"Retry-After": "600"})]) as server:
        report = jetstream(jetstream_config(config, server.url), Store(data_dir), sleeps)
    assert server.connections == [] and sleeps == []
    assert report.coverage == "rate-limited" and report.retry_at is not None
    assert 590 <= (report.retry_at - datetime.now(UTC)).total_seconds() <= 600


def test_an_idle_stream_ends_at_max_seconds_with_the_cursor_saved(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    with JetstreamServer(WINDOW, end="idle") as server:
        report = jetstream(jetstream_config(config, server.url, max_seconds=0.6, batch_seconds=0.2), store)
    assert (report.posts_new, report.coverage) == (17, "complete")
    assert state_of(store, "bluesky_jetstream")["cursor"] == WINDOW_NEWEST


def test_stops_when_caught_up_with_the_live_stream(config: Config, data_dir: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    live = {**CREATES[0], "time_us": int(time.time() * 1_000_000)}
    with JetstreamServer([*WINDOW, live], end="idle") as server, caplog.at_level(logging.INFO):
        report = jetstream(jetstream_config(config, server.url, stop_when_caught_up=True), Store(data_dir))
    assert report.posts_new == 17 and "caught up" in caplog.text


def test_unreachable_jetstream_is_one_offline_failure(config: Config, data_dir: Path) -> None:
    store = Store(data_dir)
    sleeps: list[float] = []
    reports = collect("bluesky_jetstream", jetstream_config(config, "ws://127.0.0.1:9"), store, sleeps)
    assert len(reports) == 1 and sleeps == []
    assert reports[0].coverage == "failed" and reports[0].error.startswith("offline")
    assert stored(store, "SELECT coverage, error LIKE 'offline%' FROM runs") == [("failed", True)]


def test_jetstream_url_keeps_configured_parameters() -> None:
    assert bluesky.jetstream_url("wss://js.example/subscribe?wantedDids=did:plc:x", 12) == (
        "wss://js.example/subscribe?wantedDids=did%3Aplc%3Ax&wantedCollections=app.bsky.feed.post&cursor=12")
    assert bluesky.jetstream_url("ws://127.0.0.1:1", None) == \
        "ws://127.0.0.1:1/subscribe?wantedCollections=app.bsky.feed.post"


# --- searchPosts -------------------------------------------------------------------------------

CASSETTE = yaml.safe_load((FIX / "searchPosts_redistricting_2025-05.vcr.yml").read_text(encoding="utf-8"))
RECORDED_RESPONSE = CASSETTE["http_interactions"][0]["response"]
RECORDED = json.loads(RECORDED_RESPONSE["body"]["string"])
VIEWS: list[dict[str, Any]] = RECORDED["posts"]
# The recorded headers (RateLimit-*, atproto-content-labelers...), less those about the recorded transfer.
HEADERS = {k: str(v) for k, v in RECORDED_RESPONSE["headers"].items()
           if k.lower() not in ("content-encoding", "transfer-encoding", "connection", "date", "content-length")}

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
LOGIN = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
HANDLE = "monitor-test.bsky.social"
PASSWORD = "k3yq-7vbn-2mzx-9wlp"  # an app password's shape


def session(n: int) -> dict[str, Any]:
    return {"did": "did:plc:testaccount", "handle": HANDLE, "accessJwt": f"access-{n}", "refreshJwt": f"refresh-{n}",
            "active": True}


def bearer(token: str, cursor: str | None = None, **params: str | None):
    def match(r: Request) -> bool:
        return (r.headers.get("authorization") == f"Bearer {token}" and r.param("cursor") == cursor
                and all(r.param(k) == v for k, v in params.items()))
    return match


def page(views: list[dict[str, Any]], cursor: str | None) -> Reply:
    body: dict[str, Any] = {"posts": views}
    if cursor is not None:
        body["cursor"] = cursor
    return Reply(body, headers=HEADERS)


def sort_at(view: dict[str, Any]) -> datetime:
    times = (view["indexedAt"], view["record"]["createdAt"])
    return min(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)


def ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def search(config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BLUESKY_HANDLE", HANDLE)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)
    bluesky._SESSIONS.clear()  # sessions outlive runs within a process; not across tests
    with ReplayServer() as server:
        server.add(SEARCH, Reply({"error": "Forbidden", "message": "search requires auth"}, status=403))
        server.add(LOGIN, Reply(session(1)))
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True
        # The recorded page is from 2025: reach back far enough on the first run.
        cfg.sources["bluesky_search"] = dict(base_url=server.url, queries=["redistricting"], max_pages=10,
                                                     backfill_days=5000)
        yield server, cfg, Store(data_dir)
    bluesky._SESSIONS.clear()


def searched(server: ReplayServer) -> list[Request]:
    return [r for r in server.requests if r.path == SEARCH]


def test_login_then_pages_with_cursor(search, caplog: pytest.LogCaptureFixture) -> None:
    server, cfg, store = search
    server.add(SEARCH, page(VIEWS[:10], "10"), when=bearer("access-1"))
    server.add(SEARCH, page(VIEWS[10:20], "20"), when=bearer("access-1", "10"))
    server.add(SEARCH, page(VIEWS[20:], None), when=bearer("access-1", "20"))
    with caplog.at_level(logging.DEBUG):
        [report] = collect("bluesky_search", cfg, store)
    assert (report.pages, report.posts_new, report.posts_seen, report.coverage) == (3, 25, 0, "complete")
    assert report.statuses == "200x4"
    [login] = [r for r in server.requests if r.path == LOGIN]
    assert login.method == "POST" and json.loads(login.body) == {"identifier": HANDLE, "password": PASSWORD}
    assert [r.param("cursor") for r in searched(server)] == [None, "10", "20"]
    for r in searched(server):
        assert (r.param("q"), r.param("sort"), r.param("limit")) == ("redistricting", "latest", "100")
        assert r.param("since") is not None and r.headers["user-agent"].startswith("discourse-monitor/")
    # Neither the password nor the tokens reach the logs, the run records or the stored state.
    everything = caplog.text + json.dumps(stored(store, "SELECT * FROM runs"), default=str) + \
        json.dumps(stored(store, "SELECT * FROM source_state"), default=str)
    for secret in (PASSWORD, "access-1", "refresh-1"):
        assert secret not in everything
    assert state_of(store, "bluesky_search") == {"newest": "2025-05-19T17:10:09.561858Z"}


def test_mapping_matches_the_recorded_post_views(search) -> None:
    server, cfg, store = search
    server.add(SEARCH, page(VIEWS, None), when=bearer("access-1"))
    collect("bluesky_search", cfg, store)
    rows = stored(store, "SELECT post_id, post_key, url, author_id, author_handle, author_name, text, lang, "
                         "created_at, reply_to, quote_of, likes, reposts, replies, quotes, source, source_query, "
                         "source_request FROM posts")
    by_id = {row[0]: row for row in rows}
    assert sorted(by_id) == sorted(v["uri"] for v in VIEWS)
    for view in VIEWS:
        record, author = view["record"], view["author"]
        embed = record.get("embed") or {}
        quoted = (embed.get("record") or {}).get("record", embed.get("record")) or {}
        row = by_id[view["uri"]]
        assert row[1] == f"bluesky:{view['uri']}"
        assert row[2] == f"https://bsky.app/profile/{author['handle']}/post/{view['uri'].rsplit('/', 1)[1]}"
        assert row[3:6] == (author["did"], author["handle"], author.get("displayName") or None)
        assert row[6] == record["text"]
        assert row[7] == (lang(record["langs"][0]) if record.get("langs") else None)
        assert row[8] == utc_naive(record["createdAt"])
        assert row[9] == ((record.get("reply") or {}).get("parent") or {}).get("uri")
        assert row[10] == (quoted.get("uri") if POST in str(quoted.get("uri")) else None)
        assert row[11:15] == (view["likeCount"], view["repostCount"], view["replyCount"], view["quoteCount"])
        assert row[15:17] == ("bluesky_search", "redistricting") and row[17].startswith(server.url + SEARCH + "?")
    assert sum(row[9] is not None for row in rows) == 12 and sum(row[10] is not None for row in rows) == 2


def test_incremental_second_run_is_one_request_and_stores_nothing(search) -> None:
    server, cfg, store = search
    server.add(SEARCH, page(VIEWS, "25"), when=bearer("access-1"))
    newest = max(sort_at(v) for v in VIEWS)
    # since= is inclusive: the AppView answers with the newest post stored last time.
    server.add(SEARCH, page(VIEWS[:1], "1"), when=bearer("access-1", since=ms(newest)))
    server.add(SEARCH, page([], None), when=bearer("access-1", "25"))
    [first] = collect("bluesky_search", cfg, store)
    [second] = collect("bluesky_search", cfg, store)
    assert (first.posts_new, first.pages) == (25, 2)
    assert (second.pages, second.requests, second.posts_new, second.posts_seen) == (1, 1, 0, 0)
    assert server.count(LOGIN) == 1  # the session is reused by the next run
    assert searched(server)[-1].param("since") == "2025-05-19T17:10:09.561Z"
    assert stored(store, "SELECT count(*) FROM posts") == [(25,)]
    assert state_of(store, "bluesky_search") == {"newest": "2025-05-19T17:10:09.561858Z"}


def test_a_capped_run_resumes_from_its_cursor(search) -> None:
    server, cfg, store = search
    cfg.sources["bluesky_search"]["max_pages"] = 2
    server.add(SEARCH, page(VIEWS[:10], "10"), when=bearer("access-1"))
    server.add(SEARCH, page(VIEWS[10:20], "20"), when=bearer("access-1", "10"))
    server.add(SEARCH, page(VIEWS[20:], None), when=bearer("access-1", "20"))
    [first] = collect("bluesky_search", cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (2, 20, "capped")
    assert state_of(store, "bluesky_search")["cursor"] == "20"
    [second] = collect("bluesky_search", cfg, store)
    assert (second.pages, second.posts_new, second.coverage) == (1, 5, "complete")
    # The resumed pass keeps its floor: since= is the same in both runs.
    assert len({r.param("since") for r in searched(server)}) == 1
    assert state_of(store, "bluesky_search") == {"newest": "2025-05-19T17:10:09.561858Z"}


def test_results_repeated_by_shifting_pages_are_counted_once(search) -> None:
    server, cfg, store = search
    server.add(SEARCH, page(VIEWS[:10], "10"), when=bearer("access-1"))
    server.add(SEARCH, page(VIEWS[7:17], "20"), when=bearer("access-1", "10"))  # three new posts pushed these down
    server.add(SEARCH, page(VIEWS[17:], None), when=bearer("access-1", "20"))
    [report] = collect("bluesky_search", cfg, store)
    assert (report.posts_new, report.posts_seen) == (25, 0)
    assert stored(store, "SELECT count(*) FROM sightings") == [(25,)]


def test_the_result_cap_continues_below_the_oldest_post(search) -> None:
    server, cfg, store = search
    settings = cfg.sources["bluesky_search"]
    settings["max_results"], settings["limit"] = 10, 5  # stands for the 10,000-result offset cap
    first_until = ms(sort_at(VIEWS[9]) + timedelta(milliseconds=1))
    second_until = ms(sort_at(VIEWS[18]) + timedelta(milliseconds=1))
    server.add(SEARCH, page(VIEWS[:5], "5"), when=bearer("access-1", until=None))
    server.add(SEARCH, page(VIEWS[5:10], "10"), when=bearer("access-1", "5", until=None))
    server.add(SEARCH, page(VIEWS[9:14], "5"), when=bearer("access-1", until=first_until))
    server.add(SEARCH, page(VIEWS[14:19], "10"), when=bearer("access-1", "5", until=first_until))
    server.add(SEARCH, page(VIEWS[18:], None), when=bearer("access-1", until=second_until))
    [report] = collect("bluesky_search", cfg, store)
    assert [(r.param("cursor"), r.param("until")) for r in searched(server)] == [
        (None, None), ("5", None), (None, first_until), ("5", first_until), (None, second_until)]
    assert all(r.param("limit") == "5" for r in searched(server))
    assert (report.pages, report.posts_new, report.posts_seen, report.coverage) == (5, 25, 0, "complete")


def test_unauthenticated_search_is_refused_with_403(search) -> None:
    server, cfg, store = search
    server.add(SEARCH, page(VIEWS, None), when=bearer("a-token-the-server-does-not-know"))
    [report] = collect("bluesky_search", cfg, store)
    assert report.coverage == "failed" and "HTTP 403" in report.error and "PDS" in report.error
    assert searched(server)[0].headers["authorization"] == "Bearer access-1"


def test_missing_credentials_fail_without_a_request(search, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = search
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    collector = load_sources().collectors["bluesky_search"]
    assert collector.missing() == ["BLUESKY_APP_PASSWORD"] and not collector.settings_model().enabled
    [report] = collect("bluesky_search", cfg, store)
    assert report.coverage == "failed" and report.error.startswith("auth:") and server.requests == []


def test_a_refused_login_is_one_failure_without_the_password(search, caplog: pytest.LogCaptureFixture) -> None:
    server, cfg, store = search
    server.add(LOGIN, Reply({"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                            status=401))
    with caplog.at_level(logging.DEBUG):
        [report] = collect("bluesky_search", cfg, store)
    assert report.coverage == "failed" and report.error.startswith("auth:") and "Invalid identifier" in report.error
    assert PASSWORD not in report.error and PASSWORD not in caplog.text
    assert server.count(SEARCH) == 0


def test_expired_token_is_refreshed_and_the_request_repeated(search) -> None:
    server, cfg, store = search
    server.add(SEARCH, Reply({"error": "ExpiredToken", "message": "Token has expired"}, status=400),
               when=bearer("access-1"))
    server.add(REFRESH, Reply(session(2)), when=lambda r: r.headers.get("authorization") == "Bearer refresh-1")
    server.add(SEARCH, page(VIEWS, None), when=bearer("access-2"))
    [report] = collect("bluesky_search", cfg, store)
    assert (report.posts_new, report.coverage, report.statuses) == (25, "complete", "200x3,400x1")
    assert [r.path for r in server.requests] == [LOGIN, SEARCH, REFRESH, SEARCH]
    assert server.requests[2].method == "POST"
    # The refreshed session is the one kept for the next run.
    assert bluesky._SESSIONS[(server.url, HANDLE)].access == "access-2"


def test_an_expired_refresh_token_logs_in_again(search) -> None:
    server, cfg, store = search
    server.add(LOGIN, Reply(session(1)), Reply(session(3)))
    server.add(SEARCH, Reply({"error": "ExpiredToken", "message": "Token has expired"}, status=401),
               when=bearer("access-1"))
    server.add(REFRESH, Reply({"error": "ExpiredToken", "message": "Token has expired"}, status=400))
    server.add(SEARCH, page(VIEWS, None), when=bearer("access-3"))
    [report] = collect("bluesky_search", cfg, store)
    assert report.posts_new == 25
    assert [r.path for r in server.requests] == [LOGIN, SEARCH, REFRESH, LOGIN, SEARCH]


def test_429_waits_for_ratelimit_reset_then_succeeds(search) -> None:
    server, cfg, store = search
    reset = int(time.time()) + 30
    limited = {**HEADERS, "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}
    server.add(SEARCH, Reply({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, status=429,
                             headers=limited), page(VIEWS, None), when=bearer("access-1"))
    sleeps: list[float] = []
    [report] = collect("bluesky_search", cfg, store, sleeps)
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31
    assert (report.posts_new, report.statuses) == (25, "200x2,429x1")


def test_a_long_rate_limit_ends_the_run_with_a_retry_time(search) -> None:
    server, cfg, store = search
    reset = int(time.time()) + 3600
    server.add(SEARCH, Reply({"error": "RateLimitExceeded"}, status=429,
                             headers={**HEADERS, "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}),
               when=bearer("access-1"))
    sleeps: list[float] = []
    reports = collect("bluesky_search", cfg, store, sleeps)
    assert len(reports) == 1 and sleeps == []
    assert reports[0].coverage == "rate-limited" and abs(reports[0].retry_at.timestamp() - reset) < 5
    assert stored(store, "SELECT coverage FROM runs") == [("rate-limited",)]


def test_one_login_serves_every_query(search) -> None:
    server, cfg, store = search
    cfg.sources["bluesky_search"]["queries"] = ["redistricting", "gerrymander"]
    server.add(SEARCH, page(VIEWS[:5], None), when=lambda r: r.param("q") == "redistricting")
    server.add(SEARCH, page(VIEWS[5:8], None), when=lambda r: r.param("q") == "gerrymander")
    reports = collect("bluesky_search", cfg, store)
    assert [(r.query, r.posts_new) for r in reports] == [("redistricting", 5), ("gerrymander", 3)]
    assert server.count(LOGIN) == 1

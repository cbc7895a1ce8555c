"""The Reddit collector against a local server replaying recorded Reddit Data API responses.

Bodies and headers come from the praw betamax cassettes in tests/fixtures/reddit: a 2016 search
Listing (six t3 results; served newest first, as ``sort=new`` would), the OAuth token response,
and the 2025 responses with ``x-ratelimit-remaining: 998.0`` / ``x-ratelimit-reset: 167``.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config
from monitor.sources import reddit
from monitor.store import Store
from tests.cassettes import response_body
from tests.conftest import FIXTURES, assert_secrets_not_stored, run_source, stored
from tests.replay import ReplayServer, Reply

FIX = FIXTURES / "reddit"
SEARCH = FIX / "search_listing_t3_2016.betamax.json"
RATELIMIT = FIX / "submission_comments_ratelimit_headers_2025.betamax.json"
CLIENT_ID, CLIENT_SECRET, ACCESS_TOKEN = "app-id-4f2c", "app-secret-9d81e7", "oauth-token-5b3e0a"


def recorded_headers(cassette: Path, method: str, uri_contains: str) -> dict[str, str]:
    doc = json.loads(cassette.read_text(encoding="utf-8"))
    for item in doc["interactions"]:
        if item["request"]["method"] == method and uri_contains in item["request"]["uri"]:
            return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in item["response"]["headers"].items()}
    raise LookupError(uri_contains)


LISTING: dict[str, Any] = json.loads(response_body(SEARCH, "search"))
CHILDREN = sorted(LISTING["data"]["children"], key=lambda c: -c["data"]["created_utc"])  # sort=new order
HEADERS_2016 = recorded_headers(SEARCH, "GET", "search")
HEADERS_2025 = recorded_headers(RATELIMIT, "GET", "/comments/")
TOKEN_HEADERS = recorded_headers(SEARCH, "POST", "access_token")
TOKEN_BODY = {**json.loads(next(i["response"]["body"]["string"] for i in json.loads(SEARCH.read_text())["interactions"]
                                if "access_token" in i["request"]["uri"])), "access_token": ACCESS_TOKEN}
NEW_THING = json.loads(response_body(RATELIMIT, "/comments/"))[0]["data"]["children"][0]  # a 2025 t3
NAMES = [c["data"]["name"] for c in CHILDREN]
PATH = "/search.json"


def listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {"kind": "Listing", "data": {**LISTING["data"], "children": children, "after": after,
                                        "dist": len(children)}}


def at(after: str | None):
    return lambda r: r.param("after") == after


def serve_pages(server: ReplayServer, path: str, size: int, headers: dict[str, str] | None = None) -> None:
    """The six results in pages of ``size``, each page's ``after`` the fullname of its last child."""
    after = None
    for start in range(0, len(CHILDREN), size):
        chunk = CHILDREN[start:start + size]
        nxt = chunk[-1]["data"]["name"] if start + size < len(CHILDREN) else None
        server.add(path, Reply(listing(chunk, nxt), headers=headers or HEADERS_2016), when=at(after))
        after = nxt


collect = functools.partial(run_source, "reddit")


def state_of(store: Store) -> dict[str, Any]:
    [(state,)] = stored(store, "SELECT state FROM source_state WHERE source = 'reddit'")
    return json.loads(state)


@pytest.fixture
def rd(config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(reddit, "_TOKENS", {})  # servers may reuse a port: never reuse a token across tests
    with ReplayServer() as server:
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True  # keep every result, not only those naming a target
        cfg.sources["reddit"] = dict(base_url=server.url, queries=["praw oauth search"], max_pages=10)
        yield server, cfg, Store(data_dir)


def test_pages_then_incremental_runs(rd) -> None:
    server, cfg, store = rd
    serve_pages(server, PATH, 2)
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (3, 6, "complete")
    assert [r.param("after") for r in server.requests] == [None, NAMES[1], NAMES[3]]
    for r in server.requests:
        assert (r.param("q"), r.param("sort"), r.param("limit"), r.param("raw_json")) == (
            '"praw oauth search"', "new", "100", "1")
        assert r.param("restrict_sr") is None and "authorization" not in r.headers
        assert r.headers["user-agent"].startswith("discourse-monitor/") and "+" in r.headers["user-agent"]
    newest = CHILDREN[0]["data"]["created_utc"]
    assert state_of(store) == {"all": {"newest": newest, "newest_ids": [NAMES[0]]}}

    # Unchanged: the first page holds only posts already stored -> one request, nothing stored.
    [second] = collect(cfg, store)
    assert (second.pages, second.requests, second.posts_new, second.posts_seen) == (1, 1, 0, 0)

    # One new post on top: still one request; it stops at the newest post of the last pass.
    server.add(PATH, Reply(listing([NEW_THING, *CHILDREN[:2]], NAMES[1]), headers=HEADERS_2025), when=at(None))
    [third] = collect(cfg, store)
    assert (third.requests, third.posts_new, third.posts_seen, third.coverage) == (1, 1, 0, "complete")
    assert state_of(store) == {"all": {"newest": NEW_THING["data"]["created_utc"], "newest_ids": ["t3_1kh35wk"]}}
    assert stored(store, "SELECT count(*) FROM posts") == [(7,)]
    runs = stored(store, "SELECT coverage, pages, posts_new FROM runs ORDER BY started_at")
    assert runs == [("complete", 3, 6), ("complete", 1, 0), ("complete", 1, 1)]


def test_capped_run_resumes_with_the_after_cursor(rd) -> None:
    server, cfg, store = rd
    cfg.sources["reddit"]["max_pages"] = 2
    serve_pages(server, PATH, 2)
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (2, 4, "capped")
    assert state_of(store)["all"]["after"] == NAMES[3] and state_of(store)["all"]["newest"] == 0
    [second] = collect(cfg, store)
    assert (second.posts_new, second.coverage) == (2, "complete")
    assert [r.param("after") for r in server.requests] == [None, NAMES[1], NAMES[3]]
    assert state_of(store)["all"] == {"newest": CHILDREN[0]["data"]["created_utc"], "newest_ids": [NAMES[0]]}


def test_subreddits_are_searched_too_and_results_stored_once(rd) -> None:
    server, cfg, store = rd
    cfg.sources["reddit"]["subreddits"] = ["r/redditdev", "learnpython"]
    serve_pages(server, PATH, 6)
    in_sub = [c for c in CHILDREN if c["data"]["subreddit"] == "redditdev"]
    server.add("/r/redditdev/search.json", Reply(listing(in_sub, None), headers=HEADERS_2016))
    server.add("/r/learnpython/search.json", Reply(listing([], None), headers=HEADERS_2016))
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new, report.posts_seen) == ("complete", 6, len(in_sub))
    assert [r.path for r in server.requests] == [PATH, "/r/redditdev/search.json", "/r/learnpython/search.json"]
    assert [r.param("restrict_sr") for r in server.requests] == [None, "1", "1"]
    state = state_of(store)
    top = in_sub[0]["data"]
    assert state["r/redditdev"] == {"newest": top["created_utc"], "newest_ids": [top["name"]]}
    assert state["r/learnpython"] == {}  # nothing found yet: the next run reads from the top again
    assert stored(store, "SELECT count(*) FROM posts") == [(6,)]


def test_mapping_matches_the_recorded_listing(rd) -> None:
    server, cfg, store = rd
    server.add(PATH, Reply(listing([NEW_THING, *CHILDREN], None), headers=HEADERS_2025))
    collect(cfg, store)
    rows = stored(store, "SELECT post_id, url, author_id, author_handle, author_name, created_at, text, lang, "
                         "reply_to, quote_of, repost_of, likes, reposts, replies, quotes, platform, source, "
                         "source_query, source_request FROM posts")
    by_id = {row[0]: row for row in rows}
    for child in [NEW_THING, *CHILDREN]:
        thing = child["data"]
        row = by_id[thing["name"]]
        assert row[1] == "https://www.reddit.com" + thing["permalink"].split("?")[0]
        assert row[2] == thing.get("author_fullname") and row[3] == thing["author"] and row[4] is None
        assert row[5] == datetime.fromtimestamp(thing["created_utc"], UTC).replace(tzinfo=None)
        expected = thing["title"] + (f"\n\n{thing['selftext']}" if thing["selftext"].strip() else "")
        assert row[6] == expected
        assert row[7:11] == (None, None, None, None)
        assert row[11:15] == (thing["score"], None, thing["num_comments"], None)
        assert row[15:18] == ("reddit", "reddit", "praw oauth search")
        assert row[18].startswith(f"{server.url}{PATH}?")
    first = by_id["t3_3gpbiu"]
    assert first[1] == "https://www.reddit.com/r/redditdev/comments/3gpbiu/prawoauth2util_problem_using_get_banned_raise/"
    assert first[3] == "dClauzel" and first[5] == datetime(2015, 8, 12, 9, 8, 34)
    assert first[6].startswith("[PRAW][OAuth2Util] Problem using get_banned")
    new = by_id["t3_1kh35wk"]
    assert new[2] == "t2_6hk60" and new[6] == "Test Title\n\nTesting **PRAW** link submission *with markdown selftext*."


def test_oauth_token_then_bearer_requests_to_the_oauth_host(rd, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = rd
    monkeypatch.setenv("REDDIT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", CLIENT_SECRET)
    cfg.sources["reddit"] = dict(base_url=f"{server.url}/www", auth_url=f"{server.url}/auth",
                                         oauth_url=f"{server.url}/oauth", queries=["praw oauth search"])
    server.add("/auth/api/v1/access_token", Reply(TOKEN_BODY, headers=TOKEN_HEADERS))
    serve_pages(server, "/oauth/search.json", 3, HEADERS_2025)
    [first] = collect(cfg, store)
    assert (first.coverage, first.posts_new) == ("complete", 6)
    token_call, *searches = server.requests
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert (token_call.method, token_call.path, token_call.body) == (
        "POST", "/auth/api/v1/access_token", b"grant_type=client_credentials")
    assert token_call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_call.headers["authorization"] == f"Basic {basic}"
    assert [r.path for r in searches] == ["/oauth/search.json"] * 2
    assert all(r.headers["authorization"] == f"Bearer {ACCESS_TOKEN}" for r in searches)
    # The token is reused by the next run (no new token request) and never stored.
    [second] = collect(cfg, store)
    assert second.requests == 1 and server.count("/auth/api/v1/access_token") == 1
    assert server.count("/www/search.json") == 0
    assert_secrets_not_stored(store, CLIENT_SECRET, ACCESS_TOKEN, basic)


def test_rejected_token_is_renewed_once(rd, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = rd
    monkeypatch.setenv("REDDIT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", CLIENT_SECRET)
    cfg.sources["reddit"] = dict(auth_url=f"{server.url}/auth", oauth_url=f"{server.url}/oauth",
                                         queries=["praw oauth search"])
    server.add("/auth/api/v1/access_token", Reply(TOKEN_BODY, headers=TOKEN_HEADERS))
    server.add("/oauth/search.json", Reply({"message": "Unauthorized", "error": 401}, status=401),
               Reply(listing(CHILDREN, None), headers=HEADERS_2025))
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new) == ("complete", 6)
    assert server.count("/auth/api/v1/access_token") == 2 and report.statuses == "200x3,401x1"


def test_refused_credentials_fail_without_leaking_them(rd, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = rd
    monkeypatch.setenv("REDDIT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", CLIENT_SECRET)
    cfg.sources["reddit"] = dict(auth_url=f"{server.url}/auth", oauth_url=f"{server.url}/oauth",
                                         queries=["praw oauth search"])
    server.add("/auth/api/v1/access_token", Reply({"error": "invalid_grant"}, headers=TOKEN_HEADERS))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.error.startswith("auth:") and "invalid_grant" in report.error
    assert server.count("/oauth/search.json") == 0
    assert_secrets_not_stored(store, CLIENT_SECRET)


def test_2025_rate_limit_headers_allow_the_run(rd) -> None:
    server, cfg, store = rd
    assert (HEADERS_2025["x-ratelimit-remaining"], HEADERS_2025["x-ratelimit-reset"]) == ("998.0", "167")
    serve_pages(server, PATH, 2, HEADERS_2025)
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert (report.coverage, report.pages, report.posts_new, sleeps) == ("complete", 3, 6, [])


def test_used_up_quota_stops_until_the_reset(rd) -> None:
    server, cfg, store = rd
    used_up = {**HEADERS_2025, "x-ratelimit-remaining": "0.0", "x-ratelimit-used": "1000"}
    serve_pages(server, PATH, 2)
    server.add(PATH, Reply(listing(CHILDREN[:2], NAMES[1]), headers=used_up), when=at(None))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert (report.coverage, report.requests, report.posts_new, sleeps) == ("rate-limited", 1, 2, [])
    expected = datetime.now(UTC) + timedelta(seconds=167)
    assert report.retry_at is not None and abs((report.retry_at - expected).total_seconds()) < 5
    assert state_of(store)["all"]["after"] == NAMES[1]
    # After the reset the pass continues where it stopped.
    [again] = collect(cfg, store)
    assert (again.coverage, again.posts_new) == ("complete", 4)
    assert [r.param("after") for r in server.requests] == [None, NAMES[1], NAMES[3]]


def test_429_with_reddit_reset_seconds_then_success(rd) -> None:
    server, cfg, store = rd
    limited = {**HEADERS_2025, "x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "3"}
    server.add(PATH, Reply({"message": "Too Many Requests", "error": 429}, status=429, headers=limited),
               Reply(listing(CHILDREN, None), headers=HEADERS_2025))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [3.0] and (report.posts_new, report.statuses) == (6, "200x1,429x1")


def test_429_with_retry_after_then_success(rd) -> None:
    server, cfg, store = rd
    server.add(PATH, Reply({"message": "Too Many Requests", "error": 429}, status=429, headers={"Retry-After": "7"}),
               Reply(listing(CHILDREN, None), headers=HEADERS_2016))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [7.0] and report.posts_new == 6


def test_long_reset_ends_the_run_with_a_retry_time(rd) -> None:
    server, cfg, store = rd
    limited = {**HEADERS_2025, "x-ratelimit-remaining": "0.0"}  # reset 167 s: longer than the client waits
    server.add(PATH, Reply({"message": "Too Many Requests", "error": 429}, status=429, headers=limited))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [] and report.coverage == "rate-limited" and report.retry_at is not None


def test_server_errors_then_success_with_backoff(rd) -> None:
    server, cfg, store = rd
    server.add(PATH, Reply("<html>502 Bad Gateway</html>", status=502), Reply("", status=503),
               Reply(listing(CHILDREN, None), headers=HEADERS_2016))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert report.posts_new == 6 and len(sleeps) == 2 and report.statuses == "200x1,502x1,503x1"


def test_timeout_then_success(rd) -> None:
    server, cfg, store = rd
    server.add(PATH, Reply(listing(CHILDREN, None), headers=HEADERS_2016, delay=1.0),
               Reply(listing(CHILDREN, None), headers=HEADERS_2016))
    [report] = collect(cfg, store, timeout=0.3)
    assert report.posts_new == 6 and "timeout" in report.statuses


@pytest.mark.parametrize("bad", [
    Reply("<!doctype html><html><head><title>Reddit - Dive into anything</title></head><body>whoa there, "
          "pardner!</body></html>", headers={"Content-Type": "text/html; charset=utf-8"}),
    Reply("this is not json"),
    Reply(listing(CHILDREN[2:], None), truncate=True),
], ids=["html-200", "not-json", "truncated"])
def test_bad_bodies_fail_the_run_after_retries_and_keep_earlier_pages(rd, bad: Reply) -> None:
    server, cfg, store = rd
    server.add(PATH, Reply(listing(CHILDREN[:2], NAMES[1]), headers=HEADERS_2016), when=at(None))
    server.add(PATH, bad, when=at(NAMES[1]))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.posts_new == 2
    assert report.error and ("bad-body" in report.error or "gave up" in report.error)
    assert stored(store, "SELECT count(*) FROM posts") == [(2,)]
    server.add(PATH, Reply(listing(CHILDREN[2:], None), headers=HEADERS_2016), when=at(NAMES[1]))
    [again] = collect(cfg, store)
    assert (again.posts_new, again.coverage) == (4, "complete")

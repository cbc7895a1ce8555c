"""The X collector against a local server replaying recorded X API v2 responses.

Bodies: the tweepy cassette's minimal ``search/recent`` response (id, text and edit history only;
gzip in the cassette) with its real ``x-rate-limit-*`` headers, twarc-csv's expanded #brexit page
(100 tweets with every expansion; twarc's own ``__twarc`` stamp removed, as the API does not send
it), and twarc-csv's lookup of an edited tweet.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config
from monitor.sources.api import load_sources
from monitor.sources.base import parse_time
from monitor.sources.x import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, x_queries
from monitor.store import Store, WriteBatch
from monitor.store.rows import utcnow_naive
from tests.cassettes import response_body
from tests.conftest import FIXTURES, assert_secrets_not_stored, run_source, stored
from tests.replay import ReplayServer, Reply

FIX = FIXTURES / "x"
MINIMAL = FIX / "search_recent_minimal_2022.vcr.yaml"
BREXIT_FILE = FIX / "search_recent_expanded_brexit_2021.jsonl"
EDITED_FILE = FIX / "tweets_lookup_edited_2022.jsonl"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAx-test-bearer-token-%2Fq9"
PATH = "/2/tweets/search/recent"


def recorded_headers(cassette: Path) -> dict[str, str]:
    doc = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    headers = doc["interactions"][0]["response"]["headers"]
    return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in headers.items()}


MINIMAL_BODY: dict[str, Any] = json.loads(response_body(MINIMAL, "search/recent"))
HEADERS = recorded_headers(MINIMAL)
BREXIT: dict[str, Any] = {k: v for k, v in json.loads(BREXIT_FILE.read_text(encoding="utf-8").splitlines()[0]).items()
                          if k != "__twarc"}
EDITED: dict[str, Any] = json.loads(EDITED_FILE.read_text(encoding="utf-8").splitlines()[0])
EMPTY = {"meta": {"result_count": 0}}


def brexit_pages(sizes: list[int]) -> list[dict[str, Any]]:
    """The #brexit page cut into pages (newest first), each with the full includes and its own meta."""
    pages, start = [], 0
    tokens = [BREXIT["meta"]["next_token"], "b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh-2"]
    for n, size in enumerate(sizes):
        chunk = BREXIT["data"][start:start + size]
        start += size
        meta: dict[str, Any] = {"newest_id": chunk[0]["id"], "oldest_id": chunk[-1]["id"], "result_count": len(chunk)}
        if n + 1 < len(sizes):
            meta["next_token"] = tokens[n]
        pages.append({"data": chunk, "includes": BREXIT["includes"], "meta": meta})
    return pages


def at(next_token: str | None = None, since_id: str | None = None):
    return lambda r: r.param("next_token") == next_token and r.param("since_id") == since_id


def serve(server: ReplayServer, pages: list[dict[str, Any]], since_id: str | None = None) -> None:
    token = None
    for body in pages:
        server.add(PATH, Reply(body, headers=HEADERS), when=at(token, since_id))
        token = body["meta"].get("next_token")


collect = functools.partial(run_source, "x")


def state_of(store: Store) -> dict[str, Any]:
    [(state,)] = stored(store, "SELECT state FROM source_state WHERE source = 'x'")
    return json.loads(state)


def state_batch(query: str, state: dict[str, Any]) -> WriteBatch:
    batch = WriteBatch()
    batch.add_rows("source_state", [{"source": "x", "query": query, "state": json.dumps(state),
                                     "updated_at": utcnow_naive()}])
    return batch


@pytest.fixture
def xs(config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    with ReplayServer() as server:
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True  # keep every tweet, not only those naming a target
        cfg.sources["x"] = dict(base_url=server.url, queries=["#brexit"], max_pages=10)
        yield server, cfg, Store(data_dir)


def test_registration_and_queries_from_targets(config: Config) -> None:
    collector = load_sources().collectors["x"]
    assert not collector.is_enabled(config) and collector.required_env == ("X_BEARER_TOKEN",)
    assert collector.needs == "env X_BEARER_TOKEN"
    queries = dict(zip([t.id for t in config.targets], x_queries(config, collector.settings(config)), strict=True))
    assert queries["musk"] == '("Elon Musk" OR @elonmusk) -is:retweet'
    assert queries["altman"] == '("Sam Altman" OR @sama) -is:retweet'
    assert queries["stargate"] == '"Stargate Project" -is:retweet'
    assert queries["oracle"] == "(Oracle OR @Oracle) -is:retweet"


def test_pages_then_incremental_run_is_one_empty_request(xs) -> None:
    server, cfg, store = xs
    serve(server, brexit_pages([40, 40, 20]))
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (3, 100, "complete")
    assert [r.param("next_token") for r in server.requests] == [None, BREXIT["meta"]["next_token"],
                                                                 "b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh-2"]
    for r in server.requests:
        assert r.param("query") == "#brexit" and r.param("max_results") == "100" and r.param("since_id") is None
        assert (r.param("tweet.fields"), r.param("expansions"), r.param("user.fields")) == (
            TWEET_FIELDS, EXPANSIONS, USER_FIELDS)
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in r.path and all(TOKEN not in v for vs in r.query.values() for v in vs)
    newest = BREXIT["meta"]["newest_id"]
    assert state_of(store) == {"newest": newest}

    server.add(PATH, Reply(EMPTY, headers=HEADERS), when=at(None, newest))
    [second] = collect(cfg, store)
    assert (second.pages, second.requests, second.posts_new, second.posts_seen) == (1, 1, 0, 0)
    assert server.requests[-1].param("since_id") == newest
    assert state_of(store) == {"newest": newest}
    runs = stored(store, "SELECT coverage, pages, posts_new FROM runs ORDER BY started_at")
    assert runs == [("complete", 3, 100), ("complete", 1, 0)]
    assert_secrets_not_stored(store, TOKEN)


def test_capped_run_resumes_at_its_next_token(xs) -> None:
    server, cfg, store = xs
    cfg.sources["x"]["max_pages"] = 1
    serve(server, brexit_pages([60, 40]))
    [first] = collect(cfg, store)
    assert (first.posts_new, first.coverage) == (60, "capped")
    assert state_of(store) == {"pass_newest": BREXIT["meta"]["newest_id"], "next_token": BREXIT["meta"]["next_token"]}
    [second] = collect(cfg, store)
    assert (second.posts_new, second.coverage) == (40, "complete")
    assert state_of(store) == {"newest": BREXIT["meta"]["newest_id"]}


def test_mapping_matches_the_expanded_page(xs) -> None:
    server, cfg, store = xs
    serve(server, brexit_pages([100]))
    collect(cfg, store)
    rows = stored(store, "SELECT post_id, url, author_id, author_handle, author_name, created_at, text, lang, "
                         "reply_to, quote_of, repost_of, likes, reposts, replies, quotes, source, source_query, "
                         "source_request FROM posts")
    assert len(rows) == 100
    by_id = {row[0]: row for row in rows}
    users = {u["id"]: u for u in BREXIT["includes"]["users"]}
    for tweet in BREXIT["data"]:
        row = by_id[tweet["id"]]
        user = users[tweet["author_id"]]
        refs = {r["type"]: r["id"] for r in tweet.get("referenced_tweets") or []}
        metrics = tweet["public_metrics"]
        assert row[1] == f"https://x.com/{user['username']}/status/{tweet['id']}"
        assert row[2:5] == (tweet["author_id"], user["username"], user["name"])
        assert row[5] == parse_time(tweet["created_at"]).replace(tzinfo=None)
        expected = tweet["text"].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert row[6] == expected
        assert row[7] == (None if tweet["lang"] in ("und", "qme", "qht", "zxx", "qam", "qct", "qst") else tweet["lang"])
        assert row[8:11] == (refs.get("replied_to"), refs.get("quoted"), refs.get("retweeted"))
        assert row[11:15] == (metrics["like_count"], metrics["retweet_count"], metrics["reply_count"],
                              metrics["quote_count"])
        assert row[15:17] == ("x", "#brexit") and row[17].startswith(f"{server.url}{PATH}?")
    first = by_id["1440716895355764743"]
    assert first[5] == datetime(2021, 9, 22, 16, 37, 29)
    assert first[6].startswith("The same Labour MPs that were happy to cite party members")
    assert sum(r[10] is not None for r in rows) == 67 and sum(r[9] is not None for r in rows) == 11
    assert sum(r[8] is not None for r in rows) == 10


def test_minimal_recorded_response_takes_the_time_from_the_ids(xs) -> None:
    server, cfg, store = xs
    cfg.sources["x"]["queries"] = ["Tweepy"]
    server.add(PATH, Reply(MINIMAL_BODY, headers=HEADERS), when=at())
    server.add(PATH, Reply(EMPTY, headers=HEADERS), when=at(MINIMAL_BODY["meta"]["next_token"]))
    [report] = collect(cfg, store)
    assert (report.posts_new, report.pages, report.coverage) == (10, 2, "complete")
    rows = stored(store, "SELECT post_id, url, author_handle, created_at, text, raw FROM posts ORDER BY post_id DESC")
    assert [r[0] for r in rows] == [t["id"] for t in MINIMAL_BODY["data"]]
    for (post_id, url, handle, created, text, raw), tweet in zip(rows, MINIMAL_BODY["data"], strict=True):
        assert url == f"https://x.com/i/web/status/{post_id}" and handle is None and text == tweet["text"]
        # The tweets say when tweepy sent them ("2022-10-07 22:42:12.637103 tweepy"); the ids agree.
        sent = datetime.fromisoformat(text.split(" tweepy")[0])
        assert abs((created - sent).total_seconds()) < 1
        assert json.loads(raw) == tweet  # as received: no created_at added
    assert state_of(store) == {"newest": MINIMAL_BODY["meta"]["newest_id"]}


def test_an_edit_replaces_the_earlier_version(xs) -> None:
    server, cfg, store = xs
    old, new = EDITED["includes"]["tweets"][0], EDITED["data"][0]
    assert old["id"] == new["edit_history_tweet_ids"][0] and new["id"] == new["edit_history_tweet_ids"][1]
    includes = {"users": EDITED["includes"]["users"]}
    server.add(PATH, Reply({"data": [old], "includes": includes, "meta": {"newest_id": old["id"], "result_count": 1}},
                           headers=HEADERS), when=at())
    [first] = collect(cfg, store)
    assert first.posts_new == 1 and stored(store, "SELECT post_id FROM posts") == [(old["id"],)]
    server.add(PATH, Reply({"data": [new], "includes": includes, "meta": {"newest_id": new["id"], "result_count": 1}},
                           headers=HEADERS), when=at(None, old["id"]))
    [second] = collect(cfg, store)
    assert second.posts_new == 1
    assert stored(store, "SELECT post_id, text, author_handle, likes FROM posts") == [
        (new["id"], "hey :) https://t.co/rnwEIoNuqd", "wongmjane", 27)]
    assert stored(store, "SELECT post_key, source FROM deletions") == [(f"x:{old['id']}", "x")]


def test_missing_token_fails_without_a_request(xs, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = xs
    monkeypatch.delenv("X_BEARER_TOKEN")
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.error == "auth: x: X_BEARER_TOKEN is not set"
    assert server.requests == []


def test_unauthorized_fails_without_leaking_the_token(xs) -> None:
    server, cfg, store = xs
    server.add(PATH, Reply({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
                           status=401))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and "401" in report.error and TOKEN not in report.error
    assert_secrets_not_stored(store, TOKEN)


def test_refused_old_since_id_searches_the_whole_window(xs) -> None:
    server, cfg, store = xs
    stale = "1340000000000000000"
    error = {"errors": [{"parameters": {"since_id": [stale]},
                         "message": f"Invalid 'since_id':'{stale}'. 'since_id' must be a tweet id created after "
                                    "2021-09-15T16:38:09Z."}],
             "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
             "type": "https://api.twitter.com/2/problems/invalid-request"}
    server.add(PATH, Reply(error, status=400, headers=HEADERS), when=at(None, stale))
    serve(server, brexit_pages([100]))
    store.write(state_batch("#brexit", {"newest": stale}))  # as left by a run more than a week ago
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new, report.statuses) == ("complete", 100, "200x1,400x1")
    assert [r.param("since_id") for r in server.requests] == [stale, None]
    assert state_of(store) == {"newest": BREXIT["meta"]["newest_id"]}


def test_429_with_epoch_reset_then_success(xs) -> None:
    server, cfg, store = xs
    reset = str(int(time.time()) + 5)
    limited = {**HEADERS, "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
    server.add(PATH, Reply({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                            "status": 429}, status=429, headers=limited),
               Reply(brexit_pages([100])[0], headers=HEADERS))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert len(sleeps) == 1 and 3 < sleeps[0] <= 5
    assert (report.posts_new, report.statuses) == (100, "200x1,429x1")


def test_429_with_retry_after_then_success(xs) -> None:
    server, cfg, store = xs
    server.add(PATH, Reply({"title": "Too Many Requests"}, status=429, headers={"Retry-After": "7"}),
               Reply(brexit_pages([100])[0], headers=HEADERS))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [7.0] and report.posts_new == 100


def test_used_up_window_stops_before_the_next_page(xs) -> None:
    server, cfg, store = xs
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15)
    last = {**HEADERS, "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(reset.timestamp()))}
    pages = brexit_pages([50, 50])
    server.add(PATH, Reply(pages[0], headers=last), when=at())
    server.add(PATH, Reply(pages[1], headers=HEADERS), when=at(pages[0]["meta"]["next_token"]))
    [report] = collect(cfg, store)
    assert (report.coverage, report.requests, report.posts_new) == ("rate-limited", 1, 50)
    assert report.retry_at is not None and abs((report.retry_at - reset).total_seconds()) < 2
    [again] = collect(cfg, store)
    assert (again.coverage, again.posts_new) == ("complete", 50)


def test_server_errors_then_success_with_backoff(xs) -> None:
    server, cfg, store = xs
    server.add(PATH, Reply({"title": "Service Unavailable"}, status=503), Reply("", status=500),
               Reply(brexit_pages([100])[0], headers=HEADERS))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert report.posts_new == 100 and len(sleeps) == 2 and report.statuses == "200x1,500x1,503x1"


def test_timeout_then_success(xs) -> None:
    server, cfg, store = xs
    body = brexit_pages([100])[0]
    server.add(PATH, Reply(body, headers=HEADERS, delay=1.0), Reply(body, headers=HEADERS))
    [report] = collect(cfg, store, timeout=0.3)
    assert report.posts_new == 100 and "timeout" in report.statuses


@pytest.mark.parametrize("bad", [
    Reply("<!DOCTYPE html><html><head><title>X</title></head><body>Something went wrong.</body></html>",
          headers={"Content-Type": "text/html; charset=utf-8"}),
    Reply("this is not json"),
    Reply(brexit_pages([50, 50])[1], truncate=True),
], ids=["html-200", "not-json", "truncated"])
def test_bad_bodies_fail_the_run_after_retries_and_keep_earlier_pages(xs, bad: Reply) -> None:
    server, cfg, store = xs
    pages = brexit_pages([50, 50])
    server.add(PATH, Reply(pages[0], headers=HEADERS), when=at())
    server.add(PATH, bad, when=at(pages[0]["meta"]["next_token"]))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.posts_new == 50
    assert report.error and ("bad-body" in report.error or "gave up" in report.error)
    assert stored(store, "SELECT count(*) FROM posts") == [(50,)]
    server.add(PATH, Reply(pages[1], headers=HEADERS), when=at(pages[0]["meta"]["next_token"]))
    [again] = collect(cfg, store)
    assert (again.posts_new, again.coverage) == (50, "complete")
    assert state_of(store) == {"newest": BREXIT["meta"]["newest_id"]}

"""The Hacker News collector against a local server replaying the recorded Algolia response."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.store import Store
from tests.conftest import FIXTURES, run_source, stored
from tests.replay import ReplayServer, Reply

RECORDED = json.loads((FIXTURES / "hackernews" / "search_by_date_nodejs_2017.json").read_text(encoding="utf-8"))
PATH = "/api/v1/search_by_date"


def pages_of(size: int) -> list[dict]:
    """The recorded hits, newest first, cut into pages with Algolia's own page fields."""
    hits = RECORDED["hits"]
    chunks = [hits[i:i + size] for i in range(0, len(hits), size)]
    return [{**RECORDED, "hits": chunk, "page": n, "nbPages": len(chunks), "hitsPerPage": size}
            for n, chunk in enumerate(chunks)]


def by_page(n: int):
    return lambda r: r.param("page") == str(n) and r.param("numericFilters") is None


collect = functools.partial(run_source, "hackernews")


@pytest.fixture
def hn(config: Config, data_dir: Path):
    with ReplayServer() as server:
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True  # count every hit, not only those naming a target
        cfg.sources["hackernews"] = dict(base_url=f"{server.url}/api/v1", queries=["nodejs"], max_pages=10)
        yield server, cfg, Store(data_dir)



def test_pages_then_incremental_run_is_one_empty_request(hn) -> None:
    server, cfg, store = hn
    for n, page in enumerate(pages_of(7)):
        server.add(PATH, Reply(page), when=by_page(n))
    newest = max(h["created_at_i"] for h in RECORDED["hits"])
    server.add(PATH, Reply({**RECORDED, "hits": [], "nbHits": 0, "nbPages": 0}),
               when=lambda r: r.param("numericFilters") == f"created_at_i>{newest}")
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (3, 20, "complete")
    assert server.count(PATH) == 3
    assert [r.param("page") for r in server.requests] == ["0", "1", "2"]
    assert all(r.param("query") == "nodejs" and r.headers["user-agent"].startswith("discourse-monitor/")
               for r in server.requests)
    [second] = collect(cfg, store)
    assert (second.pages, second.posts_new, second.posts_seen, second.requests) == (1, 0, 0, 1)
    assert server.count(PATH) == 4
    assert stored(store, "SELECT count(*) FROM posts") == [(20,)]
    assert stored(store, "SELECT count(*), count(DISTINCT run_id) FROM sightings") == [(20, 1)]
    assert stored(store, "SELECT state FROM source_state WHERE source = 'hackernews'") == [
        (json.dumps({"newest": newest}),)]
    runs = stored(store, "SELECT coverage, pages, posts_new FROM runs ORDER BY started_at")
    assert runs == [("complete", 3, 20), ("complete", 1, 0)]


def test_mapping_matches_the_recorded_hit(hn) -> None:
    server, cfg, store = hn
    server.add(PATH, Reply({**RECORDED, "nbPages": 1}))
    collect(cfg, store)
    hit = RECORDED["hits"][0]
    row = stored(store, f"SELECT post_id, author_handle, created_at, url, source, source_query, source_request "
                        f"FROM posts WHERE post_id = '{hit['objectID']}'")[0]
    assert row[0] == hit["objectID"] and row[1] == hit["author"]
    assert int(row[2].replace(tzinfo=__import__("datetime").UTC).timestamp()) == hit["created_at_i"]
    assert row[3] == f"https://news.ycombinator.com/item?id={hit['objectID']}"
    assert row[4] == "hackernews" and row[5] == "nodejs" and row[6].startswith(server.url)


def test_capped_run_resumes_where_it_stopped(hn) -> None:
    server, cfg, store = hn
    cfg.sources["hackernews"]["max_pages"] = 2
    for n, page in enumerate(pages_of(5)):
        server.add(PATH, Reply(page), when=by_page(n))
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (2, 10, "capped")
    [second] = collect(cfg, store)
    assert [r.param("page") for r in server.requests] == ["0", "1", "2", "3"]
    assert (second.posts_new, second.coverage) == (10, "complete")


def test_429_with_retry_after_then_success(hn) -> None:
    server, cfg, store = hn
    server.add(PATH, Reply({"message": "Too many requests"}, status=429, headers={"Retry-After": "7"}),
               Reply({**RECORDED, "nbPages": 1}))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [7.0]
    assert report.posts_new == 20 and report.statuses == "200x1,429x1"


def test_long_rate_limit_ends_the_run_with_a_retry_time(hn) -> None:
    server, cfg, store = hn
    server.add(PATH, Reply({"message": "slow down"}, status=429, headers={"Retry-After": "3600"}))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [] and report.coverage == "rate-limited" and report.retry_at is not None
    assert stored(store, "SELECT coverage FROM runs") == [("rate-limited",)]


def test_server_errors_then_success_with_backoff(hn) -> None:
    server, cfg, store = hn
    server.add(PATH, Reply("oops", status=502), Reply("oops", status=503), Reply({**RECORDED, "nbPages": 1}))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert report.posts_new == 20 and len(sleeps) == 2
    # exponential with jitter (run_source's backoff is 0.01 s): try k waits 0.01 * 2**k * [0.5, 1.5)
    assert 0.005 <= sleeps[0] < 0.015 and 0.01 <= sleeps[1] < 0.03


def test_timeout_then_success(hn) -> None:
    server, cfg, store = hn
    server.add(PATH, Reply({**RECORDED, "nbPages": 1}, delay=1.0), Reply({**RECORDED, "nbPages": 1}))
    [report] = collect(cfg, store, timeout=0.3)
    assert report.posts_new == 20 and "timeout" in report.statuses


@pytest.mark.parametrize("bad", [
    Reply("<!DOCTYPE html><html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}),
    Reply("this is not json"),
    Reply({**RECORDED, "nbPages": 1}, truncate=True),
], ids=["html-200", "not-json", "truncated"])
def test_bad_bodies_fail_the_run_after_retries_and_keep_earlier_pages(hn, bad: Reply) -> None:
    server, cfg, store = hn
    pages = pages_of(10)
    server.add(PATH, Reply(pages[0]), when=by_page(0))
    server.add(PATH, bad, when=by_page(1))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.posts_new == 10
    assert report.error and ("bad-body" in report.error or "gave up" in report.error)
    assert stored(store, "SELECT count(*) FROM posts") == [(10,)]
    # The cursor is where the stored posts end: the next run continues from page 1.
    server.add(PATH, Reply(pages[1]), when=by_page(1))
    [again] = collect(cfg, store)
    assert again.posts_new == 10 and again.coverage == "complete"


def test_offline_is_one_line_and_fast(config: Config, data_dir: Path) -> None:
    cfg = config.model_copy(deep=True)
    cfg.sources["hackernews"] = dict(base_url="http://127.0.0.1:9/api/v1")
    reports = collect(cfg, Store(data_dir))
    assert len(reports) == 1  # the other queries are not tried once the host is unreachable
    assert reports[0].coverage == "failed" and reports[0].error.startswith("offline")

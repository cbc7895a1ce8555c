"""The Mastodon collector against local servers replaying recorded Mastodon API responses.

Bodies and headers come from the cassettes in tests/fixtures/mastodon: the 2022 mastodon.social
#ichbinhanna tag timeline (five statuses from five instances, a real Link header and ISO-8601
rate-limit reset), and the Mastodon 4.x dev-server timelines and search result.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config
from monitor.sources import mastodon
from monitor.sources.api import default_queries
from monitor.sources.base import parse_time
from monitor.sources.mastodon import html_to_text, tag_for
from monitor.store import Store
from tests.cassettes import response_body
from tests.conftest import FIXTURES, assert_secrets_not_stored, run_source, stored
from tests.replay import ReplayServer, Reply

FIX = FIXTURES / "mastodon"
SOCIAL = FIX / "tag_timeline_mastodon_social_anonymous_2022.vcr.yml"
TAG_LOCAL = FIX / "tag_timeline_local_v4.vcr.yaml"
SEARCH = FIX / "search_v2_local_v4.vcr.yaml"
PUBLIC = FIX / "public_timeline_anonymous_local_v4.vcr.yaml"
TOKEN = "mastodon-test-token-7f3a9c"


def recorded_headers(cassette: Path, uri_contains: str) -> dict[str, str]:
    """Response headers of the first GET whose URI contains ``uri_contains`` (lists joined)."""
    doc = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    for item in doc.get("http_interactions") or doc.get("interactions") or []:
        if item["request"]["method"].upper() == "GET" and uri_contains in item["request"]["uri"]:
            return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in item["response"]["headers"].items()}
    raise LookupError(uri_contains)


STATUSES: list[dict[str, Any]] = json.loads(response_body(SOCIAL, "timelines/tag"))  # newest first
HEADERS = recorded_headers(SOCIAL, "timelines/tag")
NEW_STATUS: dict[str, Any] = json.loads(response_body(TAG_LOCAL, "timelines/tag"))[0]  # a later status (2026)
PUBLIC_STATUSES: list[dict[str, Any]] = json.loads(response_body(PUBLIC, "timelines/public"))
SEARCH_EMPTY: dict[str, Any] = json.loads(response_body(SEARCH, "type=statuses"))
SEARCH_HEADERS = recorded_headers(SEARCH, "type=statuses")
TAG = "ichbinhanna"
PATH = f"/api/v1/timelines/tag/{TAG}"


def page(statuses: list[dict[str, Any]], instance: str, headers: dict[str, str] | None = None) -> Reply:
    """A timeline page as Mastodon serves it: the real headers, and a Link header built the way
    the server builds it (rel="next" with the last status's id as max_id) when there are statuses."""
    base = {k: v for k, v in (headers or HEADERS).items() if k.lower() != "link"}
    if statuses:
        last, first = statuses[-1]["id"], statuses[0]["id"]
        url = f"{instance}{PATH}"
        base["link"] = f'<{url}?limit=40&max_id={last}>; rel="next", <{url}?limit=40&min_id={first}>; rel="prev"'
    return Reply(statuses, headers=base)


def at(max_id: str | None = None, since_id: str | None = None):
    return lambda r: r.param("max_id") == max_id and r.param("since_id") == since_id


def serve_pages(server: ReplayServer, prefix: str, size: int, statuses: list[dict[str, Any]] | None = None,
                since_id: str | None = None) -> None:
    """The statuses cut into pages of ``size``, each reached by the previous page's max_id, then
    the empty page that ends the pass."""
    statuses = STATUSES if statuses is None else statuses
    instance = server.url + prefix
    max_id = None
    for start in range(0, len(statuses), size):
        chunk = statuses[start:start + size]
        server.add(prefix + PATH, page(chunk, instance), when=at(max_id, since_id))
        max_id = chunk[-1]["id"]
    server.add(prefix + PATH, page([], instance), when=at(max_id, since_id))


collect = functools.partial(run_source, "mastodon")


def state_of(store: Store, query: str = "IchBinHanna") -> dict[str, Any]:
    [(state,)] = stored(store, f"SELECT state FROM source_state WHERE source = 'mastodon' AND query = '{query}'")
    return json.loads(state)


@pytest.fixture
def masto(config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    with ReplayServer() as server:
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True  # keep every status, not only those naming a target
        # The recorded statuses are from 2022: no backfill limit unless a test sets one.
        cfg.sources["mastodon"] = dict(queries=["IchBinHanna"], max_pages=10, instances=[server.url],
                                               backfill_days=0)
        yield server, cfg, Store(data_dir)


def test_tags_come_from_the_queries() -> None:
    assert tag_for("Sam Altman") == "samaltman"
    assert tag_for("#StargateAI") == "stargateai"
    assert tag_for("Donald J. Trump") == "donaldjtrump"
    assert tag_for("x.AI") == "xai"


def test_default_queries_follow_one_tag_per_target(masto) -> None:
    server, cfg, store = masto
    cfg.sources["mastodon"]["queries"] = None
    cfg.targets = [t for t in cfg.targets if t.id in ("stargate", "musk", "altman", "trump")]
    tags = [tag_for(q) for q in default_queries(cfg)]
    assert tags == ["stargateproject", "elonmusk", "samaltman", "donaldtrump"]
    for tag in tags:
        server.add(f"/api/v1/timelines/tag/{tag}", Reply([], headers=HEADERS))
    reports = collect(cfg, store)
    assert [r.coverage for r in reports] == ["complete"] * len(tags)
    assert [r.path for r in server.requests] == [f"/api/v1/timelines/tag/{t}" for t in tags]
    assert all("authorization" not in r.headers for r in server.requests)


def test_pages_then_incremental_runs(masto) -> None:
    server, cfg, store = masto
    serve_pages(server, "", 2)
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (4, 5, "complete")
    assert [r.param("max_id") for r in server.requests] == [None, STATUSES[1]["id"], STATUSES[3]["id"],
                                                             STATUSES[4]["id"]]
    assert all(r.param("limit") == "40" and r.param("since_id") is None for r in server.requests)
    assert all(r.headers["user-agent"].startswith("discourse-monitor/") for r in server.requests)
    newest = STATUSES[0]["id"]
    assert state_of(store) == {"search": {}, "timeline": {server.url: {"newest": newest}}}

    # Nothing new: one request (since_id = the newest id), nothing stored.
    server.add(PATH, page([], server.url), when=at(None, newest))
    [second] = collect(cfg, store)
    assert (second.pages, second.requests, second.posts_new, second.posts_seen) == (1, 1, 0, 0)
    assert server.requests[-1].param("since_id") == newest

    # One new status: fetched above since_id, then the empty page that ends the pass.
    serve_pages(server, "", 10, [NEW_STATUS], since_id=newest)
    [third] = collect(cfg, store)
    assert (third.requests, third.posts_new, third.posts_seen, third.coverage) == (2, 1, 0, "complete")
    assert [(r.param("since_id"), r.param("max_id")) for r in server.requests[-2:]] == [
        (newest, None), (newest, NEW_STATUS["id"])]
    assert state_of(store)["timeline"][server.url] == {"newest": NEW_STATUS["id"]}
    assert stored(store, "SELECT count(*) FROM posts") == [(6,)]
    runs = stored(store, "SELECT coverage, pages, posts_new FROM runs ORDER BY started_at")
    assert runs == [("complete", 4, 5), ("complete", 1, 0), ("complete", 2, 1)]


def test_first_pass_reaches_back_only_backfill_days(masto) -> None:
    server, cfg, store = masto
    cutoff = datetime(2022, 11, 7, 18, 0, tzinfo=UTC)  # between the third and the fourth status
    cfg.sources["mastodon"]["backfill_days"] = (datetime.now(UTC) - cutoff).total_seconds() / 86400
    serve_pages(server, "", 2)
    [report] = collect(cfg, store)
    assert (report.pages, report.posts_new, report.coverage) == (2, 3, "complete")
    assert state_of(store)["timeline"][server.url] == {"newest": STATUSES[0]["id"]}
    assert stored(store, "SELECT count(*) FROM posts WHERE created_at < TIMESTAMP '2022-11-07 18:00:00'") == [(0,)]


def test_capped_run_resumes_where_it_stopped(masto) -> None:
    server, cfg, store = masto
    cfg.sources["mastodon"]["max_pages"] = 2
    serve_pages(server, "", 2)
    [first] = collect(cfg, store)
    assert (first.pages, first.posts_new, first.coverage) == (2, 4, "capped")
    # The newest id is not advanced by an unfinished pass; it resumes at max_id.
    assert state_of(store)["timeline"][server.url] == {"pass_newest": STATUSES[0]["id"], "max_id": STATUSES[3]["id"]}
    [second] = collect(cfg, store)
    assert (second.posts_new, second.coverage) == (1, "complete")
    assert [r.param("max_id") for r in server.requests] == [None, STATUSES[1]["id"], STATUSES[3]["id"],
                                                             STATUSES[4]["id"]]
    assert state_of(store)["timeline"][server.url] == {"newest": STATUSES[0]["id"]}


def test_same_status_from_two_instances_is_stored_once(masto) -> None:
    server, cfg, store = masto
    a, b = f"{server.url}/a", f"{server.url}/b"
    cfg.sources["mastodon"]["instances"] = [a, b]
    serve_pages(server, "/a", 5)
    serve_pages(server, "/b", 3)
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new, report.posts_seen) == ("complete", 5, 5)
    assert stored(store, "SELECT count(*) FROM posts") == [(5,)]
    assert stored(store, "SELECT count(*), count(DISTINCT post_key) FROM sightings") == [(10, 5)]
    assert set(state_of(store)["timeline"]) == {a, b}
    assert {r.path.split("/")[1] for r in server.requests} == {"a", "b"}


def test_one_unreachable_instance_does_not_stop_the_others(masto) -> None:
    server, cfg, store = masto
    cfg.sources["mastodon"]["instances"] = ["http://127.0.0.1:9", server.url]
    cfg.sources["mastodon"]["queries"] = ["IchBinHanna", "hoot"]
    serve_pages(server, "", 5)
    server.add("/api/v1/timelines/tag/hoot", Reply([], headers=HEADERS))
    reports = collect(cfg, store)
    assert len(reports) == 2  # "unreachable", not "offline": the second query still runs
    assert all(r.coverage == "failed" and r.error.startswith("unreachable") for r in reports)
    assert reports[0].posts_new == 5
    assert server.count("/api/v1/timelines/tag/hoot") == 1


def test_mapping_matches_the_recorded_statuses(masto) -> None:
    server, cfg, store = masto
    statuses = [NEW_STATUS, *STATUSES]
    serve_pages(server, "", 10, statuses)
    collect(cfg, store)
    rows = stored(store, "SELECT post_id, url, author_id, author_handle, author_name, created_at, text, lang, "
                         "reply_to, quote_of, repost_of, likes, reposts, replies, quotes, platform, source, "
                         "source_query, source_request, raw FROM posts")
    by_id = {row[0]: row for row in rows}
    assert set(by_id) == {s["uri"] for s in statuses}  # the status URI, not the instance-local id
    for status in statuses:
        row = by_id[status["uri"]]
        created = parse_time(status["created_at"]).astimezone(UTC).replace(tzinfo=None)
        assert row[1] == status["url"]
        assert row[2] == status["account"]["id"] and row[4] == (status["account"]["display_name"] or None)
        assert row[5] == created
        assert row[6] == html_to_text(status["content"]) and "<" not in row[6]
        assert row[7] == status["language"]
        assert row[8] == status["in_reply_to_id"] and row[9] is None and row[10] is None
        assert row[11:15] == (status["favourites_count"], status["reblogs_count"], status["replies_count"],
                              status.get("quotes_count"))
        assert row[15:18] == ("mastodon", "mastodon", "IchBinHanna")
        assert row[18].startswith(f"{server.url}{PATH}?")
        assert json.loads(row[19])["id"] == status["id"]

    first = by_id["https://mastodon.social/users/amreibahr/statuses/109307661613791619"]
    assert first[3] == "amreibahr@mastodon.social"  # local accounts get their instance's domain
    assert first[5] == datetime(2022, 11, 8, 10, 15, 51, 486000)
    assert first[6].startswith("Ich habe es satt, mich ständig bewähren zu müssen.")
    assert first[11:15] == (18, 4, 0, None)
    remote = by_id["https://mas.to/users/CathleenSarti/statuses/109304314822684850"]
    assert remote[3] == "CathleenSarti@mas.to" and remote[7] == "en"
    reply = by_id[STATUSES[4]["uri"]]
    assert reply[3] == "ornithophilos@bildung.social" and reply[8] == "109302329974271443"
    new = by_id[NEW_STATUS["uri"]]
    assert new[6] == "#hoot (hashtag toot)" and new[7] == "ja" and new[14] == 0
    assert new[3] == "mastodonpy_test_2@localhost:3000"


def test_search_with_token_goes_to_its_instance_only(masto, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = masto
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    a, b = f"{server.url}/a", f"{server.url}/b"
    cfg.sources["mastodon"]["instances"] = [a, b]
    cfg.sources["mastodon"]["queries"] = ["Ich bin Hanna"]
    serve_pages(server, "/a", 5)
    serve_pages(server, "/b", 5)
    found = {**SEARCH_EMPTY, "statuses": PUBLIC_STATUSES}
    server.add("/a/api/v2/search", Reply(found, headers=SEARCH_HEADERS), when=lambda r: r.param("min_id") is None)
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new) == ("complete", 5 + len(PUBLIC_STATUSES))

    searches = [r for r in server.requests if r.path.endswith("/api/v2/search")]
    assert [r.path for r in searches] == ["/a/api/v2/search"]
    assert searches[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert (searches[0].param("q"), searches[0].param("type"), searches[0].param("offset")) == (
        '"Ich bin Hanna"', "statuses", "0")
    timelines = [r for r in server.requests if "/timelines/" in r.path]
    assert timelines and all("authorization" not in r.headers for r in timelines)
    newest = max(s["id"] for s in PUBLIC_STATUSES)
    assert state_of(store, "Ich bin Hanna")["search"] == {a: {"newest": newest}}

    # Next run: search only for statuses newer than the newest found (min_id).
    server.add("/a/api/v2/search", Reply(SEARCH_EMPTY, headers=SEARCH_HEADERS),
               when=lambda r: r.param("min_id") == newest)
    for prefix in ("/a", "/b"):
        server.add(prefix + PATH, page([], server.url + prefix), when=at(None, STATUSES[0]["id"]))
    [again] = collect(cfg, store)
    assert (again.coverage, again.requests, again.posts_new) == ("complete", 3, 0)
    assert_secrets_not_stored(store, TOKEN)


def test_429_with_retry_after_then_success(masto) -> None:
    server, cfg, store = masto
    server.add(PATH, Reply({"error": "Too many requests"}, status=429, headers={"Retry-After": "7"}),
               page(STATUSES, server.url), when=at(None))
    server.add(PATH, page([], server.url), when=at(STATUSES[-1]["id"]))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert sleeps == [7.0]
    assert (report.posts_new, report.statuses, report.coverage) == (5, "200x2,429x1", "complete")


def test_429_with_mastodon_reset_timestamp(masto) -> None:
    server, cfg, store = masto
    reset = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    limited = {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    server.add(PATH, Reply({"error": "Too many requests"}, status=429, headers=limited), page([], server.url))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert len(sleeps) == 1 and 25 < sleeps[0] <= 30
    assert report.coverage == "complete"


def test_quota_used_up_stops_before_the_next_request(masto) -> None:
    server, cfg, store = masto
    reset = datetime.now(UTC) + timedelta(minutes=4)
    last = {**HEADERS, "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    server.add(PATH, page(STATUSES[:2], server.url, last), when=at(None))
    [report] = collect(cfg, store)
    assert (report.coverage, report.requests, report.posts_new) == ("rate-limited", 1, 2)
    assert report.retry_at is not None and abs((report.retry_at - reset).total_seconds()) < 2
    assert "x-ratelimit-remaining" in report.error
    assert state_of(store)["timeline"][server.url] == {"pass_newest": STATUSES[0]["id"], "max_id": STATUSES[1]["id"]}


def test_server_errors_then_success_with_backoff(masto) -> None:
    server, cfg, store = masto
    server.add(PATH, Reply("oops", status=502), Reply("<h1>503</h1>", status=503), page(STATUSES, server.url),
               when=at(None))
    server.add(PATH, page([], server.url), when=at(STATUSES[-1]["id"]))
    sleeps: list[float] = []
    [report] = collect(cfg, store, sleeps)
    assert (report.posts_new, report.coverage) == (5, "complete") and len(sleeps) == 2
    assert report.statuses == "200x2,502x1,503x1"


def test_timeout_then_success(masto) -> None:
    server, cfg, store = masto
    body = page(STATUSES, server.url)
    server.add(PATH, Reply(body.body, headers=body.headers, delay=1.0), body, when=at(None))
    server.add(PATH, page([], server.url), when=at(STATUSES[-1]["id"]))
    [report] = collect(cfg, store, timeout=0.3)
    assert report.posts_new == 5 and "timeout" in report.statuses and report.coverage == "complete"


@pytest.mark.parametrize("bad", [
    Reply("<!DOCTYPE html><html><body>We're sorry, but something went wrong.</body></html>",
          headers={"Content-Type": "text/html"}),
    Reply("this is not json"),
    Reply(STATUSES[2:], truncate=True),
], ids=["html-200", "not-json", "truncated"])
def test_bad_bodies_fail_the_run_after_retries_and_keep_earlier_pages(masto, bad: Reply) -> None:
    server, cfg, store = masto
    server.add(PATH, page(STATUSES[:2], server.url), when=at(None))
    server.add(PATH, bad, when=at(STATUSES[1]["id"]))
    [report] = collect(cfg, store)
    assert report.coverage == "failed" and report.posts_new == 2
    assert report.error and ("bad-body" in report.error or "gave up" in report.error)
    assert stored(store, "SELECT count(*) FROM posts") == [(2,)]
    # The cursor is where the stored posts end: the next run continues at max_id.
    server.add(PATH, page(STATUSES[2:], server.url), when=at(STATUSES[1]["id"]))
    server.add(PATH, page([], server.url), when=at(STATUSES[-1]["id"]))
    [again] = collect(cfg, store)
    assert (again.posts_new, again.coverage) == (3, "complete")
    assert state_of(store)["timeline"][server.url] == {"newest": STATUSES[0]["id"]}


def test_search_pages_by_offset(masto, monkeypatch: pytest.MonkeyPatch) -> None:
    server, cfg, store = masto
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    monkeypatch.setattr(mastodon, "TIMELINE_LIMIT", 4)  # 8 recorded statuses: two full pages and an empty one
    server.add(PATH, page([], server.url))
    found = sorted(PUBLIC_STATUSES, key=lambda s: int(s["id"]), reverse=True)
    for offset, chunk in ((0, found[:4]), (4, found[4:]), (8, [])):
        server.add("/api/v2/search", Reply({**SEARCH_EMPTY, "statuses": chunk}, headers=SEARCH_HEADERS),
                   when=lambda r, o=offset: r.param("offset") == str(o))
    [report] = collect(cfg, store)
    assert (report.coverage, report.posts_new, report.pages) == ("complete", 8, 4)
    searches = [r for r in server.requests if r.path == "/api/v2/search"]
    assert [(r.param("offset"), r.param("limit"), r.param("min_id")) for r in searches] == [
        ("0", "4", None), ("4", "4", None), ("8", "4", None)]
    assert state_of(store)["search"] == {server.url: {"newest": found[0]["id"]}}

"""News feeds: RSS/Atom files as archives, and the collector with conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor.http import HttpClient
from monitor.ingest.collect import run_collector
from monitor.ingest.pool import AnalysisPool
from monitor.sources.api import detect_format, load_sources
from monitor.sources.base import ArchiveInput, RecordError
from monitor.sources.news import read_feed, summary_text
from monitor.store import Store
from tests.conftest import FIXTURES
from tests.replay import ReplayServer, Reply

NEWS = FIXTURES / "news"


def posts_of(name: str):
    items = list(read_feed(ArchiveInput(NEWS / name)))
    assert not [i for i in items if isinstance(i, RecordError)]
    return items


def test_rss_items_map_field_by_field() -> None:
    posts = posts_of("guardian_rss2.xml")
    assert len(posts) == 55
    first = posts[0]
    assert first.platform == "news"
    assert first.id == first.url == ("https://www.theguardian.com/us-news/2018/jan/31/"
                                     "donald-trump-state-of-the-union-address-unity-discord")
    assert first.created_at == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert first.text.startswith("Trump State of the Union address promised unity but emphasized discord\n\n"
                                 "The president’s ‘new American moment’ speech")
    assert "<p>" not in first.text
    assert first.lang == "en" and first.author.handle == "The Guardian"
    assert first.author.name == "David Smith in Washington"


def test_atom_and_prettified_google_news() -> None:
    atom = posts_of("heise_atom.xml")
    assert len(atom) == 15 and atom[0].id == "http://heise.de/-3088438"
    assert atom[0].created_at == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)  # +01:00 in the feed
    assert atom[0].author.handle == "heise developer neueste Meldungen"
    google = posts_of("google_news_top_ja_2024_prettified.xml")
    assert len(google) == 30
    assert google[0].id == "CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1MyNTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA"
    assert google[0].text == ("盛山文科相、旧統一教会系から選挙支援 21年衆院選 関係者が証言：朝日新聞デジタル"
                              " - 朝日新聞デジタル")
    assert google[0].author.handle == "朝日新聞デジタル" and google[0].lang == "ja"
    for name in ("guardian_rss2.xml", "heise_atom.xml", "google_news_top_ja_2024_prettified.xml"):
        assert detect_format(ArchiveInput(NEWS / name)).name == "rss"


def test_broken_xml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_bytes((NEWS / "guardian_rss2.xml").read_bytes()[:20000])
    items = list(read_feed(ArchiveInput(path)))
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(errors) == 1 and "XML" in errors[0].reason and errors[0].line
    assert 0 < len(items) - 1 < 55


def test_collector_uses_etag_and_a_304_costs_one_request(config, data_dir: Path) -> None:
    body = (NEWS / "guardian_rss2.xml").read_bytes()
    with ReplayServer() as server:
        server.add("/feed.rss", Reply(body, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"',
                                                     "Last-Modified": "Wed, 31 Jan 2018 20:15:15 GMT"}))
        server.add("/feed.rss", Reply(b"", status=304), when=lambda r: r.headers.get("if-none-match") == '"v1"')
        cfg = config.model_copy(deep=True)
        cfg.sources["news"] = dict(base_url=f"{server.url}/search", google_news=False,
                                           feeds=[f"{server.url}/feed.rss"])
        store = Store(data_dir)
        http = HttpClient(cfg.contact, sleep=lambda s: None)
        collector = load_sources().collectors["news"]
        [first] = run_collector(collector, cfg, store, AnalysisPool(cfg, workers=1), http=http)
        assert first.posts_new == 15 and first.unmatched == 40  # only items naming a target are kept
        [second] = run_collector(collector, cfg, store, AnalysisPool(cfg, workers=1), http=http)
        assert (second.requests, second.posts_new, second.statuses) == (1, 0, "304x1")
        assert server.requests[1].headers["if-modified-since"] == "Wed, 31 Jan 2018 20:15:15 GMT"
        http.close()


def test_google_news_search_query_per_target(config, data_dir: Path) -> None:
    body = (NEWS / "google_news_top_ja_2024_prettified.xml").read_bytes()
    with ReplayServer() as server:
        server.add("/rss/search", Reply(body, headers={"Content-Type": "application/rss+xml"}))
        cfg = config.model_copy(deep=True)
        cfg.sources["news"] = dict(base_url=f"{server.url}/rss/search")
        http = HttpClient(cfg.contact, sleep=lambda s: None)
        reports = run_collector(load_sources().collectors["news"], cfg, Store(data_dir), AnalysisPool(cfg, workers=1),
                                http=http)
        http.close()
    assert len(reports) == len(cfg.targets)
    queries = [r.param("q") for r in server.requests]
    assert "Elon Musk" in queries and "Stargate Project" in queries
    assert all(r.param("hl") == "en-US" and r.param("ceid") == "US:en" for r in server.requests)


def test_feed_boilerplate_is_not_the_story() -> None:
    # The Guardian ends each description with a "Continue reading..." link and links other stories
    # under "Related:": neither is the item's text (their words and mentions would count for it).
    posts = posts_of("guardian_rss2.xml")
    assert not [p for p in posts if "Continue reading" in p.text or "Related:" in p.text]
    assert "Fact check" not in posts[0].text
    assert posts[0].text.endswith("the deep discord at the heart of the country’s politics.")
    assert summary_text("<p>I want to read more</p><p>Related: other</p><p>Keep it.</p>"
                        "<a href='u'>Read more »</a>") == "I want to read more\n\nKeep it."

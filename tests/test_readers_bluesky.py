"""Bluesky readers: recorded AppView responses and real Jetstream captures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cassettes import body_file, response_body

from monitor.models import Post, Provenance
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError
from monitor.sources.bluesky import post_from_jetstream_event

FIX = Path(__file__).parent / "fixtures" / "bluesky"
SEARCH = FIX / "searchPosts_redistricting_2025-05.vcr.yml"
QUOTES = FIX / "getQuotes.vcr.yml"
GET_POSTS = FIX / "getPosts.vcr.yml"
THREAD = FIX / "getPostThread.vcr.yml"
WINDOW = FIX / "jetstream_v1_stream_window_2026-07.jsonl"
GOLDEN = FIX / "jetstream_v1_golden_10_events.jsonl"
QUOTED_URI = "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3lc5c5qv72r2w"


def read(path: Path, expected: str) -> tuple[list[Post], list[RecordError]]:
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None, f"{path.name}: no reader detected"
    assert reader.name == expected
    items = list(reader.read(source))
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- post views ------------------------------------------------------------------------------


def test_search_posts_page(tmp_path: Path) -> None:
    posts, errors = read(body_file(SEARCH, tmp_path, "searchPosts"), "bluesky")
    views = json.loads(response_body(SEARCH, "searchPosts"))["posts"]
    assert errors == []
    assert len(posts) == 25
    assert [p.id for p in posts] == [v["uri"] for v in views]
    assert sum(p.reply_to is not None for p in posts) == 12
    assert sum(p.quote_of is not None for p in posts) == 2
    assert sum(p.lang == "en" for p in posts) == 21 and sum(p.lang is None for p in posts) == 4
    for post, view in zip(posts, views, strict=True):
        assert post.author.id == view["author"]["did"]
        assert post.author.handle == view["author"]["handle"]
        assert post.text == view["record"]["text"]
        assert post.engagement.likes == view["likeCount"]
        assert post.engagement.reposts == view["repostCount"]
        assert post.engagement.replies == view["replyCount"]
        assert post.engagement.quotes == view["quoteCount"]

    reply = next(p for p in posts if p.id.endswith("/3lpjzka2pzc2l"))
    assert reply.id == "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjzka2pzc2l"
    assert reply.url == "https://bsky.app/profile/mcpli.bsky.social/post/3lpjzka2pzc2l"
    assert reply.author.handle == "mcpli.bsky.social"
    assert reply.author.name == "Michael Li (李之樸)"
    assert reply.reply_to == "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjzgltpa22l"
    assert reply.created_at == datetime(2025, 5, 19, 16, 46, 41, 792000, tzinfo=UTC)
    assert reply.text == ("And last but not least, here's the state defendants trial brief in the Texas "
                          "redistricting cases.\n\ndrive.google.com/file/d/1rpor...")
    assert reply.lang == "en"
    assert reply.engagement.likes == 2
    assert reply.provenance.source == "bluesky" and reply.provenance.line == 1


def test_get_quotes_embed_record_and_record_with_media(tmp_path: Path) -> None:
    posts, errors = read(body_file(QUOTES, tmp_path, "getQuotes"), "bluesky")
    assert errors == []
    assert len(posts) == 2
    assert [p.quote_of for p in posts] == [QUOTED_URI, QUOTED_URI]
    first = posts[0]
    assert first.author.handle == "randvegan.bsky.social"
    assert first.created_at == datetime(2024, 11, 30, 16, 20, 25, 23354, tzinfo=UTC)
    assert first.text.startswith("This is my first post using @bskyr.bsky.social by @chriskenny.bsky.social!")
    assert (first.engagement.likes, first.engagement.reposts, first.engagement.replies) == (3, 1, 1)
    assert posts[1].author.handle == "chriskenny.bsky.social"


def test_get_posts_and_thread(tmp_path: Path) -> None:
    posts, errors = read(body_file(GET_POSTS, tmp_path, "getPosts", name="posts.json"), "bluesky")
    assert errors == []
    [post] = posts
    assert post.id == "at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s"
    assert post.url == "https://bsky.app/profile/soubhikbarari.bsky.social/post/3k7qmjev5lr2s"
    assert post.author.name == "Soubhik Barari"
    assert post.created_at == datetime(2023, 9, 19, 11, 32, 54, 574000, tzinfo=UTC)
    assert post.text.startswith("Excited to be a speaker for the \n@rstatsai conf on Oct 19 @Georgetown!")
    assert post.lang == "en"
    assert post.engagement.likes == 4

    thread, thread_errors = read(body_file(THREAD, tmp_path, "getPostThread", name="thread.json"), "bluesky")
    assert thread_errors == []
    assert [p.id for p in thread] == [post.id]


def test_pages_one_per_line_with_a_broken_line(tmp_path: Path) -> None:
    lines = [json.dumps(json.loads(response_body(SEARCH, "searchPosts"))), '{"posts": [{"uri": "at://',
             json.dumps(json.loads(response_body(QUOTES, "getQuotes"))),
             json.dumps(json.loads(response_body(GET_POSTS, "getPosts")))]
    path = tmp_path / "pages.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts, errors = read(path, "bluesky")
    assert len(posts) == 28
    assert [p.provenance.line for p in posts].count(1) == 25
    assert [p.provenance.line for p in posts[25:]] == [3, 3, 4]
    assert len(errors) == 1 and errors[0].line == 2


def test_post_view_without_record_text_is_a_field_error(tmp_path: Path) -> None:
    page = json.loads(response_body(QUOTES, "getQuotes"))
    del page["posts"][0]["record"]["text"]
    path = tmp_path / "quotes.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    posts, errors = read(path, "bluesky")
    assert len(posts) == 1  # the other post of the page is still read
    assert [(e.line, e.field) for e in errors] == [(1, "record.text")]


# --- Jetstream -------------------------------------------------------------------------------


def test_jetstream_window_keeps_only_post_creates() -> None:
    posts, errors = read(WINDOW, "bluesky_jetstream")
    recorded = events(WINDOW)
    creates = [(n, e) for n, e in enumerate(recorded, 1) if e["kind"] == "commit"
               and e["commit"]["collection"] == "app.bsky.feed.post" and e["commit"]["operation"] == "create"]
    assert errors == []
    assert len(posts) == 17 == len(creates)
    assert [p.provenance.line for p in posts] == [n for n, _ in creates]
    assert [p.id for p in posts] == [f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}" for _, e in creates]
    assert [p.text for p in posts] == [e["commit"]["record"]["text"] for _, e in creates]
    assert sum(p.reply_to is not None for p in posts) == 8
    assert {p.lang for p in posts} == {"en", "ja", "ko", "de", "tr", "ru", "es", None}
    assert all(p.author.handle is None and p.author.id and p.author.id.startswith("did:") for p in posts)

    first = posts[0]
    assert first.id == "at://did:plc:dclwtltrt2ggsryagfzk7dp4/app.bsky.feed.post/3mptbyoeyc22k"
    assert first.url == "https://bsky.app/profile/did:plc:dclwtltrt2ggsryagfzk7dp4/post/3mptbyoeyc22k"
    assert first.author.id == "did:plc:dclwtltrt2ggsryagfzk7dp4"
    assert first.text == "www.youtube.com/watch?v=V5lD..."
    assert first.created_at == datetime(2026, 7, 4, 14, 38, 6, 240000, tzinfo=UTC)
    assert first.lang == "en"
    assert first.provenance.source == "bluesky_jetstream"

    regional = next(p for p in posts if p.id.endswith("/3mptbyoigog2b"))
    assert regional.lang == "en"  # langs ["en-US", "en"]
    assert regional.created_at == datetime(2026, 7, 4, 14, 38, 2, tzinfo=UTC)  # "+00:00" offset form
    captionless = next(p for p in posts if p.id.endswith("/3mptbyproxc2q"))
    assert captionless.text == "" and captionless.reply_to is not None


def test_jetstream_golden_events() -> None:
    posts, errors = read(GOLDEN, "bluesky_jetstream")
    assert errors == []
    [post] = posts
    assert post.id == "at://did:plc:q235v55g5unth4zjjdpacfdr/app.bsky.feed.post/3mmoojp4cd223"
    assert post.text == "Try RSV for a good time !!"
    assert post.reply_to == "at://did:plc:j76trmiofvaxxpvx2vnb2vwf/app.bsky.feed.post/3mmojbrjwbs26"
    assert post.created_at == datetime(2026, 5, 25, 14, 23, 28, 757000, tzinfo=UTC)
    assert post.provenance.line == 2

    provenance = Provenance(source="test")
    others = [e for e in events(GOLDEN) if e.get("commit", {}).get("collection") != "app.bsky.feed.post"]
    assert len(others) == 9
    assert all(post_from_jetstream_event(e, provenance) is None for e in others)


def test_jetstream_delete_is_skipped_and_broken_line_reported(tmp_path: Path) -> None:
    lines = WINDOW.read_text(encoding="utf-8").splitlines()
    delete = next(line for line in lines if '"operation":"delete"' in line and "app.bsky.feed.post" in line)
    create = next(line for line in lines if '"operation":"create"' in line and '"app.bsky.feed.post"' in line)
    path = tmp_path / "jetstream.jsonl"
    path.write_text("\n".join([create, delete, create[:50], create]) + "\n", encoding="utf-8")
    posts, errors = read(path, "bluesky_jetstream")
    assert [p.provenance.line for p in posts] == [1, 4]
    assert len(errors) == 1 and errors[0].line == 3


def test_detection_of_every_bluesky_fixture(tmp_path: Path) -> None:
    expected = {
        body_file(SEARCH, tmp_path, "searchPosts", name="search.json"): "bluesky",
        body_file(QUOTES, tmp_path, "getQuotes", name="quotes.json"): "bluesky",
        body_file(GET_POSTS, tmp_path, "getPosts", name="posts.json"): "bluesky",
        body_file(THREAD, tmp_path, "getPostThread", name="thread.json"): "bluesky",
        WINDOW: "bluesky_jetstream",
        GOLDEN: "bluesky_jetstream",
    }
    for path, name in expected.items():
        reader = detect_format(ArchiveInput(path))
        assert reader is not None and reader.name == name, path.name

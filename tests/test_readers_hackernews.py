"""Hacker News reader: recorded Algolia search responses (2017 page, 2014 recorded pairs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.models import Post
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError

FIX = Path(__file__).parent / "fixtures" / "hackernews"
PAGE = FIX / "search_by_date_nodejs_2017.json"
PAIRS = FIX / "algolia_responses_2014.json"


def read(path: Path) -> tuple[list[Post], list[RecordError]]:
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None, f"{path.name}: no reader detected"
    assert reader.name == "hackernews"
    items = list(reader.read(source))
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def hits() -> list[dict]:
    return json.loads(PAGE.read_text(encoding="utf-8"))["hits"]


def test_search_by_date_page() -> None:
    posts, errors = read(PAGE)
    assert errors == []
    assert len(posts) == 20
    assert [p.id for p in posts] == [h["objectID"] for h in hits()]
    comments = [p for p in posts if p.reply_to is not None]
    assert len(comments) == 16 and len(posts) - len(comments) == 4
    assert all(p.platform == "hackernews" and p.lang is None for p in posts)
    assert all(p.url == f"https://news.ycombinator.com/item?id={p.id}" for p in posts)
    assert all("&#x27;" not in p.text and "<p>" not in p.text for p in posts)
    for post, hit in zip(posts, hits(), strict=True):
        assert post.created_at == datetime.fromtimestamp(hit["created_at_i"], UTC)
        assert post.author.handle == hit["author"]

    first = posts[0]
    assert first.id == "15353312"
    assert first.author.handle == "RealJon" and first.author.id is None
    assert first.reply_to == "15352681"
    assert first.created_at == datetime(2017, 9, 27, 23, 33, 24, tzinfo=UTC)
    assert first.text.startswith("You don't need to plug in any Java code, you can use it with HTTP calls to read "
                                 "and write.\n\nNo plans to break it up into pieces")
    assert (first.engagement.likes, first.engagement.replies) == (None, None)  # null for comments

    story = next(p for p in posts if p.id == "15348473")
    assert story.text == "Node v8.6.0"
    assert story.reply_to is None
    assert (story.engagement.likes, story.engagement.replies) == (1, 2)
    assert story.author.handle == "nikolay"

    quoting = next(p for p in posts if p.id == "15348128")
    assert quoting.text.startswith(">Anyway, so far we've built Shelf primarily on a NodeJs stack [...]")
    assert "\n\nThanks for providing extra technical detail." in quoting.text


def test_recorded_pairs_from_2014() -> None:
    posts, errors = read(PAIRS)
    assert errors == []
    # 26 recorded pairs: 24 search replies with one hit each; /items/17 and /users/pg are skipped.
    assert len(posts) == 24
    by_id = {p.id: p for p in posts}
    assert "pg" not in by_id and "17" not in by_id

    zed = by_id["6805807"]
    assert zed.author.handle == "zedshaw"
    assert zed.reply_to == "6805699"
    assert zed.engagement.likes == 1081  # comments had points in 2014
    assert zed.created_at == datetime.fromtimestamp(1385518716, UTC)

    poll = by_id["3746692"]
    assert poll.reply_to is None
    assert poll.text.startswith("Poll: What's Your Favorite Programming Language?\n\n"
                                "What's your favortie programming langauge?\n\nBelow are the most popular languages.")
    assert (poll.engagement.likes, poll.engagement.replies) == (2321, 592)

    story = by_id["3078128"]
    assert story.text == "Steve Jobs has passed away."  # no story_text: the title alone
    assert story.author.handle == "patricktomas"


def test_hits_one_per_line_with_bad_lines(tmp_path: Path) -> None:
    recorded = hits()
    no_text = dict(recorded[0])
    no_text["comment_text"] = None
    sparse = {k: v for k, v in recorded[1].items() if k not in ("created_at_i", "points", "num_comments", "url",
                                                                   "story_text", "_highlightResult")}
    lines = [json.dumps(recorded[2]), json.dumps(no_text), '{"objectID": "1", "_tags": [', json.dumps(sparse)]
    path = tmp_path / "hits.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts, errors = read(path)
    assert [p.provenance.line for p in posts] == [1, 4]
    assert [(e.line, e.field) for e in errors] == [(2, "comment_text"), (3, None)]
    # Missing fields are tolerated: created_at instead of created_at_i, no points.
    assert posts[1].created_at == datetime(2017, 9, 27, 23, 17, 7, tzinfo=UTC)
    assert posts[1].engagement.likes is None


def test_detection(tmp_path: Path) -> None:
    jsonl = tmp_path / "hits.jsonl"
    jsonl.write_text("".join(json.dumps(h) + "\n" for h in hits()), encoding="utf-8")
    for path in (PAGE, PAIRS, jsonl):
        reader = detect_format(ArchiveInput(path))
        assert reader is not None and reader.name == "hackernews", path.name
    posts, errors = read(jsonl)
    assert len(posts) == 20 and errors == []

"""Reddit readers: a real Pushshift .zst dump and recorded Data API Listings."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import zstandard
from cassettes import body_file, response_body

from monitor.models import Post
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError, expand_inputs

FIX = Path(__file__).parent / "fixtures" / "reddit"
DUMP = FIX / "RC_2005-12.zst"
SEARCH = FIX / "search_listing_t3_2016.betamax.json"
COMMENTS = FIX / "subreddit_comments_t1_2016.betamax.json"
SUBMISSION = FIX / "submission_comments_ratelimit_headers_2025.betamax.json"


def read(path: Path, expected: str, member: str | None = None) -> tuple[list[Post], list[RecordError]]:
    source = ArchiveInput(path, member)
    reader = detect_format(source)
    assert reader is not None, f"{path.name}: no reader detected"
    assert reader.name == expected
    items = list(reader.read(source))
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def dump_lines() -> list[str]:
    with DUMP.open("rb") as fh:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(fh, read_across_frames=True)
        return io.TextIOWrapper(reader, encoding="utf-8").read().splitlines()


# --- reddit_dump -----------------------------------------------------------------------------


def test_pushshift_zst_dump() -> None:
    posts, errors = read(DUMP, "reddit_dump")
    recorded = [json.loads(line) for line in dump_lines()]
    assert errors == []
    assert len(posts) == 1075 == len(recorded)
    assert [p.id for p in posts] == [f"t1_{r['id']}" for r in recorded]
    assert [p.reply_to for p in posts] == [r["parent_id"] for r in recorded]
    assert [p.provenance.line for p in posts] == list(range(1, 1076))

    first = posts[0]
    assert first.platform == "reddit"
    assert first.id == "t1_c13"
    assert first.url == "https://www.reddit.com/r/reddit.com/comments/17863/_/c13/"
    assert first.author.handle == "frjo" and first.author.id is None
    assert first.text == "A look at Vietnam and Mexico exposes the myth of market liberalisation."
    assert first.created_at == datetime.fromtimestamp(1134365188, UTC)
    assert first.reply_to == "t3_17863"
    assert first.engagement.likes == 2 and first.engagement.replies is None
    assert first.lang is None
    assert first.provenance.source == "reddit_dump"
    assert first.provenance.collected_at == datetime.fromtimestamp(1473738411, UTC)  # retrieved_on


def test_dump_keeps_deleted_posts_without_a_pseudo_author() -> None:
    posts, _ = read(DUMP, "reddit_dump")
    deleted_text = [p for p in posts if p.text in ("[deleted]", "[removed]")]
    assert len(deleted_text) == 120
    assert sum(p.author.handle is None for p in posts) == 185  # "[deleted]" authors
    deleted = next(p for p in posts if p.id == "t1_c16")
    assert deleted.text == "[deleted]" and deleted.author.handle is None
    assert deleted.raw is not None and deleted.raw["author"] == "[deleted]"


def test_dump_unescapes_entities() -> None:
    posts, _ = read(DUMP, "reddit_dump")
    recorded = {f"t1_{r['id']}": r for r in map(json.loads, dump_lines())}
    escaped = [p for p in posts if "&amp;" in recorded[p.id]["body"]]
    assert escaped
    assert all("&amp;" not in p.text for p in escaped)


def test_truncated_zst_yields_posts_before_the_cut_and_one_error(tmp_path: Path) -> None:
    truncated = tmp_path / "RC_2005-12.zst"
    truncated.write_bytes(DUMP.read_bytes()[:60_000])
    posts, errors = read(truncated, "reddit_dump")
    full, _ = read(DUMP, "reddit_dump")
    assert 0 < len(posts) < 1075
    assert len(posts) == 438
    assert [p.id for p in posts] == [p.id for p in full[: len(posts)]]
    assert len(errors) == 1
    assert errors[0].line == len(posts) + 1
    assert "stream ended early" in errors[0].reason


def test_zst_dump_inside_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "dumps.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(DUMP, "comments/RC_2005-12.zst")
    [member] = expand_inputs(archive)
    posts, errors = read(archive, "reddit_dump", member.member)
    assert errors == [] and len(posts) == 1075


def test_dump_broken_and_incomplete_lines(tmp_path: Path) -> None:
    lines = dump_lines()[:5]
    lines[2] = lines[2][:40]  # cut mid-record
    record = json.loads(lines[3])
    del record["body"]
    lines[3] = json.dumps(record)
    path = tmp_path / "RC_sample.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts, errors = read(path, "reddit_dump")
    assert [p.provenance.line for p in posts] == [1, 2, 5]
    assert [(e.line, e.field) for e in errors] == [(3, None), (4, "body")]
    assert "not valid JSON" in errors[0].reason


# --- reddit_listing --------------------------------------------------------------------------


def test_search_listing_of_submissions(tmp_path: Path) -> None:
    posts, errors = read(body_file(SEARCH, tmp_path, "/search/"), "reddit_listing")
    listing = json.loads(response_body(SEARCH, "/search/"))
    assert errors == []
    assert len(posts) == 6
    assert [p.id for p in posts] == [c["data"]["name"] for c in listing["data"]["children"]]
    assert all(p.reply_to is None for p in posts)

    first = posts[0]
    data = listing["data"]["children"][0]["data"]
    assert first.id == "t3_3gpbiu"
    # The ?ref=search_posts tracking parameter is dropped from the permalink.
    assert first.url == "https://www.reddit.com/r/redditdev/comments/3gpbiu/prawoauth2util_problem_using_get_banned_raise/"
    assert first.author.handle == "dClauzel"
    assert first.text == data["title"] + "\n\n" + data["selftext"]
    assert first.text.startswith("[PRAW][OAuth2Util] Problem using get_banned() : raise Forbidden(_raw=response)\n\n")
    assert first.created_at == datetime(2015, 8, 12, 9, 8, 34, tzinfo=UTC)
    assert (first.engagement.likes, first.engagement.replies) == (0, 21)

    japanese = posts[5]
    assert japanese.id == "t3_4at068"
    assert japanese.text.startswith("たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた")
    assert japanese.engagement.likes == 15


def test_subreddit_comments_listing(tmp_path: Path) -> None:
    posts, errors = read(body_file(COMMENTS, tmp_path, "/comments/"), "reddit_listing")
    listing = json.loads(response_body(COMMENTS, "/comments/"))
    assert errors == []
    assert len(posts) == 100
    children = [c["data"] for c in listing["data"]["children"]]
    assert [p.id for p in posts] == [c["name"] for c in children]
    assert [p.reply_to for p in posts] == [c["parent_id"] for c in children]
    assert [p.text for p in posts] == [c["body"] for c in children]

    first = posts[0]
    assert first.id == "t1_d4y8bdp"
    assert first.url == "https://www.reddit.com/r/AskReddit/comments/4r4inc/_/d4y8bdp/"
    assert first.author.handle == "preppypuppy"
    assert first.text == "great, life is so much better when you can do what you enjoy for a living"
    assert first.created_at == datetime.fromtimestamp(1467590690.0, UTC)  # created_utc as a float
    assert first.reply_to == "t3_4r4inc"
    assert first.engagement.likes == 1
    assert first.provenance.source == "reddit_listing"


def test_submission_with_comments_array(tmp_path: Path) -> None:
    # GET /comments/{id}/ answers with [t3 Listing, t1 Listing].
    posts, errors = read(body_file(SUBMISSION, tmp_path, "/comments/"), "reddit_listing")
    assert errors == []
    [post] = posts
    assert post.id == "t3_1kh35wk"
    assert post.author.id == "t2_6hk60"  # author_fullname
    assert post.text == "Test Title\n\nTesting **PRAW** link submission *with markdown selftext*."
    assert post.created_at == datetime.fromtimestamp(1746638832.0, UTC)
    assert (post.engagement.likes, post.engagement.replies) == (1, 0)


def test_listings_one_per_line_with_a_broken_line(tmp_path: Path) -> None:
    bodies = [json.dumps(json.loads(response_body(SEARCH, "/search/"))), "{\"kind\": \"Listing\", \"data\": {",
              json.dumps(json.loads(response_body(COMMENTS, "/comments/")))]
    path = tmp_path / "listings.jsonl"
    path.write_text("\n".join(bodies) + "\n", encoding="utf-8")
    posts, errors = read(path, "reddit_listing")
    assert len(posts) == 106
    assert {p.provenance.line for p in posts[:6]} == {1} and {p.provenance.line for p in posts[6:]} == {3}
    assert len(errors) == 1 and errors[0].line == 2


def test_detection_of_every_reddit_fixture(tmp_path: Path) -> None:
    expected = {
        DUMP: "reddit_dump",
        body_file(SEARCH, tmp_path, "/search/", name="search.json"): "reddit_listing",
        body_file(COMMENTS, tmp_path, "/comments/", name="comments.json"): "reddit_listing",
        body_file(SUBMISSION, tmp_path, "/comments/", name="submission.json"): "reddit_listing",
    }
    plain = tmp_path / "RC_2005-12.ndjson"
    plain.write_text("\n".join(dump_lines()) + "\n", encoding="utf-8")
    expected[plain] = "reddit_dump"
    for path, name in expected.items():
        reader = detect_format(ArchiveInput(path))
        assert reader is not None and reader.name == name, path.name

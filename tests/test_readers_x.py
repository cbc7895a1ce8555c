"""X readers: twarc2 API v2 JSONL and the account archive, against recorded real data."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cassettes import body_file

from monitor.models import Post
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError, expand_inputs

FIX = Path(__file__).parent / "fixtures" / "x"
BREXIT = FIX / "search_recent_expanded_brexit_2021.jsonl"
EDITED = FIX / "tweets_lookup_edited_2022.jsonl"
QUOTED = FIX / "tweets_lookup_quoted_edit_2022.jsonl"
ARCHIVE = FIX / "archive"


def read(path: Path, expected: str, member: str | None = None) -> tuple[list[Post], list[RecordError]]:
    source = ArchiveInput(path, member)
    reader = detect_format(source)
    assert reader is not None, f"{path.name}: no reader detected"
    assert reader.name == expected
    items = list(reader.read(source))
    assert all(isinstance(i, Post | RecordError) for i in items)
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def page(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8").splitlines()[0])


# --- x_twarc ---------------------------------------------------------------------------------


def test_twarc_search_page_maps_every_data_tweet() -> None:
    posts, errors = read(BREXIT, "x_twarc")
    recorded = page(BREXIT)
    assert errors == []
    assert len(posts) == 100
    assert [p.id for p in posts] == [t["id"] for t in recorded["data"]]
    # Tweets only referenced through includes.tweets are not stored as posts.
    only_included = {t["id"] for t in recorded["includes"]["tweets"]} - {t["id"] for t in recorded["data"]}
    assert only_included and not only_included & {p.id for p in posts}
    assert sum(p.repost_of is not None for p in posts) == 67
    assert sum(p.quote_of is not None for p in posts) == 11
    assert sum(p.reply_to is not None for p in posts) == 10
    assert sum(p.lang is None for p in posts) == 3  # "und"
    assert {p.lang for p in posts} == {"en", "de", "es", None}
    assert all(p.platform == "x" and p.provenance.source == "x_twarc" for p in posts)


def test_twarc_tweet_fields_match_the_recording() -> None:
    posts, _ = read(BREXIT, "x_twarc")
    first = posts[0]
    assert first.id == "1440716895355764743"
    assert first.url == "https://x.com/WarmongerHodges/status/1440716895355764743"
    assert first.author.id == "4203239195"
    assert first.author.handle == "WarmongerHodges"
    assert first.author.name is not None and first.author.name.startswith("Frank Owen's Legendary Paintbrush")
    assert first.created_at == datetime(2021, 9, 22, 16, 37, 29, tzinfo=UTC)
    assert first.text.startswith("The same Labour MPs that were happy to cite party members")
    assert first.text.endswith('\n\nTypical "centrists". No principles.')
    assert first.lang == "en"
    assert (first.engagement.likes, first.engagement.reposts, first.engagement.replies, first.engagement.quotes) == (
        0, 0, 0, 0)
    assert first.raw is not None and first.raw["author"]["username"] == "WarmongerHodges"
    # twarc's stamp becomes the provenance of every tweet of the page.
    assert first.provenance.line == 1
    assert first.provenance.request is not None and "query=%23brexit" in first.provenance.request
    assert first.provenance.collected_at == datetime(2021, 9, 22, 16, 38, 9, tzinfo=UTC)

    recorded = {t["id"]: t for t in page(BREXIT)["data"]}
    for post in posts:
        refs = {r["type"]: r["id"] for r in recorded[post.id].get("referenced_tweets", [])}
        assert post.repost_of == refs.get("retweeted")
        assert post.quote_of == refs.get("quoted")
        assert post.reply_to == refs.get("replied_to")
        assert post.engagement.likes == recorded[post.id]["public_metrics"]["like_count"]
        assert post.engagement.reposts == recorded[post.id]["public_metrics"]["retweet_count"]


def test_twarc_edited_tweet_lookup() -> None:
    posts, errors = read(EDITED, "x_twarc")
    assert errors == []
    [post] = posts
    assert post.id == "1576994789110992896"
    assert post.author.handle == "wongmjane"
    assert post.author.name == "Jane Manchun Wong"
    assert post.text == "hey :) https://t.co/rnwEIoNuqd"
    assert post.lang is None  # "qst": no linguistic content
    assert post.created_at == datetime(2022, 10, 3, 17, 57, 11, tzinfo=UTC)
    assert (post.engagement.likes, post.engagement.reposts, post.engagement.replies, post.engagement.quotes) == (
        27, 2, 12, 2)


def test_twarc_quote_that_is_also_a_reply() -> None:
    posts, errors = read(QUOTED, "x_twarc")
    assert errors == []
    [post] = posts
    assert post.id == "1576995594388000768"
    assert post.author.handle == "dappdavid99"
    assert post.url == "https://x.com/dappdavid99/status/1576995594388000768"
    assert post.quote_of == "1576994746135764992"
    assert post.reply_to == "1576994789110992896"
    assert post.repost_of is None
    assert post.text == "@wongmjane Test \nhttps://t.co/rBFwqjVr6B"


def test_twarc_flattened_and_plain_tweet_lines(tmp_path: Path) -> None:
    recorded = page(BREXIT)
    users = {u["id"]: u for u in recorded["includes"]["users"]}
    flat = tmp_path / "flat.jsonl"  # as `twarc2 flatten` writes: author embedded, one tweet per line
    flat.write_text("".join(json.dumps({**t, "author": users[t["author_id"]]}) + "\n" for t in recorded["data"]),
                    encoding="utf-8")
    plain = tmp_path / "plain.jsonl"  # bare tweet objects: no user details available
    plain.write_text("".join(json.dumps(t) + "\n" for t in recorded["data"][:5]), encoding="utf-8")

    from_page, _ = read(BREXIT, "x_twarc")
    flat_posts, flat_errors = read(flat, "x_twarc")
    assert flat_errors == []
    assert [(p.id, p.author.handle, p.text, p.repost_of, p.created_at) for p in flat_posts] == [
        (p.id, p.author.handle, p.text, p.repost_of, p.created_at) for p in from_page]
    assert [p.provenance.line for p in flat_posts[:3]] == [1, 2, 3]

    plain_posts, plain_errors = read(plain, "x_twarc")
    assert plain_errors == []
    assert plain_posts[0].author.id == "4203239195" and plain_posts[0].author.handle is None
    assert plain_posts[0].url == "https://x.com/i/web/status/1440716895355764743"


def test_twarc_page_without_created_at_reports_each_tweet(tmp_path: Path) -> None:
    # tweepy's default-fields search: tweets have id and text only.
    path = body_file(FIX / "search_recent_minimal_2022.vcr.yaml", tmp_path, "search/recent", name="minimal.json")
    posts, errors = read(path, "x_twarc")
    assert posts == []
    assert len(errors) == 10
    assert all(e.field == "created_at" and e.line == 1 and "tweet.fields=created_at" in e.reason for e in errors)


def test_twarc_broken_line_in_the_middle(tmp_path: Path) -> None:
    lines = [EDITED.read_text(encoding="utf-8").strip(), '{"data": [{"id": "1", "text": "cut off', QUOTED.read_text(
        encoding="utf-8").strip()]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts, errors = read(path, "x_twarc")
    assert [p.id for p in posts] == ["1576994789110992896", "1576995594388000768"]
    assert [p.provenance.line for p in posts] == [1, 3]
    assert len(errors) == 1 and errors[0].line == 2 and "not valid JSON" in errors[0].reason


# --- x_archive -------------------------------------------------------------------------------


def archive_entries() -> list[dict]:
    text = (ARCHIVE / "tweets.js").read_text(encoding="utf-8")
    return [e["tweet"] for e in json.loads(text[text.index("=") + 1:])]


def test_archive_folder_with_account() -> None:
    posts, errors = read(ARCHIVE / "tweets.js", "x_archive")
    assert errors == []
    assert len(posts) == 150
    assert sum(p.text.startswith("RT @") for p in posts) == 46
    assert sum(p.reply_to is not None for p in posts) == 25
    assert sum(not p.text.startswith("RT @") and p.reply_to is None for p in posts) == 79
    assert all(p.repost_of is None for p in posts)  # archives do not say which tweet an RT reposts
    assert {(p.author.id, p.author.handle, p.author.name) for p in posts} == {
        ("112769581", "andreruffert", "André Ruffert")}

    first = posts[0]
    assert first.id == "1588091220244369409"
    assert first.url == "https://x.com/andreruffert/status/1588091220244369409"
    assert first.text == "Good morning #LeadDevBerlin 👋 https://t.co/p5Z1ebhgmy"
    assert first.created_at == datetime(2022, 11, 3, 8, 50, 26, tzinfo=UTC)
    assert first.lang == "en"
    assert (first.engagement.likes, first.engagement.reposts) == (5, 1)  # "5" and "1" in the file
    assert first.provenance.source == "x_archive" and first.provenance.line == 2

    reply = next(p for p in posts if p.id == "1587920147083591680")
    assert reply.reply_to == "1587919612078739456"
    assert reply.text == "@OleMchls Same same, it's been ages…"


def test_archive_text_entities_are_unescaped() -> None:
    posts, _ = read(ARCHIVE / "tweets.js", "x_archive")
    by_id = {p.id: p for p in posts}
    for tweet in archive_entries():
        if "&lt;" in tweet["full_text"] or "&amp;" in tweet["full_text"]:
            text = by_id[tweet["id_str"]].text
            assert "&lt;" not in text and "&gt;" not in text and "&amp;" not in text
    assert any("<progressive-image>" in p.text for p in posts)
    assert any("debugging & quick experimentations" in p.text for p in posts)


def test_archive_zip(tmp_path: Path) -> None:
    archive = tmp_path / "twitter-archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(ARCHIVE / "tweets.js", "data/tweets.js")
        zf.write(ARCHIVE / "account.js", "data/account.js")
    members = list(expand_inputs(archive))
    assert [m.member for m in members] == ["data/account.js", "data/tweets.js"]

    account_posts, account_errors = read(archive, "x_archive_other", "data/account.js")
    assert account_posts == [] and account_errors == []

    posts, errors = read(archive, "x_archive", "data/tweets.js")
    assert errors == []
    folder_posts, _ = read(ARCHIVE / "tweets.js", "x_archive")
    assert [p.id for p in posts] == [p.id for p in folder_posts]
    assert {p.author.handle for p in posts} == {"andreruffert"}
    assert posts[0].provenance.file == f"{archive}!data/tweets.js"


def test_archive_part_file_without_account(tmp_path: Path) -> None:
    text = (ARCHIVE / "tweets.js").read_text(encoding="utf-8")
    text = text.replace("window.YTD.tweets.part0", "window.YTD.tweets.part1", 1)
    path = tmp_path / "tweets-part1.js"
    path.write_text(text, encoding="utf-8")
    posts, errors = read(path, "x_archive")
    assert errors == [] and len(posts) == 150
    assert posts[0].author.handle is None
    assert posts[0].url == "https://x.com/i/web/status/1588091220244369409"


def test_archive_broken_entry_keeps_the_ones_before(tmp_path: Path) -> None:
    text = (ARCHIVE / "tweets.js").read_text(encoding="utf-8")
    cut = text.index('"tweet"', text.index('"tweet"', text.index('"tweet"') + 1) + 1)  # third entry
    path = tmp_path / "tweets.js"
    path.write_text(text[:cut] + '"tweet" : { "id" : oops } } ]', encoding="utf-8")
    posts, errors = read(path, "x_archive")
    assert len(posts) == 2
    assert len(errors) == 1
    assert errors[0].line == text[:cut].count("\n") + 1
    assert "not valid JSON" in errors[0].reason


def test_archive_read_in_small_chunks_gives_every_entry_on_its_line(tmp_path: Path, monkeypatch) -> None:
    """The file is read a chunk at a time (it was read whole, and each entry's line counted from the
    start: a 150 MB tweets.js took hours). Chunks of 7 to 1000 bytes cut entries, UTF-8 characters
    and escapes; a BOM and CRLF line ends too. Same posts, same lines, as read whole."""
    from monitor.sources import base

    text = (ARCHIVE / "tweets.js").read_text(encoding="utf-8")
    path = tmp_path / "tweets.js"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    whole, whole_errors = read(path, "x_archive")
    expected = [(p.id, p.text, p.provenance.line) for p in whole]
    assert whole_errors == [] and len(expected) == 150 and expected[0][2] == 2
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line == "  {"]
    assert [line for _, _, line in expected] == starts
    for chunk in (7, 64, 1000):
        monkeypatch.setattr(base, "TEXT_CHUNK", chunk)
        posts, errors = read(path, "x_archive")
        assert errors == [] and [(p.id, p.text, p.provenance.line) for p in posts] == expected, chunk
    broken = text[: text.index('"tweet"', text.index('"tweet"') + 1)] + '"tweet" : { "id" : oops } } ]'
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setattr(base, "TEXT_CHUNK", 64)
    posts, errors = read(path, "x_archive")
    assert len(posts) == 1 and len(errors) == 1 and "not valid JSON" in errors[0].reason
    assert errors[0].line == broken.count("\n", 0, broken.index("oops")) + 1


def test_archive_entry_without_text_is_a_field_error(tmp_path: Path) -> None:
    entries = [{"tweet": t} for t in archive_entries()[:3]]
    del entries[1]["tweet"]["full_text"]
    path = tmp_path / "tweets.js"
    text = "window.YTD.tweets.part0 = " + json.dumps(entries, indent=2)
    path.write_text(text, encoding="utf-8")
    entry_lines = [n for n, line in enumerate(text.splitlines(), 1) if line == "  {"]
    posts, errors = read(path, "x_archive")
    assert [p.provenance.line for p in posts] == [entry_lines[0], entry_lines[2]]
    assert len(errors) == 1 and errors[0].field == "full_text" and errors[0].line == entry_lines[1]


def test_detection_of_every_x_fixture(tmp_path: Path) -> None:
    minimal = body_file(FIX / "search_recent_minimal_2022.vcr.yaml", tmp_path, "search/recent")
    expected = {BREXIT: "x_twarc", EDITED: "x_twarc", QUOTED: "x_twarc", minimal: "x_twarc",
                ARCHIVE / "tweets.js": "x_archive", ARCHIVE / "account.js": "x_archive_other"}
    for path, name in expected.items():
        reader = detect_format(ArchiveInput(path))
        assert reader is not None and reader.name == name, path.name

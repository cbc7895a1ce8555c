"""`monitor import` on a real archive of every listed format: format detected from the content,
the right number of posts, and a second import that adds nothing."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.cassettes import body_file
from tests.conftest import FIXTURES


def x_archive_zip(tmp_path: Path) -> Path:
    path = tmp_path / "twitter-archive.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("tweets.js", "account.js"):
            zf.write(FIXTURES / "x" / "archive" / name, f"data/{name}")
    return path


def copy(relative: str):
    return lambda tmp_path: shutil.copy(FIXTURES / relative, tmp_path / Path(relative).name) and \
        tmp_path / Path(relative).name


CASES = {
    # name: (build the archive, expected format, posts read)
    "x_twarc": (copy("x/search_recent_expanded_brexit_2021.jsonl"), "x_twarc", 100),
    "x_archive_zip": (x_archive_zip, "x_archive", 150),
    "reddit_dump_zst": (copy("reddit/RC_2005-12.zst"), "reddit_dump", 1075),
    "reddit_listing": (lambda t: body_file(FIXTURES / "reddit" / "subreddit_comments_t1_2016.betamax.json", t,
                                           "comments"), "reddit_listing", 100),
    "bluesky_search": (lambda t: body_file(FIXTURES / "bluesky" / "searchPosts_redistricting_2025-05.vcr.yml", t),
                       "bluesky", 25),
    "bluesky_jetstream": (copy("bluesky/jetstream_v1_stream_window_2026-07.jsonl"), "bluesky_jetstream", 17),
    "mastodon": (lambda t: body_file(FIXTURES / "mastodon" / "tag_timeline_mastodon_social_anonymous_2022.vcr.yml",
                                     t), "mastodon", 5),
    "hackernews": (copy("hackernews/search_by_date_nodejs_2017.json"), "hackernews", 20),
    "rss": (copy("news/guardian_rss2.xml"), "rss", 55),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_every_format_twice(case: str, cli, tmp_path: Path, data_dir: Path) -> None:
    build, fmt, count = CASES[case]
    archive = build(tmp_path)
    config = tmp_path / "all.toml"
    config.write_text((FIXTURES.parents[1] / "config" / "monitor.toml").read_text(encoding="utf-8")
                      .replace("store_unmatched = false", 'store_unmatched = true\nanalyzer = "vader"'),
                      encoding="utf-8")  # (formats, not analysis: the fast analyzer)
    first = json.loads(cli("import", "--json", str(archive), config=config).output)
    # An X archive zip also holds account.js & co., read by a reader that yields nothing.
    assert {r["format"] for r in first} - {"x_archive_other"} == {fmt}
    assert sum(r["records"] for r in first) == count
    assert sum(r["posts_new"] for r in first) == count - sum(r["posts_seen"] for r in first)
    assert sum(r["errors"] for r in first) == 0
    again = json.loads(cli("import", "--json", "--force", str(archive), config=config).output)
    assert sum(r["posts_new"] for r in again) == 0
    assert sum(r["posts_seen"] for r in again) == sum(r["posts_new"] for r in first)

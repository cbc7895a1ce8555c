"""Mastodon reader and the shared html_to_text helper, against recorded API responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cassettes import body_file, interactions, response_body

from monitor.models import Post, Provenance
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError
from monitor.sources.mastodon import html_to_text, post_from_status

FIX = Path(__file__).parent / "fixtures" / "mastodon"
SOCIAL = FIX / "tag_timeline_mastodon_social_anonymous_2022.vcr.yml"
TAG_LOCAL = FIX / "tag_timeline_local_v4.vcr.yaml"
SEARCH = FIX / "search_v2_local_v4.vcr.yaml"
PUBLIC = FIX / "public_timeline_anonymous_local_v4.vcr.yaml"


def read(path: Path, expected: str = "mastodon") -> tuple[list[Post], list[RecordError]]:
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None, f"{path.name}: no reader detected"
    assert reader.name == expected
    items = list(reader.read(source))
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def test_tag_timeline_from_mastodon_social(tmp_path: Path) -> None:
    posts, errors = read(body_file(SOCIAL, tmp_path, "timelines/tag"))
    statuses = json.loads(response_body(SOCIAL, "timelines/tag"))
    assert errors == []
    assert len(posts) == 5
    assert [p.lang for p in posts].count("de") == 4
    assert [p.id for p in posts] == [s["uri"] for s in statuses]  # uri, not the instance-local id
    assert [p.author.handle for p in posts] == ["amreibahr@mastodon.social", "CathleenSarti@mas.to",
                                                "fuzzyleapfrog@chaos.social", "Chrizzy80@norden.social",
                                                "ornithophilos@bildung.social"]

    first = posts[0]
    assert first.platform == "mastodon"
    assert first.id == "https://mastodon.social/users/amreibahr/statuses/109307661613791619"
    assert first.url == "https://mastodon.social/@amreibahr/109307661613791619"
    assert first.author.id == "109245508337104370" and first.author.name == "Amrei Bahr"
    assert first.created_at == datetime(2022, 11, 8, 10, 15, 51, 486000, tzinfo=UTC)
    assert first.text.startswith("Ich habe es satt, mich ständig bewähren zu müssen.")
    assert "Aber wehe #IchBinHanna hat so einen Tag." in first.text
    assert "<" not in first.text
    assert (first.engagement.likes, first.engagement.reposts, first.engagement.replies) == (18, 4, 0)
    assert first.engagement.quotes is None  # 2022 servers had no quotes_count
    assert first.reply_to is None and first.repost_of is None

    # Seen through mastodon.social, a mas.to status keeps its home URI as id.
    remote = posts[1]
    assert remote.id == "https://mas.to/users/CathleenSarti/statuses/109304314822684850"
    assert remote.raw is not None and remote.raw["id"] == "109304314810517257"
    assert remote.lang == "en"

    line_break = posts[3]
    assert line_break.text == ("So, ich mach' dann mal Schluss für heute. Kopfschmerzen from hell.\n"
                               "#ichbinhanna #ichwarhanna")

    reply = posts[4]
    assert reply.reply_to == "109302329974271443"  # instance-local, stored as given
    assert reply.text == "@elhotzo\nWissenschaftlicher Mittelbau in a nutshell\n\n#IchBinHanna"


def test_local_v4_timelines(tmp_path: Path) -> None:
    tag, tag_errors = read(body_file(TAG_LOCAL, tmp_path, "timelines/tag", name="tag.json"))
    assert tag_errors == []
    [post] = tag
    assert post.id == "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701"
    assert post.author.handle == "mastodonpy_test_2@localhost:3000"  # local acct qualified with the host
    assert post.author.name is None  # empty display_name
    assert post.text == "#hoot (hashtag toot)"
    assert post.lang == "ja"
    assert (post.engagement.likes, post.engagement.reposts, post.engagement.replies, post.engagement.quotes) == (
        0, 0, 0, 0)

    public, public_errors = read(body_file(PUBLIC, tmp_path, "timelines/public", name="public.json"))
    assert public_errors == []
    assert len(public) == 8
    assert public[1].text == "you can't say that on television"  # &#39;
    assert public[4].text == "@mastodonpy_test beep beep I'm a jeep"
    assert {p.author.handle for p in public} == {"admin@localhost:3000", "mastodonpy_test_2@localhost:3000"}


def test_search_v2_without_statuses_is_empty_not_an_error(tmp_path: Path) -> None:
    for index in range(2):
        path = body_file(SEARCH, tmp_path, "/api/v2/search", index, name=f"search{index}.json")
        assert read(path) == ([], [])
    typed = body_file(SEARCH, tmp_path, "type=statuses", name="search_statuses.json")
    assert read(typed) == ([], [])


def test_single_status_documents(tmp_path: Path) -> None:
    recorded = {r.method: r.body for r in interactions(PUBLIC) if r.method in ("POST", "DELETE")}
    created = tmp_path / "created.json"
    created.write_text(recorded["POST"], encoding="utf-8")
    deleted = tmp_path / "deleted.json"  # a DELETE answer carries the plain source `text`, no `content`
    deleted.write_text(recorded["DELETE"], encoding="utf-8")
    [from_post], _ = read(created)
    [from_delete], _ = read(deleted)
    assert from_post.id == from_delete.id
    assert from_post.text == from_delete.text == "Toot, finally!"


def test_statuses_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    statuses = json.loads(response_body(SOCIAL, "timelines/tag"))
    lines = [json.dumps(s) for s in statuses]
    lines.insert(2, lines[2][:100])
    no_uri = dict(statuses[0])
    del no_uri["uri"]
    lines.append(json.dumps(no_uri))
    path = tmp_path / "statuses.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts, errors = read(path)
    assert [p.provenance.line for p in posts] == [1, 2, 4, 5, 6]
    assert [(e.line, e.field) for e in errors] == [(3, None), (7, "uri")]


def test_reblog_wrapper_is_a_repost_with_the_reblogged_text() -> None:
    statuses = json.loads(response_body(SOCIAL, "timelines/tag"))
    original, booster = statuses[2], statuses[0]
    # A reblog as the API shapes it: the booster's own status with the original under `reblog`,
    # no content, language or url of its own.
    wrapper = {**booster, "id": "109307700000000000", "uri": booster["uri"] + "/activity", "url": None,
               "content": "", "language": None, "reblog": original, "created_at": "2022-11-08T11:00:00.000Z"}
    post = post_from_status(wrapper, Provenance(source="test"))
    assert post.id == booster["uri"] + "/activity"
    assert post.repost_of == original["uri"]
    assert post.text == html_to_text(original["content"])
    assert post.lang == "de"
    assert post.author.handle == "amreibahr@mastodon.social"  # the booster
    assert post.url == original["url"]
    assert post.created_at == datetime(2022, 11, 8, 11, 0, tzinfo=UTC)


def test_content_warning_is_kept_before_the_text() -> None:
    status = json.loads(response_body(SOCIAL, "timelines/tag"))[3]
    post = post_from_status({**status, "spoiler_text": "Gesundheit"}, Provenance(source="test"))
    assert post.text.startswith("Gesundheit\n\nSo, ich mach' dann mal Schluss")


def test_html_to_text() -> None:
    assert html_to_text("<p>one</p><p>two<br>three<br /><br>four</p>") == "one\n\ntwo\nthree\n\nfour"
    # Hacker News style: <p> separates paragraphs and is never closed.
    assert html_to_text("You don&#x27;t need<p>No &amp; more<p>end") == "You don't need\n\nNo & more\n\nend"
    assert html_to_text("<i>&gt;quoted</i> reply") == ">quoted reply"
    assert html_to_text("<p>code:</p><pre><code>  a = 1\n  b = 2\n</code></pre>after") == (
        "code:\n\n  a = 1\n  b = 2\n\nafter")
    assert html_to_text('<a href="https://e.com/x"><span class="invisible">https://</span>'
                        '<span class="ellipsis">e.com/lo</span><span class="invisible">ng</span></a>') == (
        "https://e.com/long")
    assert html_to_text("  spaced \n  out  ") == "spaced out"
    assert html_to_text("<ul><li>a</li><li>b</li></ul>") == "a\nb"
    assert html_to_text("<script>x()</script>text") == "text"
    assert html_to_text("") == ""


def test_detection_of_every_mastodon_fixture(tmp_path: Path) -> None:
    paths = [
        body_file(SOCIAL, tmp_path, "timelines/tag", name="social.json"),
        body_file(TAG_LOCAL, tmp_path, "timelines/tag", name="tag.json"),
        body_file(SEARCH, tmp_path, "/api/v2/search", name="search.json"),
        body_file(SEARCH, tmp_path, "type=statuses", name="search_statuses.json"),
        body_file(PUBLIC, tmp_path, "timelines/public", name="public.json"),
    ]
    for path in paths:
        reader = detect_format(ArchiveInput(path))
        assert reader is not None and reader.name == "mastodon", path.name

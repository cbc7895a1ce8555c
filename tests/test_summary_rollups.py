"""The summary from what the writer keeps ready (store/rollups.py: the word rollups, the mention facts)
equals the summary from the rows,
on a random store written through the one writer, after a rescore, a second import of the same
posts, deletions at the source and maintenance; rows written past the writer make the summary read
the rows (issue #16 item 3)."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from rich.console import Console

from monitor import summary
from monitor.store import Store, WriteBatch, rollups
from monitor.store.rows import MENTIONS_SCHEMA, POSTS_SCHEMA, TARGET_SCORES_SCHEMA, TARGETS_SCHEMA
from tests.figures import same_figures

NOW = datetime(2025, 3, 10, 15, 30)
TARGETS = {"musk": "Elon Musk", "altman": "Sam Altman", "openai": "OpenAI"}
WORDS = ["rocket", "launch", "compute", "chips", "model", "about", "great", "terrible", "elon", "datacenter",
         "Über", "naïve", "café", "the", "deal"]
TAGS = ["#AI", "#SpaceX", "#mars", "#Stargate", "#ai", "#gpu_2025"]


def _posts(rng: random.Random, numbers: range) -> list[dict[str, Any]]:
    rows = []
    for n in numbers:
        words = rng.choices(WORDS, k=rng.randint(3, 9)) + rng.sample(TAGS, rng.randint(0, 2))
        if rng.random() < 0.3:
            words.append("https://t.co/x" + str(n))
        rng.shuffle(words)
        rows.append({"post_key": f"x:{n}", "platform": rng.choice(["x", "bluesky"]), "post_id": str(n),
                     "text": " ".join(words), "created_at": NOW - timedelta(hours=rng.uniform(0, 24 * 12)),
                     "collected_at": NOW, "source": "test", "tool_version": "test",
                     "author_handle": rng.choice(["ann", "bob", "cy"]), "likes": rng.randint(0, 50)})
    return rows


def _analysis(rng: random.Random, keys: list[str], rules: str) -> tuple[pa.Table, pa.Table]:
    mentions, scores = [], []
    for key in keys:
        for tid in rng.sample(sorted(TARGETS), rng.randint(1, 2)):
            mentions.append({"post_key": key, "target_id": tid, "alias": TARGETS[tid], "rules_version": rules})
            scores.append({"post_key": key, "target_id": tid, "sentiment": round(rng.uniform(-1, 1), 3),
                           "stance": rng.choice(["favor", "against", "none"]), "sentiment_scorer": "test",
                           "sentiment_scorer_version": "1", "scored_at": NOW})
    return pa.Table.from_pylist(mentions, MENTIONS_SCHEMA), pa.Table.from_pylist(scores, TARGET_SCORES_SCHEMA)


def _import(store: Store, rng: random.Random, numbers: range) -> None:
    """A batch of posts with their analysis, the way an import writes it."""
    posts = _posts(rng, numbers)
    mentions, scores = _analysis(rng, [p["post_key"] for p in posts], "r1")
    batch = WriteBatch()
    batch.add("targets", pa.Table.from_pylist([{"target_id": t, "name": n, "kind": "person", "accounts": None}
                                               for t, n in TARGETS.items()], TARGETS_SCHEMA))
    batch.add("posts", pa.Table.from_pylist(posts, POSTS_SCHEMA))
    batch.add("mentions", mentions)
    batch.add("target_scores", scores)
    store.write(batch)


def _rescore(store: Store, rng: random.Random, keys: list[str]) -> None:
    """New analysis of stored posts (other targets, another rule set), the way a rescore writes it."""
    mentions, scores = _analysis(rng, keys, "r2")
    batch = WriteBatch()
    batch.add("rescored", pa.table({"post_key": keys}))
    batch.add("mentions", mentions)
    batch.add("target_scores", scores)
    store.write(batch)


def _figures(store: Store, **kwargs: Any) -> dict[str, Any]:
    """The whole summary (all its figures); ["words"]: the top hashtags and terms."""
    with store.read() as con:
        return summary.compute(con, now=NOW, **kwargs)


# The whole history, windows with partial first and last days, whole days, targets.
WINDOWS = [{}, {"since": "36h"}, {"since": "2025-03-02T07:00", "until": "2025-03-08"},
           {"since": "2025-03-03T12:00", "until": "2025-03-07T06:30", "target": ["altman", "openai"]}]


def _assert_rollups_equal_rows(store: Store, windows: list[dict[str, Any]] = WINDOWS) -> None:
    with store.read() as con:
        assert rollups.in_step(con)
        assert con.execute("SELECT count(*) FROM rollup_words").fetchone()[0] > 0
    for window in windows:
        fast = _figures(store, **window)
        with rollups.disabled():
            assert same_figures(fast, _figures(store, **window)), window
        assert fast["words"] and fast["targets"] and fast["most_positive"], window


@pytest.fixture
def store(data_dir: Path) -> Store:
    store = Store(data_dir)
    rng = random.Random(16)
    _import(store, rng, range(0, 100))
    _import(store, rng, range(100, 200))
    return store


def test_rollups_equal_rows_after_imports_rescore_reimport_and_deletions(store: Store) -> None:
    rng = random.Random(3)
    with store.read() as con:  # the aliases the writer added (the summary leaves their words out)
        assert rollups.aliases_current(con)
        assert sorted(con.execute("SELECT * FROM rollup_aliases").fetchall()) == sorted(
            con.execute(rollups.STORED_ALIASES).fetchall()) != []
    _assert_rollups_equal_rows(store, WINDOWS[::3])

    # A rescore replaces the analysis of stored posts: other targets, another rule set.
    _rescore(store, rng, [f"x:{n}" for n in rng.sample(range(200), 60)])
    _assert_rollups_equal_rows(store, WINDOWS[::3])

    # The same posts imported again (with fresh analysis) are stored once: nothing counted twice.
    with store.read() as con:
        before = con.execute("SELECT sum(posts) FROM rollup_words").fetchone()[0]
    _import(store, random.Random(16), range(0, 100))
    with store.read() as con:
        assert con.execute("SELECT sum(posts) FROM rollup_words").fetchone()[0] == before
    _assert_rollups_equal_rows(store, WINDOWS[::3])

    # Deletions at the source (and an edit: a deletion plus the new version), then new posts.
    batch = WriteBatch()
    batch.add("deletions", pa.Table.from_pylist([{"post_key": f"x:{n}", "source": "test", "deleted_at": NOW}
                                                 for n in (5, 17, 150, 9999)]))
    store.write(batch)
    _import(store, rng, range(200, 240))
    _assert_rollups_equal_rows(store)

    # Maintenance folds the deltas into one row per day and word; the figures stay.
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM rollup_words WHERE NOT compacted").fetchone()[0] > 0
    store.checkpoint()
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM rollup_words WHERE NOT compacted").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM (SELECT day, target_id, kind, word FROM rollup_words "
                           "GROUP BY ALL HAVING count(*) > 1)").fetchone()[0] == 0
    _assert_rollups_equal_rows(store)


def test_rows_written_past_the_writer_are_counted_from_the_rows(store: Store) -> None:
    before = _figures(store, since="7d")["words"]["musk"]["hashtags"][0]
    con = duckdb.connect(str(store.path))
    try:
        con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                    "tool_version) VALUES ('x:hand', 'x', 'hand', ?, ?, ?, 'sql', 'sql')",
                    [f"handwritten #{before['hashtag']}", NOW - timedelta(hours=1), NOW])
        con.execute("INSERT INTO mentions VALUES ('x:hand', 'musk', NULL, 'r')")
        assert not rollups.in_step(con)
    finally:
        con.close()
    assert _figures(store, since="7d")["words"]["musk"]["hashtags"][0] == {**before, "posts": before["posts"] + 1}
    # The writer does not mark them counted: the rows answer until a rebuild.
    _import(store, random.Random(5), range(400, 410))
    with store.read() as con:
        assert not rollups.in_step(con)
    with store.write_connection() as con:
        rollups.rebuild(con)
    _assert_rollups_equal_rows(store)


def test_notable_posts_look_past_many_copies_of_one_text(data_dir: Path) -> None:
    """More candidates are read when the first ones are all one text (retweets): the lists still show
    ``top`` different texts, in order."""
    store = Store(data_dir)
    posts = [{"post_key": f"x:{n}", "platform": "x", "post_id": str(n), "text": "the same words" if n < 100
              else f"other words {n}", "created_at": NOW - timedelta(minutes=n), "collected_at": NOW,
              "source": "test", "tool_version": "test", "author_handle": "ann"} for n in range(103)]
    scores = [{"post_key": p["post_key"], "target_id": "musk", "sentiment": 0.9 if n < 100 else 0.5 - n / 1000,
               "stance": "none", "sentiment_scorer": "test", "sentiment_scorer_version": "1", "scored_at": NOW}
              for n, p in enumerate(posts)]
    batch = WriteBatch()
    batch.add("posts", pa.Table.from_pylist(posts, POSTS_SCHEMA))
    batch.add("mentions", pa.Table.from_pylist([{"post_key": p["post_key"], "target_id": "musk", "alias": "Musk",
                                                 "rules_version": "r"} for p in posts], MENTIONS_SCHEMA))
    batch.add("target_scores", pa.Table.from_pylist(scores, TARGET_SCORES_SCHEMA))
    store.write(batch)
    for on in (True, False):
        with store.read() as con:
            if on:
                positive = summary.compute(con, now=NOW)["most_positive"]
            else:
                with rollups.disabled():
                    positive = summary.compute(con, now=NOW)["most_positive"]
        assert [p["text"] for p in positive] == ["the same words", "other words 100", "other words 101"]
        assert positive[0]["sentiment"] == 0.9


def test_distinct_authors_are_estimated_over_many_rows_and_counted_exactly_on_request(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = _figures(store)
    monkeypatch.setattr(summary, "AUTHORS_EXACT_UP_TO", 10)  # the store holds hundreds of mentions
    estimated = _figures(store)
    assert not any(t["authors_estimated"] for t in exact["targets"])
    assert all(t["authors_estimated"] for t in estimated["targets"])
    for e, x in zip(estimated["targets"], exact["targets"], strict=True):
        assert e["target_id"] == x["target_id"] and abs(e["authors"] - x["authors"]) <= 1
    asked = _figures(store, exact=True)
    assert same_figures(asked, exact | {"generated_at": asked["generated_at"]})
    out = io.StringIO()
    summary.render(estimated, Console(file=out, width=200))
    assert "~authors: estimated" in out.getvalue()
    assert summary._authors_cell({"authors": 661_857, "authors_estimated": True}) == "~662,000"
    assert summary._authors_cell({"authors": 661_857, "authors_estimated": False}) == "661,857"


def test_top_authors_group_on_author_keys_and_a_collision_falls_back_to_the_handles(store: Store) -> None:
    expected_key = rollups.AUTHOR_KEY_SQL.format(platform="platform", author="author_handle")
    with store.read() as con:
        assert con.execute(f"SELECT count(*) FILTER (WHERE author_key IS DISTINCT FROM {expected_key}), count(*) "
                           "FROM mention_facts").fetchone() == (0, con.execute(
                               "SELECT count(*) FROM mentions").fetchone()[0])
    # (Every platform named: a filter keeps the writer's candidates out, store/rollups.py rollup_authors.)
    platforms = {"platform": ["x", "bluesky"]}
    by_key = _figures(store, **platforms)["top_authors"]
    with rollups.disabled():
        by_rows = _figures(store, **platforms)["top_authors"]
    assert by_key == by_rows and len({(a["author"], a["platform"]) for a in by_key}) == len(by_key) == 5
    with store.write_connection() as con:
        con.execute("UPDATE mention_facts SET author_key = 42")  # every author one key: a collision
    assert _figures(store, **platforms)["top_authors"] == by_rows


def _spread_import(store: Store, rng: random.Random, numbers: range) -> None:
    """A batch of posts by many authors (a few prolific), with engagement: more posts per batch than
    the summary's candidates keep (rollups.NOTABLE_KEPT)."""
    posts = _posts(rng, numbers)
    for post in posts:
        post["author_handle"] = f"user{min(int(rng.paretovariate(1.2)), 60)}"
        post["replies"] = rng.randint(0, 5)
    mentions, scores = _analysis(rng, [p["post_key"] for p in posts], "r1")
    batch = WriteBatch()
    batch.add("posts", pa.Table.from_pylist(posts, POSTS_SCHEMA))
    batch.add("mentions", mentions)
    batch.add("target_scores", scores)
    store.write(batch)


def _from_candidates(store: Store, monkeypatch: pytest.MonkeyPatch, **window: Any) -> tuple[dict[str, Any], bool]:
    """The summary, and whether its notable lists and top authors were read from the candidates."""
    used = {"notable": 0, "authors": 0}
    notable_source, author_counts = summary._notable_source, rollups.top_authors_sql

    def spy_notable(*args: Any) -> tuple[str, list[Any]]:
        source = notable_source(*args)
        used["notable"] += "rollup_notable" in source[0]
        return source

    def spy_authors(*args: Any) -> str | None:
        counts = author_counts(*args)
        used["authors"] += counts is not None
        return counts

    with monkeypatch.context() as m:
        m.setattr(summary, "_notable_source", spy_notable)
        m.setattr(rollups, "top_authors_sql", spy_authors)
        figures = _figures(store, **window)
    return figures, used["notable"] == len(rollups.NOTABLE) and used["authors"] == (0 if window else 1)


def _assert_candidates_answer(store: Store, monkeypatch: pytest.MonkeyPatch, used: bool = True) -> None:
    for window in ({}, {"target": "musk"}):
        fast, from_candidates = _from_candidates(store, monkeypatch, **window)
        assert from_candidates == used, window
        with rollups.disabled():
            assert same_figures(fast, _figures(store, **window)), window
        assert len(fast["most_positive"]) == len(fast["most_engaged"]) == 3 and len(fast["top_authors"]) == 5


def test_summary_candidates_equal_rows_over_batches_deletions_rescores_and_maintenance(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's candidates (store/rollups.py: rollup_notable, rollup_authors) give a window over
    every stored post the same notable lists and top authors as the rows, with batches larger than the
    candidates kept of each, after deletions, a rescore and maintenance; deletions among the candidates
    beyond what they can spare make the summary read the rows until a refresh."""
    store = Store(data_dir)
    rng = random.Random(18)
    for start in range(0, 900, 300):
        _spread_import(store, rng, range(start, start + 300))
    with store.read() as con:
        kept = con.execute("SELECT list, scope, count(DISTINCT post_key) FROM rollup_notable GROUP BY ALL").fetchall()
        assert max(n for _l, _s, n in kept) > rollups.NOTABLE_KEPT  # three batches' worth, before maintenance
        assert con.execute("SELECT count(*) FROM rollup_authors WHERE compacted").fetchone()[0] == 0
    _assert_candidates_answer(store, monkeypatch)

    # Deletions at the source of the leading posts: they leave the candidates, counted as removed.
    with store.read() as con:
        leading = [k for (k,) in con.execute("SELECT DISTINCT post_key FROM rollup_notable WHERE scope = 'all' "
                                             "ORDER BY sentiment DESC LIMIT 3").fetchall()]
    batch = WriteBatch()
    batch.add("deletions", pa.Table.from_pylist([{"post_key": k, "source": "test", "deleted_at": NOW}
                                                 for k in leading]))
    store.write(batch)
    with store.read() as con:
        assert con.execute("SELECT removed FROM rollup_notable_state").fetchone()[0] == 3
        assert rollups.notable_complete_rows(con) == rollups.NOTABLE_KEPT - 3
        assert not rollups.aliases_current(con)  # an alias may have left with the deleted mentions
    _assert_candidates_answer(store, monkeypatch)

    # Maintenance folds each author's deltas into one row and keeps NOTABLE_KEPT groups a list and scope.
    store.checkpoint()
    with store.read() as con:
        assert con.execute("SELECT count(*) FILTER (WHERE NOT compacted), count(*) - count(DISTINCT author_key) "
                           "FROM rollup_authors").fetchone() == (0, 0)
        assert con.execute("SELECT max(n) FROM (SELECT count(DISTINCT post_key) AS n FROM rollup_notable "
                           "GROUP BY list, scope)").fetchone()[0] <= rollups.NOTABLE_KEPT
        assert rollups.aliases_current(con)  # rebuilt from the mentions
        assert sorted(con.execute("SELECT * FROM rollup_aliases").fetchall()) == sorted(
            con.execute(rollups.STORED_ALIASES).fetchall())
    _spread_import(store, rng, range(900, 1000))  # new deltas on top of the compacted rows
    _assert_candidates_answer(store, monkeypatch)

    # A rescore of most posts: each leaves the candidates and comes back; too many removed to trust
    # them, so the summary reads the rows until the candidates are refreshed (rescore does that).
    _rescore(store, rng, [f"x:{n}" for n in range(1000) if n % 10])
    with store.read() as con:
        assert rollups.notable_complete_rows(con) < 64
    fast, from_candidates = _from_candidates(store, monkeypatch)
    assert not from_candidates
    with rollups.disabled():
        assert same_figures(fast, _figures(store))
    assert store.refresh_summary_candidates() and not store.refresh_summary_candidates()
    _assert_candidates_answer(store, monkeypatch)

    # The leading author also posts as "USER1": one key, two spellings; the candidates cannot tell
    # them apart, so the top authors are grouped on the handles.
    _spread_import(store, random.Random(1), range(2000, 2300))
    batch = WriteBatch()
    batch.add("posts", pa.Table.from_pylist([p | {"author_handle": "USER1"} for p in _posts(rng, range(3000, 3005))],
                                            POSTS_SCHEMA))
    mentions, scores = _analysis(rng, [f"x:{n}" for n in range(3000, 3005)], "r1")
    batch.add("mentions", mentions)
    batch.add("target_scores", scores)
    store.write(batch)
    fast = _figures(store)
    with rollups.disabled():
        assert same_figures(fast, _figures(store))
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM (SELECT author_key FROM rollup_authors GROUP BY author_key "
                           "HAVING min(handle_min) <> max(handle_max))").fetchone()[0] >= 1
    assert "user1" in {a["author"] for a in fast["top_authors"]}


def test_post_texts_are_found_by_hash_then_row_id_and_confirmed_on_the_key(store: Store) -> None:
    from monitor.store.schema import key_hash

    with store.write_connection() as con:
        con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                    "tool_version) VALUES ('x:hand', 'x', 'hand', 'typed by hand', ?, ?, 'sql', '0')", [NOW, NOW])
        # Another post with x:2's hash, as two keys sharing a hash would be: found, and left out.
        con.execute("UPDATE posts SET key_hash = ? WHERE post_key = 'x:3'", [key_hash("x:2")])
        expected = dict(con.execute("SELECT post_key, text FROM posts WHERE post_key IN ('x:2', 'x:5')").fetchall())
    with store.read() as con:
        found = summary.post_texts(con, ["x:2", "x:hand", "x:5", "x:2", "x:none"])
    assert {k: text for k, (text, _url) in found.items()} == {**expected, "x:hand": "typed by hand"}

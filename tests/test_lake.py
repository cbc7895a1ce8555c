"""The Parquet lake (issue #18): the same rows as a local import of the same files, deterministic
dedup across parts, compaction that changes no row, the daily rollup, views stored in the database
that the DuckDB CLI from PyPI reads read-only. Tasks run in this process here (the same
``run_task`` the Dask workers run; tests/test_distributed.py runs them on a real cluster)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from monitor.ingest.distributed import plan, run_in_process
from monitor.ingest.imports import Importer
from monitor.ingest.pool import AnalysisPool
from monitor.store import Store
from monitor.store.lake import TABLES as LAKE_TABLES
from monitor.store.lake import (
    Lake,
    attach,
    attach_to_store,
    compact,
    lake_status,
    manifests,
    refresh_rollup,
    rollup_is_current,
)
from tests.lake_archive import build

SPLIT = 24 << 10  # small ranges, so the test files split into several tasks
# Columns that differ between two imports of the same files by design: ids and clock times.
VARYING = {"import_id", "run_id", "collected_at", "scored_at", "lake_part", "month", "origin"}
TABLES = {"posts": "post_key", "mentions": "post_key, target_id", "post_sentiment": "post_key",
          "target_scores": "post_key, target_id"}


def rows(con: duckdb.DuckDBPyConnection, relation: str, order: str, table: str | None = None) -> list[tuple]:
    """A relation's rows in a fixed order, in the columns of the local table (the lake's analysis
    tables also carry their post's platform)."""
    table = table or relation.removeprefix("lake_").removeprefix("all_")
    columns = [name for name in LAKE_TABLES[table].names if name not in VARYING]
    return con.execute(f"SELECT {', '.join(columns)} FROM {relation} ORDER BY {order}").fetchall()


@pytest.fixture(scope="module")
def imported(config, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, Lake]:
    root = tmp_path_factory.mktemp("lake")
    archive = build(root / "archive", reddit_copies=1, jsonl_posts=400)
    store = Store(root / "data")
    Importer(config, store, AnalysisPool(config, workers=1)).import_paths([archive])
    lake = Lake(str(root / "lake"))
    run_in_process([archive], config, lake, split_bytes=SPLIT, chunk_posts=60)  # tasks write several chunks
    refresh_rollup(lake)
    return archive, store, lake


def test_plan_splits_line_files_and_keeps_documents_whole(imported) -> None:
    archive, _, _ = imported
    tasks = {Path(e.name).name: e.tasks for e in plan([archive], split_bytes=SPLIT)}
    assert len(tasks["RC_multi.zst"]) >= 3 and all(t.ranged for t in tasks["RC_multi.zst"])
    assert len(tasks["planted.jsonl"]) >= 3
    for whole in ("tweets.js", "guardian_rss2.xml"):
        assert [t.ranged for t in tasks[whole]] == [False]
    _, _, lake = imported
    assert max(len({p.rsplit("-", 1)[1] for p in m["parts"]}) for m in manifests(lake)) > 1  # chunks


def test_lake_rows_equal_the_local_import(imported) -> None:
    _, store, lake = imported
    with store.read() as con:
        attach(con, lake)
        for table, order in TABLES.items():
            local = rows(con, table, order)
            assert local, table
            assert rows(con, f"lake_{table}", order) == local, table
            # The database holds every post already: the union adds none of the lake's again.
            assert rows(con, f"all_{table}", order) == local, table
            assert con.execute(f"SELECT count(*) FROM lake_new_{table}").fetchone() == (0,)
        first = con.execute("SELECT text, source_line FROM lake_posts WHERE post_key = 'generic:g1'").fetchone()
        assert first is not None and first[0] != "Elon Musk said something else entirely"


def test_union_views_add_the_lake_rows_a_database_lacks(imported, tmp_path: Path) -> None:
    _, _, lake = imported
    store = Store(tmp_path / "empty")
    store.ensure()
    with store.read() as con:
        attach(con, lake)
        for table, order in TABLES.items():
            lake_only = rows(con, f"lake_{table}", order)
            assert lake_only and rows(con, f"all_{table}", order) == lake_only, table
            assert con.execute(f"SELECT DISTINCT origin FROM all_{table}").fetchall() == [("lake",)]


def test_compaction_merges_parts_and_changes_no_row(imported, tmp_path: Path) -> None:
    _, _, built = imported
    lake = Lake(str(tmp_path / "copy"))
    shutil.copytree(built.root, lake.root)
    con = duckdb.connect()
    attach(con, lake, local=False)
    before = {t: rows(con, f"lake_{t}", o) for t, o in TABLES.items()}
    parts_before = lake_status(lake)["tables"]["posts"]["parts"]
    done = compact(lake)
    attach(con, lake, local=False)
    assert done["parts_merged"] > done["parts_written"] > 0
    assert lake_status(lake)["tables"]["posts"]["parts"] < parts_before
    assert {t: rows(con, f"lake_{t}", o) for t, o in TABLES.items()} == before
    assert compact(lake)["parts_merged"] == 0  # nothing small left to merge
    assert not rollup_is_current(lake)  # the parts changed: the rollup says so


def test_rollup_and_facts_sum_the_deduped_scores(imported) -> None:
    _, store, lake = imported
    assert rollup_is_current(lake)
    con = duckdb.connect()
    attach(con, lake, local=False)
    from_rollup = con.execute("SELECT target_id, sum(scores), round(sum(sentiment_sum), 9) FROM lake_daily_target "
                              "GROUP BY 1 ORDER BY 1").fetchall()
    direct = con.execute("SELECT target_id, count(*), round(sum(sentiment), 9) FROM lake_target_scores "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert from_rollup == direct and direct
    # The lake's mention facts are the database's mention_facts rows of the same posts.
    facts = con.execute("SELECT * FROM lake_mention_facts ORDER BY post_key, target_id").fetchall()
    with store.read() as local:
        columns = ", ".join(d[0] for d in con.execute("SELECT * FROM lake_mention_facts LIMIT 0").description)
        stored = local.execute(f"SELECT {columns} FROM mention_facts ORDER BY post_key, target_id").fetchall()
    assert facts == stored and facts


@pytest.mark.skipif(shutil.which("duckdb") is None, reason="duckdb CLI (pip install duckdb-cli) not installed")
def test_duckdb_cli_reads_the_stored_lake_views_read_only(imported, tmp_path: Path) -> None:
    _, built_store, lake = imported
    store = Store(tmp_path / "data")
    shutil.copy(built_store.path, store.path.parent.mkdir(parents=True) or store.path)
    attach_to_store(store, lake)
    out = subprocess.run(
        ["duckdb", "-readonly", "-csv", str(store.path), "-c",
         "SELECT count(*) FROM lake_posts; SELECT count(*) FROM all_target_scores WHERE origin = 'local'"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with store.read() as con:
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        scores = con.execute("SELECT count(*) FROM target_scores").fetchone()[0]
    assert out.stdout.split() == ["count_star()", str(posts), "count_star()", str(scores)]


def test_summary_counts_the_attached_lakes_posts(config, imported, tmp_path: Path) -> None:
    from monitor import summary
    from monitor.store.rows import targets_table

    _, store, lake = imported
    with store.read() as con:
        local = summary.compute(con, since="all")
    empty = Store(tmp_path / "only-lake")
    empty.sync_targets(targets_table(config.targets))
    with empty.read() as con:
        assert summary.compute(con, since="all")["targets"] == []
        attach(con, lake)  # the database has none of the lake's posts: the summary reads them all
        from_lake = summary.compute(con, since="all")
    with store.read() as con:
        attach(con, lake)  # the database holds the lake's posts already: each counts once
        both = summary.compute(con, since="all")
    assert all({"target_id", "posts", "stance"} <= set(t) for t in _figures(local))
    assert from_lake["targets"] and _figures(from_lake) == _figures(local) == _figures(both)
    assert from_lake["top_authors"] == local["top_authors"] == both["top_authors"]
    assert local["freshness"]["lake_posts"] is None
    assert from_lake["freshness"]["lake_posts"] == both["freshness"]["lake_posts"] == local["freshness"]["posts_total"]
    assert from_lake["freshness"]["newest_post"] == local["freshness"]["newest_post"]


def _figures(data: dict) -> list:
    return [{k: v for k, v in t.items() if k in ("target_id", "mentions", "posts", "stance", "mean_sentiment")}
            for t in data["targets"]]


def _busy_lake(root: Path, days: int = 3, per_day: int = 400) -> Lake:
    """A lake with more posts a day than the notable candidates keep (lake_read.NOTABLE_PER_DAY),
    sentiments in steps of 0.1 (many ties) and two targets on some posts."""
    import random
    from datetime import datetime, timedelta

    import pyarrow as pa

    from monitor.store.lake import write_parts
    from monitor.store.rows import MENTIONS_SCHEMA, POSTS_SCHEMA, TARGET_SCORES_SCHEMA

    rng, start, lake = random.Random(18), datetime(2025, 1, 20), Lake(str(root))
    posts, mentions, scores = [], [], []
    for n in range(days * per_day):
        key = f"x:{n}"
        posts.append({"post_key": key, "platform": "x", "post_id": str(n), "text": f"post {n % 50}",
                      "created_at": start + timedelta(seconds=n * 86400 // per_day), "author_handle": f"a{n % 30}",
                      "likes": rng.randint(0, 20), "source": "test", "source_file": "f", "source_line": n})
        for target in rng.sample(["musk", "altman", "stargate"], rng.choice([1, 1, 2])):
            mentions.append({"post_key": key, "target_id": target, "alias": target, "rules_version": "r1"})
            scores.append({"post_key": key, "target_id": target, "sentiment": rng.randint(-10, 10) / 10,
                           "stance": rng.choice(["favor", "against", "none"]), "sentiment_scorer": "test"})
    write_parts(lake, "busy", {"posts": pa.Table.from_pylist(posts, POSTS_SCHEMA),
                               "mentions": pa.Table.from_pylist(mentions, MENTIONS_SCHEMA),
                               "target_scores": pa.Table.from_pylist(scores, TARGET_SCORES_SCHEMA)})
    refresh_rollup(lake)
    return lake


def test_notable_posts_from_the_lakes_candidates_equal_those_from_its_rows(config, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import summary
    from monitor.store import lake_read
    from monitor.store.rows import targets_table

    lake = _busy_lake(tmp_path / "lake")
    empty = Store(tmp_path / "only-lake")
    empty.sync_targets(targets_table(config.targets))
    lists = ("most_positive", "most_negative", "most_engaged")
    with empty.read() as con:
        attach(con, lake)
        assert lake_read.has_notable(con)
        per_day = con.execute("SELECT max(n) FROM (SELECT count(DISTINCT (post_key, sentiment, stance)) AS n "
                              "FROM lake_notable WHERE scope = 'all' GROUP BY list, day)").fetchone()[0]
        assert per_day == lake_read.NOTABLE_PER_DAY  # fewer than the day's posts: the cut is tested
        first, last = con.execute("SELECT min(created_at), max(created_at) FROM lake_mention_facts").fetchone()
        target = con.execute("SELECT target_id FROM lake_mention_facts GROUP BY 1 ORDER BY count(*) DESC").fetchone()[0]
        middle = (first + (last - first) / 3).replace(hour=13, minute=30).isoformat()  # partial first day
        windows = [{}, {"target": target}, {"since": middle}, {"since": middle, "until": last.isoformat()}]
        read = []
        monkeypatch.setattr(summary, "_notable_source", _recording(summary._notable_source, read))
        from_candidates = [summary.compute(con, **w) for w in windows]
        assert read and all("lake_notable" in source for source in read)  # every window read them
        monkeypatch.setattr(lake_read, "NOTABLE_PER_DAY", 0)  # no candidates: the rows
        read.clear()
        from_rows = [summary.compute(con, **w) for w in windows]
        assert read and not any("lake_notable" in source for source in read)
    for window, a, b in zip(windows, from_candidates, from_rows, strict=True):
        assert [a[k] for k in lists] == [b[k] for k in lists] and a["most_positive"], window


def test_top_authors_of_a_whole_lake_from_its_authors_file_equal_those_from_its_facts(
        config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import summary
    from monitor.store.rows import targets_table

    lake = _busy_lake(tmp_path / "lake", days=2, per_day=150)
    empty = Store(tmp_path / "only-lake")
    empty.sync_targets(targets_table(config.targets))
    windows = [{}, {"target": "musk"}, {"top": 8}, {"since": "2025-01-20T12:00"}]
    with empty.read() as con:
        attach(con, lake)
        read = []
        monkeypatch.setattr(summary, "_lake_top_authors", _recording_authors(summary._lake_top_authors, read))
        from_file = [summary.compute(con, now=datetime(2025, 1, 25), **w)["top_authors"] for w in windows]
        assert read == [True, True, True, False]  # the last window starts after the lake's first post
        monkeypatch.setattr(summary, "_lake_top_authors", lambda *a: None)
        from_facts = [summary.compute(con, now=datetime(2025, 1, 25), **w)["top_authors"] for w in windows]
    assert from_file == from_facts and all(from_file)


def _recording_authors(function, seen: list):
    def recorded(*args):
        found = function(*args)
        seen.append(found is not None)
        return found
    return recorded


def _recording(function, seen: list):
    def recorded(*args, **kwargs):
        source, params = function(*args, **kwargs)
        seen.append(source)
        return source, params
    return recorded


def test_views_stored_by_an_earlier_version_still_summarise_and_say_so(config, imported, tmp_path: Path) -> None:
    from monitor import status, summary
    from monitor.store.lake_read import lake_views_outdated
    from monitor.store.rows import targets_table

    _, _, lake = imported
    store = Store(tmp_path / "data")
    store.sync_targets(targets_table(config.targets))
    attach_to_store(store, lake)
    with store.read() as con:
        assert not lake_views_outdated(con)
        current = summary.compute(con)
    lake_posts = current["freshness"]["lake_posts"]
    assert status.compute(store, store.data_dir)["lake"] == {
        "posts": lake_posts, "newest_post": current["freshness"]["newest_post"], "views_outdated": False}
    with store.write_connection() as con:  # the views an earlier version stored: no summary files
        con.execute("DROP VIEW lake_notable; DROP VIEW lake_authors")
    with store.read() as con:
        assert lake_views_outdated(con)
        earlier = summary.compute(con)
    assert status.compute(store, store.data_dir)["lake"]["views_outdated"] and lake_posts > 0
    assert current["targets"] and _figures(earlier) == _figures(current)
    assert earlier["top_authors"] == current["top_authors"] and earlier["most_positive"] == current["most_positive"]


def test_the_lake_import_table_of_many_inputs_shows_whole_names_failures_first_and_a_total(
        tmp_path: Path, monkeypatch) -> None:
    """A folder of 1,000 files printed 1,000 rows whose names were all cut to "/tmp/s17/ma…"."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from monitor.lake_cli import LAKE_ROWS_SHOWN, print_lake_import

    monkeypatch.chdir(tmp_path)
    paths = [str(tmp_path / "daily-exports" / f"day-{i:04d}.jsonl") for i in range(LAKE_ROWS_SHOWN + 5)]
    results = [SimpleNamespace(path=p, records=10, kept=4, errors=0, seconds=0.1, error="boom" if i == 23 else None)
               for i, p in enumerate(paths)]
    entries = [SimpleNamespace(name=p, refused=None, tasks=[SimpleNamespace(path=p)]) for p in paths]
    out = io.StringIO()
    print_lake_import(SimpleNamespace(console=Console(file=out, width=100)),
                      SimpleNamespace(results=results, entries=entries, seconds=1.0))
    lines = out.getvalue().splitlines()
    rows = [line for line in lines if "day-" in line]
    assert len(rows) == LAKE_ROWS_SHOWN and "daily-exports/day-0023.jsonl" in rows[0]  # the failed one first
    assert any("… 5 more (--json)" in line for line in lines)
    assert any("all 25 inputs" in line and "250" in line and "100" in line for line in lines)

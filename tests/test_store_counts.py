"""Run and import statistics count what the store did, also when a batch waited in the spool:
re-seen posts spooled while the file was locked are not counted as new (`runs`, `imports`, and
so `monitor status`'s "new (24h)")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from monitor.ingest.imports import Importer
from monitor.models import Author, Post, Provenance
from monitor.store import Store, WriteBatch
from monitor.store.rows import posts_table, utcnow_naive
from tests.conftest import post, stored, write_jsonl

RUN_ID = 42


def page(numbers: range, run_id: int = RUN_ID) -> WriteBatch:
    """What a collector writes for a page: posts, and its run row (counts as the collector saw them)."""
    posts = [Post(platform="hackernews", id=str(i), author=Author(id="1", handle="h"), text=f"Altman {i}",
                  created_at=datetime(2025, 1, 1), provenance=Provenance(source="hackernews")) for i in numbers]
    batch = WriteBatch()
    batch.add("posts", posts_table(posts, run_id=run_id))
    batch.add_rows("runs", [{"run_id": run_id, "source": "hackernews", "query": "altman",
                             "started_at": utcnow_naive(), "finished_at": utcnow_naive(), "pages": 1,
                             "requests": 1, "posts_new": 999, "posts_seen": 999, "statuses": "200x1",
                             "error": None, "coverage": "complete"}])
    return batch


def run_counts(store: Store) -> list[tuple]:
    return stored(store, "SELECT run_id, posts_new, posts_seen FROM runs ORDER BY run_id")


def test_a_run_row_counts_what_each_applied_batch_did(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(page(range(10), run_id=1))
    second = page(range(5, 15), run_id=2)
    result = store.write(second)
    assert (result.posts_new, result.posts_seen) == (5, 5)
    store.write(page(range(12, 20), run_id=2))  # the run's second page: 3 seen, 5 new
    final = WriteBatch()
    final.add_rows("runs", [{**second.tables["runs"].to_pylist()[0], "pages": 2}])
    store.write(final)  # the run's last row: its counts are kept, not overwritten
    assert run_counts(store) == [(1, 10, 0), (2, 10, 8)]


def test_spooled_re_seen_posts_are_not_counted_as_new(data_dir: Path) -> None:
    store = Store(data_dir, lock_timeout=0.2)
    store.write(page(range(13), run_id=1))
    with Store(data_dir).read():  # an open DuckDB session: the writer must spool
        result = store.write(page(range(13), run_id=2))
    assert result.spooled and (result.posts_new, result.posts_seen, result.posts_spooled) == (0, 0, 13)
    assert store.drain_spool() == 1
    assert run_counts(store) == [(1, 13, 0), (2, 0, 13)]


def test_a_spooled_batch_replayed_twice_counts_once(data_dir: Path) -> None:
    store = Store(data_dir)
    batch = page(range(4), run_id=7)
    store.write(batch)
    store.write(batch)  # the same batch again (a drain after a crash): already applied
    assert run_counts(store) == [(7, 4, 0)]


def test_an_import_while_the_file_is_locked_counts_when_the_spool_drains(config, data_dir: Path,
                                                                         tmp_path: Path) -> None:
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, f"Sam Altman, take {i}") for i in range(6)])
    Importer(config, Store(data_dir)).import_paths([archive])
    more = write_jsonl(tmp_path / "b.jsonl", [post(i, f"Sam Altman, take {i}") for i in range(9)])  # 6 stored
    locked = Store(data_dir, lock_timeout=0.2)
    locked.ensure()
    with Store(data_dir).read():
        report = Importer(config, locked).import_paths([more])[0]
    assert report.spooled and (report.posts_new, report.posts_spooled) == (0, 9)
    locked.drain_spool()
    assert stored(locked, "SELECT path, status, records, posts_new, posts_seen FROM imports ORDER BY path") == [
        (str(archive), "complete", 6, 6, 0), (str(more), "complete", 9, 3, 6)]


def test_a_collector_run_spooled_behind_a_reader_counts_its_re_seen_posts_as_seen(config, data_dir: Path) -> None:
    """The issue's case: with a DuckDB session open, a run that re-reads stored posts spools them;
    once the spool drains, its run row (what `monitor status` sums as "new (24h)") says 0 new."""
    from tests.conftest import run_source
    from tests.replay import ReplayServer, Reply
    from tests.test_collect_hackernews import PATH, by_page, pages_of

    with ReplayServer() as server:
        cfg = config.model_copy(deep=True)
        cfg.analysis.store_unmatched = True
        cfg.sources["hackernews"] = dict(base_url=f"{server.url}/api/v1", queries=["nodejs"], max_pages=10)
        for n, page_body in enumerate(pages_of(7)):
            server.add(PATH, Reply(page_body), when=by_page(n))
        store = Store(data_dir, lock_timeout=0.2)
        [first] = run_source("hackernews", cfg, store)
        with store.write_connection() as con:
            con.execute("DELETE FROM source_state")  # the next run reads the same pages again
        with Store(data_dir).read():
            [second] = run_source("hackernews", cfg, store)
    assert second.spooled and (second.posts_new, second.posts_spooled) == (0, 20)
    store.drain_spool()
    assert stored(store, f"SELECT posts_new, posts_seen FROM runs WHERE run_id = {second.run_id}") == [(0, 20)]
    assert stored(store, "SELECT sum(posts_new) FROM runs") == [(20,)]
    assert first.posts_new == 20


def test_a_run_row_without_counts_is_stored(data_dir: Path) -> None:
    store = Store(data_dir)
    batch = WriteBatch()
    batch.add_rows("runs", [{"run_id": 5, "source": "x", "query": "q", "started_at": utcnow_naive(),
                             "coverage": "failed"}])
    store.write(batch)
    assert stored(store, "SELECT run_id, coverage, posts_new, posts_seen FROM runs") == [(5, "failed", 0, 0)]


def _folder(tmp_path: Path) -> Path:
    """Five small files: b repeats two posts of a, c has only bad records, d names no target, e is new."""
    folder = tmp_path / "daily"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [post(i, f"Sam Altman, take {i}") for i in range(4)])
    write_jsonl(folder / "b.jsonl", [post(i, f"Sam Altman, take {i}") for i in range(2, 7)])
    (folder / "c.jsonl").write_text('{"id": "x", "text": "Sam Altman"}\n{"id": "y", "text": "no time"}\n',
                                    encoding="utf-8")
    write_jsonl(folder / "d.jsonl", [post(50, "nothing to see")])
    write_jsonl(folder / "e.jsonl", [post(i, f"Elon Musk, take {i}") for i in range(100, 103)])
    return folder


IMPORT_ROWS = ("SELECT regexp_extract(path, '[a-e][.]jsonl'), status, records, posts_new, posts_seen, errors "
               "FROM imports")
EXPECTED_ROWS = [("a.jsonl", "complete", 4, 4, 0, 0), ("b.jsonl", "complete", 5, 3, 2, 0),
                 ("c.jsonl", "failed", 0, 0, 0, 2), ("d.jsonl", "complete", 1, 0, 0, 0),
                 ("e.jsonl", "complete", 3, 3, 0, 0)]


def test_small_files_are_written_together_each_counted_as_its_own(config, data_dir: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    """A folder of small files took two writes a file (~50 ms each whatever their rows: 1,000 ten-post
    files, 101 s); their posts and end rows are now written together, each file's row and report
    counting its own posts (b's repeats of a are seen, in the same transaction)."""
    store = Store(data_dir)
    writes: list[int] = []
    write = Store.write
    monkeypatch.setattr(Store, "write", lambda self, batch, *a, **k: writes.append(batch.post_count)
                        or write(self, batch, *a, **k))
    folder = _folder(tmp_path)
    reports = Importer(config, store).import_paths([folder])
    assert len(writes) <= 3  # a's group is written before b (a post of b is in it), then the rest
    assert [(Path(r.path).name, r.records, r.posts_new, r.posts_seen, r.errors, r.failed) for r in reports] == [
        ("a.jsonl", 4, 4, 0, 0, False), ("b.jsonl", 5, 3, 2, 0, False), ("c.jsonl", 0, 0, 0, 2, True),
        ("d.jsonl", 1, 0, 0, 0, False), ("e.jsonl", 3, 3, 0, 0, False)]
    assert sorted(stored(store, IMPORT_ROWS)) == EXPECTED_ROWS
    assert stored(store, "SELECT count(*), count(DISTINCT import_id) FROM posts") == [(10, 3)]
    assert stored(store, "SELECT count(*) FROM import_errors") == [(2,)]
    again = Importer(config, store).import_paths([folder])  # c failed: read again
    assert [r.skipped is not None and "already imported" in r.skipped for r in again] == [True, True, False, True, True]


def test_small_files_written_together_while_locked_count_when_the_spool_drains(config, data_dir: Path,
                                                                                tmp_path: Path) -> None:
    """The per-file counts are made when the batch is applied: after a wait in the spool too."""
    locked = Store(data_dir, lock_timeout=0.2)
    locked.ensure()
    with Store(data_dir).read():
        reports = Importer(config, locked).import_paths([_folder(tmp_path)])
    assert all(r.spooled for r in reports if r.records) and sum(r.posts_spooled for r in reports) == 12
    locked.drain_spool()
    assert sorted(stored(locked, IMPORT_ROWS)) == EXPECTED_ROWS

"""The writer's DuckDB memory is capped while it writes a batch (db.WRITE_MEMORY_LIMIT): uncapped,
DuckDB cached every block it read or wrote, and an import's main process held 60-90 MiB more at
each merge of row groups (bench/import_throughput.py prints the peak RSS). A step that needs more
than the cap runs again uncapped, and stores the same rows."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

import monitor.store.db as db
from monitor.store import Store
from tests.test_store_writer import batch_of, row_groups, rows


def default_memory_limit() -> str:
    with duckdb.connect(":memory:") as con:
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_batch_is_applied_with_the_memory_capped_and_the_cap_lifted_after(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(data_dir)
    seen: list[str] = []
    apply = Store._apply

    def watched(self: Store, con: duckdb.DuckDBPyConnection, *args: object) -> db.ApplyResult:
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        return apply(self, con, *args)

    monkeypatch.setattr(Store, "_apply", watched)
    store.write(batch_of(range(10)))
    with duckdb.connect(":memory:") as con:
        con.execute(f"SET memory_limit = '{db.WRITE_MEMORY_LIMIT}'")
        capped = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert seen == [capped] and capped != default_memory_limit()
    engine = store._engine()
    # Migrations and maintenance run uncapped; spills go under the data directory, not the working one.
    assert engine.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == default_memory_limit()
    assert engine.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] == str(
        data_dir / db.WRITE_TEMP_DIR)
    store.close()


@pytest.mark.parametrize("cap", ["300KB", "1MB"])
def test_writes_and_merges_that_need_more_than_the_cap_are_done_again_uncapped(
        cap: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Capped this low, the steps run out of memory: at 300 KB the first statement of a write
    (its transaction is left aborted), at 1 MB also the merge's checkpoint, after which DuckDB
    invalidates the attached file. The batch is applied uncapped, and the merge comes after the
    batch is in the file: nothing is lost, and it is done again uncapped."""
    monkeypatch.setattr(db, "WRITE_MEMORY_LIMIT", cap)
    monkeypatch.setattr(db, "MERGE_MEMORY_LIMIT", cap)
    monkeypatch.setattr(db, "MERGE_AFTER_WRITES", 3)
    store = Store(data_dir)
    with caplog.at_level(logging.INFO, logger="monitor.store.db"):
        for b in range(3):
            store.write(batch_of(range(b * 100, b * 100 + 100), p7="Altman said no"))
    assert f"a write needed more than {cap}" in caplog.text
    assert f"merging row groups needed more than {cap}" in caplog.text
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(300, 300)]
    assert rows(store, "SELECT text FROM posts WHERE post_key = 'x:7'") == [("Altman said no",)]
    assert row_groups(store) == 1  # merged after the third write
    assert rows(store, "SELECT reason, vacuum FROM checkpoints") == [("writes", True)]
    store.write(batch_of(range(300, 310)))  # the writer goes on after the invalidated attach
    assert rows(store, "SELECT count(*) FROM posts") == [(310,)]
    store.close()


@pytest.mark.parametrize("cap", ["300KB", "256MB"])
def test_maintenance_over_whole_tables_is_capped_or_done_again_uncapped(
        cap: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Folding the rollups' deltas (maintenance, and after every one-shot command) and rebuilding the
    summary's candidates (after a rescore) ran uncapped: after a rescore of 1M posts 1.4 and 0.8 GB.
    Capped, or done again uncapped under a cap too small: the same rollups either way."""
    from monitor.store import rollups

    monkeypatch.setattr(db, "MAINTENANCE_MEMORY_LIMIT", cap)
    store = Store(data_dir)
    for b in range(3):
        store.write(batch_of(range(b * 50, b * 50 + 50), p7="Altman said no"))
    before = rows(store, "SELECT target_id, kind, word, sum(posts) FROM rollup_words GROUP BY ALL ORDER BY ALL")
    with caplog.at_level(logging.INFO, logger="monitor.store.db"):
        store.checkpoint()
        with store.write_connection() as con:
            con.execute("UPDATE rollup_notable_state SET removed = 5")  # posts deleted, as a rescore leaves them
        assert store.refresh_summary_candidates()
    assert rows(store, "SELECT target_id, kind, word, sum(posts) FROM rollup_words GROUP BY ALL ORDER BY ALL") == before
    with store.read() as con:
        assert rollups.notable_complete_rows(con) == rollups.NOTABLE_KEPT
    again = "needed more than 300KB of DuckDB memory, done again uncapped"
    assert (f"folding the rollups {again}" in caplog.text) is (cap == "300KB")
    assert (f"rebuilding the summary's candidates {again}" in caplog.text) is (cap == "300KB")
    store.close()

"""The DuckDB store: schema, batched idempotent writes, spooling under a lock, CLI compatibility."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.ingest.imports import Importer
from monitor.store import Store, StoreLocked, WriteBatch
from monitor.store.rows import targets_table
from tests.conftest import post, write_jsonl


def _import(config, data_dir: Path, tmp_path: Path, n: int = 30) -> Store:
    store = Store(data_dir)
    archive = write_jsonl(tmp_path / "posts.jsonl", [post(i, f"Musk and OpenAI, post number {i}") for i in range(n)])
    Importer(config, store).import_paths([archive])
    return store


def count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_schema_and_views_exist(config, data_dir: Path, tmp_path: Path) -> None:
    store = _import(config, data_dir, tmp_path)
    with store.read() as con:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    assert {"posts", "mentions", "post_sentiment", "target_scores", "imports", "runs", "source_state",
            "v_mentions", "v_daily_target", "v_daily_volume", "v_posts"} <= names
    assert version >= 2
    assert count(store, "posts") == 30
    assert count(store, "mentions") == 60  # musk + openai on every post


def test_applying_the_same_batch_twice_adds_nothing(config, data_dir: Path) -> None:
    store = Store(data_dir)
    batch = WriteBatch()
    batch.add("targets", targets_table(config.targets))
    store.write(batch)
    store.write(batch)
    assert count(store, "targets") == len(config.targets)
    assert count(store, "applied_batches") == 1


def test_stored_targets_follow_the_config(config, data_dir: Path, tmp_path: Path) -> None:
    """The targets table (and so v_voices) is brought in line with the config by the next run."""
    store = _import(config, data_dir, tmp_path, n=8)  # Musk and OpenAI, by user0 .. user3
    assert not store.sync_targets(targets_table(config.targets))  # the import wrote them
    changed = config.model_copy(deep=True)
    changed.target("musk").accounts = ["x:User1"]
    assert store.sync_targets(targets_table(changed.targets))
    assert not store.sync_targets(targets_table(changed.targets))
    with store.read() as con:
        voices = con.execute("SELECT author_handle, speaker_id, target_id, count(*) FROM v_voices "
                             "GROUP BY ALL").fetchall()
        accounts = con.execute("SELECT accounts FROM targets WHERE target_id = 'musk'").fetchone()
    assert voices == [("user1", "musk", "openai", 2)]
    assert accounts == (["x:user1"],)


@pytest.mark.skipif(shutil.which("duckdb") is None, reason="duckdb CLI (pip install duckdb-cli) not installed")
def test_duckdb_cli_from_pypi_reads_the_file(config, data_dir: Path, tmp_path: Path) -> None:
    store = _import(config, data_dir, tmp_path)
    out = subprocess.run(
        ["duckdb", "-readonly", "-csv", str(store.path), "-c",
         "SELECT target_id, sum(posts) FROM v_daily_target GROUP BY 1 ORDER BY 1; SELECT count(*) FROM v_voices"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["musk,30", "openai,30", "count_star()", "0"]
    version = subprocess.run(["duckdb", "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1.")  # the CLI users install from PyPI is older than our Python duckdb


HOLD_LOCK = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=True)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_locked_file_spools_and_drains_exactly_once(config, data_dir: Path, tmp_path: Path) -> None:
    store = _import(config, data_dir, tmp_path, n=5)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store.path), "30"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked = Store(data_dir, lock_timeout=0.3)
        archive = write_jsonl(tmp_path / "more.jsonl", [post(100 + i, f"Altman says hi {i}") for i in range(7)])
        reports = Importer(config, locked).import_paths([archive])
        assert reports[0].spooled
        batches, size = locked.spool_size()
        assert batches >= 1 and size > 0
        with pytest.raises(StoreLocked, match="locked"):
            with locked.write_connection(timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert store.drain_spool() >= 1
    assert store.spool_size() == (0, 0)
    assert count(store, "posts") == 12
    with store.read() as con:
        status = con.execute("SELECT status FROM imports ORDER BY started_at").fetchall()
    assert [s[0] for s in status] == ["complete", "complete"]


def test_reader_waits_briefly_then_names_the_lock(config, data_dir: Path, tmp_path: Path) -> None:
    store = _import(config, data_dir, tmp_path, n=2)
    writer = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.replace("read_only=True", "read_only=False"),
                               str(store.path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(StoreLocked, match=r"process \d+|another process"):
            with store.read(timeout=0.5):
                pass
        assert time.monotonic() - started >= 0.4
    finally:
        writer.kill()
        writer.wait()


def test_a_read_starts_from_the_files_own_settings_and_leaves_nothing_behind(config, data_dir: Path,
                                                                             tmp_path: Path) -> None:
    """Reads attach the file to an in-memory DuckDB instance kept for the next read (db.IDLE_READERS): what a
    read set or made (a memory cap, a folder to spill to, temp tables) is not there for the next one, two
    threads read at once, and the file is free for the writer between reads."""
    import threading

    store = _import(config, data_dir, tmp_path, n=3)
    with store.read() as con:
        defaults = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()
        con.execute("SET memory_limit = '64MB'; SET temp_directory = '/nonexistent'; CREATE TEMP TABLE scratch (x INT)")
    with store.read() as con:
        assert con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall() \
            == defaults
        assert defaults[0][1] == str(store.path) + ".tmp"  # beside the file, as a connection to it spills
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scratch'").fetchone() == (0,)
        assert con.execute("SELECT current_database(), count(*) FROM posts GROUP BY 1").fetchall() == [("monitor", 3)]
    counts: list[int] = []
    both_in = threading.Barrier(2, timeout=10)

    def read() -> None:
        with store.read() as con:
            both_in.wait()  # the two reads hold the file at the same time
            counts.append(con.execute("SELECT count(*) FROM posts").fetchone()[0])

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [3, 3]
    batch = WriteBatch()
    batch.add("targets", targets_table(config.targets))
    assert not store.write(batch, spool_on_lock=False).spooled  # no reader left the file attached


def test_a_reader_instance_is_replaced_after_its_attaches(config, data_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ATTACH leaves a little behind in an instance: a daemon's reader instance is replaced after
    ENGINE_ATTACHES of them, as the writer's is."""
    from monitor.store import db

    monkeypatch.setattr(db, "ENGINE_ATTACHES", 3)
    store = _import(config, data_dir, tmp_path, n=1)
    store.close()
    seen = []
    for _ in range(4):
        with store.read() as con:
            con.execute("SELECT count(*) FROM posts").fetchall()
        idle = db._IDLE_READERS._idle
        seen.append(idle[0][0] if idle else None)  # held: no id is reused
    assert seen[0] is seen[1] and seen[2] is None and seen[3] is not None and seen[3] is not seen[0]


def test_a_read_after_one_that_spilled_spills_beside_its_own_file(tmp_path: Path) -> None:
    """DuckDB cannot set an instance's temp directory again once it has spilled into it (not even to the
    same one): a kept reader instance that spilled is replaced for the next read, of any file (the report
    suite failed "Cannot switch temporary directory" when a capped report ran before a read of a copy)."""
    first, second = Store(tmp_path / "first"), Store(tmp_path / "second")
    first.ensure()
    second.ensure()
    spill = "SELECT count(*) FROM (SELECT range, random() AS r FROM range(1500000) ORDER BY r)"
    for store in (first, second, first):
        with store.read() as con:
            con.execute("SET memory_limit = '40MB'")
            assert con.execute(spill).fetchone() == (1500000,)
            assert con.execute("SELECT current_setting('temp_directory')").fetchone() == (str(store.path) + ".tmp",)
        assert Path(str(store.path) + ".tmp").is_dir()  # it did spill, beside its own file

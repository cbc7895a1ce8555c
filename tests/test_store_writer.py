"""The writer's short lock: the file attached per batch without a WAL and checkpointed before it is
detached, row groups merged by maintenance, and stored posts found by their key hash (kept in
memory, confirmed in the file). Real DuckDB files in tmp_path."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from monitor.daemon import Daemon
from monitor.models import Author, Post, Provenance
from monitor.store import Store, StoreLocked, WriteBatch
from monitor.store.db import DB_NAME, STORAGE_VERSION
from monitor.store.rows import posts_table
from monitor.store.schema import MIGRATIONS, key_hash_sql
from tests.conftest import ROOT


def make_post(i: int, text: str | None = None) -> Post:
    return Post(platform="x", id=str(i), author=Author(id="1", handle="someone"),
                text=text or f"Musk and OpenAI, post number {i}", created_at=datetime(2025, 1, 1, 12),
                provenance=Provenance(source="test"))


def batch_of(numbers: range | list[int], **texts: str) -> WriteBatch:
    batch = WriteBatch()
    batch.add("posts", posts_table([make_post(i, texts.get(f"p{i}")) for i in numbers]))
    return batch


def rows(store: Store, sql: str) -> list[tuple]:
    with store.read() as con:
        return con.execute(sql).fetchall()


def row_groups(store: Store, table: str = "posts") -> int:
    return rows(store, f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')")[0][0]


def test_key_hash_is_the_md5_prefix_in_every_version(data_dir: Path) -> None:
    """The stored hash must not change with DuckDB's version: it is defined by MD5."""
    keys = ["x:1", "bluesky:at://did:plc:abc/app.bsky.feed.post/3k", "mastodon:https://m.social/u/1/statuses/2", "é"]
    with duckdb.connect() as con:
        got = [con.execute(f"SELECT {key_hash_sql('?')}", [k]).fetchone()[0] for k in keys]
    assert got == [int(hashlib.md5(k.encode()).hexdigest()[:16], 16) for k in keys]


def test_a_write_leaves_no_wal_and_readers_see_it(data_dir: Path) -> None:
    store = Store(data_dir)
    result = store.write(batch_of(range(50)))
    assert result.posts_new == 50
    assert store.wal_bytes() == 0  # written to the file itself: a copy of monitor.duckdb has it all
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.execute('SELECT count(*), count(DISTINCT key_hash) FROM posts').fetchone())")
    out = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(50, 50)"
    assert store.write(batch_of(range(40, 60))).posts_new == 10
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(60, 60)]


@pytest.mark.skipif(shutil.which("duckdb") is None, reason="duckdb CLI (pip install duckdb-cli) not installed")
def test_duckdb_cli_reads_the_file_right_after_a_write(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(batch_of(range(30)))
    out = subprocess.run(["duckdb", "-readonly", "-csv", str(store.path), "-c",
                          "SELECT count(*), count(key_hash) FROM posts"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["30,30"]


def test_a_wal_left_by_another_writer_is_folded_by_the_next_write(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(batch_of(range(3)))
    with duckdb.connect(str(store.path)) as con:  # e.g. a DuckDB CLI session that changed something
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute("UPDATE posts SET text = 'changed by hand' WHERE post_key = 'x:0'")
    assert store.wal_bytes() > 0
    assert store.write(batch_of(range(3, 5))).posts_new == 2
    assert store.wal_bytes() == 0
    assert rows(store, "SELECT count(*), count(*) FILTER (WHERE text = 'changed by hand') FROM posts") == [(5, 1)]


def test_posts_stored_or_deleted_by_another_process_are_seen(data_dir: Path) -> None:
    """The writer keeps the stored key hashes in memory; a change it did not make (another writer's
    posts, rows deleted by hand) changes the post count, and it reads the hashes again."""
    store = Store(data_dir)
    assert store.write(batch_of(range(10))).posts_new == 10
    other = Store(data_dir)  # another process's writer (say, `monitor import` while the daemon runs)
    assert other.write(batch_of(range(10, 20))).posts_new == 10
    assert store.write(batch_of(range(15, 25))).posts_new == 5  # 15-19 are stored: not again
    with duckdb.connect(str(store.path)) as con:
        con.execute("DELETE FROM posts WHERE post_key IN ('x:1', 'x:2')")
    assert store.write(batch_of(range(0, 5))).posts_new == 2  # the two deleted by hand come back
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(25, 25)]


def test_a_process_killed_before_the_checkpoint_loses_only_its_batch(data_dir: Path) -> None:
    """No WAL: a commit reaches the file at the checkpoint that ends the write. Killed between the
    two, the batch is gone whole, with the cursor stored in it, so the collector fetches it again."""
    store = Store(data_dir)
    store.write(batch_of(range(10)))
    code = KILL_BEFORE_CHECKPOINT
    proc = subprocess.run([sys.executable, "-c", code, str(data_dir), str(ROOT)], timeout=120)
    assert proc.returncode == -9
    assert rows(store, "SELECT count(*) FROM posts") == [(10,)]
    assert rows(store, "SELECT count(*) FROM source_state") == [(0,)]  # the cursor did not advance
    again = batch_of(range(5, 20))
    again.add_rows("source_state", [{"source": "x", "query": "q", "state": "{}", "updated_at": datetime(2025, 1, 1)}])
    assert store.write(again).posts_new == 10
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(20, 20)]


KILL_BEFORE_CHECKPOINT = """
import os, signal, sys
from datetime import datetime
sys.path.insert(0, sys.argv[2])
from tests.test_store_writer import batch_of
from monitor.store import Store

class Killed(Store):
    @staticmethod
    def _persist(engine):
        os.kill(os.getpid(), signal.SIGKILL)  # committed, not yet checkpointed

batch = batch_of(range(5, 20))
batch.add_rows("source_state", [{"source": "x", "query": "q", "state": "{}", "updated_at": datetime(2025, 1, 1)}])
Killed(sys.argv[1]).write(batch)
"""


def test_maintenance_merges_the_row_groups_writes_leave(config, data_dir: Path) -> None:
    store = Store(data_dir)
    for b in range(6):
        store.write(batch_of(range(b * 10, b * 10 + 10)))
    assert row_groups(store) >= 6  # each checkpointed write appends its own small row group
    Daemon(config, store, data_dir, say=lambda line: None).maintenance()
    assert row_groups(store) == 1
    assert rows(store, "SELECT reason, vacuum FROM checkpoints ORDER BY checkpoint_at DESC LIMIT 1") == [
        ("maintenance", True)]
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(60, 60)]
    assert store.checkpoint() is False  # nothing left to do


@contextmanager
def _database_before(data_dir: Path, migration: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A database file as the versions before ``migration`` left it, open to add rows."""
    old = [name for name, _ in MIGRATIONS].index(migration)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{data_dir / DB_NAME}' AS monitor (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute("USE monitor")
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
        for version, (name, sql) in enumerate(MIGRATIONS[:old], start=1):
            sql(con) if callable(sql) else con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [version, name])
        yield con


def test_migration_adds_and_fills_the_key_hash_on_an_old_database(data_dir: Path) -> None:
    # A database as the version before the key hash left it: migrations up to "post rules version".
    with _database_before(data_dir, "post key hash") as con:
        con.register("old_posts", posts_table([make_post(i) for i in range(20)]))
        con.execute("INSERT INTO posts BY NAME SELECT * FROM old_posts")
    store = Store(data_dir)
    store.ensure()
    stored = rows(store, "SELECT post_key, key_hash FROM posts ORDER BY post_key")
    assert len(stored) == 20
    assert all(h == int(hashlib.md5(k.encode()).hexdigest()[:16], 16) for k, h in stored)
    # The backfilled hashes find the old posts: only the new ones go in.
    assert store.write(batch_of(range(15, 25))).posts_new == 5
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(25, 25)]


def test_a_hash_shared_by_two_keys_keeps_both_posts(data_dir: Path) -> None:
    """Two keys with one 64-bit hash are told apart by the key itself (forced here: x:1 is stored
    with x:2's hash)."""
    store = Store(data_dir)
    store.write(batch_of([1]))
    with store.write_connection() as con:
        con.execute(f"UPDATE posts SET key_hash = {key_hash_sql(repr('x:2'))} WHERE post_key = 'x:1'")
    result = store.write(batch_of([2]))
    assert (result.posts_new, result.posts_seen) == (1, 0)
    assert store.write(batch_of([1, 2])).posts_new == 0
    assert rows(store, "SELECT post_key FROM posts ORDER BY 1") == [("x:1",), ("x:2",)]


def test_analysis_is_stored_only_for_the_posts_new_in_the_batch(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(batch_of([1]))

    def mentions(keys: list[str]) -> pa.Table:
        return pa.table({"post_key": keys, "target_id": ["musk"] * len(keys), "alias": ["Musk"] * len(keys),
                         "rules_version": ["r1"] * len(keys)})

    batch = batch_of([1, 2])  # x:1 is stored already; x:99 is not a post of this batch
    batch.add("mentions", mentions(["x:1", "x:2", "x:99"]))
    assert store.write(batch).posts_new == 1
    batch = batch_of([3])  # nothing stored yet, but a row for a post not in the batch
    batch.add("mentions", mentions(["x:3", "x:98"]))
    assert store.write(batch).posts_new == 1
    assert rows(store, "SELECT post_key FROM mentions ORDER BY 1") == [("x:2",), ("x:3",)]


def test_a_post_stored_without_a_hash_is_still_found(data_dir: Path) -> None:
    store = Store(data_dir)
    store.ensure()
    with store.write_connection() as con:  # stored by hand, as an analyst or another tool might
        con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                    "tool_version) VALUES ('x:7', 'x', '7', 'by hand', now()::TIMESTAMP, now()::TIMESTAMP, 'sql', '0')")
    assert store.write(batch_of([7, 8])).posts_new == 1
    assert rows(store, "SELECT post_key, text FROM posts ORDER BY 1") == [
        ("x:7", "by hand"), ("x:8", make_post(8).text)]
    store.checkpoint()  # maintenance fills the hash in
    assert rows(store, "SELECT count(*) FROM posts WHERE key_hash IS NULL") == [(0,)]


def test_deletions_of_posts_never_stored_and_an_edit(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(batch_of(range(3)))
    batch = batch_of([1], p1="edited text")  # an edit: the deletion and the new version, one batch
    batch.add("deletions", pa.table({"post_key": ["x:1", "x:999", "bluesky:never"], "source": ["x"] * 3,
                                     "deleted_at": [datetime(2025, 1, 2)] * 3}))
    result = store.write(batch)
    assert (result.posts_new, result.posts_seen) == (1, 0)
    assert rows(store, "SELECT post_key, text FROM posts ORDER BY 1") == [
        ("x:0", make_post(0).text), ("x:1", "edited text"), ("x:2", make_post(2).text)]
    # Only the deletion of a stored post is kept (the firehose reports every deletion on the network).
    assert rows(store, "SELECT post_key FROM deletions") == [("x:1",)]


def test_a_reader_in_the_same_process_makes_the_writer_wait_then_spool(data_dir: Path) -> None:
    store = Store(data_dir, lock_timeout=0.3)
    store.write(batch_of([1]))
    reader = Store(data_dir)
    with reader.read():
        result = store.write(batch_of([2]))  # the file is open in this process: DuckDB refuses a second handle
        assert result.spooled
        with pytest.raises(StoreLocked, match="this process"):
            with store.write_connection(timeout=0.1):
                pass
    assert store.drain_spool() == 1
    assert rows(store, "SELECT post_key FROM posts ORDER BY 1") == [("x:1",), ("x:2",)]


def test_the_writers_duckdb_instance_is_renewed(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived instance keeps a little memory per ATTACH: it is replaced every so many."""
    monkeypatch.setattr("monitor.store.db.ENGINE_ATTACHES", 3)
    store = Store(data_dir)
    engines: list[object] = []  # kept alive, so no two share an id
    for b in range(7):
        store.write(batch_of(range(b * 10, b * 10 + 12)))
        if store._engine_con is not None and not any(e is store._engine_con for e in engines):
            engines.append(store._engine_con)
    assert store._engine_attaches < 3 and len(engines) >= 2
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(72, 72)]


def test_threads_share_one_writer(data_dir: Path) -> None:
    store = Store(data_dir)
    store.ensure()
    errors: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for b in range(5):
                store.write(batch_of(range(start + b * 10, start + b * 10 + 15)))  # overlapping keys
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t * 1000,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(3 * 55, 3 * 55)]


KILL_AFTER_WRITE = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from tests.test_store_writer import batch_of
from monitor.store import Store
batch = batch_of(range(100, 140))
batch.batch_id = "killed-batch"
Store(sys.argv[1]).write(batch)
os.kill(os.getpid(), signal.SIGKILL)  # right after the write returned
"""


def test_kill_9_after_a_commit_loses_nothing_and_duplicates_nothing(data_dir: Path) -> None:
    store = Store(data_dir)
    store.write(batch_of(range(100, 110)))
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_WRITE, str(data_dir), str(ROOT)], timeout=120)
    assert proc.returncode == -9
    assert store.wal_bytes() == 0
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(40, 40)]
    again = batch_of(range(100, 140))
    again.batch_id = "killed-batch"  # the same batch replayed (a spool drain): applied once
    assert store.write(again).already_applied
    assert store.write(batch_of(range(130, 150))).posts_new == 10
    store.checkpoint()
    assert rows(store, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(50, 50)]


def test_known_keys_lookups_survive_merges() -> None:
    from array import array

    from monitor.store.known_keys import KnownKeys
    from monitor.store.schema import key_hash

    stored = sorted(key_hash(f"x:{i}") for i in range(1000))
    known = KnownKeys(array("Q", stored), len(stored))
    known.MERGE_MIN = 10
    new = [key_hash(f"x:{i}") for i in range(1000, 1200)]
    known.add(new)
    known.compact()  # 200 recent ones >= 10% of 1000: merged into the sorted array
    assert len(known) == 1200 and not known._recent
    assert known.hits([key_hash("x:5"), key_hash("x:1100"), key_hash("x:5000")]) == [key_hash("x:5"),
                                                                                     key_hash("x:1100")]
    assert list(known._sorted) == sorted(stored + new)


def test_a_run_row_is_replaced_without_an_index(data_dir: Path) -> None:
    """runs has no primary key (DuckDB would rewrite the index at every checkpoint): the writer
    replaces a run's row by deleting and inserting it."""
    store = Store(data_dir)

    def run_row(pages: int) -> WriteBatch:
        batch = WriteBatch()
        batch.add_rows("runs", [{"run_id": 7, "source": "x", "query": "q", "started_at": datetime(2025, 1, 1),
                                 "finished_at": datetime(2025, 1, 1), "pages": pages, "requests": pages,
                                 "posts_new": 0, "posts_seen": 0, "statuses": "200x1", "error": None,
                                 "coverage": "complete"}])
        return batch

    for pages in (1, 2, 3):
        store.write(run_row(pages))
    assert rows(store, "SELECT run_id, pages FROM runs") == [(7, 3)]
    assert rows(store, "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'runs' "
                       "ORDER BY 1") == [("NOT NULL",)] * 3


def test_two_writers_taking_turns_scan_instead_of_reloading_every_time(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While another process writes too, the copy of the key hashes falls out of step at every
    write: a writer reloads it at most once per KEY_RELOAD_WRITES writes and scans in between."""
    from monitor.store.known_keys import KnownKeys

    monkeypatch.setattr("monitor.store.db.KEY_RELOAD_WRITES", 4)
    loads: list[int] = []
    real_load = KnownKeys.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(KnownKeys, "load", classmethod(lambda cls, con: loads.append(1) or real_load(cls, con)))
    daemon, importer = Store(data_dir), Store(data_dir)
    for b in range(12):  # each overlaps the other's previous batch by 5 posts
        writer = daemon if b % 2 == 0 else importer
        assert writer.write(batch_of(range(b * 10 - 5 if b else 0, b * 10 + 10))).posts_new == 10
    assert len(loads) <= 4  # each writer: at its first write and 4 writes later (12 without the limit)
    assert rows(daemon, "SELECT count(*), count(DISTINCT post_key) FROM posts") == [(120, 120)]


def test_migration_drops_the_deletions_of_posts_never_stored(data_dir: Path) -> None:
    """A database the firehose filled with deletions of posts it never stored keeps those of stored posts:
    still stored (an edit), collected then deleted (it has sightings), and `monitor delete`'s."""
    with _database_before(data_dir, "deletions of stored posts") as con:
        con.register("old_posts", posts_table([make_post(1)]))
        con.execute("INSERT INTO posts BY NAME SELECT * FROM old_posts")
        con.execute("INSERT INTO sightings (post_key, run_id, source, query, seen_at) "
                    "VALUES ('x:5', 1, 'x', 'q', now()::TIMESTAMP)")
        for key, source in (("x:1", "x"), ("x:5", "x"), ("bluesky:never", "bluesky_jetstream"),
                            ("x:7", "monitor delete")):
            con.execute("INSERT INTO deletions VALUES (?, ?, now()::TIMESTAMP)", [key, source])
    store = Store(data_dir)
    store.ensure()
    assert rows(store, "SELECT post_key FROM deletions ORDER BY 1") == [("x:1",), ("x:5",), ("x:7",)]

"""The DuckDB file: creation with a storage version the DuckDB CLI reads, migrations, the one
writer, and brief read-only access.

DuckDB allows one writing process or many readers, never both. So the writer never keeps the file
open: each batch opens it, writes in one transaction and closes it. On a lock conflict it retries
with jittered backoff; if the file stays locked the batch is spooled to Parquet under
``data/spool`` and applied, in order and idempotently, once the lock is free.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from monitor.store.rows import TABLE_MODES, TABLE_ORDER, WriteBatch, utcnow_naive
from monitor.store.schema import migrate

log = logging.getLogger(__name__)

DB_NAME = "monitor.duckdb"
# The DuckDB CLI on PyPI (duckdb-cli 1.5.x) must be able to open our file.
STORAGE_VERSION = "v1.5.0"
ANALYSIS_TABLES = ("mentions", "post_sentiment", "target_scores")


class StoreError(Exception):
    pass


class StoreLocked(StoreError):
    pass


@dataclass
class ApplyResult:
    posts_new: int = 0
    posts_seen: int = 0
    spooled: bool = False
    already_applied: bool = False


def _is_lock_error(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _lock_holder(exc: Exception) -> str:
    match = re.search(r"PID (\d+)", str(exc))
    return f"process {match.group(1)}" if match else "another process"


class Store:
    def __init__(self, data_dir: Path | str, lock_timeout: float = 10.0):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.spool_dir = self.data_dir / "spool"
        self.lock_timeout = lock_timeout
        self._ready = False
        self._write_lock = threading.Lock()  # one writer per process too (daemon jobs run in threads)

    # --- connections ---------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the file (with a CLI-readable storage version) and apply migrations."""
        if self._ready:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            con = duckdb.connect()
            try:
                escaped = str(self.path).replace("'", "''")
                con.execute(f"ATTACH '{escaped}' AS monitor_db (STORAGE_VERSION '{STORAGE_VERSION}')")
                con.execute("DETACH monitor_db")
            finally:
                con.close()
        with self._connect(read_only=False, timeout=self.lock_timeout) as con:
            migrate(con)
        self._ready = True

    @contextmanager
    def _connect(self, read_only: bool, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise StoreError(f"cannot open {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StoreLocked(
                        f"{self.path} is in use by {_lock_holder(exc)}. DuckDB allows one writer or many readers: "
                        "a DuckDB session (even read-only) blocks writers, and a writer blocks readers. Close it, or "
                        "try again in a moment."
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def read(self, timeout: float = 5.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A brief read-only connection. Retries a lock conflict for ``timeout`` seconds."""
        if not self.path.exists():
            raise StoreError(f"no database yet at {self.path}: run `monitor run --once` or `monitor import PATH` first")
        if not self._ready:
            self._migrate_if_behind(timeout)
        with self._connect(read_only=True, timeout=timeout) as con:
            yield con

    def _migrate_if_behind(self, timeout: float) -> None:
        """A newer version of the tool may add tables and views: the first reader applies them if it
        can take the write lock briefly (otherwise the writer will)."""
        from monitor.store.schema import SCHEMA_VERSION

        try:
            with self._connect(read_only=True, timeout=timeout) as con:
                row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
            if row and row[0] is not None and row[0] >= SCHEMA_VERSION:
                self._ready = True
                return
            with self._write_lock, self._connect(read_only=False, timeout=min(timeout, 1.0)) as con:
                migrate(con)
            self._ready = True
        except (StoreLocked, duckdb.Error):
            pass

    @contextmanager
    def write_connection(self, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection held only for the duration of the block."""
        self.ensure()
        with self._connect(read_only=False, timeout=self.lock_timeout if timeout is None else timeout) as con:
            yield con

    # --- writing -------------------------------------------------------------------------

    def write(self, batch: WriteBatch, spool_on_lock: bool = True) -> ApplyResult:
        """Apply a batch in one short transaction; spool it if the file stays locked."""
        if not batch:
            return ApplyResult()
        try:
            with self._write_lock, self.write_connection() as con:
                self._drain_spool(con)
                return self._apply(con, batch)
        except StoreLocked:
            if not spool_on_lock:
                raise
            self.spool(batch)
            log.warning("database locked; spooled %d posts to %s", batch.post_count, self.spool_dir)
            return ApplyResult(spooled=True, posts_new=batch.post_count)

    def _apply(self, con: duckdb.DuckDBPyConnection, batch: WriteBatch) -> ApplyResult:
        result = ApplyResult()
        con.execute("BEGIN")
        try:
            if con.execute("SELECT 1 FROM applied_batches WHERE batch_id = ?", [batch.batch_id]).fetchone():
                con.execute("ROLLBACK")
                result.already_applied = True
                return result
            deletions = batch.tables.get("deletions")
            if deletions is not None:
                # Honour deletions at the source; an edit is a deletion plus the new version in this batch.
                con.register("batch_deleted", deletions)
                for table in ("posts", *ANALYSIS_TABLES):
                    con.execute(f"DELETE FROM {table} WHERE post_key IN (SELECT post_key FROM batch_deleted)")
                con.unregister("batch_deleted")
            rescored = batch.tables.get("rescored")
            if rescored is not None:
                con.register("batch_rescored", rescored)
                for table in ANALYSIS_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE post_key IN (SELECT post_key FROM batch_rescored)")
                con.unregister("batch_rescored")
            posts = batch.tables.get("posts")
            if posts is not None:
                con.register("batch_posts", posts)
                con.execute("CREATE OR REPLACE TEMP TABLE new_keys AS SELECT post_key FROM batch_posts "
                            "ANTI JOIN posts USING (post_key)")
                row = con.execute("SELECT count(*) FROM new_keys").fetchone()
                result.posts_new = int(row[0]) if row else 0
                result.posts_seen = posts.num_rows - result.posts_new
                con.execute("INSERT INTO posts BY NAME SELECT * FROM batch_posts SEMI JOIN new_keys USING (post_key)")
                con.unregister("batch_posts")
            for table in TABLE_ORDER:
                data = batch.tables.get(table)
                if data is None or table == "posts" or TABLE_MODES[table] == "keys":
                    continue
                name = f"batch_{table}"
                con.register(name, data)
                mode = TABLE_MODES[table]
                if table in ANALYSIS_TABLES:
                    # Analysis of a post is stored with the post, once (only for posts new in this
                    # batch); rescore deletes the old rows above before inserting the new ones.
                    semi = " SEMI JOIN new_keys USING (post_key)" if posts is not None else ""
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}{semi}")
                elif mode == "replace":
                    con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM {name}")
                elif mode == "ignore":
                    con.execute(f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {name}")
                else:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
                con.unregister(name)
            con.execute("INSERT INTO applied_batches VALUES (?, ?)", [batch.batch_id, utcnow_naive()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return result

    # --- spool ---------------------------------------------------------------------------

    def spool(self, batch: WriteBatch) -> Path:
        """Write a batch to data/spool/<time>_<id>/ (via a temporary name, then rename)."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        stamp = batch.created_at.strftime("%Y%m%dT%H%M%S%f")
        final = self.spool_dir / f"{stamp}_{batch.batch_id}"
        tmp = self.spool_dir / f".tmp_{stamp}_{batch.batch_id}"
        tmp.mkdir(parents=True, exist_ok=True)
        for order, table in enumerate(TABLE_ORDER):
            if table in batch.tables:
                pq.write_table(batch.tables[table], tmp / f"{order:02d}_{table}.parquet")
        tmp.rename(final)
        return final

    def spooled_batches(self) -> list[Path]:
        if not self.spool_dir.exists():
            return []
        return sorted(p for p in self.spool_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def spool_size(self) -> tuple[int, int]:
        """(batches, bytes) waiting in the spool."""
        batches = self.spooled_batches()
        return len(batches), sum(f.stat().st_size for b in batches for f in b.iterdir())

    @staticmethod
    def load_spooled(path: Path) -> WriteBatch:
        _stamp, batch_id = path.name.split("_", 1)
        batch = WriteBatch(batch_id=batch_id)
        for file in sorted(path.glob("*.parquet")):
            batch.tables[file.stem.split("_", 1)[1]] = pq.read_table(file)
        return batch

    def _drain_spool(self, con: duckdb.DuckDBPyConnection) -> int:
        drained = 0
        for path in self.spooled_batches():
            self._apply(con, self.load_spooled(path))
            shutil.rmtree(path)
            drained += 1
        if drained:
            log.info("drained %d spooled batches", drained)
        return drained

    def drain_spool(self) -> int:
        """Apply spooled batches now (in order, idempotently). Returns how many were applied."""
        if not self.spooled_batches():
            return 0
        with self._write_lock, self.write_connection() as con:
            return self._drain_spool(con)

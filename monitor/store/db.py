"""The DuckDB file: creation with a storage version the DuckDB CLI reads, migrations, the one
writer, and brief read-only access.

DuckDB allows one writing process or many readers, never both. So the writer never keeps the file
open: each batch attaches it, writes in one transaction and detaches it. On a lock conflict it
retries with jittered backoff; if the file stays locked the batch is spooled to Parquet under
``data/spool`` and applied, in order and idempotently, once the lock is free.

Holding the lock briefly (bench/writer_lock.py; goal: under 50 ms for 1,000 posts on a 1M-post
database) takes three things:

- The file is attached to one long-lived in-memory DuckDB instance (~1 ms) instead of starting
  an instance per batch (~12 ms).
- The writer writes no WAL: it attaches with ``RECOVERY_MODE no_wal_writes`` and checkpoints
  before every detach, so a batch reaches the file once (a WAL commit writes and syncs it once
  more, and every later opener, readers included, replays the WAL). A process killed before that
  checkpoint loses only the batch it was writing, with the collector cursor stored in the same
  transaction, so the batch is fetched again. Those checkpoints do not merge small row groups (a
  merge rewrites up to a row group of rows); maintenance does (``Store.checkpoint``), and so does
  every ``MERGE_AFTER_WRITES``-th write, because each write's row groups hold blocks of their own
  until merged (frequent small writes grew a file of 28 posts to 100 MB between maintenances).
- Which posts of a batch are stored already: the writer keeps the key hashes of the stored posts in
  memory (``known_keys.py``, 8 bytes a post) and looks the batch up there instead of scanning
  ``posts.key_hash``; only hits (re-seen posts, or a rare hash collision) are confirmed in the file,
  on ``post_key``. The copy is reloaded from the file whenever its post count (read in the
  transaction, <1 ms) is not what this writer left (another process wrote, or someone deleted
  rows by hand).
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

import monitor.store.rollups as rollups
from monitor.store.rows import (
    COUNTED_ROWS,
    NOT_TABLES,
    TABLE_MODES,
    TABLE_ORDER,
    UNINDEXED_KEYS,
    WriteBatch,
    utcnow_naive,
)
from monitor.store.schema import key_hash, key_hash_sql, migrate, sql_string

if TYPE_CHECKING:  # imported where used: pyarrow and numpy cost ~0.2 s at start, commands that read need neither
    import pyarrow as pa

    from monitor.store.known_keys import KnownKeys

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_NAME = "monitor.duckdb"
# The DuckDB CLI on PyPI (duckdb-cli 1.5.x) must be able to open our file.
STORAGE_VERSION = "v1.5.0"
ANALYSIS_TABLES = ("mentions", "post_sentiment", "target_scores")
# The catalog name of the file while the writer has it attached (DuckDB's own name for it when
# opened directly, so nothing stored in the file depends on how it was opened).
ATTACH_AS = "monitor"
# No WAL (see above). Row groups of at most 16,384 rows: each write appends its own small ones and
# maintenance merges them, rewriting up to a row group's worth of rows with the lock held (~1 s at
# most in bench/writer_lock.py; up to ~4 s with DuckDB's default of 122,880).
# New files get DuckDB's default block size, stated here because growth depends on it (see
# MERGE_AFTER_WRITES): smaller blocks (64 KB) waste less per write but made 1,000-post writes
# ~20-40% slower in bench/writer_lock.py.
BLOCK_SIZE = 262144
ATTACH_OPTIONS = "RECOVERY_MODE no_wal_writes, ROW_GROUP_SIZE 16384"
DUCKDB_MAX_VACUUM_TASKS = 100  # DuckDB's default: lets a checkpoint merge small row groups
# A long-lived DuckDB instance keeps a few hundred bytes per ATTACH and per registered Arrow table
# (bench/daemon_memory.py saw ~6 KB a cycle): the writer starts a fresh one after this many attaches.
ENGINE_ATTACHES = 1000
# A read attaches the file read-only to an in-memory DuckDB instance and detaches it after; the instance is kept
# for the next read (at most IDLE_READERS of them). Opening the file as an instance of its own cost ~20 ms a read
# (DuckDB 2.0 builds its catalog of functions for every instance; 12 ms with 1.5), an ATTACH ~1.5 ms. The settings a
# reader may change (a memory cap, a folder to spill to) are put back when an instance is taken for a read; one
# that spilled is replaced (Store._ready_reader).
IDLE_READERS = 2
READER_SETTINGS = ("memory_limit", "threads")  # and temp_directory, set beside the file
# Every checkpointed write stores the rows it added to each table as a new row group in blocks of
# its own, which no later write fills: ~3 fresh blocks a write, whatever its size (bench/db_growth.py:
# 0.8 MB a poll of a few posts with 256 KB blocks). Only merging the small row groups frees them for
# reuse, so the writer merges after this many writes (rather than leaving it all to maintenance,
# every 5 minutes in the daemon: a source polled every 30 s grew the file by 90 MB in between).
MERGE_AFTER_WRITES = 16
KEY_HASH = key_hash_sql("post_key")
# While another process writes too, the writer reloads its copy of the stored key hashes at most
# once in this many writes, and scans posts.key_hash in between (see Store._known_keys).
KEY_RELOAD_WRITES = 50
# DuckDB memory of the writer's instance while it writes a batch, and while it merges row groups
# after MERGE_AFTER_WRITES writes. Uncapped, DuckDB keeps every block it reads or writes cached until
# the file is detached: a merge held 60-90 MiB more (bench/import_throughput.py, 100k tweets: the
# import's process tree peaked at 541-550 MiB, 449-458 with these caps), and the first write to a
# 10M-post file ~180 MiB more (loading the stored key hashes: the main process 780 MiB uncapped, 604
# capped). Capped, DuckDB drops cached blocks (they are in the file) and spills what it must keep (a
# big batch's temp tables, sorts) to WRITE_TEMP_DIR under the data directory. Writes of 5,000 tweets
# need less than 32 MB and merges less than 16, but writes capped at 64 MB cost ~6% more CPU (DuckDB
# evicting near the cap), at 128 MB nothing measurable. A step that needs more than its cap runs
# again uncapped (Store._capped, Store._merge_written). Migrations and maintenance run uncapped.
WRITE_MEMORY_LIMIT = "128MB"
MERGE_MEMORY_LIMIT = "32MB"
# The maintenance steps over whole tables (folding the rollups' deltas, rebuilding the summary's
# candidates) under this cap, done again uncapped if what cannot spill does not fit.
MAINTENANCE_MEMORY_LIMIT = "256MB"
# DuckDB threads for a batch write's steps (_prepare, _apply; Store._capped). A batch is a few
# thousand rows: spread over both cores, its ~20 statements cost 15-20 us more CPU a post, in time
# the import's analysis workers need (bench/import_throughput.py, 100k tweets: 7,230 -> 7,680 posts/s).
# Merges, checkpoints, migrations and maintenance keep DuckDB's default (one thread a core).
WRITE_THREADS = 1
DUCKDB_INTERRUPTED = "Query interrupted"  # the RuntimeError DuckDB raises for a KeyboardInterrupt mid-query
WRITE_TEMP_DIR = "duckdb_tmp"


# The stored posts' keys among those of some key hashes (?: a UBIGINT list), and those of rows without a
# hash (written by hand): the caller keeps the keys it asked about (two keys can share a hash).
STORED_KEYS_SQL = ("SELECT post_key FROM posts WHERE key_hash IN (SELECT unnest(?::UBIGINT[])) "
                   "UNION ALL SELECT post_key FROM posts WHERE key_hash IS NULL")


class StoreError(Exception):
    pass


class StoreLocked(StoreError):
    pass


@dataclass
class ApplyResult:
    """What applying a batch did. A spooled batch is not applied yet: its posts are counted in
    ``posts_spooled`` only (new or seen is decided when the spool drains, into the batch's run or
    import row)."""

    posts_new: int = 0
    posts_seen: int = 0
    spooled: bool = False
    already_applied: bool = False
    posts_spooled: int = 0
    # For a batch with the rows of several runs or imports (small files are written together): per
    # COUNTED_ROWS table, each row's key -> (posts new, posts seen) of its own posts.
    counted: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)


def _in_this_process(exc: Exception) -> bool:
    # This process (another thread's reader, or the writer's attachment): "Unique file handle
    # conflict", a ResourceInUseException in DuckDB 2, a BinderException in 1.5.
    return "unique file handle conflict" in str(exc).lower()


def _is_lock_error(exc: Exception) -> bool:
    # Another process: IOException "Could not set lock on file".
    if _in_this_process(exc):
        return True
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _lock_holder(exc: Exception) -> str:
    if _in_this_process(exc):
        return "this process (another thread)"
    match = re.search(r"PID (\d+)", str(exc))
    return f"process {match.group(1)}" if match else "another process"


@dataclass
class _Prepared:
    """A batch made ready in the writer's instance: its Arrow tables registered as views, its posts
    with their key hashes in a temp table (names start with ``tag``)."""

    engine: duckdb.DuckDBPyConnection
    tag: str
    views: dict[str, str] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)  # each table's columns in the batch
    temps: list[str] = field(default_factory=list)
    post_keys: set[str] = field(default_factory=set)
    deleted_keys: set[str] = field(default_factory=set)
    hashes: dict[str, int] = field(default_factory=dict)  # key hash of each post and deletion key
    simple: bool = False  # each post key once, analysis rows only for the batch's posts
    gone: str = ""  # the temp table of the stored posts the batch deletes ("" when none)
    words: str = ""  # the batch's mention words (rollups.mention_words_sql's columns), as a relation

    def temp(self, what: str) -> str:
        name = f"{self.tag}_{what}"
        if name not in self.temps:
            self.temps.append(name)
        return name


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()  # fetched to the end: DuckDB refuses a relation query
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0  # while a result is unfinished


class _IdleReaders:
    """The reader instances kept for the next read, shared by every Store of the process: one that opens
    many stores pays for an instance (~16 ms) once, not once per Store (the test suite made ~340)."""

    def __init__(self) -> None:
        self._idle: list[tuple[duckdb.DuckDBPyConnection, int]] = []  # with the attaches each has done
        self._lock = threading.Lock()

    def take(self) -> tuple[duckdb.DuckDBPyConnection | None, int]:
        with self._lock:
            return self._idle.pop() if self._idle else (None, 0)

    def keep(self, engine: duckdb.DuckDBPyConnection, attaches: int) -> None:
        """Keep an instance for the next read; a fresh one replaces it after ENGINE_ATTACHES (each ATTACH
        leaves a few hundred bytes behind in an instance, and a daemon reads every minute for months)."""
        with self._lock:
            if len(self._idle) < IDLE_READERS and attaches < ENGINE_ATTACHES:
                self._idle.append((engine, attaches))
                return
        engine.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for engine, _ in idle:
            engine.close()


_IDLE_READERS = _IdleReaders()


class Store:
    def __init__(self, data_dir: Path | str, lock_timeout: float = 10.0):
        self.data_dir = Path(data_dir)
        self._merge_due = False  # this writer added rows since maintenance last merged row groups
        self._writes_unmerged = 0  # writes since row groups were last merged (MERGE_AFTER_WRITES)
        self.path = self.data_dir / DB_NAME
        self.wal_path = self.path.with_name(self.path.name + ".wal")
        self.spool_dir = self.data_dir / "spool"
        self.lock_timeout = lock_timeout
        self._ready = False
        # One writer per process too (daemon jobs run in threads). Re-entrant: write() and the
        # daemon's maintenance hold it around write_connection(), which takes it as well.
        self._write_lock = threading.RLock()
        self._engine_con: duckdb.DuckDBPyConnection | None = None
        self._engine_attaches = 0
        self._seq = 0  # names the temp objects of each prepared batch
        self._known: KnownKeys | None = None  # key hashes of the stored posts (known_keys.py)
        self._writes = 0  # batches with posts or deletions this writer applied
        self._loaded_at: int | None = None  # ... when it last loaded the key hashes

    # --- connections ---------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the file (with a CLI-readable storage version) and apply migrations."""
        if self._ready:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._write_lock:
            if not self.path.exists():
                engine = self._engine()
                engine.execute(f"ATTACH {sql_string(self.path)} AS {ATTACH_AS} (STORAGE_VERSION '{STORAGE_VERSION}', "
                               f"BLOCK_SIZE {BLOCK_SIZE})")
                self._detach(engine)
            with self._connect(read_only=False, timeout=self.lock_timeout) as con:
                migrate(con)
        self._ready = True

    def _engine(self) -> duckdb.DuckDBPyConnection:
        """The in-memory DuckDB instance the writer attaches the file to (call with _write_lock held)."""
        if self._engine_con is None:
            con = duckdb.connect(":memory:")
            # The writer checkpoints itself, at the end of each write (_persist): none at commit
            # (DuckDB's default once the WAL passes 16 MB). Row groups are merged by maintenance.
            con.execute("SET checkpoint_threshold = '1TB'")
            con.execute("SET max_vacuum_tasks = 0")
            # Where a capped write spills (WRITE_MEMORY_LIMIT); DuckDB's default is .tmp in the
            # working directory. DuckDB creates it when it spills and deletes it when closed.
            con.execute(f"SET temp_directory = {sql_string(self.data_dir / WRITE_TEMP_DIR)}")
            self._engine_con = con
        return self._engine_con

    def _drop_engine(self) -> None:
        """Closing the instance detaches whatever it still has attached, releasing the file lock."""
        con, self._engine_con = self._engine_con, None
        self._engine_attaches = 0
        if con is not None:
            try:
                con.close()
            except duckdb.Error:
                log.exception("closing the writer's DuckDB instance")

    def close(self) -> None:
        """Release the writer's and the idle readers' in-memory DuckDB instances (the file itself is never
        left open)."""
        with self._write_lock:
            self._drop_engine()
        _IDLE_READERS.close()

    def _retry_open(self, open_once: Callable[[], T], timeout: float) -> T:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                return open_once()
            except duckdb.Error as exc:
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

    @contextmanager
    def _connect(self, read_only: bool, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """Read-only: a connection of its own, closed after the block. Read-write: the file attached
        to the writer's instance as the default catalog for the block (without a WAL), checkpointed,
        then detached."""
        if read_only:
            engine, attaches, con = self._retry_open(self._attach_reader, timeout)
            try:
                yield con
            finally:
                self._detach_reader(engine, attaches + 1, con)
            return
        with self._write_lock:
            engine = self._engine()
            attach = f"ATTACH {sql_string(self.path)} AS {ATTACH_AS} ({ATTACH_OPTIONS}); USE {ATTACH_AS}"
            try:
                self._retry_open(lambda: engine.execute(attach), timeout)
            except StoreLocked:
                raise
            except StoreError:
                self._drop_engine()  # the next write starts from a fresh instance
                raise
            self._engine_attaches += 1
            try:
                yield engine
            finally:
                try:
                    self._persist(engine)
                finally:
                    self._detach(engine)
                if self._engine_attaches >= ENGINE_ATTACHES:
                    self._drop_engine()  # the file is detached: this no longer holds the lock

    def _attach_reader(self) -> tuple[duckdb.DuckDBPyConnection, int, duckdb.DuckDBPyConnection]:
        """An idle reader instance (or a new one) and the attaches it has done, with the file attached
        read-only, and a connection of its own to it, whose temp tables and registered tables go when it
        closes."""
        engine, attaches = self._ready_reader(*_IDLE_READERS.take())
        con = engine.cursor()
        try:
            con.execute(f"ATTACH {sql_string(self.path)} AS {ATTACH_AS} (READ_ONLY); USE {ATTACH_AS}")
        except BaseException:
            con.close()
            try:
                engine.execute(f"DETACH DATABASE IF EXISTS {ATTACH_AS}")  # kept, it must not hold the file
            except duckdb.Error:
                engine.close()
                raise
            _IDLE_READERS.keep(engine, attaches)
            raise
        return engine, attaches, con

    def _ready_reader(self, engine: duckdb.DuckDBPyConnection | None,
                      attaches: int) -> tuple[duckdb.DuckDBPyConnection, int]:
        """A reader instance with the settings a connection to the file has (it spills beside the file):
        the idle one given, or a new one where there is none or the one given has spilled (DuckDB cannot
        set the temp directory of an instance again once it has spilled into it, even to the same one)."""
        beside = f"SET temp_directory = {sql_string(str(self.path) + '.tmp')}"
        if engine is not None:
            try:
                for setting in READER_SETTINGS:
                    engine.execute(f"RESET {setting}")
                engine.execute(beside)
                return engine, attaches
            except duckdb.NotImplementedException:
                engine.close()
        engine = duckdb.connect(":memory:")
        engine.execute(beside)
        return engine, 0

    def _detach_reader(self, engine: duckdb.DuckDBPyConnection, attaches: int, con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.close()
            engine.execute(f"DETACH {ATTACH_AS}")
        except duckdb.Error:
            log.exception("detaching %s from a reader: its DuckDB instance is closed", self.path)
            engine.close()  # closing the instance closes the file
            return
        _IDLE_READERS.keep(engine, attaches)

    @staticmethod
    def _persist(engine: duckdb.DuckDBPyConnection) -> None:
        """Write what the block committed into the file: without a WAL, a commit lives only in
        memory until this checkpoint (~0.2 ms when nothing changed)."""
        try:
            # A transaction left open would outlive the DETACH (DuckDB allows it), make the next
            # BEGIN fail and block the checkpoint: end it (normally there is none).
            engine.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass
        engine.execute(f"CHECKPOINT {ATTACH_AS}")

    def _detach(self, engine: duckdb.DuckDBPyConnection) -> None:
        try:
            engine.execute(f"USE memory; DETACH {ATTACH_AS}")
        except duckdb.Error:
            log.exception("detaching %s: restarting the writer's DuckDB instance", self.path)
            self._drop_engine()  # closing the instance closes the file and releases the lock
            raise

    @contextmanager
    def read(self, timeout: float = 5.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A brief read-only connection. Retries a lock conflict for ``timeout`` seconds."""
        if not self.path.exists():
            raise StoreError(f"no database yet at {self.path}: run `monitor run --once` or `monitor import PATH` first")
        if not self._ready:
            # The schema is checked on the reader's own connection (each open and close of a large
            # file costs a summary tens of milliseconds); only a database behind it is reopened.
            with self._connect(read_only=True, timeout=timeout) as con:
                if self._schema_current(con):
                    self._ready = True
                    yield con
                    return
            self._migrate_if_behind(timeout)
        with self._connect(read_only=True, timeout=timeout) as con:
            yield con

    @staticmethod
    def _schema_current(con: duckdb.DuckDBPyConnection) -> bool:
        from monitor.store.schema import SCHEMA_VERSION

        try:
            # fetchall: the result finished, as register() on the reader's connection requires.
            [(version,)] = con.execute("SELECT max(version) FROM schema_migrations").fetchall()
        except duckdb.Error:  # not created yet
            return False
        return version is not None and version >= SCHEMA_VERSION

    def _migrate_if_behind(self, timeout: float) -> None:
        """A newer version of the tool may add tables and views: the first reader applies them if it
        can take the write lock briefly (otherwise the writer will)."""
        try:
            with self._connect(read_only=True, timeout=timeout) as con:
                current = self._schema_current(con)
            if current:
                self._ready = True
                return
            with self._connect(read_only=False, timeout=min(timeout, 1.0)) as con:
                migrate(con)
            self._ready = True
        except (StoreLocked, duckdb.Error):
            pass

    @contextmanager
    def write_connection(self, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection held only for the duration of the block. Statements without a
        catalog name go to the database file."""
        self.ensure()
        with self._connect(read_only=False, timeout=self.lock_timeout if timeout is None else timeout) as con:
            yield con

    # --- checkpoints ---------------------------------------------------------------------

    def wal_bytes(self) -> int:
        """Size of a write-ahead log beside the file. The writer writes none; one comes from another
        writer (a DuckDB CLI session that changed something, or an older version of this tool)."""
        try:
            return self.wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def checkpoint(self, timeout: float | None = None) -> bool:
        """Maintenance: merge the small row groups the writes left (each checkpointed write appends
        its own), fold any WAL another writer left, fill missing key hashes. Returns False when
        there was nothing to do."""
        with self.write_connection(timeout) as con:
            # Posts stored without a key hash (by hand, say) get one: the writer reads their keys
            # at every batch until then. Skipped fast when there are none (column statistics).
            con.execute(f"UPDATE posts SET key_hash = {KEY_HASH} WHERE key_hash IS NULL")
            # The deltas the writes appended, one row per word and day (capped: after a rescore of 1M
            # posts it took 1.4 GB, 0.4 GB capped).
            self._cap_or_again(con, MAINTENANCE_MEMORY_LIMIT, self._in_transaction(con, lambda: rollups.compact(con)),
                               "folding the rollups")
            wal = self.wal_bytes()
            if not wal and not self._merge_due:
                return False
            con.execute("INSERT INTO checkpoints VALUES (?, 'maintenance', ?, true)", [utcnow_naive(), wal])
            self._merge_row_groups(con)
            return True

    def _merge_row_groups(self, con: duckdb.DuckDBPyConnection) -> None:
        """Checkpoint with row-group merging (the lock is held): the blocks of the merged small row
        groups become free, and the next writes reuse them."""
        con.execute(f"SET max_vacuum_tasks = {DUCKDB_MAX_VACUUM_TASKS}")
        try:
            con.execute(f"CHECKPOINT {ATTACH_AS}")
        finally:
            con.execute("SET max_vacuum_tasks = 0")
        self._merge_due = False
        self._writes_unmerged = 0

    # --- writing -------------------------------------------------------------------------

    def write(self, batch: WriteBatch, spool_on_lock: bool = True) -> ApplyResult:
        """Apply a batch in one short transaction; spool it if the file stays locked. Ctrl-C (or a
        SIGTERM an import turns into one) raises KeyboardInterrupt, also mid-query: DuckDB reports
        that as RuntimeError("Query interrupted"), which callers would take for a failure."""
        try:
            return self._write(batch, spool_on_lock)
        except RuntimeError as exc:
            if str(exc) != DUCKDB_INTERRUPTED:
                raise
            raise KeyboardInterrupt(DUCKDB_INTERRUPTED) from exc

    def _write(self, batch: WriteBatch, spool_on_lock: bool) -> ApplyResult:
        if not batch:
            return ApplyResult()
        with self._write_lock:
            # Registering the Arrow tables and hashing the keys need the writer's instance only,
            # not the file: done before the file is attached, and cleaned up after it is detached.
            engine = self._engine()
            prepared = self._capped(engine, lambda: self._prepare(engine, batch))
            try:
                with self.write_connection() as con:
                    drained = self._drain_spool(con)
                    result = self._capped(con, lambda: self._apply(con, batch, prepared))
                    self._merge_due = True
                    self._writes_unmerged += 1
                # Spooled batches are deleted once the checkpoint at the end of the block has
                # written them to the file (a crash before that applies them again, idempotently).
                self._remove_spooled(drained)
                if self._writes_unmerged >= MERGE_AFTER_WRITES:
                    self._merge_written()  # see MERGE_AFTER_WRITES
                if self._known is not None:
                    self._known.compact()
                return result
            except StoreLocked:
                if not spool_on_lock:
                    raise
                self.spool(batch)
                log.warning("database locked; spooled %d posts to %s", batch.post_count, self.spool_dir)
                return ApplyResult(spooled=True, posts_spooled=batch.post_count)
            finally:
                self._release(prepared)

    def _merge_written(self) -> None:
        """Merge row groups after a write (MERGE_AFTER_WRITES), capped at MERGE_MEMORY_LIMIT, in a
        connection of its own: a checkpoint that runs out of memory makes DuckDB invalidate the
        attached file, and what was committed but not checkpointed would be lost. The batch is in the
        file by now, so such a merge only runs again uncapped. A merge that fails uncapped too, or
        finds the file busy, is left to the next write (or maintenance): the batch is stored."""
        for cap in (MERGE_MEMORY_LIMIT, None):
            try:
                with self.write_connection(timeout=1.0) as con:
                    # A checkpoint merges row groups only if something changed since the last one.
                    con.execute("INSERT INTO checkpoints VALUES (?, 'writes', 0, true)", [utcnow_naive()])
                    self._limited(con, cap, lambda: self._merge_row_groups(con))
                return
            except StoreLocked:
                log.info("row groups not merged after this write: the file is busy")
                return
            except (StoreError, duckdb.Error) as exc:  # out of memory, then the invalidated file's errors
                if cap is None:
                    log.warning("row groups not merged after this write: %s", exc)
                    return
                log.info("merging row groups needed more than %s of DuckDB memory, done again uncapped: %s",
                         cap, exc)

    @staticmethod
    def _limited(con: duckdb.DuckDBPyConnection, cap: str | None, step: Callable[[], T]) -> T:
        """A step with the instance's DuckDB memory capped (None: uncapped), the cap lifted after."""
        if cap is None:
            return step()
        con.execute(f"SET memory_limit = '{cap}'")
        try:
            return step()
        finally:
            Store._uncap(con)

    @staticmethod
    def _capped(con: duckdb.DuckDBPyConnection, step: Callable[[], T]) -> T:
        """A step of a batch write (_prepare, _apply) on WRITE_THREADS threads, with the instance's
        memory capped at WRITE_MEMORY_LIMIT (``_cap_or_again``)."""
        con.execute(f"SET threads = {WRITE_THREADS}")
        try:
            return Store._cap_or_again(con, WRITE_MEMORY_LIMIT, step, "a write")
        finally:
            con.execute("RESET threads")

    @staticmethod
    def _cap_or_again(con: duckdb.DuckDBPyConnection, cap: str, step: Callable[[], T], what: str) -> T:
        """``step`` with the instance's memory capped at ``cap``; a step that needs more runs again
        uncapped: a failed step leaves nothing behind (_prepare releases what it made, _apply and
        ``_in_transaction`` roll back). Setting the cap fails the same way when what the instance
        holds cannot be spilled below it."""
        try:
            return Store._limited(con, cap, step)
        except duckdb.OutOfMemoryException as exc:
            log.info("%s needed more than %s of DuckDB memory, done again uncapped: %s", what, cap, exc)
            return step()

    @staticmethod
    def _in_transaction(con: duckdb.DuckDBPyConnection, step: Callable[[], T]) -> Callable[[], T]:
        """``step`` run in one transaction, rolled back if it fails (so a capped run can be redone)."""
        def run() -> T:
            con.execute("BEGIN")
            try:
                result = step()
                con.execute("COMMIT")
                return result
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run

    @staticmethod
    def _uncap(con: duckdb.DuckDBPyConnection) -> None:
        """Lift the cap. A statement that failed may have left its transaction aborted (_apply's
        first one): it refuses every other statement until it is rolled back."""
        try:
            con.execute("RESET memory_limit")
        except duckdb.TransactionException:
            con.execute("ROLLBACK")
            con.execute("RESET memory_limit")

    def refresh_summary_candidates(self) -> bool:
        """Rebuild the summary's notable candidates from the stored facts if deletions left them
        short (store/rollups.py refresh_notable): after a rescore. Returns whether it did."""
        with self.write_connection() as con:  # capped: after a rescore of 1M posts it took 0.8 GB, 0.3 GB capped
            return self._cap_or_again(con, MAINTENANCE_MEMORY_LIMIT,
                                      self._in_transaction(con, lambda: rollups.refresh_notable(con)),
                                      "rebuilding the summary's candidates")

    def sync_targets(self, targets: pa.Table) -> bool:
        """Store the configured targets (``rows.targets_table``) where the stored ones differ, so a
        database fed only by collectors has their names and own accounts, and an edited config
        shows at the next run. Returns whether it wrote."""
        wanted = {(r["target_id"], r["name"], r["kind"], tuple(r["accounts"] or ())) for r in targets.to_pylist()}
        try:
            with self.read(timeout=1.0) as con:
                stored = {(t, n, k, tuple(a or ())) for t, n, k, a in
                          con.execute("SELECT target_id, name, kind, accounts FROM targets").fetchall()}
        except (StoreError, duckdb.Error):  # no database yet, busy, or not migrated yet: write them
            stored = set()
        if wanted <= stored:
            return False
        batch = WriteBatch()
        batch.add("targets", targets)
        self.write(batch)
        return True

    def _prepare(self, engine: duckdb.DuckDBPyConnection, batch: WriteBatch) -> _Prepared:
        """Make the batch ready in the writer's instance, without the file: its tables registered,
        its posts copied with their key hash (temp table ``posts``), the hashes of its post and
        deletion keys."""
        self._seq += 1
        p = _Prepared(engine, f"b{self._seq}")
        try:
            for table, data in batch.tables.items():
                p.views[table] = name = f"{p.tag}_in_{table}"
                p.columns[table] = data.column_names
                engine.register(name, data)
            if "posts" in p.views:
                engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp('posts')} AS "
                               f"SELECT *, {KEY_HASH} AS key_hash FROM {p.views['posts']}")
                keys = batch.tables["posts"].column("post_key").to_pylist()
                p.post_keys = set(keys)
                # The common case needs no joins: no post of the batch stored yet, each key once, and
                # analysis rows only for the batch's posts (checked here, outside the lock).
                p.simple = len(p.post_keys) == len(keys) and all(
                    set(batch.tables[t].column("post_key").to_pylist()) <= p.post_keys
                    for t in ANALYSIS_TABLES if t in batch.tables)
            if "posts" in p.views and "mentions" in p.views:
                self._prepare_rollups(engine, p)
            if "deletions" in p.views:
                p.deleted_keys = set(batch.tables["deletions"].column("post_key").to_pylist())
            p.hashes = {key: key_hash(key) for key in p.post_keys | p.deleted_keys}
        except BaseException:
            self._release(p)
            raise
        return p

    @staticmethod
    def _prepare_rollups(engine: duckdb.DuckDBPyConnection, p: _Prepared) -> None:
        """The words and facts of the batch's mentions for store/rollups.py, made before the file is
        attached (the regular expressions and joins do not run with the lock held)."""
        if p.simple and "post_words" in p.views:  # found by the import's workers: joins only, read as needed
            p.words = rollups.batch_words_sql(p.views["post_words"], p.views["mentions"], p.temp("posts"))
        else:  # regular expressions: run once
            words = rollups.mention_words_sql(f"SELECT m.post_key, m.target_id, p.created_at, p.text "
                                              f"FROM {p.views['mentions']} m JOIN {p.temp('posts')} p USING (post_key)")
            engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp('words')} AS {words}")
            p.words = f"SELECT * FROM {p.temp('words')}"
        scores = p.views.get("target_scores", rollups.NO_SCORES)
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp('facts')} AS "
                       f"{rollups.facts_sql(p.views['mentions'], scores, p.temp('posts'))}")
        # The word counts and the summary's candidates, for the common batch whose posts are all new
        # (_rollup_statements): ~30 ms of a 1,000-post batch's work no longer done with the lock held.
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp('word_counts')} AS {rollups.counts_sql(p.words)}")
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp('word_totals')} AS "
                       f"{rollups.totals_sql(p.temp('word_counts'))}")
        for table, sql in rollups.candidates_sql(p.temp("facts")).items():
            engine.execute(f"CREATE OR REPLACE TEMP TABLE {p.temp(table)} AS {sql}")

    def _release(self, prepared: _Prepared) -> None:
        if prepared.engine is not self._engine_con:
            return  # the instance was restarted: its views and temp tables went with it
        for name in prepared.views.values():
            prepared.engine.unregister(name)
        if prepared.temps:
            prepared.engine.execute("; ".join(f"DROP TABLE IF EXISTS temp.{t}" for t in prepared.temps))

    def _keys_table(self, con: duckdb.DuckDBPyConnection, p: _Prepared, name: str, keys: set[str]) -> str:
        """A few keys as a temp table (post_key, key_hash) for the statements that follow."""
        import pyarrow as pa

        table = p.temp(name)
        con.register(f"{table}_in", pa.table({"post_key": pa.array(sorted(keys), pa.string())}))
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT post_key, {KEY_HASH} AS key_hash "
                        f"FROM {table}_in")
        finally:
            con.unregister(f"{table}_in")
        return table

    def _apply(self, con: duckdb.DuckDBPyConnection, batch: WriteBatch, p: _Prepared) -> ApplyResult:
        result = ApplyResult()
        batch_id = sql_string(batch.batch_id)
        if con.execute(f"BEGIN; SELECT 1 FROM applied_batches WHERE batch_id = {batch_id}").fetchall():
            con.execute("ROLLBACK")
            result.already_applied = True
            return result
        try:
            # The rollups stay in step with the rows only if they were before (rows written by hand
            # are not counted: readers use the rows until a rebuild).
            rollups_in_step = rollups.in_step(con)
            known = self._known_keys(con) if p.hashes else None
            stored = self._stored_keys(con, p, known)
            deleted = self._apply_deletions(con, p, stored)
            stored -= p.deleted_keys
            # Only posts whose key is not stored yet are inserted (posts are kept exactly once), with
            # their analysis.
            stored &= p.post_keys
            new_keys = self._insert_posts(con, batch, p, stored, result)
            result.counted = self._counts_by_origin(batch, stored)
            statements = self._table_statements(p, new_keys, result)
            statements += self._rollup_statements(con, p, new_keys)
            if rollups_in_step:
                statements.append(rollups.SET_IN_STEP_SQL)
            applied_at = sql_string(utcnow_naive().isoformat())
            statements.append(f"INSERT INTO applied_batches VALUES ({batch_id}, {applied_at})")
            con.execute("; ".join(statements))  # one call: each costs a round trip through the client
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if known is not None:
            known.add(p.hashes[key] for key in p.post_keys - stored)
            known.posts += result.posts_new - deleted
        return result

    @staticmethod
    def _stored_keys(con: duckdb.DuckDBPyConnection, p: _Prepared, known: KnownKeys | None) -> set[str]:
        """The batch's post keys that are stored already."""
        hashes = set(p.hashes.values())
        hits = known.hits(hashes) if known is not None else list(hashes)
        if not hits:
            return set()
        # Hashes the writer has seen stored (or all of the batch's, without a copy in step with the
        # file): confirm them on the key (two keys can share a hash; a deleted post's hash stays in
        # the copy). One scan of posts.key_hash, in which DuckDB pushes a Bloom filter of the hashes,
        # so post_key is read only for the rows that pass (and for rows without a hash: the
        # column's statistics skip row groups that have none).
        stored = {key for (key,) in con.execute(STORED_KEYS_SQL, [hits]).fetchall()}
        return stored & p.hashes.keys()

    def _apply_deletions(self, con: duckdb.DuckDBPyConnection, p: _Prepared, stored: set[str]) -> int:
        """Deletions at the source, and the old analysis of rescored posts; returns posts deleted."""
        deleted = 0
        gone = stored & p.deleted_keys
        if gone:
            # Honour deletions at the source; an edit is a deletion plus the new version in this
            # batch. A stream reports deletions of posts we never stored: only the deletion of a
            # stored post costs scans of the tables.
            table = p.gone = self._keys_table(con, p, "gone", gone)
            rollups.add(con, self._stored_mentions_sql(table), sign=-1)  # while the posts are there
            rollups.remove_facts(con, table)
            deleted = _count(con, f"DELETE FROM posts WHERE key_hash IN (SELECT key_hash FROM {table}) "
                                  f"AND post_key IN (SELECT post_key FROM {table})")
            for analysis in ANALYSIS_TABLES:
                con.execute(f"DELETE FROM {analysis} WHERE post_key IN (SELECT post_key FROM {table})")
        if "rescored" in p.views:
            rescored = self._keys_table(con, p, "rescored", set(self._column(con, p.views["rescored"])))
            rollups.add(con, self._stored_mentions_sql(rescored), sign=-1)
            rollups.remove_facts(con, rescored)
            for table in ANALYSIS_TABLES:
                con.execute(f"DELETE FROM {table} WHERE post_key IN (SELECT post_key FROM {p.views['rescored']})")
        return deleted

    @staticmethod
    def _column(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
        return [key for (key,) in con.execute(f"SELECT post_key FROM {view}").fetchall()]

    @staticmethod
    def _stored_mentions_sql(keys_table: str) -> str:
        """The stored mentions of a few posts (a keys table of post_key, key_hash) with their posts'
        time and text, for the rollups. Posts are found by key hash (a scan of one integer column),
        or by key where a post has no hash."""
        mentions, posts = Store._rows_of("mentions", keys_table), Store._posts_of(keys_table)
        return f"SELECT m.post_key, m.target_id, p.created_at, p.text FROM {mentions} m JOIN {posts} p USING (post_key)"

    @staticmethod
    def _rows_of(table: str, keys_table: str) -> str:
        return f"(SELECT * FROM {table} WHERE post_key IN (SELECT post_key FROM {keys_table}))"

    @staticmethod
    def _posts_of(keys_table: str) -> str:
        """The stored posts of a keys table, found by key hash (a scan of one integer column), or by
        key where a post has no hash."""
        keys = f"post_key IN (SELECT post_key FROM {keys_table})"
        return (f"(SELECT * FROM posts WHERE key_hash IN (SELECT key_hash FROM {keys_table}) AND {keys} "
                f"UNION ALL SELECT * FROM posts WHERE key_hash IS NULL AND {keys})")

    def _insert_posts(self, con: duckdb.DuckDBPyConnection, batch: WriteBatch, p: _Prepared, stored: set[str],
                      result: ApplyResult) -> str:
        """Insert the batch's new posts; returns the temp table of new keys ("" when all are new)."""
        if "posts" not in p.views:
            return ""
        new_keys = ""
        if stored:
            seen = self._keys_table(con, p, "stored", stored)
            new_keys = p.temp("new")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {new_keys} AS SELECT post_key FROM {p.temp('posts')} "
                        f"ANTI JOIN {seen} USING (post_key)")
            posts = f"{p.temp('posts')} SEMI JOIN {new_keys} USING (post_key)"
        elif p.simple:
            posts = p.temp("posts")  # all new: no joins
        else:
            new_keys, posts = p.temp("posts"), p.temp("posts")
        result.posts_new = _count(con, f"INSERT INTO posts BY NAME SELECT * FROM {posts}")
        result.posts_seen = batch.post_count - result.posts_new
        return new_keys

    def _rollup_statements(self, con: duckdb.DuckDBPyConnection, p: _Prepared, new_keys: str) -> list[str]:
        """Count the words, facts, aliases and summary candidates of the mentions this batch inserts
        into the rollups (store/rollups.py): those made in _prepare for the batch's new posts; for
        mentions of posts stored before (a rescore), from the stored rows, after the mentions are
        inserted."""
        if "mentions" not in p.views:
            return []
        semi = f" SEMI JOIN {new_keys} USING (post_key)" if new_keys else ""  # the posts inserted
        if "posts" in p.views:
            facts = f"SELECT * FROM {p.temp('facts')}{semi}"
            if new_keys:  # some posts were stored already: the counts and candidates of those inserted
                counted = rollups.append_sql(f"SELECT * FROM ({p.words}){semi}")
                candidates = rollups.candidates_sql(f"({facts})")
            else:  # made in _prepare
                counted = rollups.append_counts_sql(p.temp("word_counts"), p.temp("word_totals"))
                candidates = {table: f"SELECT * FROM {p.temp(table)}" for table in rollups.CANDIDATE_TABLES}
        else:
            keys = self._keys_table(con, p, "analysed", set(self._column(con, p.views["mentions"])))
            counted = rollups.append_sql(rollups.mention_words_sql(self._stored_mentions_sql(keys)))
            facts = rollups.facts_sql(self._rows_of("mentions", keys), self._rows_of("target_scores", keys),
                                      self._posts_of(keys))
            candidates = rollups.candidates_sql(f"(SELECT * FROM mention_facts SEMI JOIN {keys} USING (post_key))")
        inserted = f"(SELECT * FROM {p.views['mentions']}{semi})"  # as _table_statements inserts them
        return [counted, f"INSERT INTO mention_facts {facts}", rollups.aliases_statement(inserted),
                *(f"INSERT INTO {table} {sql}" for table, sql in candidates.items())]

    @staticmethod
    def _table_statements(p: _Prepared, new_keys: str, result: ApplyResult) -> list[str]:
        """The inserts of every table but posts, by each table's mode (TABLE_MODES)."""
        statements: list[str] = []
        for table in TABLE_ORDER:
            name = p.views.get(table)
            if name is None or table == "posts" or table in NOT_TABLES:
                continue
            mode = TABLE_MODES[table]
            if table in COUNTED_ROWS:
                name = Store._counted_rows(p, table, name, result, statements)
            if table == "deletions":
                # Only the deletions of stored posts: the Bluesky firehose reports every deletion on
                # the network (~100,000s a day, nearly all of posts never stored), and each was kept.
                if p.gone:
                    statements.append(f"INSERT INTO deletions BY NAME SELECT * FROM {name} "
                                      f"SEMI JOIN {p.gone} USING (post_key)")
            elif table in ANALYSIS_TABLES:
                # Analysis of a post is stored with the post, once (only for posts new in this
                # batch); rescore deletes the old rows above before inserting the new ones.
                semi = f" SEMI JOIN {new_keys} USING (post_key)" if new_keys else ""
                statements.append(f"INSERT INTO {table} BY NAME SELECT * FROM {name}{semi}")
            elif mode == "replace" and table in UNINDEXED_KEYS:
                key = UNINDEXED_KEYS[table]
                statements.append(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {name})")
                statements.append(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
            elif mode == "replace":
                statements.append(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM {name}")
            elif mode == "ignore":
                statements.append(f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {name}")
            else:
                statements.append(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
        return statements

    @staticmethod
    def _counts_by_origin(batch: WriteBatch, stored: set[str]) -> dict[str, dict[int, tuple[int, int]]]:
        """Posts new and seen per run or import, for a batch that holds several (COUNTED_ROWS): its
        posts carry the key of their run or import. A batch with one such row needs no split."""
        posts = batch.tables.get("posts")
        counts: dict[str, dict[int, tuple[int, int]]] = {}
        for table, column in COUNTED_ROWS.items():
            rows = batch.tables.get(table)
            if posts is None or rows is None or rows.num_rows < 2 or column not in posts.column_names:
                continue
            per: dict[int, tuple[int, int]] = {}
            for key, origin in zip(posts.column("post_key").to_pylist(), posts.column(column).to_pylist(),
                                   strict=True):
                new, seen = per.get(origin, (0, 0))
                per[origin] = (new, seen + 1) if key in stored else (new + 1, seen)
            counts[table] = per
        return counts

    @staticmethod
    def _counted_rows(p: _Prepared, table: str, name: str, result: ApplyResult, statements: list[str]) -> str:
        """A run or import row counts the posts of its batch (COUNTED_ROWS): its posts_new and
        posts_seen are the stored row's plus this batch's, not what the writer guessed (it cannot
        tell while the batch waits in the spool). Adds the statement making those rows (a temp
        table, read before the rows are replaced) and returns its name."""
        key = COUNTED_ROWS[table]
        counted = p.temp(f"counted_{table}")
        # The batch's own columns (a row may leave some out) but its counts.
        kept = "".join(f'b."{c}", ' for c in p.columns[table] if c not in ("posts_new", "posts_seen"))
        added_new, added_seen, per_row = str(result.posts_new), str(result.posts_seen), ""
        if table in result.counted:  # several rows: each its own posts' counts (integers only)
            values = ", ".join(f"({int(k)}, {int(n)}, {int(m)})" for k, (n, m) in result.counted[table].items()
                               if k is not None)
            added_new = added_seen = "0"  # no post of the batch is theirs
            if values:
                added_new, added_seen = "coalesce(c.batch_new, 0)", "coalesce(c.batch_seen, 0)"
                per_row = f" LEFT JOIN (VALUES {values}) c({key}, batch_new, batch_seen) USING ({key})"
        statements.append(
            f"CREATE OR REPLACE TEMP TABLE {counted} AS SELECT {kept}"
            f"coalesce(s.posts_new, 0) + {added_new} AS posts_new, "
            f"coalesce(s.posts_seen, 0) + {added_seen} AS posts_seen "
            f"FROM {name} b LEFT JOIN (SELECT {key}, posts_new, posts_seen FROM {table} "
            f"WHERE {key} IN (SELECT {key} FROM {name})) s USING ({key}){per_row}")
        return counted

    def _known_keys(self, con: duckdb.DuckDBPyConnection) -> KnownKeys | None:
        """The writer's copy of the stored key hashes, or None when it is not in step with the file
        (its post count is not what this writer left) and this batch scans ``posts.key_hash``
        instead. Loading the copy costs ~50-90 ms a million posts, inside the lock: it is loaded at
        the first write, and again at most every ``KEY_RELOAD_WRITES`` writes while another
        process writes too (a `monitor import` beside the daemon); a scan costs ~10 ms."""
        self._writes += 1
        posts = _count(con, "SELECT count(*) FROM posts")
        if self._known is not None and self._known.posts == posts:
            return self._known
        self._known = None
        if self._loaded_at is None or self._writes - self._loaded_at >= KEY_RELOAD_WRITES:
            from monitor.store.known_keys import KnownKeys

            self._known, self._loaded_at = KnownKeys.load(con), self._writes
        return self._known

    # --- spool ---------------------------------------------------------------------------

    def spool(self, batch: WriteBatch) -> Path:
        """Write a batch to data/spool/<time>_<id>/ (via a temporary name, then rename)."""
        import pyarrow.parquet as pq

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
        import pyarrow.parquet as pq

        _stamp, batch_id = path.name.split("_", 1)
        batch = WriteBatch(batch_id=batch_id)
        for file in sorted(path.glob("*.parquet")):
            batch.tables[file.stem.split("_", 1)[1]] = pq.read_table(file)
        return batch

    def _drain_spool(self, con: duckdb.DuckDBPyConnection) -> list[Path]:
        """Apply the spooled batches in order; returns their directories, to be removed once the
        connection's checkpoint has written them to the file."""
        drained = []
        for path in self.spooled_batches():
            batch = self.load_spooled(path)
            prepared = self._prepare(self._engine(), batch)
            try:
                self._apply(con, batch, prepared)
            finally:
                self._release(prepared)
            drained.append(path)
        return drained

    def _remove_spooled(self, drained: list[Path]) -> None:
        for path in drained:
            shutil.rmtree(path)
        if drained:
            log.info("drained %d spooled batches", len(drained))

    def drain_spool(self) -> int:
        """Apply spooled batches now (in order, idempotently). Returns how many were applied."""
        if not self.spooled_batches():
            return 0
        with self.write_connection() as con:
            drained = self._drain_spool(con)
        self._remove_spooled(drained)
        return len(drained)

"""The Parquet lake: posts and their analysis rows as hive-partitioned Parquet parts that DuckDB,
Spark and Trino read, written by distributed import tasks (``ingest.distributed``).

Layout (``TABLES``), one directory per table, partitioned by the post's platform and month::

    <lake>/posts/platform=x/month=2026-09/part-<task>-<chunk>.parquet
    <lake>/mentions/platform=x/month=2026-09/part-<task>-<chunk>.parquet  (post_sentiment, target_scores)
    <lake>/_tasks/<task>.json                                          (a task's manifest, written last)
    <lake>/_rollup/daily_target.parquet                                (``refresh_rollup``)

Each part holds one task's rows of one partition, with the columns of the local tables (the same
provenance: source, file, line, tool, scorer and rules versions) and ``lake_part``, the task that
wrote it. The partition columns live in the directory names (hive style), not in the files. A task
writes each part under a temporary name and renames it, so a retried task replaces its own parts,
never adds a second copy; its manifest, written after its parts, says it is done.

Dedup is deterministic: when several parts hold a post (platform, post id), the row read first by
a local import of the same files in sorted order wins (smallest source_file, source_line, then
lake_part), and the analysis rows come from that post's part. Local rows win over lake rows in the
``all_*`` union views.

Paths: a local path, or an fsspec URL (``s3://``, ``gs://``) for writing parts; only local paths
are tested, and DuckDB reads object-store URLs only with its httpfs extension loaded.
This module knows rows and files, not platforms or analysers.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from monitor.store.db import Store
from monitor.store.lake_read import DEDUP_ORDER, LAKE_AUTHORS, LAKE_FACTS, LAKE_NOTABLE, NOTABLE_PER_DAY, PART_COLUMN
from monitor.store.rollups import AUTHOR_KEY_SQL, NOTABLE, facts_sql, notable_part_sql
from monitor.store.rows import MENTIONS_SCHEMA, POSTS_SCHEMA, SENTIMENT_SCHEMA, TARGET_SCORES_SCHEMA
from monitor.store.schema import sql_string

PARTITION_COLUMNS = ("platform", "month")
TABLES: dict[str, pa.Schema] = {
    "posts": POSTS_SCHEMA, "mentions": MENTIONS_SCHEMA, "post_sentiment": SENTIMENT_SCHEMA,
    "target_scores": TARGET_SCORES_SCHEMA,
}
ANALYSIS_KEYS = {"mentions": ("post_key", "target_id"), "post_sentiment": ("post_key",),
                 "target_scores": ("post_key", "target_id")}
TASKS_DIR = "_tasks"
ROLLUP_FILE = "_rollup/daily_target.parquet"
FACTS_FILE = "_rollup/mention_facts.parquet"
NOTABLE_FILE = "_rollup/notable.parquet"
AUTHORS_FILE = "_rollup/authors.parquet"
COMPACT_JOURNAL_DIR = "_compacting"
# Parquet row groups of this many rows: big enough for fast scans, small enough for a worker's memory.
ROW_GROUP_ROWS = 128 * 1024
_DUCK_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.float64(): "DOUBLE",
               pa.bool_(): "BOOLEAN", pa.timestamp("us"): "TIMESTAMP"}


class LakeError(Exception):
    """A lake that cannot be used (a missing path, an unreadable manifest)."""


@dataclass(frozen=True)
class Lake:
    """A lake root: a local directory or an fsspec URL."""

    url: str

    @property
    def fs_path(self) -> tuple[Any, str]:
        import fsspec.core

        fs, path = fsspec.core.url_to_fs(self.url)
        return fs, path.rstrip("/")

    @property
    def is_local(self) -> bool:
        return "://" not in self.url or self.url.startswith("file://")

    @property
    def root(self) -> str:
        """The root as DuckDB reads it (absolute for local paths, so a stored view works from any cwd)."""
        if self.is_local:
            return os.path.abspath(self.url.removeprefix("file://"))
        return self.url.rstrip("/")

    def glob(self, table: str) -> str:
        return f"{self.root}/{table}/*/*/part-*.parquet"


# --- writing ------------------------------------------------------------------------------------


def month_of(created_at: pa.Array) -> pa.Array:
    return pc.strftime(created_at, format="%Y-%m")


def split_by_partition(tables: dict[str, pa.Table]) -> dict[tuple[str, str], dict[str, pa.Table]]:
    """One task's rows (``posts`` and its analysis tables) by (platform, month) of their post.
    The partition columns are dropped: they live in the directory names."""
    posts = tables.get("posts")
    if posts is None or posts.num_rows == 0:
        return {}
    months = month_of(posts["created_at"])
    key_partition = dict(zip(posts["post_key"].to_pylist(),
                             zip(posts["platform"].to_pylist(), months.to_pylist(), strict=True), strict=True))
    out: dict[tuple[str, str], dict[str, pa.Table]] = {}
    for name, table in tables.items():
        if table.num_rows == 0:
            continue
        parts = [key_partition[k] for k in table["post_key"].to_pylist()]
        for partition in sorted(set(parts)):
            mask = pa.array([p == partition for p in parts])
            rows = table.filter(mask)
            if name == "posts":
                rows = rows.drop_columns(["platform"])
            out.setdefault(partition, {})[name] = rows
    return out


def with_part_column(table: pa.Table, part: str) -> pa.Table:
    return table.append_column(PART_COLUMN, pa.array([part] * table.num_rows, pa.string()))


def partition_dir(table: str, platform: str, month: str) -> str:
    # Platform names come from plugins too: quoted, so one cannot climb out of the lake.
    return f"{table}/platform={quote(platform, safe='')}/month={quote(month, safe='')}"


def write_parquet_atomic(lake: Lake, relative: str, table: pa.Table) -> None:
    """Write a file under a temporary (hidden, unmatched by the views' globs) name, then rename it:
    readers never see half a part, and a retry replaces the file instead of adding one."""
    fs, root = lake.fs_path
    final = f"{root}/{relative}"
    directory, name = final.rsplit("/", 1)
    fs.makedirs(directory, exist_ok=True)
    temp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open(temp, "wb") as fh:
        pq.write_table(table, fh, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    fs.mv(temp, final)


def write_parts(lake: Lake, part: str, tables: dict[str, pa.Table], chunk: int = 0) -> list[str]:
    """Write a chunk of one task's rows as parts named after the task and the chunk (a task writes
    its rows chunk by chunk, so its memory stays bounded on a file of any size). Returns the parts'
    relative paths. The task is done once its manifest is written (``write_manifest``), after them."""
    written: list[str] = []
    for (platform, month), by_table in split_by_partition(tables).items():
        for name, rows in by_table.items():
            relative = f"{partition_dir(name, platform, month)}/part-{part}-{chunk:05d}.parquet"
            write_parquet_atomic(lake, relative, with_part_column(rows, part))
            written.append(relative)
    return written


def write_manifest(lake: Lake, part: str, manifest: dict[str, Any]) -> None:
    fs, root = lake.fs_path
    fs.makedirs(f"{root}/{TASKS_DIR}", exist_ok=True)
    temp = f"{root}/{TASKS_DIR}/.{part}.{uuid.uuid4().hex}.tmp"
    with fs.open(temp, "w") as fh:
        json.dump(manifest, fh, sort_keys=True, default=str)
    fs.mv(temp, f"{root}/{TASKS_DIR}/{part}.json")


def read_manifest(lake: Lake, part: str) -> dict[str, Any] | None:
    """A finished task's manifest, or None when the task has not finished."""
    fs, root = lake.fs_path
    path = f"{root}/{TASKS_DIR}/{part}.json"
    if not fs.exists(path):
        return None
    with fs.open(path, "r") as fh:
        return json.load(fh)


def manifests(lake: Lake) -> list[dict[str, Any]]:
    fs, root = lake.fs_path
    if not fs.exists(f"{root}/{TASKS_DIR}"):
        return []
    found = []
    for path in sorted(fs.glob(f"{root}/{TASKS_DIR}/*.json")):
        with fs.open(path, "r") as fh:
            found.append(json.load(fh))
    return found


# --- reading: views -----------------------------------------------------------------------------


def _has_parts(lake: Lake, table: str) -> bool:
    fs, root = lake.fs_path
    return bool(fs.glob(f"{root}/{table}/*/*/part-*.parquet"))


def _empty_select(table: str) -> str:
    """A typed, empty relation with a table's lake columns (the views of a table with no part yet)."""
    schema = TABLES[table]
    names = [n for n in schema.names if n != "platform"]
    cols = [f"CAST(NULL AS {_DUCK_TYPES[schema.field(n).type]}) AS {n}" for n in names]
    cols += [f"CAST(NULL AS VARCHAR) AS {c}" for c in (PART_COLUMN, *PARTITION_COLUMNS)]
    return f"SELECT {', '.join(cols)} WHERE false"


def parts_select(lake: Lake, table: str) -> str:
    """Every row of every part of a table (duplicates across parts included)."""
    if not _has_parts(lake, table):
        return _empty_select(table)
    hive = "hive_partitioning = true, hive_types = {'platform': VARCHAR, 'month': VARCHAR}"
    return f"SELECT * FROM read_parquet({sql_string(lake.glob(table))}, {hive})"


def view_statements(lake: Lake, temporary: bool = True, local: bool = True) -> list[str]:
    """CREATE VIEW statements: ``lake_<table>_parts`` (raw parts), ``lake_<table>`` (deduped) for
    each table, ``lake_daily_target`` (the rollup, when refreshed) and, with ``local``, the
    ``all_<table>`` unions of the database's own rows and the lake's (local rows win)."""
    kind = "TEMP VIEW" if temporary else "VIEW"
    create = f"CREATE OR REPLACE {kind}"
    stmts = [f"{create} lake_{t}_parts AS {parts_select(lake, t)}" for t in TABLES]
    stmts.append(
        f"{create} lake_posts AS SELECT {', '.join(POSTS_SCHEMA.names)}, month, {PART_COLUMN} FROM lake_posts_parts "
        f"QUALIFY row_number() OVER (PARTITION BY platform, post_id ORDER BY {DEDUP_ORDER}) = 1")
    for table in ANALYSIS_KEYS:
        stmts.append(f"{create} lake_{table} AS SELECT a.* FROM lake_{table}_parts a SEMI JOIN lake_posts p "
                     f"ON a.post_key = p.post_key AND a.{PART_COLUMN} = p.{PART_COLUMN}")
    stmts.append(f"{create} lake_daily_target AS {rollup_select(lake)}")
    stmts.append(f"{create} lake_mention_facts AS {facts_select(lake)}")
    stmts.append(f"{create} {LAKE_NOTABLE} AS {notable_select(lake)}")
    stmts.append(f"{create} {LAKE_AUTHORS} AS {derived_select(lake, AUTHORS_FILE, authors_sql('lake_mention_facts'))}")
    if local:
        stmts += union_statements(create)
        stmts.append(f"{create} {LAKE_FACTS} AS SELECT * FROM lake_mention_facts l WHERE NOT EXISTS "
                     "(SELECT 1 FROM posts d WHERE d.post_key = l.post_key)")
    return stmts


def union_statements(create: str) -> list[str]:
    """``lake_new_<table>``: the lake's rows whose post the database lacks (with the local tables'
    columns: what a summary adds to the local rows, e.g. into its rollups); ``all_<table>``: the
    database's rows, then those."""
    stmts = []
    for table, schema in TABLES.items():
        cols = ", ".join(schema.names)
        stmts.append(f"{create} lake_new_{table} AS SELECT {cols} FROM lake_{table} l WHERE NOT EXISTS "
                     f"(SELECT 1 FROM posts d WHERE d.post_key = l.post_key)")
        stmts.append(f"{create} all_{table} AS SELECT {cols}, 'local' AS origin FROM {table} "
                     f"UNION ALL SELECT {cols}, 'lake' AS origin FROM lake_new_{table}")
    return stmts


def attach(con: duckdb.DuckDBPyConnection, lake: Lake, temporary: bool = True, local: bool = True) -> None:
    """Create the lake's views on a connection: TEMP views (work on a read-only connection, gone
    when it closes) or views stored in the database (``temporary=False``, on a write connection:
    the DuckDB CLI then sees them too; the lake's absolute path is stored in them)."""
    if lake.is_local and not os.path.isdir(lake.root):
        raise LakeError(f"no lake at {lake.root}")
    for statement in view_statements(lake, temporary, local):
        con.execute(statement)


def attach_to_store(store: Store, lake: Lake) -> None:
    """Store the lake's views in the database (for the DuckDB CLI and other readers of the file).
    A table with no part yet is an empty view until the next attach."""
    with store.write_connection() as con:
        attach(con, lake, temporary=False)


def detach_from_store(store: Store) -> None:
    with store.write_connection() as con:
        for statement in detach_statements():
            con.execute(statement)


def detach_statements(temporary: bool = False) -> list[str]:
    kind = "TEMP VIEW" if temporary else "VIEW"
    names = [f"all_{t}" for t in TABLES] + [f"lake_new_{t}" for t in TABLES]
    names += ["lake_new_mention_facts", "lake_mention_facts", "lake_daily_target", LAKE_NOTABLE, LAKE_AUTHORS]
    names += [f"lake_{t}" for t in ANALYSIS_KEYS]
    names += ["lake_posts"] + [f"lake_{t}_parts" for t in TABLES]
    return [f"DROP {kind} IF EXISTS {n}" for n in names]


# --- the daily rollup ---------------------------------------------------------------------------

ROLLUP_SQL = """
SELECT CAST(p.created_at AS DATE) AS day, p.platform, s.target_id, s.sentiment_scorer, s.stance_scorer,
       count(*) AS scores, sum(s.sentiment) AS sentiment_sum,
       count(*) FILTER (WHERE s.sentiment_label = 'positive') AS positive,
       count(*) FILTER (WHERE s.sentiment_label = 'negative') AS negative,
       count(*) FILTER (WHERE s.stance = 'favor') AS favor,
       count(*) FILTER (WHERE s.stance = 'against') AS against
FROM lake_target_scores s JOIN lake_posts p USING (post_key, lake_part)
GROUP BY ALL
"""


def rollup_select(lake: Lake) -> str:
    fs, root = lake.fs_path
    if not fs.exists(f"{root}/{ROLLUP_FILE}"):
        return ("SELECT CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS platform, "
                "CAST(NULL AS VARCHAR) AS target_id, CAST(NULL AS VARCHAR) AS sentiment_scorer, "
                "CAST(NULL AS VARCHAR) AS stance_scorer, 0::BIGINT AS scores, 0::DOUBLE AS sentiment_sum, "
                "0::BIGINT AS positive, 0::BIGINT AS negative, 0::BIGINT AS favor, 0::BIGINT AS against WHERE false")
    return f"SELECT * FROM read_parquet({sql_string(lake.root + '/' + ROLLUP_FILE)})"


def facts_select(lake: Lake) -> str:
    fs, root = lake.fs_path
    if not fs.exists(f"{root}/{FACTS_FILE}"):
        return (f"SELECT * FROM ({facts_sql('lake_mentions', 'lake_target_scores', 'lake_posts')}) WHERE false")
    select = f"SELECT * FROM read_parquet({sql_string(lake.root + '/' + FACTS_FILE)})"
    with fs.open(f"{root}/{FACTS_FILE}", "rb") as file:
        if "author_key" not in pq.read_schema(file).names:  # refreshed before the facts had it
            select = select.replace("SELECT *", "SELECT *, " + AUTHOR_KEY_SQL.format(
                platform="platform", author="author_handle") + " AS author_key", 1)
    return select


def notable_sql(facts: str) -> str:
    """The candidates of the summary's notable lists (store/rollups.py NOTABLE) from a relation of
    mention facts: per list, UTC day and scope ('all', or one target), the rows of the first
    NOTABLE_PER_DAY groups in the list's order. The first rows of a window over whole days are among
    these (each is among the first of its own day), so a summary reads these instead of every fact."""
    return " UNION ALL ".join(_notable_part(facts, name, per_target)
                              for name in NOTABLE for per_target in (False, True))


def _notable_part(facts: str, name: str, per_target: bool) -> str:
    """notable_sql's rows of one list and one kind of scope."""
    return notable_part_sql(facts, name, per_target, NOTABLE_PER_DAY, per_day=True)


def notable_select(lake: Lake) -> str:
    return derived_select(lake, NOTABLE_FILE, _notable_part("lake_mention_facts", "most_positive", False))


def authors_sql(facts: str) -> str:
    """Per scope ('all', or one target) and author (handle, platform) over a relation of mention
    facts: posts, and the sum and count of the scored mentions' sentiment. The summary's top
    authors of a window over the whole of a lake alone read these instead of grouping every fact."""
    return f"""
        SELECT 'all' AS scope, author_handle, platform, count(*) FILTER (WHERE post_first) AS posts,
               sum(sentiment) AS sentiment_sum, count(sentiment) AS scored
        FROM {facts} WHERE author_handle IS NOT NULL GROUP BY author_handle, platform
        UNION ALL
        SELECT target_id, author_handle, platform, count(*), sum(sentiment), count(sentiment)
        FROM {facts} WHERE author_handle IS NOT NULL GROUP BY target_id, author_handle, platform"""


def derived_select(lake: Lake, relative: str, empty_from: str) -> str:
    """A derived file of the lake as a relation; before its first refresh, the empty relation of
    ``empty_from`` (a query with the same columns)."""
    fs, root = lake.fs_path
    if not fs.exists(f"{root}/{relative}"):
        return f"SELECT * FROM ({empty_from}) WHERE false"
    return f"SELECT * FROM read_parquet({sql_string(lake.root + '/' + relative)})"


def parts_signature(lake: Lake) -> str:
    """A hash of the lake's part names: the rollup is current when it was built from these parts."""
    fs, root = lake.fs_path
    names = sorted(fs.glob(f"{root}/*/*/*/part-*.parquet"))
    return hashlib.sha256("\n".join(n.removeprefix(root) for n in names).encode()).hexdigest()[:24]


def refresh_rollup(lake: Lake) -> int:
    """Rebuild, from the deduped lake rows, the per-day rollup (day, platform, target, scorers: score
    counts and sums) and the mention facts (one row per mention with what the summary reads, the
    columns of the database's ``mention_facts``, ordered by time so a window reads few row groups).
    A summary reads these instead of deduping every part. Returns the rollup's rows."""
    signature = parts_signature(lake)
    con = duckdb.connect()
    try:
        attach(con, lake, temporary=True, local=False)
        # The dedup once (a window over every post key), for both outputs: the analysis views
        # bind ``lake_posts`` by name when queried, so they read the winners from this table too.
        con.execute(f"CREATE TEMP TABLE lake_posts_winners AS SELECT {WINNER_COLUMNS} FROM lake_posts")
        con.execute("CREATE OR REPLACE TEMP VIEW lake_posts AS SELECT * FROM lake_posts_winners")
        facts = facts_sql('lake_mentions', 'lake_target_scores', 'lake_posts')
        _write_query(con, lake, FACTS_FILE, f"{facts} ORDER BY created_at", signature)
        # The candidates from the facts just written (DuckDB reads a local file; elsewhere, the joins again).
        written = f"read_parquet({sql_string(lake.root + '/' + FACTS_FILE)})" if lake.is_local else f"({facts})"
        _write_query(con, lake, NOTABLE_FILE, f"{notable_sql(written)} ORDER BY list, scope, day", signature)
        _write_query(con, lake, AUTHORS_FILE, f"{authors_sql(written)} ORDER BY scope, posts DESC", signature)
        return _write_query(con, lake, ROLLUP_FILE, ROLLUP_SQL, signature)
    finally:
        con.close()


# The columns of the deduped posts the rollup and the facts read.
WINNER_COLUMNS = ("post_key, lake_part, platform, created_at, author_handle, likes, reposts, replies, quotes")


def _write_query(con: duckdb.DuckDBPyConnection, lake: Lake, relative: str, sql: str, signature: str) -> int:
    """A query's rows as one Parquet file (stamped with the parts' signature), under a temporary name
    then renamed. A local lake is written by DuckDB as it streams (10M rows never sit in Python)."""
    if not lake.is_local:
        table = con.sql(sql).to_arrow_table()
        write_parquet_atomic(lake, relative, table.replace_schema_metadata({b"parts_signature": signature.encode()}))
        return table.num_rows
    final = os.path.join(lake.root, relative)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    temp = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.{uuid.uuid4().hex}.tmp")
    # LZ4: every summary reads these files whole; over ten million facts, zstd's decoding made the
    # notable posts' scans 1.6x slower for a file 1.7x smaller.
    con.execute(f"COPY ({sql}) TO {sql_string(temp)} (FORMAT parquet, COMPRESSION lz4_raw, ROW_GROUP_SIZE "
                f"{ROW_GROUP_ROWS}, KV_METADATA {{parts_signature: {sql_string(signature)}}})")
    os.replace(temp, final)
    return con.execute(f"SELECT count(*) FROM read_parquet({sql_string(final)})").fetchone()[0]  # type: ignore[index]


def rollup_is_current(lake: Lake) -> bool:
    fs, root = lake.fs_path
    path = f"{root}/{ROLLUP_FILE}"
    if not fs.exists(path):
        return False
    with fs.open(path, "rb") as fh:
        meta = pq.read_schema(fh).metadata or {}
    return meta.get(b"parts_signature", b"").decode() == parts_signature(lake)


# --- compaction ---------------------------------------------------------------------------------


def partition_dirs(lake: Lake) -> Iterator[tuple[str, str]]:
    """(table, partition directory relative to the root) for every partition holding parts."""
    fs, root = lake.fs_path
    for table in TABLES:
        for path in sorted(fs.glob(f"{root}/{table}/*/*")):
            yield table, path.removeprefix(root + "/")


def compact(lake: Lake, small_bytes: int = 32 << 20) -> dict[str, int]:
    """Merge each partition's small parts into one part (rows unchanged, ``lake_part`` kept, so the
    views' dedup picks the same rows). An interrupted run is finished by the next one (journal).
    Returns counts of merged parts and written parts."""
    finish_journals(lake)
    fs, root = lake.fs_path
    # A journal first (which parts the merged one replaces), then the merged part, then deleting the
    # sources: a crash at any point leaves either the sources or the merged part plus a journal.
    merged = written = 0
    for _table, directory in partition_dirs(lake):
        sources = [p for p in sorted(fs.glob(f"{root}/{directory}/part-*.parquet")) if fs.size(p) < small_bytes]
        if len(sources) < 2:
            continue
        names = [p.rsplit("/", 1)[1] for p in sources]
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
        tables = []
        for path in sources:
            with fs.open(path, "rb") as fh:
                tables.append(pq.read_table(fh))
        rows = pa.concat_tables(tables, promote_options="default")
        merged_name = f"part-compact-{digest}.parquet"
        journal = f"{COMPACT_JOURNAL_DIR}/{digest}.json"
        _write_json(lake, journal, {"directory": directory, "merged": merged_name, "replaced": names})
        write_parquet_atomic(lake, f"{directory}/{merged_name}", rows)
        _apply_journal(lake, journal)
        merged += len(sources)
        written += 1
    return {"parts_merged": merged, "parts_written": written}


def _write_json(lake: Lake, relative: str, value: Any) -> None:
    fs, root = lake.fs_path
    final = f"{root}/{relative}"
    fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
    temp = final + f".{uuid.uuid4().hex}.tmp"
    with fs.open(temp, "w") as fh:
        json.dump(value, fh)
    fs.mv(temp, final)


def _apply_journal(lake: Lake, relative: str) -> None:
    fs, root = lake.fs_path
    with fs.open(f"{root}/{relative}", "r") as fh:
        entry = json.load(fh)
    # The merged part is written after the journal: without it the sources stay (nothing merged).
    if fs.exists(f"{root}/{entry['directory']}/{entry['merged']}"):
        for name in entry["replaced"]:
            path = f"{root}/{entry['directory']}/{name}"
            if fs.exists(path) and name != entry["merged"]:
                fs.rm(path)
    fs.rm(f"{root}/{relative}")


def finish_journals(lake: Lake) -> int:
    """Finish compactions a crash interrupted (their merged part is written; its sources are not all
    deleted yet). Until then the analysis views may show those rows twice."""
    fs, root = lake.fs_path
    pending = sorted(fs.glob(f"{root}/{COMPACT_JOURNAL_DIR}/*.json")) if fs.exists(
        f"{root}/{COMPACT_JOURNAL_DIR}") else []
    for path in pending:
        _apply_journal(lake, path.removeprefix(root + "/"))
    return len(pending)


def lake_status(lake: Lake) -> dict[str, Any]:
    """Parts and bytes per table, finished tasks, and whether the rollup is current."""
    fs, root = lake.fs_path
    tables: dict[str, dict[str, int]] = {}
    for table in TABLES:
        parts = fs.glob(f"{root}/{table}/*/*/part-*.parquet")
        tables[table] = {"parts": len(parts), "bytes": sum(fs.size(p) for p in parts)}
    return {"lake": lake.root, "tables": tables, "tasks": len(manifests(lake)),
            "rollup_current": rollup_is_current(lake)}


def count_rows(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> dict[str, int]:
    return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names}  # type: ignore[index]

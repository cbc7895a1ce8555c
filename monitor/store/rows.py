"""Turning posts and analyses into table rows (transform) and batches of Arrow tables (save).

A ``WriteBatch`` is everything one transaction writes: Arrow tables keyed by table name. It can be
applied to the database or spooled to Parquet and applied later; its id makes replays idempotent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from monitor.models import Post

if TYPE_CHECKING:
    import pyarrow as pa

# How each table is written: "ignore" keeps the first row for a key (posts are immutable records
# of what we saw: only posts whose key is not stored yet are inserted, with their analysis);
# "replace" overwrites (state, run and import records); "append" adds rows.
TABLE_MODES: dict[str, str] = {
    "deletions": "append",  # applied first: the platform deleted (or edited) these posts
    "targets": "replace",
    "posts": "ignore",
    "mentions": "ignore",
    "post_sentiment": "ignore",
    "target_scores": "ignore",
    "imports": "replace",
    "import_errors": "append",
    "runs": "replace",
    "sightings": "append",
    "source_state": "replace",
    "inbox_files": "ignore",
    "daemon_events": "append",
    "rescored": "keys",  # not a table: posts whose analysis the analysis rows in this batch replace
    # Not a table: the words of the batch's posts that mention a target (monitor/words.py), found by
    # an import's workers; the writer counts them into the rollups instead of finding them in SQL.
    "post_words": "words",
}
# Batch inputs that are not tables.
NOT_TABLES = frozenset(table for table, mode in TABLE_MODES.items() if mode in ("keys", "words"))
# "replace" tables whose key has no index (DuckDB rewrites a table's whole index at every
# checkpoint, and the writer checkpoints every write): the rows with the batch's keys are deleted,
# then the batch's rows inserted.
UNINDEXED_KEYS: dict[str, str] = {"runs": "run_id"}
# Rows that count the posts of the batch they are written in (a collector run, an import): when
# the batch is applied, their posts_new/posts_seen become the stored row's plus what this batch
# inserted and found stored, whatever the row says. A batch waits in the spool when the file is
# locked, and only applying it can tell which of its posts are new (an earlier spooled batch may
# hold the same posts).
COUNTED_ROWS: dict[str, str] = {"runs": "run_id", "imports": "import_id"}
# Tables are written in this order (children after parents for readers' sake).
TABLE_ORDER = list(TABLE_MODES)


@cache
def _schemas() -> dict[str, pa.Schema]:
    """The Arrow schemas of the tables, built at first use: importing pyarrow costs ~0.2 s, which
    commands that only read (status, sql, summary) need not pay."""
    import pyarrow as pa

    return {
        "POSTS_SCHEMA": pa.schema([
            ("post_key", pa.string()), ("platform", pa.string()), ("post_id", pa.string()), ("url", pa.string()),
            ("author_id", pa.string()), ("author_handle", pa.string()), ("author_name", pa.string()),
            ("text", pa.string()), ("lang", pa.string()), ("created_at", pa.timestamp("us")),
            ("collected_at", pa.timestamp("us")), ("reply_to", pa.string()), ("quote_of", pa.string()),
            ("repost_of", pa.string()), ("likes", pa.int64()), ("reposts", pa.int64()), ("replies", pa.int64()),
            ("quotes", pa.int64()), ("source", pa.string()), ("source_file", pa.string()), ("source_line", pa.int64()),
            ("source_request", pa.string()), ("source_query", pa.string()), ("tool_version", pa.string()),
            ("import_id", pa.int64()), ("run_id", pa.int64()), ("raw", pa.string()),
        ]),
        "MENTIONS_SCHEMA": pa.schema([("post_key", pa.string()), ("target_id", pa.string()), ("alias", pa.string()),
                                     ("rules_version", pa.string())]),
        "SENTIMENT_SCHEMA": pa.schema([
            ("post_key", pa.string()), ("lang", pa.string()), ("scored", pa.bool_()), ("compound", pa.float64()),
            ("compound_doc", pa.float64()), ("label", pa.string()), ("sentences", pa.int32()), ("scorer", pa.string()),
            ("scorer_version", pa.string()), ("scored_at", pa.timestamp("us")), ("rules_version", pa.string()),
        ]),
        "TARGET_SCORES_SCHEMA": pa.schema([
            ("post_key", pa.string()), ("target_id", pa.string()), ("sentiment", pa.float64()),
            ("sentiment_label", pa.string()), ("stance", pa.string()), ("stance_score", pa.float64()),
            ("sentiment_scorer", pa.string()), ("sentiment_scorer_version", pa.string()),
            ("stance_scorer", pa.string()), ("stance_scorer_version", pa.string()), ("scored_at", pa.timestamp("us")),
        ]),
        "POST_WORDS_SCHEMA": pa.schema([("post_key", pa.string()), ("hashtags", pa.list_(pa.string())),
                                       ("terms", pa.list_(pa.string()))]),
        "TARGETS_SCHEMA": pa.schema([("target_id", pa.string()), ("name", pa.string()), ("kind", pa.string()),
                                   ("accounts", pa.list_(pa.string()))]),
    }


def __getattr__(name: str) -> Any:
    # POSTS_SCHEMA, MENTIONS_SCHEMA, SENTIMENT_SCHEMA, TARGET_SCORES_SCHEMA, POST_WORDS_SCHEMA, TARGETS_SCHEMA,
    # built at first use.
    if name.endswith("_SCHEMA") and name in _schemas():
        return _schemas()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def utcnow_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> int:
    """63-bit random id for imports and runs (assigned in Python so spooled batches carry it)."""
    return uuid.uuid4().int >> 65


@dataclass
class WriteBatch:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=utcnow_naive)

    def add(self, table: str, data: pa.Table) -> None:
        if table not in TABLE_MODES:
            raise KeyError(f"unknown table {table}")
        if data.num_rows == 0:
            return
        if table in self.tables:
            import pyarrow as pa

            data = pa.concat_tables([self.tables[table], data.cast(self.tables[table].schema)])
        self.tables[table] = data

    def add_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            import pyarrow as pa

            self.add(table, pa.Table.from_pylist(list(rows)))

    @property
    def post_count(self) -> int:
        posts = self.tables.get("posts")
        return posts.num_rows if posts is not None else 0

    def __bool__(self) -> bool:
        return bool(self.tables)


# One encoder for every row: json.dumps with options builds a new encoder per call.
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def posts_table(posts: Sequence[Post], import_id: int | None = None, run_id: int | None = None,
                keep_raw: bool = True) -> pa.Table:
    """Posts as an Arrow table (one list per column: much faster than a dict per row)."""
    import pyarrow as pa

    prov = [p.provenance for p in posts]
    eng = [p.engagement for p in posts]
    dumps = _RAW_ENCODER.encode
    cols: dict[str, list[Any]] = {
        "post_key": [f"{p.platform}:{p.id}" for p in posts],
        "platform": [p.platform for p in posts],
        "post_id": [p.id for p in posts],
        "url": [p.url for p in posts],
        "author_id": [p.author.id for p in posts],
        "author_handle": [p.author.handle for p in posts],
        "author_name": [p.author.name for p in posts],
        "text": [p.text for p in posts],
        "lang": [p.lang for p in posts],
        "created_at": [naive_utc(p.created_at) for p in posts],
        "collected_at": [naive_utc(v.collected_at) for v in prov],
        "reply_to": [p.reply_to for p in posts],
        "quote_of": [p.quote_of for p in posts],
        "repost_of": [p.repost_of for p in posts],
        "likes": [e.likes for e in eng],
        "reposts": [e.reposts for e in eng],
        "replies": [e.replies for e in eng],
        "quotes": [e.quotes for e in eng],
        "source": [v.source for v in prov],
        "source_file": [v.file for v in prov],
        "source_line": [v.line for v in prov],
        "source_request": [v.request for v in prov],
        "source_query": [v.query for v in prov],
        "tool_version": [v.tool_version for v in prov],
        "import_id": [import_id] * len(posts),
        "run_id": [run_id] * len(posts),
        "raw": [dumps(p.raw) if keep_raw and p.raw is not None else None for p in posts],
    }
    return pa.Table.from_pydict(cols, schema=_schemas()["POSTS_SCHEMA"])


def targets_table(targets: Iterable[Any]) -> pa.Table:
    """The configured targets, with their own accounts ('x:elonmusk') for ``v_voices``."""
    import pyarrow as pa

    return pa.Table.from_pylist([{"target_id": t.id, "name": t.name, "kind": t.kind, "accounts": t.own_accounts()}
                                 for t in targets], schema=_schemas()["TARGETS_SCHEMA"])


def dedupe_posts(posts: Iterable[Post]) -> list[Post]:
    """First occurrence of each key wins (a batch must not hold one key twice)."""
    seen: dict[str, Post] = {}
    for p in posts:
        seen.setdefault(p.key, p)
    return list(seen.values())

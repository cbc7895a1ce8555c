"""Export posts with their mentions and scores to Parquet, CSV or JSON Lines (DuckDB COPY).

Two shapes: one row per post (mentions as a list; JSON text in CSV), or ``flat``: one row per
(post, target) with the target's alias, sentiment and stance in plain columns, for spreadsheets.
Every time is UTC and says so: ISO 8601 with ``Z`` in CSV and JSON, a UTC-adjusted timestamp in
Parquet.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import duckdb

from monitor.store.schema import sql_string

FORMATS = ("parquet", "csv", "jsonl")
# File name endings that choose the format when --format is not given.
EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "jsonl"}
TIME_COLUMNS = ("created_at", "collected_at")

_POST_COLUMNS = """p.post_key, p.platform, p.post_id, p.url, {created_at} AS created_at, p.author_id,
               p.author_handle, p.author_name, p.text, p.lang, p.reply_to, p.quote_of, p.repost_of,
               p.likes, p.reposts, p.replies, p.quotes,
               s.compound AS sentiment, s.compound_doc AS sentiment_doc, s.label AS sentiment_label"""
_PROVENANCE = "p.source, p.source_file, p.source_line, {collected_at} AS collected_at, p.tool_version"


@dataclass(frozen=True)
class ExportFilter:
    """Which posts: mentioning any of ``targets``, from any of ``platforms``, created in [start, end)
    (naive UTC, as stored; None: unbounded)."""

    targets: Sequence[str] = field(default_factory=tuple)
    platforms: Sequence[str] = field(default_factory=tuple)
    start: datetime | None = None
    end: datetime | None = None

    def sql(self) -> tuple[str, list[object]]:
        filters = ["TRUE"]
        params: list[object] = []
        if self.targets:
            filters.append(f"p.post_key IN (SELECT post_key FROM mentions WHERE target_id IN ({_marks(self.targets)}))")
            params += list(self.targets)
        if self.platforms:
            filters.append(f"p.platform IN ({_marks(self.platforms)})")
            params += list(self.platforms)
        if self.start is not None:
            filters.append("p.created_at >= ?")
            params.append(self.start)
        if self.end is not None:
            filters.append("p.created_at < ?")
            params.append(self.end)
        return " AND ".join(filters), params


def format_for(output: str, fmt: str | None) -> str:
    """The format: ``fmt`` if given, else from the file name's ending (CSV for stdout, '-')."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
        return fmt
    if output == "-":
        return "csv"
    suffix = Path(output).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ValueError(f"cannot tell the format from '{output}': name it .csv, .parquet or .jsonl, or pass --format "
                         f"({', '.join(FORMATS)})")
    return EXTENSIONS[suffix]


def posts_query(where: str, fmt: str, flat: bool) -> str:
    """The export's SELECT: one row per post (mentions as a list) or, ``flat``, per (post, target)."""
    times = {c: _utc_sql(f"p.{c}", fmt) for c in TIME_COLUMNS}
    columns, provenance = _POST_COLUMNS.format(**times), _PROVENANCE.format(**times)
    joins = """FROM posts p
        LEFT JOIN post_sentiment s USING (post_key)
        LEFT JOIN mentions m USING (post_key)
        LEFT JOIN target_scores ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id"""
    if flat:
        return f"""
        SELECT {columns}, m.target_id, m.alias, ts.sentiment AS target_sentiment, ts.stance,
               ts.stance_score, {provenance}
        {joins}
        WHERE {where}
        ORDER BY p.created_at, p.post_key, m.target_id"""
    mentions = """list({'target_id': m.target_id, 'alias': m.alias, 'sentiment': ts.sentiment,
                     'stance': ts.stance, 'stance_score': ts.stance_score} ORDER BY m.target_id)
                 FILTER (WHERE m.target_id IS NOT NULL)"""
    if fmt == "csv":  # CSV has no nested types: mentions become JSON text
        mentions = f"to_json({mentions})"
    return f"""
        SELECT {columns}, {mentions} AS mentions, {provenance}
        {joins}
        WHERE {where}
        GROUP BY ALL
        ORDER BY min(p.created_at), p.post_key"""


# An export is written in windows of created_at of about this many posts each, then joined: DuckDB
# holds a window's rows (their mentions gathered per post, then sorted) in memory at once. In one
# query, 1M posts peaked at 2.6 GB; a window of 100,000 needs ~0.4 GB, on any database size.
EXPORT_WINDOW_POSTS = 100_000
EXPORT_MEMORY_LIMIT = "512MB"


def export_posts(con: duckdb.DuckDBPyConnection, output: Path | BinaryIO, fmt: str,
                 where: ExportFilter | None = None, flat: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> int:
    """Write the posts ``where`` selects to ``output`` (a path, or a binary stream such as stdout);
    the number of posts written (not rows: a flat export has a row per mentioned target).
    ``progress(done, total)``: after each window, about how many of the posts are written."""
    where = where or ExportFilter()
    condition, params = where.sql()
    count = int(con.execute(f"SELECT count(DISTINCT p.post_key) FROM posts p WHERE {condition}", params)
                .fetchall()[0][0])
    windows = _windows(con, where, count)
    if isinstance(output, Path):
        output.parent.mkdir(parents=True, exist_ok=True)
    if len(windows) == 1 and isinstance(output, Path):
        _copy(con, posts_query(condition, fmt, flat), params, output, fmt)
        if progress is not None:
            progress(count, count)
        return count
    # COPY writes files: each window to a part, the parts joined in order (a stream gets the bytes).
    # Capped, DuckDB drops the blocks of earlier windows from its cache instead of keeping them all.
    con.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
    with tempfile.TemporaryDirectory(prefix="monitor-export-") as tmp:
        parts = []
        for i, window in enumerate(windows):
            part = Path(tmp) / f"part-{i:05d}.{fmt}"
            part_condition, part_params = window.sql()
            _copy(con, posts_query(part_condition, fmt, flat), part_params, part, fmt, header=i == 0)
            parts.append(part)
            if progress is not None:  # windows hold about as many posts each
                progress(count * (i + 1) // len(windows), count)
        if fmt == "parquet":
            joined = output if isinstance(output, Path) else Path(tmp) / "export.parquet"
            files = ", ".join(sql_string(part) for part in parts)
            con.execute(f"COPY (SELECT * FROM read_parquet([{files}])) TO {sql_string(joined)} (FORMAT parquet)")
            parts = [] if joined is output else [joined]
        if parts:
            _concatenate(parts, output)
    return count


def _windows(con: duckdb.DuckDBPyConnection, where: ExportFilter, count: int) -> list[ExportFilter]:
    """The filter cut into windows of created_at holding about EXPORT_WINDOW_POSTS posts each (one
    window for a small export). Rows are ordered by created_at first, so the windows' rows, one after
    the other, are the rows of the whole export in its order."""
    pieces = -(-count // EXPORT_WINDOW_POSTS)
    if pieces <= 1:
        return [where]
    condition, params = where.sql()
    cuts = [i / pieces for i in range(1, pieces)]
    bounds = con.execute(f"SELECT quantile_disc(p.created_at, {cuts}) FROM posts p WHERE {condition}",
                         params).fetchall()[0][0]
    edges = [where.start, *sorted(set(bounds)), where.end]
    return [replace(where, start=lo, end=hi) for lo, hi in itertools.pairwise(edges)
            if lo is None or hi is None or lo < hi]


def _concatenate(parts: list[Path], output: Path | BinaryIO) -> None:
    out: BinaryIO = output.open("wb") if isinstance(output, Path) else output
    try:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out)
        out.flush()
    finally:
        if isinstance(output, Path):
            out.close()


def _copy(con: duckdb.DuckDBPyConnection, query: str, params: list[object], path: Path, fmt: str,
          header: bool = True) -> None:
    options = {"parquet": "FORMAT parquet", "csv": f"FORMAT csv, HEADER {str(header).lower()}",
               "jsonl": "FORMAT json"}[fmt]
    con.execute(f"COPY ({query}) TO {sql_string(path)} ({options})", params)


def _utc_sql(column: str, fmt: str) -> str:
    """A stored (naive UTC) time as the export shows it: Parquet keeps a timestamp, marked UTC; CSV
    and JSON get ISO 8601 text ending in Z (fractions of a second only when there are some)."""
    if fmt == "parquet":
        return f"timezone('UTC', {column})"
    return (f"CASE WHEN epoch_us({column}) % 1000000 = 0 THEN strftime({column}, '%Y-%m-%dT%H:%M:%SZ') "
            f"ELSE strftime({column}, '%Y-%m-%dT%H:%M:%S.%fZ') END")


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)



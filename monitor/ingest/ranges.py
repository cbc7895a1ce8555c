"""A big JSON Lines input read in parallel: each worker process reads a byte range of it (the
lines the range owns, ``lake_input.RangeInput``), parses, matches and analyses them, and sends back
only the rows to store; the main process writes them, in the file's order.

Reading in the main process (JSON, a ``Post`` per line, its row) cost it about as much CPU per post
as bare VADER spends on a text, on top of the writes: with the workers idle half the time, an import
ran at ~0.6x bare VADER on two cores (issue #16, bench/import_throughput.py).
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from monitor.analysis.batch import analyse_batch, worker_state
from monitor.analysis.prefilter import Prefilter
from monitor.config import Config
from monitor.ingest.lake_input import (
    RangeInput,
    count_newlines,
    first_frame_within,
    is_zstd,
    split_ranges,
    splittable,
)
from monitor.models import Post
from monitor.sources.api import Reader, load_sources
from monitor.sources.base import ArchiveInput, RecordError, SkippedLines
from monitor.store.rows import posts_table

# A range's share of a file: ~3,500 tweets, about one write batch. Smaller ranges cost a write
# transaction each; bigger ones hold more posts in each worker at a time.
RANGE_BYTES = 1 << 20
# A .zst whose first frame is longer is read whole (one frame, most likely: it cannot be split).
FIRST_FRAME_LIMIT = 16 << 20
# Posts a worker holds before it analyses them and keeps only their rows (pydantic posts are big).
ANALYSED_AT_ONCE = 1000
MAX_ERRORS_SENT = 1000  # bad records a range sends back (its count is exact): the import stores that many


@dataclass
class RangeRows:
    """What a worker sends back for a range: the rows to store and what it read."""

    tables: dict[str, pa.Table]  # posts and their analysis rows (with post_words), kept posts only
    records: int = 0  # posts read (each key once)
    kept: int = 0
    skipped: int = 0  # lines the prefilter passed over: records without a target
    errors: list[RecordError] = field(default_factory=list)  # line numbers counted from the range's first line
    error_count: int = 0
    newlines: int = 0  # in the range: they number the next range's lines

    def shift_lines(self, line_offset: int) -> None:
        """Number the posts' and bad records' lines from the file's start, not the range's."""
        if "posts" in self.tables:
            self.tables["posts"] = shift_lines(self.tables["posts"], line_offset)
        self.errors = [RecordError(e.file, e.line + line_offset if e.line is not None else None, e.reason, e.field)
                       for e in self.errors]

    def keys(self) -> set[str]:
        return set(self.tables["posts"].column("post_key").to_pylist()) if "posts" in self.tables else set()


@dataclass
class RangeBatch:
    """Ranges written together: one write transaction for several ranges (each costs ~0.1 s)."""

    ranges: list[RangeRows] = field(default_factory=list)
    post_keys: set[str] = field(default_factory=set)

    def add(self, rows: RangeRows) -> bool:
        """Add a range's rows, unless one of its posts is in the batch already (a batch holds each
        post once: the store keeps the first one read, and counts the other as seen)."""
        keys = rows.keys()
        if not self.post_keys.isdisjoint(keys):
            return False
        self.ranges.append(rows)
        self.post_keys |= keys
        return True

    @property
    def records(self) -> int:
        return sum(r.records for r in self.ranges)

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.ranges)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.ranges)

    def tables(self) -> dict[str, pa.Table]:
        return concat_rows([r.tables for r in self.ranges])


def concat_rows(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """Tables of rows made in parts, each table as one (its parts in order)."""
    names = dict.fromkeys(name for part in parts for name in part)
    return {name: pa.concat_tables([part[name] for part in parts if name in part]) for name in names}


def ranges_of(source: ArchiveInput, reader: Reader, encoding: str, workers: int) -> list[tuple[int, int]] | None:
    """Byte ranges to read the input in (in order), or None where it is read as a whole: one
    worker, a reader that is not line by line, a compressed stream that cannot be entered in the
    middle, or an input too small to be worth it."""
    if workers < 2 or not splittable(source, reader.name, encoding):
        return None
    if is_zstd(source.path.name) and not first_frame_within(str(source.path), FIRST_FRAME_LIMIT):
        return None
    ranges = split_ranges(str(source.path), RANGE_BYTES)
    return ranges if len(ranges) > 2 else None


def with_line_filter(reader: Reader, prefilter: Prefilter | None, options: dict[str, Any]) -> dict[str, Any]:
    """The read options, with ``line_filter`` where the prefilter applies: a reader that takes one
    (one JSON record a line), reading UTF-8 (the prefilter looks for UTF-8 bytes)."""
    encoding = (options.get("encoding") or "utf-8").lower().replace("_", "-")
    if prefilter is None or not reader.takes_prefilter or encoding not in ("utf-8", "utf8"):
        return options
    return {**options, "line_filter": prefilter}


_PREFILTERS: dict[str, Prefilter | None] = {}  # in a worker process: one prefilter a config


def worker_read_options(config: Config, reader: Reader, options: dict[str, Any]) -> dict[str, Any]:
    """In a worker process (a local import's or a lake task's): the read options with the config's
    prefilter where it applies (``with_line_filter``); ``prefilter=False`` parses every line."""
    options = dict(options)
    if not options.pop("prefilter", True):
        return options
    key = hashlib.sha256(pickle.dumps(config)).hexdigest()
    if key not in _PREFILTERS:
        _PREFILTERS[key] = Prefilter.from_config(config)
    return with_line_filter(reader, _PREFILTERS[key], options)


def read_range(path: str, start: int, end: int, reader_name: str, options: dict[str, Any], prefilter: bool,
               import_id: int, now: datetime) -> RangeRows:
    """In a worker process: read, analyse and turn into rows the lines of [start, end) of a file."""
    analyzer, _ = worker_state()
    reader = load_sources().reader(reader_name)
    read_options = worker_read_options(analyzer.config, reader, {**options, "prefilter": prefilter})
    rows = RangeRows({})
    parts: list[dict[str, pa.Table]] = []
    posts: list[Post] = []
    seen: set[str] = set()  # a post read twice: the first one counts
    for item in reader.read(RangeInput(Path(path), None, start, end), **read_options):
        if isinstance(item, SkippedLines):
            rows.skipped += item.count
        elif isinstance(item, RecordError):
            rows.error_count += 1
            if len(rows.errors) < MAX_ERRORS_SENT:
                rows.errors.append(item)
        elif item.key not in seen:
            seen.add(item.key)
            posts.append(item)
            if len(posts) >= ANALYSED_AT_ONCE:
                parts.append(_analysed_rows(posts, rows, import_id, now))
                posts = []
    if posts:
        parts.append(_analysed_rows(posts, rows, import_id, now))
    rows.tables = concat_rows(parts)
    rows.newlines = count_newlines(path, start, end)
    return rows


def _analysed_rows(posts: list[Post], rows: RangeRows, import_id: int, now: datetime) -> dict[str, pa.Table]:
    """The rows of the posts that mention a target (each key once), and their analysis rows."""
    analyzer, schemas = worker_state()
    analysed = analyse_batch(analyzer, [(p.key, p.text, p.lang) for p in posts], False, schemas, now, words=True)
    kept = [p for p, keep in zip(posts, analysed.keep, strict=True) if keep]
    rows.records += len(posts)
    rows.kept += len(kept)
    return {"posts": posts_table(kept, import_id=import_id), **analysed.tables} if kept else {}


def shift_lines(posts: pa.Table, line_offset: int) -> pa.Table:
    """Line numbers of a range's posts counted from the file's start, not the range's."""
    if not line_offset:
        return posts
    index = posts.schema.get_field_index("source_line")
    return posts.set_column(index, "source_line", pc.add(posts["source_line"], line_offset))

"""One distributed import task, as a worker runs it: read an input (or a byte range of one), analyse
its posts with the same functions as a local import (``posts_table``, ``analyse_batch``), and write
the rows as lake parts named after the task. Pure functions of their arguments (plus the lake), so
a task run twice, or retried after its worker died, writes the same parts."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.pipeline import Analyzer
from monitor.config import Config
from monitor.ingest.imports import BATCH_SIZE  # posts analysed at a time: as a local import
from monitor.ingest.lake_input import RangeInput
from monitor.ingest.pool import analyse_batch, relax_gc
from monitor.ingest.ranges import shift_lines, worker_read_options
from monitor.models import Post
from monitor.sources.api import load_sources
from monitor.sources.base import ArchiveInput, RecordError, SkippedLines
from monitor.store.lake import Lake, read_manifest, write_manifest, write_parts
from monitor.store.rows import dedupe_posts, posts_table, utcnow_naive

CHUNK_POSTS = 100_000  # kept posts a task holds before writing them as parts (memory stays bounded)
ANALYSIS_TABLES = ("mentions", "post_sentiment", "target_scores")
MAX_ERROR_SAMPLES = 20
ReadItem = Post | RecordError | SkippedLines  # what a reader yields


@dataclass(frozen=True)
class LakeTask:
    """An input, or the byte range [start, end) of one (``ranged``), read with one reader."""

    path: str
    member: str | None
    reader: str
    fingerprint: str
    start: int = 0
    end: int = 0
    ranged: bool = False
    index: int = 0  # the range's place in its file (0 for whole inputs)
    line_offset: int = 0  # lines of the file before the range's first line (set once counted)

    @property
    def input(self) -> ArchiveInput:
        if self.ranged:
            return RangeInput(Path(self.path), self.member, self.start, self.end)
        return ArchiveInput(Path(self.path), self.member)

    def part_name(self, rules_version: str, analyzer_version: str, read_options: str) -> str:
        """The task's parts' name: from what decides their rows (input path and content, range,
        rules, analyzer, read options), so a re-run or a retry writes the same files."""
        ident = json.dumps([self.path, self.fingerprint, self.member, self.ranged, self.start, self.end, self.reader,
                            rules_version, analyzer_version, read_options])
        return hashlib.sha256(ident.encode()).hexdigest()[:24]


@dataclass
class TaskResult:
    part: str
    path: str
    start: int
    end: int
    records: int = 0
    kept: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False  # done by an earlier run (its manifest is there)
    worker: str = ""
    error: str | None = None  # the task failed on every try (its parts and manifest are not written)

    @property
    def unmatched(self) -> int:
        return self.records - self.kept


_ANALYZERS: dict[tuple[str, str | None, str | None], Analyzer] = {}


def worker_analyzer(config: Config, models_dir: str | None, name: str | None) -> Analyzer:
    """One analyzer per worker process (a learned model loads once), for each config it is given."""
    key = (hashlib.sha256(pickle.dumps(config)).hexdigest(), models_dir, name)
    if key not in _ANALYZERS:
        _ANALYZERS[key] = make_analyzer(config, Path(models_dir) if models_dir else None, name, threads=1)
        relax_gc()
    return _ANALYZERS[key]


def analyzer_version(config: Config, models_dir: str | None, name: str | None) -> str:
    analyzer = worker_analyzer(config, models_dir, name)
    return f"{analyzer.name}:{analyzer.version}"


def import_id_of(part: str) -> int:
    """The task's import id (63 bits, like ``rows.new_id``), fixed by its part name."""
    return int(part[:16], 16) >> 1


def run_task(task: LakeTask, config: Config, lake_url: str, analyzer: str | None = None,
             models_dir: str | None = None, options: dict[str, Any] | None = None, force: bool = False,
             delay: float = 0.0, chunk_posts: int = CHUNK_POSTS) -> TaskResult:
    """Read, analyse and write one task's parts, ``chunk_posts`` kept posts a chunk (skipped when
    an earlier run finished it, unless ``force``). ``delay`` sleeps before each chunk is written
    (tests use it to kill a worker mid-task)."""
    started = time.perf_counter()
    options = options or {}
    scorer = worker_analyzer(config, models_dir, analyzer)
    read_options = json.dumps(options, sort_keys=True, default=str)
    part = task.part_name(config.rules_version, f"{scorer.name}:{scorer.version}", read_options)
    result = TaskResult(part, task.path, task.start, task.end, worker=f"{socket.gethostname()}:{os.getpid()}")
    lake = Lake(lake_url)
    if not force and read_manifest(lake, part) is not None:
        result.skipped = True
        return result
    reader = load_sources().reader(task.reader)
    items = reader.read(task.input, **worker_read_options(config, reader, options))
    written: list[str] = []
    for chunk, tables in enumerate(_analysed_chunks(task, scorer, items, result, import_id_of(part), chunk_posts)):
        if delay:
            time.sleep(delay)
        written += write_parts(lake, part, tables, chunk)
    result.seconds = time.perf_counter() - started
    write_manifest(lake, part, {**asdict(task), **asdict(result), "rules_version": config.rules_version,
                                "analyzer": f"{scorer.name}:{scorer.version}", "options": read_options,
                                "finished_at": utcnow_naive().isoformat(), "parts": sorted(written)})
    return result


def _analysed_chunks(task: LakeTask, scorer: Analyzer, items: Iterable[ReadItem], result: TaskResult,
                     import_id: int, chunk_posts: int) -> Iterator[dict[str, pa.Table]]:
    """The kept posts and their analysis rows, about ``chunk_posts`` posts at a time, batch by batch
    as a local import makes them: each batch's first post of a key is analysed; a key kept by an
    earlier batch is not stored again. Chunks follow the input's order, so a re-run cuts the same."""
    kept_keys: set[str] = set()
    collected: dict[str, list[pa.Table]] = {name: [] for name in ("posts", *ANALYSIS_TABLES)}
    pending = 0
    for batch in _batches(items, result, task.line_offset, min(BATCH_SIZE, chunk_posts)):
        posts = [p for p in dedupe_posts(batch) if p.key not in kept_keys]
        analysed = analyse_batch(scorer, [(p.key, p.text, p.lang) for p in posts])
        kept = [p for p, keep in zip(posts, analysed.keep, strict=True) if keep]
        kept_keys.update(p.key for p in kept)
        result.records += len(posts)
        result.kept += len(kept)
        if kept:
            collected["posts"].append(shift_lines(posts_table(kept, import_id=import_id), task.line_offset))
            for name, table in analysed.tables.items():
                collected[name].append(table)
            pending += len(kept)
        if pending >= chunk_posts:
            yield _concat(collected)
            pending = 0
    if pending:
        yield _concat(collected)


def _concat(collected: dict[str, list[pa.Table]]) -> dict[str, pa.Table]:
    """The collected tables as one each; empties ``collected`` for the next chunk."""
    tables = {name: pa.concat_tables(parts) for name, parts in collected.items() if parts}
    for parts in collected.values():
        parts.clear()
    return tables


def _batches(items: Iterable[ReadItem], result: TaskResult, line_offset: int, size: int) -> Iterator[list[Post]]:
    batch: list[Post] = []
    for item in items:
        if isinstance(item, SkippedLines):  # lines the prefilter passed over: records without a target
            result.records += item.count
            continue
        if isinstance(item, RecordError):
            result.errors += 1
            if len(result.error_samples) < MAX_ERROR_SAMPLES:
                line = item.line + line_offset if item.line is not None else None
                result.error_samples.append(str(RecordError(item.file, line, item.reason, item.field)))
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

"""Import archives: read posts, analyse them in worker processes, write batches to DuckDB.

Reading the next batch overlaps with scoring the previous one, and each batch is one short write
transaction, so a 10 GB archive streams through in constant memory and never holds the lock long.
A big JSON Lines file (plain, or .zst in several frames) is read by the workers themselves, a byte
range each (``ranges``): this process only writes what they send back.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.analysis.prefilter import Prefilter
from monitor.config import Config
from monitor.ingest.pool import AnalysisPool, relax_gc
from monitor.ingest.ranges import RangeBatch, RangeRows, ranges_of, read_range, with_line_filter
from monitor.ingest.write import Origin, PendingPosts, Written, analyse_posts, analysed_rows, write_rows
from monitor.models import Post
from monitor.sources.api import Reader, load_sources
from monitor.sources.base import (
    NOT_TEXT,
    NOTHING_TO_IMPORT,
    ArchiveInput,
    RecordError,
    SkippedLines,
    expand_inputs,
    not_text_reason,
    zip_archive,
)
from monitor.store import Store, WriteBatch
from monitor.store.queries import already_imported, imported_inputs, stored_post_keys
from monitor.store.rows import new_id, targets_table, utcnow_naive

log = logging.getLogger(__name__)

# A batch is one write transaction (each costs ~0.1 s to open, commit and checkpoint) of at most
# BATCH_SIZE posts (20,000 held ~55 MiB of posts each in the main process, three batches in flight)
# and at most BATCH_TEXT_CHARS of text (long posts: the batch read and the one analysed stay in memory).
BATCH_SIZE = 5000
BATCH_TEXT_CHARS = 16 << 20
# Lines a batch may stand for, those a prefilter skipped included: on a dump where few lines
# match, the first posts reach the workers (which start up meanwhile) before the whole file is read.
BATCH_LINES = 250_000
MAX_STORED_ERRORS = 1000  # per input; the count is always exact
# Reader options that change what a file yields: a file read with other ones is read again.
READ_OPTIONS = ("mapping", "platform", "encoding", "delimiter")


class ImportOptionError(ValueError):
    """Import options that cannot work (an unknown --encoding): raised before anything is read."""


def check_encoding(encoding: str) -> None:
    """Refuse an unknown text encoding with a clear message (not a LookupError traceback)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportOptionError(f"unknown encoding '{encoding}' for --encoding "
                                "(examples: utf-8, cp1252, latin-1, utf-16)") from None


@dataclass
class ImportReport:
    path: str
    format: str | None = None
    records: int = 0
    posts_new: int = 0
    posts_seen: int = 0
    unmatched: int = 0
    errors: int = 0
    error_samples: list[RecordError] = field(default_factory=list)
    skipped: str | None = None  # reason, when the input was not read (or not to its end), or failed
    failed: bool = False  # missing, empty, not text, not recognised, no good record, or stopped by an error
    seconds: float = 0.0
    spooled: bool = False
    posts_spooled: int = 0  # waiting in the spool: counted as new or seen in the imports row when it drains

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "records": self.records, "posts_new": self.posts_new,
            "posts_seen": self.posts_seen, "unmatched": self.unmatched, "errors": self.errors,
            "error_samples": [str(e) for e in self.error_samples[:20]], "skipped": self.skipped,
            "failed": self.failed, "seconds": round(self.seconds, 3), "spooled": self.spooled,
            "posts_spooled": self.posts_spooled,
        }


def fingerprint(source: ArchiveInput) -> str:
    """Cheap content fingerprint: size plus the first and last MiB (hashing 10 GB twice is not cheap);
    for a member of a .zip, its CRC and size from the archive's directory (the zip's own first and last
    MiB, read for each of 5,000 members, cost more than the members)."""
    h = hashlib.sha256()
    if source.member is not None:
        info = zip_archive(source.path).getinfo(source.member)
        h.update(f"zip member:{source.member}:{info.CRC}:{info.file_size}".encode())
        return h.hexdigest()[:32]
    size = source.path.stat().st_size
    h.update(f"{size}:{source.member or ''}".encode())
    with open(source.path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), 2)
            h.update(fh.read())
    return h.hexdigest()[:32]


def options_fingerprint(reader: str, options: dict[str, Any]) -> str:
    """The reader and the options that change what it yields (``READ_OPTIONS``), as stable JSON:
    stored with each import, so a file counts as done only for the options it was read with."""
    chosen = {k: options[k] for k in READ_OPTIONS if options.get(k) not in (None, {}, "")}
    return json.dumps({"format": reader, **chosen}, sort_keys=True, default=str)


@dataclass
class _Batch:
    posts: list[Post] = field(default_factory=list)
    skipped: int = 0  # lines a prefilter passed over: records without a target
    chars: int = 0

    def full(self) -> bool:
        return len(self.posts) >= BATCH_SIZE or self.chars >= BATCH_TEXT_CHARS or \
            len(self.posts) + self.skipped >= BATCH_LINES


def _batches(items: Iterable[Post | RecordError | SkippedLines], on_error: Callable[[RecordError], None]) -> Iterator[
    _Batch
]:
    batch = _Batch()
    for item in items:
        if isinstance(item, RecordError):
            on_error(item)
            continue
        if isinstance(item, SkippedLines):
            batch.skipped += item.count
        else:
            batch.posts.append(item)
            batch.chars += len(item.text)
        if batch.full():
            yield batch
            batch = _Batch()
    if batch.posts or batch.skipped:
        yield batch


# Small files are written together: a write costs ~50 ms of the main process whatever its rows (its
# statements, the checkpoint), and a file took two (its posts, then its end row): a folder of 1,000
# ten-post files took 101 s. A file's last batch and its end row wait in a group, written in one
# transaction once it holds GROUP_POSTS posts or GROUP_FILES files, after GROUP_SECONDS, and at the end.
GROUP_POSTS = BATCH_SIZE
GROUP_FILES = 1000
GROUP_SECONDS = 2.0


@dataclass
class _Tail:
    """A file's last batch, read and analysed: its rows and what was read."""

    tables: dict[str, pa.Table]
    written: Written

    @cached_property
    def keys(self) -> list[str]:
        posts = self.tables.get("posts")
        return posts.column("post_key").to_pylist() if posts is not None else []


@dataclass
class _FileGroup:
    """The last batches and end rows of files read to their end, waiting to be written together."""

    batch: WriteBatch = field(default_factory=WriteBatch)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"imports": [], "import_errors": []})
    keys: set[str] = field(default_factory=set)
    files: list[tuple[ImportReport, int, Written]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def fits(self, tail: _Tail | None) -> bool:
        """Whether a file's tail can join: the group stays within its limits, and a post is in it once."""
        if tail is None or not tail.keys:
            return len(self.files) < GROUP_FILES
        return (self.batch.post_count + len(tail.keys) <= GROUP_POSTS and len(self.files) < GROUP_FILES
                and self.keys.isdisjoint(tail.keys))

    def add(self, errors: _ErrorLog, tail: _Tail | None) -> None:
        if tail is not None:
            for table, data in tail.tables.items():
                self.batch.add(table, data)
            self.keys.update(tail.keys)
        self.rows["import_errors"] += errors.take_rows()
        self.rows["imports"].append(errors.meta)
        self.files.append((errors.report, errors.import_id, tail.written if tail is not None else Written()))

    def due(self) -> bool:
        return (self.batch.post_count >= GROUP_POSTS or len(self.files) >= GROUP_FILES
                or time.monotonic() - self.started >= GROUP_SECONDS)


def choose_reader(source: ArchiveInput, fmt: str, encoding: str) -> tuple[Reader | None, str]:
    """The reader for an input, or None and why it is refused (empty, not text, not recognised)."""
    if source.member is None and source.path.suffix.lower() == ".zip" and not zipfile.is_zipfile(source.path):
        return None, "not a valid zip file (damaged, or cut short by a download?)"
    sample = source.sample()
    if not sample and source.member is None and source.path.stat().st_size > 0:
        return None, "nothing could be read from it (corrupt or truncated compressed data?)"
    if not sample.strip():
        return None, "the file is empty: nothing to import"
    registry = load_sources()
    binary = registry.binary_reader(sample)
    if binary is not None and fmt in ("auto", binary.name):
        return binary, ""
    why_not_text = not_text_reason(sample, encoding)
    if why_not_text:
        return None, why_not_text
    reader = registry.detect_format(source) if fmt == "auto" else registry.reader(fmt)
    if reader is None:
        return None, "format not recognised; pass --format (see `monitor import --help` for the list)"
    return reader, ""


class Importer:
    """Imports inputs into a store with one analysis pool (reused across files)."""

    def __init__(self, config: Config, store: Store, pool: AnalysisPool | None = None,
                 progress: Callable[[str, int], None] | None = None, prefilter: bool = True,
                 share: Callable[[str, float], None] | None = None):
        self.config = config
        self.store = store
        self.pool = pool or AnalysisPool(config, store.data_dir / "models")
        self.progress = progress  # (input, n): n more records read
        self.share = share  # (input, s): s (0 to 1) of the input's bytes read, where that is known
        self._shared = ("", 0.0)  # the input and share last given to ``share``
        # Line-oriented readers skip, unparsed, the lines that cannot mention a target (None: the
        # config stores unmatched posts, or has a name the prefilter cannot look for).
        self.prefilter = Prefilter.from_config(config) if prefilter else None
        self._targets_synced = False
        self._imported: set[tuple[str, str, str, str]] | None = None  # while import_paths runs: imported_inputs
        self._tail: _Tail | None = None  # the last batch of the input being read
        self._group: _FileGroup | None = None  # inputs read, not written yet (see GROUP_POSTS)

    def import_paths(self, paths: Iterable[Path], fmt: str = "auto", force: bool = False,
                     **options: Any) -> list[ImportReport]:
        return [r for reports in self.import_each(paths, fmt, force, **options) for r in reports]

    def import_each(self, paths: Iterable[Path], fmt: str = "auto", force: bool = False,
                    **options: Any) -> list[list[ImportReport]]:
        """Import the paths together (small files written a group at a time); the reports of each
        path, in order: a folder or a .zip has one per file."""
        check_encoding(options.get("encoding") or "utf-8")
        each: list[list[ImportReport]] = []
        relax_gc()
        # Which inputs were read before, asked once for all of them (a folder of daily files: one query
        # a file cost ~20 ms each).
        self._imported = None if force else imported_inputs(self.store)
        try:
            for path in paths:
                reports: list[ImportReport] = []
                each.append(reports)
                if not path.exists():
                    reports.append(ImportReport(str(path), skipped=f"{path} does not exist", failed=True))
                    continue
                for source in expand_inputs(path):
                    report = self.import_input(source, fmt, force, **options)
                    if report.failed and source.name != str(path) and (report.skipped or "").startswith(NOT_TEXT):
                        report.failed = False  # an image or a program beside the data in a folder or .zip: skipped
                    reports.append(report)
                if not reports:
                    reports.append(ImportReport(str(path), skipped=f"no files to import in {path}", failed=True))
        finally:
            self._imported = None
            self._write_group()  # also on Ctrl-C: the inputs read to their end are stored
        return each

    def _was_imported(self, key: tuple[str, str, str, str]) -> bool:
        if self._imported is not None:
            return key in self._imported
        return already_imported(self.store, *key)

    def import_input(self, source: ArchiveInput, fmt: str = "auto", force: bool = False,
                     **options: Any) -> ImportReport:
        """Read one input to its end (or to an error), storing batch by batch. An unknown ``fmt``
        raises UnknownSourceError, an unknown encoding ImportOptionError. ``prefilter=False``
        parses every line even when the reader could skip those without a target."""
        started = time.perf_counter()
        use_prefilter = options.pop("prefilter", True)
        check_encoding(options.get("encoding") or "utf-8")
        report = ImportReport(source.name)
        reader, refusal = choose_reader(source, fmt, options.get("encoding") or "utf-8")
        if reader is None:
            report.skipped, report.failed = refusal, True
            return report
        report.format = reader.name
        fp = fingerprint(source)
        rules = self.config.rules_version  # the matcher's rule set: a rule change re-reads the file
        read_options = options_fingerprint(reader.name, options)
        key = (fp, rules, source.name, read_options)
        if not force and self._was_imported(key):
            report.skipped = "already imported (unchanged file, same options); use --force to read it again"
            return report
        # The import's row goes with its first batch (and each one after it), the end row after the last.
        meta = {"import_id": new_id(), "path": source.name, "format": reader.name, "fingerprint": fp,
                "rules_version": rules, "started_at": utcnow_naive(), "finished_at": None, "status": "running",
                "records": 0, "posts_new": 0, "posts_seen": 0, "unmatched": 0, "errors": 0, "message": None,
                "options": read_options}
        if not self._targets_synced:  # the config's targets, once an importer
            self.store.sync_targets(targets_table(self.config.targets))
            self._targets_synced = True
        errors = _ErrorLog(report, meta)
        status, message = "complete", None
        try:
            ranges = ranges_of(source, reader, options.get("encoding") or "utf-8", self.pool.workers)
            if ranges is not None:
                self._read_ranges_and_store(reader, source, ranges, options, use_prefilter, errors)
            else:
                prefilter = self.prefilter if use_prefilter else None
                self._read_and_store(reader, source, with_line_filter(reader, prefilter, options), errors)
            status, message = _read_outcome(reader, report)
        except KeyboardInterrupt:
            status, message = "partial", "interrupted"
            raise
        except Exception as exc:  # a reader bug must not lose what was stored: record and go on
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("import of %s failed", source.name)
            report.skipped = f"failed after {report.records} records: {message}"
            report.failed = True
        finally:
            # Bad lines alone leave the status "complete" (they were reported, and the file was read to
            # its end), unless not one record was good. The row's posts_new/posts_seen are summed by
            # the store from the batches as they are applied (rows.COUNTED_ROWS).
            tail, self._tail = self._tail, None
            counted = self._stored_records(meta["import_id"], report) if status == "partial" else {}
            errors.update_meta(finished_at=utcnow_naive(), status=status, message=message, **counted)
            if status == "partial":  # interrupted: the end row now, the rows read since the last write are lost
                end_batch = WriteBatch()
                end_batch.add_rows("imports", [meta])
                errors.flush_into(end_batch)
                self.store.write(end_batch)
            else:
                self._add_to_group(errors, tail)
            report.seconds = time.perf_counter() - started
        if self._imported is not None and status == "complete" and report.records:
            self._imported.add(key)  # the same file named twice in one call is read once, as before
        return report

    def _stored_records(self, import_id: int, report: ImportReport) -> dict[str, int]:
        """After an interrupt, the records the stored import row counted: a batch whose transaction
        committed just before the interrupt is stored, but the report never heard back from its write."""
        import duckdb

        from monitor.store import StoreError

        try:
            with self.store.read(timeout=1.0) as con:
                row = con.execute("SELECT records FROM imports WHERE import_id = ?", [import_id]).fetchone()
        except (StoreError, duckdb.Error):
            return {}
        return {"records": max(int(row[0] or 0), report.records)} if row else {}

    def _read_and_store(self, reader: Reader, source: ArchiveInput, options: dict[str, Any],
                        errors: _ErrorLog) -> None:
        """Batches of posts: each is analysed while the next one is read, then stored."""
        path = errors.report.path
        pending: tuple[PendingPosts, int, float | None] | None = None  # with the share of the input it ends at
        share = 0.0  # of the input's bytes, read up to the batch before
        self._start_share(path)
        for batch in _batches(reader.read(source, **options), errors.add):
            read_to = source.share_read()
            # posts stored already (a resumed import) are not analysed again where that costs
            stored = stored_post_keys(self.store, [p.key for p in batch.posts]) if self.pool.costly else set()
            analysing = analyse_posts(self.pool, batch.posts, self._analysed_ticks(path, share, read_to,
                                                                                  len(batch.posts)), stored)
            share = read_to if read_to is not None else share
            if pending is not None:
                self._save_pending(pending[0], pending[1], errors)
                self._read_share(path, pending[2])
            pending = analysing, batch.skipped, read_to
        if pending is not None:  # the last batch is written with the input's end row (_add_to_group)
            tables, _kept, written = analysed_rows(pending[0], Origin(import_id=errors.import_id))
            self._tail = self._counted_read(_Tail(tables, written), pending[1], errors.report)
            self._read_share(path, pending[2])

    def _read_ranges_and_store(self, reader: Reader, source: ArchiveInput, ranges: list[tuple[int, int]],
                               options: dict[str, Any], use_prefilter: bool, errors: _ErrorLog) -> None:
        """The input's byte ranges read and analysed in the worker processes (``ranges.read_range``),
        a few ahead; their rows stored in the file's order, BATCH_SIZE posts or more a batch."""
        now = utcnow_naive()
        prefilter = use_prefilter and self.prefilter is not None
        queued = deque((str(source.path), start, end, reader.name, options, prefilter, errors.import_id, now)
                       for start, end in ranges)
        in_flight: deque[Future[RangeRows]] = deque()
        batch = RangeBatch()
        newlines = 0
        self._start_share(errors.report.path)
        for index in range(len(ranges)):
            while queued and len(in_flight) <= self.pool.workers:  # each worker busy, and one range ahead
                in_flight.append(self.pool.run(read_range, *queued.popleft()))
            rows = in_flight.popleft().result()
            self._read_share(errors.report.path, ranges[index][1] / max(1, ranges[-1][1]))
            # A range numbers its lines from 1 (see lake_input.RangeInput): the file's line numbers follow.
            rows.shift_lines(newlines + 1 if index else 0)
            newlines += rows.newlines
            if not batch.add(rows):  # a post also in an earlier range of the batch: write that first
                self._save_ranges(batch, errors)
                batch = RangeBatch()
                batch.add(rows)
            if batch.kept >= BATCH_SIZE:
                self._save_ranges(batch, errors)
                batch = RangeBatch()
        if batch.ranges:  # the last batch is written with the input's end row (_add_to_group)
            self._count_range_errors(batch, errors)
            tail = _Tail(batch.tables(), Written(records=batch.records, kept=batch.kept))
            self._tail = self._counted_read(tail, batch.skipped, errors.report)

    def _save_ranges(self, batch: RangeBatch, errors: _ErrorLog) -> None:
        self._count_range_errors(batch, errors)
        self._save(batch.tables(), Written(records=batch.records, kept=batch.kept), batch.skipped, errors)

    @staticmethod
    def _count_range_errors(batch: RangeBatch, errors: _ErrorLog) -> None:
        for rows in batch.ranges:
            for error in rows.errors:
                errors.add(error)
            errors.report.errors += rows.error_count - len(rows.errors)

    def _save_pending(self, pending: PendingPosts, skipped: int, errors: _ErrorLog) -> None:
        tables, _kept, written = analysed_rows(pending, Origin(import_id=errors.import_id))
        self._save(tables, written, skipped, errors)

    def _save(self, tables: dict[str, pa.Table], written: Written, skipped: int, errors: _ErrorLog) -> None:
        """Store a batch's rows (``written`` says what was read) with the import's bookkeeping, and
        count it in the report."""
        report = errors.report
        self._write_group()  # a big input's batches: the small inputs before it wait no longer

        def bookkeeping(batch: WriteBatch) -> None:
            errors.flush_into(batch)
            # The import's row rides with its posts: the store adds what they turn out to be (new
            # or seen) when the batch is applied, also after a wait in the spool.
            errors.update_meta(records=report.records + written.records + skipped)
            batch.add_rows("imports", [errors.meta])

        write_rows(self.store, tables, written, bookkeeping)
        self._counted_read(_Tail(tables, written), skipped, report)
        self._counted_write(report, written)

    def _counted_read(self, tail: _Tail, skipped: int, report: ImportReport) -> _Tail:
        """A batch read (written or not yet) counted in the report; ``skipped`` lines a prefilter
        passed over count as records without a target."""
        report.records += tail.written.records + skipped
        report.unmatched += tail.written.unmatched + skipped
        if self.progress:  # less the posts it counted while they were analysed (_analysed_ticks)
            self.progress(report.path, tail.written.records + skipped - tail.written.shown)
        return tail

    def _start_share(self, path: str) -> None:
        self._shared = (path, 0.0)
        if self.share is not None:
            self.share(path, 0.0)

    def _read_share(self, path: str, share: float | None) -> None:
        """Forward only: a batch's posts move it as they are analysed, before the batch ahead of them is
        written (which says where that one ended)."""
        if self.share is not None and share is not None and path == self._shared[0] and share > self._shared[1]:
            self._shared = (path, share)
            self.share(path, share)

    def _analysed_ticks(self, path: str, share_from: float, share_to: float | None,
                        posts: int) -> Callable[[int], None] | None:
        """The progress counts a batch's posts as they are analysed, where that takes long (the learned
        analyzer), and the rest of what was read when the batch is done (_counted_read). The share of
        the input done moves from where the batch starts in the file to where it ends, as its posts are."""
        progress = self.progress
        if progress is None:
            return None
        done = 0

        def analysed(n: int) -> None:
            nonlocal done
            done += n
            progress(path, n)
            if share_to is not None:
                self._read_share(path, share_from + (share_to - share_from) * min(1.0, done / max(1, posts)))

        return analysed

    @staticmethod
    def _counted_write(report: ImportReport, written: Written) -> None:
        report.posts_new += written.posts_new
        report.posts_seen += written.posts_seen
        report.posts_spooled += written.posts_spooled
        report.spooled = report.spooled or written.spooled

    def _add_to_group(self, errors: _ErrorLog, tail: _Tail | None) -> None:
        """An input's end row and last batch join the group of inputs to write together."""
        if self._group is not None and not self._group.fits(tail):
            self._write_group()
        if self._group is None:
            self._group = _FileGroup()
        self._group.add(errors, tail)
        if self._group.due():
            self._write_group()

    def _write_group(self) -> None:
        """Write the group in one transaction; each input's report gets its own posts' counts."""
        group, self._group = self._group, None
        if group is None or not group.files:
            return
        for table, rows in group.rows.items():
            group.batch.add_rows(table, rows)
        result = self.store.write(group.batch)
        for report, import_id, written in group.files:
            if result.spooled:
                written.spooled, written.posts_spooled = True, written.kept
            elif "imports" in result.counted:  # several inputs: each its own
                written.posts_new, written.posts_seen = result.counted["imports"].get(import_id, (0, 0))
            else:
                written.posts_new, written.posts_seen = result.posts_new, result.posts_seen
            self._counted_write(report, written)


def _read_outcome(reader: Reader, report: ImportReport) -> tuple[str, str | None]:
    """(status, message) of an input read to its end: failed when not one record was good (every
    record bad, or none at all), unless its reader reads nothing on purpose."""
    if report.records:
        return "complete", None
    if report.errors:
        first = report.error_samples[0] if report.error_samples else None
        why = f"; the first: {first}" if first is not None else ""
        reason = f"no post could be read ({report.errors} bad records){why}"
    elif NOTHING_TO_IMPORT in reader.description.lower():
        return "complete", None
    else:
        reason = f"no posts in this file (read as {reader.name})"
    report.skipped, report.failed = reason, True
    return "failed", reason


class _ErrorLog:
    """Bad records of one input: counted, the first MAX_STORED_ERRORS kept as samples and stored
    (in the next batch written) in import_errors. Holds the input's ``imports`` row too."""

    def __init__(self, report: ImportReport, meta: dict[str, Any]):
        self.report = report
        self.meta = meta
        self.import_id: int = meta["import_id"]
        self.pending: list[RecordError] = []

    def update_meta(self, **values: Any) -> None:
        """The imports row with the report's counts (and ``values``)."""
        report = self.report
        self.meta.update(records=report.records, posts_new=report.posts_new, posts_seen=report.posts_seen,
                         unmatched=report.unmatched, errors=report.errors)
        self.meta.update(values)

    def add(self, err: RecordError) -> None:
        self.report.errors += 1
        if len(self.report.error_samples) < MAX_STORED_ERRORS:
            self.report.error_samples.append(err)
            self.pending.append(err)
        log.debug("%s", err)

    def take_rows(self) -> list[dict[str, Any]]:
        """The import_errors rows of the bad records not stored yet."""
        now = utcnow_naive()
        rows = [{"import_id": self.import_id, "file": e.file, "line": e.line, "field": e.field, "reason": e.reason,
                 "logged_at": now} for e in self.pending]
        self.pending.clear()
        return rows

    def flush_into(self, batch: WriteBatch) -> None:
        batch.add_rows("import_errors", self.take_rows())

"""Import archives: read posts, analyse them in worker processes, write batches to DuckDB.

Reading the next batch overlaps with scoring the previous one, and each batch is one short write
transaction, so a 10 GB archive streams through in constant memory and never holds the lock long.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import Config
from monitor.ingest.pool import AnalysisPool, relax_gc
from monitor.ingest.write import Origin, PendingPosts, analyse_posts, write_posts
from monitor.models import Post
from monitor.sources.api import Reader, load_sources
from monitor.sources.base import ArchiveInput, RecordError, expand_inputs
from monitor.store import Store, WriteBatch
from monitor.store.queries import already_imported
from monitor.store.rows import new_id, targets_table, utcnow_naive

log = logging.getLogger(__name__)

BATCH_SIZE = 20000  # posts per write transaction: opening, committing and checkpointing cost ~0.1 s each time
MAX_STORED_ERRORS = 1000  # per input; the count is always exact


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
    skipped: str | None = None  # reason, when the input was not read (or not to its end)
    failed: bool = False  # missing, not recognised, or stopped by an error (not: already imported)
    seconds: float = 0.0
    spooled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "records": self.records, "posts_new": self.posts_new,
            "posts_seen": self.posts_seen, "unmatched": self.unmatched, "errors": self.errors,
            "error_samples": [str(e) for e in self.error_samples[:20]], "skipped": self.skipped,
            "failed": self.failed, "seconds": round(self.seconds, 3), "spooled": self.spooled,
        }


def fingerprint(source: ArchiveInput) -> str:
    """Cheap content fingerprint: size plus the first and last MiB (hashing 10 GB twice is not cheap)."""
    h = hashlib.sha256()
    size = source.path.stat().st_size
    h.update(f"{size}:{source.member or ''}".encode())
    with open(source.path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), 2)
            h.update(fh.read())
    return h.hexdigest()[:32]


def _chunks(items: Iterable[Post | RecordError], size: int, on_error: Callable[[RecordError], None]) -> Iterator[
    list[Post]
]:
    batch: list[Post] = []
    for item in items:
        if isinstance(item, RecordError):
            on_error(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Importer:
    """Imports inputs into a store with one analysis pool (reused across files)."""

    def __init__(self, config: Config, store: Store, pool: AnalysisPool | None = None,
                 progress: Callable[[str, int], None] | None = None):
        self.config = config
        self.store = store
        self.pool = pool or AnalysisPool(config, store.data_dir / "models")
        self.progress = progress

    def import_paths(self, paths: Iterable[Path], fmt: str = "auto", force: bool = False,
                     **options: Any) -> list[ImportReport]:
        reports: list[ImportReport] = []
        relax_gc()
        for path in paths:
            if not path.exists():
                reports.append(ImportReport(str(path), skipped=f"{path} does not exist", failed=True))
                continue
            for source in expand_inputs(path):
                reports.append(self.import_input(source, fmt, force, **options))
        return reports

    def import_input(self, source: ArchiveInput, fmt: str = "auto", force: bool = False,
                     **options: Any) -> ImportReport:
        """Read one input to its end (or to an error), storing batch by batch. An unknown ``fmt``
        raises UnknownSourceError."""
        started = time.perf_counter()
        report = ImportReport(source.name)
        registry = load_sources()
        reader = registry.detect_format(source) if fmt == "auto" else registry.reader(fmt)
        if reader is None:
            report.skipped = "format not recognised; pass --format (see `monitor import --help` for the list)"
            report.failed = True
            return report
        report.format = reader.name
        fp = fingerprint(source)
        rules = self.config.rules_version  # the matcher's rule set: a rule change re-reads the file
        if not force and already_imported(self.store, fp, rules, source.name):
            report.skipped = "already imported (unchanged file); use --force to read it again"
            return report
        meta = {"import_id": new_id(), "path": source.name, "format": reader.name, "fingerprint": fp,
                "rules_version": rules, "started_at": utcnow_naive(), "finished_at": None, "status": "running",
                "records": 0, "posts_new": 0, "posts_seen": 0, "unmatched": 0, "errors": 0, "message": None}
        self.store.sync_targets(targets_table(self.config.targets))
        self._write_rows("imports", [meta])
        status, message = "complete", None
        errors = _ErrorLog(report, meta["import_id"])
        try:
            self._read_and_store(reader, source, options, errors, meta["import_id"])
        except KeyboardInterrupt:
            status, message = "partial", "interrupted"
            raise
        except Exception as exc:  # a reader bug must not lose what was stored: record and go on
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("import of %s failed", source.name)
            report.skipped = f"failed after {report.records} records: {message}"
            report.failed = True
        finally:
            # Bad lines alone leave the status "complete": they were reported, and the file was read to its end.
            meta.update(finished_at=utcnow_naive(), status=status, records=report.records,
                        posts_new=report.posts_new, posts_seen=report.posts_seen, unmatched=report.unmatched,
                        errors=report.errors, message=message)
            end_batch = WriteBatch()
            end_batch.add_rows("imports", [meta])
            errors.flush_into(end_batch)
            self.store.write(end_batch)
            report.seconds = time.perf_counter() - started
        return report

    def _read_and_store(self, reader: Reader, source: ArchiveInput, options: dict[str, Any], errors: _ErrorLog,
                        import_id: int) -> None:
        """Batches of posts: each is analysed while the next one is read, then stored."""
        pending: PendingPosts | None = None
        for posts in _chunks(reader.read(source, **options), BATCH_SIZE, errors.add):
            analysing = analyse_posts(self.pool, posts)
            if pending is not None:
                self._save(pending, import_id, errors)
            pending = analysing
        if pending is not None:
            self._save(pending, import_id, errors)

    def _save(self, pending: PendingPosts, import_id: int, errors: _ErrorLog) -> None:
        written = write_posts(self.store, pending, Origin(import_id=import_id),
                              lambda batch, _kept: errors.flush_into(batch))
        report = errors.report
        report.records += written.records
        report.unmatched += written.unmatched
        report.posts_new += written.posts_new
        report.posts_seen += written.posts_seen
        report.spooled = report.spooled or written.spooled
        if self.progress:
            self.progress(report.path, written.records)

    def _write_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        batch = WriteBatch()
        batch.add_rows(table, rows)
        self.store.write(batch)


class _ErrorLog:
    """Bad records of one input: counted, the first MAX_STORED_ERRORS kept as samples and stored
    (in the next batch written) in import_errors."""

    def __init__(self, report: ImportReport, import_id: int):
        self.report = report
        self.import_id = import_id
        self.pending: list[RecordError] = []

    def add(self, err: RecordError) -> None:
        self.report.errors += 1
        if len(self.report.error_samples) < MAX_STORED_ERRORS:
            self.report.error_samples.append(err)
            self.pending.append(err)
        log.debug("%s", err)

    def flush_into(self, batch: WriteBatch) -> None:
        if self.pending:
            now = utcnow_naive()
            batch.add_rows("import_errors", [
                {"import_id": self.import_id, "file": e.file, "line": e.line, "field": e.field, "reason": e.reason,
                 "logged_at": now} for e in self.pending])
            self.pending.clear()

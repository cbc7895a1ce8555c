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

from monitor.analysis.pipeline import AnalysedBatch, AnalysisPool, relax_gc
from monitor.config import Config
from monitor.models import Post
from monitor.sources.base import READERS, ArchiveInput, RecordError, detect_format, expand_inputs
from monitor.store import Store, StoreError, StoreLocked, WriteBatch
from monitor.store.rows import dedupe_posts, new_id, posts_table, targets_table, utcnow_naive

log = logging.getLogger(__name__)

BATCH_SIZE = 20000  # posts per write transaction: opening, committing and checkpointing cost ~0.1 s each time
MAX_STORED_ERRORS = 1000  # per input; the count is always exact


class ImportError_(Exception):
    pass


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
        started = time.perf_counter()
        report = ImportReport(source.name)
        if fmt == "auto":
            reader = detect_format(source)
            if reader is None:
                report.skipped = ("format not recognised; pass --format (see `monitor import --help` for the list)")
                report.failed = True
                return report
        else:
            from monitor.sources import load_builtin_readers

            load_builtin_readers()
            if fmt not in READERS:
                raise ImportError_(f"unknown format '{fmt}'; known: {', '.join(sorted(READERS))}")
            reader = READERS[fmt]
        report.format = reader.name
        print_name = source.name
        fp = fingerprint(source)
        rules = self.config.rules_version  # the matcher's rule set: a rule change re-reads the file
        if not force and self._already_imported(fp, rules, print_name):
                report.skipped = "already imported (unchanged file); use --force to read it again"
                return report
        import_id = new_id()
        meta = {"import_id": import_id, "path": print_name, "format": reader.name, "fingerprint": fp,
                "rules_version": rules, "started_at": utcnow_naive(), "finished_at": None, "status": "running",
                "records": 0, "posts_new": 0, "posts_seen": 0, "unmatched": 0, "errors": 0, "message": None}
        self.store.sync_targets(targets_table(self.config.targets))
        start_batch = WriteBatch()
        start_batch.add_rows("imports", [meta])
        self.store.write(start_batch)
        pending_errors: list[RecordError] = []

        def on_error(err: RecordError) -> None:
            report.errors += 1
            if len(report.error_samples) < MAX_STORED_ERRORS:
                report.error_samples.append(err)
                pending_errors.append(err)
            log.debug("%s", err)

        status, message = "complete", None
        pending: tuple[list[Post], Callable[[], AnalysedBatch]] | None = None
        try:
            for posts in _chunks(reader.read(source, **options), BATCH_SIZE, on_error):
                posts = dedupe_posts(posts)
                waiter = self.pool.submit([(p.key, p.text, p.lang) for p in posts])
                if pending is not None:
                    self._save(pending[0], pending[1](), import_id, report, pending_errors)
                pending = (posts, waiter)
            if pending is not None:
                self._save(pending[0], pending[1](), import_id, report, pending_errors)
                pending = None
        except KeyboardInterrupt:
            status, message = "partial", "interrupted"
            raise
        except Exception as exc:  # a reader bug must not lose what was stored: record and go on
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("import of %s failed", print_name)
            report.skipped = f"failed after {report.records} records: {message}"
            report.failed = True
        finally:
            if report.errors and status == "complete":
                status = "complete"  # bad lines were reported and skipped; the file was read to its end
            meta.update(finished_at=utcnow_naive(), status=status, records=report.records,
                        posts_new=report.posts_new, posts_seen=report.posts_seen, unmatched=report.unmatched,
                        errors=report.errors, message=message)
            end_batch = WriteBatch()
            end_batch.add_rows("imports", [meta])
            self._add_errors(end_batch, import_id, pending_errors)
            self.store.write(end_batch)
            report.seconds = time.perf_counter() - started
        return report

    def _already_imported(self, fp: str, rules: str, path: str) -> bool:
        try:
            with self.store.read(timeout=1.0) as con:
                return con.execute(
                    "SELECT 1 FROM imports WHERE fingerprint = ? AND rules_version = ? AND status = 'complete'"
                    " AND path = ? LIMIT 1", [fp, rules, path]).fetchone() is not None
        except (StoreLocked, StoreError):
            return False  # cannot tell now (no database yet, or locked): read it; stored posts are not duplicated

    def _save(self, posts: list[Post], analysed: AnalysedBatch, import_id: int, report: ImportReport,
              pending_errors: list[RecordError]) -> None:
        kept_posts = [post for post, keep in zip(posts, analysed.keep, strict=True) if keep]
        report.records += len(posts)
        report.unmatched += len(posts) - len(kept_posts)
        batch = WriteBatch()
        if kept_posts:
            batch.add("posts", posts_table(kept_posts, import_id=import_id))
            for table, data in analysed.tables.items():
                batch.add(table, data)
        self._add_errors(batch, import_id, pending_errors)
        if batch:
            result = self.store.write(batch)
            report.posts_new += result.posts_new
            report.posts_seen += result.posts_seen
            report.spooled = report.spooled or result.spooled
        if self.progress:
            self.progress(report.path, len(posts))

    @staticmethod
    def _add_errors(batch: WriteBatch, import_id: int, pending: list[RecordError]) -> None:
        if pending:
            now = utcnow_naive()
            batch.add_rows("import_errors", [
                {"import_id": import_id, "file": e.file, "line": e.line, "field": e.field, "reason": e.reason,
                 "logged_at": now} for e in pending])
            pending.clear()

"""Analysis in worker processes: VADER and the rules are pure Python, so large batches are
scored in processes (threads would not help), one analyzer per process. Workers send back Arrow
tables rather than ``Analysis`` objects: pickling those cost more than scoring them."""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from monitor.analysis import batch
from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.batch import AnalysedBatch, relax_gc
from monitor.analysis.pipeline import Analyzer
from monitor.analysis.stamps import LEARNED
from monitor.config import Config
from monitor.ingest.rows import TABLE_SCHEMAS
from monitor.store.rows import utcnow_naive

T = TypeVar("T")

__all__ = ["AnalysedBatch", "AnalysisPool", "analyse_batch", "relax_gc", "sigterm_as_interrupt"]


def analyse_batch(analyzer: Analyzer, items: Sequence[tuple[str, str, str | None]],
                  keep_all: bool = False, words: bool = False) -> AnalysedBatch:
    """Analyse (key, text, lang) items in this process (see ``monitor.analysis.batch``)."""
    return batch.analyse_batch(analyzer, items, keep_all, TABLE_SCHEMAS, utcnow_naive(), words)


class AnalysisPool:
    """Analyses batches in worker processes when they are big enough to pay for it."""

    MIN_PARALLEL = 400
    # Items per task. Small enough that a worker's working set stays small (a 5,000-item task held
    # ~20 MiB more per worker) and both workers stay busy to the end of a batch; large enough that
    # sending tasks and results costs little.
    CHUNK_ITEMS = 1000

    def __init__(self, config: Config, models_dir: Path | None = None, workers: int | None = None,
                 analyzer: str | None = None):
        self.config = config
        self.models_dir = models_dir
        self.analyzer = analyzer  # None: the config's analysis.analyzer
        wanted = workers if workers is not None else config.analysis.workers
        self.workers = wanted or self.auto_workers(analyzer or config.analysis.analyzer)
        self._local: Analyzer | None = None
        self._pool: ProcessPoolExecutor | None = None

    @staticmethod
    def auto_workers(analyzer: str) -> int:
        """Processes when the config says 0 ("auto"): one per CPU for VADER and the rules (pure
        Python, one core each). One for the learned analyzer: its model already runs a thread per
        core, with the GIL released, and each process holds its own copy of the model (~170 MiB):
        two processes took more time than one (75 s against 59 s for 2,000 tweets on 2 busy cores)
        and 535 MiB against 298."""
        return 1 if analyzer == LEARNED else (os.cpu_count() or 1)

    @property
    def costly(self) -> bool:
        """Whether a post's analysis costs more than looking up whether it is stored already: the learned
        analyzer's ~10-25 ms a post here, against ~20 ms for a batch's look-up; VADER's ~0.1 ms does not."""
        return (self.analyzer or self.config.analysis.analyzer) == LEARNED

    @property
    def local(self) -> Analyzer:
        if self._local is None:
            self._local = make_analyzer(self.config, self.models_dir, self.analyzer)
        return self._local

    def analyse(self, items: list[tuple[str, str, str | None]], keep_all: bool = False,
                progress: Callable[[int], None] | None = None) -> AnalysedBatch:
        return self.submit(items, keep_all, progress=progress)()

    def submit(self, items: list[tuple[str, str, str | None]], keep_all: bool = False, words: bool = False,
               progress: Callable[[int], None] | None = None) -> Callable[[], AnalysedBatch]:
        """Start analysing (key, text, lang) items; returns a callable that waits for the result.
        Large batches go to worker processes in chunks, so reading the next batch overlaps.
        ``words``: with the words of each kept post (``post_words``) for the writer's rollups.
        ``progress(n)``: called as items are analysed here, in this process (see ``LOCAL_CHUNK_ITEMS``)."""
        if self.workers <= 1 or len(items) < self.MIN_PARALLEL:
            result = self._analyse_here(items, keep_all, words, progress)
            return lambda: result
        pool = self._ensure_pool()
        size = min(self.CHUNK_ITEMS, max(50, len(items) // (self.workers * 2) + 1))
        now = utcnow_naive()
        futures = [pool.submit(batch.analyse_chunk, items[i:i + size], keep_all, now, words)
                   for i in range(0, len(items), size)]
        return lambda: _joined([fut.result() for fut in futures])

    # Items analysed at a time in this process when someone follows the progress: the learned analyzer
    # (one process) scores ~75-500 posts a second here (2 cores), and a 5,000-post batch in one call showed no
    # progress for a minute ("0/? posts"). Rows are per item: chunks give the same rows as one call.
    LOCAL_CHUNK_ITEMS = 250

    def _analyse_here(self, items: list[tuple[str, str, str | None]], keep_all: bool, words: bool,
                      progress: Callable[[int], None] | None) -> AnalysedBatch:
        if progress is None or len(items) <= self.LOCAL_CHUNK_ITEMS:
            result = analyse_batch(self.local, items, keep_all, words)
            if progress is not None:
                progress(len(items))
            return result
        parts = []
        for i in range(0, len(items), self.LOCAL_CHUNK_ITEMS):
            chunk = items[i:i + self.LOCAL_CHUNK_ITEMS]
            parts.append(analyse_batch(self.local, chunk, keep_all, words))
            progress(len(chunk))
        return _joined(parts)

    def run(self, task: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``task(*args)`` in a worker process, whose analyzer ``batch.worker_state`` gives."""
        return self._ensure_pool().submit(task, *args)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=get_context("spawn"),
                # Defined in the analysis layer: a worker imports no store, sources or DuckDB.
                initializer=batch.init_worker,
                initargs=(self.config, self.models_dir, self.analyzer, max(1, (os.cpu_count() or 1) // self.workers),
                          os.getpid(), TABLE_SCHEMAS),
            )
            atexit.register(self.close)
        return self._pool

    def close(self, abandon: bool = False) -> None:
        """End the worker processes once their work is done, or, with ``abandon`` (an import stopped by
        Ctrl-C, SIGTERM or an error), at once: waiting for each worker's chunk in hand kept a stopped
        import alive for seconds (3 s for VADER's chunks; the learned analyzer's take longer)."""
        if self._pool is None:
            return
        if abandon:
            _terminate_workers(self._pool)
        self._pool.shutdown(cancel_futures=True)
        self._pool = None


def _joined(parts: list[AnalysedBatch]) -> AnalysedBatch:
    """The analysis of consecutive chunks of a batch as one."""
    return AnalysedBatch([k for part in parts for k in part.keep],
                         {name: pa.concat_tables([part.tables[name] for part in parts]) for name in parts[0].tables})


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # before 3.14: its processes
        process.terminate()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does: an
    import stopped by ``kill`` then records itself as interrupted and closes its pool, instead of
    dying mid-batch (the workers would end anyway: ``batch._exit_with_parent``). Does nothing outside
    the main thread or where a SIGTERM handler is set already (the daemon's)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

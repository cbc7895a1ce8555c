"""Analysis in worker processes: VADER and the rules are pure Python, so large batches are
scored in processes (threads would not help), one analyzer per process. Workers send back Arrow
tables rather than ``Analysis`` objects: pickling those cost more than scoring them."""

from __future__ import annotations

import atexit
import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa

from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.pipeline import Analysis, Analyzer, ensure_language
from monitor.config import Config
from monitor.ingest.rows import AnalyzerInfo, analysis_tables


@dataclass(slots=True)
class AnalysedBatch:
    """A batch's analysis as the store takes it: which items to keep, and their analysis rows
    (Arrow tables ``mentions``, ``post_sentiment``, ``target_scores``) for the kept ones. Workers
    send tables rather than ``Analysis`` objects: pickling those cost more than scoring them."""

    keep: list[bool]
    tables: dict[str, pa.Table]


def analyse_batch(analyzer: Analyzer, items: Sequence[tuple[str, str, str | None]],
                  keep_all: bool = False) -> AnalysedBatch:
    """Analyse (key, text, lang) items. Kept: matched posts, unmatched ones too when the config
    stores them, everything with ``keep_all`` (re-scoring posts already stored)."""
    # Archives repeat texts (every retweet of a tweet reads "RT @user: ..."): each distinct text is
    # analysed once per batch, and its analysis serves every post that has it.
    unique = list(dict.fromkeys((text, lang) for _, text, lang in items))
    done: dict[tuple[str, str | None], Analysis] = dict(zip(unique, analyzer.analyse_many(unique), strict=True))
    analyses = [done[(text, lang)] for _, text, lang in items]
    keep_all = keep_all or analyzer.config.analysis.store_unmatched
    if keep_all:  # unmatched posts are stored too: their language, which the analyzer did not guess
        for (text, _lang), analysis in done.items():
            ensure_language(analysis, text)
    keep = [keep_all or a.matched for a in analyses]
    kept = [(item[0], a) for item, a, k in zip(items, analyses, keep, strict=True) if k]
    tables = analysis_tables([k for k, _ in kept], [a for _, a in kept], AnalyzerInfo.of(analyzer))
    return AnalysedBatch(keep, tables)


def relax_gc(freeze: bool = False) -> None:
    """For processes that analyse big batches. Analysis allocates millions of short-lived objects
    (freed by reference counting, not the cycle collector); with the default threshold (700
    allocations) the collector walked the heap so often it took ~15% of an import's CPU.
    ``freeze`` also moves the objects alive now (lexicons, compiled rules) out of its scans: only
    for worker processes, once, as frozen cycles are never freed (a daemon must not freeze twice)."""
    gc.set_threshold(50_000, 20, 50)
    if freeze:
        gc.freeze()


_worker_analyzer: Analyzer | None = None


PARENT_POLL_SECONDS = 0.2


def _exit_with_parent(parent: int) -> None:
    """In a worker: end this process as soon as the process that started it is gone. A parent
    killed by SIGTERM (or SIGKILL) runs no clean-up, and idle workers wait on their task queue
    forever: nothing else would ever end them."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)  # no clean-up is owed: the parent that wanted the results is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(config: Config, models_dir: Path | None, analyzer: str | None, threads: int,
                 parent: int | None = None) -> None:
    global _worker_analyzer
    # Ctrl-C reaches the whole process group: the parent handles it (stops reading, marks the import
    # partial, shuts the pool); a worker interrupted mid-task would only break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent if parent is not None else os.getppid())
    _worker_analyzer = make_analyzer(config, models_dir, analyzer, threads=threads)
    relax_gc(freeze=True)


def _analyse_chunk(items: list[tuple[str, str, str | None]], keep_all: bool) -> AnalysedBatch:
    assert _worker_analyzer is not None
    return analyse_batch(_worker_analyzer, items, keep_all)


class AnalysisPool:
    """Analyses batches in worker processes when they are big enough to pay for it."""

    MIN_PARALLEL = 400

    def __init__(self, config: Config, models_dir: Path | None = None, workers: int | None = None,
                 analyzer: str | None = None):
        self.config = config
        self.models_dir = models_dir
        self.analyzer = analyzer  # None: the config's analysis.analyzer
        wanted = workers if workers is not None else config.analysis.workers
        self.workers = wanted or (os.cpu_count() or 1)
        self._local: Analyzer | None = None
        self._pool: ProcessPoolExecutor | None = None

    @property
    def local(self) -> Analyzer:
        if self._local is None:
            self._local = make_analyzer(self.config, self.models_dir, self.analyzer)
        return self._local

    def analyse(self, items: list[tuple[str, str, str | None]], keep_all: bool = False) -> AnalysedBatch:
        return self.submit(items, keep_all)()

    def submit(self, items: list[tuple[str, str, str | None]], keep_all: bool = False) -> Callable[[], AnalysedBatch]:
        """Start analysing (key, text, lang) items; returns a callable that waits for the result.
        Large batches go to worker processes in chunks, so reading the next batch overlaps."""
        if self.workers <= 1 or len(items) < self.MIN_PARALLEL:
            result = analyse_batch(self.local, items, keep_all)
            return lambda: result
        pool = self._ensure_pool()
        size = max(50, len(items) // (self.workers * 2) + 1)
        futures = [pool.submit(_analyse_chunk, items[i:i + size], keep_all) for i in range(0, len(items), size)]

        def wait() -> AnalysedBatch:
            parts = [fut.result() for fut in futures]
            return AnalysedBatch([k for part in parts for k in part.keep],
                                 {name: pa.concat_tables([part.tables[name] for part in parts])
                                  for name in parts[0].tables})

        return wait

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.config, self.models_dir, self.analyzer, max(1, (os.cpu_count() or 1) // self.workers),
                          os.getpid()),
            )
            atexit.register(self.close)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does: an
    import stopped by ``kill`` then records itself as interrupted and closes its pool, instead of
    dying mid-batch (the workers would end anyway, see ``_exit_with_parent``). Does nothing outside
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

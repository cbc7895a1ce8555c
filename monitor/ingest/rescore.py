"""Recompute matches and scores from stored posts after the config or a scorer changed,
without collecting again. Posts whose stored analysis carries other rule or scorer versions than
the current ones are re-analysed (or all of them, with ``everything``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.ingest.pool import AnalysisPool
from monitor.ingest.rows import AnalyzerInfo
from monitor.ingest.write import write_rescored
from monitor.store import Store
from monitor.store.schema import sql_string

CHUNK = 50_000  # posts a write: each write scans the analysis tables once (5,000: 1M posts took 375 s, now 153 s)


COPY_PREFIX = "rescore-"  # + the pid of the rescore that made it


def remove_abandoned_copies(data_dir: Path) -> None:
    """The copies left by a rescore that was killed (SIGKILL, a power cut: nothing removed its folder),
    as big as the posts' texts. A folder whose process is still running belongs to a rescore in
    progress and stays."""
    for folder in Path(data_dir).glob(f"{COPY_PREFIX}*"):
        pid = folder.name.removeprefix(COPY_PREFIX).partition("-")[0]
        if folder.is_dir() and not (pid.isdigit() and _running(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@dataclass
class RescoreReport:
    candidates: int = 0
    rescored: int = 0
    mentions_before: int = 0
    mentions_after: int = 0


def _counting(report: RescoreReport, progress: Callable[[int, int], None] | None) -> Callable[[int], None] | None:
    """The progress of a chunk's analysis, where it runs in this process (the learned analyzer: a
    50,000-post chunk takes minutes there): the posts rescored so far plus those analysed since."""
    if progress is None:
        return None
    analysed = report.rescored

    def count(n: int) -> None:
        nonlocal analysed
        analysed += n
        progress(analysed, report.candidates)

    return count


def stale_posts_query(everything: bool) -> str:
    """The posts to score again: all, or those whose stored analysis has another version."""
    if everything:
        return "SELECT post_key, text, lang FROM posts"
    return """
        SELECT p.post_key, p.text, p.lang FROM posts p
        LEFT JOIN post_sentiment s USING (post_key)
        WHERE s.post_key IS NULL OR s.scorer_version <> $sentiment_version
           OR s.rules_version IS DISTINCT FROM $rules
           OR EXISTS (SELECT 1 FROM target_scores t LEFT JOIN current_stance c USING (target_id)
                      WHERE t.post_key = p.post_key AND t.stance_scorer_version IS DISTINCT FROM c.version)
    """


def rescore(store: Store, pool: AnalysisPool, everything: bool = False,
            progress: Callable[[int, int], None] | None = None) -> RescoreReport:
    """The stale posts are copied once to a Parquet file beside the database, then read from it a
    chunk at a time and written back: the database is not held open between chunks (the writer
    needs it), and it is scanned once. (Each chunk used to look its keys up in the whole posts
    table: 1M posts took 324 s, 10M would have taken days; and every stale key was held in memory.)"""
    analyzer = pool.local
    info = AnalyzerInfo.of(analyzer)
    current = {t.id: analyzer.stance_version(t.id) for t in analyzer.config.targets}
    report = RescoreReport()
    remove_abandoned_copies(store.data_dir)
    with tempfile.TemporaryDirectory(prefix=f"{COPY_PREFIX}{os.getpid()}-", dir=store.data_dir) as folder:
        stale = Path(folder) / "stale.parquet"
        with store.read() as con:
            con.register("current_stance", pa.table({"target_id": list(current), "version": list(current.values())}))
            params = {} if everything else {"sentiment_version": info.sentiment_version, "rules": info.rules_version}
            con.execute(f"COPY ({stale_posts_query(everything)}) TO {sql_string(stale)} (FORMAT parquet)", params)
            report.mentions_before = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
        parquet = pq.ParquetFile(stale)
        report.candidates = parquet.metadata.num_rows
        for batch in parquet.iter_batches(batch_size=CHUNK, columns=["post_key", "text", "lang"]):
            rows = list(zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True))
            write_rescored(store, [r[0] for r in rows], pool.analyse(rows, keep_all=True,
                                                                     progress=_counting(report, progress)))
            report.rescored += len(rows)
            if progress:
                progress(report.rescored, report.candidates)
    if report.rescored:
        store.refresh_summary_candidates()  # each rescored post left them and came back
    with store.read() as con:
        report.mentions_after = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
    return report

"""Recompute matches and scores from stored posts after the config or a scorer changed,
without collecting again. Posts whose stored analysis carries other rule or scorer versions than
the current ones are re-analysed (or all of them, with ``everything``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from monitor.ingest.pool import AnalysisPool
from monitor.ingest.rows import AnalyzerInfo
from monitor.ingest.write import write_rescored
from monitor.store import Store

CHUNK = 5000


@dataclass
class RescoreReport:
    candidates: int = 0
    rescored: int = 0
    mentions_before: int = 0
    mentions_after: int = 0


def stale_keys_query(everything: bool) -> str:
    if everything:
        return "SELECT post_key FROM posts ORDER BY post_key"
    return """
        SELECT p.post_key FROM posts p
        LEFT JOIN post_sentiment s USING (post_key)
        WHERE s.post_key IS NULL OR s.scorer_version <> $sentiment_version
           OR s.rules_version IS DISTINCT FROM $rules
           OR EXISTS (SELECT 1 FROM target_scores t LEFT JOIN current_stance c USING (target_id)
                      WHERE t.post_key = p.post_key AND t.stance_scorer_version IS DISTINCT FROM c.version)
        ORDER BY p.post_key
    """


def rescore(store: Store, pool: AnalysisPool, everything: bool = False,
            progress: Callable[[int, int], None] | None = None) -> RescoreReport:
    analyzer = pool.local
    info = AnalyzerInfo.of(analyzer)
    current = {t.id: analyzer.stance_version(t.id) for t in analyzer.config.targets}
    report = RescoreReport()
    with store.read() as con:
        con.register("current_stance", pa.table({"target_id": list(current), "version": list(current.values())}))
        params = {} if everything else {"sentiment_version": info.sentiment_version, "rules": info.rules_version}
        keys = [r[0] for r in con.execute(stale_keys_query(everything), params).fetchall()]
        report.mentions_before = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
    report.candidates = len(keys)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        with store.read() as con:
            con.register("wanted", pa.table({"post_key": chunk}))
            rows = con.execute("SELECT post_key, text, lang FROM posts SEMI JOIN wanted USING (post_key) "
                               "ORDER BY post_key").fetchall()
        write_rescored(store, [r[0] for r in rows], pool.analyse(rows, keep_all=True))
        report.rescored += len(rows)
        if progress:
            progress(report.rescored, len(keys))
    if report.rescored:
        store.refresh_summary_candidates()  # each rescored post left them and came back
    with store.read() as con:
        report.mentions_after = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
    return report

"""Turning analyses into table rows: the mentions, post_sentiment and target_scores tables, each
row stamped with the scorer and rules versions that made it. The rows are built by
``monitor.analysis.batch`` (in worker processes, which import no store); the store's schemas and
clock come from here."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from monitor.analysis import batch
from monitor.analysis.batch import AnalyzerInfo
from monitor.analysis.pipeline import Analysis
from monitor.store.rows import (
    MENTIONS_SCHEMA,
    POST_WORDS_SCHEMA,
    SENTIMENT_SCHEMA,
    TARGET_SCORES_SCHEMA,
    utcnow_naive,
)

__all__ = ["TABLE_SCHEMAS", "AnalyzerInfo", "analysis_tables"]

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    batch.MENTIONS: MENTIONS_SCHEMA, batch.POST_SENTIMENT: SENTIMENT_SCHEMA, batch.TARGET_SCORES: TARGET_SCORES_SCHEMA,
    batch.POST_WORDS: POST_WORDS_SCHEMA,
}


def analysis_tables(keys: Sequence[str], analyses: Sequence[Analysis], analyzer_info: AnalyzerInfo) -> dict[
    str, pa.Table
]:
    return batch.analysis_tables(keys, analyses, analyzer_info, TABLE_SCHEMAS, utcnow_naive())

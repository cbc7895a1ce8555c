"""Turning analyses into table rows: the mentions, post_sentiment and target_scores tables, each
row stamped with the scorer and rules versions that made it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from monitor.analysis.pipeline import Analysis, Analyzer
from monitor.store.rows import MENTIONS_SCHEMA, SENTIMENT_SCHEMA, TARGET_SCORES_SCHEMA, utcnow_naive


def analysis_tables(keys: Sequence[str], analyses: Sequence[Analysis], analyzer_info: AnalyzerInfo) -> dict[
    str, pa.Table
]:
    now = utcnow_naive()
    mentions: dict[str, list[Any]] = {n: [] for n in MENTIONS_SCHEMA.names}
    sentiment: dict[str, list[Any]] = {n: [] for n in SENTIMENT_SCHEMA.names}
    scores: dict[str, list[Any]] = {n: [] for n in TARGET_SCORES_SCHEMA.names}
    for key, a in zip(keys, analyses, strict=True):
        sentiment["post_key"].append(key)
        sentiment["lang"].append(a.lang)
        sentiment["scored"].append(a.scored)
        sentiment["compound"].append(a.compound)
        sentiment["compound_doc"].append(a.compound_doc)
        sentiment["label"].append(a.label)
        sentiment["sentences"].append(a.sentences)
        sentiment["scorer"].append(analyzer_info.sentiment_scorer)
        sentiment["scorer_version"].append(analyzer_info.sentiment_version)
        sentiment["scored_at"].append(now)
        sentiment["rules_version"].append(analyzer_info.rules_version)
        for t in a.targets:
            mentions["post_key"].append(key)
            mentions["target_id"].append(t.target_id)
            mentions["alias"].append(t.alias)
            mentions["rules_version"].append(analyzer_info.rules_version)
            if not a.scored:
                continue
            scores["post_key"].append(key)
            scores["target_id"].append(t.target_id)
            scores["sentiment"].append(t.sentiment)
            scores["sentiment_label"].append(t.sentiment_label)
            scores["stance"].append(t.stance.label if t.stance else None)
            scores["stance_score"].append(t.stance.score if t.stance else None)
            scores["sentiment_scorer"].append(analyzer_info.sentiment_scorer)
            scores["sentiment_scorer_version"].append(analyzer_info.sentiment_version)
            scores["stance_scorer"].append(t.stance.scorer if t.stance else None)
            scores["stance_scorer_version"].append(t.stance.version if t.stance else None)
            scores["scored_at"].append(now)
    return {
        "mentions": pa.Table.from_pydict(mentions, schema=MENTIONS_SCHEMA),
        "post_sentiment": pa.Table.from_pydict(sentiment, schema=SENTIMENT_SCHEMA),
        "target_scores": pa.Table.from_pydict(scores, schema=TARGET_SCORES_SCHEMA),
    }


@dataclass(frozen=True)
class AnalyzerInfo:
    """The versions stamped on stored analysis rows (picklable, no scorer objects)."""

    rules_version: str
    sentiment_scorer: str
    sentiment_version: str

    @classmethod
    def of(cls, analyzer: Analyzer) -> AnalyzerInfo:
        return cls(analyzer.rules_version, analyzer.name, analyzer.version)

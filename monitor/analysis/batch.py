"""A batch of posts analysed into table rows: what each worker process of the import pool runs.

It lives in the analysis layer, not in ``monitor.ingest``, so that a worker imports the analysis
and nothing else: unpickling a task imports the module its function is defined in (and that
module's package), and ``monitor.ingest`` brings the store (DuckDB) and every source with it, some
45 MiB per worker for nothing. The application layer passes what the rows need from the store (the
Arrow schemas of its tables, the time to stamp on them); ``monitor.ingest.pool`` starts the workers.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.compiled import pure_forced
from monitor.analysis.pipeline import Analysis, Analyzer, ensure_language
from monitor.config import Config
from monitor.models import REPORTING_STANCE_SCORER, platform_of_key
from monitor.words import post_words

MENTIONS = "mentions"
POST_SENTIMENT = "post_sentiment"
TARGET_SCORES = "target_scores"
POST_WORDS = "post_words"  # not stored: the words the writer counts into its rollups


@dataclass(slots=True)
class AnalysedBatch:
    """A batch's analysis as the store takes it: which items to keep, and their analysis rows
    (Arrow tables ``mentions``, ``post_sentiment``, ``target_scores``; ``post_words`` when asked) for
    the kept ones. Workers send tables rather than ``Analysis`` objects: pickling those cost more
    than scoring them."""

    keep: list[bool]
    tables: dict[str, pa.Table]


@dataclass(frozen=True)
class AnalyzerInfo:
    """The versions stamped on stored analysis rows (picklable, no scorer objects)."""

    rules_version: str
    sentiment_scorer: str
    sentiment_version: str

    @classmethod
    def of(cls, analyzer: Analyzer) -> AnalyzerInfo:
        return cls(analyzer.rules_version, analyzer.name, analyzer.version)


def analyse_batch(analyzer: Analyzer, items: Sequence[tuple[str, str, str | None]], keep_all: bool,
                  schemas: dict[str, pa.Schema], now: datetime, words: bool = False) -> AnalysedBatch:
    """Analyse (key, text, lang) items. Kept: matched posts, unmatched ones too when the config
    stores them, everything with ``keep_all`` (re-scoring posts already stored). ``words``: add the
    ``post_words`` table of the kept posts that mention a target (for the writer's rollups)."""
    # Archives repeat texts (every retweet of a tweet reads "RT @user: ..."): each distinct text is
    # analysed once per batch, and its analysis serves every post that has it.
    unique = list(dict.fromkeys((text, lang) for _, text, lang in items))
    done: dict[tuple[str, str | None], Analysis] = dict(zip(unique, analyzer.analyse_many(unique), strict=True))
    keep_all = keep_all or analyzer.config.analysis.store_unmatched
    if keep_all:  # unmatched posts are stored too: their language, which the analyzer did not guess
        for (text, _lang), analysis in done.items():
            ensure_language(analysis, text)
    analyses = [done[(text, lang)] for _, text, lang in items]
    keep = [keep_all or a.matched for a in analyses]
    kept = [(item[0], a) for item, a, k in zip(items, analyses, keep, strict=True) if k]
    tables = analysis_tables([k for k, _ in kept], [a for _, a in kept], AnalyzerInfo.of(analyzer), schemas, now,
                             frozenset(analyzer.config.analysis.reporting_platforms))
    if words:
        tables[POST_WORDS] = words_table(items, keep, analyses, schemas[POST_WORDS])
    return AnalysedBatch(keep, tables)


def _words_function() -> Callable[[str], tuple[list[str], list[str]]]:
    """``post_words``; in the compiled build, its C scan for ASCII texts (``_text_scan.ascii_post_words``,
    the same words: tests/test_words.py), ~3 us a post instead of ~13."""
    if pure_forced():
        return post_words
    try:
        from monitor.analysis._text_scan import ascii_post_words
    except ImportError:  # not built
        return post_words

    def words(text: str) -> tuple[list[str], list[str]]:
        return ascii_post_words(text.lower()) if text.isascii() else post_words(text)

    return words


_words_of = _words_function()


def words_table(items: Sequence[tuple[str, str, str | None]], keep: Sequence[bool], analyses: Sequence[Analysis],
                schema: pa.Schema) -> pa.Table:
    """The hashtags and terms (monitor/words.py) of each kept item that mentions a target, once per
    distinct text."""
    columns: dict[str, list[Any]] = {"post_key": [], "hashtags": [], "terms": []}
    found: dict[str, tuple[list[str], list[str]]] = {}
    for (key, text, _lang), kept, analysis in zip(items, keep, analyses, strict=True):
        if not kept or not analysis.targets:
            continue
        words = found.get(text)
        if words is None:
            words = found[text] = _words_of(text)
        hashtags, terms = words
        columns["post_key"].append(key)
        columns["hashtags"].append(hashtags)
        columns["terms"].append(terms)
    return pa.Table.from_pydict(columns, schema=schema)


def analysis_tables(keys: Sequence[str], analyses: Sequence[Analysis], info: AnalyzerInfo,
                    schemas: dict[str, pa.Schema], now: datetime,
                    reporting_platforms: frozenset[str] = frozenset()) -> dict[str, pa.Table]:
    """The rows of the ``mentions``, ``post_sentiment`` and ``target_scores`` tables for analysed
    posts, each stamped with the scorer and rules versions that made it. Posts of
    ``reporting_platforms`` (news) get stance none, scorer ``REPORTING_STANCE_SCORER``, their score kept."""
    mentions: dict[str, list[Any]] = {n: [] for n in schemas[MENTIONS].names}
    sentiment: dict[str, list[Any]] = {n: [] for n in schemas[POST_SENTIMENT].names}
    scores: dict[str, list[Any]] = {n: [] for n in schemas[TARGET_SCORES].names}
    for key, a in zip(keys, analyses, strict=True):
        _sentiment_row(sentiment, key, a, info, now)
        reporting = bool(reporting_platforms) and platform_of_key(key) in reporting_platforms
        for t in a.targets:
            mentions["post_key"].append(key)
            mentions["target_id"].append(t.target_id)
            mentions["alias"].append(t.alias)
            mentions["rules_version"].append(info.rules_version)
            if not a.scored:
                continue
            scores["post_key"].append(key)
            scores["target_id"].append(t.target_id)
            scores["sentiment"].append(t.sentiment)
            scores["sentiment_label"].append(t.sentiment_label)
            scores["stance"].append(("none" if reporting else t.stance.label) if t.stance else None)
            scores["stance_score"].append(t.stance.score if t.stance else None)
            scores["sentiment_scorer"].append(info.sentiment_scorer)
            scores["sentiment_scorer_version"].append(info.sentiment_version)
            scorer = (REPORTING_STANCE_SCORER if reporting else t.stance.scorer) if t.stance else None
            scores["stance_scorer"].append(scorer)
            scores["stance_scorer_version"].append(t.stance.version if t.stance else None)
            scores["scored_at"].append(now)
    return {
        MENTIONS: pa.Table.from_pydict(mentions, schema=schemas[MENTIONS]),
        POST_SENTIMENT: pa.Table.from_pydict(sentiment, schema=schemas[POST_SENTIMENT]),
        TARGET_SCORES: pa.Table.from_pydict(scores, schema=schemas[TARGET_SCORES]),
    }


def _sentiment_row(sentiment: dict[str, list[Any]], key: str, a: Analysis, info: AnalyzerInfo,
                   now: datetime) -> None:
    sentiment["post_key"].append(key)
    sentiment["lang"].append(a.lang)
    sentiment["scored"].append(a.scored)
    sentiment["compound"].append(a.compound)
    sentiment["compound_doc"].append(a.compound_doc)
    sentiment["label"].append(a.label)
    sentiment["sentences"].append(a.sentences)
    sentiment["scorer"].append(info.sentiment_scorer)
    sentiment["scorer_version"].append(info.sentiment_version)
    sentiment["scored_at"].append(now)
    sentiment["rules_version"].append(info.rules_version)


def relax_gc(freeze: bool = False) -> None:
    """For processes that analyse big batches. Analysis allocates millions of short-lived objects
    (freed by reference counting, not the cycle collector); with the default threshold (700
    allocations) the collector walked the heap so often it took ~15% of an import's CPU.
    ``freeze`` also moves the objects alive now (lexicons, compiled rules) out of its scans: only
    for worker processes, once, as frozen cycles are never freed (a daemon must not freeze twice)."""
    gc.set_threshold(50_000, 20, 50)
    if freeze:
        gc.freeze()


PARENT_POLL_SECONDS = 0.2

# The worker process's analyzer and table schemas (set once, by ``init_worker``).
_worker: dict[str, Any] = {}


def _exit_with_parent(parent: int) -> None:
    """In a worker: end this process as soon as the process that started it is gone. A parent
    killed by SIGTERM (or SIGKILL) runs no clean-up, and idle workers wait on their task queue
    forever: nothing else would ever end them."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)  # no clean-up is owed: the parent that wanted the results is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def init_worker(config: Config, models_dir: Path | None, analyzer: str | None, threads: int,
                parent: int | None, schemas: dict[str, pa.Schema]) -> None:
    """The pool's initializer, in each worker process."""
    # Ctrl-C reaches the whole process group: the parent handles it (stops reading, marks the import
    # partial, shuts the pool); a worker interrupted mid-task would only break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent if parent is not None else os.getppid())
    # A worker's tables go back to the parent pickled, and their memory is freed: Arrow's default
    # allocator (mimalloc) kept ~35 MiB of freed pages in each worker; the C library's returns them.
    pa.set_memory_pool(pa.system_memory_pool())
    _worker["analyzer"] = make_analyzer(config, models_dir, analyzer, threads=threads)
    _worker["schemas"] = schemas
    relax_gc(freeze=True)


def worker_state() -> tuple[Analyzer, dict[str, pa.Schema]]:
    """In a worker process: its analyzer and the table schemas (set by ``init_worker``)."""
    return _worker["analyzer"], _worker["schemas"]


def analyse_chunk(items: list[tuple[str, str, str | None]], keep_all: bool, now: datetime,
                  words: bool = False) -> AnalysedBatch:
    """One task of the pool, in a worker process."""
    return analyse_batch(_worker["analyzer"], items, keep_all, _worker["schemas"], now, words)

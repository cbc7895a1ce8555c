"""Analyse posts: match targets, score sentiment and stance. Runs in worker processes for
large batches, because VADER is pure Python (threads would not help)."""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa

from monitor.analysis.language import guess_language
from monitor.analysis.matching import Matcher, Mention
from monitor.analysis.sentiment import SentimentScorer, Thresholds, prepare, sentence_spans
from monitor.analysis.stance import RuleStance, StanceResult
from monitor.config import Config


@dataclass(slots=True)
class TargetResult:
    target_id: str
    alias: str | None  # None when the target was forced (score --target) without a mention
    sentiment: float | None
    sentiment_label: str | None
    stance: StanceResult | None


@dataclass(slots=True)
class Analysis:
    lang: str | None  # language used for the decision (platform's, or guessed)
    scored: bool  # False for languages we do not score
    compound: float | None = None  # per-sentence mean for long texts, else the document compound
    compound_doc: float | None = None
    label: str | None = None
    sentences: int | None = None  # counted only where sentences are used (long or multi-target posts)
    targets: list[TargetResult] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return any(t.alias is not None for t in self.targets)


class Analyzer:
    def __init__(self, config: Config, models_dir: Path | None = None):
        self.config = config
        self.matcher = Matcher(config)
        self.sentiment = SentimentScorer()
        self.thresholds = Thresholds(config.analysis.sentiment.positive, config.analysis.sentiment.negative)
        stance_thresholds = Thresholds(config.analysis.stance.positive, config.analysis.stance.negative)
        self.rule_stance = RuleStance(config.targets, stance_thresholds)
        self.languages = set(config.analysis.languages)
        self.long_text_chars = config.analysis.long_text_chars
        self.models = load_stance_models(models_dir) if models_dir else {}

    @property
    def rules_version(self) -> str:
        return self.matcher.rules_version

    def analyse(self, text: str, lang: str | None = None, force_targets: tuple[str, ...] = ()) -> Analysis:
        mentions = self.matcher.match(text)
        for tid in force_targets:
            if all(m.target_id != tid for m in mentions):
                mentions.append(Mention(tid, None, -1, -1))  # type: ignore[arg-type]
        used_lang = lang or guess_language(text)
        result = Analysis(lang=used_lang, scored=False)
        if used_lang is not None and used_lang not in self.languages:
            result.targets = [TargetResult(m.target_id, m.alias, None, None, None) for m in mentions]
            return result
        if not mentions and not self.config.analysis.store_unmatched:
            return result  # will not be stored: skip the expensive part
        result.scored = True
        per_sentence: list[float] | None = None
        doc_scored = self.sentiment.score(prepare(text))  # the one VADER pass short posts get
        doc = doc_scored.compound
        result.compound_doc = round(doc, 4)
        spans: list[tuple[int, int]] = []
        # Sentences matter for long texts and for posts naming several targets (each target's
        # sentiment comes from its own sentence); for the rest, splitting would be wasted work.
        if len(text) > self.long_text_chars or len(mentions) > 1:
            spans = sentence_spans(text)
            result.sentences = len(spans)
            if len(spans) > 1:
                per_sentence = [self.sentiment.compound(prepare(text[s:e])) for s, e in spans]
        if per_sentence and len(text) > self.long_text_chars:
            result.compound = round(sum(per_sentence) / len(per_sentence), 4)
        else:
            result.compound = result.compound_doc
        result.label = self.thresholds.label(result.compound)
        named: list[set[str]] = []  # targets each sentence names, found once for all the post's targets
        for m in mentions:
            directed = doc
            if per_sentence and m.start >= 0:
                # every sentence that names the target (the matcher reports one mention per target)
                if not named:
                    named = [_targets_in(self.matcher, text[s:e]) for s, e in spans]
                hits = [v for (s, e), v, names in zip(spans, per_sentence, named, strict=True)
                        if s <= m.start < e or m.target_id in names]
                if hits:
                    directed = sum(hits) / len(hits)
            model = self.models.get(m.target_id)
            stance = (model.score(text, doc_scored) if model else
                      self.rule_stance.score(m.target_id, text, directed, doc_scored))
            result.targets.append(TargetResult(m.target_id, m.alias, round(directed, 4),
                                               self.thresholds.label(directed), stance))
        return result


def _targets_in(matcher: Matcher, sentence: str) -> set[str]:
    return {m.target_id for m in matcher.match(sentence)}


def load_stance_models(models_dir: Path) -> dict[str, object]:
    """Trained per-target stance models saved under the data directory (see monitor stance train)."""
    try:
        from monitor.analysis.stance_model import load_models
    except ImportError:
        return {}
    return load_models(models_dir)


# --- batches, in worker processes ------------------------------------------------------------


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
    from monitor.store.rows import AnalyzerInfo, analysis_tables  # rows imports this module

    # Archives repeat texts (every retweet of a tweet reads "RT @user: ..."): each distinct text is
    # analysed once per batch, and its analysis serves every post that has it.
    done: dict[tuple[str, str | None], Analysis] = {}
    analyses: list[Analysis] = []
    for _, text, lang in items:
        analysis = done.get((text, lang))
        if analysis is None:
            analysis = done[(text, lang)] = analyzer.analyse(text, lang)
        analyses.append(analysis)
    keep_all = keep_all or analyzer.config.analysis.store_unmatched
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


def _init_worker(config: Config, models_dir: Path | None) -> None:
    global _worker_analyzer
    _worker_analyzer = Analyzer(config, models_dir)
    relax_gc(freeze=True)


def _analyse_chunk(items: list[tuple[str, str, str | None]], keep_all: bool) -> AnalysedBatch:
    assert _worker_analyzer is not None
    return analyse_batch(_worker_analyzer, items, keep_all)


class AnalysisPool:
    """Analyses batches in worker processes when they are big enough to pay for it."""

    MIN_PARALLEL = 400

    def __init__(self, config: Config, models_dir: Path | None = None, workers: int | None = None):
        self.config = config
        self.models_dir = models_dir
        wanted = workers if workers is not None else config.analysis.workers
        self.workers = wanted or (os.cpu_count() or 1)
        self._local: Analyzer | None = None
        self._pool: ProcessPoolExecutor | None = None

    @property
    def local(self) -> Analyzer:
        if self._local is None:
            self._local = Analyzer(self.config, self.models_dir)
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
                initializer=_init_worker, initargs=(self.config, self.models_dir),
            )
            atexit.register(self.close)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

"""Analyse posts: match targets, score sentiment and stance. Pure: no store, sources or network
(the application layer, ``monitor.ingest``, runs it in worker processes and stores the results)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.analysis.language import guess_language, scored_languages
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
    """VADER with our domain lexicon for sentiment, zero-shot rules for stance: exact, fast, and
    the baseline. ``LearnedAnalyzer`` has the same interface; ``analyzers.make_analyzer`` picks by
    name."""

    name = "vader"

    def __init__(self, config: Config, models_dir: Path | None = None):
        self.config = config
        self.matcher = Matcher(config)
        self.sentiment = SentimentScorer()
        self.thresholds = Thresholds(config.analysis.sentiment.positive, config.analysis.sentiment.negative)
        stance_thresholds = Thresholds(config.analysis.stance.positive, config.analysis.stance.negative)
        self.rule_stance = RuleStance(config.targets, stance_thresholds)
        # Only languages this analyzer knows: a post in another one is stored unscored, never scored as English.
        self.languages = set(scored_languages(self.name, config.analysis.languages))
        self.long_text_chars = config.analysis.long_text_chars
        self.models = load_stance_models(models_dir) if models_dir else {}

    @property
    def label_rule(self) -> str:
        """How a post's sentiment label is decided, for evaluation reports."""
        return (f"the configured thresholds on the compound (positive >= {self.thresholds.positive}, "
                f"negative <= {self.thresholds.negative})")

    @property
    def rules_version(self) -> str:
        return self.matcher.rules_version

    @property
    def version(self) -> str:
        """The version stamped on sentiment rows (stance rows carry their own scorer's)."""
        return str(self.sentiment.version)

    def stance_version(self, target_id: str) -> str:
        """The version new stance scores for this target carry (a trained model's, else this analyzer's)."""
        model = self.models.get(target_id)
        return str(getattr(model, "version", None) or self.zero_shot_stance_version)

    @property
    def zero_shot_stance_version(self) -> str:
        return str(self.rule_stance.version)

    @property
    def stamp(self) -> str:
        return f"{self.name}@{self.version}"

    def analyse_many(self, items: Sequence[tuple[str, str | None]],
                     force_targets: tuple[str, ...] = ()) -> list[Analysis]:
        """(text, lang) items in, one Analysis each, in order."""
        return [self.analyse(text, lang, force_targets) for text, lang in items]

    def start(self, text: str, lang: str | None, force_targets: tuple[str, ...]) -> tuple[Analysis, list[Mention]]:
        """Match targets and decide the language; ``scored`` says whether scores are to be added."""
        mentions = self.matcher.match(text)
        for tid in force_targets:
            if all(m.target_id != tid for m in mentions):
                mentions.append(Mention(tid, None, -1, -1))  # type: ignore[arg-type]
        if not mentions and not self.config.analysis.store_unmatched:
            # Will not be stored: skip the expensive part, the language guess included (it cost more
            # than the matching on dumps where most posts name no target). A caller that stores it
            # anyway (a rescore) guesses then: ``ensure_language``.
            return Analysis(lang=lang, scored=False), []
        used_lang = lang or guess_language(text)
        result = Analysis(lang=used_lang, scored=False)
        if used_lang is not None and used_lang not in self.languages:
            result.targets = [TargetResult(m.target_id, m.alias, None, None, None) for m in mentions]
            return result, []
        result.scored = True
        return result, mentions

    def analyse(self, text: str, lang: str | None = None, force_targets: tuple[str, ...] = ()) -> Analysis:
        result, mentions = self.start(text, lang, force_targets)
        if not result.scored:
            return result
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


def ensure_language(analysis: Analysis, text: str) -> None:
    """The language of a post analysed without one (an unmatched post: ``Analyzer.start`` skips the
    guess where the post is not to be stored), for callers that store it all the same."""
    if analysis.lang is None and not analysis.matched:
        analysis.lang = guess_language(text)


def _targets_in(matcher: Matcher, sentence: str) -> set[str]:
    return {m.target_id for m in matcher.match(sentence)}


def load_stance_models(models_dir: Path) -> dict[str, object]:
    """Trained per-target stance models saved under the data directory (see monitor stance train).
    Scoring with them is pure Python: no extra is needed."""
    from monitor.analysis.stance_model import load_models  # only where a models folder is given

    return load_models(models_dir)

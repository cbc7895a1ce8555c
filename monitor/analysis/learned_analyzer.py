"""The learned analyzer: the same interface as the VADER one (``pipeline.Analyzer``), scores from
the shipped model (``learned.LearnedModel``), computed in batches.

- Sentiment per post: the sentiment head's calibrated probabilities; the label is the most
  probable class, the compound ``p(positive) - p(negative)``. A post longer than the model reads
  (62 word pieces) is scored in windows of whole sentences, averaged by length. A post naming
  several targets, or a long one, gets per-target sentiment from the sentences that name each target.
- Stance per (post, target): the stance head on the pair (target name, post), its favor/against
  log-odds shifted by the zero-shot rules' score (``learned.with_rules``); for a post longer than
  ``analysis.long_text_chars`` (a comment, a blog post), the sentiment of the sentences that name the
  target, negative / neutral / positive as against / none / favor. The label is the most probable
  class; favor or against also need ``analysis.stance_threshold`` probability (default 0: the most
  probable class wins), else none. The score is ``p(favor) - p(against)``. The target's
  configured ``stance.favor`` / ``stance.against`` cues, where one matches, decide (a user's
  explicit rule wins), and a model trained for the target with ``monitor stance train`` takes
  precedence over the zero-shot head.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.analysis.learned import (
    SENTIMENT_LABELS,
    LearnedModel,
    features_of,
    get_model,
    softmax,
    with_rules,
)
from monitor.analysis.matching import Mention
from monitor.analysis.pipeline import Analysis, Analyzer, TargetResult, _targets_in
from monitor.analysis.sentiment import Scored, prepare, sentence_spans
from monitor.analysis.stamps import LEARNED, zero_shot_stance_version
from monitor.analysis.stance import StanceResult
from monitor.analysis.trained_stance import load_all
from monitor.config import Config

_PARENTHESIS = re.compile(r"\s*\([^)]*\)")


def target_text(name: str) -> str:
    """The target as the model reads it: its display name without a parenthesis ("Stargate (AI
    infrastructure)" -> "Stargate")."""
    return _PARENTHESIS.sub("", name).strip() or name


def sentence_windows(text: str, spans: list[tuple[int, int]], pieces: list[int], size: int) -> list[str]:
    """The sentences ``spans`` of ``text`` (``pieces``: the word pieces of each) packed in order into
    windows of up to ``size`` pieces (a longer sentence is a window of its own, truncated)."""
    windows: list[str] = []
    start: int | None = None
    end, used = 0, 0
    for (s, e), n in zip(spans, pieces, strict=True):
        if start is not None and used + n > size:
            windows.append(text[start:end])
            start = None
        if start is None:
            start, used = s, 0
        end, used = e, used + n
    if start is not None:
        windows.append(text[start:end])
    return [w for w in windows if w.strip()] or [text]


class LearnedAnalyzer(Analyzer):
    name = LEARNED

    def __init__(self, config: Config, models_dir: Path | None = None, model: LearnedModel | None = None):
        super().__init__(config, models_dir)
        self.model = model or get_model()
        self.trained = load_all(models_dir, self.model.version) if models_dir else {}
        self.stance_threshold = config.analysis.stance_threshold
        self.target_names = {t.id: target_text(t.name) for t in config.targets}

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def zero_shot_stance_version(self) -> str:
        """The model's version and how its stance is read (``stamps.ZERO_SHOT_READING``): stored
        stance of an earlier reading is re-scored by `monitor rescore`."""
        return zero_shot_stance_version(self.model.version)

    @property
    def label_rule(self) -> str:
        return ("the model's most probable class (calibrated, with the sentiment offsets of its manifest; a "
                "post longer than the model reads is averaged over windows of its sentences); the compound "
                "is p(positive) - p(negative)")

    def stance_version(self, target_id: str) -> str:
        trained = self.trained.get(target_id)
        return trained.version if trained is not None else super().stance_version(target_id)

    def analyse(self, text: str, lang: str | None = None, force_targets: tuple[str, ...] = ()) -> Analysis:
        return self.analyse_many([(text, lang)], force_targets)[0]

    def analyse_many(self, items: Sequence[tuple[str, str | None]],
                     force_targets: tuple[str, ...] = ()) -> list[Analysis]:
        started = [self.start(text, lang, force_targets) for text, lang in items]
        scored = [i for i, (result, _) in enumerate(started) if result.scored]
        if not scored:
            return [result for result, _ in started]
        # One batch of texts for the sentiment head: each post, then the sentences that carry a
        # target's own sentiment (several targets, or a long post).
        texts = [items[i][0] for i in scored]
        directed: dict[tuple[int, str], int] = {}  # (item, target) -> its row in texts
        for i in scored:
            text, (result, mentions) = items[i][0], started[i]
            for target_id, part in self._target_sentences(text, mentions, result).items():
                directed[(i, target_id)] = len(texts)
                texts.append(part)
        sentiment = self._sentiment(texts)
        pairs = [(i, m) for i in scored for m in started[i][1]]
        post_row = {i: row for row, i in enumerate(scored)}
        # each pair's sentiment: of the sentences that name its target, else of the whole post
        pair_sentiment = sentiment[[directed.get((i, m.target_id), post_row[i]) for i, m in pairs]]
        stances = self._pair_stances([items[i][0] for i, _ in pairs], [m.target_id for _, m in pairs],
                                     pair_sentiment)
        for i, row in post_row.items():
            self._set_sentiment(started[i][0], sentiment[row])
        for (i, mention), stance, sentiment_row in zip(pairs, stances, pair_sentiment, strict=True):
            started[i][0].targets.append(TargetResult(
                mention.target_id, mention.alias, self._compound(sentiment_row),
                SENTIMENT_LABELS[int(np.argmax(sentiment_row))], stance))
        return [result for result, _ in started]

    def _sentiment(self, texts: list[str]) -> np.ndarray:
        """Sentiment probabilities of texts of any length. The model reads ``max_len`` tokens: a
        longer text (a comment, an article's summary) is scored in windows of whole sentences that
        fit, and its probabilities are their mean weighted by length, so its end counts as much as
        its start. Texts that fit (every tweet, nearly) are scored whole, as before."""
        size = self.model.max_len - 2  # [CLS] and [SEP]
        long = [i for i, pieces in enumerate(self.model.word_pieces(texts)) if pieces > size]
        spans = {i: sentence_spans(texts[i]) for i in long}
        # The sentences of every long text counted in one call, then handed out in order.
        counts = iter(self.model.word_pieces([texts[i][s:e] for i in long for s, e in spans[i]]))
        parts = [[text] for text in texts]
        for i in long:
            parts[i] = sentence_windows(texts[i], spans[i], [next(counts) for _ in spans[i]], size)
        windows = [window for part in parts for window in part]
        owner = np.repeat(np.arange(len(texts)), [len(part) for part in parts])
        lengths = np.array([len(window) for window in windows], dtype=np.float64)
        weighted = np.zeros((len(texts), len(SENTIMENT_LABELS)), dtype=np.float64)
        np.add.at(weighted, owner, self.model.sentiment(windows).astype(np.float64) * lengths[:, None])
        total = np.bincount(owner, weights=lengths, minlength=len(texts))
        return (weighted / np.maximum(total, 1)[:, None]).astype(np.float32)

    def _long(self, text: str) -> bool:
        return len(text) > self.long_text_chars

    def _trained_for(self, target_id: str) -> bool:
        """A model trained on the user's labels decides the target's stance (``monitor stance train``:
        over this model, or an n-gram model made with the VADER analyzer)."""
        return target_id in self.trained or target_id in self.models

    def _pair_stances(self, texts: list[str], target_ids: list[str], sentiment: np.ndarray) -> list[StanceResult]:
        """Stance of each (text, target), given the sentiment of the sentences that name the target
        (of the whole text where it has no such sentences). A long post's zero-shot stance is that
        sentiment (reading z3): the stance head, trained on tweets, read the sentences of a comment or
        a blog post that name the target little better than chance (tests/domain_tune, 217 long posts:
        F_avg 0.429 against 0.473; README "Accuracy"). Tweets keep the head."""
        by_sentiment = [self._long(text) and not self._trained_for(target_id)
                        for text, target_id in zip(texts, target_ids, strict=True)]
        rest = [k for k, read in enumerate(by_sentiment) if not read]
        scored = iter(self._stances([texts[k] for k in rest], [target_ids[k] for k in rest]))
        # negative / neutral / positive read as against / none / favor (the same column order)
        return [self._stance(target_ids[k], texts[k], sentiment[k]) if read else next(scored)
                for k, read in enumerate(by_sentiment)]

    def _stances(self, texts: list[str], target_ids: list[str]) -> list[StanceResult]:
        """Stance of each (text, target): one pass of the model over the pairs; a target's model
        trained on the user's labels reads the same pass's features of the whole text (a head) or
        runs its own encoder (and the pass skips its pairs)."""
        own = {t for t in set(target_ids) if t in self.trained and not self.trained[t].needs_features}
        results: list[StanceResult | None] = [None] * len(texts)
        for target_id in own:
            rows = [k for k, t in enumerate(target_ids) if t == target_id]
            for k, result in zip(rows, self.trained[target_id].results([texts[k] for k in rows], None), strict=True):
                results[k] = result
        shared = [k for k, t in enumerate(target_ids) if t not in own]
        for k, result in zip(shared, self._shared_pass([texts[k] for k in shared], [target_ids[k] for k in shared]),
                             strict=True):
            results[k] = result
        done = [r for r in results if r is not None]
        assert len(done) == len(texts), "every pair is scored by its own encoder or the shared pass"
        return done

    def _shared_pass(self, texts: list[str], target_ids: list[str]) -> list[StanceResult]:
        """The shipped model's one pass over the pairs: zero-shot stance, or a trained head over its features."""
        if not texts:
            return []
        out = self.model.encode(texts, [self.target_names.get(t, t) for t in target_ids])
        # The zero-shot rules know who a clause is about, the model how things are said: the rule
        # score shifts the model's favor/against log-odds (weight chosen on dev data, see learned.py).
        rules = self._rule_scores(texts, target_ids)
        probs = with_rules(softmax(out.stance_logits, self.model.temperature("stance")), rules)
        results: list[StanceResult | None] = [None] * len(texts)
        features = None
        for target_id in set(target_ids):
            trained = self.trained.get(target_id)
            ngram = self.models.get(target_id)
            rows = [k for k, t in enumerate(target_ids) if t == target_id]
            if trained is not None:
                features = features_of(out) if features is None else features
                for k, result in zip(rows, trained.results([texts[k] for k in rows], features[rows]), strict=True):
                    results[k] = result
            elif ngram is not None:  # an n-gram model trained with the VADER analyzer
                for k in rows:
                    results[k] = ngram.score(texts[k])
        return [r if r is not None else self._stance(t, text, p)
                for r, t, text, p in zip(results, target_ids, texts, probs, strict=True)]

    def _rule_scores(self, texts: list[str], target_ids: list[str]) -> list[float]:
        """The zero-shot rules' score of each (text, target): one VADER pass per distinct text
        (a post naming several targets is read once); 0 for targets with a trained model. (Long
        posts do not come here: ``_pair_stances``.)"""
        passes: dict[str, Scored] = {}
        scores = []
        for target_id, text in zip(target_ids, texts, strict=True):
            if self._trained_for(target_id):
                scores.append(0.0)  # a trained model decides
                continue
            scored = passes.get(text)
            if scored is None:
                scored = passes[text] = self.sentiment.score(prepare(text))
            scores.append(self.rule_stance.score(target_id, text, scored=scored).score)
        return scores

    def _target_sentences(self, text: str, mentions: list[Mention], result: Analysis) -> dict[str, str]:
        """For posts where it matters, each target's sentences (joined), to score on their own."""
        if not (len(text) > self.long_text_chars or len(mentions) > 1):
            return {}
        spans = sentence_spans(text)
        result.sentences = len(spans)
        if len(spans) < 2:
            return {}
        named = [_targets_in(self.matcher, text[s:e]) for s, e in spans]
        parts: dict[str, str] = {}
        for m in mentions:
            hits = [text[s:e] for (s, e), names in zip(spans, named, strict=True)
                    if m.start >= 0 and (s <= m.start < e or m.target_id in names)]
            if hits and len(hits) < len(spans):
                parts[m.target_id] = " ".join(hits)
        return parts

    @staticmethod
    def _compound(probs: np.ndarray) -> float:
        return round(float(probs[2] - probs[0]), 4)

    def _set_sentiment(self, result: Analysis, probs: np.ndarray) -> None:
        result.compound = result.compound_doc = self._compound(probs)
        result.label = SENTIMENT_LABELS[int(np.argmax(probs))]

    def _stance(self, target_id: str, text: str, probs: np.ndarray) -> StanceResult:
        """Against / none / favor from the head's probabilities (columns in that order)."""
        favor_cues, against_cues = self.rule_stance.cues(target_id)
        favor_cue = any(p.search(text) for p in favor_cues)
        against_cue = any(p.search(text) for p in against_cues)
        if favor_cue != against_cue:
            label = "favor" if favor_cue else "against"
            return StanceResult(label, 1.0 if favor_cue else -1.0, self.name, self.zero_shot_stance_version)
        against, favor = float(probs[0]), float(probs[2])
        label = "none"
        if max(against, favor) >= self.stance_threshold and max(against, favor) >= float(probs[1]):
            label = "favor" if favor > against else "against"
        return StanceResult(label, round(favor - against, 4), self.name, self.zero_shot_stance_version)

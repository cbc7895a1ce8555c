"""Sentiment with VADER on the text as written.

No lowercasing and no stripping of punctuation or emoji: VADER uses capitals, "!!!" and emoji
as intensity cues. Camel-case hashtags are split so their words count (#StargateIsAScam).
Long texts are scored per sentence and averaged; the whole-document compound is kept too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.analysis.matching import split_hashtag

SCORER_NAME = "vader"
SCORER_VERSION = f"{version('vaderSentiment')}+dm1"

_HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w+)")
_URL_RE = re.compile(r"https?://\S+")
# Sentence ends: . ! ? (and runs of them) or line breaks, followed by space/newline.
_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+(?=\s|$)|[.!?]+|$)|[.!?]+", re.MULTILINE)
_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def prepare(text: str) -> str:
    """Text as VADER should see it: hashtags split into words, URLs dropped (their words mislead)."""
    if "#" in text:
        text = _HASHTAG_RE.sub(lambda m: split_hashtag(m.group(1)), text)
    if "http" in text:
        text = _URL_RE.sub("", text)
    return text


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SPLIT_RE.finditer(text):
        if text[start:m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


@dataclass(slots=True)
class Thresholds:
    positive: float = 0.05
    negative: float = -0.05

    def label(self, compound: float) -> str:
        if compound >= self.positive:
            return "positive"
        if compound <= self.negative:
            return "negative"
        return "neutral"


class SentimentScorer:
    name = SCORER_NAME
    version = SCORER_VERSION

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()

    def compound(self, text: str) -> float:
        """Compound score of an already prepared text."""
        return self._vader.polarity_scores(text)["compound"]

    def score_text(self, text: str) -> float:
        return self.compound(prepare(text))

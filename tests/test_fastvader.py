"""The faster VADER must give exactly the stock scores."""

from __future__ import annotations

import csv

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.analysis.fastvader import FastSentimentIntensityAnalyzer
from tests.conftest import EVAL_DIR

HANDMADE = [
    "VADER is smart, handsome, and funny!", "Musk says they DON'T have the money 😂", "not bad at all",
    "kind of good", "never so good", "never this bad", "without doubt great", "It was the best but also the worst",
    "no good", "at least it works", "the least bad option", "NOT GOOD at all!!!", "Sort of ok I guess??",
    "😡😡 terrible 💯", "I can't believe how GREAT this is", "", "   ", ":) :D <3", "yeah right, the bomb",
    "cut the mustard", "no, not nor never good", "BUT but But fine",
]


def _pairs(texts: list[str]) -> list[tuple[str, dict, dict]]:
    stock, fast = SentimentIntensityAnalyzer(), FastSentimentIntensityAnalyzer()
    return [(t, stock.polarity_scores(t), fast.polarity_scores(t)) for t in texts]


def test_identical_on_handmade_edge_cases() -> None:
    for text, stock, fast in _pairs(HANDMADE):
        assert fast == stock, text


def test_identical_on_real_tweets() -> None:
    path = EVAL_DIR / "pstance" / "raw_val_trump.csv"
    if not path.exists():
        pytest.skip("../shared/eval is not available")
    texts = [row["Tweet"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    mismatches = [t for t, stock, fast in _pairs(texts) if stock != fast]
    assert len(texts) > 800 and mismatches == []

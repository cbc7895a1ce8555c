"""Dev metrics: AvgRec (SemEval-2017 4A), F_avg (SemEval-2016 6), expected calibration error, temperature fit."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

AGAINST, NONE, FAVOR = 0, 1, 2


def avg_recall(gold: Sequence[int], pred: Sequence[int], classes: int = 3) -> float:
    g, p = np.asarray(gold), np.asarray(pred)
    recalls = [float((p[g == c] == c).mean()) for c in range(classes) if (g == c).any()]
    return float(np.mean(recalls))


def accuracy(gold: Sequence[int], pred: Sequence[int]) -> float:
    return float((np.asarray(gold) == np.asarray(pred)).mean())


def f1(gold: np.ndarray, pred: np.ndarray, c: int) -> float:
    tp = float(((pred == c) & (gold == c)).sum())
    fp = float(((pred == c) & (gold != c)).sum())
    fn = float(((pred != c) & (gold == c)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def f_avg(gold: Sequence[int], pred: Sequence[int]) -> float:
    """(F1 favor + F1 against) / 2 over all examples pooled; predicting none wrongly still costs recall."""
    g, p = np.asarray(gold), np.asarray(pred)
    return (f1(g, p, FAVOR) + f1(g, p, AGAINST)) / 2


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ece(probs: np.ndarray, gold: Sequence[int], bins: int = 15) -> float:
    """Expected calibration error of the top label, equal-width confidence bins."""
    g = np.asarray(gold)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == g).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in pairwise(edges):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return float(total)


def fit_temperature(logits: np.ndarray, gold: Sequence[int]) -> float:
    """The T minimising negative log-likelihood of softmax(logits / T), by a grid then a finer grid."""
    g = np.asarray(gold)

    def nll(t: float) -> float:
        p = softmax(logits, t)
        return float(-np.log(p[np.arange(len(g)), g] + 1e-12).mean())

    grid = np.linspace(0.5, 4.0, 36)
    best = min(grid, key=nll)
    fine = np.linspace(max(0.3, best - 0.1), best + 0.1, 21)
    return round(float(min(fine, key=nll)), 3)

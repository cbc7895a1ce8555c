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


# Sentiment decision offsets: added to the negative and positive log-probabilities (neutral stays at 0)
# to balance the classes' recall, which AvgRec averages. The head is trained with class-weighted loss
# on data where negatives are rare, and leans to them: on SemEval-2017 val it recalled 85% of the
# negatives but 58% of the neutrals. Grid of OFFSET_STEP over [-1, 1]; of the offsets within
# OFFSET_TOLERANCE of the best AvgRec, the smallest shift (a plateau's edge, not its noisiest peak).
OFFSET_STEP = 0.05
OFFSET_TOLERANCE = 0.005


def with_offsets(log_probs: np.ndarray, offsets: Sequence[float]) -> np.ndarray:
    """Probabilities from log-probabilities shifted by per-class offsets."""
    return softmax(log_probs + np.asarray(offsets, dtype=np.float64))


def fit_offsets(log_probs: np.ndarray, gold: Sequence[int]) -> tuple[float, float, float]:
    """Offsets (negative, 0, positive) for calibrated log-probabilities that maximise AvgRec."""
    g = np.asarray(gold)
    grid = np.round(np.arange(-1.0, 1.0 + 1e-9, OFFSET_STEP), 2)
    present = [c for c in range(3) if (g == c).any()]
    scored = []
    for neg in grid:  # every positive offset at once: avg_recall's figures, 2-10x faster than one at a time
        shifts = np.stack([np.full(len(grid), neg), np.zeros(len(grid)), grid], axis=1)
        pred = (log_probs[None, :, :] + shifts[:, None, :]).argmax(axis=2)
        recalls = np.mean([(pred[:, g == c] == c).mean(axis=1) for c in present], axis=0)
        scored += [(float(r), neg, pos) for r, pos in zip(recalls, grid, strict=True)]
    best = max(score for score, _, _ in scored)
    _, neg, pos = min((abs(neg) + abs(pos), neg, pos) for score, neg, pos in scored
                      if score >= best - OFFSET_TOLERANCE)
    return float(neg), 0.0, float(pos)


def cross_validated_offsets(log_probs: np.ndarray, gold: Sequence[int], folds: int = 5,
                            seed: int = 13) -> float:
    """AvgRec of fit_offsets measured honestly: fitted on 4/5 of the rows, applied to the rest."""
    g = np.asarray(gold)
    order = np.random.default_rng(seed).permutation(len(g))
    pred = np.zeros(len(g), dtype=int)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        offsets = np.array(fit_offsets(log_probs[train], g[train]))
        pred[test] = (log_probs[test] + offsets).argmax(axis=1)
    return avg_recall(g, pred)

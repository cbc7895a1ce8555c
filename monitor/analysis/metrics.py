"""Accuracy figures of the shared tasks we measure against: SemEval-2016 Task 6 (stance,
F_avg) and SemEval-2017 Task 4A (sentiment, AvgRec), and Pearson r for rated sets. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

STANCE_LABELS = ("favor", "against", "none")
SENTIMENT_LABELS = ("positive", "neutral", "negative")


def _f1(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Rows: gold label; columns: predicted label (both in ``labels`` order)."""
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def per_class_f1(gold: Sequence[str], pred: Sequence[str], label: str) -> float:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != label and p == label)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
    return _f1(tp, fp, fn)


def stance_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """SemEval-2016 Task 6 figures: F_avg = (F1 favor + F1 against) / 2; NONE is not averaged in."""
    f_favor = per_class_f1(gold, pred, "favor")
    f_against = per_class_f1(gold, pred, "against")
    return {"n": len(gold), "f1_favor": round(f_favor, 4), "f1_against": round(f_against, 4),
            "f_avg": round((f_favor + f_against) / 2, 4),
            "accuracy": round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold), 4) if gold else 0.0,
            "confusion": {"labels": list(STANCE_LABELS), "matrix": confusion(gold, pred, STANCE_LABELS)}}


def sentiment_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """SemEval-2017 Task 4A figures: AvgRec (macro recall), macro-F1, F1^PN, accuracy."""
    recalls = []
    for label in SENTIMENT_LABELS:
        total = sum(1 for g in gold if g == label)
        if total:
            recalls.append(sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label) / total)
    f1s = {label: per_class_f1(gold, pred, label) for label in SENTIMENT_LABELS}
    present = [lab for lab in SENTIMENT_LABELS if lab in set(gold)]
    return {"n": len(gold), "avg_recall": round(sum(recalls) / len(recalls), 4) if recalls else 0.0,
            "macro_f1": round(sum(f1s[lab] for lab in present) / len(present), 4) if present else 0.0,
            "f1_pn": round((f1s["positive"] + f1s["negative"]) / 2, 4),
            "accuracy": round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold), 4) if gold else 0.0,
            "confusion": {"labels": list(SENTIMENT_LABELS), "matrix": confusion(gold, pred, SENTIMENT_LABELS)}}


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0

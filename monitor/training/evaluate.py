"""Dev evaluation of a weights folder through the runtime (onnxruntime), as users get it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import LearnedModel
from monitor.training import data, metrics

log = logging.getLogger(__name__)


def sentiment_report(model: LearnedModel, eval_dir: Path) -> tuple[dict[str, float], np.ndarray, list[int]]:
    val = data.sentiment_split(eval_dir, "val")
    logits = model.encode([e.text for e in val]).sentiment_logits
    gold = [e.label for e in val]
    pred = logits.argmax(axis=1)
    return {"avg_recall": round(metrics.avg_recall(gold, pred), 4),
            "accuracy": round(metrics.accuracy(gold, pred), 4)}, logits, gold


def sentiment_offsets(logits: np.ndarray, gold: list[int], temperature: float) -> tuple[
    tuple[float, float, float], dict[str, float]
]:
    """The sentiment decision offsets (metrics.fit_offsets) for calibrated logits, and the figures
    with them: AvgRec in sample and 5-fold cross-validated (the honest one), accuracy, ECE."""
    log_probs = np.log(metrics.softmax(logits, temperature))
    offsets = metrics.fit_offsets(log_probs, gold)
    probs = metrics.with_offsets(log_probs, offsets)
    pred = probs.argmax(axis=1)
    return offsets, {"avg_recall_with_offsets": round(metrics.avg_recall(gold, pred), 4),
                     "avg_recall_with_offsets_5fold": round(metrics.cross_validated_offsets(log_probs, gold), 4),
                     "accuracy_with_offsets": round(metrics.accuracy(gold, pred), 4),
                     "ece_with_offsets": round(metrics.ece(probs, gold), 4)}


def stance_logits(model: LearnedModel, examples: list[data.Example]) -> np.ndarray:
    return model.encode([e.text for e in examples], [e.target or "" for e in examples]).stance_logits


def stance_scores(logits: np.ndarray, gold: list[int]) -> dict[str, float]:
    """F_avg with the 3-class decision, and, for binary sets, with none left out of the decision."""
    pred3 = logits.argmax(axis=1)
    pred2 = np.where(logits[:, metrics.FAVOR] >= logits[:, metrics.AGAINST], metrics.FAVOR, metrics.AGAINST)
    out = {"f_avg": round(metrics.f_avg(gold, pred3), 4), "none_share": round(float((pred3 == 1).mean()), 3)}
    if metrics.NONE not in gold:
        out["f_avg_binary_decision"] = round(metrics.f_avg(gold, pred2), 4)
    return out


def evaluate(weights: Path, eval_dir: Path, stance_holdout: list[data.Example]) -> dict[str, Any]:
    """Figures on the dev data, plus temperatures fitted on it (sentiment: SemEval-2017 val; stance: the
    SemEval-2016 A hold-out, three classes with none)."""
    model = LearnedModel(weights)
    sentiment, sent_logits, sent_gold = sentiment_report(model, eval_dir)
    t_sent = metrics.fit_temperature(sent_logits, sent_gold)
    sentiment["ece_raw"] = round(metrics.ece(metrics.softmax(sent_logits), sent_gold), 4)
    sentiment["ece_calibrated"] = round(metrics.ece(metrics.softmax(sent_logits, t_sent), sent_gold), 4)
    offsets, with_offsets = sentiment_offsets(sent_logits, sent_gold, t_sent)
    sentiment.update(with_offsets)
    report: dict[str, Any] = {"sentiment_semeval2017_val": sentiment, "sentiment_offsets": list(offsets)}
    hold_logits = stance_logits(model, stance_holdout)
    hold_gold = [e.label for e in stance_holdout]
    t_stance = metrics.fit_temperature(hold_logits, hold_gold)
    hold = stance_scores(hold_logits, hold_gold)
    hold["ece_raw"] = round(metrics.ece(metrics.softmax(hold_logits), hold_gold), 4)
    hold["ece_calibrated"] = round(metrics.ece(metrics.softmax(hold_logits, t_stance), hold_gold), 4)
    report["stance_semeval2016a_holdout"] = hold
    for key in ("trump", "biden", "bernie"):
        val = data.pstance(eval_dir, key, "val")
        report[f"stance_pstance_val_{key}" + ("_zero_shot" if key == "trump" else "")] = stance_scores(
            stance_logits(model, val), [e.label for e in val])
    report["temperature"] = {"sentiment": t_sent, "stance": t_stance}
    return report

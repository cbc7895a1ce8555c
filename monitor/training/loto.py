"""Leave-one-target-out on SemEval-2016 6A: the dev proxy for targets nobody labelled (such as Trump).

For each of the five targets T: fine-tune from the base model without any T label, then score every SemEval-2016 A
train+trial tweet about T (never seen in training) and report F_avg. A cheaper variant of the shipped recipe (the
same data mix, scaled down: LOTO_SCALE of each sample; documented in README.md) so that five runs fit on 2 cores.
Also scores each unseen target with the sentiment head's signal mixed in (log p_stance + alpha * log p_sentiment,
negative->against, neutral->none, positive->favor), the zero-shot blend the runtime can use.

    python -m monitor.training.loto ../shared/eval [--scale 0.05] [--epochs 2] [--out loto.json]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monitor.training import data, metrics
from monitor.training.recipe import EPOCHS, training_sets
from monitor.training.train import Recipe, TwoHeadModel, base_model_dir, make_tokenizer, tensors, train

log = logging.getLogger(__name__)
LOTO_SCALE = 0.05
ALPHAS = (0.0, 0.25, 0.5, 1.0)


def predict(model: TwoHeadModel, examples: list[data.Example], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(stance logits of the pairs, sentiment logits of the texts alone), in torch, batch 64."""
    tokenizer = make_tokenizer(base_model_dir(), max_len)
    stance, sentiment = [], []
    with torch.no_grad():
        for i in range(0, len(examples), 64):
            batch = examples[i:i + 64]
            stance.append(model(**tensors(tokenizer, batch))[2].numpy())
            alone = [data.Example(e.text, e.label) for e in batch]
            sentiment.append(model(**tensors(tokenizer, alone))[1].numpy())
    return np.vstack(stance), np.vstack(sentiment)


def blended(stance_logits: np.ndarray, sentiment_logits: np.ndarray, alpha: float) -> np.ndarray:
    """Stance decision scores with the sentiment signal mixed in (sentiment columns are in stance order)."""
    return np.log(metrics.softmax(stance_logits)) + alpha * np.log(metrics.softmax(sentiment_logits))


def run(eval_dir: Path, scale: float, targets: tuple[str, ...] = data.SEMEVAL16_TARGETS,
        epochs: int = EPOCHS) -> dict[str, Any]:
    recipe = Recipe(epochs=epochs)
    everything = data.semeval2016(eval_dir)
    report: dict[str, Any] = {"scale": scale, "epochs": epochs, "per_target": {}}
    pooled_gold: list[int] = []
    pooled: dict[float, list[int]] = {a: [] for a in ALPHAS}
    for target in targets:
        sentiment, stance, _ = training_sets(eval_dir, recipe.seed, scale, exclude_target=target)
        log.info("LOTO %s: %d sentiment, %d stance examples", target, len(sentiment), len(stance))
        model = train(sentiment, stance, recipe)
        unseen = [e for e in everything if e.target == target]
        stance_logits, sentiment_logits = predict(model, unseen, recipe.max_len)
        gold = [e.label for e in unseen]
        pooled_gold += gold
        scores = {}
        for alpha in ALPHAS:
            pred = blended(stance_logits, sentiment_logits, alpha).argmax(axis=1)
            pooled[alpha] += pred.tolist()
            scores[f"alpha_{alpha}"] = round(metrics.f_avg(gold, pred), 4)
        report["per_target"][target] = scores
        log.info("LOTO %s: %s", target, scores)
    report["pooled_f_avg"] = {f"alpha_{a}": round(metrics.f_avg(pooled_gold, p), 4) for a, p in pooled.items()}
    per_target = report["per_target"].values()
    report["macro_f_avg"] = {f"alpha_{a}": round(float(np.mean([s[f"alpha_{a}"] for s in per_target])), 4)
                             for a in ALPHAS}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training.loto", description=__doc__)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--scale", type=float, default=LOTO_SCALE)
    parser.add_argument("--targets", default=",".join(data.SEMEVAL16_TARGETS), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=Path("/tmp/monitor-training/loto.json"))
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="as the shipped recipe (l2 and earlier: 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    report = run(args.eval_dir, args.scale, tuple(args.targets.split(",")), args.epochs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

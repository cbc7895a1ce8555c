"""The trained-stance check: a per-target head (``monitor.analysis.learned_head``) over the shipped model, trained on
P-Stance train (raw) and measured on P-Stance VAL, alone and blended with the n-gram model of
``monitor.analysis.stance_model`` trained on the same file; with --fine-tune the target's own fine-tuned encoder
(``target_encoder``) the same way. F_avg with the binary decision (P-Stance has no none).

    python -m monitor.training.head_eval ../shared/eval [--targets trump,biden,bernie] [--weights DIR] [--fine-tune]
        [--sample N]

Note: the shipped model was fine-tuned on P-Stance Biden and Bernie train (not Trump), so the Biden and Bernie
figures measure a head over features that already saw those labels.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import WEIGHTS_DIR, LearnedModel
from monitor.analysis.learned_head import blend, train_head
from monitor.training import data, metrics

log = logging.getLogger(__name__)
BLENDS = (1.0, 0.7, 0.5, 0.3, 0.0)
LABEL_NAMES = {0: "against", 1: "none", 2: "favor"}


def ngram_probabilities(train: list[data.Example], val: list[data.Example], key: str) -> np.ndarray:
    """The n-gram model as `monitor stance train` builds it (with the config's target, for its rule view)."""
    from monitor.analysis.stance_model import train_model
    from monitor.config import load_config

    targets = {t.id: t for t in load_config(Path("config/monitor.toml")).targets}
    model = train_model([e.text for e in train], [LABEL_NAMES[e.label] for e in train], key, target=targets.get(key))
    rows = [model.probabilities(e.text) for e in val]
    return np.array([[p.get("against", 0.0), p.get("none", 0.0), p.get("favor", 0.0)] for p in rows])


def binary_f_avg(gold: list[int], probs: np.ndarray) -> float:
    pred = np.where(probs[:, metrics.FAVOR] >= probs[:, metrics.AGAINST], metrics.FAVOR, metrics.AGAINST)
    return round(metrics.f_avg(gold, pred), 4)


def _fine_tuned(train: list[data.Example], val: list[data.Example], key: str, name: str, gold: list[int],
                ngram: np.ndarray) -> dict[str, Any]:
    """The target's own fine-tuned encoder (as `monitor stance train` builds it, int8 as saved), alone
    and blended with the n-gram model."""
    import tempfile

    from monitor.training.target_encoder import fine_tune

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="head-eval-encoder-") as work:
        encoder = fine_tune([e.text for e in train], [LABEL_NAMES[e.label] for e in train], key, name,
                            Path(work) / "encoder")
        probs = encoder.probabilities([e.text for e in val])
    out: dict[str, Any] = {f"blend_{w}": binary_f_avg(gold, blend(probs, ngram, w)) for w in BLENDS}
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def evaluate_target(model: LearnedModel, eval_dir: Path, key: str, fine_tune: bool = False,
                    sample: int | None = None) -> dict[str, Any]:
    """``sample``: train on that many train examples (a sample seeded by its size) instead of all."""
    name = data.PSTANCE_NAMES[key]
    train, val = data.pstance(eval_dir, key, "train"), data.pstance(eval_dir, key, "val")
    if sample is not None and sample < len(train):
        train = random.Random(sample).sample(train, sample)
    started = time.monotonic()
    features = model.embed([e.text for e in train], [name] * len(train))
    embed_seconds = time.monotonic() - started
    head = train_head([e.text for e in train], [LABEL_NAMES[e.label] for e in train], key, name, model=model,
                      features=features)
    fit_seconds = time.monotonic() - started - embed_seconds
    head_probs = head.probabilities([e.text for e in val], model=model)
    ngram = ngram_probabilities(train, val, key)
    gold = [e.label for e in val]
    out: dict[str, Any] = {f"blend_{w}": binary_f_avg(gold, blend(head_probs, ngram, w)) for w in BLENDS}
    if fine_tune:
        out["encoder"] = _fine_tuned(train, val, key, name, gold, ngram)
    out["zero_shot_default_model"] = binary_f_avg(gold, model.stance([e.text for e in val], [name] * len(val)))
    out["seconds"] = {"features": round(embed_seconds, 1), "fit": round(fit_seconds, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training.head_eval", description=__doc__)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--targets", default="trump,biden,bernie")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--sample", type=int, default=None,
                        help="train on a seeded sample of this many train examples (how many labels a method needs)")
    parser.add_argument("--fine-tune", action="store_true",
                        help="also the target's own fine-tuned encoder (monitor.training.target_encoder; minutes each)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    model = LearnedModel(args.weights)
    report = {}
    for key in args.targets.split(","):
        report[key] = evaluate_target(model, args.eval_dir, key, args.fine_tune, args.sample)
        log.info("%s: %s", key, report[key])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

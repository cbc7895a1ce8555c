"""Zero-shot stance check on P-Stance Trump VAL (dev: the default model never trains on any Trump label).

Scores, with the shipped model: the stance head alone; the stance head with the sentiment head's signal mixed in
(log p_stance + alpha * log p_sentiment, from the same pair pass); the project's zero-shot rules
(``monitor.analysis.stance``, target from config/monitor.toml); and the learned stance plus beta * the rule score
added to favor and taken from against. F_avg with the 3-class decision (none counts as a miss) and the share of
posts called none. Pick the mix on this and on leave-one-target-out (``monitor.training.loto``), never on test.

    python -m monitor.training.zero_shot ../shared/eval [--config config/monitor.toml]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import WEIGHTS_DIR, LearnedModel
from monitor.training import data, metrics

ALPHAS = (0.0, 0.25, 0.5, 1.0)
BETAS = (0.0, 1.0, 2.0, 4.0)


def rule_scores(texts: list[str], config: Path, target_id: str = "trump") -> np.ndarray:
    from monitor.analysis.sentiment import Thresholds
    from monitor.analysis.stance import RuleStance
    from monitor.config import load_config

    targets = [t for t in load_config(config).targets if t.id == target_id]
    rules = RuleStance(targets, Thresholds(0.1, -0.1))
    return np.array([rules.score(target_id, t).score for t in texts])


def decision_scores(stance_logits: np.ndarray, sentiment_logits: np.ndarray, rules: np.ndarray, alpha: float,
                    beta: float, t_stance: float = 1.0) -> np.ndarray:
    z = np.log(metrics.softmax(stance_logits, t_stance)) + alpha * np.log(metrics.softmax(sentiment_logits))
    z[:, metrics.FAVOR] += beta * rules
    z[:, metrics.AGAINST] -= beta * rules
    return z


def report(weights: Path, eval_dir: Path, config: Path) -> dict[str, Any]:
    model = LearnedModel(weights)
    val = data.pstance(eval_dir, "trump", "val")
    texts = [e.text for e in val]
    gold = [e.label for e in val]
    out = model.encode(texts, [data.TRUMP] * len(val))
    rules = rule_scores(texts, config)
    t_stance = model.temperature("stance")
    rows: dict[str, Any] = {}
    for alpha in ALPHAS:
        for beta in BETAS:
            pred = decision_scores(out.stance_logits, out.sentiment_logits, rules, alpha, beta, t_stance).argmax(1)
            rows[f"alpha_{alpha}_beta_{beta}"] = {"f_avg": round(metrics.f_avg(gold, pred), 4),
                                                  "none_share": round(float((pred == metrics.NONE).mean()), 3)}
    rule_pred = np.where(rules >= 0.1, metrics.FAVOR, np.where(rules <= -0.1, metrics.AGAINST, metrics.NONE))
    rows["rules_alone"] = {"f_avg": round(metrics.f_avg(gold, rule_pred), 4),
                           "none_share": round(float((rule_pred == metrics.NONE).mean()), 3)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training.zero_shot", description=__doc__)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--config", type=Path, default=Path("config/monitor.toml"))
    args = parser.parse_args()
    print(json.dumps(report(args.weights, args.eval_dir, args.config), indent=2))


if __name__ == "__main__":
    main()

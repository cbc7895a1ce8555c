"""Sentiment on development sets the shipped model was not trained or calibrated on: SemEval-2016 Task 6 A's
sentiment labels (train + trial, 2,914 tweets) and VADER's rated tweets (4,200; a mean rating above 0.5 is
positive, below -0.5 negative, else neutral). AvgRec and accuracy, as the runtime labels them.

    python -m monitor.training.sentiment_proxies ../shared/eval [--weights DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monitor.analysis.learned import WEIGHTS_DIR, LearnedModel
from monitor.training import data, metrics

SEMEVAL16_SENTIMENT = {"negative": 0, "neither": 1, "positive": 2}


def semeval2016_sentiment(eval_dir: Path) -> tuple[list[str], list[int]]:
    rows = [row for row in data.semeval2016_rows(eval_dir)
            if len(row) > 5 and row[5].strip().lower() in SEMEVAL16_SENTIMENT]
    return [row[2] for row in rows], [SEMEVAL16_SENTIMENT[row[5].strip().lower()] for row in rows]


def vader_tweets(eval_dir: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    path = eval_dir / "vader_icwsm2014" / "tweets_GroundTruth.txt"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            rating = float(parts[1])
            texts.append(parts[2])
            labels.append(0 if rating < -0.5 else 2 if rating > 0.5 else 1)
    return texts, labels


def report(model: LearnedModel, eval_dir: Path) -> dict[str, dict[str, float]]:
    out = {}
    for name, (texts, gold) in (("semeval2016a_sentiment", semeval2016_sentiment(eval_dir)),
                                ("vader_rated_tweets", vader_tweets(eval_dir))):
        pred = model.sentiment(texts).argmax(axis=1)
        out[name] = {"n": len(gold), "avg_recall": round(metrics.avg_recall(gold, pred), 4),
                     "accuracy": round(metrics.accuracy(gold, pred), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training.sentiment_proxies", description=__doc__)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    model = LearnedModel(args.weights)
    print(json.dumps({"model": model.version, **report(model, args.eval_dir)}, indent=2))


if __name__ == "__main__":
    main()

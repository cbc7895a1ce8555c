"""python -m monitor.training.offsets EVAL_DIR [--weights DIR]: fit the sentiment decision offsets of a
weights folder on SemEval-2017 val, as the recipe does after training (``evaluate.sentiment_offsets``),
and write them with their dev figures into its manifest. For weights trained before the recipe fitted
them; needs no torch (the runtime scores the validation tweets)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monitor.analysis.learned import MANIFEST_FILE, WEIGHTS_DIR, LearnedModel
from monitor.training.evaluate import sentiment_offsets, sentiment_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training.offsets", description=__doc__)
    parser.add_argument("eval_dir", type=Path, help="the development data folder (../shared/eval)")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    path = args.weights / MANIFEST_FILE
    manifest = json.loads(path.read_text(encoding="utf-8"))
    model = LearnedModel(args.weights)
    _, logits, gold = sentiment_report(model, args.eval_dir)  # the raw head: offsets do not touch logits
    offsets, figures = sentiment_offsets(logits, gold, model.temperature("sentiment"))
    manifest["sentiment_offsets"] = list(offsets)
    manifest.setdefault("dev", {}).setdefault("sentiment_semeval2017_val", {}).update(figures)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"sentiment_offsets": list(offsets), **figures}, indent=2))


if __name__ == "__main__":
    main()

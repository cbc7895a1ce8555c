"""Both analyzers on the domain check set (tests/domain_check/posts.jsonl: real posts about our
targets, labelled by careful reading; see its README), or on the tuning set of long posts
(tests/domain_tune/posts.jsonl, where choices are made: --set tune).

    python bench/domain_check.py [--set check|tune] [--markdown]

Sentiment: AvgRec (macro recall), macro-F1 and accuracy over every post. Stance: F_avg (mean F1
of favor and against, SemEval-2016's measure) pooled over every labelled (post, target) pair, and
per target where a target has at least 10 labels (the rest pooled as "other"), and over the posts
longer than ``analysis.long_text_chars`` from social platforms ("long": comments, blog posts; news
items aside, stored as none). Every labelled
target is scored, also where the post names it only implicitly ("he", "this $500bn"), the way
`monitor score --target ID` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.analysis.analyzers import ANALYZER_NAMES, make_analyzer  # noqa: E402
from monitor.analysis.metrics import sentiment_metrics, stance_metrics  # noqa: E402
from monitor.config import load_config  # noqa: E402

SETS = {"check": ROOT / "tests" / "domain_check" / "posts.jsonl",
        "tune": ROOT / "tests" / "domain_tune" / "posts.jsonl"}
MIN_PER_TARGET = 10


def load_posts(path: Path = SETS["check"]) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(name: str, posts: list[dict]) -> dict[str, dict]:
    config = load_config(ROOT / "config" / "monitor.toml")
    config.analysis.store_unmatched = True
    analyzer = make_analyzer(config, name=name)
    reporting = set(config.analysis.reporting_platforms)
    gold_sentiment, pred_sentiment = [], []
    stance_pairs: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for post in posts:
        # One post at a time with its own labelled targets forced in (implicit mentions included).
        [result] = analyzer.analyse_many([(post["text"], "en")], force_targets=tuple(post["stance"]))
        gold_sentiment.append(post["sentiment"])
        pred_sentiment.append(result.label or "neutral")
        found = {t.target_id: t.stance.label for t in result.targets if t.stance is not None}
        if post["platform"] in reporting:  # stored as none, as an import does (analysis.reporting_platforms)
            found = {target: "none" for target in found}
        long = post["platform"] not in reporting and len(post["text"]) > config.analysis.long_text_chars
        for target, gold in post["stance"].items():
            for key in ("all", target, *(["long"] if long else [])):
                stance_pairs[key][0].append(gold)
                stance_pairs[key][1].append(found.get(target, "none"))
    figures = {"sentiment": sentiment_metrics(gold_sentiment, pred_sentiment)}
    for key, (gold, pred) in sorted(stance_pairs.items()):
        figures[f"stance:{key}"] = stance_metrics(gold, pred)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(SETS), default="check",
                        help="the check set (default) or the tuning set of long posts")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    posts = load_posts(SETS[args.set])
    results = {name: score(name, posts) for name in ANALYZER_NAMES}
    pooled = ["stance:all", *(["stance:long"] if "stance:long" in results["vader"] else [])]
    per_target = sorted(k for k in results["vader"] if k.startswith("stance:") and k not in pooled
                        and results["vader"][k]["n"] >= MIN_PER_TARGET)
    keys = ["sentiment", *pooled, *per_target]
    labels = results["vader"]["stance:all"]["n"]
    print(f"domain {args.set} set: {len(posts)} posts, {labels} (post, target) stance labels")
    header = ["measure", "n", *ANALYZER_NAMES]
    rows = []
    for key in keys:
        measure = "AvgRec" if key == "sentiment" else "F_avg"
        value = "avg_recall" if key == "sentiment" else "f_avg"
        rows.append([f"{key} {measure}", str(results["vader"][key]["n"]),
                     *[f"{results[n][key][value]:.3f}" for n in ANALYZER_NAMES]])
    rows.append(["sentiment accuracy", str(results["vader"]["sentiment"]["n"]),
                 *[f"{results[n]['sentiment']['accuracy']:.3f}" for n in ANALYZER_NAMES]])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header, *rows]:
            print(f"{row[0]:<28} {row[1]:>5} " + " ".join(f"{c:>8}" for c in row[2:]))


if __name__ == "__main__":
    main()

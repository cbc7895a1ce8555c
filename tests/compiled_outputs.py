"""Every output of the compilable analysis modules over real texts, as JSON: run once compiled and
once with MONITOR_PURE_PYTHON=1 (tests/test_compiled.py, bench/import_throughput.py) and compare.

    python tests/compiled_outputs.py EVAL_DIR OUT.json [TEXTS_FILE]

Texts: VADER's 4,200 rated tweets and the dev splits' tweets of P-Stance (val) and TweetEval (val).
Per text: the language guess, our VADER pass (compound and per-word valences), stock VADER's compound through our engine
(``extras=False``), the matcher's mentions, the whole analysis (sentiment per post and target, rule
stance per mentioned target) and rule stance toward three fixed targets (most texts do not name them:
the implicit-target path).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The datasets' own targets, so their tweets reach the stance rules through real mentions.
EXTRA_TARGETS = """
[[targets]]
id = "biden"
name = "Joe Biden"
kind = "person"
aliases = ["Joe Biden", "Biden"]
handles = ["JoeBiden"]

[[targets]]
id = "sanders"
name = "Bernie Sanders"
kind = "person"
aliases = ["Bernie Sanders", "Bernie", "Sanders"]
handles = ["BernieSanders"]
"""
FIXED_TARGETS = ("trump", "musk", "stargate")


def eval_texts(eval_dir: Path) -> list[str]:
    texts: list[str] = []
    vader = eval_dir / "vader_icwsm2014" / "tweets_GroundTruth.txt"
    texts += [row.split("\t", 2)[2] for row in vader.read_text(encoding="utf-8", errors="replace").splitlines()
              if row.count("\t") >= 2]
    for path in sorted((eval_dir / "pstance").glob("raw_val_*.csv")):
        with path.open(encoding="utf-8") as fh:
            texts += [row["Tweet"] for row in csv.DictReader(fh)]
    tweeteval = eval_dir / "semeval2017_task4a_tweeteval" / "val_text.txt"
    if tweeteval.exists():
        texts += tweeteval.read_text(encoding="utf-8").splitlines()
    return texts


def implementations() -> dict[str, str]:
    """Module name -> "compiled" or "pure", for the modules that have a compiled build."""
    from monitor.analysis import language, matching, sentiment, stance

    return {module.__name__: module.IMPLEMENTATION for module in (language, matching, sentiment, stance)}


def analyzers(config_dir: Path) -> tuple[Any, Any, Any]:
    """The analyzer over the bundled config plus the datasets' targets, our VADER engine, stock VADER's."""
    from monitor.analysis.pipeline import Analyzer
    from monitor.analysis.sentiment import VaderEngine
    from monitor.config import load_config

    config_path = config_dir / "compiled-outputs.toml"
    text = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8") + EXTRA_TARGETS
    config_path.write_text(text, encoding="utf-8")
    return Analyzer(load_config(config_path)), VaderEngine(), VaderEngine(extras=False)


def output_rows(texts: Iterable[str], config_dir: Path) -> Iterator[dict[str, Any]]:
    from monitor.analysis.language import guess_language
    from monitor.analysis.sentiment import prepare

    analyzer, ours, stock = analyzers(config_dir)
    for post in texts:
        prepared = prepare(post)
        scored = ours.score(prepared)
        analysis = analyzer.analyse(post, "en")
        yield {
            "compound": scored.compound, "valences": scored.valences, "words": scored.words,
            "stock": stock.score(post).compound, "lang": guess_language(post),
            "mentions": [[m.target_id, m.alias, m.start, m.end] for m in analyzer.matcher.match(post)],
            "analysis": [analysis.compound, analysis.compound_doc, analysis.label, analysis.sentences,
                         [[t.target_id, t.alias, t.sentiment, t.sentiment_label,
                           t.stance and t.stance.label, t.stance and t.stance.score] for t in analysis.targets]],
            "stance": [[r.label, r.score] for r in (analyzer.rule_stance.score(tid, post, None, scored)
                                                    for tid in FIXED_TARGETS)],
        }


def outputs(eval_dir: Path, config_dir: Path) -> dict[str, Any]:
    return {"implementations": implementations(), "rows": list(output_rows(eval_texts(eval_dir), config_dir))}


def compare_rows(reference: Iterable[dict[str, Any]], other: Iterable[dict[str, Any]]) -> tuple[int, float, int]:
    """(rows, largest score difference, rows whose words, mentions, labels or rounded analysis differ)."""
    count, worst, differing = 0, 0.0, 0
    for ref, got in zip(reference, other, strict=True):
        count += 1
        worst = max(worst, abs(ref["compound"] - got["compound"]), abs(ref["stock"] - got["stock"]),
                    *(abs(a - b) for a, b in zip(ref["valences"], got["valences"], strict=True)),
                    *(abs(a[1] - b[1]) for a, b in zip(ref["stance"], got["stance"], strict=True)))
        differing += any(ref[key] != got[key] for key in ("words", "mentions", "analysis", "lang")) or \
            [s[0] for s in ref["stance"]] != [s[0] for s in got["stance"]]
    return count, worst, differing


if __name__ == "__main__":
    out = Path(sys.argv[2])
    if len(sys.argv) > 3:  # TEXTS_FILE (one text a line): JSON lines, first the implementations (the bench)
        with out.open("w", encoding="utf-8") as fh, open(sys.argv[3], encoding="utf-8") as texts:
            fh.write(json.dumps(implementations()) + "\n")
            for row in output_rows((line.rstrip("\n") for line in texts), out.parent):
                fh.write(json.dumps(row) + "\n")
    else:
        out.write_text(json.dumps(outputs(Path(sys.argv[1]), out.parent)), encoding="utf-8")

"""Every development-set evaluation in one table: ours against the naive baselines.

    python bench/eval_all.py [EVAL_DIR] [--config config/monitor.toml] [--train] [--markdown]

EVAL_DIR defaults to ../shared/eval (see its SOURCES.md). Prints, per dataset and target:
stance F_avg for the majority class, VADER-as-stance and our zero-shot rules; sentiment AvgRec
and macro-F1 for stock VADER and ours (configured thresholds, and 0.3/-0.1); Pearson r on
VADER's own rated tweets. --train also trains a stance model on P-Stance Trump train (in a
temporary folder, the way `monitor stance train` does) and scores it on the validation split.
Each figure is also what `monitor eval` prints; the commands are listed in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load_config  # noqa: E402
from monitor.eval_cli import with_sentiment_thresholds  # noqa: E402
from monitor.evaluation import (  # noqa: E402
    Dataset,
    config_with_targets_files,
    evaluate,
    parse_label_map,
    read_dataset,
    stance_metrics,
)

RECOMMENDED_THRESHOLDS = "0.3,-0.1"


def stance_sets(eval_dir: Path) -> list[tuple[str, Dataset]]:
    semeval = eval_dir / "semeval2016_task6"
    train = read_dataset(semeval / "trainingdata-all-annotations.txt")
    trial = read_dataset(semeval / "trialdata-all-annotations.txt")
    out = [("SemEval-2016 train+trial", Dataset(train.examples + trial.examples, "stance", "semeval2016"))]
    for name in ("trump", "biden", "bernie"):
        out.append((f"P-Stance {name} val", read_dataset(eval_dir / "pstance" / f"raw_val_{name}.csv")))
    out.append(("Multi-target (Sobhani 2017)", read_dataset(
        eval_dir / "multitarget_stance_sobhani2017" / "preprocessed.csv",
        label_map=parse_label_map("0=against,1=none,2=favor"), target_prefix=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_dir", nargs="?", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "monitor.toml")
    parser.add_argument("--targets", type=Path, action="append", default=[],
                        help="a TOML file of [[targets]] to add to the config, replacing any with the same id "
                             "(config/examples/*.toml: dataset targets with these names get their stance cues)")
    parser.add_argument("--train", action="store_true", help="also train and score the P-Stance Trump model")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/accuracy.md)")
    args = parser.parse_args()
    if not args.eval_dir.is_dir():
        sys.exit(f"{args.eval_dir}: no such folder (pass the eval data folder)")
    config = load_config(args.config)
    config = config_with_targets_files(config, args.targets)
    sep = " | " if args.markdown else "  "

    def row(*cells: object) -> None:
        text = sep.join(str(c) for c in cells)
        print(f"| {text} |" if args.markdown else text)

    print("## Stance: F_avg = (F1 favor + F1 against) / 2, zero-shot (no labels for the target)\n")
    row("dataset", "target", "n", "majority", "VADER-as-stance", "ours (rules)", "gain")
    if args.markdown:
        row(*["---"] * 7)
    for label, dataset in stance_sets(args.eval_dir):
        started = time.perf_counter()
        report = evaluate(dataset, config, models_dir=None)
        for group, systems in report.groups.items():
            ours, vader = systems["ours"]["f_avg"], systems["vader-as-stance"]["f_avg"]
            row(label, group if group != "all" else "all (pooled)", systems["ours"]["n"],
                f"{systems['majority']['f_avg']:.3f}", f"{vader:.3f}", f"{ours:.3f}", f"{ours - vader:+.3f}")
        print(f"   ({time.perf_counter() - started:.1f} s)" if not args.markdown else "", end="\n" if not
              args.markdown else "")

    print("\n## Sentiment\n")
    s17 = args.eval_dir / "semeval2017_task4a_tweeteval"
    tweeteval = read_dataset(s17 / "val_text.txt", labels_path=s17 / "val_labels.txt")
    configured = config.analysis.sentiment
    row("dataset", "metric", "stock VADER (+-0.05)", f"ours ({configured.positive}/{configured.negative})",
        f"ours ({RECOMMENDED_THRESHOLDS.replace(',', '/')})")
    if args.markdown:
        row(*["---"] * 5)
    base = evaluate(tweeteval, config).groups["all"]
    tuned = evaluate(tweeteval, with_sentiment_thresholds(config, RECOMMENDED_THRESHOLDS),
                     baselines=False).groups["all"]
    for metric, key in (("AvgRec", "avg_recall"), ("macro-F1", "macro_f1"), ("F1 pos/neg", "f1_pn"),
                        ("accuracy", "accuracy")):
        row("SemEval-2017 4A val", metric, f"{base['stock-vader'][key]:.3f}", f"{base['ours'][key]:.3f}",
            f"{tuned['ours'][key]:.3f}")
    rated = evaluate(read_dataset(args.eval_dir / "vader_icwsm2014" / "tweets_GroundTruth.txt"), config)
    r_stock, r_ours = rated.groups["all"]["stock-vader"]["pearson_r"], rated.groups["all"]["ours"]["pearson_r"]
    row("VADER rated tweets", "Pearson r", f"{r_stock:.4f}", f"{r_ours:.4f}", f"{r_ours:.4f}")

    if args.train:
        from monitor.analysis.stance_model import save_model, train_model

        print("\n## Stance learned from labels (monitor stance train)\n")
        row("target", "trained on", "evaluated on", "F_avg", "F1 favor", "F1 against", "train s")
        if args.markdown:
            row(*["---"] * 7)
        from monitor.evaluation import resolve_target

        for name, full_name in (("trump", "Donald Trump"), ("biden", "Joe Biden"), ("bernie", "Bernie Sanders")):
            train = read_dataset(args.eval_dir / "pstance" / f"raw_train_{name}.csv")
            val = read_dataset(args.eval_dir / "pstance" / f"raw_val_{name}.csv")
            target = resolve_target(config, full_name)  # as `monitor stance train` does: the rule view needs its names
            started = time.perf_counter()
            model = train_model([e.text for e in train.examples], [e.label or "" for e in train.examples], target.id,
                                target=target)
            seconds = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as tmp:  # saved and loaded back, as the CLI does
                from monitor.analysis.stance_model import load_model

                model = load_model(save_model(model, Path(tmp)))
            m = stance_metrics([e.label or "" for e in val.examples], [model.score(e.text).label for e in val.examples])
            row(f"P-Stance {name}", f"raw_train_{name}.csv", f"raw_val_{name}.csv", f"{m['f_avg']:.3f}",
                f"{m['f1_favor']:.3f}", f"{m['f1_against']:.3f}", f"{seconds:.0f}")


if __name__ == "__main__":
    main()

"""Import throughput against bare VADER, on real tweet texts.

Builds a generic JSONL archive of real tweets from ../shared/eval (P-Stance, SemEval-2016,
multi-target stance, TweetEval, VADER's own sets), keeping each distinct text that mentions a
target (the default targets plus the datasets' own: Biden, Sanders, Clinton, Cruz). Then it times
``monitor import`` end to end in a fresh data directory (a subprocess: start-up, reading, matching,
scoring in worker processes, DuckDB writes) and stock ``polarity_scores`` over the same texts in
one process, and prints both rates and their ratio: for each of --rounds alternating pairs of
timings, then the median ratio.

    python bench/import_throughput.py [--eval-dir ../shared/eval] [--repeat 10] [--rounds 3] [--retweets] [--workers 0]

--repeat K writes each text K times with a distinct " (k)" suffix, so every text stays unique
while the run is long enough for start-up costs not to dominate. --retweets adds retweets of
them, about 1.7 for every tweet, many of the same few (see ``with_retweets``): the import analyses
each distinct text of a batch once, bare VADER scores every one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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

[[targets]]
id = "clinton"
name = "Hillary Clinton"
kind = "person"
aliases = ["Hillary Clinton", "Hillary", "Hilary Clinton"]
handles = ["HillaryClinton"]

[[targets]]
id = "cruz"
name = "Ted Cruz"
kind = "person"
aliases = ["Ted Cruz"]
handles = ["tedcruz"]
"""


def real_texts(eval_dir: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted((eval_dir / "pstance").glob("raw_*.csv")):
        texts += [row["Tweet"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    for path in sorted((eval_dir / "semeval2016_task6").glob("*annotations.txt")):
        rows = path.read_text(encoding="cp1252").splitlines()[1:]
        texts += [r.split("\t")[2] for r in rows if r.count("\t") >= 3]
    multi = eval_dir / "multitarget_stance_sobhani2017" / "preprocessed.csv"
    if multi.exists():
        texts += [row["text"].split(". ", 1)[-1] for row in csv.DictReader(multi.open(encoding="utf-8"))]
    tweeteval = eval_dir / "semeval2017_task4a_tweeteval" / "val_text.txt"
    if tweeteval.exists():
        texts += tweeteval.read_text(encoding="utf-8").splitlines()
    for path in sorted((eval_dir / "vader_icwsm2014").glob("*GroundTruth.txt")):
        texts += [r.split("\t", 2)[2] for r in path.read_text(encoding="utf-8", errors="replace").splitlines()
                  if r.count("\t") >= 2]
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def with_retweets(texts: list[str], seed: int = 1) -> tuple[list[str], int]:
    """The texts with retweets after them, as a search archive has: half the tweets get none, the
    rest a heavy-tailed number (Pareto, most get one or two, a few hundreds), each "RT @user: "
    plus a tweet among the last 200 (mostly the latest). Returns the texts and the retweet count."""
    rng = random.Random(seed)
    out: list[str] = []
    retweets = 0
    for i, text in enumerate(texts):
        out.append(text)
        for _ in range(int(rng.paretovariate(1.2)) - 1 if rng.random() < 0.5 else 0):
            back = min(int(rng.expovariate(0.05)), 199, i)
            out.append(f"RT @user{(i - back) % 997}: {texts[i - back]}")
            retweets += 1
    return out, retweets


def time_vader(stock: Any, texts: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of stock ``polarity_scores`` over the texts, in this process."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for text in texts:
        stock.polarity_scores(text)
    return time.perf_counter() - started, time.process_time() - cpu_started


def time_import(cmd: list[str], env: dict[str, str]) -> tuple[dict, float, float]:
    """The import's report, its wall seconds and the CPU seconds of it and its worker processes."""
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(done.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return json.loads(done.stdout)[0], seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--retweets", action="store_true",
                        help="add retweets (RT @user: ...) of the tweets, as search archives have them")
    parser.add_argument("--rounds", type=int, default=3,
                        help="pairs of timings, alternating (the figure: the median ratio)")
    parser.add_argument("--workers", type=int, default=0, help="scoring processes (0 = one per CPU)")
    args = parser.parse_args()
    if not args.eval_dir.exists():
        sys.exit(f"{args.eval_dir} not found: pass --eval-dir")

    from monitor.analysis.matching import Matcher
    from monitor.config import load_config

    work = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    config_text = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8")
    config_text = config_text.replace("workers = 0 ", f"workers = {args.workers} ") + EXTRA_TARGETS
    config_text = config_text.replace('path = "data/sample"', f'path = "{work / "none"}"')
    config_path = work / "bench.toml"
    config_path.write_text(config_text, encoding="utf-8")
    matcher = Matcher(load_config(config_path))
    base = [t for t in real_texts(args.eval_dir) if matcher.match(t)]
    texts = [t if k == 0 else f"{t} ({k})" for k in range(args.repeat) for t in base]
    retweets = 0
    if args.retweets:
        texts, retweets = with_retweets(texts)
    archive = work / "tweets.jsonl"
    with archive.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"platform": "bench", "id": str(i), "text": text, "author": f"u{i % 997}",
                                 "created_at": f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", "lang": "en"}) + "\n")
    print(f"archive: {len(texts) - retweets:,} unique texts ({len(base):,} distinct real tweets mentioning a target, "
          f"x{args.repeat})" + (f" and {retweets:,} retweets of them ({len(set(texts)):,} distinct texts in all)"
                                if retweets else "")
          + f", {archive.stat().st_size / 1e6:.1f} MB; cores: {os.cpu_count()}")

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    stock = SentimentIntensityAnalyzer()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ratios: list[float] = []
    cpu_per_post: list[tuple[float, float]] = []
    # The two timings alternate, round after round: this machine's speed drifts by tens of percent
    # within minutes, so one pair of timings far apart can say more about the drift than the code.
    for round_no in range(1, args.rounds + 1):
        vader_seconds, vader_cpu = time_vader(stock, texts)
        data_dir = work / f"data{round_no}"
        cmd = [sys.executable, "-m", "monitor", "--config", str(config_path), "--data-dir", str(data_dir),
               "import", "--json", str(archive)]
        report, import_seconds, import_cpu = time_import(cmd, env)
        shutil.rmtree(data_dir, ignore_errors=True)
        vader_rate, import_rate = len(texts) / vader_seconds, len(texts) / import_seconds
        ratios.append(import_rate / vader_rate)
        cpu_per_post.append((vader_cpu / len(texts) * 1e6, import_cpu / len(texts) * 1e6))
        print(f"round {round_no}: bare VADER {vader_rate:8,.0f} texts/s ({vader_seconds:.1f} s); monitor import "
              f"{import_rate:8,.0f} posts/s ({import_seconds:.1f} s; {report['posts_new']:,} stored, "
              f"{report['errors']} errors); ratio {ratios[-1]:.2f}x; CPU per post: VADER "
              f"{cpu_per_post[-1][0]:.1f} us, import {cpu_per_post[-1][1]:.1f} us in all its processes", flush=True)

    from monitor.analysis.pipeline import Analyzer

    analyzer = Analyzer(load_config(config_path))
    started = time.perf_counter()
    for text in texts:
        analyzer.analyse(text, "en")
    analysis_rate = len(texts) / (time.perf_counter() - started)

    vader_us = statistics.median(v for v, _ in cpu_per_post)
    import_us = statistics.median(i for _, i in cpu_per_post)
    print(f"ratio import / bare VADER, median of {len(ratios)} rounds: {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}x)")
    print(f"CPU per post (medians): bare VADER {vader_us:.1f} us; import {import_us:.1f} us in all its processes, "
          f"so {os.cpu_count()} idle cores allow at most {vader_us * (os.cpu_count() or 1) / import_us:.2f}x")
    print(f"our full analysis in 1 process: {analysis_rate:,.0f} posts/s (matching, sentiment, stance per target)")


if __name__ == "__main__":
    main()

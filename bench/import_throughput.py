"""Import throughput against bare VADER, on real tweet texts, compiled and pure (issue #16).

Builds a generic JSONL archive of real tweets from ../shared/eval (P-Stance, SemEval-2016,
multi-target stance, TweetEval, VADER's own sets), keeping each distinct text that mentions a
target (the default targets plus the datasets' own: Biden, Sanders, Clinton, Cruz). Then it times
``monitor import`` end to end in a fresh data directory (a subprocess: start-up, reading, matching,
scoring in worker processes, DuckDB writes) and stock ``polarity_scores`` over the same texts in
one process, and prints the rates and ratios side by side: per round, bare VADER, then
``monitor import --analyzer vader`` with the compiled analysis (setup.py), then the same with
MONITOR_PURE_PYTHON=1; the peak RSS of each import's process tree; the machine's load around each
timing. Then medians over --rounds, and the per-stage CPU (our VADER pass, matching, rule stance,
whole analysis of a matched post) compiled against pure.

    python bench/import_throughput.py [--eval-dir ../shared/eval] [--posts 100000] [--rounds 3] [--retweets]
                                      [--workers 0]

--posts N writes the distinct real texts again and again, each time with a distinct " (k)" suffix,
until there are N: every text stays unique and the run is long enough for start-up not to dominate.
--retweets adds retweets of them, about 1.7 for every tweet, many of the same few (see
``with_retweets``): the import analyses each distinct text of a batch once, bare VADER scores every one.
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
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.compiled_outputs import EXTRA_TARGETS as PEOPLE_OF_THE_DATASETS  # noqa: E402

# The datasets' own targets beside the bundled ones: Biden and Sanders (as the compiled-path tests have them),
# Clinton and Cruz.
EXTRA_TARGETS = PEOPLE_OF_THE_DATASETS + """
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


def tree_usage(root: int) -> tuple[dict[int, int], float]:
    """Resident bytes of a process and of each of its descendants (by pid), and the CPU seconds of
    the process itself (not its children), read from /proc (({}, 0.0) where /proc is missing)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    root_cpu = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pages = int((entry / "statm").read_text().split()[1])
        except OSError:
            continue
        pid, fields = int(entry.name), stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
        if pid == root:  # utime + stime, in clock ticks
            root_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in rss:
            tree[pid] = rss[pid]
        todo += children.get(pid, [])
    return tree, root_cpu


def watch_tree(proc: subprocess.Popen[str]) -> tuple[threading.Thread, dict[str, Any]]:
    """Sample a running process's tree every 50 ms until it ends (join the thread after): the tree's
    peak resident memory ("peak"), each process's ("each", by pid), the main process's CPU seconds."""
    seen: dict[str, Any] = {"peak": 0, "main_cpu": 0.0, "each": {}}

    def sample() -> None:
        while proc.poll() is None:
            tree, main_cpu = tree_usage(proc.pid)
            seen["peak"] = max(seen["peak"], sum(tree.values()))
            seen["main_cpu"] = max(seen["main_cpu"], main_cpu)
            for pid, rss in tree.items():
                seen["each"][pid] = max(seen["each"].get(pid, 0), rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    return sampler, seen


def time_import(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """The import's report, its wall seconds, the CPU seconds of all its processes and of its main
    process alone (last seen before it ended, so slightly less), and the peak resident memory of
    its process tree and of each of its processes (sampled every 50 ms; the per-process peaks may
    come at different times, so they can add up to more than the tree's)."""
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    sampler, seen = watch_tree(proc)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(stderr)
    cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    others = sorted((rss for pid, rss in seen["each"].items() if pid != proc.pid), reverse=True)
    return {"report": json.loads(stdout)[0], "seconds": seconds, "cpu": cpu, "main_cpu": seen["main_cpu"],
            "peak": seen["peak"], "peaks": [seen["each"].get(proc.pid, 0), *others]}


def peaks_note(peaks: list[int]) -> str:
    """'main 290 + 85 + 84 + 15' (MiB): the main process's peak RSS, then its children's, largest first
    (the workers, then multiprocessing's resource tracker)."""
    return f"main {peaks[0] / 2**20:.0f}" + "".join(f" + {rss / 2**20:.0f}" for rss in peaks[1:])


def load_note() -> str:
    """The 1-minute load average and the busiest other processes: the machine is shared."""
    busy = subprocess.run(["ps", "-eo", "pcpu,ni,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
                          text=True).stdout.splitlines()[:3]
    return f"load {os.getloadavg()[0]:.1f}; busiest: " + ", ".join(" ".join(b.split()) for b in busy)


def stage_timings(config_path: Path, texts: list[str]) -> dict[str, float]:
    """CPU microseconds per text of each analysis stage in this process (best of 3), over the texts, with
    the garbage collector set as in the import's workers (``relax_gc``): with Python's default, its scans
    of the lists kept here took more CPU than the compiled VADER pass itself (41 us a text against 26)."""
    from monitor.analysis import language, matching, sentiment, stance
    from monitor.analysis.batch import relax_gc
    from monitor.analysis.pipeline import Analyzer
    from monitor.analysis.sentiment import VaderEngine, prepare
    from monitor.config import load_config

    analyzer = Analyzer(load_config(config_path))
    engine = VaderEngine()
    prepared = [prepare(t) for t in texts]
    scored = [engine.score(t) for t in prepared]
    first = [analyzer.matcher.match(t)[0].target_id for t in texts]
    relax_gc(freeze=True)
    stages = {
        "our VADER pass": lambda: [engine.score(t) for t in prepared],
        "matching": lambda: [analyzer.matcher.match(t) for t in texts],
        "language guess": lambda: [language.guess_language(t) for t in texts],
        "rule stance (1 target)": lambda: [analyzer.rule_stance.score(tid, t, None, s)
                                           for tid, t, s in zip(first, texts, scored, strict=True)],
        "whole analysis": lambda: [analyzer.analyse(t, "en") for t in texts],
    }
    out: dict[str, Any] = {"implementation": sorted({m.IMPLEMENTATION for m in (language, matching, sentiment,
                                                                                  stance)})}
    for name, run in stages.items():
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            run()
            best = min(best, time.process_time() - started)
        out[name] = best / len(texts) * 1e6
    return out


def build_archive(work: Path, config_path: Path, args: argparse.Namespace) -> tuple[Path, list[str], list[str]]:
    """The JSONL archive; returns it, its texts, and the distinct real tweets it was made from."""
    from monitor.analysis.matching import Matcher
    from monitor.config import load_config

    matcher = Matcher(load_config(config_path))
    base = [t for t in real_texts(args.eval_dir) if matcher.match(t)]
    texts = [t if i < len(base) else f"{t} ({i // len(base)})" for i, t in
             ((i, base[i % len(base)]) for i in range(args.posts))]
    retweets = 0
    if args.retweets:
        texts, retweets = with_retweets(texts)
    archive = work / "tweets.jsonl"
    with archive.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"platform": "bench", "id": str(i), "text": text, "author": f"u{i % 997}",
                                 "created_at": f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", "lang": "en"}) + "\n")
    print(f"archive: {len(texts) - retweets:,} unique texts ({len(base):,} distinct real tweets mentioning a target, "
          f"repeated with a suffix)" + (f" and {retweets:,} retweets of them ({len(set(texts)):,} distinct texts)"
                                        if retweets else "")
          + f", {archive.stat().st_size / 1e6:.1f} MB; cores: {os.cpu_count()}")
    return archive, texts, base


def run_round(round_no: int, texts: list[str], archive: Path, config_path: Path, work: Path,
              stock: Any) -> dict[str, Any]:
    """Bare VADER, then the import compiled, then pure; rates, CPU per post, peak RSS, load."""
    figures: dict[str, Any] = {"load before": load_note()}
    vader_seconds, vader_cpu = time_vader(stock, texts)
    figures["vader"] = (len(texts) / vader_seconds, vader_cpu / len(texts) * 1e6)
    for mode, extra_env in (("compiled", {}), ("pure", {"MONITOR_PURE_PYTHON": "1"})):
        env = {k: v for k, v in os.environ.items() if k != "MONITOR_PURE_PYTHON"}
        env.update(PYTHONPATH=str(ROOT), **extra_env)
        data_dir = work / f"data{round_no}-{mode}"
        cmd = [sys.executable, "-m", "monitor", "--config", str(config_path), "--data-dir", str(data_dir),
               "import", "--analyzer", "vader", "--json", str(archive)]
        run = time_import(cmd, env)
        shutil.rmtree(data_dir, ignore_errors=True)
        per_post = 1e6 / len(texts)
        figures[mode] = (len(texts) / run["seconds"], run["cpu"] * per_post, run["peak"], run["report"]["posts_new"],
                         run["report"]["errors"], run["main_cpu"] * per_post, run["peaks"])
    figures["load after"] = load_note()
    vader_rate = figures["vader"][0]
    print(f"round {round_no}: bare VADER {vader_rate:8,.0f} texts/s ({figures['vader'][1]:.1f} us CPU/text) | "
          + " | ".join(f"import {mode} {figures[mode][0]:8,.0f} posts/s = {figures[mode][0] / vader_rate:.2f}x "
                       f"({figures[mode][1]:.1f} us CPU/post, {figures[mode][5]:.1f} of it in the main process, "
                       f"peak RSS {figures[mode][2] / 2**20:.0f} MiB ({peaks_note(figures[mode][6])}), "
                       f"{figures[mode][3]:,} stored, {figures[mode][4]} errors)" for mode in ("compiled", "pure")))
    print(f"    {figures['load before']}  ->  {figures['load after']}", flush=True)
    return figures


def print_stages(config_path: Path, base: list[str]) -> None:
    """Per-stage CPU, compiled against pure, each in a fresh process (the choice is made at import)."""
    results = {}
    for mode, extra_env in (("compiled", {}), ("pure", {"MONITOR_PURE_PYTHON": "1"})):
        env = {k: v for k, v in os.environ.items() if k != "MONITOR_PURE_PYTHON"}
        env.update(PYTHONPATH=str(ROOT), **extra_env)
        done = subprocess.run([sys.executable, __file__, "--stages-of", str(config_path)], env=env,
                              capture_output=True, text=True, check=True, input="\n".join(
                                  t.replace("\n", " ") for t in base))
        results[mode] = json.loads(done.stdout)
    print(f"per stage, CPU us per matched real tweet ({len(base):,} texts, best of 3; "
          f"{results['compiled'].pop('implementation')} vs {results['pure'].pop('implementation')}):")
    for stage, pure_us in results["pure"].items():
        compiled_us = results["compiled"][stage]
        print(f"    {stage:24s} compiled {compiled_us:6.1f}  pure {pure_us:6.1f}  "
              f"speed-up {pure_us / compiled_us:.2f}x")


def print_identity(texts: list[str], work: Path) -> None:
    """Compiled against pure on every text of the archive (tests/compiled_outputs.py, one run each):
    the largest score difference and the texts whose words, mentions or labels differ."""
    sys.path.insert(0, str(ROOT / "tests"))
    from compiled_outputs import compare_rows

    texts_file = work / "texts.txt"
    texts_file.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    outputs = {}
    for mode, extra_env in (("compiled", {}), ("pure", {"MONITOR_PURE_PYTHON": "1"})):
        env = {k: v for k, v in os.environ.items() if k != "MONITOR_PURE_PYTHON"}
        env.update(PYTHONPATH=str(ROOT), **extra_env)
        outputs[mode] = work / f"outputs-{mode}.jsonl"
        subprocess.run([sys.executable, str(ROOT / "tests" / "compiled_outputs.py"), str(work), str(outputs[mode]),
                        str(texts_file)], env=env, check=True)
    with outputs["compiled"].open(encoding="utf-8") as compiled, outputs["pure"].open(encoding="utf-8") as pure:
        implementations = [json.loads(next(compiled)), json.loads(next(pure))]
        rows, worst, differing = compare_rows(map(json.loads, pure), map(json.loads, compiled))
    print(f"compiled ({sorted(set(implementations[0].values()))}) against pure "
          f"({sorted(set(implementations[1].values()))}) on the archive's {rows:,} texts: largest score "
          f"difference {worst:.1e}, {differing} texts with other words, mentions or labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--retweets", action="store_true",
                        help="add retweets (RT @user: ...) of the tweets, as search archives have them")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of timings (the figures: medians)")
    parser.add_argument("--workers", type=int, default=0, help="scoring processes (0 = one per CPU)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip comparing the compiled analysis with the pure one on every text")
    parser.add_argument("--stages-of", type=Path, help=argparse.SUPPRESS)  # internal: time the stages, texts on stdin
    args = parser.parse_args()
    if args.stages_of:
        print(json.dumps(stage_timings(args.stages_of, sys.stdin.read().splitlines())))
        return
    if not args.eval_dir.exists():
        sys.exit(f"{args.eval_dir} not found: pass --eval-dir")

    work = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    config_text = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8")
    config_text = config_text.replace("workers = 0 ", f"workers = {args.workers} ") + EXTRA_TARGETS
    config_text = config_text.replace('path = "package:sample"', f'path = "{work / "none"}"')
    config_path = work / "bench.toml"
    config_path.write_text(config_text, encoding="utf-8")
    archive, texts, base = build_archive(work, config_path, args)

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    stock = SentimentIntensityAnalyzer()
    # The timings alternate, round after round: this machine's speed drifts by tens of percent
    # within minutes, so timings far apart can say more about the drift than the code.
    rounds = [run_round(n, texts, archive, config_path, work, stock) for n in range(1, args.rounds + 1)]
    vader = statistics.median(r["vader"][0] for r in rounds)
    print(f"medians of {len(rounds)} rounds: bare VADER {vader:,.0f} texts/s")
    for mode in ("compiled", "pure"):
        ratios = [r[mode][0] / r["vader"][0] for r in rounds]
        print(f"    import {mode:8s} {statistics.median(r[mode][0] for r in rounds):8,.0f} posts/s, ratio "
              f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x), CPU per post "
              f"{statistics.median(r[mode][1] for r in rounds):.1f} us in all its processes, "
              f"{statistics.median(r[mode][5] for r in rounds):.1f} us in the main one (bare VADER "
              f"{statistics.median(r['vader'][1] for r in rounds):.1f} us), peak RSS of the process tree "
              f"{max(r[mode][2] for r in rounds) / 2**20:.0f} MiB (max)")
    print_stages(config_path, base)
    if not args.no_check:
        print_identity(texts, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

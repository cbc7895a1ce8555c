"""A mostly-unmatched Reddit dump: `monitor import` against `zstd -dc FILE | grep -ciE PATTERN` (issue #16).

Writes (seeded, outside the repo: a temp dir or --out) a Pushshift-style comments .zst of --lines
lines (default 1M) with the fields real dumps have; bodies are real texts from ../shared/eval
(TweetEval, VADER's sets) that mention no target, and --rate (0.5%) of them get one planted
mention of a default-config target. Then, in one run, times:

- `zstd -dc FILE | grep -ciE PATTERN` (PATTERN: every alias, handle and hashtag of the targets),
- DuckDB `read_json` + `regexp_matches` on the same file (a second baseline),
- `monitor import` with the prefilter (compiled scan), with MONITOR_PURE_PYTHON=1 (pure scan and
  analysis), and without the prefilter (every line parsed);

each in a fresh data directory, and prints lines/s, the ratio to grep, the peak RSS of the
import's process tree, the load average; and checks that every planted mention is stored and that
the imports with and without the prefilter stored the same posts.

    python bench/scan_dump.py [--lines 1000000] [--rate 0.005] [--out DIR] [--skip-no-prefilter]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from import_throughput import watch_tree  # noqa: E402  (bench/ is the script's folder)

from monitor.analysis.matching import Matcher  # noqa: E402
from monitor.config import load_config  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CONFIG = ROOT / "monitor" / "default_config.toml"
SUBREDDITS = ["technology", "news", "AskReddit", "worldnews", "stocks", "Futurology", "gaming", "movies", "science"]


def texts_without_targets(matcher: Matcher) -> list[str]:
    sources = [EVAL / "semeval2017_task4a_tweeteval" / "train_text.txt"]
    texts: list[str] = []
    for path in sources:
        texts += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for name in ("movieReviewSnippets_GroundTruth.txt", "amazonReviewSnippets_GroundTruth.txt"):
        for line in (EVAL / "vader_icwsm2014" / name).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[2].strip():
                texts.append(parts[2].strip())
    return [t for t in dict.fromkeys(texts) if not matcher.match(t)]


def planted_mentions(config: Any) -> list[str]:
    """Phrases that name a target on their own (no ambiguous alias without its context)."""
    phrases = []
    for target in config.targets:
        for name in [*target.aliases, *target.exact_aliases]:
            phrases.append(f"what do you think of {name} here")
        phrases += [f"cc @{h}" for h in target.handles] + [f"#{t}" for t in target.hashtags]
    return phrases


def comment(rng: random.Random, n: int, body: str) -> dict[str, Any]:
    sub = rng.choice(SUBREDDITS)
    link = f"{rng.randrange(36**6):x}"
    cid = f"c{n:09x}"
    created = 1_700_000_000 + n * 3
    return {
        "all_awardings": [], "archived": False, "associated_award": None, "author": f"user{rng.randrange(200000)}",
        "author_flair_background_color": None, "author_flair_css_class": None, "author_flair_richtext": [],
        "author_flair_template_id": None, "author_flair_text": None, "author_flair_text_color": None,
        "author_flair_type": "text", "author_fullname": f"t2_{rng.randrange(36**7):x}",
        "author_patreon_flair": False, "author_premium": False, "awarders": [], "body": body,
        "can_gild": True, "collapsed": False, "collapsed_because_crowd_control": None, "controversiality": 0,
        "created_utc": created, "distinguished": None, "edited": False, "gilded": 0, "gildings": {},
        "id": cid, "is_submitter": False, "link_id": f"t3_{link}", "locked": False, "no_follow": True,
        "parent_id": f"t3_{link}", "permalink": f"/r/{sub}/comments/{link}/_/{cid}/",
        "retrieved_on": created + 86400, "score": rng.randrange(-5, 200), "send_replies": True,
        "stickied": False, "subreddit": sub, "subreddit_id": f"t5_{rng.randrange(36**5):x}",
        "subreddit_name_prefixed": f"r/{sub}", "subreddit_type": "public", "top_awarded_type": None,
        "total_awards_received": 0, "treatment_tags": [],
    }


def write_dump(path: Path, lines: int, rate: float, seed: int) -> list[str]:
    """The dump, and the ids of the comments with a planted mention."""
    import zstandard

    config = load_config(CONFIG)
    matcher = Matcher(config)
    texts = texts_without_targets(matcher)
    phrases = [p for p in planted_mentions(config) if matcher.match(p)]
    rng = random.Random(seed)
    planted: list[str] = []
    with open(path, "wb") as fh, zstandard.ZstdCompressor(level=3).stream_writer(fh) as out:
        for n in range(lines):
            body = rng.choice(texts)
            if rng.random() < rate:
                body = f"{body} {rng.choice(phrases)}"
                planted.append(f"t1_c{n:09x}")
            out.write(json.dumps(comment(rng, n, body)).encode() + b"\n")
    return planted


def grep_pattern(config: Any) -> str:
    names = [n for t in config.targets for n in (*t.aliases, *t.exact_aliases, *t.ambiguous_aliases)]
    names += [f"@{h}" for t in config.targets for h in t.handles]
    names += [f"#{h}" for t in config.targets for h in t.hashtags]
    return "|".join(re.escape(n).replace("\\ ", " ") for n in sorted(set(names), key=len, reverse=True))


def timed(cmd: list[str] | str, env: dict[str, str] | None = None, shell: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, shell=shell,
                            cwd=ROOT)
    watcher, seen = watch_tree(proc)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {err[-2000:]}")
    return {"seconds": seconds, "stdout": out, "stderr": err, "rss": seen["peak"]}


def import_run(dump: Path, work: Path, label: str, extra_env: dict[str, str], prefilter: bool,
               analyzer: str) -> dict[str, Any]:
    data_dir = work / f"data-{label}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_PURE_PYTHON"} | extra_env
    cmd = [sys.executable, "-m", "monitor", "--config", str(CONFIG), "--data-dir", str(data_dir), "import",
           str(dump), "--json", "--analyzer", analyzer, *([] if prefilter else ["--no-prefilter"])]
    result = timed(cmd, env)
    result["report"] = json.loads(result["stdout"])[0]
    result["data_dir"] = data_dir
    return result


def stored(data_dir: Path) -> dict[str, list[tuple]]:
    import duckdb

    db = next(data_dir.glob("*.duckdb"))
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "posts": con.execute("SELECT post_key, text FROM posts ORDER BY 1").fetchall(),
            "mentions": con.execute("SELECT post_key, target_id FROM mentions ORDER BY 1, 2").fetchall(),
        }
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, help="where the dump and data dirs go (default: a temp dir)")
    parser.add_argument("--skip-no-prefilter", action="store_true", help="skip the slow run that parses every line")
    parser.add_argument("--skip-pure", action="store_true")
    parser.add_argument("--analyzer", choices=["vader", "learned"], default="vader",
                        help="the imports' analyzer (default vader: the learned model costs ~2 ms a matched post)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="scan_dump-"))
    work.mkdir(parents=True, exist_ok=True)
    dump = work / f"RC_bench_{args.lines}_{args.seed}.zst"
    planted_file = dump.with_suffix(".planted.json")
    if not dump.exists() or not planted_file.exists():
        started = time.perf_counter()
        planted = write_dump(dump, args.lines, args.rate, args.seed)
        planted_file.write_text(json.dumps(planted))
        print(f"wrote {dump} ({dump.stat().st_size / 1e6:.0f} MB, {len(planted)} planted) "
              f"in {time.perf_counter() - started:.0f} s")
    planted = json.loads(planted_file.read_text())
    config = load_config(CONFIG)
    pattern = grep_pattern(config)
    print(f"machine: {os.cpu_count()} cores; imports with --analyzer {args.analyzer}; load before: {os.getloadavg()}")
    rows: list[tuple[str, float, str, str]] = []
    grep = timed(f"zstd -dc {dump} | grep -ciE '{pattern}'", shell=True)
    rows.append(("zstd -dc | grep -ciE", grep["seconds"], f"{grep['stdout'].strip()} lines", ""))
    duck = timed([sys.executable, "-c", DUCKDB_QUERY, str(dump), pattern])
    rows.append(("duckdb read_json + regexp", duck["seconds"], f"{duck['stdout'].strip()} rows", ""))
    runs = [("import, prefilter, compiled", {}, True)]
    if not args.skip_pure:
        runs.append(("import, prefilter, pure Python", {"MONITOR_PURE_PYTHON": "1"}, True))
    if not args.skip_no_prefilter:
        runs.append(("import, no prefilter", {}, False))
    results = {}
    for label, env, prefilter in runs:
        result = import_run(dump, work, re.sub(r"\W+", "-", label), env, prefilter, args.analyzer)
        results[label] = result
        report = result["report"]
        kept = {key for key, _ in stored(result["data_dir"])["posts"]}
        missing = [p for p in planted if f"reddit:{p}" not in kept]
        rows.append((label, result["seconds"], f"{report['records']} records, {report['posts_new']} new",
                     f"{result['rss'] / 2**20:.0f} MiB; planted missing: {len(missing)}"))
    print(f"{'run':34} {'seconds':>8} {'lines/s':>10} {'x grep':>7}  what / peak RSS of the process tree")
    for label, seconds, what, extra in rows:
        print(f"{label:34} {seconds:8.2f} {args.lines / seconds:10.0f} {grep['seconds'] / seconds:7.3f}  "
              f"{what} {extra}")
    if "import, no prefilter" in results:
        same = stored(results["import, prefilter, compiled"]["data_dir"]) == stored(
            results["import, no prefilter"]["data_dir"])
        print(f"same posts and mentions stored with and without the prefilter: {same}")
    print(f"load after: {os.getloadavg()}")


DUCKDB_QUERY = """
import sys, duckdb
con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
print(con.execute("SELECT count(*) FROM read_json(?, format='newline_delimited', columns={'body': 'VARCHAR'}) "
                     "WHERE regexp_matches(body, ?, 'i')", [sys.argv[1], sys.argv[2]]).fetchone()[0])
"""


if __name__ == "__main__":
    main()

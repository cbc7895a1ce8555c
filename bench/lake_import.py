"""Distributed import into the lake against the plain local import, and the lake read at 10M posts (#18).

1. Builds the multi-format archive of tests/lake_archive.py, bigger (--reddit-copies of the
   Pushshift fixture's 1,075 comments in 256 KiB zstd frames, --jsonl-posts planted posts, the
   fixture files read whole).
2. Imports it with the plain local import (``Importer``, its worker pool, into DuckDB) and with
   ``--cluster local:N`` into a lake (``DistributedImport`` on a LocalCluster of N processes), in
   the same run, and prints records/s side by side, the per-task times and the cluster start-up.
3. Projects 8 and 32 workers from the per-task times: T(W) = serial + max(longest task,
   sum(task times) / W) + tasks x scheduler overhead / W, where "serial" is what the client does
   alone (planning, the rollup) and the overhead per task is measured with no-op tasks on the same
   cluster. Per-task times come from workers that each had a core; a cluster's cores are assumed
   alike and the shared file system fast enough (the tasks read their own byte ranges).
4. Writes a 10M-post lake in the lake's layout with DuckDB (COPY ... PARTITION_BY: 5 platforms,
   10 targets, 90 days) and times the summary-style aggregate (per target and day: scores, mean
   sentiment, stance counts) over the database's mention_facts united with the lake's (an empty
   database, so all 10M come from the lake), over the daily rollup and over the deduped views, and
   the refresh of the lake's rollup and facts; then the whole summary (``summary.compute``, every
   figure) and ``monitor summary`` as a user runs it (a new process, the lake attached to the
   database with ``monitor lake attach``), best of 5.

    python bench/lake_import.py [--workers 2] [--reddit-copies 30] [--jsonl-posts 20000] [--lake-posts 10000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from monitor import summary  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.ingest.distributed import DistributedImport, connect  # noqa: E402
from monitor.ingest.imports import Importer  # noqa: E402
from monitor.ingest.pool import AnalysisPool  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.lake import Lake, attach, attach_to_store, refresh_rollup  # noqa: E402
from tests.lake_archive import build  # noqa: E402

AGGREGATE_VIEWS = """
SELECT s.target_id, CAST(p.created_at AS DATE) AS day, count(*) AS scores, avg(s.sentiment) AS mean,
       count(*) FILTER (WHERE s.stance = 'favor') AS favor, count(*) FILTER (WHERE s.stance = 'against') AS against
FROM lake_target_scores s JOIN lake_posts p USING (post_key, lake_part)
WHERE p.created_at >= TIMESTAMP '2026-09-01' GROUP BY ALL
"""
AGGREGATE_FACTS = """
SELECT target_id, CAST(created_at AS DATE) AS day, count(*) AS mentions, avg(sentiment) AS mean,
       count(*) FILTER (WHERE stance = 'favor') AS favor, count(*) FILTER (WHERE stance = 'against') AS against
FROM (SELECT target_id, created_at, sentiment, stance FROM mention_facts
      UNION ALL SELECT target_id, created_at, sentiment, stance FROM lake_new_mention_facts)
WHERE created_at >= TIMESTAMP '{since}' GROUP BY ALL
"""
AGGREGATE_ROLLUP = """
SELECT target_id, day, sum(scores) AS scores, sum(sentiment_sum) / sum(scores) AS mean, sum(favor), sum(against)
FROM lake_daily_target WHERE day >= DATE '2026-09-01' GROUP BY ALL
"""


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def noop(_: int) -> int:
    return 0


def local_import(config, archive: Path, data: Path) -> tuple[float, int]:
    started = time.perf_counter()
    pool = AnalysisPool(config, data / "models")
    reports = Importer(config, Store(data), pool).import_paths([archive])
    pool.close()
    return time.perf_counter() - started, sum(r.records for r in reports)


def lake_import(config, archive: Path, lake: Lake, workers: int, split_kib: int) -> dict:
    started = time.perf_counter()
    with connect(f"local:{workers}") as client:
        up = time.perf_counter() - started
        client.gather(client.map(noop, range(workers * 4), pure=False))  # warm the workers' imports
        overhead_started = time.perf_counter()
        client.gather(client.map(noop, range(200), pure=False))
        overhead = (time.perf_counter() - overhead_started) / 200 * workers
        job = DistributedImport(client, config, lake, split_bytes=split_kib << 10)
        run_started = time.perf_counter()
        done = job.run([archive], rollup=False)
        run = time.perf_counter() - run_started
        rollup_started = time.perf_counter()
        refresh_rollup(lake)
        rollup = time.perf_counter() - rollup_started
    return {"done": done, "up": up, "run": run, "overhead": overhead, "rollup": rollup}


def project(figures: dict, workers: int) -> float:
    tasks = [r.seconds for r in figures["done"].results]
    serial = figures["done"].plan_seconds + figures["rollup"]
    return serial + max(max(tasks), sum(tasks) / workers) + len(tasks) * figures["overhead"] / workers


def import_bench(args: argparse.Namespace, config, work: Path) -> None:
    archive = build(work / "archive", reddit_copies=args.reddit_copies, jsonl_posts=args.jsonl_posts,
                    frame_bytes=256 << 10)
    size = sum(p.stat().st_size for p in archive.rglob("*") if p.is_file())
    print(f"archive: {size / 1e6:.1f} MB in {sum(1 for p in archive.rglob('*') if p.is_file())} files; {load()}")
    local_seconds, records = local_import(config, archive, work / "data")
    print(f"local import ({AnalysisPool(config).workers} analysis workers): {records} records in "
          f"{local_seconds:.1f} s = {records / local_seconds:,.0f} records/s; {load()}")
    figures = lake_import(config, archive, Lake(str(work / "lake")), args.workers, args.split_kib)
    done = figures["done"]
    print(f"lake import --cluster local:{args.workers}: {done.records} records in {figures['run']:.1f} s = "
          f"{done.records / figures['run']:,.0f} records/s (+ cluster start {figures['up']:.1f} s, "
          f"rollup {figures['rollup']:.2f} s); ratio to local {local_seconds / figures['run']:.2f}x, "
          f"{local_seconds / (figures['run'] + figures['up']):.2f}x with the cluster's start; {load()}")
    seconds = [r.seconds for r in done.results]
    print(f"tasks: {len(seconds)}; task seconds: sum {sum(seconds):.1f}, median {statistics.median(seconds):.2f}, "
          f"max {max(seconds):.2f}; planning {done.plan_seconds:.2f} s; scheduler overhead "
          f"{figures['overhead'] * 1000:.1f} ms a task")
    for r in done.results:
        print(f"  {Path(r.path).name:52} [{r.start:>9}:{r.end:>9}] {r.records:>7} records {r.kept:>6} kept "
              f"{r.seconds:6.2f} s")
    cpu_per_million = sum(seconds) / max(1, done.records) * 1e6
    print(f"worker-seconds (task wall time, one core each) per million records: {cpu_per_million:,.0f} "
          f"({cpu_per_million / 3600:.2f} core-hours)")
    for workers in (args.workers, 8, 32):
        t = project(figures, workers)
        print(f"projected {workers:>2} workers: {t:.1f} s = {done.records / t:,.0f} records/s")


LAKE_SQL = """
CREATE TEMP TABLE p AS SELECT
  'p' || (i % 5) || ':' || i AS post_key, 'p' || (i % 5) AS platform, i::VARCHAR AS post_id,
  'https://example.com/' || i AS url, 'a' || (i % 100000) AS author_id, 'h' || (i % 100000) AS author_handle,
  NULL::VARCHAR AS author_name, 'post text number ' || i AS text, 'en' AS lang,
  TIMESTAMP '2026-08-01' + to_seconds((i * 7919) % (90 * 86400)) AS created_at, TIMESTAMP '2026-11-01' AS collected_at,
  NULL::VARCHAR AS reply_to, NULL::VARCHAR AS quote_of, NULL::VARCHAR AS repost_of, i % 100 AS likes,
  0::BIGINT AS reposts, 0::BIGINT AS replies, 0::BIGINT AS quotes, 'bench' AS source,
  'dump' || (i // 1000000) AS source_file,
  i % 1000000 AS source_line, NULL::VARCHAR AS source_request, NULL::VARCHAR AS source_query, 'bench' AS tool_version,
  1::BIGINT AS import_id, NULL::BIGINT AS run_id, NULL::VARCHAR AS raw, 'task' || (i // 1000000) AS lake_part
FROM range({n}) t(i);
CREATE TEMP TABLE s AS SELECT post_key, 't' || (hash(post_key) % 10) AS target_id,
  ((hash(post_key) % 2001)::DOUBLE - 1000) / 1000 AS sentiment, platform, created_at, lake_part FROM p;
"""


def write_big_lake(root: Path, n: int) -> None:
    con = duckdb.connect()
    con.execute(LAKE_SQL.format(n=n))
    month = "strftime(created_at, '%Y-%m') AS month"
    copy = "(FORMAT parquet, PARTITION_BY (platform, month), FILENAME_PATTERN 'part-bench{i}', ROW_GROUP_SIZE 131072)"
    targets = {
        "posts": f"SELECT * EXCLUDE (platform), platform, {month} FROM p",
        "target_scores": "SELECT post_key, target_id, sentiment, CASE WHEN sentiment > 0.05 THEN 'positive' WHEN "
                         "sentiment < -0.05 THEN 'negative' ELSE 'neutral' END AS sentiment_label, CASE WHEN sentiment "
                         "> 0.5 THEN 'favor' WHEN sentiment < -0.5 THEN 'against' ELSE 'none' END AS stance, "
                         "abs(sentiment) AS stance_score, 'vader' AS sentiment_scorer, '1' AS "
                         "sentiment_scorer_version, 'rules' AS stance_scorer, '1' AS stance_scorer_version, "
                         f"TIMESTAMP '2026-11-01' AS scored_at, lake_part, platform, {month} FROM s",
        "mentions": f"SELECT post_key, target_id, target_id AS alias, 'r1' AS rules_version, lake_part, platform, "
                    f"{month} FROM s",
    }
    for table, select in targets.items():
        (root / table).mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({select}) TO '{root / table}' {copy}")
    con.close()


def timed(con: duckdb.DuckDBPyConnection, sql: str, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - started)
    return best


def lake_read_bench(n: int, work: Path) -> None:
    lake = Lake(str(work / "biglake"))
    started = time.perf_counter()
    write_big_lake(Path(lake.root), n)
    size = sum(p.stat().st_size for p in Path(lake.root).rglob("*.parquet"))
    print(f"\n{n:,}-post lake written in {time.perf_counter() - started:.1f} s ({size / 1e6:.0f} MB); {load()}")
    started = time.perf_counter()
    rows = refresh_rollup(lake)
    print(f"rollup refresh (dedup + aggregate over every part): {time.perf_counter() - started:.1f} s, {rows} rows")
    store = Store(work / "bigdata")  # an empty database: the union's local side
    store.ensure()
    with store.read() as con:
        attach(con, lake)
        for label, since in (("whole 90 days", "2026-08-01"), ("last 30 days", "2026-10-01")):
            seconds = timed(con, AGGREGATE_FACTS.format(since=since))
            print(f"summary aggregate over local mention_facts + the lake's ({label}): {seconds * 1000:.0f} ms "
                  f"(best of 3); {load()}")
        for since in ("all", "30d"):
            best = float("inf")
            for _ in range(2):
                started = time.perf_counter()
                summary.compute(con, since=since, now=datetime(2026, 10, 30))
                best = min(best, time.perf_counter() - started)
            print(f"`monitor summary --since {since}` (summary.compute, every figure) over the database + the "
                  f"lake: {best:.2f} s (best of 2); {load()}")
    print(f"`monitor summary` (a new process, default window) over the database with the lake attached: "
          f"{cli_summary_seconds(store, lake):.2f} s (best of 5); {load()}")
    con = duckdb.connect()
    attach(con, lake, local=False)
    print(f"summary aggregate over the rollup: {timed(con, AGGREGATE_ROLLUP) * 1000:.0f} ms (best of 3); {load()}")
    print(f"the same over the deduped views:   {timed(con, AGGREGATE_VIEWS, 1):.1f} s; {load()}")
    print(f"count(*) of lake_posts (dedup):     {timed(con, 'SELECT count(*) FROM lake_posts', 1):.1f} s")


def cli_summary_seconds(store: Store, lake: Lake, rounds: int = 5) -> float:
    """`monitor summary` as a user runs it: the lake's views stored in the database, then the
    command in a new process (start-up, config, the file opened, every figure, the tables drawn)."""
    import subprocess

    attach_to_store(store, lake)
    command = [sys.executable, "-m", "monitor", "--data-dir", str(store.data_dir), "summary"]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reddit-copies", type=int, default=30)
    parser.add_argument("--jsonl-posts", type=int, default=20000)
    parser.add_argument("--split-kib", type=int, default=512, help="task size for JSON Lines and multi-frame .zst")
    parser.add_argument("--lake-posts", type=int, default=10_000_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    config = load_config(ROOT / "config" / "monitor.toml")
    config.analysis.analyzer = "vader"
    work = Path(tempfile.mkdtemp(prefix="lake-bench-"))
    try:
        if not args.skip_import:
            import_bench(args, config, work)
        if args.lake_posts:
            lake_read_bench(args.lake_posts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

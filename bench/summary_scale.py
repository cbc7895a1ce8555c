"""`monitor summary` at 1M and 10M posts against its bare main aggregate SQL (issue #16 item 3).

1. Builds (once; cached under --work) a database per size with the real schema (``Store.ensure()``
   applies every migration, so the rollup tables exist), then bulk-generates rows with DuckDB SQL:
   5 platforms, the first 10 targets of config/monitor.toml (their names and own accounts in
   ``targets``), posts spread over 90 days up to the build time, texts of 8-40 words (~60-280
   characters) drawn with a skew from a 4,000-word vocabulary plus hashtags, links and @handles,
   ~1.3 mentions a post (a skewed choice of target), a ``post_sentiment`` row per post and a
   ``target_scores`` row per mention (sentiment, label, stance and its scorer, as the writer stores
   them: 5% of the mentions by a trained stance model), ~20% of the posts by a few hot authors, a few
   posts by the targets' own accounts (who says what about whom). The rollups are then filled by
   ``monitor.store.rollups.rebuild`` (what the migration does for an existing database).
2. Times, in one run and best of --repeat: ``summary.compute`` + ``render`` (what `monitor summary`
   runs after opening the file) for the default window (all), ``--since 7d`` and one ``--target``;
   once with the rollups ignored ("rows only": mention_facts and rollup_words unused, the window's
   rows joined once into a temp table, up to --raw-max posts) and whether its figures are the same;
   and the bare main aggregate SQL (the per-target counts, mean sentiment, stance, engagement and
   authors over v_mentions, the summary's first query) over the same window. Then one `monitor
   summary` in a new process (start-up included). Prints them side by side with the load average.

    python bench/summary_scale.py [--sizes 1000000,10000000] [--work /tmp/summary_scale] [--repeat 3]
                                  [--rebuild] [--raw-max 1000000]

The default window reads everything: the whole history is the default of `monitor summary`.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.figures import same_figures  # noqa: E402

DAYS = 90
PLATFORMS_SQL = "['x', 'x', 'bluesky', 'bluesky', 'reddit', 'mastodon', 'hackernews']"
VOCAB = 4000
HASHTAGS = 300
AUTHORS_PER_POST = 0.1  # distinct authors: about a tenth of the posts


def _vocabulary() -> list[str]:
    """Pronounceable made-up words, so word counts are realistic without any corpus."""
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "pl"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    codas = ["", "n", "r", "s", "t", "ng", "ck"]
    words = [o + v + c for o in onsets for v in vowels for c in codas]
    words += [a + b for a in words[:80] for b in words[80:160]]
    return words[:VOCAB]


def build_database(data_dir: Path, n_posts: int) -> float:
    """The real schema, then generated rows in one connection; returns seconds taken."""
    import duckdb
    import pyarrow as pa

    from monitor.config import load_config
    from monitor.store import Store, rollups
    from monitor.store.rows import targets_table
    from monitor.store.schema import key_hash_sql

    started = time.perf_counter()
    config = load_config(ROOT / "config" / "monitor.toml")
    targets = list(config.targets)[:10]
    store = Store(data_dir)
    store.ensure()
    store.close()
    end = datetime.utcnow().replace(microsecond=0)
    con = duckdb.connect(str(store.path))
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("bench_target_rows", targets_table(targets))
        con.execute("INSERT OR REPLACE INTO targets BY NAME SELECT * FROM bench_target_rows")
        con.register("bench_targets", pa.table({"k": list(range(len(targets))), "target_id": [t.id for t in targets],
                                                "name": [t.name for t in targets]}))
        con.register("bench_vocab", pa.table({"words": [_vocabulary()]}))
        con.execute(_GEN_SQL.format(n=n_posts, end=f"{end:%Y-%m-%d %H:%M:%S}", days=DAYS, platforms=PLATFORMS_SQL,
                                    vocab=VOCAB, tags=HASHTAGS, authors=max(100, int(n_posts * AUTHORS_PER_POST))))
        con.execute(_POSTS_SQL.format(key_hash=key_hash_sql("post_key")))
        con.execute(_MENTIONS_SQL.format(targets=len(targets)))
        con.execute(_ANALYSIS_SQL)
        con.execute("DROP TABLE gen; DROP TABLE gen_mentions")
        rollups.rebuild(con)  # what the migration does for a database that has rows
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return time.perf_counter() - started


# gen: one row per post with its random draws (hash of the post number: the same database every build).
_GEN_SQL = """
CREATE TEMP TABLE gen AS
WITH g AS (SELECT i, (hash(i) >> 1)::BIGINT AS h, (hash(i + 7919) >> 1)::BIGINT AS h2 FROM range({n}) r(i))
SELECT i, h, h2, {platforms}[1 + h % 7] AS platform,
       TIMESTAMP '{end}' - to_microseconds((h2 % ({days} * 86400000000))::BIGINT) AS created_at,
       CASE WHEN h % 997 = 0 THEN ['sama', 'elonmusk', 'satyanadella', 'masason'][1 + (h2 % 4)]
            WHEN h % 5 = 0 THEN 'hot' || (h2 % 200)::VARCHAR
            ELSE 'user' || (hash(i * 3) % {authors})::VARCHAR END AS author_handle,
       array_to_string(list_transform(range(8 + (h2 % 33)::BIGINT),
           lambda j: CASE WHEN hash(i * 64 + j) % 23 = 0 THEN '#tag' || (hash(i * 64 + j) % {tags})::VARCHAR
                     ELSE words[1 + floor({vocab} * pow(((hash(i * 64 + j) % 1000003)::BIGINT)
                          / 1000003.0, 2))::BIGINT] END), ' ')
       || CASE WHEN h % 4 = 0 THEN ' https://example.com/a/' || (h % 100000)::VARCHAR ELSE '' END AS body
FROM g, bench_vocab
"""

_POSTS_SQL = """
INSERT INTO posts BY NAME
SELECT post_key, platform, post_id, 'https://' || platform || '.example/' || post_id AS url,
       author_handle AS author_id, author_handle, author_handle AS author_name, body AS text, 'en' AS lang,
       created_at, created_at + INTERVAL 60 SECOND AS collected_at, NULL AS reply_to, NULL AS quote_of,
       NULL AS repost_of, CASE WHEN h % 3 = 0 THEN 0 ELSE floor(pow((h % 10007) / 10007.0, 8) * 5000) END AS likes,
       (h2 % 11) AS reposts, (h % 5) AS replies, NULL AS quotes, platform AS source, NULL AS source_file,
       NULL AS source_line, NULL AS source_request, NULL AS source_query, '0.1.0' AS tool_version,
       NULL AS import_id, NULL AS run_id, NULL AS raw, {key_hash} AS key_hash
FROM (SELECT *, (i + 1000000000)::VARCHAR AS post_id, platform || ':' || (i + 1000000000)::VARCHAR AS post_key
      FROM gen)
"""

# ~1.3 mentions a post: a first target (skewed), and a second one for 30% of the posts. The target's
# name goes into the text, as a real match would have it.
_MENTIONS_SQL = """
CREATE TEMP TABLE gen_mentions AS
SELECT platform || ':' || (i + 1000000000)::VARCHAR AS post_key, t.target_id, t.name AS alias, i, h, h2, j
FROM gen, range(2) m(j), bench_targets t
WHERE (j = 0 AND t.k = floor({targets} * pow((h % 9973) / 9973.0, 1.7))::BIGINT)
   OR (j = 1 AND h2 % 10 < 3 AND t.k = (floor({targets} * pow((h % 9973) / 9973.0, 1.7))::BIGINT + 1 + h2 % 7)
                                         % {targets});
INSERT INTO mentions BY NAME SELECT post_key, target_id, alias, 'bench-rules' AS rules_version FROM gen_mentions;
UPDATE posts SET text = m.names || ' ' || text
FROM (SELECT post_key, string_agg(alias, ' and ') AS names FROM gen_mentions GROUP BY post_key) m
WHERE posts.post_key = m.post_key;
"""

_ANALYSIS_SQL = """
INSERT INTO post_sentiment BY NAME
SELECT platform || ':' || (i + 1000000000)::VARCHAR AS post_key, 'en' AS lang, h % 50 <> 0 AS scored,
       CASE WHEN h % 50 <> 0 THEN round(((h2 % 2001) - 1000) / 1000.0, 4) END AS compound,
       CASE WHEN h % 50 <> 0 THEN round(((h2 % 1999) - 999) / 1000.0, 4) END AS compound_doc,
       CASE WHEN h % 50 = 0 THEN NULL WHEN h2 % 2001 > 1300 THEN 'positive' WHEN h2 % 2001 < 900 THEN 'negative'
            ELSE 'neutral' END AS label, 1 + h % 4 AS sentences, 'vader' AS scorer, '3.3.2' AS scorer_version,
       created_at + INTERVAL 61 SECOND AS scored_at, 'bench-rules' AS rules_version
FROM gen;
INSERT INTO target_scores BY NAME
SELECT post_key, target_id,
       CASE WHEN h % 50 <> 0 THEN round((((hash(h2 + j) >> 1)::BIGINT % 2001) - 1000) / 1000.0, 4) END AS sentiment,
       CASE WHEN h % 50 = 0 THEN NULL WHEN (hash(h2 + j) >> 1)::BIGINT % 2001 > 1300 THEN 'positive'
            WHEN (hash(h2 + j) >> 1)::BIGINT % 2001 < 900 THEN 'negative' ELSE 'neutral' END AS sentiment_label,
       CASE WHEN h % 50 = 0 THEN NULL ELSE ['favor', 'against', 'none', 'none'][1 + ((hash(h + j) % 4)::BIGINT)]
            END AS stance,
       CASE WHEN h % 50 <> 0 THEN (((hash(h + j) >> 1)::BIGINT % 201) - 100) / 100.0 END AS stance_score,
       'vader' AS sentiment_scorer, '3.3.2' AS sentiment_scorer_version,
       CASE WHEN h % 50 = 0 THEN NULL WHEN h % 20 = 1 THEN 'trained:' || target_id ELSE 'rules' END AS stance_scorer,
       CASE WHEN h % 50 = 0 THEN NULL WHEN h % 20 = 1 THEN '2025-01-01' ELSE '1' END AS stance_scorer_version,
       TIMESTAMP '2025-01-01' AS scored_at
FROM gen_mentions;
"""


def ensure_database(work: Path, n_posts: int, rebuild: bool) -> Path:
    """The cached database of ``n_posts`` posts (built when missing or with --rebuild)."""
    import shutil

    data_dir = work / f"posts_{n_posts}"
    done = data_dir / "built"
    if rebuild or not done.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
        seconds = build_database(data_dir, n_posts)
        done.write_text(f"{seconds:.1f}\n")
        print(f"built {n_posts:,} posts in {seconds:.0f} s: {data_dir}", flush=True)
    from monitor.store import Store

    started = time.perf_counter()
    store = Store(data_dir)
    store.ensure()  # a database built by an older version: its new migrations (the rollups' rebuild)
    store.close()
    if time.perf_counter() - started > 1:
        print(f"migrated in {time.perf_counter() - started:.0f} s", flush=True)
    return data_dir


MAIN_AGGREGATE = """
SELECT target_id, any_value(target_name), count(*), avg(sentiment), count(sentiment),
       count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
       count(*) FILTER (WHERE stance = 'none'), sum(engagement), count(DISTINCT author_handle)
FROM v_mentions WHERE {where} GROUP BY target_id ORDER BY count(*) DESC, target_id
"""


def best_of(repeat: int, func: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def time_case(data_dir: Path, case: dict[str, Any], repeat: int, skip_raw: bool) -> dict[str, Any]:
    """One window: the summary with rollups, without them, and the bare main aggregate."""
    import duckdb
    from rich.console import Console

    from monitor import summary
    from monitor.store import rollups
    from monitor.store.rows import utcnow_naive

    con = duckdb.connect(str(data_dir / "monitor.duckdb"), read_only=True)
    now = utcnow_naive()  # one clock for every run: the same window each time
    try:
        def run() -> dict[str, Any]:
            data = summary.compute(con, now=now, **case)
            summary.render(data, Console(width=120, file=io.StringIO()))
            return data

        def run_raw() -> dict[str, Any]:
            with rollups.disabled():
                return run()

        window = summary._window(con, case.get("since", "all"), None, summary.make_filters(case.get("target")),
                                 now)
        bare = best_of(repeat, lambda: con.execute(MAIN_AGGREGATE.format(where=window.where),
                                                   window.params).fetchall())
        fast = best_of(repeat, run)
        raw = None if skip_raw else best_of(1, run_raw)
        same = None if skip_raw else same_figures(run(), run_raw())
    finally:
        con.close()
    return {"summary": fast, "raw": raw, "bare": bare, "same": same}


def cli_seconds(data_dir: Path) -> float:
    """`monitor summary` as a user runs it (a new process: start-up, config, the file opened)."""
    import subprocess

    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor", "--config", str(ROOT / "config" / "monitor.toml"),
                    "--data-dir", str(data_dir), "summary"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/summary_scale"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--raw-max", type=int, default=1_000_000,
                        help="time the summary from the rows (rollups off) only up to this many posts "
                             "(its top words read every text: ~10 min at 10M)")
    args = parser.parse_args()
    cases = [("default (all)", {}), ("--since 7d", {"since": "7d"}), ("--target musk", {"target": "musk"})]
    print(f"machine: {os.cpu_count()} cores; load before: {os.getloadavg()}", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        data_dir = ensure_database(args.work, size, args.rebuild)
        print(f"\n{size:,} posts ({(data_dir / 'monitor.duckdb').stat().st_size / 1e9:.2f} GB); "
              f"load {os.getloadavg()}", flush=True)
        print(f"{'case':<16} {'summary':>9} {'rows only':>9} {'bare SQL':>9} {'summary/bare':>13} same figures")
        for label, case in cases:
            r = time_case(data_dir, case, args.repeat, skip_raw=size > args.raw_max)
            raw = "-" if r["raw"] is None else f"{r['raw']:.2f} s"
            print(f"{label:<16} {r['summary']:>7.2f} s {raw:>9} {r['bare']:>7.2f} s {r['summary'] / r['bare']:>12.2f}x "
                  f"{r['same']}", flush=True)
        runs = [cli_seconds(data_dir) for _ in range(args.repeat)]
        print(f"`monitor summary` (new process, default window): best {min(runs):.2f} s of "
              f"{', '.join(f'{r:.2f}' for r in runs)}; load {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()

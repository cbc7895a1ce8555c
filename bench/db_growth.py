"""How the database file grows under frequent small writes (a collector polling every 30 s).

Each "poll" writes what a collector run writes: a page batch (a few posts, most of them re-seen,
their sightings, the cursor in ``source_state`` and the run row) and the final run row, as
separate ``Store.write`` calls. Prints the file size and DuckDB's block usage every ``--every``
polls, so growth that is not proportional to the data shows.

    python bench/db_growth.py [--polls 200] [--posts-per-poll 30] [--new-per-poll 1] [--every 20]
                              [--merge-after N] [--block-size BYTES]

``--merge-after`` and ``--block-size`` override the writer's ``MERGE_AFTER_WRITES`` (0: never merge,
as before the fix) and the block size new files get, to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import monitor.store.db as db  # noqa: E402
from monitor.models import Author, Post, Provenance  # noqa: E402
from monitor.store import Store, WriteBatch  # noqa: E402
from monitor.store.rows import new_id, posts_table, utcnow_naive  # noqa: E402


def make_post(i: int) -> Post:
    return Post(platform="hackernews", id=str(i), text=f"Post {i} about Sam Altman and OpenAI " * 4,
                created_at=datetime(2026, 1, 1, tzinfo=UTC), author=Author(id=f"u{i}", handle=f"user{i}"),
                provenance=Provenance(source="hackernews", collected_at=datetime.now(UTC)))


def poll_batches(poll: int, posts_per_poll: int, new_per_poll: int) -> list[WriteBatch]:
    """What one collector run writes: one page batch, then the final run row."""
    run_id = new_id()
    first = poll * new_per_poll
    posts = [make_post(i) for i in range(max(0, first + new_per_poll - posts_per_poll), first + new_per_poll)]
    now = utcnow_naive()
    run = {"run_id": run_id, "source": "hackernews", "query": "altman", "started_at": now, "finished_at": now,
           "pages": 1, "requests": 1, "posts_new": new_per_poll, "posts_seen": len(posts) - new_per_poll,
           "statuses": "200x1", "error": None, "coverage": "complete"}
    page = WriteBatch()
    page.add("posts", posts_table(posts, run_id=run_id))
    page.add_rows("sightings", [{"post_key": p.key, "run_id": run_id, "source": "hackernews", "query": "altman",
                                 "seen_at": now} for p in posts])
    page.add_rows("source_state", [{"source": "hackernews", "query": "altman", "state": f'{{"n": {poll}}}',
                                    "updated_at": now}])
    page.add_rows("runs", [run])
    final = WriteBatch()
    final.add_rows("runs", [run])
    return [page, final]


def block_usage(store: Store) -> str:
    with store.read() as con:
        total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchone()
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    return f"posts {posts:6d}  blocks {total:5d}  free {free:5d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--posts-per-poll", type=int, default=30)
    parser.add_argument("--new-per-poll", type=int, default=1)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--merge-after", type=int, default=db.MERGE_AFTER_WRITES)
    parser.add_argument("--block-size", type=int, default=db.BLOCK_SIZE)
    args = parser.parse_args()
    db.MERGE_AFTER_WRITES = args.merge_after or 10**9
    db.BLOCK_SIZE = args.block_size
    print(f"merge after {args.merge_after or 'never'} writes, {args.block_size // 1024} KB blocks")
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        store.ensure()
        print(f"start: {store.path.stat().st_size / 1e6:7.2f} MB  {block_usage(store)}")
        for poll in range(1, args.polls + 1):
            for batch in poll_batches(poll, args.posts_per_poll, args.new_per_poll):
                started = time.perf_counter()
                store.write(batch)
                timings.append((time.perf_counter() - started) * 1000)
            if poll % args.every == 0:
                print(f"poll {poll:4d}: {store.path.stat().st_size / 1e6:7.2f} MB  {block_usage(store)}", flush=True)
        store.close()
    print(f"Store.write: median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms "
          f"({len(timings)} writes)")


if __name__ == "__main__":
    main()

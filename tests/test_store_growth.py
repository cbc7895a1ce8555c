"""Frequent small writes (a source polled every 30 s) grow the file in proportion to the data: each
checkpointed write leaves its rows in fresh blocks, which the writer frees by merging row groups
every MERGE_AFTER_WRITES writes (bench/db_growth.py measures it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from monitor.models import Author, Post, Provenance
from monitor.store import Store, WriteBatch
from monitor.store.rows import new_id, posts_table, utcnow_naive


def poll(n: int) -> list[WriteBatch]:
    """One collector run: a page (30 posts, one of them new, their sightings, the cursor, the run
    row), then the run's final row."""
    run_id = new_id()
    now = utcnow_naive()
    posts = [Post(platform="hackernews", id=str(i), author=Author(id="1", handle="h"),
                  text=f"Sam Altman and OpenAI, story {i} " * 4, created_at=datetime(2026, 1, 1),
                  provenance=Provenance(source="hackernews")) for i in range(max(0, n - 29), n + 1)]
    run = {"run_id": run_id, "source": "hackernews", "query": "altman", "started_at": now, "finished_at": now,
           "pages": 1, "requests": 1, "posts_new": 1, "posts_seen": len(posts) - 1, "statuses": "200x1",
           "error": None, "coverage": "complete"}
    page = WriteBatch()
    page.add("posts", posts_table(posts, run_id=run_id))
    page.add_rows("sightings", [{"post_key": p.key, "run_id": run_id, "source": "hackernews", "query": "altman",
                                 "seen_at": now} for p in posts])
    page.add_rows("source_state", [{"source": "hackernews", "query": "altman", "state": "{}", "updated_at": now}])
    page.add_rows("runs", [run])
    final = WriteBatch()
    final.add_rows("runs", [run])
    return [page, final]


def test_many_small_writes_keep_the_file_small(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.store.db.MERGE_AFTER_WRITES", 8, raising=False)
    store = Store(data_dir)
    store.ensure()
    sizes = []
    for n in range(24):  # 48 writes, 24 posts
        for batch in poll(n):
            store.write(batch)
        sizes.append(store.path.stat().st_size)
    store.close()
    # Without the merges: ~0.8 MB a poll, 20 MB here. With them the file levels off: the last 12
    # polls (12 posts more) add less than 1.5 MB, and it stays under 8 MB in all.
    assert sizes[-1] < 8_000_000, sizes
    assert sizes[-1] - sizes[11] < 1_500_000, sizes

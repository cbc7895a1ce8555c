"""The one write path: analysed posts (from an import, a collector run or a rescore) become one
``WriteBatch`` with their analysis rows, plus whatever bookkeeping rows the origin adds, written in
one transaction (or spooled when the database is locked)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import pyarrow as pa

from monitor.ingest.pool import AnalysedBatch, AnalysisPool
from monitor.models import Post
from monitor.store import Store, WriteBatch
from monitor.store.rows import dedupe_posts, posts_table


@dataclass
class Origin:
    """Where a batch of posts comes from; stamped on each post row."""

    import_id: int | None = None
    run_id: int | None = None


@dataclass
class Written:
    """What one write did."""

    records: int = 0  # posts read
    kept: int = 0  # posts that mention a target (or all, with store_unmatched)
    posts_new: int = 0
    posts_seen: int = 0
    spooled: bool = False
    posts_spooled: int = 0  # kept posts waiting in the spool: new or seen is counted when it drains
    shown: int = 0  # posts a progress bar counted while they were analysed (analyse_posts)

    @property
    def unmatched(self) -> int:
        return self.records - self.kept


@dataclass
class PendingPosts:
    """Posts whose analysis is under way (in worker processes for big batches)."""

    posts: list[Post]
    result: Callable[[], AnalysedBatch]
    shown: int = 0  # posts counted by ``progress`` as they were analysed


def analyse_posts(pool: AnalysisPool, posts: Sequence[Post], progress: Callable[[int], None] | None = None,
                  stored: Collection[str] = ()) -> PendingPosts:
    """Start analysing posts (one of each key); the caller reads the next batch meanwhile.
    ``progress(n)``: n more posts analysed, where the pool analyses in this process. ``stored``: keys
    of posts stored already, kept without analysis: the store keeps a post's first analysis (`monitor
    rescore` replaces it), so analysing them again was work thrown away (a resumed import with the
    learned analyzer spent minutes on it)."""
    unique = dedupe_posts(posts)
    items = [(p.key, p.text, p.lang) for p in unique if p.key not in stored]
    pending = PendingPosts(unique, _not_submitted)

    def analysed(n: int) -> None:
        pending.shown += n
        if progress is not None:
            progress(n)

    result = pool.submit(items, words=True, progress=analysed if progress is not None else None)
    pending.result = result if len(items) == len(unique) else lambda: _stored_kept(unique, stored, result())
    return pending


def _not_submitted() -> AnalysedBatch:
    raise RuntimeError("the posts' analysis was not submitted")


def _stored_kept(posts: list[Post], stored: Collection[str], analysed: AnalysedBatch) -> AnalysedBatch:
    """The analysis of the posts not stored yet, with the stored ones kept (the writer counts them as
    seen, and adds no analysis for them)."""
    fresh = iter(analysed.keep)
    return AnalysedBatch([True if post.key in stored else next(fresh) for post in posts], analysed.tables)


def write_posts(store: Store, pending: PendingPosts, origin: Origin,
                bookkeeping: Callable[[WriteBatch, list[Post]], None] | None = None) -> Written:
    """Store the kept posts with their analysis and the origin's bookkeeping rows, in one batch.
    ``bookkeeping(batch, kept_posts)`` adds the rows the origin records beside the posts (a
    collector's cursor and sightings, an import's bad records)."""
    tables, kept, written = analysed_rows(pending, origin)
    return write_rows(store, tables, written, None if bookkeeping is None else lambda batch: bookkeeping(batch, kept))


def analysed_rows(pending: PendingPosts, origin: Origin) -> tuple[dict[str, pa.Table], list[Post], Written]:
    """Once their analysis is done: the rows of the posts to keep (``posts`` and their analysis
    tables), those posts, and what was read."""
    analysed = pending.result()
    kept = [post for post, keep in zip(pending.posts, analysed.keep, strict=True) if keep]
    tables = {"posts": posts_table(kept, import_id=origin.import_id, run_id=origin.run_id),
              **analysed.tables} if kept else {}
    return tables, kept, Written(records=len(pending.posts), kept=len(kept), shown=pending.shown)


def write_rows(store: Store, tables: dict[str, pa.Table], written: Written,
               bookkeeping: Callable[[WriteBatch], None] | None = None) -> Written:
    """Store rows made beforehand (``posts`` and their analysis tables) with the origin's bookkeeping
    rows, in one batch; ``written`` says what was read, and gets what the write did."""
    batch = WriteBatch()
    for table, data in tables.items():
        batch.add(table, data)
    if bookkeeping is not None:
        bookkeeping(batch)
    if batch:
        result = store.write(batch)
        written.posts_new, written.posts_seen, written.spooled = result.posts_new, result.posts_seen, result.spooled
        written.posts_spooled = result.posts_spooled
    return written


def write_rescored(store: Store, keys: Sequence[str], analysed: AnalysedBatch) -> None:
    """Replace the stored analysis of posts already stored (``rescored`` deletes the old rows)."""
    batch = WriteBatch()
    batch.add("rescored", pa.table({"post_key": list(keys)}))
    add_analysis(batch, analysed)
    store.write(batch)


def add_analysis(batch: WriteBatch, analysed: AnalysedBatch) -> None:
    for table, data in analysed.tables.items():
        batch.add(table, data)

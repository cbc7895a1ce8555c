"""Delete stored posts on the user's word: those of a wrong import (another file, a bad field map, a
placeholder date), or single posts by key. The posts go the way a deletion at the source goes (the
``deletions`` rows of a batch: their analysis, facts and rollups with them), so every figure stays in
step; the import's row is marked ``deleted``, so its file can be imported again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.store import Store, WriteBatch
from monitor.store.rows import utcnow_naive

CHUNK = 50_000  # keys a batch: the writer holds the lock for one chunk at a time
DELETED_BY = "monitor delete"  # the deletions rows' source


@dataclass
class Selection:
    """What ``monitor delete`` was asked for, and what it found."""

    imports: list[dict[str, Any]] = field(default_factory=list)  # the imports rows (import_id, path, ...)
    keys: list[str] = field(default_factory=list)  # the stored posts to delete
    unknown: list[str] = field(default_factory=list)  # asked-for imports, files or keys not stored


def select(store: Store, import_ids: Sequence[int] = (), files: Sequence[str] = (),
           post_keys: Sequence[str] = (), before: datetime | None = None, platforms: Sequence[str] = ()) -> Selection:
    """The stored posts of the imports (by id, or every import of a file as its path was given), the
    posts of ``post_keys`` that are stored, and, when ``before`` (naive UTC) or ``platforms`` is given,
    the posts created before it and from those platforms (both, when both are given: keeping a year of
    one platform). A post belongs to the import that stored it first."""
    chosen = Selection()
    with store.read() as con:
        rows = con.execute(
            "SELECT import_id, path, status, started_at, posts_new FROM imports "
            "WHERE import_id IN (SELECT unnest(?::BIGINT[])) OR path IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY started_at", [list(import_ids), list(files)]).fetchall()
        chosen.imports = [dict(zip(("import_id", "path", "status", "started_at", "posts_new"), r, strict=True))
                          for r in rows]
        found_ids = {r["import_id"] for r in chosen.imports}
        found_paths = {r["path"] for r in chosen.imports}
        chosen.unknown = [f"import {i}" for i in import_ids if i not in found_ids]
        chosen.unknown += [f"file {f}" for f in files if f not in found_paths]
        keys = {k for (k,) in con.execute(
            "SELECT post_key FROM posts WHERE import_id IN (SELECT unnest(?::BIGINT[])) "
            "UNION SELECT post_key FROM posts WHERE post_key IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(found_ids), list(post_keys)]).fetchall()}
        if before is not None or platforms:
            keys.update(k for (k,) in con.execute(
                "SELECT post_key FROM posts WHERE (CAST(? AS TIMESTAMP) IS NULL OR created_at < ?) "
                "AND (len(?::VARCHAR[]) = 0 OR platform IN (SELECT unnest(?::VARCHAR[])))",
                [before, before, list(platforms), list(platforms)]).fetchall())
    chosen.unknown += [f"post {k}" for k in post_keys if k not in keys]
    chosen.keys = sorted(keys)
    return chosen


def delete(store: Store, chosen: Selection, progress: Callable[[int, int], None] | None = None) -> int:
    """Delete the selected posts, CHUNK keys a write, then mark their imports deleted. Returns the
    posts deleted."""
    now = utcnow_naive()
    done = 0
    for start in range(0, len(chosen.keys), CHUNK):
        keys = chosen.keys[start:start + CHUNK]
        batch = WriteBatch()
        batch.add_rows("deletions", [{"post_key": k, "source": DELETED_BY, "deleted_at": now} for k in keys])
        store.write(batch, spool_on_lock=False)
        done += len(keys)
        if progress:
            progress(done, len(chosen.keys))
    if chosen.imports:
        _mark_deleted(store, [r["import_id"] for r in chosen.imports], now)
    if done:
        store.refresh_summary_candidates()  # its notable lists lost the deleted posts
    return done


def _mark_deleted(store: Store, import_ids: list[int], now: datetime) -> None:
    """The imports' rows say their posts were deleted (status 'deleted': no longer 'already imported')."""
    with store.read() as con:
        result = con.execute("SELECT * FROM imports WHERE import_id IN (SELECT unnest(?::BIGINT[]))", [import_ids])
        columns = [d[0] for d in result.description]
        rows = [dict(zip(columns, r, strict=True)) for r in result.fetchall()]
    for row in rows:
        # posts_new and posts_seen are the store's (it adds a batch's counts to the stored row's).
        row.update(status="deleted", message=f"its posts were deleted by `monitor delete` at {now:%Y-%m-%d %H:%M} UTC",
                   posts_new=0, posts_seen=0)
    batch = WriteBatch()
    batch.add_rows("imports", rows)
    store.write(batch, spool_on_lock=False)

"""Reads that writers and readers share: state that may still wait in the spool (a batch written
while the database was locked is applied later, so "what is stored" means the file *and* the
spool), and the bookkeeping look-ups of imports and the inbox."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from monitor.store.db import STORED_KEYS_SQL, Store, StoreError, StoreLocked
from monitor.store.schema import key_hash


def spooled_rows(store: Store, table: str) -> Iterator[dict[str, Any]]:
    """Rows of ``table`` in spooled batches, newest batch first."""
    for path in reversed(store.spooled_batches()):
        data = store.load_spooled(path).tables.get(table)
        if data is not None:
            yield from reversed(data.to_pylist())


def source_state(store: Store, source: str, query: str) -> dict[str, Any]:
    """A collector's cursor for one query: the newest spooled one, else the stored one."""
    for row in spooled_rows(store, "source_state"):
        if row["source"] == source and row["query"] == query:
            return dict(json.loads(row["state"]))
    try:
        with store.read(timeout=2.0) as con:
            found = con.execute("SELECT state FROM source_state WHERE source = ? AND query = ?",
                                [source, query]).fetchone()
    except StoreError:
        found = None
    return dict(json.loads(found[0])) if found else {}


def inbox_seen(store: Store, digests: Sequence[str]) -> set[str]:
    """Which of these contents (hashes) were imported from the inbox: stored, or still in the spool.
    One read for them all (a read costs ~10-30 ms: a scan of 1,000 new files spent seconds on them)."""
    wanted = set(digests)
    found: set[str] = set()
    try:
        with store.read(timeout=2.0) as con:
            found = {d for (d,) in con.execute("SELECT content_hash FROM inbox_files WHERE content_hash IN "
                                                 "(SELECT unnest(?::VARCHAR[]))", [sorted(wanted)]).fetchall()}
    except StoreError:
        pass
    return found | {row["content_hash"] for row in spooled_rows(store, "inbox_files") if row["content_hash"] in wanted}


def stored_post_keys(store: Store, keys: Sequence[str]) -> set[str]:
    """Which of these post keys are stored (in the file; the spool's are not looked at). Empty where
    it cannot tell now (no database yet, or locked): the caller then treats every post as new, as the
    writer will not (it keeps each post once). One scan of ``posts.key_hash``, as the writer's own."""
    if not keys or not store.path.exists():
        return set()
    hashes = sorted({key_hash(key) for key in keys})
    try:
        with store.read(timeout=1.0) as con:
            found = {key for (key,) in con.execute(STORED_KEYS_SQL, [hashes]).fetchall()}
    except StoreError:
        return set()
    return found & set(keys)


IMPORTED_SQL = ("SELECT fingerprint, rules_version, path, options FROM imports WHERE status = 'complete' "
                "AND records > 0")


def imported_inputs(store: Store) -> set[tuple[str, str, str, str]] | None:
    """(fingerprint, rules version, path, options) of every input ``already_imported`` would say was
    read: one query for a folder of many files. None when it cannot tell now (locked)."""
    if not store.path.exists():
        return set()
    try:
        with store.read(timeout=1.0) as con:
            return {tuple(row) for row in con.execute(IMPORTED_SQL).fetchall()}  # type: ignore[misc]
    except (StoreLocked, StoreError):
        return None


def already_imported(store: Store, fingerprint: str, rules_version: str, path: str, options: str) -> bool:
    """Was this file (same content, same matching rules) read to its end before, with the same reader
    options (format, field map, platform, encoding), and did that read give at least one post? A failed
    read, one that gave no post, or one with other options does not count: the retry the error
    message recommends (another --encoding, a --map) must read the file again."""
    try:
        with store.read(timeout=1.0) as con:
            return con.execute(
                f"SELECT 1 FROM ({IMPORTED_SQL}) WHERE fingerprint = ? AND rules_version = ? AND path = ? "
                "AND options = ? LIMIT 1", [fingerprint, rules_version, path, options]).fetchone() is not None
    except (StoreLocked, StoreError):
        return False  # cannot tell now (no database yet, or locked): read it; stored posts are not duplicated

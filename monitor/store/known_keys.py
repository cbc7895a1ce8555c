"""The key hashes of the stored posts, kept in memory by the writer.

Finding which posts of a batch are stored already by scanning ``posts.key_hash`` costs ~10 ms per
batch on a million posts, with the file locked. The writer keeps the hashes instead: a sorted
array (8 bytes a post, no Python object per post) plus a set of the ones added since it was last
merged. A batch's posts are looked up here before anything is read from the file; only hits
(re-seen posts, a post deleted since, or a rare collision of two keys' hashes) are confirmed in the
file, on ``post_key``. A miss is certain as long as the copy is complete: it is reloaded whenever
the file's post count is not the one this writer left (another process wrote, rows were deleted
by hand).
"""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable

import duckdb

from monitor.store.schema import key_hash_sql


def key_hash(key: str) -> int:
    """The stored ``posts.key_hash`` of a post key (equals ``key_hash_sql``)."""
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big")


class KnownKeys:
    # Recent additions are merged into the sorted array once they are this share of it (a merge
    # walks everything once: ~0.3 s a million posts, outside the lock, rarely).
    MERGE_SHARE = 0.05
    MERGE_MIN = 20_000

    def __init__(self, sorted_hashes: array, posts: int):
        self._sorted = sorted_hashes
        self._recent: set[int] = set()
        self.posts = posts  # posts in the file when this copy was last known to match it

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> KnownKeys:
        """All stored posts' hashes (posts stored without one, by hand say, hashed here), sorted by
        DuckDB and copied as one buffer. Call inside the transaction that then uses the copy."""
        table = con.sql(f"SELECT coalesce(key_hash, {key_hash_sql('post_key')}) AS h FROM posts "
                        "ORDER BY h").to_arrow_table()
        hashes = array("Q")
        for chunk in table.column(0).chunks:
            data = chunk.buffers()[1]
            if data is not None and len(chunk):
                hashes.frombytes(data.to_pybytes()[chunk.offset * 8:(chunk.offset + len(chunk)) * 8])
        return cls(hashes, len(hashes))

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def __contains__(self, h: int) -> bool:
        if h in self._recent:
            return True
        i = bisect_left(self._sorted, h)
        return i < len(self._sorted) and self._sorted[i] == h

    def hits(self, hashes: Iterable[int]) -> list[int]:
        """The hashes that may belong to stored posts."""
        return [h for h in hashes if h in self]

    def add(self, hashes: Iterable[int]) -> None:
        self._recent.update(hashes)

    def compact(self) -> None:
        """Merge the recent additions into the sorted array once there are enough of them."""
        if len(self._recent) < max(self.MERGE_MIN, self.MERGE_SHARE * len(self._sorted)):
            return
        # A merge of two sorted runs: no Python object per stored post at once (duplicates, from
        # a post stored again after a deletion, do no harm to the lookup).
        self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent = set()

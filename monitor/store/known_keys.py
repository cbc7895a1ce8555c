"""The key hashes of the stored posts, kept in memory by the writer.

Finding which posts of a batch are stored already by scanning ``posts.key_hash`` costs ~10 ms per
batch on a million posts, with the file locked. The writer keeps the hashes instead: a sorted
array (8 bytes a post, no Python object per post) plus a set of the ones added since it was last
merged. A batch's posts are looked up here (~1 ms for 1,000); only hits (re-seen posts, a post
deleted since, or a rare collision of two keys' hashes) are confirmed in the file, on
``post_key``. A miss is certain as long as the copy is complete: it is reloaded whenever the
file's post count is not the one this writer left (another process wrote, rows were deleted by
hand).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from monitor.store.schema import key_hash_sql


class KnownKeys:
    # Recent additions (~70 bytes each in a set) are merged into the sorted array once they are this
    # share of it (a merge sorts everything in Arrow: ~0.1 s a million posts, outside the lock).
    MERGE_SHARE = 0.1
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
        hashes = _from_arrow(table.column(0).combine_chunks() if table.num_rows else pa.array([], pa.uint64()))
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
        # No Python object per stored post (duplicates, from a post stored again after a deletion,
        # do no harm to the lookup).
        stored = pa.Array.from_buffers(pa.uint64(), len(self._sorted), [None, pa.py_buffer(self._sorted)])
        merged = pa.concat_arrays([stored, pa.array(list(self._recent), pa.uint64())])
        self._sorted = _from_arrow(merged.take(pc.sort_indices(merged)))
        self._recent = set()


def _from_arrow(values: pa.Array) -> array:
    """A UInt64 Arrow array without nulls as array('Q'), copied from its buffer."""
    out = array("Q")
    data = values.buffers()[1]
    if data is not None and len(values):
        out.frombytes(data.to_pybytes()[values.offset * 8:(values.offset + len(values)) * 8])
    return out

"""DuckDB storage: schema and migrations, the one writer, read-only access.

The names are imported on first use (PEP 562): an import's worker processes use ``rows`` alone, and
need not load DuckDB (~12 MiB each) for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.store.db import Store, StoreError, StoreLocked
    from monitor.store.rows import WriteBatch

__all__ = ["Store", "StoreError", "StoreLocked", "WriteBatch"]


def __getattr__(name: str) -> Any:
    if name in ("Store", "StoreError", "StoreLocked"):
        from monitor.store import db

        return getattr(db, name)
    if name == "WriteBatch":
        from monitor.store.rows import WriteBatch

        return WriteBatch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

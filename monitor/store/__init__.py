"""DuckDB storage: schema and migrations, the one writer, read-only access."""

from monitor.store.db import Store, StoreError, StoreLocked
from monitor.store.rows import WriteBatch

__all__ = ["Store", "StoreError", "StoreLocked", "WriteBatch"]

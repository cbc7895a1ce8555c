"""Comparing summary figures computed two ways (rollups and raw rows): tests and bench/summary_scale.py."""

from __future__ import annotations

from typing import Any


def same_figures(a: Any, b: Any) -> bool:
    """Equal figures, but for the last digit of a rounded mean (at most 0.001): the two paths add the
    same values in another order, and a mean that falls on a rounding boundary may round either way
    (as DuckDB's parallel sums already do from one run to the next on large tables). Counts, texts,
    keys and order must be equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_figures(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_figures(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 0.0011
    return bool(a == b)

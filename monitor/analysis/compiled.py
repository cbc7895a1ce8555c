"""Which implementation of the hot analysis modules runs: compiled, or the pure-Python reference.

``setup.py`` compiles ``sentiment.py``, ``matching.py``, ``stance.py`` and ``language.py`` with Cython
as they are, into ``_compiled_sentiment`` and so on (plus the C scans of ``_text_scan.pyx``, which
the compiled modules use where built). Each of those modules ends by calling ``swap_in_compiled``,
which replaces its own functions and classes by the compiled ones when

- the extension was built (a machine without a compiler installs pure Python only),
- it was built from this very source (an edited ``.py`` with a stale build runs the ``.py``),
- and ``MONITOR_PURE_PYTHON`` is unset (or "0"): set it to run the reference, e.g. to compare.

Both give the same results (tests/test_compiled.py compares them on real tweets).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any

PURE_ENV = "MONITOR_PURE_PYTHON"
PREFIX = "_compiled_"
PURE = "pure"
COMPILED = "compiled"


def pure_forced() -> bool:
    return os.environ.get(PURE_ENV, "").strip() not in ("", "0")


def source_digest(path: str | Path) -> str:
    """What setup.py records in a compiled module as ``_SOURCE_SHA256``: the sha256 of its source."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def swap_in_compiled(namespace: dict[str, Any]) -> str:
    """Called at the end of a compilable module with its ``globals()``: puts the compiled module's
    names in place of its own when it may (see the module docstring). Returns which implementation
    the module now is: "compiled" or "pure"."""
    package, _, short = str(namespace["__name__"]).rpartition(".")
    if short.startswith(PREFIX):
        return COMPILED  # this is the compiled copy itself
    if pure_forced():
        return PURE
    try:
        compiled = importlib.import_module(f"{package}.{PREFIX}{short}")
    except ImportError:
        return PURE
    source = namespace.get("__file__")
    built_from = getattr(compiled, "_SOURCE_SHA256", None)
    if not source or not str(source).endswith(".py") or built_from != source_digest(source):
        return PURE  # built from another version of the source: the .py is the truth
    namespace.update({key: value for key, value in vars(compiled).items() if not key.startswith("__")})
    return COMPILED


"""Sources: archive readers and live collectors, one module per platform.

Built-in readers register through ``register_reader`` exactly as a plugin would; importing the
modules below is what registers them.
"""

from __future__ import annotations

import importlib

BUILTIN_MODULES = (
    "monitor.sources.generic",
    "monitor.sources.x",
    "monitor.sources.reddit",
    "monitor.sources.bluesky",
    "monitor.sources.mastodon",
    "monitor.sources.hackernews",
    "monitor.sources.news",
)

_loaded = False


def load_builtin_readers() -> None:
    global _loaded
    if _loaded:
        return
    for name in BUILTIN_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module must surface
                raise
    _loaded = True

"""What a source is, and the one registry of them.

A platform module (``sources/<platform>.py``) registers its archive readers and its live
collector here, exactly as a plugin would: built-ins are listed in ``BUILTIN_MODULES``, plugins
come from the ``monitor.sources`` entry-point group, and both are loaded by ``load_sources``.

- A *reader* is a generator ``read(archive_input, **options) -> Iterator[Post | RecordError]``.
- A *collector* is a generator ``fetch(ctx, query, state) -> Iterator[Page]``; it never writes:
  the application layer (``monitor.ingest``) stores each page with its cursor.
- Each collector has a typed settings model (a ``SourceSettings`` subclass): its
  ``[sources.NAME]`` table is validated against it when the config loads.
"""

from __future__ import annotations

import codecs
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from monitor.config import Config, SourceSettings
from monitor.http import HttpClient
from monitor.models import Post, Provenance
from monitor.sources.base import ArchiveInput, RecordError, SkippedLines

BUILTIN_MODULES = (
    "monitor.sources.generic",
    "monitor.sources.x",
    "monitor.sources.reddit",
    "monitor.sources.bluesky",
    "monitor.sources.mastodon",
    "monitor.sources.hackernews",
    "monitor.sources.news",
)
PLUGIN_GROUP = "monitor.sources"

SettingsT = TypeVar("SettingsT", bound=SourceSettings)


class UnknownSourceError(KeyError):
    """A format or source name that no registered module provides."""

    def __str__(self) -> str:
        return str(self.args[0])


# --- collectors ---------------------------------------------------------------------------------


@dataclass
class Page:
    """One response's worth of posts and the collector state once they are stored."""

    posts: list[Post]
    state: dict[str, Any]
    more: bool = True  # False: the end, or caught up with what earlier runs stored
    request: str | None = None
    # Keys (platform:id) the platform reports deleted. An edited post: its key here and the new
    # version in ``posts`` (the old version and its scores are replaced).
    deleted: list[str] = field(default_factory=list)


@dataclass
class CollectContext(Generic[SettingsT]):
    name: str
    config: Config
    settings: SettingsT
    http: HttpClient
    base_url: str
    should_stop: Callable[[], bool] = lambda: False  # streaming collectors check it while reading

    def provenance(self, request: str | None, query: str | None) -> Provenance:
        return Provenance(source=self.name, request=request, query=query)

    def env(self, name: str) -> str | None:
        """A credential from the environment (never from the config, never logged)."""
        return os.environ.get(name) or None


FetchFunc = Callable[[CollectContext[Any], str, dict[str, Any]], Iterator[Page]]
QueriesFunc = Callable[[Config, Any], list[str]]


@dataclass
class Collector:
    name: str
    description: str
    fetch: FetchFunc
    base_url: str
    settings_model: type[SourceSettings] = SourceSettings
    needs: str = "nothing"  # shown by `monitor sources`
    required_env: tuple[str, ...] = ()
    queries: QueriesFunc | None = None
    streaming: bool = False  # long-running stream (Jetstream): run by the daemon, bounded in --once

    def settings(self, config: Config) -> Any:
        """This source's typed settings from the config (its model's defaults where absent)."""
        return self.settings_model.model_validate(config.sources.get(self.name, {}))

    def missing(self) -> list[str]:
        return [name for name in self.required_env if not os.environ.get(name)]

    def is_enabled(self, config: Config) -> bool:
        return bool(self.settings(config).enabled)

    def query_list(self, config: Config) -> list[str]:
        settings = self.settings(config)
        if settings.queries:
            return list(settings.queries)
        if self.queries is not None:
            return self.queries(config, settings)
        return default_queries(config)


def default_queries(config: Config) -> list[str]:
    """One query per target: its most specific name (the first alias, else the display name)."""
    queries: list[str] = []
    for target in config.targets:
        names = target.aliases or target.exact_aliases or [target.name]
        queries.append(names[0])
    return list(dict.fromkeys(queries))


# --- readers ------------------------------------------------------------------------------------

Sniffer = Callable[[str, str], bool]  # (decoded sample, file name) -> looks like this format?
ReadFunc = Callable[..., Iterator[Post | RecordError | SkippedLines]]


@dataclass
class Reader:
    name: str
    description: str
    read: ReadFunc
    sniff: Sniffer
    priority: int = 50  # lower sniffs first: specific formats before generic ones
    # One record per line, and a post's text is built from its JSON strings without markup: the
    # reader takes ``line_filter=`` (a prefilter, monitor/analysis/prefilter.py) and may then
    # yield SkippedLines for lines it did not parse.
    takes_prefilter: bool = False
    # A binary format is known by its first bytes (Parquet's b"PAR1"), not by a text sample: an input
    # that starts with them goes to this reader before it could be refused as "not a text file".
    magic: bytes | None = None


# --- the registry -------------------------------------------------------------------------------


@dataclass
class Registry:
    readers: dict[str, Reader] = field(default_factory=dict)
    collectors: dict[str, Collector] = field(default_factory=dict)
    loaded: bool = False

    def reader(self, name: str) -> Reader:
        if name not in self.readers:
            raise UnknownSourceError(f"unknown format '{name}'; known: {', '.join(sorted(self.readers))}")
        return self.readers[name]

    def collector(self, name: str) -> Collector:
        if name not in self.collectors:
            raise UnknownSourceError(f"unknown source '{name}'; known: {', '.join(sorted(self.collectors))}")
        return self.collectors[name]

    def settings_models(self) -> dict[str, type[SourceSettings]]:
        return {name: c.settings_model for name, c in self.collectors.items()}

    def binary_reader(self, sample: bytes) -> Reader | None:
        """The reader of a binary format whose first bytes (``magic``) these are."""
        return next((r for r in self.readers.values() if r.magic and sample.startswith(r.magic)), None)

    def detect_format(self, source: ArchiveInput) -> Reader | None:
        """Pick a reader from the content (and, as a hint, the name)."""
        text = decode_sample(source.sample()).lstrip("\ufeff")
        for reader in sorted(self.readers.values(), key=lambda r: r.priority):
            try:
                if reader.sniff(text, source.basename):
                    return reader
            except Exception:  # a sniffer that chokes on odd content just says "not mine"
                continue
        return None


REGISTRY = Registry()


def register_reader(name: str, *, description: str, sniff: Sniffer, priority: int = 50,
                    takes_prefilter: bool = False, magic: bytes | None = None) -> Callable[[ReadFunc], ReadFunc]:
    """Register an archive reader. Built-in readers use this exactly as a plugin would."""

    def decorate(func: ReadFunc) -> ReadFunc:
        REGISTRY.readers[name] = Reader(name=name, description=description, read=func, sniff=sniff, priority=priority,
                                        takes_prefilter=takes_prefilter, magic=magic)
        return func

    return decorate


def register_collector(name: str, *, description: str, base_url: str, **options: Any) -> Callable[[FetchFunc],
                                                                                                    FetchFunc]:
    """Register a live collector. Built-in collectors use this exactly as a plugin would."""

    def decorate(func: FetchFunc) -> FetchFunc:
        REGISTRY.collectors[name] = Collector(name=name, description=description, fetch=func, base_url=base_url,
                                              **options)
        return func

    return decorate


def load_sources() -> Registry:
    """The registry with every built-in source module and installed plugin loaded (once)."""
    if not REGISTRY.loaded:
        for name in BUILTIN_MODULES:
            importlib.import_module(name)
        for entry in entry_points(group=PLUGIN_GROUP):
            entry.load()  # a plugin module registers itself with register_reader/register_collector
        REGISTRY.loaded = True
    return REGISTRY


def decode_sample(sample: bytes) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(sample)


def detect_format(source: ArchiveInput) -> Reader | None:
    """The registered reader that recognises this input's content (None: none does)."""
    return load_sources().detect_format(source)

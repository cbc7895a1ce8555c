"""The application layer: read or collect → match → analyse → write, one path for import,
collect, the daemon's cycle and rescore. The CLI and the daemon call it; it calls sources,
analysis and the store."""

from __future__ import annotations

import logging
from pathlib import Path

from monitor.analysis.language import unscorable_languages_message
from monitor.config import Config, load_config
from monitor.sources.api import load_sources

log = logging.getLogger(__name__)


def load_checked_config(path: Path | str | None = None) -> Config:
    """The config with its ``[sources.*]`` tables checked against every registered source's
    settings and its ``[[archives]]`` formats against the registered readers (a typo or a bad value
    is a ConfigError naming the file and key, at load)."""
    registry = load_sources()
    config = load_config(path, registry.settings_models())
    config.check_archive_formats(registry.readers)
    unscorable = unscorable_languages_message(config.analysis.analyzer, config.analysis.languages)
    if unscorable:
        log.warning("%s: %s", config.path, unscorable)
    return config

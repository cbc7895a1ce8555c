"""The main job's cycle, shared by `monitor run --once` and the daemon: the archives listed in
the config, then each enabled live source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.config import Config
from monitor.ingest.imports import Importer, ImportReport


def import_configured_archives(importer: Importer, config: Config,
                               on_missing: Callable[[Path], None]) -> list[ImportReport]:
    """The config's ``[[archives]]``, each in its configured format (an unchanged file is skipped
    quickly); a missing one is reported through ``on_missing`` and skipped."""
    reports: list[ImportReport] = []
    for spec in config.archives:
        path = config.resolve(spec.path)
        if path.exists():
            reports.extend(importer.import_paths([path], spec.format))
        else:
            on_missing(path)
    return reports

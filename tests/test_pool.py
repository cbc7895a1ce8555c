"""The analysis pool: how many processes by analyzer, and workers that import the analysis only."""

from __future__ import annotations

import os

from monitor.config import Config
from monitor.ingest.pool import AnalysisPool


def test_auto_workers_are_one_per_cpu_for_vader_and_one_for_the_learned_model(config: Config) -> None:
    assert AnalysisPool(config).workers == (os.cpu_count() or 1)  # config: analyzer vader, workers 0
    assert AnalysisPool(config, analyzer="learned").workers == 1  # its model runs a thread per core
    assert AnalysisPool(config, workers=3, analyzer="learned").workers == 3  # a number given is kept
    learned = config.model_copy(deep=True)
    learned.analysis.analyzer = "learned"
    assert AnalysisPool(learned).workers == 1


def test_worker_processes_import_no_store_or_sources(config: Config) -> None:
    pool = AnalysisPool(config, workers=2)
    try:
        items = [(f"x:{i}", f"Elon Musk said {i}", "en") for i in range(AnalysisPool.MIN_PARALLEL)]
        analysed = pool.analyse(items)  # through the workers
        assert analysed.keep == [True] * len(items)
        assert analysed.tables["mentions"].column("target_id").to_pylist() == ["musk"] * len(items)
        # The workers' own modules: the analysis layer's, not the store's (DuckDB) or the sources'.
        modules = pool._ensure_pool().submit(eval, "sorted(__import__('sys').modules)").result(timeout=60)
        assert "monitor.analysis.batch" in modules
        assert not [m for m in modules if m.startswith(("monitor.store", "monitor.sources", "monitor.ingest"))]
        assert "duckdb" not in modules
    finally:
        pool.close()

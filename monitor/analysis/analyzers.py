"""The analyzers behind one interface (``pipeline.Analyzer``): "learned" (our fine-tuned model,
the default) and "vader" (VADER and the stance rules: exact, fast, the baseline)."""

from __future__ import annotations

from pathlib import Path

from monitor.analysis.learned import LearnedModel
from monitor.analysis.learned_analyzer import LearnedAnalyzer
from monitor.analysis.pipeline import Analyzer
from monitor.config import Config

ANALYZER_NAMES = ("learned", "vader")


def make_analyzer(config: Config, models_dir: Path | None = None, name: str | None = None,
                  threads: int | None = None) -> Analyzer:
    """The analyzer ``name`` (default: the config's ``analysis.analyzer``); ``threads`` caps the
    learned model's threads (worker processes run one model each)."""
    wanted = name or config.analysis.analyzer
    if wanted == "vader":
        return Analyzer(config, models_dir)
    if wanted == "learned":
        return LearnedAnalyzer(config, models_dir, model=LearnedModel(threads=threads) if threads else None)
    raise ValueError(f"unknown analyzer '{wanted}' (known: {', '.join(ANALYZER_NAMES)})")

"""The (scorer, version) an analyzer stamps on the sentiment rows it writes, found without loading it:
``monitor status`` compares them with the stored rows' at every call, and must not pay for numpy,
the model session or the matcher (~0.1 s of start-up) to do so."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.config import Config

LEARNED = "learned"
WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
# How the learned analyzer reads a zero-shot stance from its model, part of the stance version. z3: a
# long post's stance is the sentiment of the sentences that name the target (z2: the stance head on
# them, without the rules' shift; z1: the head on the post's first 62 word pieces, shifted). Tweets:
# the head, shifted by the rules, in all three.
ZERO_SHOT_READING = "z3"


def learned_version(weights_dir: Path, manifest: dict[str, Any] | None = None) -> str:
    """Recipe version and a hash of the graph, so stored scores say exactly which weights made them;
    with sentiment offsets, a hash of them too (they change labels, not weights)."""
    if manifest is None:
        manifest = json.loads((weights_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    digest = file_sha256(weights_dir / MODEL_FILE)[:10]
    version = f"{manifest.get('recipe_version', 'v0')}-{digest}"
    offsets = manifest.get("sentiment_offsets")
    if offsets and any(offsets):  # offsets of 0 change nothing: no mark
        version += "-o" + hashlib.sha256(json.dumps(offsets).encode()).hexdigest()[:6]
    return version


def file_sha256(path: Path) -> str:
    """sha256 of a weights file, read once per process while the file is unchanged (a 23 MB graph
    takes ~20 ms; `stance list` asks for each target)."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def zero_shot_stance_version(model_version: str) -> str:
    """The version on the learned analyzer's zero-shot stance scores."""
    return f"{model_version}-{ZERO_SHOT_READING}"


def zero_shot_stance_stamp(config: Config, analyzer: str | None = None) -> tuple[str, str]:
    """(scorer, version) on the stance rows the analyzer ``analyzer`` (default: the config's) writes
    for a target without a trained model."""
    wanted = analyzer or config.analysis.analyzer
    if wanted == LEARNED:
        return LEARNED, zero_shot_stance_version(learned_version(WEIGHTS_DIR))
    if wanted == "vader":
        from monitor.analysis.stance import RULES_NAME, RULES_VERSION

        return RULES_NAME, RULES_VERSION
    raise ValueError(f"unknown analyzer '{wanted}'")


def sentiment_stamp(config: Config, analyzer: str | None = None) -> tuple[str, str]:
    """(scorer, version) of the analyzer ``analyzer`` (default: the config's) on sentiment rows."""
    wanted = analyzer or config.analysis.analyzer
    if wanted == LEARNED:
        return LEARNED, learned_version(WEIGHTS_DIR)
    if wanted == "vader":
        from monitor.analysis.sentiment import SCORER_NAME, SCORER_VERSION

        return SCORER_NAME, SCORER_VERSION
    raise ValueError(f"unknown analyzer '{wanted}'")

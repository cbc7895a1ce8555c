"""A target's stance model trained on the user's labels for the learned analyzer (`monitor stance
train` with the learned analyzer): a learned part averaged with the n-gram model
(``stance_model``) trained on the same file, since they err on different posts. The learned part is
either the target's own fine-tuned encoder (``target_encoder``; when torch is installed, the stance
extra) or a head over the shipped model's features for the pair (target, post) (``learned_head``).

Saved as JSON under DATA_DIR/models/stance-learned/<target>/ with a ``current`` pointer, like the
n-gram models, an encoder's folder beside it; a head is only used with the learned model version it
was trained on (an encoder does not read the shipped model).
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
from monitor.analysis.target_encoder import TargetEncoder

log = logging.getLogger(__name__)

FOLDER = "stance-learned"
NAME = "stance-learned-head"
ENCODER_NAME = "stance-learned-encoder"


@dataclass
class TrainedLearnedStance:
    head: LearnedHead | None  # one of head and encoder
    ngram: LinearStanceModel | None
    head_weight: float = DEFAULT_HEAD_WEIGHT  # the learned part's weight in the average
    encoder: TargetEncoder | None = None

    def __post_init__(self) -> None:
        if (self.head is None) == (self.encoder is None):
            raise ValueError("a trained learned stance model has exactly one of a head and an encoder")

    @property
    def name(self) -> str:
        return ENCODER_NAME if self.encoder is not None else NAME

    @property
    def target_id(self) -> str:
        return self.encoder.target_id if self.encoder is not None else self._head.target_id

    @property
    def target_name(self) -> str:
        return self.encoder.target_name if self.encoder is not None else self._head.target_name

    @property
    def base_version(self) -> str | None:
        """The shipped model version whose features the head reads (None: an encoder reads none)."""
        return None if self.head is None else self.head.base_version

    @property
    def meta(self) -> dict[str, Any]:
        return self.encoder.meta if self.encoder is not None else self._head.meta

    @property
    def needs_features(self) -> bool:
        """Whether scores read the shipped model's pass over the pairs (a head) or not (an encoder)."""
        return self.encoder is None

    @property
    def _head(self) -> LearnedHead:
        assert self.head is not None
        return self.head

    @cached_property
    def version(self) -> str:
        """A hash of the whole model as its file keeps it (computed once: it is stamped on every
        score). The file rounds the floats, so the hash is of the model read back from that form:
        the version printed at training and in the file's name is the one its scores carry. An
        encoder enters by the hash of its weights."""
        saved = json.loads(json.dumps(self.to_json()))
        if self.head is not None:
            saved["head"] = LearnedHead.from_json(saved["head"]).to_json()
        if self.ngram is not None:
            saved["ngram"] = LinearStanceModel.from_json(saved["ngram"], model_hash(saved["ngram"])).to_json()
        payload = json.dumps(saved, sort_keys=True).encode()
        return "lh-" + hashlib.sha256(payload).hexdigest()[:10]

    def probabilities(self, texts: Sequence[str], features: np.ndarray | None) -> np.ndarray:
        """N x 3 (against / none / favor) from the texts and, for a head, their pair features
        (``learned.features_of``; None for an encoder)."""
        if self.encoder is not None:
            probs = self.encoder.probabilities(list(texts)).astype(np.float64)
        else:
            assert features is not None, "a head reads the shipped model's features"
            probs = self._head.to_three(self._head.probabilities_from_features(features))
        if self.ngram is None or self.head_weight >= 1.0:
            return probs
        rows = [self.ngram.probabilities(text) for text in texts]
        ngram = np.array([[p.get(label, 0.0) for label in STANCE_LABELS] for p in rows], dtype=np.float64)
        return blend(probs, ngram, self.head_weight)

    def results(self, texts: Sequence[str], features: np.ndarray | None) -> list[StanceResult]:
        out = []
        for p in self.probabilities(texts, features):
            label = STANCE_LABELS[int(np.argmax(p))]
            out.append(StanceResult(label, round(float(p[2] - p[0]), 4), self.name, self.version))
        return out

    def score(self, text: str) -> StanceResult:
        """One text (the process's learned model computes a head's features)."""
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[StanceResult]:
        return self.score_texts(texts, get_model())

    def score_texts(self, texts: Sequence[str], model: LearnedModel) -> list[StanceResult]:
        """Scores for texts alone (a head's features computed here): for `--eval` files."""
        if not self.needs_features:
            return self.results(texts, None)
        return self.results(texts, model.embed(list(texts), [self.target_name] * len(texts)))

    def to_json(self) -> dict[str, Any]:
        data = {"format": "trained-learned-stance-1", "head": None if self.head is None else self.head.to_json(),
                "ngram": self.ngram.to_json() if self.ngram is not None else None, "head_weight": self.head_weight}
        if self.encoder is not None:  # absent for a head: a head model's version is as it always was
            data["encoder"] = self.encoder.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path | None = None) -> TrainedLearnedStance:
        """A model from its file's JSON; ``folder`` holds its encoder's folder, if it has one."""
        ngram, head, encoder = data.get("ngram"), data.get("head"), data.get("encoder")
        if encoder and folder is None:
            raise ValueError("a model with an encoder is read from its folder")
        return cls(LearnedHead.from_json(head) if head else None,
                   LinearStanceModel.from_json(ngram, model_hash(ngram)) if ngram else None,
                   float(data.get("head_weight", DEFAULT_HEAD_WEIGHT)),
                   TargetEncoder.from_json(encoder, folder) if encoder and folder is not None else None)


def save(model: TrainedLearnedStance, models_dir: Path) -> Path:
    """Write the model beside earlier ones and make it current (an encoder's folder copied there
    first). Returns its path."""
    folder = Path(models_dir) / FOLDER / model.target_id
    if model.encoder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        model.encoder = model.encoder.placed(folder)
    return save_current(folder, model.version, model.to_json())


def current_path(models_dir: Path, target_id: str) -> Path | None:
    """The file of the target's current model (None without one)."""
    return current_file(Path(models_dir) / FOLDER / target_id)


def load(path: Path) -> TrainedLearnedStance:
    """A saved model (ValueError, OSError or KeyError when the file is not one)."""
    return TrainedLearnedStance.from_json(json.loads(path.read_text(encoding="utf-8")), path.parent)


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
        if model.base_version not in (None, base_version):
            log.warning("stance model for '%s' was trained on learned model %s, not %s: retrain it "
                        "(monitor stance train)", folder.name, model.base_version, base_version)
            continue
        out[folder.name] = model
    return out

"""A per-target stance head trained over the frozen learned model (``monitor stance train``), numpy only.

Features of a post for target T are what the shipped model gives for the pair "T [SEP] post": its mean-pooled
embedding and the log-probabilities of its sentiment and stance heads (``LearnedModel.embed``). A multinomial
logistic regression with L2 over the standardised features learns the user's labels (two classes, favor/against,
or three with none). Training is seconds on 2 cores once the features are computed (one pass of the model).

The head optionally blends with the n-gram model of ``monitor.analysis.stance_model`` trained on the same file
(``blend`` = the head's weight in the average of probabilities): they err on different posts.

Saved as JSON (no pickle): a model file cannot run code when loaded. It records the version of the learned model
whose features it was trained on; a head is only valid with that model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import STANCE_LABELS, LearnedModel, get_model

FORMAT = "learned-head-1"
DEFAULT_L2 = 10.0  # chosen with the blend weight on P-Stance Trump val (monitor/training/README.md)
DEFAULT_STEPS = 400
DEFAULT_HEAD_WEIGHT = 0.3  # the head's share in the blend with the n-gram model (dev: P-Stance Trump val)


@dataclass
class LearnedHead:
    target_id: str
    target_name: str
    classes: tuple[str, ...]  # a subset of STANCE_LABELS, in that order
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # features x classes
    bias: np.ndarray
    base_version: str
    meta: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def version(self) -> str:
        payload = json.dumps(self.to_json(), sort_keys=True).encode()
        return "head-" + hashlib.sha256(payload).hexdigest()[:10]

    def probabilities_from_features(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return _softmax(z)

    def probabilities(self, texts: Sequence[str], model: LearnedModel | None = None) -> np.ndarray:
        """N x 3 probabilities against / none / favor (a class the head was not trained on gets 0)."""
        model = model or get_model()
        if model.version != self.base_version:
            raise ValueError(f"head trained on learned model {self.base_version}, loaded {model.version}")
        probs = self.probabilities_from_features(model.embed(texts, [self.target_name] * len(texts)))
        return self.to_three(probs)

    def to_three(self, probs: np.ndarray) -> np.ndarray:
        out = np.zeros((probs.shape[0], 3), dtype=np.float32)
        for j, label in enumerate(self.classes):
            out[:, STANCE_LABELS.index(label)] = probs[:, j]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "target_id": self.target_id, "target_name": self.target_name,
                "classes": list(self.classes), "base_version": self.base_version,
                "mean": _floats(self.mean), "scale": _floats(self.scale),
                "weights": [_floats(row) for row in self.weights], "bias": _floats(self.bias), "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LearnedHead:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a learned stance head (format {data.get('format')!r})")
        return cls(data["target_id"], data["target_name"], tuple(data["classes"]),
                   np.asarray(data["mean"], dtype=np.float32), np.asarray(data["scale"], dtype=np.float32),
                   np.asarray(data["weights"], dtype=np.float32), np.asarray(data["bias"], dtype=np.float32),
                   data["base_version"], data.get("meta", {}))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LearnedHead:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _floats(values: np.ndarray) -> list[float]:
    # nine significant digits give back every float32 exactly (six decimals moved a probability by 2e-5)
    return [float(f"{v:.9g}") for v in np.asarray(values, dtype=np.float32).ravel()]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, l2: float = DEFAULT_L2,
                 steps: int = DEFAULT_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, loss = mean NLL + l2/(2n) |W|^2, full-batch Adam from zeros (deterministic).
    Class-balanced: each class weighs as much in the loss, as F_avg weighs favor and against alike."""
    n, d = x.shape
    onehot = np.eye(classes)[y]
    class_weight = n / (classes * np.maximum(onehot.sum(axis=0), 1))
    sample_weight = (onehot * class_weight).sum(axis=1, keepdims=True) / n
    w, b = np.zeros((d, classes)), np.zeros(classes)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    lr, beta1, beta2 = 0.05, 0.9, 0.999
    for t in range(1, steps + 1):
        grad_z = (_softmax(x @ w + b) - onehot) * sample_weight
        g_w = x.T @ grad_z + (l2 / n) * w
        g_b = grad_z.sum(axis=0)
        m_w, v_w = beta1 * m_w + (1 - beta1) * g_w, beta2 * v_w + (1 - beta2) * g_w**2
        m_b, v_b = beta1 * m_b + (1 - beta1) * g_b, beta2 * v_b + (1 - beta2) * g_b**2
        correction = np.sqrt(1 - beta2**t) / (1 - beta1**t)
        w -= lr * correction * m_w / (np.sqrt(v_w) + 1e-8)
        b -= lr * correction * m_b / (np.sqrt(v_b) + 1e-8)
    return w.astype(np.float32), b.astype(np.float32)


def train_head(texts: Sequence[str], labels: Sequence[str], target_id: str, target_name: str,
               model: LearnedModel | None = None, l2: float = DEFAULT_L2,
               features: np.ndarray | None = None) -> LearnedHead:
    """Fit a head on labelled texts (labels favor/against/none; at least two classes, 5+ examples each).
    ``features`` may be given when already computed (``model.embed(texts, [target_name] * n)``)."""
    model = model or get_model()
    clean = [str(label).strip().lower() for label in labels]
    classes = tuple(label for label in STANCE_LABELS if clean.count(label) >= 5)
    unknown = sorted(set(clean) - set(STANCE_LABELS))
    if unknown or len(classes) < 2:
        raise ValueError(f"labels must be favor/against/none with 5+ examples of at least two; found "
                         f"{sorted(set(clean))[:5]}")
    keep = [i for i, label in enumerate(clean) if label in classes]
    if features is None:
        features = model.embed([texts[i] for i in keep], [target_name] * len(keep))
    else:
        features = features[keep]
    y = np.array([classes.index(clean[i]) for i in keep])
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    w, b = fit_logistic((features - mean) / scale, y, len(classes), l2)
    counts = {c: int((y == j).sum()) for j, c in enumerate(classes)}
    return LearnedHead(target_id, target_name, classes, mean.astype(np.float32), scale.astype(np.float32), w, b,
                       model.version, {"examples": counts, "l2": l2, "features": int(features.shape[1])})


def blend(head_probs: np.ndarray, other_probs: np.ndarray, head_weight: float = DEFAULT_HEAD_WEIGHT) -> np.ndarray:
    """A weighted average of two N x 3 probability arrays (against / none / favor): the ensemble."""
    return head_weight * head_probs + (1.0 - head_weight) * other_probs

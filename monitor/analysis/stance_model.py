"""Stance learned from a user's labels: one light linear model per target.

Model: NB-weighted logistic regression (Wang & Manning's "NBSVM" idea) over word uni/bigrams
(hashtags also split at camel case), whole hashtags and @handles, and character 1-5-grams inside
words; TF-IDF with sublinear term frequency, L2-normalised. Two classes (favor/against) train one
classifier; three (with none) train one-vs-rest and normalise.

Saved as plain JSON (no pickle: a model file cannot run code when loaded) under
``<data_dir>/models/stance/<target_id>/model-<utc time>-<hash>.json`` with a ``current`` file
naming the one in use; older models stay for comparison and rollback. The hash is the scorer
version stored with every score row, so rows always say which model scored them.

Scoring is pure Python. Training needs numpy (``pip install 'discourse-monitor[stance]'``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.analysis.stance import StanceResult

log = logging.getLogger(__name__)

MODEL_NAME = "stance-linear"
FORMAT = "discourse-monitor/stance-linear/1"
LABELS = ("favor", "against", "none")
CURRENT = "current"
CHAR_MIN, CHAR_MAX = 2, 5  # character n-gram lengths inside words
MIN_DF = 2  # features seen in one training text only are dropped (a third of the size, same accuracy)

_TOKEN_RE = re.compile(r"#\w+|@\w+|\w+(?:['’]\w+)*|[^\w\s]")
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_URL_RE = re.compile(r"https?://\S+")


class StanceModelError(Exception):
    """Training or loading failed; the message says what to do."""


def features(text: str) -> Counter[str]:
    """Feature counts of one text (see the module docstring)."""
    out: list[str] = []
    words: list[str] = []
    for tok in _TOKEN_RE.findall(_URL_RE.sub(" ", text)):
        if tok[0] == "#" and len(tok) > 1:
            out.append("h:" + tok.lower())
            words.extend(p.lower() for p in _CAMEL_RE.findall(tok[1:]))
        elif tok[0] == "@" and len(tok) > 1:
            out.append("u:" + tok.lower())
            words.append("@user")
        else:
            words.append(tok.lower().replace("’", "'"))
    for i, w in enumerate(words):
        out.append("w:" + w)
        if i:
            out.append("b:" + words[i - 1] + " " + w)
        grams = _CHAR_CACHE.get(w)
        if grams is None:
            grams = _char_grams(w)
        out.extend(grams)
    return Counter(out)


_CHAR_CACHE: dict[str, tuple[str, ...]] = {}


def _char_grams(word: str) -> tuple[str, ...]:
    # Words repeat across posts (Zipf), so their n-grams are cut once and remembered.
    padded = f" {word} "
    grams = tuple("c:" + padded[k:k + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for k in range(len(padded) - n + 1))
    if len(_CHAR_CACHE) > 200_000:
        _CHAR_CACHE.clear()
    _CHAR_CACHE[word] = grams
    return grams


@dataclass(slots=True)
class LinearStanceModel:
    """A trained model, as loaded from JSON: scoring needs nothing beyond the standard library."""

    target_id: str
    classes: tuple[str, ...]
    idf: dict[str, float]
    weights: dict[str, list[float]]  # feature -> one weight per classifier (NB ratio folded in)
    bias: list[float]
    version: str
    meta: dict[str, Any]
    _table: dict[str, tuple[float, tuple[float, ...]]] = field(default_factory=dict, repr=False)

    name = MODEL_NAME

    def __post_init__(self) -> None:
        # one lookup per feature when scoring: (idf, weights)
        empty = (0.0,) * len(self.bias)
        self._table = {f: (v, tuple(self.weights.get(f, empty))) for f, v in self.idf.items()}

    def decision(self, text: str) -> list[float]:
        table = self._table
        norm = 0.0
        acc = [0.0] * len(self.bias)
        single = len(acc) == 1
        log = math.log
        for f, c in features(text).items():
            entry = table.get(f)
            if entry is None:
                continue
            v = entry[0] if c == 1 else (1.0 + log(c)) * entry[0]
            norm += v * v
            if single:
                acc[0] += entry[1][0] * v
            else:
                for k, w in enumerate(entry[1]):
                    acc[k] += w * v
        norm = math.sqrt(norm) or 1.0
        return [b + a / norm for b, a in zip(self.bias, acc, strict=True)]

    def probabilities(self, text: str) -> dict[str, float]:
        z = self.decision(text)
        if len(self.classes) == 2:  # one classifier: P(first class)
            p = _sigmoid(z[0])
            return {self.classes[0]: p, self.classes[1]: 1.0 - p}
        ps = [_sigmoid(v) for v in z]
        total = sum(ps) or 1.0
        return {c: p / total for c, p in zip(self.classes, ps, strict=True)}

    def score(self, text: str) -> StanceResult:
        probs = self.probabilities(text)
        label = max(probs, key=lambda c: probs[c])
        value = probs.get("favor", 0.0) - probs.get("against", 0.0)
        return StanceResult(label, round(max(-1.0, min(1.0, value)), 4), self.name, self.version)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "target_id": self.target_id, "classes": list(self.classes),
                "bias": self.bias, "meta": self.meta,
                "features": {f: [round(self.idf[f], 5), *(round(w, 6) for w in self.weights.get(f, []))]
                             for f in self.idf}}

    @classmethod
    def from_json(cls, data: dict[str, Any], version: str) -> LinearStanceModel:
        if data.get("format") != FORMAT:
            raise StanceModelError(f"not a stance model file (format {data.get('format')!r}, expected {FORMAT})")
        classes = tuple(str(c) for c in data["classes"])
        if not set(classes) <= set(LABELS) or len(classes) < 2:
            raise StanceModelError(f"bad classes {classes}")
        n = 1 if len(classes) == 2 else len(classes)
        idf: dict[str, float] = {}
        weights: dict[str, list[float]] = {}
        for f, row in data["features"].items():
            if not isinstance(row, list) or len(row) not in (1, n + 1):
                raise StanceModelError(f"bad feature row for {f!r}")
            idf[str(f)] = float(row[0])
            if len(row) > 1 and any(row[1:]):
                weights[str(f)] = [float(x) for x in row[1:]]
        bias = [float(b) for b in data["bias"]]
        if len(bias) != n:
            raise StanceModelError("bias does not match the classes")
        return cls(str(data["target_id"]), classes, idf, weights, bias, version, dict(data.get("meta") or {}))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# --- training (numpy) ------------------------------------------------------------------------


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise StanceModelError(
            "training a stance model needs numpy: pip install 'discourse-monitor[stance]' (or pip install numpy). "
            "Scoring with a trained model does not need it.") from exc
    return numpy


def normalise_label(label: str) -> str | None:
    value = label.strip().lower()
    value = {"favour": "favor", "neutral": "none", "neither": "none"}.get(value, value)
    return value if value in LABELS else None


def train_model(texts: Sequence[str], labels: Sequence[str], target_id: str, c: float = 10.0,
                min_df: int = MIN_DF, meta: dict[str, Any] | None = None) -> LinearStanceModel:
    """Fit a model on labelled texts (labels favor/against/none, case-insensitive)."""
    np = _numpy()
    clean = [normalise_label(lab) for lab in labels]
    bad = sorted({lab for lab, c_ in zip(labels, clean, strict=True) if c_ is None})
    if bad:
        raise StanceModelError(f"labels must be favor, against or none; found {bad[:5]}")
    counts = Counter(clean)
    classes = tuple(lab for lab in LABELS if counts.get(lab))
    if len(classes) < 2:
        raise StanceModelError(f"need examples of at least two stances; have only {dict(counts)}")
    too_few = [lab for lab in classes if counts[lab] < 5]
    if too_few:
        raise StanceModelError(f"too few examples of {', '.join(too_few)} (need 5 or more of each; "
                               f"counts {dict(counts)})")
    docs = [features(t) for t in texts]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    vocab = {f: i for i, f in enumerate(sorted(f for f, k in df.items() if k >= min_df))}
    n_docs, n_feat = len(docs), len(vocab)
    idf = np.zeros(n_feat)
    for f, i in vocab.items():
        idf[i] = math.log((1 + n_docs) / (1 + df[f])) + 1.0
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for d in docs:
        row = [(vocab[f], (1.0 + math.log(k)) * idf[vocab[f]]) for f, k in d.items() if f in vocab]
        norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
        indices.extend(i for i, _ in row)
        data.extend(v / norm for _, v in row)
        indptr.append(len(indices))
    x = _Csr(np, np.array(indptr), np.array(indices, dtype=np.int64), np.array(data), n_feat)
    heads = classes[:1] if len(classes) == 2 else classes  # binary: one classifier for the first class
    weight_rows = []
    biases = []
    y_all = np.array(clean)
    for cls in heads:
        y = (y_all == cls).astype(float)
        ratio = x.nb_ratio(y)
        w, b = _fit_logistic(np, x.scaled(ratio), y, c)
        weight_rows.append(w * ratio)
        biases.append(float(b))
    stacked = np.vstack(weight_rows).T  # feature x classifier
    names = sorted(vocab, key=vocab.__getitem__)
    model = LinearStanceModel(
        target_id, classes, {f: float(idf[i]) for i, f in enumerate(names)},
        {f: [float(v) for v in stacked[i]] for i, f in enumerate(names) if np.any(stacked[i])},
        biases, "", {**(meta or {}), "examples": dict(counts), "features": n_feat, "c": c,
                     "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    model.version = model_hash(model.to_json())
    return model


class _Csr:
    """Just enough of a sparse row matrix for logistic regression, in numpy."""

    def __init__(self, np: Any, indptr: Any, indices: Any, data: Any, n_cols: int):
        self.np, self.indptr, self.indices, self.data, self.n_cols = np, indptr, indices, data, n_cols
        self.rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))

    def scaled(self, col_factor: Any) -> _Csr:
        return _Csr(self.np, self.indptr, self.indices, self.data * col_factor[self.indices], self.n_cols)

    def dot(self, w: Any) -> Any:
        sums = self.np.concatenate([[0.0], self.np.cumsum(self.data * w[self.indices])])
        return sums[self.indptr[1:]] - sums[self.indptr[:-1]]

    def tdot(self, g: Any) -> Any:
        return self.np.bincount(self.indices, weights=self.data * g[self.rows], minlength=self.n_cols)

    def nb_ratio(self, y: Any, alpha: float = 1.0) -> Any:
        """Log-count ratio of each feature between the class and the rest (NBSVM)."""
        np = self.np
        pos = np.bincount(self.indices, weights=self.data * y[self.rows], minlength=self.n_cols) + alpha
        neg = np.bincount(self.indices, weights=self.data * (1 - y[self.rows]), minlength=self.n_cols) + alpha
        return np.log((pos / pos.sum()) / (neg / neg.sum()))


def _fit_logistic(np: Any, x: _Csr, y: Any, c: float, max_iter: int = 400) -> tuple[Any, float]:
    """L2-regularised logistic regression by L-BFGS (numpy only; the loss is convex)."""
    n = x.n_cols

    def loss_grad(params: Any) -> tuple[float, Any]:
        w, b = params[:n], params[n]
        z = x.dot(w) + b
        # log(1 + e^-z) computed stably
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / c * w @ w)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        g = p - y
        return loss, np.append(x.tdot(g) + w / c, g.sum())

    params = _lbfgs(np, loss_grad, np.zeros(n + 1), max_iter)
    return params[:n], float(params[n])


def _lbfgs(np: Any, fun: Any, x0: Any, max_iter: int, memory: int = 10, tol: float = 1e-5) -> Any:
    x = x0
    f, g = fun(x)
    s_list: list[Any] = []
    y_list: list[Any] = []
    for _ in range(max_iter):
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(s_list), reversed(y_list), strict=True):
            a = (s @ q) / (yv @ s)
            alphas.append(a)
            q -= a * yv
        if y_list:
            q *= (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
        for (s, yv), a in zip(zip(s_list, y_list, strict=True), reversed(alphas), strict=True):
            q += s * (a - (yv @ q) / (yv @ s))
        direction = -q
        slope = g @ direction
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_list.clear()
            y_list.clear()
            direction, slope = -g, -(g @ g)
        step = 1.0 if s_list else min(1.0, 1.0 / (np.sqrt(g @ g) + 1e-12))
        while True:
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, yv = x_new - x, g_new - g
        if s @ yv > 1e-10:
            s_list.append(s)
            y_list.append(yv)
            if len(s_list) > memory:
                s_list.pop(0)
                y_list.pop(0)
        done = abs(f - f_new) <= tol * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if done:
            break
    return x


# --- saving and loading ----------------------------------------------------------------------


def model_hash(payload: dict[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


def target_dir(models_dir: Path, target_id: str) -> Path:
    return Path(models_dir) / "stance" / target_id


def save_model(model: LinearStanceModel, models_dir: Path) -> Path:
    """Write the model next to earlier ones and make it current. Returns its path."""
    folder = target_dir(models_dir, model.target_id)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"model-{stamp}-{model.version}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(model.to_json(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
    pointer = folder / (CURRENT + ".tmp")
    pointer.write_text(path.name + "\n", encoding="utf-8")
    pointer.replace(folder / CURRENT)
    return path


def load_model(path: Path) -> LinearStanceModel:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StanceModelError(f"{path}: cannot read model: {exc}") from exc
    if not isinstance(data, dict):
        raise StanceModelError(f"{path}: not a stance model file")
    try:
        return LinearStanceModel.from_json(data, model_hash(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise StanceModelError(f"{path}: malformed model: {exc}") from exc


def current_model_path(models_dir: Path, target_id: str) -> Path | None:
    folder = target_dir(models_dir, target_id)
    pointer = folder / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None  # the pointer names a file in this folder, nothing else
    path = folder / name
    return path if path.is_file() else None


def load_models(models_dir: Path, targets: Iterable[str] | None = None) -> dict[str, LinearStanceModel]:
    """The current model of each target that has one. Broken files are logged and skipped."""
    root = Path(models_dir) / "stance"
    if not root.is_dir():
        return {}
    wanted = set(targets) if targets is not None else None
    out: dict[str, LinearStanceModel] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if wanted is not None and folder.name not in wanted:
            continue
        path = current_model_path(models_dir, folder.name)
        if path is None:
            continue
        try:
            model = load_model(path)
        except StanceModelError as exc:
            log.warning("stance model for %s not used: %s", folder.name, exc)
            continue
        out[folder.name] = model
    return out

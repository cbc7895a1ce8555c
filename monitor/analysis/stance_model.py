"""Stance learned from a user's labels: one light model per target.

Three views of a post, combined by a small logistic regression ("stacking"):

- ``words``: NB-weighted logistic regression (Wang & Manning's "NBSVM" idea) over word uni- and
  bigrams (hashtags also split at camel case), whole hashtags and @handles, and character
  2-5-grams inside words;
- ``chars``: plain logistic regression over character 1-5-grams of the whole lowercased text,
  across word boundaries (they catch spellings, "tRump", "#MAGA2020", emoji runs and word pairs);
- ``rules``: the zero-shot rule score for the target (``monitor.analysis.stance``): what is said
  about the target, hashtags, cues. It brings knowledge the labels lack (VADER's lexicon, who is
  attacked), and helps most when the labels are few.

Both n-gram views use TF-IDF with sublinear term frequency, L2-normalised. The weights of the
combination are fitted on out-of-fold decisions (5-fold cross-validation on the training file),
so each view counts as much as it proves to on posts it was not trained on. Two classes
(favor/against) train one classifier per view; three (with none) train one-vs-rest and normalise.

Saved as plain JSON (no pickle: a model file cannot run code when loaded) under
``<data_dir>/models/stance/<target_id>/model-<utc time>-<hash>.json`` with a ``current`` file
naming the one in use; older models stay for comparison and rollback. The hash is the scorer
version stored with every score row, so rows always say which model scored them. The file holds
the target's names (for the rule view), so a model scores the same whatever the config says later.

Scoring is pure Python. Training needs numpy (``pip install 'discourse-monitor[stance]'``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.analysis.stance import RULES_VERSION, StanceResult

if TYPE_CHECKING:
    from monitor.analysis.sentiment import Scored
    from monitor.config import Target

log = logging.getLogger(__name__)

MODEL_NAME = "stance-linear"
FORMAT = "discourse-monitor/stance-linear/2"
FORMAT_V1 = "discourse-monitor/stance-linear/1"  # words view only; still read
LABELS = ("favor", "against", "none")
CURRENT = "current"
CHAR_MIN, CHAR_MAX = 2, 5  # character n-gram lengths inside words (words view)
TEXT_CHAR_MIN, TEXT_CHAR_MAX = 1, 5  # character n-gram lengths across the whole text (chars view)
MIN_DF = 2  # features seen in one training text only are dropped (a third of the size, same accuracy)
WORDS_C, CHARS_C, STACK_C = 10.0, 3.0, 1.0  # inverse regularisation (chosen by 5-fold CV on P-Stance train)
FOLDS = 5
INPUTS = ("words", "chars", "rules", "rules_abs")  # what the combination reads, per class

_TOKEN_RE = re.compile(r"#\w+|@\w+|\w+(?:['’]\w+)*|[^\w\s]")
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_URL_RE = re.compile(r"https?://\S+")
_SPACE_RE = re.compile(r"\s+")


class StanceModelError(Exception):
    """Training or loading failed; the message says what to do."""


def features(text: str, in_word_chars: bool = True) -> Counter[str]:
    """Word features of one text: words, bigrams, hashtags, handles, and (``in_word_chars``)
    character 2-5-grams inside words (format 1 models; the chars view covers those now)."""
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
        if in_word_chars:
            grams = _CHAR_CACHE.get(w)
            if grams is None:
                grams = _char_grams(w)
            out.extend(grams)
    return Counter(out)


def text_char_features(text: str) -> Counter[str]:
    """Character n-gram counts of the whole text (chars view): lowercased, URLs dropped, runs of
    white space made one space."""
    if "http" in text:
        text = _URL_RE.sub(" ", text)
    s = _SPACE_RE.sub(" ", text.lower())
    n = len(s)
    return Counter([s[k:k + m] for m in range(TEXT_CHAR_MIN, TEXT_CHAR_MAX + 1) for k in range(n - m + 1)])


_CHAR_CACHE: dict[str, tuple[str, ...]] = {}


def _char_grams(word: str) -> tuple[str, ...]:
    # Words repeat across posts (Zipf), so their n-grams are cut once and remembered.
    padded = f" {word} "
    grams = tuple("c:" + padded[k:k + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for k in range(len(padded) - n + 1))
    if len(_CHAR_CACHE) > 200_000:
        _CHAR_CACHE.clear()
    _CHAR_CACHE[word] = grams
    return grams


def word_features(text: str) -> Counter[str]:
    """Feature counts of one text for the words view."""
    return features(text, in_word_chars=False)


# view name -> its features ("words1": the one view of format 1 models, with in-word n-grams)
_VIEWS = {"words": word_features, "chars": text_char_features, "words1": features}


@dataclass(slots=True)
class LinearView:
    """One n-gram view: TF-IDF (sublinear, L2) and one linear classifier per head."""

    idf: dict[str, float]
    weights: dict[str, list[float]]  # feature -> one weight per head (NB ratio folded in)
    bias: list[float]
    _first: dict[str, complex] = field(default_factory=dict, repr=False)
    _rest: list[dict[str, float]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # Scoring sums idf^2 (for the norm) and idf * weight (per head) over the text's features.
        # One dict lookup per feature gives both sums for the first head: the value is the complex
        # number idf^2 + i * idf * weight, summed by map() and sum() in C, not in a Python loop.
        heads = len(self.bias)
        self._first = {f: complex(v * v, v * self.weights[f][0] if f in self.weights else 0.0)
                       for f, v in self.idf.items()}
        self._rest = [{f: self.idf[f] * w[h] for f, w in self.weights.items() if w[h]} for h in range(1, heads)]

    def decision(self, counts: Counter[str]) -> list[float]:
        # A feature seen c times weighs (1 + ln c) * idf (sublinear TF): summed as if each were
        # seen once, then corrected for the few seen more often.
        first = self._first
        total = sum(map(first.get, counts, repeat(0j)))
        norm, acc = total.real, [total.imag]
        acc.extend(sum(map(rest.get, counts, repeat(0.0))) for rest in self._rest)
        multi = [(f, c) for f, c in counts.items() if c > 1]
        if multi:
            log_ = math.log
            for f, c in multi:
                entry = first.get(f)
                if entry is None:
                    continue
                tf = 1.0 + log_(c)
                norm += (tf * tf - 1.0) * entry.real
                acc[0] += (tf - 1.0) * entry.imag
                for h, rest in enumerate(self._rest, start=1):
                    acc[h] += (tf - 1.0) * rest.get(f, 0.0)
        norm = math.sqrt(norm) or 1.0
        return [b + a / norm for b, a in zip(self.bias, acc, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {"bias": self.bias,
                "features": {f: [round(self.idf[f], 5), *(round(w, 6) for w in self.weights.get(f, []))]
                             for f in self.idf}}

    @classmethod
    def from_json(cls, data: dict[str, Any], heads: int) -> LinearView:
        idf: dict[str, float] = {}
        weights: dict[str, list[float]] = {}
        for f, row in data["features"].items():
            if not isinstance(row, list) or len(row) not in (1, heads + 1):
                raise StanceModelError(f"bad feature row for {f!r}")
            idf[str(f)] = float(row[0])
            if len(row) > 1 and any(row[1:]):
                weights[str(f)] = [float(x) for x in row[1:]]
        bias = [float(b) for b in data["bias"]]
        if len(bias) != heads:
            raise StanceModelError("bias does not match the classes")
        return cls(idf, weights, bias)


_ENGINE: Any = None


def _vader() -> Any:
    """One VADER engine for every model in the process (the rule view needs a VADER pass)."""
    global _ENGINE
    if _ENGINE is None:
        from monitor.analysis.sentiment import VaderEngine

        _ENGINE = VaderEngine()
    return _ENGINE


class RuleView:
    """The zero-shot rule score toward the model's target, in [-1, 1]."""

    def __init__(self, target: Target):
        from monitor.analysis.sentiment import Thresholds
        from monitor.analysis.stance import RuleStance

        self.target = target
        self._rules = RuleStance([target], Thresholds(0.1, -0.1))

    def score(self, text: str, scored: Scored | None = None) -> float:
        if scored is None:
            from monitor.analysis.sentiment import prepare

            scored = _vader().score(prepare(text))
        return self._rules.score(self.target.id, text, None, scored).score


def default_target(target_id: str) -> Target:
    """The target a model is trained for when none is given: its id is its only name."""
    from monitor.config import Target

    return Target(id=target_id, name=target_id, kind="topic", aliases=[target_id.replace("-", " ")])


@dataclass(slots=True)
class LinearStanceModel:
    """A trained model, as loaded from JSON: scoring needs nothing beyond the standard library
    (and the project's own VADER and rules, for the rule view)."""

    target_id: str
    classes: tuple[str, ...]
    views: dict[str, LinearView]  # "words", "chars"
    stack_weights: list[list[float]]  # per head, one weight per input in ``inputs``
    stack_bias: list[float]
    inputs: tuple[str, ...]
    target: Target | None  # for the rule view (None: no rule view, as in format 1 files)
    version: str
    meta: dict[str, Any]
    _rules: RuleView | None = field(default=None, repr=False)

    name = MODEL_NAME

    def __post_init__(self) -> None:
        if any(i.startswith("rules") for i in self.inputs):
            if self.target is None:
                raise StanceModelError("the model reads the rule score but names no target")
            self._rules = RuleView(self.target)

    @property
    def heads(self) -> int:
        return 1 if len(self.classes) == 2 else len(self.classes)

    def view_decisions(self, text: str, scored: Scored | None = None) -> dict[str, Any]:
        """Each input of the combination: per-head decisions of the n-gram views, the rule score."""
        out: dict[str, Any] = {name: view.decision(_VIEWS[name](text)) for name, view in self.views.items()}
        if self._rules is not None:
            r = self._rules.score(text, scored)
            out["rules"], out["rules_abs"] = r, abs(r)
        return out

    def decision(self, text: str, scored: Scored | None = None) -> list[float]:
        """One value per head. ``scored`` is the VADER pass over ``prepare(text)`` if the caller
        has it (saves the rule view a second pass)."""
        parts = self.view_decisions(text, scored)
        out = []
        for h, (weights, bias) in enumerate(zip(self.stack_weights, self.stack_bias, strict=True)):
            z = bias
            for name, w in zip(self.inputs, weights, strict=True):
                value = parts[name]
                z += w * (value[h] if isinstance(value, list) else value)
            out.append(z)
        return out

    def probabilities(self, text: str, scored: Scored | None = None) -> dict[str, float]:
        z = self.decision(text, scored)
        if len(self.classes) == 2:  # one classifier: P(first class)
            p = _sigmoid(z[0])
            return {self.classes[0]: p, self.classes[1]: 1.0 - p}
        ps = [_sigmoid(v) for v in z]
        total = sum(ps) or 1.0
        return {c: p / total for c, p in zip(self.classes, ps, strict=True)}

    def score(self, text: str, scored: Scored | None = None) -> StanceResult:
        probs = self.probabilities(text, scored)
        label = max(probs, key=lambda c: probs[c])
        value = probs.get("favor", 0.0) - probs.get("against", 0.0)
        return StanceResult(label, round(max(-1.0, min(1.0, value)), 4), self.name, self.version)

    @property
    def n_features(self) -> int:
        return sum(len(v.idf) for v in self.views.values())

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "target_id": self.target_id, "classes": list(self.classes), "meta": self.meta,
                "target": self.target.model_dump(mode="json") if self.target is not None else None,
                "rules_version": RULES_VERSION,
                "stack": {"inputs": list(self.inputs), "weights": [[round(w, 6) for w in row]
                                                                   for row in self.stack_weights],
                          "bias": [round(b, 6) for b in self.stack_bias]},
                "views": {name: view.to_json() for name, view in self.views.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any], version: str) -> LinearStanceModel:
        fmt = data.get("format")
        if fmt not in (FORMAT, FORMAT_V1):
            raise StanceModelError(f"not a stance model file (format {fmt!r}, expected {FORMAT})")
        classes = tuple(str(c) for c in data["classes"])
        if not set(classes) <= set(LABELS) or len(classes) < 2:
            raise StanceModelError(f"bad classes {classes}")
        heads = 1 if len(classes) == 2 else len(classes)
        meta = dict(data.get("meta") or {})
        if fmt == FORMAT_V1:  # words view alone, taken as it is
            words = LinearView.from_json({"bias": data["bias"], "features": data["features"]}, heads)
            return cls(str(data["target_id"]), classes, {"words1": words}, [[1.0]] * heads, [0.0] * heads,
                       ("words1",), None, version, meta)
        views = {str(name): LinearView.from_json(view, heads) for name, view in data["views"].items()}
        if not set(views) <= set(_VIEWS):
            raise StanceModelError(f"unknown views {sorted(set(views) - set(_VIEWS))}")
        stack = data["stack"]
        inputs = tuple(str(i) for i in stack["inputs"])
        if not set(inputs) <= {*views, "rules", "rules_abs"}:
            raise StanceModelError(f"unknown inputs {inputs}")
        weights = [[float(w) for w in row] for row in stack["weights"]]
        bias = [float(b) for b in stack["bias"]]
        if len(weights) != heads or len(bias) != heads or any(len(row) != len(inputs) for row in weights):
            raise StanceModelError("combination weights do not match the classes")
        target = None
        if data.get("target") is not None:
            from pydantic import ValidationError

            from monitor.config import Target

            try:
                target = Target.model_validate(data["target"])
            except ValidationError as exc:
                raise StanceModelError(f"bad target: {exc}") from exc
        if data.get("rules_version") != RULES_VERSION:
            log.info("stance model %s was trained with rules version %s (now %s)", version,
                     data.get("rules_version"), RULES_VERSION)
        return cls(str(data["target_id"]), classes, views, weights, bias, inputs, target, version, meta)


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


def train_model(texts: Sequence[str], labels: Sequence[str], target_id: str, c: float = WORDS_C,
                min_df: int = MIN_DF, meta: dict[str, Any] | None = None, target: Target | None = None,
                char_c: float = CHARS_C, folds: int = FOLDS, seed: int = 0,
                progress: Any = None) -> LinearStanceModel:
    """Fit a model on labelled texts (labels favor/against/none, case-insensitive).

    ``target`` gives the names the rule view looks for (default: the id as the only name).
    ``progress(message)`` is told what is being fitted (training a few thousand texts takes a minute
    or two: each view is fitted once per fold, then on everything).
    """
    np = _numpy()
    clean, counts, classes = _checked_labels(labels)
    target = target or default_target(target_id)
    say = progress or (lambda _msg: None)
    heads = classes[:1] if len(classes) == 2 else classes  # binary: one classifier for the first class
    y_all = np.array(clean)
    ys = [(y_all == cls).astype(float) for cls in heads]
    settings = {"words": (True, c), "chars": (False, char_c)}  # (NB weighting, C)
    matrices = {name: _vectorise(np, [_VIEWS[name](t) for t in texts], min_df) for name in settings}
    rules = RuleView(target)
    r = np.array([rules.score(t) for t in texts])

    fold_of = _stratified_folds(np, clean, min(folds, min(counts.values())), seed)
    oof = _out_of_fold_decisions(np, matrices, settings, ys, fold_of, len(texts), say)
    stack_w, stack_b = _fit_stack(np, oof, r, ys)
    say("final fit on all texts")
    views = _final_views(np, matrices, settings, ys)
    model = LinearStanceModel(
        target_id, classes, views, stack_w, stack_b, INPUTS, target, "",
        {**(meta or {}), "examples": dict(counts), "features": sum(len(v.idf) for v in views.values()),
         "c": c, "char_c": char_c, "folds": int(fold_of.max()) + 1,
         "cv": _cv_report(np, clean, heads, oof, r, stack_w, stack_b, classes),
         "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    model.version = model_hash(model.to_json())
    return model


def _checked_labels(labels: Sequence[str]) -> tuple[list[str | None], Counter[str | None], tuple[str, ...]]:
    """The normalised labels, their counts and the classes present (in LABELS order); an error unless
    every label is a stance and at least two stances have 5 examples or more."""
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
    return clean, counts, classes


def _out_of_fold_decisions(np: Any, matrices: dict[str, tuple[list[str], Any, _Csr]],
                           settings: dict[str, tuple[bool, float]], ys: list[Any], fold_of: Any, n_texts: int,
                           say: Callable[[str], Any]) -> dict[str, Any]:
    """Per view, each text's per-head decision from a fit on the other folds: what the combination
    learns its weights from (decisions on texts the view was not fitted on)."""
    oof = {name: np.zeros((n_texts, len(ys))) for name in settings}
    for k in range(int(fold_of.max()) + 1):
        say(f"fold {k + 1} of {int(fold_of.max()) + 1}")
        train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        for name, (nb, cv) in settings.items():
            x = matrices[name][2]
            xa, xb = x.take(train), x.take(test)
            for h, y in enumerate(ys):
                w, b = _fit_view(np, xa, y[train], nb, cv)
                oof[name][test, h] = xb.dot(w) + b
    return oof


def _fit_stack(np: Any, oof: dict[str, Any], r: Any, ys: list[Any]) -> tuple[list[list[float]], list[float]]:
    """Per head, the combination's weights over INPUTS (words, chars, rules, |rules|) and its bias."""
    stack_w, stack_b = [], []
    for h, y in enumerate(ys):
        z = np.column_stack([oof["words"][:, h], oof["chars"][:, h], r, np.abs(r)])
        w, b = _fit_dense_logistic(np, z, y, STACK_C)
        stack_w.append([float(v) for v in w])
        stack_b.append(float(b))
    return stack_w, stack_b


def _final_views(np: Any, matrices: dict[str, tuple[list[str], Any, _Csr]],
                 settings: dict[str, tuple[bool, float]], ys: list[Any]) -> dict[str, LinearView]:
    """Each n-gram view fitted on all texts; features with no weight on any head keep only their IDF."""
    views = {}
    for name, (nb, cv) in settings.items():
        names, idf, x = matrices[name]
        rows, biases = [], []
        for y in ys:
            w, b = _fit_view(np, x, y, nb, cv)
            rows.append(w)
            biases.append(float(b))
        stacked = np.vstack(rows).T  # feature x head
        views[name] = LinearView({f: float(idf[i]) for i, f in enumerate(names)},
                                 {f: [float(v) for v in stacked[i]] for i, f in enumerate(names) if np.any(stacked[i])},
                                 biases)
    return views


def _cv_report(np: Any, clean: list[str | None], heads: Sequence[str], oof: dict[str, Any], r: Any,
               stack_w: list[list[float]], stack_b: list[float], classes: tuple[str, ...]) -> dict[str, float]:
    """F_avg of each view and of the combination on out-of-fold decisions (the combination's
    weights were fitted on the same decisions, so its figure is a little optimistic)."""
    from monitor.analysis.metrics import stance_metrics

    def labels_of(z: Any) -> list[str]:
        if len(heads) == 1:
            return [classes[0] if v > 0 else classes[1] for v in z[:, 0]]
        return [classes[int(i)] for i in np.argmax(z, axis=1)]

    gold = [c or "none" for c in clean]
    out = {name: round(stance_metrics(gold, labels_of(z))["f_avg"], 4) for name, z in oof.items()}
    rule = r[:, None] if classes == ("favor", "against") else _rule_heads(np, r, tuple(heads))
    out["rules"] = round(stance_metrics(gold, labels_of(rule))["f_avg"], 4)
    combined = np.column_stack([
        b + w[0] * oof["words"][:, h] + w[1] * oof["chars"][:, h] + w[2] * r + w[3] * np.abs(r)
        for h, (w, b) in enumerate(zip(stack_w, stack_b, strict=True))])
    out["combined"] = round(stance_metrics(gold, labels_of(combined))["f_avg"], 4)
    return out


def _rule_heads(np: Any, r: Any, classes: tuple[str, ...]) -> Any:
    # the rule score as one-vs-rest decisions: favor high, against low, none near zero
    cols = {"favor": r - 0.1, "against": -r - 0.1, "none": 0.1 - np.abs(r)}
    return np.column_stack([cols[c] for c in classes])


def _stratified_folds(np: Any, labels: Sequence[str | None], k: int, seed: int) -> Any:
    """Fold number of each example: every class spread evenly over ``k`` folds, in a fixed random order."""
    rng = np.random.default_rng(seed)
    fold_of = np.zeros(len(labels), dtype=np.int64)
    offset = 0
    for lab in sorted({lab or "" for lab in labels}):
        idx = np.flatnonzero(np.array([(x or "") == lab for x in labels]))
        rng.shuffle(idx)
        fold_of[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return fold_of


def _vectorise(np: Any, docs: list[Counter[str]], min_df: int) -> tuple[list[str], Any, _Csr]:
    """Vocabulary (features in ``min_df`` texts or more), IDF and the TF-IDF rows (sublinear, L2)."""
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    names = sorted(f for f, k in df.items() if k >= min_df)
    vocab = {f: i for i, f in enumerate(names)}
    n_docs = len(docs)
    idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in names])
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for d in docs:
        row = [(i, (1.0 + math.log(k)) * idf[i]) for f, k in d.items() if (i := vocab.get(f)) is not None]
        norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
        indices.extend(i for i, _ in row)
        data.extend(v / norm for _, v in row)
        indptr.append(len(indices))
    x = _Csr(np, np.array(indptr), np.array(indices, dtype=np.int64), np.array(data), len(names))
    return names, idf, x


def _fit_view(np: Any, x: _Csr, y: Any, nb: bool, c: float) -> tuple[Any, float]:
    """Weights (NB ratio folded in) and bias of one head of an n-gram view."""
    if not nb:
        return _fit_logistic(np, x, y, c)
    ratio = x.nb_ratio(y)
    w, b = _fit_logistic(np, x.scaled(ratio), y, c)
    return w * ratio, b


class _Csr:
    """Just enough of a sparse row matrix for logistic regression, in numpy."""

    def __init__(self, np: Any, indptr: Any, indices: Any, data: Any, n_cols: int):
        self.np, self.indptr, self.indices, self.data, self.n_cols = np, indptr, indices, data, n_cols
        self.rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))

    def scaled(self, col_factor: Any) -> _Csr:
        return _Csr(self.np, self.indptr, self.indices, self.data * col_factor[self.indices], self.n_cols)

    def take(self, rows: Any) -> _Csr:
        """The given rows, in that order."""
        np = self.np
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        pos = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return _Csr(np, indptr, self.indices[pos], self.data[pos], self.n_cols)

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


def _fit_dense_logistic(np: Any, x: Any, y: Any, c: float) -> tuple[Any, float]:
    """The same on a small dense matrix (the combination's inputs)."""
    n = x.shape[1]

    def loss_grad(params: Any) -> tuple[float, Any]:
        w, b = params[:n], params[n]
        z = x @ w + b
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / c * w @ w)
        g = 0.5 * (1.0 + np.tanh(0.5 * z)) - y
        return loss, np.append(x.T @ g + w / c, g.sum())

    params = _lbfgs(np, loss_grad, np.zeros(n + 1), 500, tol=1e-9)
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
    return save_current(target_dir(models_dir, model.target_id), model.version, model.to_json())


def save_current(folder: Path, version: str, payload: dict[str, Any]) -> Path:
    """Write a model file (JSON: loading it runs no code) into ``folder`` beside earlier ones and
    point ``current`` at it; both renamed into place, so a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"model-{stamp}-{version}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
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
    return current_file(target_dir(models_dir, target_id))


def current_file(folder: Path) -> Path | None:
    """The model file ``folder``'s ``current`` pointer names (None when there is none, or it is bad)."""
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

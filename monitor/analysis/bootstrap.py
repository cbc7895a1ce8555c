"""Weak labels for a target nobody labelled (``monitor stance bootstrap``).

Users follow targets no dataset covers (Altman, Stargate, Son). Their own collected posts carry a
signal anyway: the hashtags and phrases people use to take sides (#MAGA / #DumpTrump,
"vaporware" / "game changer"). A post that uses cues of exactly one side gets that side as a weak
label; a stance model trained on those posts then learns the rest of the vocabulary that goes with
them, and scores posts that use no cue at all. The best SemEval-2016 system on the unlabelled
target (Trump) was built this way.

Optionally the base analyzer's own confident calls are added as weak labels too (self-training),
and its confident "none" calls give the model a none class (news reporting, mere mentions), so that
a bootstrapped model does not force every post into favor or against.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.analysis.stance import StanceResult

FAVOR, AGAINST, NONE = "favor", "against", "none"
CUE, MODEL = "cue", "model"
CONFIDENT = 0.6  # |p(favor) - p(against)| for a base analyzer's call to count (self-training)
NONE_BELOW = 0.05  # a "none" call this balanced counts as a none example


@dataclass(frozen=True)
class WeakLabel:
    text: str
    label: str  # favor / against / none
    source: str  # CUE (the post used one side's cues) or MODEL (the base analyzer was confident)


def cue_label(text: str, favor: Sequence[re.Pattern[str]], against: Sequence[re.Pattern[str]]) -> str | None:
    """favor or against when the text uses cues of that side only; None otherwise (no cue, or both)."""
    pro = any(p.search(text) for p in favor)
    con = any(p.search(text) for p in against)
    if pro == con:
        return None
    return FAVOR if pro else AGAINST


def weak_labels(texts: Sequence[str], favor: Sequence[re.Pattern[str]], against: Sequence[re.Pattern[str]],
                base: Sequence[StanceResult] | None = None, confident: float = 0.0,
                none_below: float = 0.0) -> list[WeakLabel]:
    """One weak label per text that earns one, cues first.

    ``base`` (the base analyzer's stance for each text) adds: favor/against calls whose score (favor
    minus against probability) reaches ``confident`` in size (0: none added), and none calls whose
    score is under ``none_below`` in size (0: none added)."""
    out: list[WeakLabel] = []
    seen: set[str] = set()
    for i, text in enumerate(texts):
        if text in seen:  # a repeated text (retweets) would weigh as many labels
            continue
        seen.add(text)
        label = cue_label(text, favor, against)
        if label is not None:
            out.append(WeakLabel(text, label, CUE))
            continue
        if base is None:
            continue
        result = base[i]
        if confident > 0 and result.label in (FAVOR, AGAINST) and abs(result.score) >= confident:
            out.append(WeakLabel(text, result.label, MODEL))
        elif none_below > 0 and result.label == NONE and abs(result.score) < none_below:
            out.append(WeakLabel(text, NONE, MODEL))
    return out


def label_counts(labels: Sequence[WeakLabel]) -> dict[str, Counter[str]]:
    """{source: Counter(label)}: what the weak labels rest on, for the command to print."""
    counts: dict[str, Counter[str]] = {}
    for item in labels:
        counts.setdefault(item.source, Counter())[item.label] += 1
    return counts

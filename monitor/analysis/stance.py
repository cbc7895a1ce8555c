"""Stance toward a target: favor / against / none, with a score in [-1, 1].

First version: rules. Target-directed sentiment (the sentences that mention the target) plus the
target's configured stance cues. Trained per-target models, where present, take precedence
(see ``monitor.analysis.pipeline.Analyzer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.analysis.sentiment import Thresholds
from monitor.config import Target

RULES_NAME = "stance-rules"
RULES_VERSION = "1"


@dataclass(slots=True)
class StanceResult:
    label: str  # favor | against | none
    score: float
    scorer: str
    version: str


class RuleStance:
    name = RULES_NAME
    version = RULES_VERSION

    def __init__(self, targets: list[Target], thresholds: Thresholds, cue_weight: float = 0.5):
        self.thresholds = thresholds
        self.cue_weight = cue_weight
        self._cues: dict[str, tuple[list[re.Pattern[str]], list[re.Pattern[str]]]] = {
            t.id: ([re.compile(p, re.IGNORECASE) for p in t.stance.favor],
                   [re.compile(p, re.IGNORECASE) for p in t.stance.against])
            for t in targets
        }

    def score(self, target_id: str, text: str, directed_sentiment: float) -> StanceResult:
        favor, against = self._cues.get(target_id, ([], []))
        cue = sum(1 for p in favor if p.search(text)) - sum(1 for p in against if p.search(text))
        value = max(-1.0, min(1.0, directed_sentiment + self.cue_weight * cue))
        if value >= self.thresholds.positive:
            label = "favor"
        elif value <= self.thresholds.negative:
            label = "against"
        else:
            label = "none"
        return StanceResult(label, round(value, 4), self.name, self.version)

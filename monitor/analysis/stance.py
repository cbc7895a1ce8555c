"""Stance toward a target: favor, against or none, with a score in [-1, 1].

Zero-shot rules that work for any configured target without labelled data. Sentiment is not
stance ("Musk says they DON'T have the money 😂" reads positive), so the rules look at *what is
said about the target* rather than the mood of the post:

- target-directed sentiment: VADER's per-word valences (from the one sentiment pass), weighted
  by whether the word sits in a clause that names the target, refers to it (he/she for people,
  "you" when the post addresses the target's handle), or elsewhere;
- contrast: VADER's 'but' rule is in the valences; clauses are cut at 'but', 'however', ...;
- reported speech: what follows "X says ..." is X's words, not the author's view of X; verbs of
  doubt ("X claims ...") count against;
- who is attacked: verbs of defeating ("destroys", "slams") count against the target when it is
  their object and for it when it is their subject;
- insults and praise aimed at the target (``lexicon.STANCE_LEXICON``: "X is a joke");
- hashtags as cues: #NeverX, #StopX, #XLies against; #VoteX, #X2020, #TeamX for;
- sarcasm markers ("/s", "yeah right", 🙄) turn praise into mockery; rhetorical questions damp it;
- the target's configured ``stance.favor`` / ``stance.against`` cue regexes.

Trained per-target models, where present, take precedence (see ``monitor.analysis.stance_model``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from monitor.analysis.lexicon import (
    DOUBT_VERBS,
    HARM_VERBS,
    HASHTAG_AGAINST_PREFIX,
    HASHTAG_AGAINST_SUFFIX,
    HASHTAG_FAVOR_PREFIX,
    HASHTAG_FAVOR_SUFFIX,
    PERSON_PRONOUNS,
    REPORTING_VERBS,
    SARCASM_MARKERS,
    SECOND_PERSON,
    STANCE_LEXICON,
    TITLES,
)
from monitor.analysis.matching import split_hashtag
from monitor.analysis.sentiment import Scored, Thresholds, VaderEngine, prepare
from monitor.config import Target

RULES_NAME = "stance-rules"
RULES_VERSION = "2"

_HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w+)")
_CLAUSE_END = (".", "!", "?", ";", ":", "…", ")")
_CLAUSE_START = frozenset({"but", "however", "although", "though", "whereas", "while", "yet", "meanwhile",
                           "|", "-", "—", "–", "rt"})
_NEGATORS = frozenset({"not", "no", "never", "nothing", "nobody", "none", "cannot", "without", "nor", "neither"})
_TOPIC_SUFFIXES = ("ism", "ist", "ists", "ment", "tion", "sion", "ity", "ness", "ance", "ence", "ing")


@dataclass(slots=True)
class StanceResult:
    label: str  # favor | against | none
    score: float
    scorer: str
    version: str


@dataclass(slots=True)
class Params:
    """Weights of the rules (valence units, VADER's -4..+4 scale). Tuned on development data."""

    other_clause: float = 0.5  # words in clauses that do not name or refer to the target
    pronoun_clause: float = 0.8  # clauses that refer to a person target as he/she
    reported: float = 0.3  # words the target is reported as saying
    doubt: float = 1.0  # "X claims ..."
    harm_subject: float = -0.5  # valence factor for "X destroys ..." (negative: turns into praise)
    question: float = 0.5  # praise inside a question
    sarcasm: float = -0.6  # praise next to a sarcasm marker
    hashtag: float = 2.5  # one stance hashtag
    cue: float = 2.0  # one configured cue regex
    alpha: float = 15.0  # VADER's normalisation constant
    implicit: float = 1.0  # posts that never name the target (it is implied): weight of everything
    other_entity: float = 0.2  # clauses about someone else (another name or @handle), not the target
    title: float = 1.0  # "President X", "Senator X": a respectful title
    asks: float = -0.5  # a question about the target (rhetorical questions are mostly critical)


@dataclass(slots=True)
class _TargetWords:
    single: frozenset[str]  # one-word names, lowercase ("trump", "realdonaldtrump")
    multi: tuple[tuple[str, ...], ...]  # several-word names ("elon", "musk")
    stems: tuple[str, ...]  # word beginnings for topic names ("feminis" for feminist/feminism)
    squashed: frozenset[str]  # names written as one hashtag ("elonmusk")
    person: bool


def _target_words(target: Target) -> _TargetWords:
    names = [*target.aliases, *target.exact_aliases, *target.ambiguous_aliases, target.name]
    single: set[str] = set()
    multi: list[tuple[str, ...]] = []
    stems: list[str] = []
    squashed: set[str] = set()
    for name in names:
        words = tuple(w.lower() for w in re.findall(r"[\w'-]+", name))
        if not words:
            continue
        squashed.add("".join(words))
        if len(words) == 1:
            single.add(words[0])
        else:
            multi.append(words)
    for handle in target.handles:
        single.add(handle.lstrip("@").lower())
        squashed.add(handle.lstrip("@").lower())
    for tag in target.hashtags:
        squashed.add(tag.lstrip("#").lower())
        parts = tuple(p.lower() for p in split_hashtag(tag.lstrip("#")).split())
        if len(parts) == 1:
            single.add(parts[0])
    person = target.kind == "person"
    if not person:  # topics are written in many forms: feminist, feminism, feminists
        for word in single:
            if len(word) >= 7 and word.isalpha():
                stems.append(word[:max(6, len(word) - 3)])
    return _TargetWords(frozenset(single), tuple(multi), tuple(stems), frozenset(squashed), person)


def _strip_possessive(word: str) -> str:
    if word.endswith(("'s", "’s")):
        return word[:-2]
    return word


class RuleStance:
    name = RULES_NAME
    version = RULES_VERSION

    def __init__(self, targets: list[Target], thresholds: Thresholds, cue_weight: float | None = None,
                 params: Params | None = None):
        self.thresholds = thresholds
        self.params = params or Params()
        if cue_weight is not None:
            self.params.cue = cue_weight
        self._cues: dict[str, tuple[list[re.Pattern[str]], list[re.Pattern[str]]]] = {
            t.id: ([re.compile(p, re.IGNORECASE) for p in t.stance.favor],
                   [re.compile(p, re.IGNORECASE) for p in t.stance.against])
            for t in targets
        }
        self._words = {t.id: _target_words(t) for t in targets}
        self._engine: VaderEngine | None = None

    def add_target(self, target: Target) -> None:
        self._cues[target.id] = ([re.compile(p, re.IGNORECASE) for p in target.stance.favor],
                                 [re.compile(p, re.IGNORECASE) for p in target.stance.against])
        self._words[target.id] = _target_words(target)

    def score(self, target_id: str, text: str, directed_sentiment: float | None = None,
              scored: Scored | None = None) -> StanceResult:
        """Stance of ``text`` toward the target. ``scored`` is the VADER pass over ``prepare(text)``
        (computed here when not given); ``directed_sentiment`` is unused, kept for callers."""
        if scored is None:
            if self._engine is None:
                self._engine = VaderEngine()
            scored = self._engine.score(prepare(text))
        p = self.params
        words = self._words.get(target_id)
        total = self._directed(words, scored) if words else float(sum(scored.valences))
        lowered = text.lower()
        if total > 0:
            if any(m in lowered for m in SARCASM_MARKERS):
                total *= p.sarcasm
        if words and "#" in text:
            total += p.hashtag * _hashtag_cues(text, words)
        favor, against = self._cues.get(target_id, ([], []))
        if favor or against:
            cue = sum(1 for c in favor if c.search(text)) - sum(1 for c in against if c.search(text))
            total += p.cue * cue
        value = total / math.sqrt(total * total + p.alpha) if total else 0.0
        if value >= self.thresholds.positive:
            label = "favor"
        elif value <= self.thresholds.negative:
            label = "against"
        else:
            label = "none"
        return StanceResult(label, round(value, 4), self.name, self.version)

    def _directed(self, target: _TargetWords, scored: Scored) -> float:
        p = self.params
        words = scored.words
        raw = scored.raw
        n = len(words)
        if n == 0:
            return 0.0
        lower = [_strip_possessive(w.lower()) for w in words]
        mention = [False] * n
        for i, w in enumerate(lower):
            if w in target.single or w in target.squashed or (target.stems and w.startswith(target.stems)):
                mention[i] = True
        for seq in target.multi:
            k = len(seq)
            for i in range(n - k + 1):
                if lower[i] == seq[0] and tuple(lower[i:i + k]) == seq:
                    for j in range(i, i + k):
                        mention[j] = True
        # clauses: cut after . ! ? ; : and before but / however / ...
        clause = [0] * n
        current = 0
        for i in range(n):
            if i and (lower[i] in _CLAUSE_START or raw[i - 1].endswith(_CLAUSE_END)):
                current += 1
            clause[i] = current
        named = {clause[i] for i in range(n) if mention[i]}
        if not named:
            # the target is implicit (the post is about it without naming it): all of it counts
            total = sum(_stance_valences(lower, scored.valences)) * p.implicit
            if raw[-1].endswith("?") or "?" in raw[-1]:
                total += p.asks
            return total
        others: set[int] = set()
        if p.other_entity != p.other_clause:
            others = {clause[i] for i in range(1, n) if not mention[i] and _entity_like(words[i], raw[i], raw[i - 1])}
            others -= named
        referred: set[int] = set()
        if target.person:
            referred = {clause[i] for i in range(n) if lower[i] in PERSON_PRONOUNS} - named
        addressed: set[int] = set()
        if mention[0] or (n > 1 and mention[1] and words[0].startswith("@")):
            addressed = {clause[i] for i in range(n) if lower[i] in SECOND_PERSON} - named
        weights = [1.0 if clause[i] in named or clause[i] in addressed
                   else p.pronoun_clause if clause[i] in referred
                   else p.other_entity if clause[i] in others else p.other_clause for i in range(n)]
        valences = _stance_valences(lower, scored.valences)
        extra = 0.0
        for i in range(n):
            if not mention[i]:
                continue
            # reported speech: "X says ..." / doubt: "X claims ..."
            for j in (i + 1, i + 2):
                if j < n and clause[j] == clause[i] and not mention[j]:
                    if lower[j] in DOUBT_VERBS:
                        extra -= p.doubt
                        _scale_clause_after(weights, clause, j, p.reported)
                        break
                    if lower[j] in REPORTING_VERBS:
                        _scale_clause_after(weights, clause, j, p.reported)
                        break
            # X as the subject of a verb of defeating: praise of X, not an attack on it
            for j in range(i + 1, min(n, i + 4)):
                if clause[j] != clause[i] or mention[j]:
                    break
                if lower[j] in HARM_VERBS and valences[j] < 0:
                    valences[j] *= p.harm_subject
                    break
        if any(raw[i].endswith("?") and clause[i] in named for i in range(n)):
            extra += p.asks
        if p.title and any(mention[i] and i and not mention[i - 1] and lower[i - 1] in TITLES for i in range(n)):
            extra += p.title
        total = extra
        for i in range(n):
            v = valences[i]
            if v:
                if v > 0 and raw[-1].endswith("?") and clause[i] == clause[-1]:
                    v *= p.question
                total += v * weights[i]
        return total


def _entity_like(word: str, raw: str, previous: str) -> bool:
    """A name of someone or something: an @handle, or a capitalised word inside a sentence."""
    if raw.startswith("@"):
        return True
    if not word[:1].isupper() or previous.endswith(_CLAUSE_END) or word in ("I", "I'm", "I'll", "I've", "I'd"):
        return False
    return not word.isupper() or len(word) <= 4


def _scale_clause_after(weights: list[float], clause: list[int], start: int, factor: float) -> None:
    for k in range(start + 1, len(weights)):
        if clause[k] != clause[start]:
            break
        weights[k] *= factor


def _stance_valences(lower: list[str], valences: list[float]) -> list[float]:
    """VADER's valences with the stance lexicon's words re-read (a simple negation check for them)."""
    out = list(valences)
    for i, w in enumerate(lower):
        value = STANCE_LEXICON.get(w)
        if value is None:
            continue
        if any(lower[j] in _NEGATORS or "n't" in lower[j] for j in range(max(0, i - 3), i)):
            value *= -0.74
        out[i] = value
    return out


def _hashtag_cues(text: str, target: _TargetWords) -> int:
    """+1 per hashtag supporting the target (#VoteX, #X2020), -1 per opposing one (#NeverX)."""
    total = 0
    for m in _HASHTAG_RE.finditer(text):
        tag = m.group(1)
        lowered = tag.lower()
        parts = [p.lower() for p in split_hashtag(tag).split()]
        where = -1
        for k, part in enumerate(parts):
            if part in target.single or part in target.squashed:
                where = k
                break
        if where < 0:
            for name in target.squashed:
                if name in lowered and lowered != name:
                    idx = lowered.index(name)
                    before, after = lowered[:idx], lowered[idx + len(name):]
                    parts = [before] if before else []
                    where = len(parts)
                    parts += [name] + ([after] if after else [])
                    break
        if where < 0 or len(parts) == 1:
            continue
        before, after = parts[:where], parts[where + 1:]
        if any(b in HASHTAG_AGAINST_PREFIX for b in before):
            total -= 1
        elif any(b in HASHTAG_FAVOR_PREFIX for b in before):
            total += 1
        elif after and (after[0].isdigit() or after[0] in HASHTAG_FAVOR_SUFFIX):
            total += 1
        elif after and after[0] in HASHTAG_AGAINST_SUFFIX:
            total -= 1
    return max(-2, min(2, total))

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
    LAUGHING_EMOJI,
    LAUGHTER_STANCE,
    LAUGHTER_WORDS,
    PERSON_PRONOUNS,
    REMOVAL_VERBS,
    REPORTING_VERBS,
    SARCASM_MARKERS,
    SECOND_PERSON,
    STANCE_LEXICON,
    TITLES,
)
from monitor.analysis.matching import HASHTAG_RE, split_hashtag
from monitor.analysis.sentiment import Scored, Thresholds, VaderEngine, emoji_token, prepare
from monitor.config import Target
from monitor.models import STANCE_RULES_SCORER

RULES_NAME = STANCE_RULES_SCORER
RULES_VERSION = "3"

_HASHTAG_RE = HASHTAG_RE
_CLAUSE_END = ".!?;:…)"  # a token ending in one of these ends its clause
_CLAUSE_START = frozenset({"but", "however", "although", "though", "whereas", "while", "yet", "meanwhile",
                           "|", "-", "—", "–", "rt"})
_NEGATORS = frozenset({"not", "no", "never", "nothing", "nobody", "none", "cannot", "without", "nor", "neither"})
_STANCE_WORDS = {**STANCE_LEXICON, **{w: LAUGHTER_STANCE for w in LAUGHTER_WORDS},
                 **{emoji_token(e): LAUGHTER_STANCE for e in LAUGHING_EMOJI}}


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
    pronoun_clause: float = 0.3  # clauses that refer to a person target only as he/she
    implicit: float = 1.5  # posts that never name the target (it is implied): weight of everything
    implicit_topic: float = 0.5  # the same for a topic: the mood of a post about a debate is not its side
    reported: float = 0.6  # words the target is reported as saying ("X says ...")
    doubt: float = 1.0  # "X claims ...": the author does not believe X
    harm_subject: float = 0.0  # valence factor for "X destroys ...": X attacks, it is not attacked
    harm_object: float = 1.5  # "defeat X", "impeach X": the target is the one attacked
    asks: float = -1.5  # a question about the target (rhetorical questions are mostly critical)
    sarcasm: float = -0.6  # factor for praise next to a sarcasm marker (negative: turns into mockery)
    title: float = 2.0  # "President X", "Senator X": a respectful title
    hashtag: float = 4.0  # one stance hashtag (#NeverX, #X2020)
    cue: float = 4.0  # one configured cue regex (what the user says marks a side weighs as much as a stance hashtag)
    alpha: float = 5.0  # normalisation of the total into [-1, 1] (VADER uses 15; stance sums are smaller)


@dataclass(slots=True)
class _TargetWords:
    single: frozenset[str]  # one-word names, lowercase ("trump", "realdonaldtrump")
    multi: tuple[tuple[str, ...], ...]  # several-word names ("elon", "musk")
    stems: tuple[str, ...]  # word beginnings for topic names ("feminis" for feminist/feminism)
    squashed: frozenset[str]  # names written as one hashtag ("elonmusk")
    person: bool
    topic: bool
    starts: dict[str, tuple[tuple[str, ...], ...]]  # first word -> several-word names starting with it
    names: frozenset[str]  # one-word names as they appear among the words, possessives too ("trump's")
    tag_names: tuple[str, ...]  # what a hashtag about the target contains ("trump", "donaldtrump")


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
    starts: dict[str, tuple[tuple[str, ...], ...]] = {}
    for seq in multi:
        starts[seq[0]] = (*starts.get(seq[0], ()), seq)
    names = {*single, *squashed}
    names |= {f"{w}'s" for w in names}
    tag_names = tuple(sorted({*single, *squashed, *stems}))
    return _TargetWords(frozenset(single), tuple(multi), tuple(stems), frozenset(squashed), person,
                        target.kind == "topic", starts, frozenset(names), tag_names)


def _mentions(target: _TargetWords, lower: list[str], present: set[str]) -> list[bool] | None:
    """Which words name the target (None when none does)."""
    names = target.names & present
    mention = [w in names for w in lower] if names else [False] * len(lower)
    found = bool(names)
    if target.stems:
        for i, w in enumerate(lower):
            if w.startswith(target.stems):
                mention[i] = found = True
    for first in target.starts.keys() & present:
        at = [i for i, w in enumerate(lower) if w == first]
        for seq in target.starts[first]:
            k = len(seq)
            for i in at:
                if tuple(x[:-2] if x.endswith("'s") else x for x in lower[i:i + k]) == seq:
                    mention[i:i + k] = [True] * k
                    found = True
    return mention if found else None


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
        self._tag_cues: dict[tuple[str, str], int] = {}  # (target, hashtag) -> its cue: the same tags recur

    def _hashtag_cues(self, target_id: str, target: _TargetWords, text: str) -> int:
        """Sum of the cues of the post's hashtags (see ``_hashtag_cue``), at most 2 either way."""
        cache = self._tag_cues
        if len(cache) > 200_000:  # bounded, for a daemon that runs for months
            cache.clear()
        total = 0
        for tag in _HASHTAG_RE.findall(text):
            cue = cache.get((target_id, tag))
            if cue is None:
                cue = cache[(target_id, tag)] = _hashtag_cue(tag, target)
            total += cue
        return max(-2, min(2, total))

    def add_target(self, target: Target) -> None:
        self._cues[target.id] = ([re.compile(p, re.IGNORECASE) for p in target.stance.favor],
                                 [re.compile(p, re.IGNORECASE) for p in target.stance.against])
        self._words[target.id] = _target_words(target)

    def cues(self, target_id: str) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
        """The target's configured ``stance.favor`` and ``stance.against`` regexes, compiled."""
        return self._cues.get(target_id, ([], []))

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
            total += p.hashtag * self._hashtag_cues(target_id, words, text)
        favor, against = self.cues(target_id)
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
        """Sum of valences, each weighted by how clearly it is said about the target."""
        p = self.params
        words, lower, raw = scored.words, scored.lower, scored.raw
        n = len(words)
        if n == 0:
            return 0.0
        present = set(lower)
        valences = _aimed_valences(scored.valences, lower, present)
        mention = _mentions(target, lower, present)
        if mention is None:
            # the target is implicit (the post is about it without naming it): all of it counts
            total = sum(valences) * (p.implicit_topic if target.topic else p.implicit)
            if raw[-1].endswith("?"):
                total += p.asks
            return total
        # clauses: cut after . ! ? ; : and before but / however / ...
        ends = [i for i, r in enumerate(raw) if r[-1] in _CLAUSE_END]
        clause = _clause_numbers(n, ends, [] if _CLAUSE_START.isdisjoint(present) else
                                 [i for i, w in enumerate(lower) if w in _CLAUSE_START])
        mentioned = [i for i, m in enumerate(mention) if m]
        named = {clause[i] for i in mentioned}
        weights = _clause_weights(p, target, words, lower, present, clause, mention, named)
        # after the clause weights: what is said around each mention re-weighs them and some valences
        extra = _around_mentions(p, lower, clause, mention, mentioned, valences, weights)
        if any(raw[i][-1] == "?" and clause[i] in named for i in ends):
            extra += p.asks
        return extra + sum([v * w for v, w in zip(valences, weights, strict=True) if v])


def _aimed_valences(valences: list[float], lower: list[str], present: set[str]) -> list[float]:
    """A copy of VADER's valences with the stance words re-read: they mean more when aimed at someone."""
    valences = list(valences)
    for w in _STANCE_WORDS.keys() & present:
        value = _STANCE_WORDS[w]
        for i in [i for i, x in enumerate(lower) if x == w]:
            valences[i] = _stance_valence(lower, i, value)
    return valences


def _clause_weights(p: Params, target: _TargetWords, words: list[str], lower: list[str], present: set[str],
                    clause: list[int], mention: list[bool], named: set[int]) -> list[float]:
    """Per word, how much its clause is about the target: fully where the clause names it or speaks
    to it (a post addressed to the target's handle, "you"), less where it refers to a person only
    as he/she, least where it does neither."""
    n = len(words)
    current = clause[-1]
    weights = [1.0] * n if current == 0 else [1.0 if c in named else p.other_clause for c in clause]
    if len(named) > current:  # every clause names the target
        return weights
    addressed: set[int] = set()
    if mention[0] or (n > 1 and mention[1] and words[0].startswith("@")):  # the post speaks to it
        addressed = {clause[i] for i in range(n) if lower[i] in SECOND_PERSON}
    referred = ({clause[i] for i in range(n) if lower[i] in PERSON_PRONOUNS}
                if target.person and not PERSON_PRONOUNS.isdisjoint(present) else set())
    if addressed or referred:
        for i, c in enumerate(clause):
            if c not in named:
                if c in addressed:
                    weights[i] = 1.0
                elif c in referred:
                    weights[i] = p.pronoun_clause
    return weights


def _around_mentions(p: Params, lower: list[str], clause: list[int], mention: list[bool], mentioned: list[int],
                     valences: list[float], weights: list[float]) -> float:
    """What the words next to each mention say about the target, as extra valence. Reported speech
    and doubt scale down ``weights`` after the verb; a verb of defeating with the target as its
    subject scales its entry of ``valences`` (both changed in place)."""
    n = len(lower)
    extra = 0.0
    for i in mentioned:
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
        # X as the object of a verb of defeating or removing: an attack on X
        for j in range(i - 1, max(-1, i - 4), -1):
            if clause[j] != clause[i] or mention[j]:
                break
            if lower[j] in HARM_VERBS or lower[j] in REMOVAL_VERBS:
                extra -= p.harm_object
                break
        # X as the subject of a verb of defeating: X attacks, it is not attacked
        for j in range(i + 1, min(n, i + 4)):
            if clause[j] != clause[i] or mention[j]:
                break
            if lower[j] in HARM_VERBS and valences[j] < 0:
                valences[j] *= p.harm_subject
                break
        if i and not mention[i - 1] and lower[i - 1] in TITLES:
            extra += p.title
    return extra


def _clause_numbers(n: int, ends: list[int], starts: list[int]) -> list[int]:
    """Clause number of each of ``n`` words: a new clause begins after a word that ends one
    (``ends``) and at a clause-starting word (``starts``: "but", "however", ...)."""
    cuts = sorted({i + 1 for i in ends if i + 1 < n}.union(i for i in starts if i))
    if not cuts:
        return [0] * n
    clause: list[int] = []
    previous = 0
    for number, cut in enumerate(cuts):
        clause += [number] * (cut - previous)
        previous = cut
    clause += [len(cuts)] * (n - previous)
    return clause


def _scale_clause_after(weights: list[float], clause: list[int], start: int, factor: float) -> None:
    for k in range(start + 1, len(weights)):
        if clause[k] != clause[start]:
            break
        weights[k] *= factor


def _stance_valence(lower: list[str], i: int, value: float) -> float:
    """A stance-lexicon word's valence, negated like VADER does when one of the 3 words before negates."""
    if any(lower[j] in _NEGATORS or "n't" in lower[j] for j in range(max(0, i - 3), i)):
        return value * -0.74
    return value


def _hashtag_cue(tag: str, target: _TargetWords) -> int:
    """+1 for a hashtag supporting the target (#VoteX, #X2020), -1 for an opposing one (#NeverX), else 0."""
    lowered = tag.lower()
    if not any(name in lowered for name in target.tag_names):
        return 0  # most hashtags do not name the target
    parts = [p.lower() for p in split_hashtag(tag).split()]
    where = -1
    for k, part in enumerate(parts):
        if part in target.single or part in target.squashed:
            where = k
            break
    if where < 0:
        # Longest name first, and in a fixed order: iterating the set itself would depend on
        # the process's hash seed ("nojoebiden": "joebiden" must win over "biden").
        for name in sorted(target.squashed, key=lambda s: (-len(s), s)):
            if name in lowered and lowered != name:
                idx = lowered.index(name)
                before, after = lowered[:idx], lowered[idx + len(name):]
                parts = [before] if before else []
                where = len(parts)
                parts += [name] + ([after] if after else [])
                break
    if where < 0 or len(parts) == 1:
        return 0
    before, after = parts[:where], parts[where + 1:]
    if any(b in HASHTAG_AGAINST_PREFIX for b in before):
        return -1
    if any(b in HASHTAG_FAVOR_PREFIX for b in before):
        return 1
    if after and (after[0].isdigit() or after[0] in HASHTAG_FAVOR_SUFFIX):
        return 1
    if after and after[0] in HASHTAG_AGAINST_SUFFIX:
        return -1
    return 0


# The compiled build of this module (setup.py), when installed and current, replaces the code above.
from monitor.analysis.compiled import swap_in_compiled  # noqa: E402 - must run after the definitions

IMPLEMENTATION = swap_in_compiled(globals())

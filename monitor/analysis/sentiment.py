"""Sentiment with VADER on the text as written.

No lowercasing and no stripping of punctuation or emoji: VADER uses capitals, "!!!" and emoji
as intensity cues. Camel-case hashtags are split so their words count (#StargateIsAScam).
Long texts are scored per sentence and averaged; the whole-document compound is kept too.

``VaderEngine`` is VADER's own algorithm (vaderSentiment 3.3.2), re-implemented so that one pass
returns the per-word valences as well as the compound: stance scoring reads them to find what is
said about each target without a second pass. It computes the lowercase word list once instead
of once per sentiment word, which makes it faster than the stock ``polarity_scores``. With no
additions (``VaderEngine(extras=False)``) it gives the stock compound exactly (tests check this).
Our additions: a few domain and social-media words (``lexicon.SENTIMENT_LEXICON``), emoji
that VADER's emoji names misread, typographic apostrophes read as ASCII ones (so "don’t" negates).
"""

from __future__ import annotations

import heapq
import math
import re
import string
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

from monitor.analysis.lexicon import EMOJI_VALENCE, LAUGHING_EMOJI, SENTIMENT_LEXICON
from monitor.analysis.matching import HASHTAG_RE, split_hashtag

SCORER_NAME = "vader"
SCORER_VERSION = f"{version('vaderSentiment')}+dm3"  # dm: our domain lexicon's version (lexicon.py)

_HASHTAG_RE = HASHTAG_RE
_URL_RE = re.compile(r"https?://\S+")
_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATE = frozenset(NEGATE)
# Every word of VADER's multi-word idioms and boosters: where none is near, no idiom can match.
_IDIOM_WORDS = frozenset(w for key in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in key for w in key.split())
# Words that change the valence of a word up to three places after them (boosters, negations, and
# VADER's "never so", "without doubt" and "so"/"this" rules): where none is near, the window is skipped.
_MODIFIERS = frozenset(BOOSTER_DICT) | _NEGATE | {"so", "this", "never", "without"}


def prepare(text: str) -> str:
    """Text as VADER should see it: hashtags split into words, URLs dropped (their words mislead),
    typographic apostrophes made ASCII (VADER's negations and contractions are spelled with ')."""
    if "#" in text:
        text = _HASHTAG_RE.sub(lambda m: split_hashtag(m.group(1)), text)
    if "http" in text:
        text = _URL_RE.sub("", text)
    if "’" in text:
        text = text.replace("’", "'")
    return text


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SPLIT_RE.finditer(text):
        if text[start:m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


@dataclass(slots=True)
class Thresholds:
    positive: float = 0.05
    negative: float = -0.05

    def label(self, compound: float) -> str:
        if compound >= self.positive:
            return "positive"
        if compound <= self.negative:
            return "negative"
        return "neutral"


@dataclass(slots=True)
class Scored:
    """One VADER pass: the compound and what it was computed from."""

    compound: float
    words: list[str]  # VADER's tokens (edge punctuation stripped, emoji replaced by words)
    lower: list[str]  # the same, lowercased
    raw: list[str]  # the same tokens as written (punctuation kept), for clause boundaries
    valences: list[float]  # per token, after VADER's negation, booster, caps and 'but' rules
    emphasis: float  # VADER's '!' and '?' amplifier for the whole text


def emoji_token(emoji: str) -> str:
    """The word an emoji with a valence of our own is replaced by (🔥 -> 'emoji1f525')."""
    return f"emoji{ord(emoji[0]):x}"


def _words_and_emoticons(raw: list[str]) -> list[str]:
    """SentiText's tokens, without a function call per word: punctuation is stripped from a token
    unless that leaves two characters or fewer (then it was an emoticon like ':)')."""
    punctuation = string.punctuation
    return [w if len(s := w.strip(punctuation)) <= 2 else s for w in raw]


def _tokens(text: str) -> tuple[list[str], list[str], list[str]]:
    """VADER's tokens of a text: as written (split at whitespace), its words (``_words_and_emoticons``),
    and those lowercased. The compiled build uses ``_text_scan.tokens`` (C, one pass, same result)."""
    raw = text.split()
    words = _words_and_emoticons(raw)
    return raw, words, [w.lower() for w in words]


def but_check(lower: list[str], valences: list[float]) -> list[float]:
    """VADER's ``_but_check``, the same result in O(n log n). Stock VADER finds each valence's position
    with ``list.index`` (the first equal value, so of equal valences the first is scaled again and
    again: kept, it is what VADER scores), which made a long text quadratic: a 2 MB post took 146 s.
    Here a heap per value holds the positions that hold it; a position whose value changed is
    dropped when it comes up."""
    bi = lower.index("but")
    valences = list(valences)
    holding: dict[float, list[int]] = {}
    for pos, value in enumerate(valences):
        holding.setdefault(value, []).append(pos)  # in order: already a heap
    for k in range(len(valences)):
        value = valences[k]  # as stock VADER's loop reads it, after the changes so far
        heap = holding[value]
        while valences[heap[0]] != value:  # changed since it was pushed
            heapq.heappop(heap)
        first = heap[0]
        if first == bi:
            continue
        scaled = value * 0.5 if first < bi else value * 1.5
        valences[first] = scaled
        heapq.heappush(holding.setdefault(scaled, []), first)
    return valences


def _is_cap_diff(words: list[str]) -> bool:
    """VADER's allcap_differential: some but not all words are ALL CAPS."""
    caps = sum(map(str.isupper, words))
    return 0 < len(words) - caps < len(words)


def _negated(word: str) -> bool:
    return word in _NEGATE or "n't" in word


class VaderEngine(SentimentIntensityAnalyzer):
    """VADER, one pass, returning per-word valences (see the module docstring)."""

    def __init__(self, extras: bool = True) -> None:
        # Not SentimentIntensityAnalyzer.__init__: it reads and parses its lexicon files (~20 ms)
        # for every analyzer; those dicts are made once a process (_vader_dicts) and copied here.
        lexicon, emojis = _vader_dicts(extras)
        self.lexicon, self.emojis = dict(lexicon), dict(emojis)

    def _emoji_to_words(self, text: str) -> str:
        if text.isascii():
            return text.strip()
        out: list[str] = []
        prev_space = True
        emojis = self.emojis
        for ch in text:
            description = emojis.get(ch)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out).strip()

    def score(self, text: str) -> Scored:
        text = self._emoji_to_words(text)
        raw, words, lower = _tokens(text)
        valences = self._valences(words, lower, _is_cap_diff(words), "n't" in text.lower())
        if "but" in lower:
            valences = but_check(lower, valences)
        emphasis = self._punctuation_emphasis(text)
        compound = 0.0
        if valences:
            total = float(sum(valences))
            if total > 0:
                total += emphasis
            elif total < 0:
                total -= emphasis
            compound = _normalize(total)
        return Scored(round(compound, 4), words, lower, raw, valences, emphasis)

    def polarity_compound(self, text: str) -> float:
        return self.score(text).compound

    def _valences(self, words: list[str], lower: list[str], is_cap_diff: bool, has_nt: bool = True) -> list[float]:
        return _word_valences(self.lexicon, words, lower, is_cap_diff, has_nt)


def _word_valences(lexicon: dict[str, float], words: list[str], lower: list[str], is_cap_diff: bool,
                   has_nt: bool) -> list[float]:
    """VADER's per-word valences (sentiment_valence over every word), reading the lowercase words
    computed once per text. A module function, not a method: the compiled build types it."""
    n = len(words)
    out = [0.0] * n
    # Only lexicon words get a valence: visit those (about one word in ten) and leave the rest 0.
    for i in [i for i, low in enumerate(lower) if low in lexicon]:
        low = lower[i]
        if low in BOOSTER_DICT or (low == "kind" and i < n - 1 and lower[i + 1] == "of"):
            continue
        out[i] = _word_valence(lexicon, words, lower, i, n, is_cap_diff, has_nt)
    return out


def _word_valence(lexicon: dict[str, float], words: list[str], lower: list[str], i: int, n: int,
                  is_cap_diff: bool, has_nt: bool) -> float:
    """The valence of lexicon word ``i`` after VADER's rules (no, caps, boosters, negation, idioms, least)."""
    low = lower[i]
    base = lexicon[low]
    valence = base
    if low == "no" and i != n - 1 and lower[i + 1] in lexicon:
        valence = 0.0
    if (i > 0 and lower[i - 1] == "no") or (i > 1 and lower[i - 2] == "no") or (
            i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor")):
        valence = base * N_SCALAR
    if is_cap_diff and words[i].isupper():
        valence = valence + C_INCR if valence > 0 else valence - C_INCR
    if has_nt or not _MODIFIERS.isdisjoint(lower[max(0, i - 3):i]):
        for start_i in range(3):
            j = i - (start_i + 1)
            if j >= 0 and lower[j] not in lexicon:
                s = _booster(words[j], lower[j], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lower, start_i, i)
                if start_i == 2 and not _IDIOM_WORDS.isdisjoint(lower[i - 3:i + 3]):
                    valence = _special_idioms_check(valence, lower, i)
    elif i > 2 and lower[i - 3] not in lexicon and not _IDIOM_WORDS.isdisjoint(lower[i - 3:i + 3]):
        valence = _special_idioms_check(valence, lower, i)  # the only rule left that can apply
    if i > 0 and lower[i - 1] == "least":
        valence = _least_check(valence, lower, i, lexicon)
    return valence


def _booster(word: str, low: str, valence: float, is_cap_diff: bool) -> float:
    """VADER's scalar_inc_dec, reading the lowercase word computed once per text."""
    scalar = BOOSTER_DICT.get(low)
    if scalar is None:
        return 0.0
    if valence < 0:
        scalar = -scalar
    if is_cap_diff and word.isupper():
        scalar = scalar + C_INCR if valence > 0 else scalar - C_INCR
    return scalar


def _normalize(score: float, alpha: float = 15) -> float:
    value = score / math.sqrt(score * score + alpha)
    return max(-1.0, min(1.0, value))


def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:
    # VADER's own rule, reading the lowercase list computed once per text.
    if start_i == 0:
        if _negated(lower[i - 1]):
            valence = valence * N_SCALAR
    elif start_i == 1:
        if lower[i - 2] == "never" and lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    else:
        if (lower[i - 3] == "never" and lower[i - 2] in ("so", "this")) or lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence: float, lower: list[str], i: int, lexicon: dict[str, float]) -> float:
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence


@cache
def _vader_dicts(extras: bool) -> tuple[dict[str, float], dict[str, str]]:
    """VADER's lexicon and emoji descriptions, with our additions if ``extras``: made once a process
    and never changed after (each VaderEngine takes copies)."""
    stock = SentimentIntensityAnalyzer()
    lexicon, emojis = stock.lexicon, stock.emojis
    if extras:
        lexicon.update(SENTIMENT_LEXICON)
        for emoji, valence in EMOJI_VALENCE.items():
            token = emoji_token(emoji)  # one word, so VADER's rules treat it like any other word
            emojis[emoji] = token
            lexicon[token] = valence
        for emoji in LAUGHING_EMOJI:
            # Same sentiment as VADER's reading of the emoji's name ("face with tears of joy"), but
            # as one word of our own, so stance scoring can tell laughter from joy.
            described = emojis.get(emoji, "")
            token = emoji_token(emoji)
            valences = _word_valences(lexicon, described.split(), described.lower().split(), False, True)
            lexicon[token] = round(sum(valences), 3)
            emojis[emoji] = token
    return lexicon, emojis


class SentimentScorer:
    name = SCORER_NAME
    version = SCORER_VERSION

    def __init__(self) -> None:
        self.engine = VaderEngine()

    def score(self, text: str) -> Scored:
        """One pass over an already prepared text: compound plus per-word valences."""
        return self.engine.score(text)

    def compound(self, text: str) -> float:
        """Compound score of an already prepared text."""
        return self.engine.score(text).compound

    def score_text(self, text: str) -> float:
        return self.compound(prepare(text))


# The compiled build of this module (setup.py), when installed and current, replaces the code above.
from monitor.analysis.compiled import swap_in_compiled  # noqa: E402 - must run after the definitions

IMPLEMENTATION = swap_in_compiled(globals())
if IMPLEMENTATION == "compiled":  # here and in the compiled module itself: its tokenizer written in C
    try:
        from monitor.analysis._text_scan import is_cap_diff as _is_cap_diff
        from monitor.analysis._text_scan import tokens as _tokens
    except ImportError:  # not built: the code above
        pass

"""VADER with the same scores, faster.

Profiling stock vaderSentiment 3.3.2 on tweets shows about half the time going to work that
does not change the result: a per-character emoji loop over text that has no emoji, and the
lowercased copy of the whole word list rebuilt for every lexicon word (three times each, in the
negation check, and again in the idiom check). This subclass skips the first for ASCII text (every
emoji key is non-ASCII) and builds the lowercased list once per text. Scores are identical; the
tests compare them with stock VADER.
"""

from __future__ import annotations

from typing import Any

from vaderSentiment import vaderSentiment as vader

_NEGATE = frozenset(vader.NEGATE)


def _is_negation(word_lower: str) -> bool:
    """vader.negated([word]) for one lowercased word."""
    return word_lower in _NEGATE or "n't" in word_lower


class FastSentimentIntensityAnalyzer(vader.SentimentIntensityAnalyzer):
    def __init__(self) -> None:
        super().__init__()
        self._words: list[str] | None = None
        self._lower: list[str] = []

    def _lowered(self, words: list[str]) -> list[str]:
        if words is not self._words:
            self._words = words
            self._lower = [w.lower() for w in words]
        return self._lower

    def polarity_scores(self, text: str) -> dict[str, float]:
        if text.isascii():
            text = text.strip()
        else:
            text = self._replace_emoji(text)
        sentitext = vader.SentiText(text)
        words = sentitext.words_and_emoticons
        lower = self._lowered(words)
        sentiments: list[float] = []
        last = len(words) - 1
        for i, item in enumerate(words):
            item_lower = lower[i]
            if item_lower in vader.BOOSTER_DICT or (i < last and item_lower == "kind" and lower[i + 1] == "of"):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    def _replace_emoji(self, text: str) -> str:
        """The stock loop: each emoji becomes its description, space-separated."""
        out: list[str] = []
        prev_space = True
        for ch in text:
            description = self.emojis.get(ch)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out).strip()

    def _negation_check(self, valence: float, words_and_emoticons: list[str], start_i: int, i: int) -> float:
        w = self._lowered(words_and_emoticons)
        if start_i == 0:
            if _is_negation(w[i - 1]):
                valence = valence * vader.N_SCALAR
        elif start_i == 1:
            if w[i - 2] == "never" and (w[i - 1] == "so" or w[i - 1] == "this"):
                valence = valence * 1.25
            elif w[i - 2] == "without" and w[i - 1] == "doubt":
                pass
            elif _is_negation(w[i - 2]):
                valence = valence * vader.N_SCALAR
        elif start_i == 2:
            never_so = w[i - 3] == "never" and (w[i - 2] == "so" or w[i - 2] == "this")
            if never_so or (w[i - 1] == "so" or w[i - 1] == "this"):
                valence = valence * 1.25
            elif w[i - 3] == "without" and (w[i - 2] == "doubt" or w[i - 1] == "doubt"):
                pass
            elif _is_negation(w[i - 3]):
                valence = valence * vader.N_SCALAR
        return valence

    def _special_idioms_check(self, valence: float, words_and_emoticons: list[str], i: int) -> float:
        w = self._lowered(words_and_emoticons)
        onezero = f"{w[i - 1]} {w[i]}"
        twoonezero = f"{w[i - 2]} {w[i - 1]} {w[i]}"
        twoone = f"{w[i - 2]} {w[i - 1]}"
        threetwoone = f"{w[i - 3]} {w[i - 2]} {w[i - 1]}"
        threetwo = f"{w[i - 3]} {w[i - 2]}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in vader.SPECIAL_CASES:
                valence = vader.SPECIAL_CASES[seq]
                break
        if len(w) - 1 > i:
            zeroone = f"{w[i]} {w[i + 1]}"
            if zeroone in vader.SPECIAL_CASES:
                valence = vader.SPECIAL_CASES[zeroone]
        if len(w) - 1 > i + 1:
            zeroonetwo = f"{w[i]} {w[i + 1]} {w[i + 2]}"
            if zeroonetwo in vader.SPECIAL_CASES:
                valence = vader.SPECIAL_CASES[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in vader.BOOSTER_DICT:
                valence = valence + vader.BOOSTER_DICT[n_gram]
        return valence

    def _but_check(self, words_and_emoticons: list[str], sentiments: list[Any]) -> list[Any]:
        w = self._lowered(words_and_emoticons)
        if "but" not in w:
            return sentiments
        return vader.SentimentIntensityAnalyzer._but_check(words_and_emoticons, sentiments)

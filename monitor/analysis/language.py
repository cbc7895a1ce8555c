"""Cheap language guess for posts whose platform gives none, and which languages each analyzer scores.

Only one question matters for scoring: can this analyzer score this text? Both analyzers are
English-only (VADER's lexicon, and a model fine-tuned on English posts), so a post in another
language must be stored unscored, never scored as if it were English. A full detector costs about
as much as VADER itself per post, so we count function words and a few letters that only some
languages use, which settle the common cases in microseconds. Texts that give no evidence (too
short, names only) are treated as English (an analyzer then finds little anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Whole words of letters only: "UN46ES7500" is a product code, not "un" and "es".
_WORD_RE = re.compile(r"\b[^\W\d_]+\b", re.UNICODE)

# Function words. Words that are also common in English ("die", "was", "also", "come", "son", "per",
# "on", "no", "me", "a") are left out of the other languages: an English post must not gather evidence
# for them. A word may belong to several languages ("de", "un"): it counts for each.
_FUNCTION_WORDS = {
    "en": "the and is are was were to of in that it for on with you this not be have has had they at but "
          "what we my so just do no me your all like get why how can will would should could from about an "
          "he she his her our their them there been if or by who than then because its don doesn isn didn",
    "de": "der das und ist nicht ich sie ein eine einen einem einer zu mit den auf für von dem es auch sich "
          "wir er sind wird werden haben bei nach noch nur wie aber oder wenn dass schon sehr mein kein "
          "keine ihn ihm uns euch diese dieser dieses doch mal hier jetzt immer gibt zum zur über",
    "fr": "le la les et est une un des que pas pour dans qui sur au aux avec ce cette il ils elle je vous "
          "nous du de mais ou où sont été être fait très tout tous comme leur sa ses mon mes aussi encore "
          "même peut était en",
    "es": "el la los las que es por una un con para del se lo como pero más muy esta este está hay "
          "todo también su sus yo mi fue ser ha han al y porque cuando donde sin sobre entre de en",
    "pt": "os que não uma um com para da em por se mais muito isso você são do dos das na é ao pelo pela "
          "também ele ela eles mas foi tem está esse essa até quando onde sem sobre de",
    "it": "il di che non un una sono con gli della del anche questo questa è nel nella alla dei delle lo "
          "la le ha hanno essere stato molto tutto perché quando dove sempre ancora ci si io lui lei noi "
          "voi loro",
    "nl": "de het een en van dat niet op te zijn met voor ook maar wel ik wij zij hij ze er naar om bij "
          "uit nog wat als dan hebben heeft wordt worden geen deze dit mijn onze zou moet",
}
# Letters that point to some languages: each one present counts as one more piece of evidence.
_LETTERS = {
    "de": "äöüß",
    "fr": "èêçœàùâîôë",
    "es": "ñ¿¡áíóú",
    "pt": "ãõçáêóà",
    "it": "àèìòù",
}
_LOOKUP: dict[str, list[str]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words.split():
        _LOOKUP.setdefault(_w, []).append(_lang)

# The languages each analyzer scores. VADER's lexicon is English; the learned model was fine-tuned on
# English posts. A post in any other language is stored unscored (and counted as such).
ANALYZER_LANGUAGES: dict[str, frozenset[str]] = {
    "vader": frozenset({"en"}),
    "learned": frozenset({"en"}),
}


def guess_language(text: str) -> str | None:
    """ISO 639-1 code, or None when the text gives no evidence."""
    letters, non_latin = _letter_counts(text)
    if letters == 0:
        return None
    if non_latin > letters * 0.3:
        return _script_language(text)
    evidence = _latin_evidence(text.lower())
    if not evidence:
        return None
    english = evidence.get("en", 0)
    best = max(evidence, key=lambda k: (evidence[k], k == "en"))
    # Another language needs two pieces of evidence and more than English has.
    if best != "en" and (evidence[best] < 2 or evidence[best] <= english):
        return "en" if english else None
    return best


def _letter_counts(text: str) -> tuple[int, int]:
    """(letters, letters beyond the Latin alphabets: above U+024F). The compiled build counts in C
    (``_text_scan.letter_counts``), five times faster than these loops."""
    letters = sum(1 for ch in text if ch.isalpha())
    non_latin = sum(1 for ch in text if ch.isalpha() and ord(ch) > 0x024F) if letters else 0
    return letters, non_latin


def _latin_evidence(lower: str) -> dict[str, int]:
    """Per language: distinct function words found, plus distinct telltale letters."""
    found: dict[str, set[str]] = {}
    for word in _WORD_RE.findall(lower):
        for lang in _LOOKUP.get(word, ()):
            found.setdefault(lang, set()).add(word)
    for lang, chars in _LETTERS.items():
        present = {ch for ch in chars if ch in lower}
        if present:
            found.setdefault(lang, set()).update(present)
    return {lang: len(items) for lang, items in found.items()}


def scored_languages(analyzer: str, configured: Iterable[str]) -> frozenset[str]:
    """The configured languages this analyzer can score: a post in any other is stored unscored."""
    return frozenset(configured) & ANALYZER_LANGUAGES.get(analyzer, frozenset({"en"}))


def unscorable_languages_message(analyzer: str, configured: Iterable[str]) -> str | None:
    """The warning (or config error) for ``analysis.languages`` the analyzer cannot score, else None."""
    wanted = list(dict.fromkeys(configured))
    known = ANALYZER_LANGUAGES.get(analyzer, frozenset({"en"}))
    extra = [code for code in wanted if code not in known]
    if not extra:
        return None
    return (f"analysis.languages: the '{analyzer}' analyzer scores only {', '.join(sorted(known))}; posts in "
            f"{', '.join(extra)} are stored unscored (counted as such in summaries), not scored as English")


def _script_language(text: str) -> str:
    for ch in text:
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF:
            return "ja"
        if 0xAC00 <= code <= 0xD7AF:
            return "ko"
    for ch in text:
        code = ord(ch)
        if 0x4E00 <= code <= 0x9FFF:
            return "zh"
        if 0x0400 <= code <= 0x04FF:
            return "ru"
        if 0x0600 <= code <= 0x06FF:
            return "ar"
        if 0x0590 <= code <= 0x05FF:
            return "he"
        if 0x0900 <= code <= 0x097F:
            return "hi"
        if 0x0E00 <= code <= 0x0E7F:
            return "th"
        if 0x0370 <= code <= 0x03FF:
            return "el"
    return "und"


# The compiled build (setup.py: Cython over this module, and C letter counts), when installed and current.
from monitor.analysis.compiled import swap_in_compiled  # noqa: E402 - must run after the definitions

IMPLEMENTATION = swap_in_compiled(globals())
if IMPLEMENTATION == "compiled":  # here and in the compiled module itself
    try:
        from monitor.analysis._text_scan import letter_counts as _letter_counts
    except ImportError:  # not built: the code above
        pass

"""Cheap language guess for posts whose platform gives none.

Only one question matters for scoring: is this text English? A full detector costs about as much
as VADER itself per post, so we use function-word counts, which settle the common cases in
microseconds. Texts too short to tell are treated as English (VADER then finds little anyway).
"""

from __future__ import annotations

import re

_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)

_STOPWORDS = {
    # Words that are also common in English ("die", "do", "no", "per") are left out of the others.
    "en": "the and is are was to of in that it for on with you this not be have they at but what we my "
          "so just do no me your i'm all like get why how can will",
    "de": "der das und ist nicht ich sie ein eine zu mit den auf für von dem es auch sich wir",
    "fr": "le la les et est une des que pas pour dans qui sur au avec ce il je vous nous du",
    "es": "el la los las que es por una con para del se lo como pero más muy esta",
    "pt": "os que não uma com para da em por se mais muito isso você são",
    "it": "il di che non un una sono con gli della del anche questo come ma più",
    "nl": "de het een en van dat niet op te zijn met voor ook maar wel",
}
_LOOKUP: dict[str, list[str]] = {}
for _lang, _words in _STOPWORDS.items():
    for _w in _words.split():
        _LOOKUP.setdefault(_w, []).append(_lang)


def guess_language(text: str) -> str | None:
    """ISO 639-1 code, or None when the text gives no evidence."""
    letters = sum(1 for ch in text if ch.isalpha())
    if letters == 0:
        return None
    non_latin = sum(1 for ch in text if ch.isalpha() and ord(ch) > 0x024F)
    if non_latin > letters * 0.3:
        return _script_language(text)
    counts: dict[str, set[str]] = {}
    for word in _WORD_RE.findall(text.lower()):
        for lang in _LOOKUP.get(word, ()):
            counts.setdefault(lang, set()).add(word)
    if not counts:
        return None
    english = len(counts.get("en", ()))
    best = max(counts, key=lambda k: (len(counts[k]), k == "en"))
    # Another language needs two distinct function words and more evidence than English has.
    if best != "en" and (len(counts[best]) < 2 or len(counts[best]) <= english):
        return "en" if english else None
    return best


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

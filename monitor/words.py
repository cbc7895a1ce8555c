"""The words of a post the summary counts (its top hashtags and terms), found in Python exactly as
the store's SQL finds them.

The store counts, for each mention, the distinct hashtags and terms of its post (store/rollups.py,
and the views ``v_mention_hashtags`` / ``v_mention_terms``) with DuckDB regular expressions over
``lower(text)``. An import finds the same words in its worker processes (``post_words``), where the
CPU is spread over the cores, and the writer only joins them to the mentions: the expressions cost
the writer's process ~30 us a post, a third of what it spends on a batch. The two must agree word
for word (tests/test_words.py checks them on every code point and on real posts).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from monitor.word_classes import LETTERS, NUMBERS, UNSURE, UNSURE_UNIDATA_VERSION

# DuckDB (RE2) expressions over lower(text): a hashtag has a letter (group 1: without the '#');
# terms are runs of 3+ letters once links, @handles and hashtags are blanked out.
HASHTAG_REGEX = r"#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)"
LINKS_AND_HANDLES_REGEX = r"(https?://|www\.)\S+|[@#][\p{L}\p{N}_]+"
TERM_REGEX = r"\p{L}{3,}"
# DuckDB's lower() maps each character on its own (simple case mapping); Python's str.lower() maps
# 'İ' to two characters and a word-final 'Σ' to 'ς'. Mapped first, they agree on every character.
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def _char_class(ranges: str) -> str:
    """A Python character class body for hex ranges as in word_classes ("0x41-0x5A 0xAA ...")."""
    parts = []
    for item in ranges.split():
        first, _, last = item.partition("-")
        low = re.escape(chr(int(first, 16)))
        parts.append(f"{low}-{re.escape(chr(int(last, 16)))}" if last else low)
    return "".join(parts)


Patterns = tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]


def _compile(letter: str, word_char: str) -> Patterns:
    """(hashtag, links and handles, term) for a letter class and a word-character class."""
    hashtag = re.compile(f"#({word_char}*{letter}{word_char}*)")
    # RE2's \S is any character but the five ASCII spaces (\v and Unicode spaces included).
    links_and_handles = re.compile(rf"(?:https?://|www\.)[^\t\n\f\r ]+|[@#]{word_char}+")
    term = re.compile(f"{letter}{{3,}}")
    return hashtag, links_and_handles, term


@cache
def _exact() -> Patterns:
    """DuckDB's classes spelled out: exact on every text, but a term search over them costs ~30 us
    a post (Python tests each character against hundreds of ranges)."""
    letter, number = _char_class(LETTERS), _char_class(NUMBERS)
    return _compile(f"[{letter}]", f"[{letter}{number}_]")


@cache
def _fast() -> tuple[Patterns, re.Pattern[str] | None]:
    """Python's own classes (~6 us a post), and what a text must not hold for them to be exact
    (None: this Python's Unicode tables are not those UNSURE was made for; use ``_exact``)."""
    unsure = re.compile(f"[{_char_class(UNSURE)}]") if unicodedata.unidata_version == UNSURE_UNIDATA_VERSION \
        else None
    return _compile(r"[^\W\d_]", r"\w"), unsure


def _patterns(text: str) -> Patterns:
    fast, unsure = _fast()
    if text.isascii() or (unsure is not None and unsure.search(text) is None):
        return fast
    return _exact()


def lower(text: str) -> str:
    """``text`` in lower case as DuckDB's ``lower()`` gives it."""
    if "\u0130" in text or "\u03a3" in text:
        text = text.translate(_SIMPLE_LOWER)
    return text.lower()


def post_words(text: str) -> tuple[list[str], list[str]]:
    """The distinct hashtags (lower-case, without '#') and terms (lower-case, 3+ letters, outside
    links, @handles and hashtags) of a post, in order of first use."""
    text = lower(text)
    hashtag, links_and_handles, term = _patterns(text)
    hashtags = list(dict.fromkeys(hashtag.findall(text)))
    terms = list(dict.fromkeys(term.findall(links_and_handles.sub(" ", text))))
    return hashtags, terms

"""Target matching: which configured targets a post mentions, and through which alias.

One case-insensitive regex over every alias finds candidates; each candidate is then checked
against its alias' case rule, the target's context words (for ambiguous aliases) and the
target's exclusions. Handles and hashtags are looked up in dictionaries.

Context words match whole words, case-insensitively, like aliases: "chip" finds "chip", "chips",
"chip's" and "#chip", never "chipotle" or "Chippendales"; "AI" never finds "said". A context word
may also be a run of a camel-case hashtag's parts (#OpenAIDevDay gives "OpenAI").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from monitor.config import Config, Target

ALIAS_KIND_ALWAYS = "alias"
ALIAS_KIND_EXACT = "exact"
ALIAS_KIND_AMBIGUOUS = "ambiguous"

# The '@' or '#' first, and the check that it does not follow a word character after it (a lookbehind
# over both): a pattern that starts with a literal is found by a fast scan for that character, one
# that starts with a lookbehind is tried at every position of the text (6x slower on tweets).
_HANDLE_RE = re.compile(r"@(?<![\w@.]@)([A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9_])")
HASHTAG_RE = re.compile(r"#(?<![\w#&]#)(\w+)")  # a hashtag, not "C#" or "&#39;"; group 1: its text
_HASHTAG_RE = HASHTAG_RE
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _camel_runs(tag: str) -> Iterator[str]:
    """Every run of consecutive camel-case parts, lower-cased: 'OpenAIChips' -> 'open', 'openai',
    'openaichips', 'ai', 'aichips', 'chips'."""
    parts = [part.lower() for part in _CAMEL_RE.findall(tag)]
    for first in range(len(parts)):
        for last in range(first + 1, len(parts) + 1):
            yield "".join(parts[first:last])


def split_hashtag(tag: str) -> str:
    """'StargateIsAScam' -> 'Stargate Is A Scam'; 'AIBubble' -> 'AI Bubble'; 'maga' -> 'maga'."""
    parts = _CAMEL_RE.findall(tag)
    return " ".join(parts) if parts else tag


def _trie_pattern(names: Iterable[str]) -> str:
    """One regex alternation of lowercase names, factored by common prefixes ("el(?:lison|on(?:\\s+musk)?)"):
    the regex engine then tries one branch per character instead of every name in turn, and the
    longest name wins as it would with the names sorted longest first. Spaces match any whitespace."""
    trie: dict[str, dict] = {}
    for name in names:
        node = trie
        for ch in name.lower():
            node = node.setdefault(ch, {})
        node[""] = {}  # a name ends here

    def build(node: dict[str, dict]) -> str:
        branches = [(r"\s+" if ch == " " else re.escape(ch)) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _name_trie(names: Iterable[str]) -> dict[str, dict] | None:
    """The lowercase names as a trie of dicts, one level per character, "" where a name ends: what
    the compiled build's alias scan walks (``_text_scan.name_spans``) instead of the regex. None
    where a name's spacing is not single spaces between words (the regex handles those)."""
    trie: dict[str, dict] = {}
    for name in names:
        if name != " ".join(name.split()):
            return None
        node = trie
        for ch in name.lower():
            node = node.setdefault(ch, {})
        node[""] = {}
    return trie


def _name_spans(text: str, trie: dict[str, dict] | None, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of each alias ``pattern`` finds in the lowercased text. The compiled build walks
    ``trie`` in C for the same spans (``_text_scan.name_spans``)."""
    return [m.span() for m in pattern.finditer(text)]


def context_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex finding any of ``words`` as a whole word (or phrase).

    A word that begins (ends) with a letter or digit may not continue a longer word on that side;
    a plural 's' and a possessive are allowed after it ("data centers", "Nvidia's"). Edges that
    are not word characters ("$500") match as written. Spaces match any whitespace."""
    groups: dict[tuple[bool, bool], set[str]] = {}
    for word in words:
        name = " ".join(word.lower().split())
        if name:  # a blank word would match every post
            groups.setdefault((bool(re.match(r"\w", name[0])), bool(re.match(r"\w", name[-1]))), set()).add(name)
    parts: list[str] = []
    for (word_start, word_end), names in sorted(groups.items()):
        # Factored by common prefixes like the alias regex: one branch per character, not per word.
        body = f"(?:{_trie_pattern(names)})"
        parts.append((r"(?<!\w)" if word_start else "") + body + (r"s?(?:['’]s?)?(?!\w)" if word_end else ""))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@dataclass(frozen=True, slots=True)
class Mention:
    target_id: str
    alias: str  # the configured alias (or @handle / #tag) that matched
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _AliasRule:
    target: Target
    alias: str
    kind: str


class Matcher:
    def __init__(self, config: Config):
        self.rules_version = config.rules_version
        self.targets = {t.id: t for t in config.targets}
        self._by_lower: dict[str, list[_AliasRule]] = {}
        self._handles: dict[str, list[tuple[Target, str]]] = {}
        self._hashtags: dict[str, list[tuple[Target, str]]] = {}
        self._exclude: dict[str, list[re.Pattern[str]]] = {}
        self._context: dict[str, re.Pattern[str] | None] = {}
        self._context_squashed: dict[str, set[str]] = {}  # context words without spaces, for hashtags
        for target in config.targets:
            for kind, names in ((ALIAS_KIND_ALWAYS, target.aliases), (ALIAS_KIND_EXACT, target.exact_aliases),
                                (ALIAS_KIND_AMBIGUOUS, target.ambiguous_aliases)):
                for name in names:
                    self._by_lower.setdefault(name.lower(), []).append(_AliasRule(target, name, kind))
                    if kind != ALIAS_KIND_AMBIGUOUS:
                        squashed = re.sub(r"[\s.]", "", name.lower())
                        self._hashtags.setdefault(squashed, []).append((target, f"#{name.replace(' ', '')}"))
            for handle in target.handles:
                self._handles.setdefault(handle.lstrip("@").lower(), []).append((target, f"@{handle.lstrip('@')}"))
            for tag in target.hashtags:
                self._hashtags.setdefault(tag.lstrip("#").lower(), []).append((target, f"#{tag.lstrip('#')}"))
            self._exclude[target.id] = [re.compile(p) for p in target.exclude]
            self._context[target.id] = context_pattern(target.context)
            self._context_squashed[target.id] = {re.sub(r"\W", "", c).lower() for c in target.context} - {""}
        # '#' may precede an alias (#Musk); '@' may not (that's a handle). Possessives are fine.
        # Matching lowercased text with a case-sensitive pattern is ~3x faster than IGNORECASE.
        pattern = rf"(?<![\w@])(?:{_trie_pattern(self._by_lower)})(?=(?:['’]s)?(?!\w))"
        self._alias_re = re.compile(pattern)
        self._name_trie = _name_trie(self._by_lower)
        self._alias_re_icase = re.compile(pattern, re.IGNORECASE)
        # A hashtag can only name a target if its lowercase contains some alias without spaces:
        # one regex search rules out most hashtags before any lookup or camel-case split.
        pieces = {re.sub(r"[\s.]", "", n) for n in self._by_lower} | set(self._hashtags)
        self._tag_filter = re.compile("|".join(re.escape(p) for p in sorted(pieces, key=len, reverse=True) if p))

    def match(self, text: str) -> list[Mention]:
        """Mentions in order of appearance, at most one per target (its first occurrence)."""
        found: dict[str, Mention] = {}
        lowered = text.lower()
        for rule, start, end in self._alias_candidates(text, lowered):
            tid = rule.target.id
            if tid in found:
                continue
            if rule.kind == ALIAS_KIND_AMBIGUOUS and not self._has_context(tid, text):
                continue
            if self._excluded(tid, text, start, end):
                continue
            found[tid] = Mention(tid, rule.alias, start, end)
        if "@" in text:
            for m in _HANDLE_RE.finditer(text):
                for target, label in self._handles.get(m.group(1).lower(), ()):
                    if target.id not in found:
                        found[target.id] = Mention(target.id, label, m.start(), m.end())
        if "#" in text:
            for m in _HASHTAG_RE.finditer(text):
                tag = m.group(1)
                tag_lower = tag.lower()
                if not self._tag_filter.search(tag_lower):
                    continue
                for target, label in self._hashtags.get(tag_lower, ()):
                    if target.id not in found and not self._excluded(target.id, text, m.start(), m.end()):
                        found[target.id] = Mention(target.id, label, m.start(), m.end())
                if tag[1:].islower() or tag.isupper():
                    continue
                split = split_hashtag(tag)
                if " " in split:  # camel case: #ElonMuskIsWrong -> "Elon Musk Is Wrong"
                    for rule, _s, _e in self._alias_candidates(split, split.lower()):
                        tid = rule.target.id
                        if tid in found or (rule.kind == ALIAS_KIND_AMBIGUOUS and not self._has_context(tid, text)):
                            continue
                        if not self._excluded(tid, split, _s, _e):
                            found[tid] = Mention(tid, rule.alias, m.start(), m.end())
        return sorted(found.values(), key=lambda mention: mention.start)

    def _alias_candidates(self, text: str, lowered: str) -> list[tuple[_AliasRule, int, int]]:
        out: list[tuple[_AliasRule, int, int]] = []
        # Lowercasing keeps offsets unless a character changes length ('İ'); then match case-insensitively.
        spans = (_name_spans(lowered, self._name_trie, self._alias_re) if len(lowered) == len(text) else
                 [m.span() for m in self._alias_re_icase.finditer(text)])
        for start, end in spans:
            matched = text[start:end]
            key = " ".join(matched.lower().split())
            for rule in self._by_lower.get(key, ()):
                if rule.kind != ALIAS_KIND_ALWAYS and " ".join(matched.split()) != rule.alias:
                    continue  # case-sensitive alias with the wrong case ("musk", "son")
                out.append((rule, start, end))
        return out

    def _has_context(self, target_id: str, text: str) -> bool:
        pattern = self._context[target_id]
        if pattern is None:
            return False
        if pattern.search(text):
            return True
        if "#" not in text:
            return False
        # A context word may be a run of a camel-case hashtag's parts: #OpenAIDevDay has "OpenAI"
        # (split, it reads "Open AI Dev Day"), #SoftBankVisionFund has "SoftBank" and "Vision Fund".
        squashed = self._context_squashed[target_id]
        for m in _HASHTAG_RE.finditer(text):
            for run in _camel_runs(m.group(1)):
                if run in squashed or (run.endswith("s") and run[:-1] in squashed):
                    return True
        return False

    def _excluded(self, target_id: str, text: str, start: int, end: int) -> bool:
        for pattern in self._exclude[target_id]:
            for m in pattern.finditer(text):
                if m.start() < end and start < m.end():
                    return True
        return False


# The compiled build of this module (setup.py), when installed and current, replaces the code above.
from monitor.analysis.compiled import swap_in_compiled  # noqa: E402 - must run after the definitions

IMPLEMENTATION = swap_in_compiled(globals())
if IMPLEMENTATION == "compiled":  # here and in the compiled module itself: the alias scan in C
    try:
        from monitor.analysis._text_scan import name_spans as _name_spans
    except ImportError:  # not built: the regex
        pass

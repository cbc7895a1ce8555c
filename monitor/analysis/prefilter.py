"""Match before you build: which raw lines of a JSON Lines archive may mention a target (issue #16).

On a dump where 99.5% of lines name no target, parsing every line and building its Post cost
~42 µs a line before the matcher threw it away. A ``Prefilter`` looks at the raw decompressed
bytes first, a few MiB at a time, and keeps only the lines that *may* match: a superset of what
``Matcher.match`` finds, never dropping a real mention. Only those lines are decoded, parsed and
matched; the others are counted as records without a target.

Why it is a superset. Every way the matcher can find a target leaves literal ASCII in the raw
line, case-folded or exact (see ``_clauses``): an alias' words (``\\s+`` between them, so each word
on its own), an exact or ambiguous alias in its own case, a squashed alias as a hashtag, a handle,
a hashtag. Letters, digits, ``.``, ``-`` and ``_`` are written literally by every JSON writer,
unless escaped as ``\\u00XX`` (legal, rare): a line holding such an escape is always a candidate,
and so is one holding a character that lower-cases or case-folds to an ASCII letter (the Kelvin
sign, long s, dotted and dotless I; raw UTF-8 or escaped). An alias with no ASCII letter or digit
cannot be reduced to literals: then no prefilter is built (``from_config`` returns None).

Two stages, so that both implementations give the same lines: a *trigger* scan of the whole
chunk for one needle per clause (compiled: an Aho-Corasick automaton over case-folded bytes in C,
``_prefilter_scan.c``, ~1 GB/s; pure: ``bytes.find`` per needle), then the exact clause test,
in Python, on the few lines that triggered. A line passes iff the clause test says so, and the
clause test implies a trigger, so the result does not depend on the scanner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from monitor.analysis.compiled import pure_forced
from monitor.config import Config, Target

# A char of needles: what a JSON writer never escapes (save \u00XX, see _MARKERS).
_LITERAL_CI = re.compile(r"[a-z0-9._-]+")
_LITERAL_CS = re.compile(r"[A-Za-z0-9._-]+")
_HEX = "0123456789abcdef"
_ESCAPED_ASCII = ([f"\\u003{d}" for d in "0123456789"] + ["\\u0023", "\\u002d", "\\u002e", "\\u005f", "\\u0040"]
                  + [f"\\u00{hi}{lo}" for hi in "4567" for lo in _HEX if f"{hi}{lo}" not in ("40", "7f")])
# Characters that are not ASCII but match an ASCII letter once lower-cased or case-folded by `re`.
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u212a", "\u017f")
_MARKERS: tuple[bytes, ...] = tuple(dict.fromkeys(
    [m.encode() for m in _ESCAPED_ASCII] + [f"\\u{ord(c):04x}".encode() for c in _FOLDS_TO_ASCII]
    + [c.encode() for c in _FOLDS_TO_ASCII]))

_HASH = b"#"


class PrefilterUnavailable(ValueError):
    """The config cannot be reduced to literal needles (the reason names the target and alias)."""


@dataclass(frozen=True)
class Clause:
    """A line may match through this route iff it holds every needle (exact bytes when
    case-sensitive, else in the lower-cased line) and, when ``either`` is not None, every piece
    of at least one of its groups (lower-cased): a context phrase, or a lone '#'."""

    needles: tuple[tuple[bytes, bool], ...]  # (needle, case_sensitive)
    either: tuple[tuple[bytes, ...], ...] | None = None

    @property
    def trigger(self) -> tuple[bytes, bool]:
        """The needle the scan looks for: the longest (rarer), case-sensitive ones first on a tie."""
        return max(self.needles, key=lambda n: (len(n[0]), n[1], n[0]))

    def holds(self, line: bytes, lower: bytes) -> bool:
        if not all(n in (line if cs else lower) for n, cs in self.needles):
            return False
        return self.either is None or any(all(p in lower for p in group) for group in self.either)


def _pieces(text: str, case_sensitive: bool) -> list[str]:
    return (_LITERAL_CS if case_sensitive else _LITERAL_CI).findall(text if case_sensitive else text.lower())


def _route(words: Iterable[str], case_sensitive: bool, what: str,
           either: tuple[tuple[bytes, ...], ...] | None = None) -> Clause:
    needles = tuple(dict.fromkeys((p.encode(), case_sensitive) for w in words for p in _pieces(w, case_sensitive)))
    if not needles:
        raise PrefilterUnavailable(f"{what} has no ASCII letter or digit to look for")
    return Clause(needles, either)


def _tagged(sign: str, key: str, what: str) -> Clause:
    """A handle or hashtag: the text has ``sign`` right before it (_HANDLE_RE, _HASHTAG_RE), so an
    all-literal key is looked for with its sign; another needs the sign somewhere in the line."""
    if _LITERAL_CI.fullmatch(key):
        return Clause(((f"{sign}{key}".encode(), False),))
    return _route([key], False, what, either=((sign.encode(),),))


def _context_groups(target: Target) -> tuple[tuple[bytes, ...], ...] | None:
    """What confirms an ambiguous alias: each context phrase's literal pieces, or a '#' (a context
    word may be a run of a camel-case hashtag's parts). None (no requirement) when a phrase has no
    literal piece to look for."""
    groups = [(_HASH,)]
    for word in target.context:
        pieces = tuple(p.encode() for part in word.split() for p in _pieces(part, False))
        if not pieces:
            return None
        groups.append(pieces)
    return tuple(groups)


def _clauses(target: Target) -> list[Clause]:
    """Every route by which the matcher can find ``target`` (monitor/analysis/matching.py)."""
    where = f"target '{target.id}'"
    out: list[Clause] = []
    for name in target.aliases:  # case-insensitive, words separated by any whitespace
        out.append(_route(name.split(), False, f"{where} alias '{name}'"))
    for name in target.exact_aliases:  # the text has them in their own case
        out.append(_route(name.split(), True, f"{where} alias '{name}'"))
    context = _context_groups(target)
    for name in target.ambiguous_aliases:  # ... and only with a context word or a hashtag (camel runs)
        out.append(_route(name.split(), True, f"{where} alias '{name}'", either=context))
    for name in [*target.aliases, *target.exact_aliases]:  # squashed, as a hashtag of any case
        squashed = re.sub(r"[\s.]", "", name.lower())
        if re.fullmatch(r"\w+", squashed):  # a hashtag is \w+: other squashed names never match
            out.append(_tagged("#", squashed, f"{where} alias '{name}'"))
    for handle in target.handles:
        out.append(_tagged("@", handle.lstrip("@").lower(), f"{where} handle '{handle}'"))
    for tag in target.hashtags:
        out.append(_tagged("#", tag.lstrip("#").lower(), f"{where} hashtag '{tag}'"))
    return out


@dataclass
class Prefilter:
    """Candidate lines of raw JSON Lines bytes for a config's targets. Build with ``from_config``;
    ``candidate_lines(chunk)`` gives the (start, end) offsets of the lines to parse."""

    clauses: tuple[Clause, ...]
    pure: bool = field(default_factory=pure_forced)
    _scanner: object | None = field(default=None, init=False, repr=False)
    _groups: list[list[Clause] | None] | None = field(default=None, init=False, repr=False)
    _pure_finders: list[tuple[bool, re.Pattern[bytes]]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: Config, pure: bool | None = None) -> Prefilter | None:
        """The config's prefilter, or None where one would be wrong: unmatched posts are stored
        (every line is wanted), or some target has a name without ASCII letters or digits."""
        if config.analysis.store_unmatched:
            return None
        try:
            return cls.for_targets(config.targets, pure)
        except PrefilterUnavailable:
            return None

    @classmethod
    def for_targets(cls, targets: Iterable[Target], pure: bool | None = None) -> Prefilter:
        """Raises PrefilterUnavailable (naming the target) for a name it cannot look for."""
        clauses = tuple(dict.fromkeys(c for t in targets for c in _clauses(t)))
        return cls(clauses, pure_forced() if pure is None else pure)

    @cached_property
    def triggers(self) -> list[tuple[bytes, bool]]:
        """What the scan looks for: one needle per clause, and the markers (always candidates)."""
        found = list(dict.fromkeys([*(c.trigger for c in self.clauses), *((m, False) for m in _MARKERS)]))
        # A needle holding another (case-insensitive) one is found through it: a smaller automaton.
        folded = [n.lower() for n, cs in found if not cs]
        return [(n, cs) for n, cs in found if not any((f in n.lower() and f != n.lower()) or (cs and f == n.lower())
                                                    for f in folded)]

    @property
    def implementation(self) -> str:
        return "pure" if self._scan_function() is None else "compiled"

    def candidate_lines(self, chunk: bytes) -> list[tuple[int, int]]:
        """(start, end) of each line of ``chunk`` that may mention a target, in order; ``end`` is
        the offset of its b"\\n" (or len(chunk)). Lines are split at b"\\n" only, as files iterate."""
        scan = self._scan_function()
        triggered = scan(chunk) if scan is not None else self._pure_triggered(chunk)
        return [(s, e) for s, e, ids in triggered if self._line_passes(chunk[s:e], ids)]

    def _line_passes(self, line: bytes, trigger_ids: Iterable[int]) -> bool:
        """The exact clause test, on a line holding the triggers ``trigger_ids`` (indexes into
        ``triggers``): only the clauses those triggers stand for are tested."""
        groups = self._grouped()
        lower = line.lower()
        for index in trigger_ids:
            clauses = groups[index]
            if clauses is None or any(c.holds(line, lower) for c in clauses):
                return True  # None: a marker, always a candidate
        return False

    def _grouped(self) -> list[list[Clause] | None]:
        """For each trigger, the clauses whose own trigger it stands for (itself, or a
        case-insensitive needle inside it that replaced it in ``triggers``); None for markers."""
        if self._groups is None:
            triggers = self.triggers
            groups: list[list[Clause] | None] = [None if t[0] in _MARKERS else [] for t in triggers]
            for clause in self.clauses:
                own, own_cs = clause.trigger
                if (own, own_cs) in triggers:
                    index = triggers.index((own, own_cs))
                else:
                    index = next(i for i, (n, cs) in enumerate(triggers) if not cs and n in own.lower())
                group = groups[index]
                assert group is not None, "a clause's trigger is never a marker"
                group.append(clause)
            self._groups = groups
        return self._groups

    def _pure_triggered(self, chunk: bytes) -> list[tuple[int, int, list[int]]]:
        """(start, end, indexes of the triggers in it) of each line holding a trigger: what the
        compiled scan returns. One regex over the whole chunk for the case-insensitive triggers
        (lower-cased) and one for the others; after a hit the search goes on at the next line."""
        lower = chunk.lower()
        lines: dict[int, int] = {}
        for case_sensitive, finder in self._finders():
            text = chunk if case_sensitive else lower
            found = finder.search(text)
            while found is not None:
                start = chunk.rfind(b"\n", 0, found.start()) + 1
                end = chunk.find(b"\n", found.start())
                end = len(chunk) if end < 0 else end
                lines[start] = end
                found = finder.search(text, end)
        out = []
        triggers = self.triggers
        for start, end in sorted(lines.items()):
            line, line_lower = chunk[start:end], lower[start:end]
            out.append((start, end, [i for i, (needle, case_sensitive) in enumerate(triggers)
                                     if needle in (line if case_sensitive else line_lower)]))
        return out

    def _finders(self) -> list[tuple[bool, re.Pattern[bytes]]]:
        if self._pure_finders is None:
            self._pure_finders = []
            for case_sensitive in (False, True):
                words = [needle for needle, cs in self.triggers if cs == case_sensitive]
                if words:  # factored by common prefixes: `re` tries one branch a byte, not each word
                    self._pure_finders.append((case_sensitive, re.compile(_trie_regex(words))))
        return self._pure_finders

    def _scan_function(self):  # type: ignore[no-untyped-def]
        """The compiled scanner bound to this prefilter's automaton, or None (pure Python)."""
        if self.pure:
            return None
        if self._scanner is None:
            try:
                from monitor.analysis import _prefilter_scan  # built by setup.py; optional
            except ImportError:
                self.pure = True
                return None
            self._scanner = _prefilter_scan.Scanner(*automaton(self.triggers))
        return self._scanner.lines  # type: ignore[attr-defined]


def _trie_regex(words: Iterable[bytes]) -> bytes:
    """One alternation of literal words factored by common prefixes (the longest wins)."""
    trie: dict[int, dict] = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}  # a word ends here

    def build(node: dict[int, dict]) -> bytes:
        branches = [re.escape(bytes([b])) + build(child) for b, child in sorted(node.items()) if b >= 0]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if -1 in node else body

    return build(trie)


def automaton(needles: list[tuple[bytes, bool]]) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes]:
    """An Aho-Corasick DFA over case-folded byte classes for the compiled scanner: (classes: a
    class a byte, A-Z sharing a-z's, 0 for bytes in no needle; delta: int32 per state x class, ~t
    for an accepting state t; out_start, out_end: int32 per state, a slice of out_ids; out_ids:
    int32 needle indexes ending there; needle bytes joined; needle offsets: int32 pairs (start,
    length), bit 30 of length set for a case-sensitive needle)."""
    folded = [needle.lower() for needle, _cs in needles]
    alphabet = sorted({b for needle in folded for b in needle})
    classes = bytearray(256)
    for number, byte in enumerate(alphabet, start=1):
        classes[byte] = number
        if 97 <= byte <= 122:
            classes[byte - 32] = number
    goto: list[dict[int, int]] = [{}]
    ends: list[list[int]] = [[]]
    for index, needle in enumerate(folded):
        state = 0
        for byte in needle:
            symbol = classes[byte]
            if symbol not in goto[state]:
                goto.append({})
                ends.append([])
                goto[state][symbol] = len(goto) - 1
            state = goto[state][symbol]
        ends[state].append(index)
    width = len(alphabet) + 1
    delta = [[0] * width for _ in goto]
    fail = [0] * len(goto)
    delta[0] = [goto[0].get(c, 0) for c in range(width)]
    order = list(goto[0].values())
    for state in order:  # breadth first: a state's fail state is complete before it
        ends[state] = ends[state] + [i for i in ends[fail[state]] if i not in ends[state]]
        row = list(delta[fail[state]])
        for symbol, child in goto[state].items():
            row[symbol] = child
            fail[child] = delta[fail[state]][symbol]
            order.append(child)
        delta[state] = row
    flagged = [[~t if ends[t] else t for t in row] for row in delta]
    return (bytes(classes), *_pack_automaton(flagged, ends, needles))


def _pack_automaton(delta: list[list[int]], ends: list[list[int]],
                    needles: list[tuple[bytes, bool]]) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    from array import array

    out_start, out_end, out_ids = array("i"), array("i"), array("i")
    for outputs in ends:
        out_start.append(len(out_ids))
        out_ids.extend(outputs)
        out_end.append(len(out_ids))
    blob, offsets = b"", array("i")
    for needle, cs in needles:
        offsets.extend([len(blob), len(needle) | (1 << 30 if cs else 0)])
        blob += needle
    table = array("i", [t for row in delta for t in row])
    return table.tobytes(), out_start.tobytes(), out_end.tobytes(), out_ids.tobytes(), blob, offsets.tobytes()

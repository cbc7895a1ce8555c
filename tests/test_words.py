"""The words of a post found in Python (monitor/words.py, in an import's worker processes) are the
words the store's SQL finds (store/rollups.py, the views): same classes, same lower case, same
hashtags and terms, on every code point and on real and awkward posts."""

from __future__ import annotations

import functools
import json
import random
import re
import unicodedata
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from monitor import word_classes, words
from monitor.store import Store, WriteBatch, rollups
from monitor.store.rows import MENTIONS_SCHEMA, POST_WORDS_SCHEMA, POSTS_SCHEMA


@functools.cache
def code_points() -> list[int]:
    """Every code point but the surrogates (made when a test asks: every test worker collects this file)."""
    return [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def _expand(ranges: str) -> set[int]:
    out: set[int] = set()
    for item in ranges.split():
        first, _, last = item.partition("-")
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return out


def _ranges(points: list[int]) -> str:
    spans: list[list[int]] = []
    for c in points:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return " ".join(f"0x{a:X}" if a == b else f"0x{a:X}-0x{b:X}" for a, b in spans)


@pytest.fixture(scope="module")
def duckdb_classes() -> dict[str, list]:
    """DuckDB's verdict on every code point: \\p{L}, \\p{N}, and lower()."""
    con = duckdb.connect()
    con.register("cps", pa.table({"cp": code_points(), "c": [chr(c) for c in code_points()]}))
    rows = con.execute(r"SELECT regexp_full_match(c, '\p{L}'), regexp_full_match(c, '\p{N}'), lower(c) "
                       "FROM cps ORDER BY cp").fetchall()
    return {"letter": [r[0] for r in rows], "number": [r[1] for r in rows], "lower": [r[2] for r in rows]}


def test_the_classes_are_duckdbs(duckdb_classes: dict[str, list]) -> None:
    for name, table in (("letter", word_classes.LETTERS), ("number", word_classes.NUMBERS)):
        ours = _expand(table)
        theirs = [c for c, yes in zip(code_points(), duckdb_classes[name], strict=True) if yes]
        assert ours == set(theirs), f"DuckDB's {name} class changed; put this in word_classes.py:\n{_ranges(theirs)}"


def test_lower_case_is_duckdbs_on_every_character(duckdb_classes: dict[str, list]) -> None:
    ours = [words.lower(chr(c)) for c in code_points()]
    differ = [hex(c) for c, a, b in zip(code_points(), ours, duckdb_classes["lower"], strict=True) if a != b]
    assert differ == []
    # In context too: Python lower-cases a word-final capital sigma to 'ς', DuckDB does not.
    assert words.lower("ΟΔΟΣ İSTANBUL") == "οδοσ istanbul"


@pytest.mark.skipif(unicodedata.unidata_version != word_classes.UNSURE_UNIDATA_VERSION,
                    reason="UNSURE is for another version of Python's Unicode tables (the exact path runs)")
def test_unsure_holds_every_character_where_pythons_classes_differ() -> None:
    letters, numbers = _expand(word_classes.LETTERS), _expand(word_classes.NUMBERS)
    word, letter = re.compile(r"\w"), re.compile(r"[^\W\d_]")
    differ = [c for c in code_points()
              if bool(word.match(chr(c))) != (c in letters or c in numbers or c == 0x5F)
              or bool(letter.match(chr(c))) != (c in letters)]
    assert set(differ) <= _expand(word_classes.UNSURE)
    assert 0xB2 in differ and 0x11F04 in differ  # '²' (a number Python calls a letter), a Unicode 15 letter


AWKWARD = [
    "RT @ElonMusk: #Stargate is VAPORWARE!!! https://t.co/xyz www.Example.com/Foo bar",
    "ΟΔΟΣ İstanbul #İzmir ÇAĞ", "x²y³ ½ ① Ⅻ #a² #²a #_ab #12 #__ #a_1", "𑼄𑼅𑼆 kawi #𑼄𑼅𑼆 𞓐𞓑𞓒 new letters",
    "café vs cafe\u0301 naïve", "日本語のテキスト #日本 中文字", "مرحبا بالعالم #العربية", "emoji 🚀🔥 #AI🤖 ok",
    "tab\tsep\vvertical\u00a0nbsp\u2003em https://a.b/c\u00a0d https://e.f/g\vh", "http://x.yhttps://z #a#b@c@d",
    "xhttps://foo abchttp://bar wwwx www.", "don't it’s O'Neil Mc'Donald", "ÆØÅ æøå ǅungla ǆ Ǆ", "",
    "@@handle ##tag #-no @_under_ #9lives", "ǈ Σσς ΣΑΣ", "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ", "Straße STRASSE ẞ",
]
POOL = ("abcXYZ019_#@ .:/-'\t\v\u00a0" "ÉéİıΣσςßẞǅ²½①Ⅻ٣" "日本𑼄𞓐🚀\u0301" "httpswww")


def _random_texts(n: int) -> list[str]:
    rng = random.Random(16)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def _real_texts() -> list[str]:
    path = Path(__file__).parent / "domain_check" / "posts.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sql_words(texts: list[str]) -> dict[tuple[int, str], set[str]]:
    con = duckdb.connect()
    con.register("src", pa.table({"post_key": [str(i) for i in range(len(texts))], "target_id": ["t"] * len(texts),
                                  "created_at": [datetime(2025, 1, 21)] * len(texts), "text": texts}))
    found: dict[tuple[int, str], set[str]] = {}
    sql = f"SELECT post_key, kind, word FROM ({rollups.mention_words_sql('SELECT * FROM src')})"
    for key, kind, word in con.execute(sql).fetchall():
        found.setdefault((int(key), kind), set()).add(word)
    return found


@pytest.mark.parametrize("texts", [AWKWARD, _random_texts(3000), _real_texts()], ids=["awkward", "random", "real"])
def test_post_words_are_the_sqls(texts: list[str]) -> None:
    expected = _sql_words(texts)
    for i, text in enumerate(texts):
        hashtags, terms = words.post_words(text)
        assert len(set(hashtags)) == len(hashtags) and len(set(terms)) == len(terms)
        assert (set(hashtags), set(terms)) == (expected.get((i, "hashtag"), set()), expected.get((i, "term"), set())), \
            repr(text)


def test_the_exact_path_agrees_with_the_fast_one_where_both_apply() -> None:
    """The exact classes (for texts holding an UNSURE character, or another Python) on texts the fast
    path takes: the same words."""
    exact = words._exact()
    for text in [*_real_texts(), *AWKWARD]:
        low = words.lower(text)
        tags, blanked = exact[0].findall(low), exact[2].findall(exact[1].sub(" ", low))
        assert (set(tags), set(blanked)) == tuple(set(w) for w in words.post_words(text))


def _batch(texts: list[str], numbers: range, with_words: bool) -> WriteBatch:
    """Posts numbered ``numbers`` (texts in turn), each mentioning one or two targets."""
    keys = [f"x:{n}" for n in numbers]
    batch = WriteBatch()
    batch.add("posts", pa.Table.from_pylist([
        {"post_key": key, "platform": "x", "post_id": key[2:], "text": texts[n % len(texts)],
         "created_at": datetime(2025, 1, 21 + n % 3), "collected_at": datetime(2025, 2, 1), "source": "test",
         "tool_version": "test"} for n, key in zip(numbers, keys, strict=True)], POSTS_SCHEMA))
    batch.add("mentions", pa.Table.from_pylist([
        {"post_key": key, "target_id": target, "alias": target, "rules_version": "r"}
        for n, key in zip(numbers, keys, strict=True) for target in ("musk", "openai")[:1 + n % 2]], MENTIONS_SCHEMA))
    if with_words:
        found = [words.post_words(texts[n % len(texts)]) for n in numbers]
        batch.add("post_words", pa.Table.from_pylist([
            {"post_key": key, "hashtags": tags, "terms": terms}
            for key, (tags, terms) in zip(keys, found, strict=True)], POST_WORDS_SCHEMA))
    return batch


def test_the_writer_counts_the_same_words_from_post_words(tmp_path: Path) -> None:
    """A store written with the words found beforehand (as an import writes), one that had them
    through the spool (the file was locked) and one left to find them in SQL hold the same word
    rollups, also for a batch whose posts are partly stored already."""
    texts = [*AWKWARD, *_random_texts(300), *_real_texts()]
    counts = []
    for with_words, spooled in ((True, False), (True, True), (False, False)):
        store = Store(tmp_path / f"{with_words}-{spooled}")
        for numbers in (range(0, 400), range(300, 700)):  # the second: 100 posts stored already
            batch = _batch(texts, numbers, with_words)
            if spooled:
                assert "post_words" in store.load_spooled(store.spool(batch)).tables
            else:
                store.write(batch)
        if spooled:
            assert store.drain_spool() == 2
        with store.read() as con:
            counts.append(con.execute("SELECT day, target_id, kind, word, sum(posts) FROM rollup_words "
                                      "GROUP BY ALL HAVING sum(posts) <> 0 ORDER BY ALL").fetchall())
            assert con.execute("SELECT count(*) FROM posts").fetchone() == (700,)
    assert counts[0] == counts[1] == counts[2]
    assert len(counts[0]) > 1000

"""The compiled analysis (setup.py: Cython over sentiment.py, matching.py, stance.py) gives exactly
the pure-Python reference's outputs, and the reference really runs when asked or when the build is
missing or stale."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.analysis import compiled as compiled_module
from monitor.analysis import language, matching, sentiment, stance
from monitor.analysis.compiled import COMPILED, PURE, PURE_ENV, swap_in_compiled

TESTS = Path(__file__).resolve().parent
EVAL_DIR = TESTS.parents[0].parent / "shared" / "eval"
MODULES = (language, matching, sentiment, stance)


def _built(name: str) -> bool:
    stem = name if name == "text_scan" else f"compiled_{name}"
    return any((TESTS.parent / "monitor" / "analysis").glob(f"_{stem}.*.so"))


def _run_outputs(tmp_path: Path, pure: bool) -> dict:
    env = {key: value for key, value in os.environ.items() if key != PURE_ENV}
    if pure:
        env[PURE_ENV] = "1"
    out = tmp_path / ("pure.json" if pure else "compiled.json")
    subprocess.run([sys.executable, str(TESTS / "compiled_outputs.py"), str(EVAL_DIR), str(out)],
                   env=env, check=True, timeout=120)
    return json.loads(out.read_text(encoding="utf-8"))


def _outputs_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("compiled_outputs", TESTS / "compiled_outputs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs_here(tmp_path: Path) -> dict:
    return json.loads(json.dumps(_outputs_module().outputs(EVAL_DIR, tmp_path)))  # as the subprocess's: via JSON


def test_the_environment_variable_forces_the_pure_modules() -> None:
    code = ("from monitor.analysis import language, matching, sentiment, stance; "
            "print(sorted({m.IMPLEMENTATION for m in (language, matching, sentiment, stance)}))")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, PURE_ENV: "1"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['pure']"
    import monitor.analysis.sentiment as pure_check  # in this process: compiled where built

    assert pure_check.IMPLEMENTATION in (PURE, COMPILED)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_a_built_module_is_used_unless_forced(module) -> None:
    short = module.__name__.rsplit(".", 1)[1]
    if not _built(short):
        pytest.skip("compiled analysis not built here (pip install . with a C compiler builds it)")
    expected = PURE if compiled_module.pure_forced() else COMPILED
    assert module.IMPLEMENTATION == expected
    compiled_here = module.__dict__[{"matching": "split_hashtag", "sentiment": "prepare",
                                     "stance": "_clause_numbers", "language": "guess_language"}[short]]
    assert (type(compiled_here).__name__ == "cython_function_or_method") == (expected == COMPILED)


def test_a_stale_build_is_not_used(tmp_path: Path) -> None:
    if not _built("sentiment"):
        pytest.skip("compiled analysis not built here")
    edited = tmp_path / "sentiment.py"  # the source, edited after the build
    edited.write_text(Path(sentiment.__spec__.origin or "").read_text(encoding="utf-8") + "\n# edit\n")
    namespace = {"__name__": "monitor.analysis.sentiment", "__file__": str(edited), "marker": 1}
    untouched = dict(namespace)
    assert swap_in_compiled(untouched) == PURE
    assert untouched == namespace  # nothing swapped in


def test_the_current_source_is_swapped_in(tmp_path: Path) -> None:
    if not _built("sentiment") or compiled_module.pure_forced():
        pytest.skip("compiled analysis not built here, or the pure path is forced")
    source = Path(sentiment.__spec__.origin or "")
    namespace = {"__name__": "monitor.analysis.sentiment", "__file__": str(source)}
    assert swap_in_compiled(namespace) == COMPILED
    assert namespace["VaderEngine"].__module__ == "monitor.analysis._compiled_sentiment"


@pytest.mark.skipif(not (EVAL_DIR / "vader_icwsm2014" / "tweets_GroundTruth.txt").exists(),
                    reason="needs ../shared/eval (development data)")
def test_compiled_and_pure_give_identical_outputs_on_real_tweets(tmp_path: Path) -> None:
    pure = _run_outputs(tmp_path, pure=True)
    built = _outputs_here(tmp_path)  # this process: compiled where built
    assert set(pure["implementations"].values()) == {PURE}
    if not all(_built(name) for name in ("sentiment", "matching", "stance", "language")):
        pytest.skip("compiled analysis not built here: only the pure path ran")
    assert set(built["implementations"].values()) == {COMPILED}
    assert len(pure["rows"]) == len(built["rows"]) > 8000
    rows, worst, differing = _outputs_module().compare_rows(pure["rows"], built["rows"])
    assert (rows, differing) == (len(pure["rows"]), 0)  # words, mentions, labels, rounded scores: all equal
    assert worst <= 1e-9
    assert sum(bool(row["mentions"]) for row in pure["rows"]) > 1000  # the stance rules really ran



def _stored_analysis(db: Path) -> dict[str, list[tuple]]:
    """Every row of the analysis tables, without the times they were written."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in ("mentions", "post_sentiment", "target_scores"):
            columns = [name for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()
                       if "TIMESTAMP" not in kind]
            out[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


@pytest.mark.skipif(not (EVAL_DIR / "pstance").exists(), reason="needs ../shared/eval (development data)")
def test_an_import_stores_identical_rows_compiled_and_pure(tmp_path: Path) -> None:
    if not all(_built(name) for name in ("sentiment", "matching", "stance")):
        pytest.skip("compiled analysis not built here")
    import csv

    from tests.conftest import config_file

    texts = []
    for path in sorted((EVAL_DIR / "pstance").glob("raw_val_*.csv")):
        with path.open(encoding="utf-8") as fh:
            texts += [row["Tweet"] for row in csv.DictReader(fh)][:300]
    archive = tmp_path / "tweets.jsonl"
    archive.write_text("".join(json.dumps({"id": str(i), "text": text, "created_at": "2025-01-02T03:04:05Z",
                                           "lang": "en"}) + "\n" for i, text in enumerate(texts)), encoding="utf-8")
    config = config_file(tmp_path / "one-worker.toml",
                         lambda data: data.setdefault("analysis", {}).update(analyzer="vader", workers=1))
    stored = {}
    for mode in ("compiled", "pure"):
        env = {key: value for key, value in os.environ.items() if key != PURE_ENV}
        if mode == "pure":
            env[PURE_ENV] = "1"
        subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "--data-dir",
                        str(tmp_path / mode), "import", "--analyzer", "vader", str(archive)],
                       env=env, check=True, capture_output=True, timeout=120)
        stored[mode] = _stored_analysis(tmp_path / mode / "monitor.duckdb")
    assert len(stored["pure"]["target_scores"]) > 200  # the stance rules ran on real mentions (of Trump)
    assert stored["compiled"] == stored["pure"]


TRICKY_TEXTS = ["", "   ", "a", "!!", "!!!", "'ab'", "..Hi..", ":-)", "(A)", "WOW!!! so GOOD :D",
                "don’t “quote” me", "\u00a0x\u2003y\u3000z\x1c\x1dw", "İstanbul İS", "ΣΑΣ σας ΟΔΟΣ.",
                "ǅungla ǅ", "ＡＢＣ ｄｅｆ", "STRASSE ß ẞ", "ﬁne ﬂow", "x\u200by", "café CAFÉ Ünïcode",
                "😂😂 LOL!!", "#Tag-LINE @User_1: ok?", "a\tb\nc\rd\x0be\x0cf", "ɏɐ ʼ ˆ Ω ж 中文 ١٢ あ",
                "Ⅻ ① ²"]


def test_the_c_scans_give_the_reference_tokens_and_letter_counts() -> None:
    if not _built("text_scan"):
        pytest.skip("the .pyx tokenizer is not built here")
    from monitor.analysis._text_scan import is_cap_diff, letter_counts, tokens

    reference = sentiment.__dict__  # the .py's own functions, whichever implementation is swapped in
    texts = list(TRICKY_TEXTS)
    tweets = EVAL_DIR / "vader_icwsm2014" / "tweets_GroundTruth.txt"
    if tweets.exists():
        texts += [row.split("\t", 2)[-1] for row in tweets.read_text(encoding="utf-8", errors="replace").splitlines()]
    for text in texts:
        raw = text.split()
        words = reference["_words_and_emoticons"](raw)
        assert tokens(text) == (raw, words, [w.lower() for w in words]), text
        caps = sum(map(str.isupper, words))
        assert is_cap_diff(words) == (0 < len(words) - caps < len(words)), text
        letters = sum(1 for ch in text if ch.isalpha())
        assert letter_counts(text) == (letters, sum(1 for ch in text if ch.isalpha() and ord(ch) > 0x024F)), text


def test_the_c_alias_scan_finds_what_the_alias_regex_finds(config) -> None:  # type: ignore[no-untyped-def]
    if not _built("text_scan"):
        pytest.skip("the .pyx scans are not built here")
    import random

    from monitor.analysis._text_scan import name_spans

    matcher = matching.Matcher(config)
    names = sorted(matcher._by_lower)
    rng = random.Random(16)
    joints = [" ", "  ", "\t", "\n", "@", "#", "'s ", "’s", "'sx", "_", "x", ".", "-", "\u00a0", "é", "1", "'"]
    texts = [text.lower() for text in TRICKY_TEXTS]
    for _ in range(3000):  # names, cut short, with odd whitespace, glued by joints that may end them or not
        parts = []
        for _ in range(rng.randint(1, 6)):
            name = rng.choice(names)
            if rng.random() < 0.3:
                name = name.replace(" ", rng.choice(["  ", "\t", "\n ", "\u2003"]))
            if rng.random() < 0.2:
                name = name[:rng.randint(1, len(name))]
            parts += [name, rng.choice(joints)]
        texts.append("".join(parts))
    found = 0
    for text in texts:
        expected = [m.span() for m in matcher._alias_re.finditer(text)]
        assert name_spans(text, matcher._name_trie, matcher._alias_re) == expected, text
        found += len(expected)
    assert found > 3000
    assert matching._name_trie(["elon  musk"]) is None  # odd spacing: the regex runs


def test_the_c_word_scan_finds_post_words_on_ascii_texts() -> None:
    """``_text_scan.ascii_post_words`` (the import's workers, on ASCII texts) against ``words.post_words``:
    the same hashtags and terms, in the same order, on tricky, random and real texts."""
    if not _built("text_scan"):
        pytest.skip("the .pyx scans are not built here")
    import random

    from monitor.analysis._text_scan import ascii_post_words

    from monitor import words

    rng = random.Random(16)
    pool = [*"aZ_9#@ :/.hHtTpPsSwW-!'\t\n\x0b\r\x0c", "http://", "https://", "HTTPS://", "www.", "WWW.", "#", "@"]
    texts = [t for t in TRICKY_TEXTS if t.isascii()] + [
        "RT @ElonMusk: #Stargate is VAPORWARE!!! https://t.co/xyz www.Example.com/Foo bar",
        "http://x.yhttps://z #a#b@c@d", "xhttps://foo abchttp://bar wwwx www.",
        "@@handle ##tag #-no @_under_ #9lives #12 #__ #a_1 https:// x http:"]
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(0, 24))) for _ in range(20_000)]
    texts += [json.loads(line)["text"] for line in (TESTS / "domain_check" / "posts.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    checked = 0
    for text in texts:
        if text.isascii():
            assert ascii_post_words(text.lower()) == words.post_words(text), repr(text)
            checked += 1
    assert checked > 20_000

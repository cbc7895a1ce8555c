"""The import prefilter (issue #16): a superset of the matcher over raw JSON Lines bytes; the
compiled scan and the pure one pick the same lines; imports with and without it store the same."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import zstandard

from monitor.analysis.matching import Matcher
from monitor.analysis.prefilter import Prefilter, automaton
from monitor.config import Config, Target
from monitor.ingest.imports import Importer
from monitor.sources.base import ArchiveInput, RecordError, SkippedLines, iter_candidate_lines
from monitor.store import Store
from tests.conftest import EVAL_DIR, FIXTURES, stored

try:
    from monitor.analysis import _prefilter_scan
except ImportError:  # installed without a C compiler: the pure scan is tested alone
    _prefilter_scan = None

ADVERSARIAL = [
    "ELON MUSK said so", "elon\tmusk", "Elon\u00a0Musk", "Elon\n\nMusk", "#ElonMuskIsWrong", "#elonmusk",
    "@ElonMusk hi", "@elonmusk", "#SAMALTMAN", "sam  altman", "Sam\u2003Altman", "Altman's plan",
    "#OpenAIDevDay Stargate", "Stargate and SoftBank", "Stargate #AI", "Son of SoftBank", "#SoftBankSon",
    "Masa Son said", "x.AI builds", "xAI is", "#xai", "X.AI", "#MAGA rally", "#Trump2024!", "TRUMP rally",
    "Elon Mus\u212a", "Mu\u017fk", "#\u0130OpenAI", "Nvidia\u2019s chips", "caf\u00e9 Nadella", "NADELLA",
    "Satya\u00a0Nadella", "#SatyaNadella", "Benioff.", "Larry Ellison and Oracle", "Ellison #database",
    "Suleyman at DeepMind", "#MustafaSuleyman", "Arm Holdings", "ARM chips by SoftBank", "@Arm", "ORCL up",
    "Open AI models", "OPEN AI", "Microsoft\u2019s", "MSFT", "#Microsoft", "NVDA", "O\u0301penAI",
    "trump", "Trump administration", "Donald J. Trump", "President\tTrump", "Project Stargate AI",
]


def _lines(texts: list[str], ensure_ascii: bool = True) -> list[bytes]:
    return [json.dumps({"body": t, "id": f"c{i}", "subreddit": "x", "created_utc": 1700000000 + i},
                       ensure_ascii=ensure_ascii).encode() for i, t in enumerate(texts)]


def _candidates(prefilter: Prefilter, lines: list[bytes]) -> set[int]:
    """Indexes of the lines the prefilter keeps, from one chunk holding them all."""
    chunk = b"\n".join(lines) + b"\n"
    starts = {}
    offset = 0
    for i, line in enumerate(lines):
        starts[offset] = i
        offset += len(line) + 1
    return {starts[s] for s, _e in prefilter.candidate_lines(chunk)}


def _fuzz_texts(config: Config, count: int, seed: int = 16) -> list[str]:
    """Texts built from the targets' names with random case, whitespace, signs, escapes-to-be."""
    rng = random.Random(seed)
    names = [n for t in config.targets for n in (*t.aliases, *t.exact_aliases, *t.ambiguous_aliases,
                                                  *t.context, *t.handles, *t.hashtags)]
    glue = [" ", "\t", "\u00a0", "\n", "", "#", "@", ". ", "'s ", "\u2019s ", "-", "_", "/"]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(names)
            pick = rng.random()
            if pick < 0.2:
                name = name.upper()
            elif pick < 0.4:
                name = name.lower()
            elif pick < 0.5:
                name = name.replace(" ", "")
            elif pick < 0.55:
                name = name.replace("k", "\u212a").replace("s", "\u017f")
            parts.append(rng.choice(glue) + name + rng.choice(glue))
        out.append("".join(parts) + rng.choice(["", " said hi", " is wrong", "s"]))
    return out


def _prefilters(config: Config) -> list[Prefilter]:
    built = [Prefilter.for_targets(config.targets, pure=True)]
    if _prefilter_scan is not None:
        built.append(Prefilter.for_targets(config.targets, pure=False))
    return built


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_every_line_the_matcher_matches_is_a_candidate(config: Config, ensure_ascii: bool) -> None:
    matcher = Matcher(config)
    texts = ADVERSARIAL + _fuzz_texts(config, 3000)
    matched = {i for i, t in enumerate(texts) if matcher.match(t)}
    assert len(matched) > len(texts) // 3  # the fuzz does reach the matcher
    for prefilter in _prefilters(config):
        kept = _candidates(prefilter, _lines(texts, ensure_ascii))
        assert matched <= kept, [texts[i] for i in sorted(matched - kept)][:5]


def test_fixture_and_real_texts_the_matcher_matches_are_candidates(config: Config) -> None:
    matcher = Matcher(config)
    with ArchiveInput(FIXTURES / "reddit" / "RC_2005-12.zst").open() as fh:
        raw = [line.rstrip(b"\n") for line in fh if line.strip()]
    texts = [str(json.loads(line).get("body", "")) for line in raw]
    tweets = EVAL_DIR / "semeval2017_task4a_tweeteval" / "train_text.txt"
    real = tweets.read_text(encoding="utf-8").splitlines()[:6000] if tweets.exists() else []
    lines = raw + _lines(real)
    texts += real
    matched = {i for i, t in enumerate(texts) if matcher.match(t)}
    for prefilter in _prefilters(config):
        kept = _candidates(prefilter, lines)
        assert matched <= kept
        assert len(kept) < len(lines) // 2 or not real  # a filter, not a pass-through


def test_compiled_and_pure_scans_pick_the_same_lines(config: Config) -> None:
    if _prefilter_scan is None:
        pytest.skip("the C scan is not built (no compiler at install)")
    texts = ADVERSARIAL + _fuzz_texts(config, 2000, seed=3) + ["nothing here at all"] * 500 + ["reason person"] * 50
    chunk = b"\n".join(_lines(texts, ensure_ascii=False)) + b"\n" + b"\n".join(_lines(texts))
    pure = Prefilter.for_targets(config.targets, pure=True)
    compiled = Prefilter.for_targets(config.targets, pure=False)
    assert compiled.implementation == "compiled" and pure.implementation == "pure"
    assert compiled.candidate_lines(chunk) == pure.candidate_lines(chunk)
    # The trigger scans themselves may differ only by lines the clause test then drops.
    assert compiled.candidate_lines(chunk + b"Musk") == pure.candidate_lines(chunk + b"Musk")


def test_case_and_markers(config: Config) -> None:
    prefilter = Prefilter.for_targets(config.targets, pure=True)
    lines = _lines(["musk ox", "Musk", "the \u212a sign", "trumpet", "said \\u0041 thing"])
    lines[4] = b'{"body": "\\u004dusk"}'  # an escaped ASCII letter: always a candidate
    assert _candidates(prefilter, lines) == {1, 2, 4}


def test_no_prefilter_where_it_could_drop_a_mention(config: Config) -> None:
    unmatched = config.model_copy(deep=True)
    unmatched.analysis.store_unmatched = True
    assert Prefilter.from_config(unmatched) is None
    cjk = config.model_copy(deep=True)
    cjk.targets = [*cjk.targets, Target(id="tesla_zh", name="Tesla", kind="organisation", aliases=["特斯拉"])]
    assert Prefilter.from_config(cjk) is None
    assert Prefilter.from_config(config) is not None


def test_automaton_tables_are_checked() -> None:
    if _prefilter_scan is None:
        pytest.skip("the C scan is not built")
    tables = list(automaton([(b"musk", False), (b"Son", True)]))
    scanner = _prefilter_scan.Scanner(*tables)
    assert scanner.lines(b"a\nMUSK x\nson\nSon musk\n") == [(2, 8, [0]), (13, 21, [1, 0])]
    broken = bytearray(tables[1])
    broken[0:4] = (10**6).to_bytes(4, "little")
    with pytest.raises(ValueError):
        _prefilter_scan.Scanner(tables[0], bytes(broken), *tables[2:])


def _dump(path: Path, bodies: list[str], extra: list[bytes] = ()) -> Path:
    lines = [json.dumps({"id": f"c{i}", "author": f"u{i % 7}", "body": b, "subreddit": "tech", "score": i,
                         "created_utc": 1700000000 + i * 60, "link_id": "t3_abc", "parent_id": "t3_abc"})
             for i, b in enumerate(bodies)]
    raw = b"\n".join(line.encode() for line in lines) + b"\n" + b"".join(extra)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw))
    return path


ANALYSIS_TABLES = {
    "posts": "SELECT * EXCLUDE (import_id, collected_at) FROM posts ORDER BY post_key",
    "mentions": "SELECT * FROM mentions ORDER BY ALL",
    "post_sentiment": "SELECT * EXCLUDE (scored_at) FROM post_sentiment ORDER BY ALL",
    "target_scores": "SELECT * EXCLUDE (scored_at) FROM target_scores ORDER BY ALL",
}


def _tables(store: Store) -> dict[str, list[tuple]]:
    out = {}
    for name, query in ANALYSIS_TABLES.items():
        try:
            out[name] = stored(store, query)
        except Exception:  # a column this schema has not got: compare the whole rows
            out[name] = stored(store, f"SELECT * FROM {name} ORDER BY ALL")
    return out


def test_import_with_and_without_prefilter_stores_the_same(config: Config, tmp_path: Path) -> None:
    rng = random.Random(5)
    filler = ["what a day", "the reason is simple", "person of interest", "I love this song", ""]
    # Fewer posts than the pool's MIN_PARALLEL (400): analysed in this process, no workers to start.
    bodies = [rng.choice(filler) if rng.random() > 0.1 else rng.choice(ADVERSARIAL) for _ in range(300)]
    bodies = [b or "ok" for b in bodies]
    dump = _dump(tmp_path / "RC_test.zst", bodies, extra=[b"\n", b"   \n", b'{"id": "bad", "body": "Elon Musk"\n'])
    reports, tables = [], []
    for use in (True, False):
        store = Store(tmp_path / f"data-{use}")
        importer = Importer(config, store, prefilter=use)
        assert (importer.prefilter is not None) == use
        reports.append(importer.import_paths([dump])[0])
        tables.append(_tables(store))
    with_filter, without = reports
    assert with_filter.format == "reddit_dump"
    assert (with_filter.records, with_filter.posts_new, with_filter.unmatched, with_filter.errors) == \
        (without.records, without.posts_new, without.unmatched, without.errors) == (300, without.posts_new,
                                                                                    300 - without.posts_new, 1)
    assert without.posts_new > 20
    assert tables[0] == tables[1]
    assert [e.line for e in with_filter.error_samples] == [e.line for e in without.error_samples] == [303]


def test_candidate_lines_keep_their_line_numbers(config: Config, tmp_path: Path, monkeypatch) -> None:
    import monitor.sources.base as base

    monkeypatch.setattr(base, "CHUNK_BYTES", 64)  # many chunks, lines cut across reads
    bodies = ["nothing"] * 30 + ["Elon Musk"] + ["nothing"] * 10 + ["Nadella"]
    dump = _dump(tmp_path / "RC_n.zst", bodies, extra=[b"\n", b'{"body": "Sam Altman", \xff}\n'])
    items = list(iter_candidate_lines(ArchiveInput(dump), Prefilter.for_targets(config.targets, pure=True)))
    found = [(item[0], json.loads(item[1])["body"]) for item in items if isinstance(item, tuple)]
    assert found == [(31, "Elon Musk"), (42, "Nadella")]
    errors = [item for item in items if isinstance(item, RecordError)]
    assert [(e.line, "utf-8" in e.reason) for e in errors] == [(44, True)]
    assert sum(item.count for item in items if isinstance(item, SkippedLines)) == 40  # the blank line 43 is none


def test_truncated_dump_keeps_what_was_read_with_the_prefilter(config: Config, tmp_path: Path) -> None:
    rng = random.Random(9)  # incompressible bodies, so a cut file still holds many whole lines
    bodies = [("Elon Musk " if i % 20 == 0 else "") + "".join(rng.choices("abcdefghij klmnop", k=1500))
              for i in range(600)]
    whole = _dump(tmp_path / "RC_whole.zst", bodies).read_bytes()
    cut = tmp_path / "RC_cut.zst"
    cut.write_bytes(whole[: len(whole) // 2])
    reports = [Importer(config, Store(tmp_path / f"d{use}"), prefilter=use).import_paths([cut])[0]
               for use in (True, False)]
    assert 100 < reports[0].records == reports[1].records < 400
    assert reports[0].posts_new == reports[1].posts_new > 5
    assert [(e.line, "stream ended early" in e.reason) for e in reports[0].error_samples] == \
        [(e.line, True) for e in reports[1].error_samples] == [(reports[1].records + 1, True)]


def test_stopping_early_ends_the_reading_thread(config: Config, tmp_path: Path, monkeypatch) -> None:
    import threading

    import monitor.sources.base as base

    monkeypatch.setattr(base, "CHUNK_BYTES", 256)
    dump = _dump(tmp_path / "RC_stop.zst", ["Elon Musk"] * 2000)
    lines = iter_candidate_lines(ArchiveInput(dump), Prefilter.for_targets(config.targets, pure=True))
    assert next(lines)[0] == 1
    lines.close()
    assert not [t for t in threading.enumerate() if t.name == "prefilter-read"]


def test_the_import_option_turns_it_off(config: Config, tmp_path: Path, monkeypatch) -> None:
    seen = []
    original = Prefilter.candidate_lines
    monkeypatch.setattr(Prefilter, "candidate_lines", lambda self, chunk: seen.append(1) or original(self, chunk))
    dump = _dump(tmp_path / "RC_opt.zst", ["Elon Musk", "nothing"])
    importer = Importer(config, Store(tmp_path / "d"))
    assert importer.import_paths([dump], prefilter=False)[0].records == 2 and not seen
    assert importer.import_paths([dump], force=True)[0].records == 2 and seen


def test_the_cli_switch_turns_it_off(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = []
    original = Prefilter.candidate_lines
    monkeypatch.setattr(Prefilter, "candidate_lines", lambda self, chunk: seen.append(1) or original(self, chunk))
    dump = _dump(tmp_path / "RC_cli.zst", ["Elon Musk", "nothing"])
    off = cli("import", str(dump), "--no-prefilter", "--json")
    assert off.exit_code == 0 and json.loads(off.output)[0]["posts_new"] == 1 and not seen
    assert cli("import", str(dump), "--force").exit_code == 0 and seen

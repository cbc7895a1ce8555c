"""The default matching rules against a generated corpus of planted mentions and decoys (tests/planted.py):
every planted mention of every target is found (recall 1.0) and no decoy is (precision 1.0), in every
sentence frame, so a rule change that loses mentions or lets decoys in fails here (issue #15 item 18)."""

from __future__ import annotations

from collections import Counter

import pytest

from monitor.analysis.matching import Matcher
from monitor.config import Config
from tests.planted import DECOY_FORMS, FRAMES, KNOWN_LIMITS, TRUE_FORMS, Planted, generate


@pytest.fixture(scope="module")
def matcher(config: Config) -> Matcher:
    return Matcher(config)


@pytest.fixture(scope="module")
def corpus() -> list[Planted]:
    return generate()


@pytest.fixture(scope="module")
def matched(matcher: Matcher, corpus: list[Planted]) -> list[frozenset[str]]:
    return [frozenset(m.target_id for m in matcher.match(case.text)) for case in corpus]


def _table(counts: dict[str, Counter[str]]) -> str:
    lines = [f"{'target':<10} {'planted':>7} {'found':>6} {'recall':>6} {'matched':>7} {'precision':>9}"]
    for target, c in sorted(counts.items()):
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        lines.append(f"{target:<10} {c['tp'] + c['fn']:>7} {c['tp']:>6} {recall:>6.3f} {c['tp'] + c['fp']:>7} "
                     f"{precision:>9.3f}")
    return "\n".join(lines)


def test_the_corpus_covers_every_target(config: Config, corpus: list[Planted]) -> None:
    ids = {t.id for t in config.targets}
    assert set(TRUE_FORMS) == ids
    assert set(DECOY_FORMS) == ids
    assert all(len(TRUE_FORMS[i]) >= 7 and DECOY_FORMS[i] for i in ids)
    assert len(corpus) > 5000
    assert any(c.text.startswith("The artificial intelligence venture Stargate will cost $500 billion") for c in corpus)


def test_frames_hold_no_alias_and_no_context_word(config: Config, matcher: Matcher) -> None:
    """Else a frame, not the form, would make a case pass: an ambiguous alias alone in a frame stays unmatched."""
    ambiguous = {alias for t in config.targets for alias in t.ambiguous_aliases}
    for frame in FRAMES:
        for word in ("", *sorted(ambiguous)):
            text = frame.replace("{M}", word).replace("{m}", word)
            assert matcher.match(text) == [], text


def test_planted_mentions_found_and_decoys_not(matcher: Matcher, corpus: list[Planted],
                                               matched: list[frozenset[str]]) -> None:
    counts: dict[str, Counter[str]] = {t: Counter() for t in matcher.targets}
    misses: list[str] = []
    for case, found in zip(corpus, matched, strict=True):
        for target in case.mentions | found:
            outcome = "tp" if target in case.mentions and target in found else "fn" if target in case.mentions else "fp"
            counts[target][outcome] += 1
            if outcome != "tp":
                misses.append(f"{outcome} {target}: {case.text!r}")
    table = _table(counts)
    print("\n" + table)  # shown with pytest -s: the per-target figures
    assert not misses, f"{len(misses)} wrong:\n" + "\n".join(misses[:40]) + "\n" + table
    decoys = [case for case in corpus if not case.planted]
    assert all(case.subject not in found for case, found in zip(corpus, matched, strict=True) if not case.planted)
    assert {case.subject for case in decoys} == set(matcher.targets)


@pytest.mark.parametrize("text, target, matched_today, why", KNOWN_LIMITS, ids=[k[0][:40] for k in KNOWN_LIMITS])
def test_known_limits_are_as_documented(matcher: Matcher, text: str, target: str, matched_today: bool,
                                        why: str) -> None:
    assert (target in {m.target_id for m in matcher.match(text)}) is matched_today, why


def test_the_corpus_catches_the_old_unanchored_exclusion(config: Config, corpus: list[Planted]) -> None:
    """The corpus has teeth: with the exclusion as it was (no word boundary, so "cia" in "social",
    "financial", "special", "official"), planted Stargate mentions are lost."""
    changed = config.model_copy(deep=True)
    stargate = next(t for t in changed.targets if t.id == "stargate")
    stargate.exclude.append("(?i)(cia|psychic|remote viewing).{0,60}stargate")
    old = Matcher(changed)
    lost = [case.text for case in corpus if case.planted and case.subject == "stargate"
            and "stargate" not in {m.target_id for m in old.match(case.text)}]
    assert any("artificial intelligence venture" in text for text in lost)
    assert len(lost) >= 100

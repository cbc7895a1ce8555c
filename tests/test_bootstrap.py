"""`monitor stance bootstrap`: a target's stance learned from its own unlabelled posts via cues."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime
from pathlib import Path

import pytest

from monitor.analysis.bootstrap import CUE, MODEL, cue_label, label_counts, weak_labels
from monitor.analysis.stance import StanceResult

FAVOR_WORDS = ["visionary", "brilliant leadership", "so inspiring", "thank you for building this", "a true builder"]
AGAINST_WORDS = ["a grifter", "vaporware again", "all hype no product", "a total con", "another empty promise"]


def _posts(seed: int, n: int, cues: bool) -> list[tuple[str, str]]:
    """(text, side) about Altman: each side has its own vocabulary; with ``cues`` each post also
    carries its side's hashtag, as people's posts do."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        side = "favor" if i % 2 else "against"
        words = rng.choice(FAVOR_WORDS if side == "favor" else AGAINST_WORDS)
        tag = (" #ThankYouSam" if side == "favor" else " #StopAltman") if cues else ""
        out.append((f"Sam Altman is {words} ({i}){tag}", side))
    return out


def test_cue_label_takes_one_side_only() -> None:
    favor, against = [re.compile(r"#maga\b", re.I)], [re.compile(r"#dumptrump\b", re.I)]
    assert cue_label("Rally tonight #MAGA", favor, against) == "favor"
    assert cue_label("#DumpTrump now", favor, against) == "against"
    assert cue_label("#MAGA vs #DumpTrump: the debate", favor, against) is None  # both sides: no label
    assert cue_label("#MAGAthon", favor, against) is None  # cues are regexes: \b is respected


def test_weak_labels_from_cues_and_confident_calls() -> None:
    favor, against = [re.compile("#yes")], [re.compile("#no")]
    texts = ["a #yes", "a #yes", "b #no", "c", "d", "e"]
    base = [StanceResult("none", 0.0, "s", "v")] * 3 + [StanceResult("favor", 0.9, "s", "v"),
                                                         StanceResult("against", -0.2, "s", "v"),
                                                         StanceResult("none", 0.01, "s", "v")]
    cues_only = weak_labels(texts, favor, against)
    assert [(w.text, w.label) for w in cues_only] == [("a #yes", "favor"), ("b #no", "against")]  # repeats once
    labelled = weak_labels(texts, favor, against, base, confident=0.6, none_below=0.05)
    assert [(w.text, w.label, w.source) for w in labelled[2:]] == [("c", "favor", MODEL), ("e", "none", MODEL)]
    assert label_counts(labelled) == {CUE: {"favor": 1, "against": 1}, MODEL: {"favor": 1, "none": 1}}


def test_bootstrap_learns_from_cued_posts_and_scores_uncued_ones(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("numpy")
    unlabelled = tmp_path / "posts.csv"
    unlabelled.write_text("text\n" + "\n".join(t for t, _ in _posts(1, 120, cues=True)) + "\n")
    held_out = tmp_path / "held.csv"  # no hashtag at all: only what the model learned beside the cues
    held_out.write_text("text,label\n" + "\n".join(f"{t},{side}" for t, side in _posts(2, 40, cues=False)) + "\n")
    result = cli("stance", "bootstrap", "--target", "altman", "--from", str(unlabelled), "--favor", "#ThankYouSam",
                 "--against", "#StopAltman", "--eval", str(held_out))
    assert result.exit_code == 0, result.output
    assert "120 weak labels from posts that used one side's cues: against 60, favor 60" in result.output
    f_avg = float(re.search(r"F_avg (\d\.\d+)", result.output).group(1))
    assert f_avg >= 0.9, result.output
    folder = tmp_path / "data" / "models" / "stance" / "altman"
    saved = json.loads((folder / (folder / "current").read_text().strip()).read_text())
    assert saved["meta"]["source"] == "bootstrap"


def test_bootstrap_reads_stored_posts_and_says_what_is_missing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("numpy")
    from monitor.store import Store

    store = Store(tmp_path / "data")
    with store.write_connection() as con:
        for i, (text, _) in enumerate(_posts(3, 30, cues=True)):
            con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                        "tool_version) VALUES (?, 'x', ?, ?, ?, ?, 'test', 'test')",
                        [f"x:{i}", str(i), text, datetime(2025, 1, 1), datetime(2025, 1, 1)])
            con.execute("INSERT INTO mentions VALUES (?, 'altman', NULL, 'r')", [f"x:{i}"])
    assert "no stored posts mention 'musk'" in cli("stance", "bootstrap", "--target", "musk").output
    no_cues = cli("stance", "bootstrap", "--target", "altman")
    assert no_cues.exit_code == 1 and "too few posts with cues of each side" in no_cues.output
    bad = cli("stance", "bootstrap", "--target", "altman", "--favor", "#(")
    assert bad.exit_code == 2 and "not a valid regex" in bad.output
    dry = cli("stance", "bootstrap", "--target", "altman", "--favor", "#thankyousam", "--against", "#stopaltman",
              "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "30 posts about 'altman'; scoring them" in dry.output and "not saved" in dry.output

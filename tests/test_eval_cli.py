"""`monitor eval`, `monitor stance ...`, `monitor label`, run through a click group that sets the same
context object as the main CLI (config, data_dir, console)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from monitor.config import Config, load_config
from monitor.eval_cli import eval_command, label_command, stance_group

ROOT = Path(__file__).resolve().parents[1]


class App:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.console = Console(width=140, force_terminal=False, color_system=None)
        self.err = Console(width=140, force_terminal=False, color_system=None, stderr=True)

    @cached_property
    def config(self) -> Config:
        config = load_config(ROOT / "config" / "monitor.toml")
        config.analysis.analyzer = "vader"  # these tests check the VADER path's figures
        return config


@click.group()
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.pass_context
def cli(ctx: click.Context, data_dir: Path) -> None:
    ctx.obj = App(data_dir)


cli.add_command(eval_command)
cli.add_command(stance_group)
cli.add_command(label_command)


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), *args], input=input)
    return invoke


STANCE_CSV = ("text,label,target\n"
              "Acme is brilliant and I love them,FAVOR,Acme Corp\n"
              "Acme is a scam run by crooks,against,Acme Corp\n"
              "Sam Altman is a liar,Against,Sam Altman\n"
              "Acme opened an office,none,Acme Corp\n")


def test_eval_prints_the_table(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine.csv"
    path.write_text(STANCE_CSV)
    result = run("eval", str(path))
    assert result.exit_code == 0, result.output
    for word in ("F_avg", "F1 favor", "vader-as-stance", "majority", "Acme Corp", "confusion", "stance-rules"):
        assert word in result.output
    data = json.loads(run("eval", str(path), "--json", "--no-baselines").output)
    assert data["task"] == "stance" and data["groups"]["all"]["ours"]["f_avg"] == 1.0
    assert "vader-as-stance" not in data["groups"]["all"]


def test_eval_tries_targets_from_a_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--targets: a target's cues tried without editing the config (the topic is never named)."""
    path = tmp_path / "topic.csv"
    path.write_text("text,label,target\n"
                    "Pray for our nation tonight. Jesus is the way,against,Atheism\n"
                    "Religion is a delusion and a fairy tale,favor,Atheism\n", encoding="utf-8")
    bare = json.loads(run("eval", str(path), "--json", "--no-baselines").output)
    cued = json.loads(run("eval", str(path), "--json", "--no-baselines",
                          "--targets", str(ROOT / "config" / "examples" / "debate-topics.toml")).output)
    assert cued["groups"]["Atheism"]["ours"]["f_avg"] == 1.0
    assert bare["groups"]["Atheism"]["ours"]["f_avg"] < 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text("[[targets]]\nid = 'x'\n", encoding="utf-8")
    result = run("eval", str(path), "--targets", str(bad))
    assert result.exit_code != 0 and "bad.toml" in result.output and "name" in result.output


def test_eval_sentiment_and_thresholds(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "I love this so much", "label": "positive"}, {"text": "it is a chair", "label": "neutral"},
        {"text": "this is terrible", "label": "negative"}, {"text": "ok I guess", "label": "neutral"}]))
    result = run("eval", str(path))
    assert result.exit_code == 0 and "AvgRec" in result.output and "stock-vader" in result.output
    data = json.loads(run("eval", str(path), "--json", "--sentiment-thresholds", "0.3,-0.1").output)
    assert data["groups"]["all"]["ours"]["avg_recall"] == 1.0
    assert data["notes"] == ["our labels: the configured thresholds on the compound (positive >= 0.3, "
                             "negative <= -0.1)"]
    learned = json.loads(run("eval", str(path), "--json", "--analyzer", "learned").output)
    assert learned["scorers"]["ours"].startswith("learned ") and "most probable class" in learned["notes"][0]
    assert run("eval", str(path), "--sentiment-thresholds", "oops").exit_code == 2


def test_eval_errors_are_plain_messages(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "n.csv"
    path.write_text("text,label\nhello,0\nbye,1\n")
    result = run("eval", str(path))
    assert result.exit_code == 1 and "--label-map" in result.output
    assert run("eval", str(path), "--label-map", "0=against,1=favor", "--target", "nobody").exit_code == 2
    result = run("eval", str(path), "--label-map", "0=against,1=favor", "--target", "musk")
    assert result.exit_code == 0 and "Elon Musk" in result.output


def _training_csv(path: Path) -> Path:
    favor = ["love what {} is doing", "{} is doing a great job", "so proud of {}", "{} is brilliant",
             "thank you {}", "{} has my support"]
    against = ["{} is a disaster", "can't stand {}", "{} ruined everything", "{} should resign",
               "{} is a fraud", "{} lies again"]
    lines = ["text,label"]
    for name in ("Altman", "Sam", "him", "Sam Altman"):
        lines += [f"{t.format(name)},favor" for t in favor] + [f"{t.format(name)},against" for t in against]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_stance_train_list_reset(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("numpy")
    labels = _training_csv(tmp_path / "altman.csv")
    dry = run("stance", "train", "--target", "altman", str(labels), "--eval", str(labels), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "F_avg 1.000" in dry.output and "not saved" in dry.output
    assert "5-fold cross-validation" in dry.output and "combined" in dry.output
    assert not (tmp_path / "data" / "models").exists()
    as_json = run("stance", "train", "--target", "altman", str(labels), "--eval", str(labels), "--dry-run", "--json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)  # progress went to stderr: stdout is the JSON alone
    assert report["target"] == "altman" and report["file"] is None and report["eval"]["f_avg"] == 1.0
    assert report["scorer"] == "stance-linear" and report["version"] and report["examples"]["favor"] == 24
    result = run("stance", "train", "--target", "altman", str(labels))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "data" / "models" / "stance" / "altman"
    assert (folder / "current").is_file()
    saved = json.loads((folder / (folder / "current").read_text().strip()).read_text())
    assert saved["target"]["id"] == "altman" and "Sam Altman" in saved["target"]["aliases"]  # from the config
    listing = run("stance", "list").output
    assert "stance-linear" in listing and "stance-rules" in listing
    assert "favor 24" in listing
    assert "zero-shot scorer" in run("stance", "reset", "--target", "altman").output
    assert "stance-linear" not in run("stance", "list").output


def test_stance_train_checks_its_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "other.csv"
    path.write_text(STANCE_CSV)
    result = run("stance", "train", "--target", "musk", str(path))
    assert result.exit_code == 1 and "no rows are about target 'musk'" in result.output
    assert run("stance", "train", "--target", "nobody", str(path)).exit_code == 2
    sentiment = tmp_path / "s.csv"
    sentiment.write_text("text,label\ngood,positive\nbad,negative\n")
    assert "stance training needs" in run("stance", "train", "--target", "musk", str(sentiment)).output


def _store_with_posts(data_dir: Path, texts: list[str]) -> None:
    from monitor.store import Store

    store = Store(data_dir)
    with store.write_connection() as con:
        for i, text in enumerate(texts):
            con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                        "tool_version) VALUES (?, 'x', ?, ?, ?, ?, 'test', 'test')",
                        [f"x:{i}", str(i), text, datetime(2025, 1, 1), datetime(2025, 1, 1)])
            con.execute("INSERT INTO mentions VALUES (?, 'musk', NULL, 'r')", [f"x:{i}"])


def test_label_appends_and_resumes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    _store_with_posts(data_dir, ["Musk is great", "[bold]Musk[/bold] is bad \x1b[31m", "Musk again", "Musk!"])
    result = run("label", "--target", "musk", "--seed", "1", input="f\na\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert "[bold]Musk[/bold] is bad" in result.output  # post text is shown literally, never as markup
    assert "\x1b" not in result.output and "\\x1b[31m" in result.output  # escape sequences made visible
    labels = data_dir / "labels" / "musk.csv"
    rows = labels.read_text().splitlines()
    assert rows[0] == "text,label,target,post_key" and len(rows) == 3
    again = run("label", "--target", "musk", input="n\nn\nn\nn\n")
    assert again.exit_code == 0
    lines = labels.read_text().splitlines()
    assert len(lines) == 5  # two left to label (one skipped, one never shown); none labelled twice
    done = run("label", "--target", "musk", input="q\n")
    assert "no unlabelled stored posts" in done.output


def test_label_without_a_store(run) -> None:  # type: ignore[no-untyped-def]
    result = run("label", "--target", "musk")
    assert result.exit_code == 1 and "no database yet" in result.output

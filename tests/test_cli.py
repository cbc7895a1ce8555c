"""The command line end to end: run --once on the bundled sample, summary, sql, export, score."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from tests.conftest import EVAL_DIR, config_file, post, write_jsonl

HOSTILE = ("Musk says [bold red]they[/bold red] DON'T have the money \x1b[31mRED\x1b[0m "
           "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 [link=https://x]y[/link]")


def test_help_teaches(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("import", "run", "summary", "sql", "export", "score"):
        assert command in result.output
    assert "--since" in cli("summary", "--help").output
    assert "Formats" in cli("import", "--help").output


def test_summary_and_sql_show_post_text_literally(cli, tmp_path: Path) -> None:
    archive = write_jsonl(tmp_path / "a.jsonl", [post(1, HOSTILE, likes=50), post(2, "Altman: what a huge win")])
    assert cli("import", str(archive)).exit_code == 0
    out = cli("summary", "--top", "5").output
    assert "[bold red]they[/bold red]" in out
    assert "[link=https://x]y[/link]" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mRED" in out  # shown, not obeyed
    for fmt in ("table", "line"):
        sql_out = cli("sql", "SELECT text FROM posts WHERE text LIKE ?", "--param", "%money%", "--format", fmt).output
        assert "[bold red]they[/bold red]" in sql_out
        assert "\x1b" not in sql_out
    # CSV is data for other programs (here not a terminal): the exact text (tests/test_cli_sql.py).
    csv_out = cli("sql", "SELECT text FROM posts WHERE post_id = '1'", "--format", "csv").output
    assert csv_out.splitlines()[1].strip('"') == HOSTILE
    data = json.loads(cli("sql", "SELECT text FROM posts WHERE post_id = '1'", "--format", "json").output)
    assert data == [{"text": HOSTILE}]  # JSON keeps the exact text, escaped by JSON itself


def test_import_leaves_the_database_file_whole(cli, tmp_path: Path, data_dir: Path) -> None:
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, f"Altman on Stargate, take {i}") for i in range(5)])
    assert cli("import", str(archive)).exit_code == 0
    assert not (data_dir / "monitor.duckdb.wal").exists()  # folded in: a copy of the file alone has everything
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes((data_dir / "monitor.duckdb").read_bytes())
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone() == (5,)


def test_summary_json_numbers(cli, tmp_path: Path) -> None:
    records = [post(i, "Elon Musk is wrong and dishonest" if i % 2 else "Elon Musk is brilliant, great work",
                    likes=i) for i in range(10)]
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", records)))
    data = json.loads(cli("summary", "--json").output)
    [musk] = data["targets"]
    assert musk["target_id"] == "musk" and musk["posts"] == 10
    assert musk["stance"]["favor"] == 5 and musk["stance"]["against"] == 5
    assert "│ 50/50/0 │" in cli("summary").output  # percent for / against / neither
    assert sum(musk["trend"]) == 10
    assert data["most_engaged"][0]["engagement"] == 9
    assert data["most_negative"][0]["sentiment"] < 0 < data["most_positive"][0]["sentiment"]
    assert data["freshness"]["posts_total"] == 10
    assert data["platforms"] == [{"platform": "x", "posts": 10}]
    assert json.loads(cli("summary", "--json", "--target", "altman").output)["targets"] == []
    assert cli("summary", "--target", "nobody").exit_code != 0


def test_sql_is_read_only_and_reports_errors(cli, tmp_path: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Musk")])))
    result = cli("sql", "DELETE FROM posts")
    assert result.exit_code != 0 and "read-only" in result.output.lower()
    assert cli("sql", "SELEC nonsense").exit_code != 0
    assert json.loads(cli("sql", "SELECT count(*) AS n FROM posts", "--format", "json").output) == [{"n": 1}]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export(cli, tmp_path: Path, fmt: str) -> None:
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Musk and Altman"), post(2, "Oracle only")])))
    out = tmp_path / f"export.{fmt}"
    result = cli("export", "--format", fmt, "--output", str(out), "--target", "musk")
    assert result.exit_code == 0, result.output
    reader = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}[fmt]
    rows = duckdb.sql(f"SELECT post_id, mentions FROM {reader}('{out}')").fetchall()
    assert len(rows) == 1 and rows[0][0] in ("1", 1)
    assert "altman" in str(rows[0][1]) and "musk" in str(rows[0][1])


def test_score_says_what_is_wrong_with_a_line(cli) -> None:
    """Bad lines: the id when there is one (scripts join on it), and what the line should be."""
    lines = ["hello Sam Altman", "[1, 2]", json.dumps({"id": 7}), json.dumps({"id": 8, "text": 5}),
             json.dumps({"id": 9, "text": "Stargate is fine"})]
    out = [json.loads(line) for line in cli("score", "-", input="\n".join(lines)).output.splitlines()]
    assert [(o.get("id"), o.get("line")) for o in out] == [(None, 1), (None, 2), (7, 3), (8, 4), (9, None)]
    assert "not valid JSON" in out[0]["error"] and "--text" in out[0]["error"]
    assert "not an object" in out[1]["error"]
    assert out[2]["error"] == "missing field 'text'" and out[3]["error"] == "'text' must be a string"


def test_score_jsonl(cli) -> None:
    lines = "\n".join([
        json.dumps({"id": 1, "text": "Sam Altman is doing a great job!"}),
        "not json",
        json.dumps({"id": 3, "text": "I really hate this, it is awful."}),
        json.dumps({"id": 4, "text": "Die Pläne von OpenAI sind nicht gut und das ist schlecht", "lang": "de"}),
    ])
    result = cli("score", "-", input=lines)
    out = [json.loads(line) for line in result.output.splitlines()]
    assert len(out) == 4
    assert out[0]["id"] == 1 and out[0]["sentiment"]["label"] == "positive"
    assert out[0]["stance"]["altman"]["label"] == "favor"
    assert out[0]["mentions"] == [{"target": "altman", "alias": "Sam Altman"}]
    assert out[1]["error"] and out[1]["line"] == 2
    assert out[2]["sentiment"]["label"] == "negative" and out[2]["stance"] == {} and out[2]["mentions"] == []
    assert out[3]["sentiment"] is None and out[3]["mentions"][0]["target"] == "openai"
    forced = [json.loads(x) for x in cli("score", "--target", "musk", input=lines).output.splitlines()]
    assert forced[2]["stance"]["musk"]["label"] == "against"
    assert forced[2]["mentions"] == []


def test_score_shows_its_progress_on_a_terminal_and_keeps_stdout_for_the_results(tmp_path: Path) -> None:
    """A file of 100,000 lines was scored in silence for minutes. Now a bar runs on standard error where
    that is a terminal (here a pseudo-terminal), and the results still go to stdout, every one, in order
    (rich's bar sends stdout to its own console unless told not to)."""
    import os
    import pty

    from tests.conftest import CONFIG_PATH

    lines = [json.dumps({"id": i, "text": f"Sam Altman is doing a great job, part {i}"}) for i in range(600)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    shown: list[bytes] = []

    def drain() -> None:  # read the terminal as it is written: a full one would stop the command
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # closed: the command ended
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with (tmp_path / "out.jsonl").open("w", encoding="utf-8") as out:
        done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(CONFIG_PATH), "--data-dir",
                               str(tmp_path / "data"), "score", "--analyzer", "vader", str(source)],
                              stdout=out, stderr=terminal, env=env, timeout=60)
    os.close(terminal)
    reader.join(timeout=5)
    os.close(controller)
    assert done.returncode == 0
    results = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == list(range(600)) and all("sentiment" in r for r in results)
    bar = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(shown).decode("utf-8", errors="replace"))
    assert "scoring" in bar and "600/? posts" in bar


def test_score_correlates_with_vader_human_ratings(cli, tmp_path: Path) -> None:
    path = EVAL_DIR / "vader_icwsm2014" / "tweets_GroundTruth.txt"
    if not path.exists():
        pytest.skip("../shared/eval is not available")
    means, lines = [], []
    for row in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = row.split("\t")
        if len(parts) >= 3:
            means.append(float(parts[1]))
            lines.append(json.dumps({"id": parts[0], "text": "\t".join(parts[2:])}))
    result = cli("score", "--lang", "en", input="\n".join(lines))
    scores = [json.loads(line)["sentiment"]["compound"] for line in result.output.splitlines()]
    assert len(scores) == len(means) == 4200
    r = _pearson(scores, means)
    print(f"VADER tweets: Pearson r = {r:.4f}")
    assert r >= 0.87


def _pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def offline_config(tmp_path: Path) -> Path:
    """The bundled config with every live source enabled and pointed at a closed port here."""
    from monitor.sources.api import load_sources

    def edit(data: dict) -> None:
        for name, collector in load_sources().collectors.items():
            scheme = "ws" if collector.base_url.startswith("ws") else "http"
            data.setdefault("sources", {}).setdefault(name, {}).update(enabled=True, base_url=f"{scheme}://127.0.0.1:9")

    return config_file(tmp_path / "offline.toml", edit)


def test_quick_start_main_job_offline(tmp_path: Path) -> None:
    """`monitor run --once && monitor summary` with a fresh data dir and every live source
    unreachable: one line per source, and the archives still imported. Run from a folder that is not
    the project's: the config's sample (``package:sample``) is the one shipped in the package."""
    env = {"MONITOR_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    config = str(offline_config(tmp_path))
    run = subprocess.run([sys.executable, "-m", "monitor", "--config", config, "run", "--once", "--json"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr  # every live source failed, but the archives were imported
    assert "every live source failed" in run.stderr
    cycle = json.loads(run.stdout)
    failures = [line for line in run.stderr.splitlines() if "offline" in line and not line.startswith("warning:")]
    assert len(failures) >= 2 and all("next try" in line for line in failures)
    assert all(reports and reports[0]["coverage"] == "failed" for reports in cycle["collectors"].values() if reports)
    imported = {Path(r["path"]).name: r for r in cycle["imports"]}
    assert imported["guardian_us_2018-01-31.rss.xml"]["records"] == 55
    assert sum(r["posts_new"] for r in cycle["imports"]) > 10
    summary = subprocess.run([sys.executable, "-m", "monitor", "--config", config, "summary", "--json"], cwd=tmp_path,
                             env=env,
                             capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert any(t["target_id"] == "trump" for t in data["targets"])
    again = subprocess.run([sys.executable, "-m", "monitor", "--config", config, "run", "--once", "--json"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert sum(r["posts_new"] for r in json.loads(again.stdout)["imports"]) == 0


def test_status_fits_a_narrow_terminal(tmp_path: Path) -> None:
    """Each source on one line of the table; its last error whole (and literal) below it; times relative."""
    import io
    from datetime import datetime, timedelta

    from rich.console import Console

    from monitor import status
    from monitor.store import Store, WriteBatch

    store = Store(tmp_path)
    store.ensure()
    now = datetime(2025, 3, 1, 12, 0)
    error = "offline: cannot connect to jetstream2.us-east.bsky.network: [bold]Name[/bold] \x1b[31mnot known"
    batch = WriteBatch()
    batch.add_rows("runs", [{"run_id": 1, "source": "bluesky_jetstream", "query": "q",
                             "started_at": now - timedelta(minutes=5), "error": error, "coverage": "failed"}])
    store.write(batch)
    data = status.compute(store, tmp_path, now=now)
    console = Console(width=80, record=True, file=io.StringIO(), force_terminal=True)
    status.render(data, console)
    out = console.export_text()
    [row] = [line for line in out.splitlines() if line.startswith("│ bluesky_jetstream") and "failed" in line]
    assert "5 min ago" in row
    assert "[bold]Name[/bold]" in out and "\\x1b[31mnot known" in out
    assert "\x1b[31mnot" not in console.file.getvalue()  # the post's escape is shown, never sent


def test_relative_times() -> None:
    from datetime import UTC, datetime

    from monitor.terminal import ago

    now = datetime(2025, 3, 1, 12, 0)
    assert ago("2025-03-01T11:55:00", now) == "5 min ago"
    assert ago(datetime(2025, 3, 1, 12, 30, tzinfo=UTC), now) == "in 30 min"
    assert ago("2025-02-25T12:00:00+00:00", now) == "4 days ago"
    assert ago(None, now) == "never"


def test_summary_shows_spikes(cli, tmp_path: Path) -> None:
    """Two Musk posts a day for ten days, then 30 in one day: that day is a spike, with its most engaged
    post; Altman's steady volume is not."""
    records = []
    for day in range(10):
        for k in range(2):
            records.append({"platform": "x", "id": f"m{day}-{k}", "text": "Elon Musk says hello",
                            "created_at": f"2025-01-{day + 1:02d}T10:0{k}:00Z", "author": "a"})
            records.append({"platform": "x", "id": f"a{day}-{k}", "text": "Sam Altman again",
                            "created_at": f"2025-01-{day + 1:02d}T11:0{k}:00Z", "author": "b"})
    for k in range(30):
        records.append({"platform": "x", "id": f"s{k}", "created_at": f"2025-01-11T{k % 24:02d}:30:00Z",
                        "author": f"u{k}", "likes": k,
                        "text": f"Musk says [red]they[/red] DON'T have the money, take {k}"})
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", records)))
    data = json.loads(cli("summary", "--json", "--since", "all").output)
    [spike] = data["spikes"]
    assert (spike["target_id"], spike["unit"], spike["start"][:10], spike["posts"]) == ("musk", "day", "2025-01-11", 30)
    assert spike["ratio"] > 3
    assert spike["top_post"]["text"].endswith("take 29") and spike["top_post"]["engagement"] == 29
    out = cli("summary", "--since", "all").output
    assert "Spikes" in out and "2025-01-11" in out and "[red]they[/red]" in out


def test_summary_says_who_says_what_about_whom(cli, tmp_path: Path) -> None:
    """Posts from a target's own accounts (config `accounts`; default its handles on X) that mention another
    target: Musk on Altman and Stargate, Altman on Musk on X and on Hacker News. Not: a 'sama' on Reddit
    (not his account there), anyone else, a speaker naming only himself."""
    posts = [  # platform, id, hour, author, text
        ("x", "1", 10, "elonmusk", "Sam Altman and the [bold]Stargate[/bold] crowd don't have the money lol"),
        ("x", "2", 12, "ElonMusk", "Altman is a swindler"),
        ("x", "3", 13, "sama", "Wrong, as you surely know, Elon Musk"),
        ("hackernews", "4", 14, "sama", "Elon Musk is wrong about this"),
        ("reddit", "5", 15, "sama", "Elon Musk is right"),
        ("x", "6", 15, "someone", "Elon Musk and Sam Altman again"),
        ("x", "7", 16, "elonmusk", "Elon Musk here, hello"),
    ]
    records = [{"platform": platform, "id": i, "created_at": f"2025-01-23T{hour}:00:00Z", "author": author,
                "text": text} for platform, i, hour, author, text in posts]
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", records)))
    voices = json.loads(cli("summary", "--json").output)["voices"]
    pairs = {(v["speaker_id"], v["target_id"]): v for v in voices}
    assert {k: v["posts"] for k, v in pairs.items()} == {
        ("musk", "altman"): 2, ("altman", "musk"): 2, ("musk", "stargate"): 1}
    assert pairs[("musk", "altman")]["latest"]["text"] == "Altman is a swindler"  # the newest
    assert pairs[("altman", "musk")]["latest"]["platform"] == "hackernews"
    assert pairs[("musk", "stargate")]["stance"]["against"] == 1  # the config's cue: "don't have the money"
    only_stargate = json.loads(cli("summary", "--json", "--target", "stargate").output)["voices"]
    assert [(v["speaker_id"], v["target_id"]) for v in only_stargate] == [("musk", "stargate")]
    out = cli("summary").output
    assert "Who says what about whom" in out and "Elon Musk → Sam Altman" in out and "[bold]Stargate[/bold]" in out
    rows = cli("sql", "SELECT speaker_id, target_id, platform FROM v_voices ORDER BY post_key, target_id",
               "--format", "json").output
    assert [tuple(r.values()) for r in json.loads(rows)] == [
        ("altman", "musk", "hackernews"), ("musk", "altman", "x"), ("musk", "stargate", "x"), ("musk", "altman", "x"),
        ("altman", "musk", "x")]


def test_summary_lists_a_repeated_text_once(cli, tmp_path: Path) -> None:
    """Retweets repeat a text: the notable-post lists show it once, leaving room for other posts."""
    records = [post(i, "RT @fan: Sam Altman is brilliant, a wonderful win", likes=10) for i in range(4)]
    records.append(post(9, "Sam Altman did a good thing", likes=1))
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", records)))
    data = json.loads(cli("summary", "--json", "--top", "3").output)
    texts = [p["text"] for p in data["most_positive"]]
    assert texts == ["RT @fan: Sam Altman is brilliant, a wonderful win", "Sam Altman did a good thing"]
    assert [p["text"][:7] for p in data["most_engaged"]] == ["RT @fan", "Sam Alt"]


def test_sql_table_right_aligns_numbers(cli, tmp_path: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Musk")])))
    out = cli("sql", "SELECT 7 AS a_number, 'x' AS a_string").output
    assert "│        7 │ x        │" in out


def test_import_exit_status(cli, tmp_path: Path) -> None:
    """A missing or unrecognised input fails the command (the others are still imported); bad records alone do not."""
    good = write_jsonl(tmp_path / "good.jsonl", [post(1, "Musk"), post(2, "Altman")])
    result = cli("import", str(tmp_path / "missing.jsonl"), str(good))
    assert result.exit_code == 1 and "does not exist" in result.output
    assert result.output.strip().endswith("1 of 2 inputs read: 2 records, 2 new, 0 already stored, 0 without a "
                                          "target; 1 failed")  # the sum of many inputs, last
    assert json.loads(cli("sql", "SELECT count(*) AS n FROM posts", "--format", "json").output) == [{"n": 2}]
    assert cli("import", str(good), str(good)).output.strip().endswith("0 of 2 inputs read; 2 already imported")
    (tmp_path / "notes.txt").write_text("hello\nworld\n", encoding="utf-8")
    assert cli("import", str(tmp_path / "notes.txt")).exit_code == 1
    with_bad_line = tmp_path / "bad.jsonl"
    with_bad_line.write_text(json.dumps(post(3, "Musk again")) + "\n{not json\n", encoding="utf-8")
    result = cli("import", str(with_bad_line), "--json")
    assert result.exit_code == 0
    [report] = json.loads(result.output)
    assert (report["posts_new"], report["errors"], report["failed"]) == (1, 1, False)
    assert cli("import", str(good)).exit_code == 0  # already imported: nothing to do, not a failure


def test_summary_says_what_stance_rests_on(cli, tmp_path: Path) -> None:
    """Rules for every target until one has a trained model; then the summary names the model."""
    pytest.importorskip("numpy")
    from monitor.analysis.stance import RULES_VERSION
    from tests.test_eval_cli import _training_csv

    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk is brilliant"),
                                                          post(2, "Sam Altman is a fraud")])))
    targets = {t["target_id"]: t for t in json.loads(cli("summary", "--json").output)["targets"]}
    assert targets["musk"]["stance_scorers"] == [{"scorer": "stance-rules", "version": RULES_VERSION, "posts": 1}]
    assert "trained on your labels" not in cli("summary").output
    assert cli("stance", "train", "--target", "altman", str(_training_csv(tmp_path / "altman.csv"))).exit_code == 0
    cli("import", str(write_jsonl(tmp_path / "b.jsonl", [post(3, "Sam Altman lies again")])))
    targets = {t["target_id"]: t for t in json.loads(cli("summary", "--json").output)["targets"]}
    assert sorted(s["scorer"] for s in targets["altman"]["stance_scorers"]) == ["stance-linear", "stance-rules"]
    assert "Sam Altman: stance from a model trained on your labels" in cli("summary").output


def test_sources_show_what_each_needs_whole(cli) -> None:
    out = cli("sources").output
    for name in ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD", "X_BEARER_TOKEN"):
        assert name in out  # whole, not folded or cut to 'BLUESKY_HAND…'
    assert "bluesky_search     disabled" in out
    data = json.loads(cli("sources", "--json").output)
    assert {r["source"] for r in data} >= {"hackernews", "x"}


def test_run_once_fails_only_when_the_cycle_got_nothing(cli, tmp_path: Path) -> None:
    """Offline with archives read: exit 0 and a line (the quick start's `&&` goes on); offline with
    no archive either: exit 1."""
    def offline_only(data: dict) -> None:
        data["archives"] = []
        data.setdefault("analysis", {}).update(analyzer="vader")
        data["sources"] = {"hackernews": {"enabled": True, "base_url": "http://127.0.0.1:9", "max_pages": 1,
                                          "queries": ["Altman"]}}
        data["sources"].update({name: {"enabled": False} for name in ("bluesky_jetstream", "mastodon", "reddit",
                                                                      "news")})

    result = cli("run", "--once", config=config_file(tmp_path / "none.toml", offline_only))
    assert result.exit_code == 1 and "every source failed (hackernews)" in result.output


def test_status_warns_while_the_contact_is_the_placeholder(cli, tmp_path: Path) -> None:
    assert "placeholder" in cli("status").output  # the bundled config's contact
    mine = config_file(tmp_path / "mine.toml", lambda data: data.update(contact="desk@example.org"))
    assert "placeholder" not in cli("status", config=mine).output


def test_import_of_standard_input(cli, data_dir: Path) -> None:
    """`monitor import -` (zstd -dc dump.zst | jq ... | monitor import -) was refused: the input is saved
    under DATA_DIR/stdin/, named for its compression, and imported from there; bad records name its lines."""
    import gzip

    lines = '{"id": "1", "text": "Elon Musk", "created_at": "2025-01-01"}\n{not json\n'
    result = cli("import", "-", input=lines)
    assert result.exit_code == 0 and "standard input saved to" in result.output and "1 new" in result.output
    [saved] = (data_dir / "stdin").iterdir()
    assert saved.read_text(encoding="utf-8") == lines and f"{saved}:2" in result.output
    packed = cli("import", "-", input=gzip.compress(b'{"id": "2", "text": "Sam Altman", "created_at": "2025-01-02"}\n'))
    assert packed.exit_code == 0 and "1 new" in packed.output
    assert sorted(p.suffix for p in (data_dir / "stdin").iterdir()) == ["", ".gz"]


def test_progress_shows_the_rate_and_the_time_left() -> None:
    """A long import or rescore said how many posts were done, not how fast nor how long is left."""
    from types import SimpleNamespace

    from monitor.progress import RateColumn

    column = RateColumn()
    task = SimpleNamespace(finished_speed=None, speed=1234.4, total=1_000_000, completed=100_000, fields={})
    assert str(column.render(task)) == "1,234/s · 0:12:09 left"
    unknown = {"finished_speed": None, "total": None, "fields": {}}
    assert str(column.render(SimpleNamespace(speed=50.0, completed=7, **unknown))) == "50/s"
    assert str(column.render(SimpleNamespace(speed=None, completed=0, **unknown))) == ""


def test_an_imports_progress_shows_the_time_left_for_the_file(monkeypatch) -> None:
    """An import knows how much of a file it has read, not how many posts it holds: the time left for
    the file at the pace so far, counting down between the updates of the share; the bar shows the share."""
    from types import SimpleNamespace

    from monitor import progress

    monkeypatch.setattr(progress.time, "monotonic", lambda: 1030.0)
    fields = {"since": 1000.0, "share_at": 1020.0, "share": 0.25}  # a quarter in 20 s: 60 s to go, 10 of them gone
    task = SimpleNamespace(finished_speed=None, speed=500.0, total=None, completed=5000, fields=fields)
    assert str(progress.RateColumn().render(task)) == "500/s · 0:00:50 left"
    task.fields = {**fields, "share": 1.0}
    assert str(progress.RateColumn().render(task)) == "500/s"
    task.fields = fields
    bar = progress.ShareBar().render(SimpleNamespace(**vars(task), get_time=lambda: 1030.0))
    assert (bar.total, bar.completed) == (1.0, 0.25)


def test_a_folder_of_many_files_lists_those_with_a_problem_and_sums_the_rest(cli, tmp_path: Path) -> None:
    """1,000 files printed 1,000 lines and no total; a bad record in file 990 was lost among them."""
    from monitor.cli import IMPORT_LINES_SHOWN

    folder = tmp_path / "daily"
    folder.mkdir()
    for i in range(IMPORT_LINES_SHOWN + 10):
        write_jsonl(folder / f"day{i:03d}.jsonl", [post(i, f"Elon Musk, day {i}")])
    bad = folder / f"day{IMPORT_LINES_SHOWN + 5:03d}.jsonl"
    bad.write_text(bad.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    lines = cli("import", str(folder)).output.splitlines()
    listed = [line for line in lines if "[jsonl]" in line]
    assert len(listed) == IMPORT_LINES_SHOWN and any(bad.name in line and "1 bad records" in line for line in listed)
    assert "… 10 more inputs, none with a problem (--json lists every input)" in lines
    assert lines[-1] == (f"{IMPORT_LINES_SHOWN + 10} of {IMPORT_LINES_SHOWN + 10} inputs read: "
                         f"{IMPORT_LINES_SHOWN + 10} records, {IMPORT_LINES_SHOWN + 10} new, 0 already stored, "
                         "0 without a target, 1 bad records")

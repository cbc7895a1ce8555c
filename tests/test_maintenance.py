"""rescore after a config change, the daemon's inbox, and `monitor status`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from monitor.daemon import Daemon
from monitor.ingest.imports import Importer
from monitor.ingest.pool import AnalysisPool
from monitor.ingest.rescore import rescore
from monitor.store import Store
from tests.conftest import post, stored, write_jsonl


def mentions(store: Store) -> list[tuple[str, str]]:
    with store.read() as con:
        return con.execute("SELECT post_key, target_id FROM mentions ORDER BY ALL").fetchall()


def test_rescore_after_adding_an_alias(config, data_dir: Path, tmp_path: Path) -> None:
    cfg = config.model_copy(deep=True)
    cfg.analysis.store_unmatched = True
    archive = write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk and the Tesla boss"), post(2, "Tesla boss again")])
    store = Store(data_dir)
    Importer(cfg, store).import_paths([archive])
    assert mentions(store) == [("x:1", "musk")]
    assert rescore(store, AnalysisPool(cfg, workers=1)).candidates == 0  # everything is current
    changed = cfg.model_copy(deep=True)
    changed.target("musk").aliases.append("Tesla boss")
    report = rescore(store, AnalysisPool(changed, workers=1))
    assert report.rescored == 2 and report.mentions_after == 2
    assert mentions(store) == [("x:1", "musk"), ("x:2", "musk")]
    with store.read() as con:
        versions = con.execute("SELECT DISTINCT rules_version FROM mentions").fetchall()
        scores = con.execute("SELECT count(*) FROM target_scores").fetchone()[0]
    assert versions == [(changed.rules_version,)] and scores == 2
    assert rescore(store, AnalysisPool(changed, workers=1)).candidates == 0


def test_rescore_progress_counts_posts_as_they_are_analysed(config, data_dir: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    """A rescore with the learned analyzer (one process) said nothing for minutes: its progress moved once
    per 50,000-post chunk. Now it counts the posts as they are analysed, up to all of them."""
    monkeypatch.setattr(AnalysisPool, "LOCAL_CHUNK_ITEMS", 4)
    store = Store(data_dir)
    Importer(config, store).import_paths([write_jsonl(tmp_path / "a.jsonl",
                                                      [post(i, f"Elon Musk, take {i}") for i in range(10)])])
    seen: list[tuple[int, int]] = []
    report = rescore(store, AnalysisPool(config, workers=1), everything=True,
                     progress=lambda done, total: seen.append((done, total)))
    assert report.rescored == 10
    assert seen == [(4, 10), (8, 10), (10, 10), (10, 10)]  # three chunks analysed, then the chunk written


def test_rescore_removes_the_copy_a_killed_rescore_left(config, data_dir: Path, tmp_path: Path) -> None:
    """A rescore copies the stale posts' texts beside the database; one killed with SIGKILL left its
    folder behind for good. The next rescore removes it, and leaves the folder of one still running."""
    store = Store(data_dir)
    Importer(config, store).import_paths([write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk again")])])
    finished = subprocess.Popen(["true"])
    finished.wait()
    killed = data_dir / f"rescore-{finished.pid}-k1ll3d"
    running = data_dir / f"rescore-{os.getpid()}-runn1ng"
    for folder in (killed, running):
        folder.mkdir()
        (folder / "stale.parquet").write_bytes(b"x" * 1000)
    rescore(store, AnalysisPool(config, workers=1), everything=True)
    assert not killed.exists() and running.exists()
    assert sorted(p.name for p in data_dir.glob("rescore-*")) == [running.name]


def test_inbox_imports_each_file_once_by_content(config, data_dir: Path, tmp_path: Path) -> None:
    store = Store(data_dir)
    daemon = Daemon(config, store, data_dir, say=lambda line: None)
    inbox = data_dir / "inbox"
    inbox.mkdir()
    records = [post(i, f"Satya Nadella on capex, part {i}") for i in range(4)]
    first = write_jsonl(inbox / "drop1.jsonl", records)
    old = time.time() - 60
    os.utime(first, (old, old))
    daemon.scan_inbox()
    copy = inbox / "same-content-other-name.jsonl"
    copy.write_bytes(first.read_bytes())
    os.utime(copy, (old, old))
    fresh = write_jsonl(inbox / "still-copying.jsonl", [post(9, "Nadella again")])  # too new: left for later
    daemon.scan_inbox()
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 4
        assert con.execute("SELECT name FROM inbox_files").fetchall() == [("drop1.jsonl",)]
    os.utime(fresh, (old, old))
    daemon.scan_inbox()
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 5


def test_inbox_imports_many_files_a_chunk_at_a_time(config, data_dir: Path, monkeypatch) -> None:
    """1,000 small files dropped in the inbox took ~146 ms each (a read to ask whether each was seen, two
    writes to import it, one to record it). Now one read asks for all, and a chunk of files is imported
    together and recorded in one write; a stop waits for the chunk under way, not for the whole inbox."""
    import monitor.daemon as daemon_module

    monkeypatch.setattr(daemon_module, "INBOX_CHUNK_FILES", 5)
    store = Store(data_dir)
    daemon = Daemon(config, store, data_dir, say=lambda line: None)
    inbox = data_dir / "inbox"
    inbox.mkdir()
    old = time.time() - 60
    for i in range(11):
        write_jsonl(inbox / f"day{i:02d}.jsonl", [post(10 * i + j, f"Sam Altman on day {i}, {j}") for j in range(3)])
    (inbox / "day99-copy.jsonl").write_bytes((inbox / "day03.jsonl").read_bytes())  # the same content again
    for path in inbox.iterdir():
        os.utime(path, (old, old))
    writes: list[int] = []
    write, import_chunk = Store.write, Daemon._import_inbox
    monkeypatch.setattr(Store, "write", lambda self, batch, *a, **k: writes.append(1) or write(self, batch, *a, **k))

    def stop_after_the_first(self: Daemon, chunk: list) -> None:
        import_chunk(self, chunk)
        self.stopping.set()

    monkeypatch.setattr(Daemon, "_import_inbox", stop_after_the_first)
    daemon.scan_inbox()
    assert stored(store, "SELECT count(*) FROM inbox_files") == [(5,)] and len(writes) <= 3
    daemon.stopping.clear()
    monkeypatch.setattr(Daemon, "_import_inbox", import_chunk)
    daemon.scan_inbox()
    assert stored(store, "SELECT count(*), count(DISTINCT name) FROM inbox_files") == [(11, 11)]
    assert stored(store, "SELECT count(*), sum(posts_new) FROM imports") == [(11, 33)]
    assert stored(store, "SELECT count(*) FROM posts") == [(33,)] and len(writes) <= 3 + 4
    assert "day99-copy.jsonl" not in {name for (name,) in stored(store, "SELECT name FROM inbox_files")}


def test_status_json(cli, tmp_path: Path) -> None:
    assert json.loads(cli("status", "--json").stdout)["daemon"]["running"] is False
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Altman")])))
    data = json.loads(cli("status", "--json").stdout)
    assert data["database"]["bytes"] > 0 and data["spool"] == {"batches": 0, "bytes": 0}
    assert data["sources"] == [] and data["gaps"] == []
    out = cli("status").output
    assert "Daemon: not running" in out


def test_status_tells_which_stored_scores_an_earlier_analyzer_made(cli, data_dir: Path, tmp_path: Path) -> None:
    """After an upgrade (a new model or lexicon version) the stored scores mix two versions until a
    rescore: status names the older ones and what to run; after `monitor rescore`, nothing."""
    from monitor.analysis.sentiment import SCORER_VERSION

    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Altman is great"), post(2, "Elon Musk, again")])))
    data = json.loads(cli("status", "--json").stdout)
    assert data["sentiment_analyzer"] == {"scorer": "vader", "version": SCORER_VERSION}
    assert data["sentiment_scorers"] == [{"scorer": "vader", "version": SCORER_VERSION, "posts": 2, "current": True}]
    assert "rescore" not in cli("status").output
    with Store(data_dir).write_connection() as con:  # as an earlier version of the tool left one
        con.execute("UPDATE post_sentiment SET scorer_version = '0.9' WHERE post_key = (SELECT min(post_key) "
                    "FROM post_sentiment)")
    data = json.loads(cli("status", "--json").stdout)
    assert {(s["version"], s["posts"], s["current"]) for s in data["sentiment_scorers"]} == {
        (SCORER_VERSION, 1, True), ("0.9", 1, False)}
    out = " ".join(cli("status").output.split())
    assert f"(vader {SCORER_VERSION}: 1 post): 1 post by vader 0.9." in out and "`monitor rescore`" in out
    cli("rescore")
    assert [s["current"] for s in json.loads(cli("status", "--json").stdout)["sentiment_scorers"]] == [True]
    assert "rescore" not in cli("status").output


def test_status_tells_which_stored_zero_shot_stance_an_earlier_reading_made(cli, data_dir: Path,
                                                                           tmp_path: Path) -> None:
    """The zero-shot stance can change version with the sentiment's unchanged (a new reading of the
    model, new rules): status names the older scores; `monitor rescore` brings them up to date."""
    from monitor.analysis.stance import RULES_NAME, RULES_VERSION

    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Altman is great"), post(2, "Elon Musk, again")])))
    data = json.loads(cli("status", "--json").stdout)
    assert data["zero_shot_stance"] == {"scorer": RULES_NAME, "version": RULES_VERSION}
    assert data["zero_shot_stance_scorers"] == [
        {"scorer": RULES_NAME, "version": RULES_VERSION, "scores": 2, "current": True}]
    with Store(data_dir).write_connection() as con:  # as an earlier version of the tool left one
        con.execute("UPDATE target_scores SET stance_scorer_version = 'z0' WHERE post_key = (SELECT min(post_key) "
                    "FROM target_scores)")
    data = json.loads(cli("status", "--json").stdout)
    assert {(s["version"], s["current"]) for s in data["zero_shot_stance_scorers"]} == {
        (RULES_VERSION, True), ("z0", False)}
    out = " ".join(cli("status").output.split())
    assert "zero-shot stance of an earlier version: 1 (post, target) scores by z0" in out and "`monitor rescore`" in out
    assert json.loads(cli("rescore", "--json").stdout)["rescored"] == 1
    assert "rescore" not in cli("status").output


def watched_twice(config, data_dir: Path, tmp_path: Path, records: list[dict], kind: str, caplog,
                  now: datetime | None = None) -> tuple[Store, list[tuple[str, str]]]:
    """Import ``records``, let the daemon look for events of ``kind`` (spike, voice) twice at ``now``
    (aware UTC; default: the clock), as two maintenance runs would; the store and the events
    recorded (job, detail), by job."""
    store = Store(data_dir)
    Importer(config, store).import_paths([write_jsonl(tmp_path / "a.jsonl", records)])
    daemon = Daemon(config, store, data_dir)
    daemon.event("start", None, f"pid {os.getpid()}")  # as at a real start: other kinds' details are not JSON
    watch = {"spike": daemon.watch_spikes, "voice": daemon.watch_voices}[kind]
    at = now.astimezone(UTC).replace(tzinfo=None) if now else None
    with caplog.at_level("WARNING", logger="monitor.daemon"):
        watch(at)
        watch(at)
    with store.read() as con:
        return store, con.execute("SELECT job, detail FROM daemon_events WHERE kind = ? ORDER BY job",
                                  [kind]).fetchall()


def test_daemon_records_each_spike_once(config, data_dir: Path, tmp_path: Path, caplog) -> None:
    """Musk: a post an hour for 30 hours, then 20 in the current hour: one spike, recorded and logged
    once however often maintenance looks. Altman: 20 posts, all in this hour, and nothing before:
    a first day of collection is not a spike. The daemon looks half an hour into the hour (the clock's
    own hour could have begun seconds ago, with the 20 posts still ahead)."""
    from monitor import status

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    records = [{"platform": "x", "id": f"m{h}", "text": "Elon Musk again", "author": "a",
                "created_at": stamp(now - timedelta(hours=h, minutes=-5))} for h in range(1, 31)]
    records += [{"platform": "x", "id": f"s{k}", "text": f"Elon Musk says they lack the money, {k}", "author": f"u{k}",
                 "likes": k, "url": f"https://x.example/{k}", "created_at": stamp(now + timedelta(seconds=k))}
                for k in range(20)]
    records += [{"platform": "x", "id": f"a{k}", "text": f"Sam Altman replies, {k}", "author": f"v{k}",
                 "created_at": stamp(now + timedelta(seconds=k))} for k in range(20)]
    store, events = watched_twice(config, data_dir, tmp_path, records, "spike", caplog,
                                  now=now + timedelta(minutes=30))
    assert [job for job, _ in events] == ["musk"]
    detail = json.loads(events[0][1])
    assert detail["posts"] == 20 and detail["ratio"] > 3 and detail["url"] == "https://x.example/19"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("spike:")]
    assert "Elon Musk, 20 posts" in line
    [shown] = status.compute(store, data_dir)["spikes_24h"]
    assert (shown["target_id"], shown["posts"]) == ("musk", 20)


def test_daemon_reports_each_voice_once(config, data_dir: Path, tmp_path: Path, caplog) -> None:
    """A target's own account naming another target is logged and recorded once, however often
    maintenance looks; a post of three days ago (an archive) and anyone else's posts are not news."""
    from monitor import status

    now = datetime.now(UTC)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    records = [
        {"platform": "x", "id": "1", "author": "elonmusk", "url": "https://x.example/1",
         "text": "Sam Altman's Stargate: they don't have the money", "created_at": stamp(now - timedelta(hours=1))},
        {"platform": "x", "id": "2", "author": "elonmusk", "text": "Sam Altman again",
         "created_at": stamp(now - timedelta(days=3))},
        {"platform": "x", "id": "3", "author": "someone", "text": "Sam Altman and Elon Musk",
         "created_at": stamp(now - timedelta(minutes=5))},
        {"platform": "hackernews", "id": "4", "author": "sama", "text": "Elon Musk is wrong [red]here[/red]",
         "created_at": stamp(now - timedelta(minutes=10))},
    ]
    store, events = watched_twice(config, data_dir, tmp_path, records, "voice", caplog)
    assert [(job, json.loads(detail)["post_key"]) for job, detail in events] == [
        ("altman", "hackernews:4"), ("musk", "x:1")]
    assert json.loads(events[1][1])["targets"] == ["altman", "stargate"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("voice:")]
    assert lines == ["voice: Elon Musk (x) on Sam Altman, Stargate (AI infrastructure): https://x.example/1",
                     "voice: Sam Altman (hackernews) on Elon Musk: hackernews:4"]
    data = status.compute(store, data_dir)
    assert [(v["speaker"], v["targets"]) for v in data["voices_24h"]] == [  # newest first
        ("Sam Altman", ["musk"]), ("Elon Musk", ["altman", "stargate"])]
    console = Console(width=80, record=True, file=io.StringIO())
    status.render(data, console)
    assert "Elon Musk on altman, stargate  https://x.example/1" in console.export_text()


def test_many_voices_at_once_are_counted_not_listed(config, data_dir: Path, tmp_path: Path, caplog) -> None:
    """An archive of today's posts from a tracked account: five log lines and a count; every post recorded."""
    now = datetime.now(UTC)
    records = [{"platform": "x", "id": str(k), "author": "sama", "text": f"Elon Musk, part {k}",
                "created_at": (now - timedelta(minutes=k + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")} for k in range(7)]
    _, events = watched_twice(config, data_dir, tmp_path, records, "voice", caplog)
    assert len(events) == 7
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("voice:")]
    assert len(lines) == 6 and lines[-1] == "voice: 2 more posts of tracked accounts (monitor status)"


def test_a_source_failing_the_same_way_is_said_once_an_hour_and_its_recovery_once(config, data_dir: Path,
                                                                                   monkeypatch) -> None:
    """Offline, Jetstream fails every minute: 60 console lines an hour, each the same. The first is said,
    the repeats are logged at info, one line an hour says how long it has lasted, and the recovery is said."""
    from types import SimpleNamespace

    import monitor.daemon as daemon_module

    said: list[str] = []
    daemon = Daemon(config, Store(data_dir), data_dir, say=said.append)
    clock = [datetime(2026, 12, 7, 12, 0)]
    outcome = [(False, "jetstream: offline: cannot connect — next try 12:01 UTC")]
    monkeypatch.setattr(daemon_module, "utcnow_naive", lambda: clock[0])
    monkeypatch.setattr(daemon_module, "run_collector", lambda *a, **k: [])
    monkeypatch.setattr(daemon_module, "summarise", lambda *a: outcome[0])
    jetstream = SimpleNamespace(name="jetstream", settings=lambda cfg: SimpleNamespace(interval_minutes=1))
    for minute in range(0, 90):
        clock[0] = datetime(2026, 12, 7, 12, 0) + timedelta(minutes=minute)
        daemon.collect(jetstream)
    assert said == ["jetstream: offline: cannot connect — next try 12:01 UTC",
                    "jetstream: offline: cannot connect — next try 12:01 UTC (failing so since 2026-12-07 12:00 UTC, "
                    "61 runs)"]
    outcome[0] = (False, "jetstream: HTTP 500 — next try 13:31 UTC")  # another failure: said at once
    daemon.collect(jetstream)
    outcome[0] = (True, "jetstream: 1 queries, 1 requests, 3 new posts, 0 seen before")
    daemon.collect(jetstream)
    daemon.collect(jetstream)
    assert said[2:] == ["jetstream: HTTP 500 — next try 13:31 UTC",
                        "jetstream: back after 1 failed runs since 2026-12-07 13:29 UTC"]


def test_the_daemon_says_when_its_config_file_changed_and_whether_it_loads(data_dir: Path, tmp_path: Path) -> None:
    """An edit of the config (a new target) while the daemon runs changed nothing, without a word: it
    goes on with the config it started with. Now it says so once per edit, and whether the new file loads."""
    from monitor.config import load_config
    from tests.conftest import config_file

    path = config_file(tmp_path / "monitor.toml", lambda data: None)
    said: list[str] = []
    daemon = Daemon(load_config(path), Store(data_dir), data_dir, say=said.append)
    daemon.watch_config()  # at start: the content it runs with
    daemon.watch_config()
    assert said == []
    text = path.read_text(encoding="utf-8")
    new_target = '\n[[targets]]\nid = "huang"\nname = "Jensen Huang"\nkind = "person"\naliases = ["Jensen Huang"]\n'
    path.write_text(text + new_target, encoding="utf-8")
    daemon.watch_config()
    daemon.watch_config()  # the same edit: said once
    assert len(said) == 1 and "changed since the daemon started" in said[0] and "it loads: restart" in said[0]
    path.write_text(text + '\n[[targets]]\nid = "bad id!"\n', encoding="utf-8")
    daemon.watch_config()
    assert len(said) == 2 and "does not load" in said[1] and daemon._status["config"]["loads"] is False

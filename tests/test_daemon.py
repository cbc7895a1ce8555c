"""The real daemon as a subprocess, collecting from a local replay server while people read the
same database: spooling under a held lock, signals, kill -9 and restart, one daemon per data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from monitor.sources.api import load_sources
from monitor.store.daemon_state import DaemonLock, DaemonRunning, running_pid
from tests.conftest import CONFIG_PATH, FIXTURES, ROOT, config_file
from tests.replay import ReplayServer, Reply, Request

RECORDED = json.loads((FIXTURES / "hackernews" / "search_by_date_nodejs_2017.json").read_text(encoding="utf-8"))
HITS = sorted(RECORDED["hits"], key=lambda h: h["created_at_i"])  # oldest first
TOTAL = len(HITS)


class GrowingIndex:
    """Algolia as seen over time: each request publishes a few more recorded hits (a few, so that
    the daemon, which polls at most once a second, sees them all in a few seconds), and a
    numericFilters=created_at_i>N request sees only the newer ones."""

    STEP = 5

    def __init__(self) -> None:
        self.published = 1

    def __call__(self, request: Request) -> Reply:
        visible = HITS[: self.published]
        self.published = min(TOTAL, self.published + self.STEP)
        flt = request.param("numericFilters")
        if flt:
            after = int(flt.split(">")[1])
            visible = [h for h in visible if h["created_at_i"] > after]
        return Reply({**RECORDED, "hits": list(reversed(visible)), "nbHits": len(visible), "nbPages": 1, "page": 0})


def daemon_config(tmp_path: Path, server: ReplayServer, lock_timeout: float = 0.3,
                  more_sources: dict[str, dict] | None = None) -> Path:
    """Only Hacker News, from the replay server, every 0.6 s; every post kept; a short lock wait. The VADER
    analyzer: these tests are about the daemon's writes and signals (the quick-start test runs the default)."""

    def edit(data: dict) -> None:
        data["archives"] = []
        data["analysis"]["store_unmatched"] = True
        data["analysis"]["analyzer"] = "vader"
        data["daemon"] = {"lock_timeout_seconds": lock_timeout, "inbox_interval_seconds": 1,
                          "maintenance_interval_seconds": 1}
        data["sources"] = {name: {"enabled": False} for name in load_sources().collectors}
        data["sources"]["hackernews"] = {"base_url": f"{server.url}/api/v1", "interval_minutes": 0.01,
                                         "queries": ["nodejs"]}
        data["sources"].update(more_sources or {})

    return config_file(tmp_path / "daemon.toml", edit)


def start(config: Path, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "--data-dir", str(data_dir),
                             "run"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def open_read_only(db: Path) -> duckdb.DuckDBPyConnection:
    """Like an analyst would: retry while the daemon's short write transaction holds the file."""
    for _ in range(200):
        try:
            return duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.05)
    raise AssertionError("database stayed locked")


def count_posts(db: Path) -> int:
    return count_rows(db, "SELECT count(*) FROM posts")


def count_rows(db: Path, query: str) -> int:
    """A count, read as an analyst would (retrying while a write holds the file); 0 before the schema exists."""
    for _ in range(200):
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.05)
            continue
        try:
            return con.execute(query).fetchone()[0]
        except duckdb.CatalogException:
            return 0
        finally:
            con.close()
    raise AssertionError("database stayed locked")


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def spool_batches(data_dir: Path) -> int:
    spool = data_dir / "spool"
    return len([p for p in spool.iterdir() if p.is_dir() and not p.name.startswith(".")]) if spool.exists() else 0


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.add("/api/v1/search_by_date", GrowingIndex())
        yield replay


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the daemon dumps every thread's stack
        time.sleep(1)
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"daemon did not stop within {timeout} s:\n{out[-6000:]}") from None
    return proc.returncode, out


def test_daemon_collects_while_readers_hold_the_file(tmp_path: Path, server: ReplayServer) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "monitor.duckdb"
    proc = start(daemon_config(tmp_path, server), data_dir)
    try:
        wait_for(lambda: db.exists() and count_posts(db) >= 3, what="first posts")
        summary = subprocess.run([sys.executable, "-m", "monitor", "--config", str(CONFIG_PATH), "--data-dir",
                                  str(data_dir), "summary", "--json"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=60)
        assert summary.returncode == 0, summary.stderr
        assert json.loads(summary.stdout)["freshness"]["posts_total"] >= 3
        # An analyst keeps a read-only session open: the daemon's batches go to the spool.
        reader = open_read_only(db)
        try:
            held = reader.execute("SELECT count(*) FROM posts").fetchone()[0]
            wait_for(lambda: spool_batches(data_dir) >= 2, timeout=60, what="spooled batches")
            assert reader.execute("SELECT count(*) FROM posts").fetchone()[0] == held
        finally:
            reader.close()
        wait_for(lambda: count_posts(db) == TOTAL and spool_batches(data_dir) == 0, timeout=90,
                 what="every post, spool drained")
        code, out = stop(proc)
        assert code == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
    con = open_read_only(db)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT post_id) FROM posts").fetchone() == (TOTAL, TOTAL)
        ids = {r[0] for r in con.execute("SELECT post_id FROM posts").fetchall()}
        assert ids == {h["objectID"] for h in HITS}
        kinds = [r[0] for r in con.execute("SELECT kind FROM daemon_events ORDER BY event_at").fetchall()]
        assert kinds[0] == "start" and kinds[-1] == "stop"
    finally:
        con.close()


def test_kill_9_then_restart_loses_and_duplicates_nothing(tmp_path: Path, server: ReplayServer) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "monitor.duckdb"
    config = daemon_config(tmp_path, server)
    first = start(config, data_dir)
    try:
        wait_for(lambda: db.exists() and count_posts(db) >= 5, what="first posts")
        first.kill()  # SIGKILL, wherever it is
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert running_pid(data_dir) is None  # the dead daemon's lock is gone with it
    second = start(config, data_dir)
    try:
        wait_for(lambda: count_posts(db) == TOTAL and spool_batches(data_dir) == 0, timeout=90, what="all posts")
        code, out = stop(second)
        assert code == 0, out
    finally:
        if second.poll() is None:
            second.kill()
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT post_id) FROM posts").fetchone() == (TOTAL, TOTAL)
    finally:
        con.close()


def test_one_daemon_per_data_dir_and_second_signal_exits_at_once(tmp_path: Path, server: ReplayServer) -> None:
    data_dir = tmp_path / "data"
    config = daemon_config(tmp_path, server)
    proc = start(config, data_dir)
    try:
        wait_for(lambda: running_pid(data_dir) == proc.pid, what="daemon lock")
        with pytest.raises(DaemonRunning, match=str(proc.pid)):
            DaemonLock(data_dir).acquire()
        other = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "--data-dir",
                                str(data_dir), "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert other.returncode == 1 and "already running" in other.stderr
        status = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "--data-dir",
                                 str(data_dir), "status", "--json"], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert json.loads(status.stdout)["daemon"] == {"running": True, "pid": proc.pid, "config_changed": None,
                                                       "status_updated_at": json.loads(status.stdout)["daemon"][
                                                           "status_updated_at"]}
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.returncode in (0, 1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count_posts(data_dir / "monitor.duckdb") >= 0  # the file still opens and reads


def test_daemon_reports_each_failure_once(tmp_path: Path, server: ReplayServer) -> None:
    """A source that cannot connect: one line on the console per failed run (and the same in the log);
    one that lacks its credentials: one line saying so, logged too."""
    data_dir = tmp_path / "data"
    offline = {"mastodon": {"enabled": True, "base_url": "http://127.0.0.1:9", "interval_minutes": 60},
               "x": {"enabled": True, "base_url": "http://127.0.0.1:9"}}  # needs X_BEARER_TOKEN: not started
    proc = start(daemon_config(tmp_path, server, more_sources=offline), data_dir)
    db = data_dir / "monitor.duckdb"

    def mastodon_runs() -> int:
        return count_rows(db, "SELECT count(*) FROM runs WHERE source = 'mastodon'")

    try:
        wait_for(lambda: db.exists() and mastodon_runs() >= 1, what="a failed mastodon run")
        code, out = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, out
    failures = [line for line in out.splitlines() if "mastodon:" in line and "next try" in line]
    assert len(failures) == mastodon_runs() == 1, out
    log_text = (data_dir / "logs" / "monitor.log").read_text()
    assert "mastodon:" in log_text
    if "X_BEARER_TOKEN" not in os.environ:
        assert out.count("x: not started, needs X_BEARER_TOKEN") == 1 and "x: not started" in log_text


ARENAS_AFTER_THREADS = """
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "capped":
    from monitor.daemon import limit_malloc_arenas
    assert limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.fdopen.restype, libc.fdopen.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
together = threading.Barrier(8)
def allocate():
    together.wait()
    kept = [bytes(2000) for _ in range(100)]  # past Python's small-object allocator: malloc's
    together.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
with tempfile.TemporaryFile() as out:
    stream = libc.fdopen(os.dup(out.fileno()), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    out.seek(0)
    print(out.read().decode().count("<heap nr="))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ,
                    reason="glibc's malloc arenas, uncapped by the environment")
def test_the_daemon_caps_mallocs_arenas() -> None:
    """`monitor run` caps glibc's malloc arenas (daemon.MALLOC_ARENAS): with an arena per thread its RSS grew
    by up to 20.8 MB over 2,000 cycles of bench/daemon_memory.py while malloc's heap in use stayed flat. Eight
    threads allocating at once get two arenas, not eight or more."""
    def arenas(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", ARENAS_AFTER_THREADS, mode], capture_output=True, text=True,
                             timeout=60, cwd=ROOT)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    assert arenas("capped") == 2
    assert arenas("uncapped") > 2

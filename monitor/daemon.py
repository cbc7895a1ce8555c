"""`monitor run`: the long-running daemon.

APScheduler 3 (BlockingScheduler, UTC) runs one job per enabled source at its interval with
jitter, watches ``data/inbox/`` for archives, and does maintenance (spool drain, checkpoint). The
store opens the database only for each batch, so readers (summary, sql, the DuckDB CLI) can open it
between batches; a held lock makes batches spool and nothing is lost.

Signals: the first SIGTERM/SIGINT lets the running batch finish and flush, then exits 0; a second
one exits at once (every write is a transaction and spool files are renamed into place, so an
abrupt exit corrupts nothing). One daemon per data directory (an flock on ``daemon.lock``, which a
dead process cannot keep).
"""

from __future__ import annotations

import ctypes
import faulthandler
import hashlib
import json
import logging
import logging.handlers
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerts import AlertDispatcher, SpikeEvent, VoiceEvent, recent_stance_shifts
from monitor.config import Config
from monitor.ingest import load_checked_config
from monitor.ingest.collect import run_collector, summarise
from monitor.ingest.cycle import import_configured_archives
from monitor.ingest.imports import Importer
from monitor.ingest.pool import AnalysisPool
from monitor.sources.api import Collector, load_sources
from monitor.store import Store, StoreError, StoreLocked, WriteBatch
from monitor.store.daemon_state import DaemonLock, DaemonRunning, write_status
from monitor.store.queries import inbox_seen
from monitor.store.rows import targets_table, utcnow_naive

log = logging.getLogger("monitor.daemon")

INBOX_NAME = "inbox"
VOICE_WINDOW = timedelta(hours=24)  # a target's own post is news for a day after it was written
VOICES_LOGGED = 5  # per check; the rest are counted in one line (and all recorded)
MISFIRE_GRACE_SECONDS = 300  # a job delayed by a long batch still runs (the library default is 1 s)
# glibc's malloc gives a thread an arena of its own (up to 8 a core) and keeps what each arena has
# touched: over 2,000 cycles of bench/daemon_memory.py the daemon's RSS grew by 20.8 MB (first to last
# quarter, still growing in the second half) while malloc's heap in use stayed flat; with two arenas it
# was flat (+3.4 MB, levelled off), at the same speed. A MALLOC_ARENA_MAX the user sets wins.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


# --- logging ----------------------------------------------------------------------------------


def setup_daemon_logging(data_dir: Path, verbose: int) -> Path:
    """A rotating log file under the data directory (INFO, or DEBUG with -vv) plus the console."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "monitor.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    for console in root.handlers:
        if console is not handler:
            console.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines print full URLs
    return path


# --- the inbox --------------------------------------------------------------------------------


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Inbox files imported in one call: at most this many, or this many bytes (one big file alone).
INBOX_CHUNK_FILES = 200
INBOX_CHUNK_BYTES = 256 << 20


def inbox_chunks(files: list[tuple[Path, str]]) -> Iterator[list[tuple[Path, str]]]:
    chunk: list[tuple[Path, str]] = []
    size = 0
    for item in files:
        item_size = item[0].stat().st_size
        if chunk and (len(chunk) >= INBOX_CHUNK_FILES or size + item_size > INBOX_CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def settled_files(inbox: Path, min_age: float = 2.0) -> list[Path]:
    """Files in the inbox that are not hidden and have not changed for ``min_age`` seconds (a file
    still being copied in is left for the next scan)."""
    if not inbox.exists():
        return []
    now = time.time()
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")
                  and now - p.stat().st_mtime >= min_age)


# --- the daemon -------------------------------------------------------------------------------


FAILURE_REPEAT_SECONDS = 3600  # a source failing the same way is said again this often


@dataclass
class _Failing:
    """A source whose runs fail the same way: since when, how many runs, when it was last said."""

    reason: str
    since: datetime
    said: datetime
    runs: int = 1


@dataclass
class Daemon:
    config: Config
    store: Store
    data_dir: Path
    # Also told each failure line (and each source not started), beside the log: the console sees
    # them through logging already, so by default nothing more is done.
    say: Callable[[str], None] = lambda line: None
    inbox_interval: float = 60.0
    maintenance_interval: float = 300.0
    stopping: threading.Event = field(default_factory=threading.Event)
    _pools: threading.local = field(default_factory=threading.local)
    _status: dict[str, Any] = field(default_factory=dict)
    _failing: dict[str, _Failing] = field(default_factory=dict)  # sources whose last run failed
    _status_lock: threading.Lock = field(default_factory=threading.Lock)
    _intervals: dict[str, float] = field(default_factory=dict)
    _config_digest: str | None = None  # the config file's content when the daemon started
    # The inbox files' content hashes by (path, mtime, size): each scan (every minute) hashed every file
    # still in the inbox whole, imported or not (a 2 GB dump left there: seconds of reading a minute).
    _inbox_digests: dict[tuple[str, int, int], str] = field(default_factory=dict)
    _executors: dict[str, ThreadPoolExecutor] = field(default_factory=dict)
    _alerts: AlertDispatcher | None = None

    @property
    def alerts(self) -> AlertDispatcher:
        """Delivers the spikes, voices and stance shifts found here to [[alerts.sinks]], once each."""
        if self._alerts is None:
            self._alerts = AlertDispatcher(self.config.alerts, self.store.write_connection)
        return self._alerts

    def pool(self) -> AnalysisPool:
        """One analysis pool per scheduler thread (scorers keep per-call state)."""
        pool = getattr(self._pools, "pool", None)
        if pool is None:
            pool = self._pools.pool = AnalysisPool(self.config, self.data_dir / "models", workers=1)
        return pool

    # jobs

    def collect(self, collector: Collector) -> None:
        if self.stopping.is_set():
            return
        started = utcnow_naive()
        reports = run_collector(collector, self.config, self.store, self.pool(), should_stop=self.stopping.is_set)
        ok, line = summarise(collector, reports, collector.settings(self.config).interval_minutes)
        self._tell(collector.name, ok, line)
        self._record(collector.name, {"last_run": started.isoformat(), "ok": ok, "summary": line,
                                      "posts_new": sum(r.posts_new for r in reports)})

    def _tell(self, source: str, ok: bool, line: str) -> None:
        """A run's line to the log, and a failure to the console, once: a source failing the same way
        again (offline, Jetstream every minute: 60 lines an hour) is logged at info and said again
        each FAILURE_REPEAT_SECONDS with how long it has lasted; its recovery is said too."""
        failing = self._failing.get(source)
        if ok:
            log.info("%s", line)
            if failing is not None:
                del self._failing[source]
                self._say_and_log(f"{source}: back after {failing.runs} failed runs since "
                                  f"{failing.since:%Y-%m-%d %H:%M} UTC", log.info)
            return
        reason = line.split(" — next try")[0]
        now = utcnow_naive()
        if failing is None or failing.reason != reason:
            self._failing[source] = _Failing(reason, since=now, said=now)
            self._say_and_log(line, log.warning)
            return
        failing.runs += 1
        if (now - failing.said).total_seconds() >= FAILURE_REPEAT_SECONDS:
            failing.said = now
            self._say_and_log(f"{line} (failing so since {failing.since:%Y-%m-%d %H:%M} UTC, {failing.runs} runs)",
                              log.warning)
        else:
            log.info("%s (again)", line)

    def _say_and_log(self, line: str, level: Callable[..., None]) -> None:
        level("%s", line)
        self.say(line)

    def scan_inbox(self) -> None:
        """Import the settled inbox files whose content is new, a chunk at a time (a stop waits for one
        chunk at most), each chunk's small files written together and its files recorded in one write."""
        inbox = self.data_dir / INBOX_NAME
        inbox.mkdir(parents=True, exist_ok=True)
        for chunk in inbox_chunks(self._new_inbox_files(inbox)):
            if self.stopping.is_set():
                return
            self._import_inbox(chunk)

    def _new_inbox_files(self, inbox: Path) -> list[tuple[Path, str]]:
        """(path, content hash) of the settled files not imported yet; one path per content."""
        found: dict[str, Path] = {}
        digests: dict[tuple[str, int, int], str] = {}
        for path in settled_files(inbox):
            if self.stopping.is_set():
                break
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
            digests[key] = self._inbox_digests.get(key) or content_hash(path)
            found.setdefault(digests[key], path)
        self._inbox_digests = digests  # the files still there
        seen = inbox_seen(self.store, list(found))
        return [(path, digest) for digest, path in found.items() if digest not in seen]

    def _import_inbox(self, chunk: list[tuple[Path, str]]) -> None:
        importer = Importer(self.config, self.store, pool=self.pool())
        each = importer.import_each([path for path, _ in chunk])
        batch = WriteBatch()
        batch.add_rows("inbox_files", [{"content_hash": digest, "name": path.name, "size": path.stat().st_size,
                                        "import_id": None, "imported_at": utcnow_naive()} for path, digest in chunk])
        self.store.write(batch)
        for (path, _), reports in zip(chunk, each, strict=True):
            new, errors = sum(r.posts_new for r in reports), sum(r.errors for r in reports)
            summary = f"imported {path.name}: {new} new posts, {errors} bad records"
            log.info("inbox: %s", summary)
        if len(chunk) > 1:
            new = sum(r.posts_new for reports in each for r in reports)
            summary = f"imported {len(chunk)} files ({chunk[0][0].name} ... {chunk[-1][0].name}): {new} new posts"
        self._record("inbox", {"last_run": utcnow_naive().isoformat(), "ok": True, "summary": summary})

    def import_archives(self) -> None:
        """The config's archives (an unchanged file is skipped quickly), each report logged."""
        importer = Importer(self.config, self.store)  # worker processes: an archive can be big
        try:
            reports = import_configured_archives(
                importer, self.config,
                lambda path: log.warning("archive %s (from the config) does not exist; skipped", path))
        finally:
            importer.pool.close()
        for r in reports:
            log.info("archive %s: %s", r.path, r.skipped or f"{r.records} records, {r.posts_new} new posts, "
                                                             f"{r.errors} bad records")

    def maintenance(self) -> None:
        try:
            drained = self.store.drain_spool()
            # Each write's checkpoint appends its own small row groups: merge them (scans stay fast).
            self.store.checkpoint(timeout=2.0)
            if drained:
                log.info("maintenance: applied %d spooled batches", drained)
        except StoreLocked:
            log.info("maintenance: database busy; will try again")
        self.watch_spikes()
        self.watch_voices()
        self.watch_stance()
        self.watch_config()
        self.alerts.flush()  # new events, retries that are due, alerts held through quiet hours
        self._write_status()

    def watch_config(self) -> None:
        """Say once when the config file changed since the daemon started (an added target, a source
        turned on): the daemon goes on with the config it started with until it is restarted, which
        an edit alone gave no sign of. Says whether the new file loads, before the restart needs it."""
        path = self.config.path
        if path is None or not Path(path).exists():
            return
        digest = content_hash(Path(path))
        if self._config_digest is None:
            self._config_digest = digest
        changed = digest != self._config_digest
        if not changed or self._status.get("config", {}).get("digest") == digest:
            return
        try:
            load_checked_config(path)
            verdict, problem = "it loads: restart the daemon (Ctrl-C, then `monitor run`) to use it", None
        except Exception as exc:  # ConfigError and whatever else the file would raise at the restart
            problem = str(exc)
            verdict = f"as it is now it does not load ({problem}): fix it before the daemon is restarted"
        self._say_and_log(f"config {path} changed since the daemon started; it goes on with the targets and "
                          f"sources it started with. The new file: {verdict}", log.warning)
        self._record("config", {"changed_at": utcnow_naive().isoformat(), "digest": digest, "path": str(path),
                                "loads": problem is None, "error": problem})

    def watch_spikes(self, now: datetime | None = None) -> None:
        """Log and record each spike as it happens (an hour with 3x a target's 24 h average), once.
        ``now`` (naive UTC) is for tests."""
        from monitor.summary import recent_spikes, spike_ratio, spike_when

        now = now or utcnow_naive()
        try:
            with self.store.read(timeout=2.0) as con:
                spikes = recent_spikes(con, now)
                if not spikes:
                    return
                seen = _reported(con, "spike", "start", now - timedelta(days=2))
        except StoreError as exc:
            log.info("spikes not checked now: %s", exc)
            return
        fresh = [spike for spike in spikes if (spike["target_id"], spike["start"]) not in seen]
        # Queued (in alert_deliveries) before the event is recorded as reported: a crash between the
        # two re-finds the spike, and the queue's key drops the duplicate.
        self.alerts.queue([SpikeEvent.from_spike(spike) for spike in fresh])
        for spike in fresh:
            top = spike["top_post"] or {}
            # The post's URL, not its text: the log is printed on the console too.
            log.warning("spike: %s, %d posts in the hour from %s UTC (%s the 24 h average); most engaged: %s",
                        spike["name"], spike["posts"], spike_when(spike), spike_ratio(spike),
                        top.get("url") or top.get("post_key"))
            self.event("spike", spike["target_id"], json.dumps({k: spike[k] for k in (
                "start", "posts", "average", "ratio", "mean_sentiment")} | {"url": top.get("url")}))

    def watch_voices(self, now: datetime | None = None) -> None:
        """Log and record, once, each new post of a target's own account that names another target
        (v_voices): Musk on Stargate, Altman answering. Posts older than VOICE_WINDOW (an archive of
        last year's tweets) are not news. ``now`` (naive UTC) is for tests."""
        now = now or utcnow_naive()
        try:
            with self.store.read(timeout=2.0) as con:
                found = con.execute("""
                    SELECT post_key, speaker_id, any_value(speaker_name), any_value(platform), any_value(url),
                           any_value(created_at), list(target_id ORDER BY target_id),
                           list(target_name ORDER BY target_id), any_value(text)
                    FROM v_voices WHERE created_at >= ?
                    GROUP BY post_key, speaker_id ORDER BY any_value(created_at), post_key
                """, [now - VOICE_WINDOW]).fetchall()
                if not found:
                    return
                seen = _reported(con, "voice", "post_key", now - 2 * VOICE_WINDOW)
            voices = [row for row in found if (row[1], row[0]) not in seen]  # (speaker, post_key)
        except StoreError as exc:
            log.info("voices not checked now: %s", exc)
            return
        self.alerts.queue([VoiceEvent.from_voice(
            speaker_id=speaker, speaker_name=name, post_key=post_key, created_at=created_at, platform=platform,
            url=url, text=text, about=target_ids, about_names=names)
            for post_key, speaker, name, platform, url, created_at, target_ids, names, text in voices])
        for post_key, speaker, name, platform, url, _, _, names, _ in voices[:VOICES_LOGGED]:
            # The post's URL, not its text: the log is printed on the console too.
            log.warning("voice: %s (%s) on %s: %s", name or speaker, platform, ", ".join(n or "?" for n in names),
                        url or post_key)
        if len(voices) > VOICES_LOGGED:
            log.warning("voice: %d more posts of tracked accounts (monitor status)", len(voices) - VOICES_LOGGED)
        self.events("voice", [(speaker, json.dumps({"post_key": post_key, "url": url, "platform": platform,
                                                     "created_at": created_at.isoformat(), "targets": target_ids}))
                              for post_key, speaker, _, platform, url, created_at, target_ids, _, _ in voices])

    def watch_stance(self, now: datetime | None = None) -> None:
        """Alert when a target's net stance over the last 24 h moved against the 24 h before (once
        per target, day and direction; thresholds in [alerts]). ``now`` (naive UTC) is for tests."""
        if not self.alerts.active:
            return
        try:
            with self.store.read(timeout=2.0) as con:
                shifts = recent_stance_shifts(con, now or utcnow_naive())
        except StoreError as exc:
            log.info("stance not checked now: %s", exc)
            return
        for shift in self.alerts.queue(shifts):  # only those not reported before
            log.warning("%s", shift.title())

    # bookkeeping

    def _record(self, job: str, values: dict[str, Any]) -> None:
        with self._status_lock:
            self._status.setdefault(job, {}).update(values)
        self._write_status()

    def _write_status(self) -> None:
        # Jobs must not call back into the scheduler (get_jobs takes a lock that shutdown can hold
        # while it waits for this very job): next runs are worked out from the intervals instead.
        with self._status_lock:
            for job, seconds in self._intervals.items():
                entry = self._status.setdefault(job, {})
                last = entry.get("last_run")
                if last:
                    entry["next_run"] = (datetime.fromisoformat(last) + timedelta(seconds=seconds)).isoformat()
            write_status(self.data_dir, self._status)

    def event(self, kind: str, job: str | None, detail: str | None) -> None:
        self.events(kind, [(job, detail)])

    def events(self, kind: str, items: list[tuple[str | None, str | None]]) -> None:
        """Record events of one kind in one write: (job, detail) each."""
        if not items:
            return
        now = utcnow_naive()
        batch = WriteBatch()
        batch.add_rows("daemon_events", [{"event_at": now, "kind": kind, "job": job, "detail": detail}
                                         for job, detail in items])
        try:
            self.store.write(batch)
        except Exception:  # recording an event must never take the daemon down
            log.exception("could not record daemon event %s", kind)

    def on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
            self.event("job-missed", event.job_id, f"scheduled {event.scheduled_run_time}")
        elif event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)
            self.event("job-error", event.job_id, f"{type(event.exception).__name__}: {event.exception}")

    # main loop

    def build_scheduler(self) -> BlockingScheduler:
        self.watch_config()  # the config's content now: maintenance says when it changes
        # Polling sources and maintenance share one thread; long-running streams get their own.
        self._executors = {"default": ThreadPoolExecutor(1), "stream": ThreadPoolExecutor(1)}
        scheduler = BlockingScheduler(
            timezone=UTC, executors=dict(self._executors),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        now = datetime.now(UTC)
        stagger = 0
        for name, collector in sorted(load_sources().collectors.items()):
            if not collector.is_enabled(self.config):
                continue
            if collector.missing():
                line = f"{name}: not started, needs {', '.join(collector.missing())}"
                log.warning("%s", line)
                self.say(line)
                continue
            minutes = max(collector.settings(self.config).interval_minutes, 1 / 60)
            jitter = min(60.0, minutes * 60 * 0.1)
            self._intervals[name] = minutes * 60
            scheduler.add_job(self.collect, IntervalTrigger(minutes=minutes, jitter=jitter, timezone=UTC),
                              args=[collector], id=name, name=f"collect {name}",
                              executor="stream" if collector.streaming else "default",
                              next_run_time=now + timedelta(seconds=stagger))
            stagger += 2
        scheduler.add_job(self.scan_inbox, IntervalTrigger(seconds=self.inbox_interval, timezone=UTC), id="inbox",
                          name="inbox", next_run_time=now)
        scheduler.add_job(self.maintenance, IntervalTrigger(seconds=self.maintenance_interval, timezone=UTC),
                          id="maintenance", name="maintenance")
        scheduler.add_listener(self.on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._intervals["inbox"] = self.inbox_interval
        return scheduler

    def run(self) -> int:
        scheduler = self.build_scheduler()
        signals_seen = 0

        def on_signal(signum: int, frame: Any) -> None:
            # Only os.write here: a handler that prints through Python's buffered streams can
            # deadlock when the signal lands in the middle of another print.
            nonlocal signals_seen
            signals_seen += 1
            if signals_seen > 1:
                os.write(2, b"second signal: exiting now\n")
                os._exit(1)
            os.write(2, f"{signal.Signals(signum).name}: finishing the current batch, then exiting "
                        "(send it again to exit at once)\n".encode())
            self.stopping.set()
            # Stop scheduling; the running job is waited for below, outside the scheduler's locks.
            threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID` shows what every thread does
        self._clean_spool_leftovers()
        self.store.sync_targets(targets_table(self.config.targets))
        self.event("start", None, f"pid {os.getpid()}")
        self._write_status()
        scheduler.start()  # blocks until shutdown
        # Let running jobs store the batch in hand (they see `stopping` between pages).
        self._wait_for_jobs()
        try:
            self.store.drain_spool()
        except Exception:
            log.info("spool left for the next start: database busy")
        self.event("stop", None, "signal" if self.stopping.is_set() else "scheduler stopped")
        try:
            self.store.checkpoint(timeout=2.0)  # merge the row groups this run's writes left
        except Exception:
            log.info("row groups left for the next maintenance to merge: database busy")
        for pool in (getattr(self._pools, "pool", None),):
            if pool is not None:
                pool.close()
        return 0

    def _wait_for_jobs(self) -> None:
        """Wait for the jobs that were running at shutdown (the scheduler was told not to wait,
        so that a signal handler never blocks on its locks)."""
        for executor in self._executors.values():
            executor.shutdown(wait=True)

    def _clean_spool_leftovers(self) -> None:
        """A crash while spooling leaves a .tmp_ folder: it was never renamed into place, so it never
        counted; the batch it held was not acknowledged either and its cursor did not move."""
        if self.store.spool_dir.exists():
            for leftover in self.store.spool_dir.glob(".tmp_*"):
                shutil.rmtree(leftover, ignore_errors=True)


def _reported(con: duckdb.DuckDBPyConnection, kind: str, field: str, since: datetime) -> set[tuple[str | None, Any]]:
    """(job, detail[field]) of the events of ``kind`` recorded since ``since``: what was already
    reported. Other kinds' details are not all JSON, so they are decoded here, after the kind filter."""
    return {(job, json.loads(detail).get(field)) for job, detail in con.execute(
        "SELECT job, detail FROM daemon_events WHERE kind = ? AND event_at >= ?", [kind, since]).fetchall()}


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap the C library's malloc arenas for this long-running process (MALLOC_ARENAS says why). True if
    capped: glibc only, and not where MALLOC_ARENA_MAX is set (glibc read it at start)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs with
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))  # glibc returns 1 on success (musl's stub: 0)


def run_daemon(config: Config, data_dir: Path, verbose: int = 0, say: Callable[[str], None] = print) -> int:
    """Entry point for `monitor run` (no --once): the configured archives first, then the schedule
    until a signal. ``say`` shows the few lines meant for the person who started it."""
    limit_malloc_arenas()
    lock = DaemonLock(data_dir)
    try:
        lock.acquire()
    except DaemonRunning as exc:
        say(str(exc))
        return 1
    try:
        log_path = setup_daemon_logging(data_dir, verbose)
        say(f"monitor daemon (pid {os.getpid()}) for {data_dir}; log: {log_path}; stop with Ctrl-C or SIGTERM")
        store = Store(data_dir, lock_timeout=config.daemon.lock_timeout_seconds)
        daemon = Daemon(config, store, data_dir, inbox_interval=config.daemon.inbox_interval_seconds,
                        maintenance_interval=config.daemon.maintenance_interval_seconds)
        daemon.import_archives()
        return daemon.run()
    finally:
        lock.release()

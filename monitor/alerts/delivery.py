"""Delivering alerts: one per event and sink, recorded in the database, never lost silently.

Every (event, sink) pair is a row of ``alert_deliveries``, keyed by the event's deterministic key
and the sink's name. ``emit`` inserts the rows (a key already there is skipped: that is the dedup
across restarts) and ``flush`` delivers whatever is due:

- **retries**: an attempt that failed for a reason that may pass (connection error, timeout, 5xx,
  408, 429) is retried with exponential backoff, or after the server's Retry-After when it gave one.
  Short waits are slept through (the sleep function is injected); a longer one leaves the row
  ``retrying`` with ``next_attempt_at`` for a later flush (the daemon flushes at each maintenance).
  After ``retry.max_attempts`` attempts, or at once for an answer that will not change (another 4xx,
  a refused login, a missing secret), the row is ``failed`` with the last answer and error.
- **rate limit**: a sink gets at most ``max_per_hour`` alerts in any hour; the rest stay
  ``pending`` until a slot frees (delayed, not dropped).
- **quiet hours**: alerts due inside them are ``held`` until the quiet hours end, then sent one by
  one, oldest first (subject to the rate limit). Our choice: sending them individually keeps
  each alert's own link and dedup; the rate limit keeps a morning from being flooded.
- **thresholds**: an event below its target's thresholds is not an alert and is not recorded.

A crash after a sink accepted an alert but before the row says ``sent`` sends it once more at the
next start (at least once: an alert is never silently lost). When the database is busy, events
wait in memory and are recorded at the next emit or flush.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from monitor.alerts.events import (
    BaseEvent,
    SpikeEvent,
    StanceShiftEvent,
    TestEvent,
    VoiceEvent,
    event_from_json,
)
from monitor.alerts.sinks import Attempt, Sender, send_once
from monitor.alerts_config import AlertsConfig, RetrySettings, SinkSettings
from monitor.store import StoreError
from monitor.store.rows import utcnow_naive as utcnow
from monitor.store.schema import ALERT_DELIVERIES_DDL

log = logging.getLogger("monitor.alerts")

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
RATE_WINDOW = timedelta(hours=1)
TEST_ATTEMPTS = 2  # `monitor alerts test`
WAITING = ("pending", "held", "retrying")

CREATE_TABLE = ALERT_DELIVERIES_DDL  # the migration's statement (monitor/store/schema.py)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CREATE_TABLE)



@dataclass(frozen=True)
class SinkResult:
    """What became of one event at one sink (after this flush's attempts)."""

    sink: str
    kind: str  # the sink's kind
    event_key: str
    status: str
    attempts: int
    http_status: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["next_attempt_at"] = self.next_attempt_at.isoformat() if self.next_attempt_at else None
        return data


def backoff(retry: RetrySettings, attempts: int) -> float:
    return min(retry.max_backoff_seconds, retry.backoff_seconds * 2 ** max(0, attempts - 1))


def deliver(sink: SinkSettings, event: BaseEvent, *, send: Sender, sleep: Callable[[float], None],
            attempts_before: int = 0) -> tuple[str, int, Attempt, float | None]:
    """Attempts until sent, failed for good, or the next wait is longer than this flush may sleep.
    Returns (status, attempts in all, last attempt, seconds until the next try for 'retrying')."""
    retry = sink.retry
    attempts, slept = attempts_before, 0.0
    while True:
        try:
            attempt = send(sink, event)
        except Exception as exc:  # a bug in a sender must not stop the daemon, nor hide the alert
            log.error("alert %s: sending failed unexpectedly (%s)", event.key, type(exc).__name__)
            attempt = Attempt(ok=False, error=f"internal error: {type(exc).__name__}")
        attempts += 1
        if attempt.ok:
            return "sent", attempts, attempt, None
        if not attempt.retryable or attempts >= retry.max_attempts:
            return "failed", attempts, attempt, None
        wait = attempt.retry_after if attempt.retry_after is not None else backoff(retry, attempts)
        if slept + wait > retry.max_inline_wait_seconds:
            return "retrying", attempts, attempt, wait
        sleep(wait)
        slept += wait


class AlertDispatcher:
    """``AlertDispatcher(config.alerts, store.write_connection).emit(event)``.

    ``connect`` opens a short read-write connection to the database (a context manager); ``send``,
    ``clock`` (naive UTC) and ``sleep`` are for tests."""

    def __init__(self, config: AlertsConfig, connect: Connect, *, send: Sender = send_once,
                 clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.sinks: dict[str, SinkSettings] = dict(zip(config.sink_names(), config.sinks, strict=True))
        self.connect = connect
        self.send = send
        self.clock = clock
        self.sleep = sleep
        self._unrecorded: list[BaseEvent] = []  # emitted while the database was busy
        self._table_ready = False

    @property
    def active(self) -> bool:
        return self.config.enabled and bool(self.sinks)

    def worth_alert(self, event: BaseEvent) -> bool:
        """The event passes its target's thresholds (the daemon's own detection is the floor)."""
        limits = self.config.thresholds_for(event.target_id)
        if isinstance(event, SpikeEvent):
            return event.ratio >= limits.spike_ratio and event.posts >= limits.spike_min_posts
        if isinstance(event, VoiceEvent):
            return limits.voices
        if isinstance(event, StanceShiftEvent):
            return abs(event.shift) >= limits.stance_shift and min(event.posts, event.previous_posts) >= \
                limits.stance_min_posts
        return True

    def emit(self, event: BaseEvent) -> list[SinkResult]:
        return self.emit_many([event])

    def emit_many(self, events: Iterable[BaseEvent]) -> list[SinkResult]:
        """Record the events that pass the thresholds (once per sink, ever), then deliver what is due."""
        self.queue(events)
        return self.flush()

    def queue(self, events: Iterable[BaseEvent]) -> list[BaseEvent]:
        """Record the events that pass the thresholds (once per sink, ever) without sending: the next
        flush does. Returns the events recorded now for the first time (the caller may log those). A
        busy database keeps them in memory until the next queue or flush."""
        if not self.active:
            return []
        self._unrecorded.extend(e for e in events if self.worth_alert(e))
        try:
            return self._record_unrecorded()
        except (StoreError, duckdb.Error) as exc:
            log.warning("alerts: database busy, %d new events wait in memory: %s", len(self._unrecorded), exc)
            return []

    def flush(self) -> list[SinkResult]:
        """Deliver every due delivery: new ones, retries whose time has come, held ones after quiet hours."""
        if not self.active:
            return []
        try:
            self._record_unrecorded()
            due, sent_recently = self._due()
        except (StoreError, duckdb.Error) as exc:
            log.warning("alerts: database busy, %d new events wait in memory: %s", len(self._unrecorded), exc)
            return []
        now = self.clock()
        quiet_until = self.config.quiet_hours.quiet_until(now) if self.config.quiet_hours else None
        results: list[SinkResult] = []
        try:
            for row in due:
                results.append(self._handle(row, now, quiet_until, sent_recently))
        except (StoreError, duckdb.Error) as exc:
            # The rest stay due; a delivery sent but not recorded is sent again (at least once).
            log.warning("alerts: database busy, %d deliveries left for the next flush: %s",
                        len(due) - len(results), exc)
        return results

    # --- the table ------------------------------------------------------------------------

    def _open(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.connect()

    def _ready(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._table_ready:
            ensure_table(con)
            self._table_ready = True

    def _record_unrecorded(self) -> list[BaseEvent]:
        if not self._unrecorded:
            return []
        now = self.clock()
        events = list({event.key: event for event in self._unrecorded}.values())
        rows = [(event.key, name, "pending", 0, now, now, event.kind, event.target_id, event.model_dump_json())
                for event in events for name, sink in self.sinks.items() if sink.wants(event.kind)]
        with self._open() as con:
            self._ready(con)
            keys = [event.key for event in events]
            known = {key for (key,) in con.execute(
                "SELECT DISTINCT event_key FROM alert_deliveries WHERE list_contains(?, event_key)", [keys]).fetchall()}
            if rows:
                # An event already recorded for a sink (before a restart, say) keeps its row: no second alert.
                con.executemany("""
                    INSERT INTO alert_deliveries (event_key, sink, status, attempts, created_at, next_attempt_at,
                                                  kind, target_id, event)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, rows)
        self._unrecorded = []
        return [event for event in events if event.key not in known]

    def _due(self) -> tuple[list[tuple[Any, ...]], dict[str, list[datetime]]]:
        now = self.clock()
        with self._open() as con:
            self._ready(con)
            due = con.execute(f"""
                SELECT event_key, sink, attempts, event FROM alert_deliveries
                WHERE status IN {WAITING} AND coalesce(next_attempt_at, created_at) <= ?
                ORDER BY created_at, event_key
            """, [now]).fetchall()
            recent = con.execute("""
                SELECT sink, list(sent_at ORDER BY sent_at) FROM alert_deliveries
                WHERE status = 'sent' AND kind <> 'test' AND sent_at > ? GROUP BY sink
            """, [now - RATE_WINDOW]).fetchall()
        # Oldest event first; each event's sinks in the order of the config.
        first_seen: dict[str, int] = {}
        for row in due:
            first_seen.setdefault(row[0], len(first_seen))
        order = {name: i for i, name in enumerate(self.sinks)}
        due.sort(key=lambda row: (first_seen[row[0]], order.get(row[1], len(order))))
        return due, {sink: list(times) for sink, times in recent}

    def _update(self, event_key: str, sink: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._open() as con:
            self._ready(con)
            con.execute(f"UPDATE alert_deliveries SET {columns} WHERE event_key = ? AND sink = ?",
                        [*values.values(), event_key, sink])

    # --- one delivery ---------------------------------------------------------------------

    def _handle(self, row: tuple[Any, ...], now: datetime, quiet_until: datetime | None,
                sent_recently: dict[str, list[datetime]]) -> SinkResult:
        event_key, name, attempts, event_json = row
        sink = self.sinks.get(name)
        if sink is None:
            error = f"sink '{name}' is no longer configured"
            self._update(event_key, name, status="failed", error=error, next_attempt_at=None)
            return SinkResult(name, "?", event_key, "failed", attempts, error=error)
        if quiet_until is not None:
            self._update(event_key, name, status="held", next_attempt_at=quiet_until)
            return SinkResult(name, sink.kind, event_key, "held", attempts, next_attempt_at=quiet_until)
        window = [t for t in sent_recently.get(name, []) if t > now - RATE_WINDOW]
        if len(window) >= sink.max_per_hour:
            free_at = window[0] + RATE_WINDOW
            error = f"rate limit: {len(window)} alerts in the last hour (max_per_hour = {sink.max_per_hour})"
            self._update(event_key, name, status="pending", error=error, next_attempt_at=free_at)
            return SinkResult(name, sink.kind, event_key, "pending", attempts, error=error, next_attempt_at=free_at)
        result = self._send(name, sink, event_from_json(event_json), attempts)
        if result.status == "sent":
            sent_recently.setdefault(name, []).append(self.clock())
        return result

    def _send(self, name: str, sink: SinkSettings, event: BaseEvent, attempts_before: int) -> SinkResult:
        status, attempts, last, wait = deliver(sink, event, send=self.send, sleep=self.sleep,
                                               attempts_before=attempts_before)
        now = self.clock()
        next_at = now + timedelta(seconds=wait) if wait is not None else None
        self._update(event.key, name, status=status, attempts=attempts, http_status=last.code, error=last.error,
                     sent_at=now if status == "sent" else None, next_attempt_at=next_at)
        level = logging.INFO if status == "sent" else logging.WARNING
        # Sink name, key, answer: never the post text (the log reaches the console) nor a secret.
        log.log(level, "alert %s -> %s: %s after %d attempt(s)%s%s", event.key, name, status, attempts,
                f", answer {last.code}" if last.code else "", f", {last.error}" if last.error and not last.ok else "")
        return SinkResult(name, sink.kind, event.key, status, attempts, last.code, last.error, next_at)


def send_test_alert(config: AlertsConfig, connect: Connect | None = None, *, send: Sender = send_once,
                    clock: Callable[[], datetime] = utcnow,
                    sleep: Callable[[float], None] = time.sleep) -> list[SinkResult]:
    """`monitor alerts test`: one test alert to every configured sink, now (no quiet hours, no rate
    limit, at most two tries), and what each answered. Recorded in alert_deliveries when
    ``connect`` is given and the database can be written."""
    now = clock()
    event = TestEvent(target_id="test", target_name="test", at=now, nonce=uuid.uuid4().hex[:8])
    results = []
    for name, sink in zip(config.sink_names(), config.sinks, strict=True):
        # Two tries, a second apart at most: the user is waiting for the answer.
        quick = sink.model_copy(update={"retry": sink.retry.model_copy(update={
            "max_attempts": min(sink.retry.max_attempts, TEST_ATTEMPTS), "max_backoff_seconds": 1.0,
            "max_inline_wait_seconds": 5.0})})
        status, attempts, last, _ = deliver(quick, event, send=send, sleep=sleep)
        if status == "retrying":
            status = "failed"  # a test does not wait for a later flush
        results.append(SinkResult(name, sink.kind, event.key, status, attempts, last.code, last.error))
    if connect is not None:
        _record_test(connect, event, results, clock())
    return results


def _record_test(connect: Connect, event: TestEvent, results: list[SinkResult], now: datetime) -> None:
    try:
        with connect() as con:
            ensure_table(con)
            con.executemany("""
                INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 'test', NULL, ?)
                ON CONFLICT DO NOTHING
            """, [(r.event_key, r.sink, r.status, r.attempts, r.http_status, r.error,
                   now if r.status == "sent" else None, now, event.model_dump_json()) for r in results])
    except (StoreError, duckdb.Error) as exc:
        log.info("test alert not recorded: %s", exc)


# --- for `monitor status` ------------------------------------------------------------------


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'alert_deliveries'").fetchone()
    return bool(row and row[0])


def recent_failures(con: duckdb.DuckDBPyConnection, since: datetime | None = None,
                    limit: int = 20) -> list[dict[str, Any]]:
    """Deliveries that failed for good or are waiting to retry, newest first (for `monitor status`).
    Works on a read-only connection; empty when no alert was ever emitted."""
    if not _has_table(con):
        return []
    since = since or utcnow() - timedelta(days=7)
    rows = con.execute("""
        SELECT event_key, sink, status, attempts, http_status, error, created_at, next_attempt_at
        FROM alert_deliveries
        WHERE status IN ('failed', 'retrying') AND created_at >= ?
        ORDER BY created_at DESC, event_key, sink LIMIT ?
    """, [since, limit]).fetchall()
    keys = ("event_key", "sink", "status", "attempts", "http_status", "error", "created_at", "next_attempt_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def alert_status(con: duckdb.DuckDBPyConnection, now: datetime | None = None,
                 since: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """For `monitor status` (and its --json): per sink the week's deliveries by status, and the
    deliveries that failed or wait to retry, times as ISO strings."""
    start = (now or utcnow()) - since
    failures = [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
                for row in recent_failures(con, start)]
    return {"since": start.isoformat(), "sinks": delivery_counts(con, start), "failures": failures}


def delivery_counts(con: duckdb.DuckDBPyConnection, since: datetime | None = None) -> dict[str, dict[str, int]]:
    """Per sink, how many deliveries are in each status (since ``since``, default a week)."""
    if not _has_table(con):
        return {}
    since = since or utcnow() - timedelta(days=7)
    counts: dict[str, dict[str, int]] = {}
    for sink, status, n in con.execute("""
        SELECT sink, status, count(*) FROM alert_deliveries WHERE created_at >= ? GROUP BY ALL ORDER BY ALL
    """, [since]).fetchall():
        counts.setdefault(sink, {})[status] = n
    return counts

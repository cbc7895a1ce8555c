"""Live collection: runs a collector once over its queries. Page by page the posts are analysed
and written in one transaction together with the advanced cursor (``source_state``), the post
sightings and the run record, so a crash never skips or duplicates. Failures are one line per
source, and other sources go on."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config import Config
from monitor.http import FetchError, HttpClient, RateLimited
from monitor.ingest.pool import AnalysisPool
from monitor.ingest.write import Origin, analyse_posts, write_posts
from monitor.models import Post
from monitor.sources.api import CollectContext, Collector, Page, load_sources
from monitor.store import Store, WriteBatch
from monitor.store.queries import source_state
from monitor.store.rows import new_id, targets_table, utcnow_naive

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    source: str
    query: str | None
    run_id: int
    started_at: datetime
    finished_at: datetime | None = None
    pages: int = 0
    posts_new: int = 0
    posts_seen: int = 0
    unmatched: int = 0
    coverage: str = "complete"  # complete | capped | rate-limited | failed
    error: str | None = None
    retry_at: datetime | None = None
    statuses: str = ""
    requests: int = 0
    spooled: bool = False
    posts_spooled: int = 0  # waiting in the spool: counted as new or seen in the stored run row when it drains

    def row(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "source": self.source, "query": self.query, "started_at": self.started_at,
                "finished_at": self.finished_at, "pages": self.pages, "requests": self.requests,
                "posts_new": self.posts_new, "posts_seen": self.posts_seen, "statuses": self.statuses,
                "error": self.error, "coverage": self.coverage}

    def as_dict(self) -> dict[str, Any]:
        data = self.row()
        data.update(unmatched=self.unmatched, retry_at=self.retry_at, spooled=self.spooled,
                    posts_spooled=self.posts_spooled)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def run_collector(collector: Collector, config: Config, store: Store, pool: AnalysisPool,
                  http: HttpClient | None = None, queries: list[str] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> list[RunReport]:
    """Run one collector once over its queries. Offline stops the source after the first query.
    ``should_stop`` is checked between pages: the page in hand is stored, then the run ends."""
    settings = collector.settings(config)
    own_http = http is None
    http = http or HttpClient(config.contact)
    base_url = (settings.base_url or collector.base_url).rstrip("/")
    ctx = CollectContext(collector.name, config, settings, http, base_url, should_stop or (lambda: False))
    reports: list[RunReport] = []
    try:
        for query in queries or collector.query_list(config):
            if should_stop and should_stop():
                break
            report = _run_query(collector, ctx, query, store, pool, should_stop)
            reports.append(report)
            if report.coverage == "failed" and report.error and report.error.startswith("offline"):
                break
            if report.coverage == "rate-limited":
                break
    finally:
        if own_http:
            http.close()
    return reports


def _run_query(collector: Collector, ctx: CollectContext, query: str, store: Store, pool: AnalysisPool,
               should_stop: Callable[[], bool] | None = None) -> RunReport:
    report = RunReport(collector.name, query, new_id(), utcnow_naive())
    state = source_state(store, collector.name, query)
    max_pages = ctx.settings.max_pages
    requests_before = ctx.http.requests
    statuses_before = ctx.http.statuses.copy()
    try:
        for page in collector.fetch(ctx, query, dict(state)):
            report.pages += 1
            _save_page(page, query, report, store, pool)
            if not page.more:
                break
            if report.pages >= max_pages and not collector.streaming:  # a stream ends on its own terms
                report.coverage = "capped"
                break
            if should_stop and should_stop():
                report.coverage, report.error = "capped", "stopped: shutting down"
                break
    except RateLimited as exc:
        report.coverage, report.error, report.retry_at = "rate-limited", str(exc), exc.retry_at
    except FetchError as exc:
        report.coverage, report.error = "failed", f"{exc.kind}: {exc}"
    except Exception as exc:  # a collector bug must not stop the other sources
        log.exception("collector %s failed", collector.name)
        report.coverage, report.error = "failed", f"error: {type(exc).__name__}: {exc}"
    report.finished_at = utcnow_naive()
    report.requests = ctx.http.requests - requests_before
    report.statuses = ",".join(f"{k}x{v - statuses_before.get(k, 0)}" for k, v in sorted(ctx.http.statuses.items())
                               if v - statuses_before.get(k, 0))
    final = WriteBatch()
    final.add_rows("runs", [report.row()])
    report.spooled = store.write(final).spooled or report.spooled
    return report


def _save_page(page: Page, query: str, report: RunReport, store: Store, pool: AnalysisPool) -> None:
    def bookkeeping(batch: WriteBatch, kept: list[Post]) -> None:
        now = utcnow_naive()
        if page.deleted:
            batch.add_rows("deletions", [{"post_key": key, "source": report.source, "deleted_at": now}
                                         for key in dict.fromkeys(page.deleted)])
        batch.add_rows("sightings", [{"post_key": p.key, "run_id": report.run_id, "source": report.source,
                                      "query": query, "seen_at": now} for p in kept])
        batch.add_rows("source_state", [{"source": report.source, "query": query,
                                         "state": json.dumps(page.state, sort_keys=True), "updated_at": now}])
        report.finished_at = now
        batch.add_rows("runs", [report.row()])

    written = write_posts(store, analyse_posts(pool, page.posts), Origin(run_id=report.run_id), bookkeeping)
    report.unmatched += written.unmatched
    report.posts_new += written.posts_new
    report.posts_seen += written.posts_seen
    report.posts_spooled += written.posts_spooled
    report.spooled = report.spooled or written.spooled


def next_retry(report: RunReport, interval_minutes: float) -> datetime:
    if report.retry_at is not None:
        return report.retry_at
    return datetime.now(UTC) + timedelta(minutes=interval_minutes)


def describe_failure(report: RunReport, interval_minutes: float) -> str:
    when = next_retry(report, interval_minutes)
    return f"{report.source}: {report.error} — next try {when:%Y-%m-%d %H:%M} UTC"


def collect_sources(
    config: Config, store: Store, pool: AnalysisPool, names: list[str] | None = None,
    on_report: Callable[[Collector, list[RunReport]], None] | None = None,
    should_stop: Callable[[], bool] | None = None, once: bool = False,
) -> dict[str, list[RunReport]]:
    """Run the named collectors (default: every enabled one) once, each isolated from the others'
    failures. Collectors that need credentials that are missing are skipped with a reason. With
    ``once`` (cron, `run --once`), streams read until they have caught up, for at most 20 seconds."""
    registry = load_sources()
    selected = [registry.collector(n).name for n in names] if names else \
        [n for n, c in registry.collectors.items() if c.is_enabled(config)]
    store.sync_targets(targets_table(config.targets))
    results: dict[str, list[RunReport]] = {}
    for name in selected:
        collector = registry.collector(name)
        if collector.missing():
            results[name] = []
            if on_report:
                on_report(collector, [])
            continue
        run_config = config
        if once and collector.streaming:
            run_config = config.model_copy(deep=True)
            limit = min(float(getattr(collector.settings(config), "max_seconds", 20)), 20.0)
            run_config.sources[name] = {**config.sources.get(name, {}), "stop_when_caught_up": True,
                                        "max_seconds": limit}
        results[name] = run_collector(collector, run_config, store, pool, should_stop=should_stop)
        if on_report:
            on_report(collector, results[name])
    return results


def summarise(collector: Collector, reports: list[RunReport], interval_minutes: float) -> tuple[bool, str]:
    """(ok, one line) describing a collector's run for the terminal."""
    if not reports:
        return False, f"{collector.name}: skipped, needs {', '.join(collector.missing()) or collector.needs}"
    failed = [r for r in reports if r.coverage in ("failed", "rate-limited")]
    new = sum(r.posts_new for r in reports)
    seen = sum(r.posts_seen for r in reports)
    requests = sum(r.requests for r in reports)
    if failed:
        return False, describe_failure(failed[0], interval_minutes)
    capped = sum(1 for r in reports if r.coverage == "capped")
    extra = f", {capped} capped at max_pages" if capped else ""
    spooled = sum(r.posts_spooled for r in reports)
    extra += f", {spooled} posts waiting in the spool (database locked)" if spooled else ""
    return True, (f"{collector.name}: {len(reports)} queries, {requests} requests, {new} new posts, "
                  f"{seen} seen before{extra}")

"""Live collection: the collector registry and the loop that runs one collector once.

A collector is a plain generator function ``fetch(ctx, query, state) -> Iterator[Page]`` in its
platform's module under ``monitor/sources/``; it maps responses to Posts with the same function the
archive reader uses. This module runs it: page by page it analyses the posts and writes them in one
transaction together with the advanced cursor (``source_state``), the post sightings and the run
record, so a crash never skips or duplicates. Failures are one line per source, and other sources
go on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.config import Config, SourceConfig
from monitor.http import FetchError, HttpClient, RateLimited
from monitor.models import Post, Provenance
from monitor.store import Store, WriteBatch
from monitor.store.rows import dedupe_posts, new_id, posts_table, targets_table, utcnow_naive

if TYPE_CHECKING:
    from monitor.analysis.pipeline import AnalysisPool

log = logging.getLogger(__name__)


@dataclass
class Page:
    """One response's worth of posts and the collector state once they are stored."""

    posts: list[Post]
    state: dict[str, Any]
    more: bool = True  # False: the end, or caught up with what earlier runs stored
    request: str | None = None
    # Keys (platform:id) the platform reports deleted. An edited post: its key here and the new
    # version in ``posts`` (the old version and its scores are replaced).
    deleted: list[str] = field(default_factory=list)


@dataclass
class CollectContext:
    name: str
    config: Config
    settings: SourceConfig
    http: HttpClient
    base_url: str
    should_stop: Callable[[], bool] = lambda: False  # streaming collectors check it while reading

    def provenance(self, request: str | None, query: str | None) -> Provenance:
        return Provenance(source=self.name, request=request, query=query)

    def setting(self, key: str, default: Any = None) -> Any:
        return getattr(self.settings, key, None) if key in type(self.settings).model_fields else \
            (self.settings.model_extra or {}).get(key, default)

    def env(self, name: str) -> str | None:
        """A credential from the environment (never from the config, never logged)."""
        value = os.environ.get(name)
        return value or None


FetchFunc = Callable[[CollectContext, str, dict[str, Any]], Iterator[Page]]


@dataclass
class Collector:
    name: str
    description: str
    fetch: FetchFunc
    base_url: str
    needs: str = "nothing"  # shown by `monitor sources`
    enabled_by_default: bool = True
    interval_minutes: float = 15
    required_env: tuple[str, ...] = ()
    queries: Callable[[Config, SourceConfig], list[str]] | None = None
    streaming: bool = False  # long-running stream (Jetstream): run by the daemon, bounded in --once

    def settings(self, config: Config) -> SourceConfig:
        return config.sources.get(self.name) or SourceConfig(enabled=self.enabled_by_default,
                                                             interval_minutes=self.interval_minutes)

    def missing(self) -> list[str]:
        return [name for name in self.required_env if not os.environ.get(name)]

    def is_enabled(self, config: Config) -> bool:
        settings = config.sources.get(self.name)
        return settings.enabled if settings is not None else self.enabled_by_default

    def query_list(self, config: Config) -> list[str]:
        settings = self.settings(config)
        if settings.queries:
            return list(settings.queries)
        if self.queries is not None:
            return self.queries(config, settings)
        return default_queries(config)


COLLECTORS: dict[str, Collector] = {}


def register_collector(name: str, *, description: str, base_url: str, **options: Any) -> Callable[[FetchFunc],
                                                                                                    FetchFunc]:
    """Register a live collector. Built-in collectors use this exactly as a plugin would."""

    def decorate(func: FetchFunc) -> FetchFunc:
        COLLECTORS[name] = Collector(name=name, description=description, fetch=func, base_url=base_url, **options)
        return func

    return decorate


def load_collectors() -> dict[str, Collector]:
    from monitor.sources import load_builtin_readers

    load_builtin_readers()  # the same modules register readers and collectors
    return COLLECTORS


def default_queries(config: Config) -> list[str]:
    """One query per target: its most specific name (the first alias, else the display name)."""
    queries: list[str] = []
    for target in config.targets:
        names = target.aliases or target.exact_aliases or [target.name]
        queries.append(names[0])
    return list(dict.fromkeys(queries))


# --- running ----------------------------------------------------------------------------------


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

    def row(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "source": self.source, "query": self.query, "started_at": self.started_at,
                "finished_at": self.finished_at, "pages": self.pages, "requests": self.requests,
                "posts_new": self.posts_new, "posts_seen": self.posts_seen, "statuses": self.statuses,
                "error": self.error, "coverage": self.coverage}

    def as_dict(self) -> dict[str, Any]:
        data = self.row()
        data.update(unmatched=self.unmatched, retry_at=self.retry_at, spooled=self.spooled)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def load_state(store: Store, source: str, query: str) -> dict[str, Any]:
    from monitor.store import StoreError

    try:
        with store.read(timeout=2.0) as con:
            row = con.execute("SELECT state FROM source_state WHERE source = ? AND query = ?",
                              [source, query]).fetchone()
    except StoreError:
        row = None
    state: dict[str, Any] = json.loads(row[0]) if row else {}
    # A spooled batch may hold a newer state than the database: the newest spooled one wins.
    for path in reversed(store.spooled_batches()):
        batch = store.load_spooled(path)
        table = batch.tables.get("source_state")
        if table is not None:
            for r in table.to_pylist():
                if r["source"] == source and r["query"] == query:
                    return json.loads(r["state"])
    return state


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
    state = load_state(store, collector.name, query)
    max_pages = max(1, ctx.settings.max_pages)
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
    posts = dedupe_posts(page.posts)
    analysed = pool.analyse([(p.key, p.text, p.lang) for p in posts])
    kept_posts = [p for p, keep in zip(posts, analysed.keep, strict=True) if keep]
    report.unmatched += len(posts) - len(kept_posts)
    now = utcnow_naive()
    batch = WriteBatch()
    if page.deleted:
        batch.add_rows("deletions", [{"post_key": key, "source": report.source, "deleted_at": now}
                                     for key in dict.fromkeys(page.deleted)])
    if kept_posts:
        batch.add("posts", posts_table(kept_posts, run_id=report.run_id))
        for table, data in analysed.tables.items():
            batch.add(table, data)
        batch.add_rows("sightings", [{"post_key": p.key, "run_id": report.run_id, "source": report.source,
                                      "query": query, "seen_at": now} for p in kept_posts])
    batch.add_rows("source_state", [{"source": report.source, "query": query,
                                     "state": json.dumps(page.state, sort_keys=True), "updated_at": now}])
    report.finished_at = now
    batch.add_rows("runs", [report.row()])
    result = store.write(batch)
    report.posts_new += result.posts_new
    report.posts_seen += result.posts_seen
    report.spooled = report.spooled or result.spooled


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
    collectors = load_collectors()
    unknown = [n for n in names or [] if n not in collectors]
    if unknown:
        raise KeyError(f"unknown source(s): {', '.join(unknown)}; known: {', '.join(sorted(collectors))}")
    selected = names or [n for n, c in collectors.items() if c.is_enabled(config)]
    store.sync_targets(targets_table(config.targets))
    results: dict[str, list[RunReport]] = {}
    for name in selected:
        collector = collectors[name]
        if collector.missing():
            results[name] = []
            if on_report:
                on_report(collector, [])
            continue
        run_config = config
        if once and collector.streaming:
            run_config = config.model_copy(deep=True)
            settings = collector.settings(config)
            limit = min(float((settings.model_extra or {}).get("max_seconds", 20)), 20.0)
            run_config.sources[name] = settings.model_copy(update={"stop_when_caught_up": True, "max_seconds": limit})
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
    return True, (f"{collector.name}: {len(reports)} queries, {requests} requests, {new} new posts, "
                  f"{seen} seen before{extra}")

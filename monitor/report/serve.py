"""`monitor serve`: a read-only web dashboard over the database, with the report's charts.

Each request opens the database read-only, runs its queries and closes it (``Store.read``); a query
running past ``query_seconds`` is interrupted and answered 503, and listings are capped (data.py).
DuckDB lets a writer in only when no reader has the file open, and overlapping readers would keep
the daemon's writer out for good (it spooled its batches in a test with two clients polling). So the
server reads one request at a time, then leaves the file alone for at least as long as it held it
(the writer retries every 0.25-0.75 s), and answers the same question again from a short cache. The page fetches
``/api/report`` with the filters in its form every ``refresh`` seconds; a click on the volume chart
lists that target's posts of that time bucket (``/api/posts``) with links to the originals.

It binds 127.0.0.1 by default. Any other address needs a token (``--token`` or MONITOR_SERVE_TOKEN),
then required on every request (``?token=`` on the page's address, or ``Authorization: Bearer``).
On loopback without a token, requests must name a loopback host, so a web page elsewhere cannot
reach the dashboard by rebinding its own name to 127.0.0.1.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

from monitor.report.charts import all_charts
from monitor.report.data import DRILL_POSTS, Filters, Report, compute, parse_time, posts, safe_link, visible
from monitor.report.html import CSP_DASHBOARD, chart_payload, render_page, render_tables, window_text
from monitor.store import Store, StoreError

log = logging.getLogger(__name__)

TOKEN_ENV = "MONITOR_SERVE_TOKEN"
DEFAULT_REFRESH = 30
QUERY_SECONDS = 10.0  # a request's queries are interrupted after this long
OPEN_SECONDS = 3.0  # how long a request waits for the writer to let go of the file
MIN_GAP_SECONDS = 0.05  # the file is left alone at least this long (and as long as it was held) between reads
CACHE_SECONDS = 1.0  # the same question within this long is answered without opening the file
CACHE_ENTRIES = 64
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class BindRefused(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise BindRefused(f"binding to {host} makes the dashboard reachable from other machines: "
                          f"give a token (--token or {TOKEN_ENV}), or bind to 127.0.0.1")


CONTROLS = """<form class="filters" id="filters">
<label>since <input name="since" placeholder="7d, 2025-01-01, all" size="12"></label>
<label>until <input name="until" placeholder="date or empty" size="12"></label>
<label>targets <input name="target" placeholder="musk, altman" size="18"></label>
<label>platforms <input name="platform" placeholder="x, bluesky" size="14"></label>
<button type="submit">Apply</button> <span id="status" class="note"></span>
</form>"""

DASHBOARD_JS = """
const REFRESH_SECONDS = __REFRESH__;
const TOKEN = new URLSearchParams(location.search).get('token');
let lastCharts = null, lastBucket = 'day';
function say(text) { document.getElementById('status').textContent = text; }
function api(path, params) {
  const query = new URLSearchParams(params);
  const headers = TOKEN ? {'Authorization': 'Bearer ' + TOKEN} : {};
  return fetch(path + '?' + query.toString(), {headers: headers, cache: 'no-store'}).then(function (r) {
    if (r.ok) { return r.json(); }
    return r.text().then(function (t) { throw new Error(r.status + ' ' + t); });
  });
}
function filters() {
  const form = new FormData(document.getElementById('filters'));
  const out = {};
  for (const [k, v] of form.entries()) { if (String(v).trim()) { out[k] = String(v).trim(); } }
  return out;
}
function load() {
  return api('/api/report', filters()).then(function (d) {
    document.getElementById('window').textContent = d.window;
    document.getElementById('tables').innerHTML = d.tables_html;  // rendered and escaped by the server
    lastBucket = d.bucket;
    const charts = JSON.stringify(d.charts);
    say('updated ' + new Date().toLocaleTimeString() + ' · refresh every ' + REFRESH_SECONDS + ' s');
    if (charts === lastCharts) { return; }
    lastCharts = charts;
    return renderCharts(d.charts);
  }).catch(function (e) { say('could not load: ' + e.message); });
}
function postElement(p) {
  const box = document.createElement('div'); box.className = 'post';
  const text = document.createElement('div'); text.className = 'text'; text.textContent = p.text;
  const meta = document.createElement('div'); meta.className = 'meta';
  meta.textContent = p.meta + ' · ';
  if (p.link) {
    const a = document.createElement('a'); a.href = p.link; a.textContent = 'original';
    a.rel = 'noopener noreferrer nofollow'; a.target = '_blank'; meta.append(a);
  } else if (p.url_text) {
    const s = document.createElement('span'); s.className = 'nolink'; s.textContent = p.url_text; meta.append(s);
  }
  box.append(text, meta); return box;
}
function drill(datum) {
  // Vega has parsed the bucket into a time (milliseconds or a Date): back to ISO, UTC.
  const start = new Date(datum.bucket).toISOString();
  const params = Object.assign(filters(), {target: datum.target_id, start: start, bucket: lastBucket});
  return api('/api/posts', params).then(function (d) {
    const holder = document.getElementById('drill'); holder.replaceChildren();
    const section = document.createElement('section');
    const h = document.createElement('h2'); h.textContent = d.title; section.append(h);
    d.posts.forEach(function (p) { section.append(postElement(p)); });
    if (!d.posts.length) { const e = document.createElement('p'); e.textContent = 'No posts.'; section.append(e); }
    holder.append(section); holder.scrollIntoView();
  }).catch(function (e) { say('could not list posts: ' + e.message); });
}
window.onChart = function (chart, view) {
  if (chart.name !== 'volume') { return; }
  view.addEventListener('click', function (event, item) {
    if (item && item.datum && item.datum.target_id) { drill(item.datum); }
  });
};
document.getElementById('filters').addEventListener('submit', function (e) {
  e.preventDefault(); lastCharts = null; load();
});
// Filters given in the page's address (?since=7d&target=musk) fill the form: a view can be shared.
const given = new URLSearchParams(location.search);
for (const input of document.querySelectorAll('#filters input')) {
  if (given.get(input.name)) { input.value = given.getAll(input.name).join(', '); }
}
load();
setInterval(load, REFRESH_SECONDS * 1000);
"""


DASHBOARD_MEMORY_LIMIT = "1GB"  # DuckDB's memory for one request's queries


@dataclass
class Dashboard:
    """What the request handlers share: the store, the settings and the page shell (built once)."""

    store: Store
    token: str | None = None
    refresh: int = DEFAULT_REFRESH
    query_seconds: float = QUERY_SECONDS
    loopback_only: bool = True
    _page: bytes | None = None
    _gate: threading.Lock = field(default_factory=threading.Lock)  # one read at a time
    _next_open: float = 0.0  # monotonic time before which no read starts: the writer's turn
    _cache: dict[Hashable, tuple[float, Any]] = field(default_factory=dict)

    def page(self) -> bytes:
        if self._page is None:
            empty = Report(generated_at="", start=None, end=None, bucket="day", buckets=[], filters={
                "since": None, "until": None, "targets": [], "platforms": []}, posts_total=0, mentions=0)
            html = render_page(empty, [], title="discourse-monitor dashboard", csp=CSP_DASHBOARD, controls=CONTROLS,
                               page_js=DASHBOARD_JS.replace("__REFRESH__", str(max(1, int(self.refresh)))))
            self._page = html.encode("utf-8")
        return self._page

    def read(self, work: Callable[[duckdb.DuckDBPyConnection], Any], key: Hashable | None = None) -> Any:
        """Run ``work`` on a brief read-only connection, interrupted after ``query_seconds``; with a
        ``key``, a result less than CACHE_SECONDS old is returned instead."""
        now = time.monotonic()
        if key is not None and key in self._cache and self._cache[key][0] > now:
            return self._cache[key][1]
        with self._gate:
            time.sleep(max(0.0, self._next_open - time.monotonic()))
            started = time.monotonic()
            try:
                with self.store.read(timeout=OPEN_SECONDS) as con:
                    # A query that needs more stops with an error, as one that runs too long does
                    # (uncapped, a whole-history report over 10M posts took 7.1 GB).
                    con.execute(f"SET memory_limit = '{DASHBOARD_MEMORY_LIMIT}'")
                    timer = threading.Timer(self.query_seconds, con.interrupt)
                    timer.start()
                    try:
                        result = work(con)
                    finally:
                        timer.cancel()
            finally:
                ended = time.monotonic()
                self._next_open = ended + max(MIN_GAP_SECONDS, ended - started)
        if key is not None:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (ended + CACHE_SECONDS, result)
        return result


def filters_from(query: dict[str, list[str]]) -> Filters:
    def many(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for raw in query.get(name, []) for v in raw.split(",") if v.strip()))

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    since, until = parse_time(one("since")), parse_time(one("until"))
    if since is not None and until is not None and until <= since:  # as `monitor report` refuses it
        raise ValueError("until must be later than since")
    return Filters(since=since, until=until, targets=many("target"), platforms=many("platform"))


def check_targets(con: duckdb.DuckDBPyConnection, filters: Filters) -> None:
    """A target id that is not configured is refused, as `monitor report --target` refuses it: it
    used to give an empty report, which reads as "nobody talks about it"."""
    if filters.targets:
        known = [row[0] for row in con.execute("SELECT target_id FROM targets ORDER BY 1").fetchall()]
        unknown = [t for t in filters.targets if t not in known]
        if unknown:
            raise ValueError(f"unknown target {', '.join(unknown)}; the targets are {', '.join(known)}")


def _checked(work: Callable[[duckdb.DuckDBPyConnection], Any], filters: Filters
             ) -> Callable[[duckdb.DuckDBPyConnection], Any]:
    def run(con: duckdb.DuckDBPyConnection) -> Any:
        check_targets(con, filters)
        return work(con)
    return run


def report_json(dashboard: Dashboard, filters: Filters) -> dict[str, Any]:
    report: Report = dashboard.read(_checked(lambda con: compute(con, filters), filters), key=("report", filters))
    return {"window": window_text(report), "bucket": report.bucket, "mentions": report.mentions,
            "posts_total": report.posts_total, "charts": chart_payload(all_charts(report)),
            "tables_html": render_tables(report)}


BUCKET_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _bucket_end(start: datetime, bucket: str) -> datetime:
    if bucket == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + BUCKET_STEPS.get(bucket, timedelta(days=1))


def posts_json(dashboard: Dashboard, query: dict[str, list[str]]) -> dict[str, Any]:
    """A drill-down: the posts of the filters, narrowed to one time bucket if ``start`` is given."""
    filters = filters_from(query)
    title = "Posts"
    if query.get("start"):
        start = parse_time(query["start"][0])
        if start is not None:
            end = _bucket_end(start, query.get("bucket", ["day"])[0])
            since = max(start, filters.since) if filters.since else start
            until = min(end, filters.until) if filters.until else end
            filters = Filters(since, until, filters.targets, filters.platforms)
            title = f"Posts about {', '.join(filters.targets) or 'all targets'} from {start:%Y-%m-%d %H:%M} UTC"
    rows = dashboard.read(_checked(lambda con: posts(con, filters, "engagement", DRILL_POSTS), filters),
                          key=("posts", filters))
    return {"title": visible(title), "posts": [{
        "text": visible(p.text), "link": safe_link(p.url), "url_text": visible(p.url or "", 120),
        "meta": visible(f"{p.platform} · @{p.author or '?'} · {p.created_at[:16]} UTC · sentiment "
                        f"{'—' if p.sentiment is None else f'{p.sentiment:+.2f}'} · stance {p.stance or '—'} · "
                        f"engagement {p.engagement} · {', '.join(p.targets)}"),
    } for p in rows]}


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
    "Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin",
}


def host_name(header: str) -> str:
    """The host of a Host header, without its port: 'localhost', '127.0.0.1', '[::1]'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class DashboardHandler(BaseHTTPRequestHandler):
    server_version = "discourse-monitor"
    dashboard: Dashboard  # set on the subclass make_server builds

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP_DASHBOARD)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _allowed(self, query: dict[str, list[str]]) -> str | None:
        """Why the request is refused, or None."""
        token = self.dashboard.token
        if token:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip() or \
                (query.get("token") or [""])[0]
            return None if hmac.compare_digest(given.encode(), token.encode()) else "a valid token is required"
        if self.dashboard.loopback_only and host_name(self.headers.get("Host") or "") not in LOOPBACK_NAMES:
            return "requests must name this machine (localhost or 127.0.0.1)"
        return None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=False)
        refused = self._allowed(query)
        if refused:
            self._json(HTTPStatus.FORBIDDEN, {"error": refused})
            return
        routes: dict[str, Callable[[], Any]] = {
            "/api/report": lambda: report_json(self.dashboard, filters_from(query)),
            "/api/posts": lambda: posts_json(self.dashboard, query),
            "/api/health": lambda: self.dashboard.read(
                lambda con: {"ok": True, "posts": con.execute("SELECT count(*) FROM posts").fetchone()[0]},
                key="health"),
        }
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.dashboard.page(), "text/html; charset=utf-8")
            return
        if url.path not in routes:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            self._json(HTTPStatus.OK, routes[url.path]())
        except ValueError as exc:  # a filter not understood
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except duckdb.InterruptException:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE,
                       {"error": f"the query took longer than {self.dashboard.query_seconds:g} s: narrow the filters"})
        except duckdb.OutOfMemoryException:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE,
                       {"error": f"the query needed more than {DASHBOARD_MEMORY_LIMIT} of memory: narrow the filters"})
        except (StoreError, duckdb.Error) as exc:  # locked by the writer for longer than OPEN_SECONDS, or none yet
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})

    do_HEAD = do_GET

    def _read_only(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "the dashboard is read-only"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _read_only


def make_server(store: Store, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
                refresh: int = DEFAULT_REFRESH, query_seconds: float = QUERY_SECONDS) -> ThreadingHTTPServer:
    """A server ready to ``serve_forever``; raises BindRefused for a non-local address without a token."""
    check_bind(host, token)
    dashboard = Dashboard(store=store, token=token or None, refresh=refresh, query_seconds=query_seconds,
                          loopback_only=is_loopback(host))
    dashboard.page()  # built now (inlining the chart library takes seconds), not at the first visit
    handler = type("BoundDashboardHandler", (DashboardHandler,), {"dashboard": dashboard})
    server_class = ThreadingHTTPServer
    if ":" in host:  # an IPv6 address
        import socket

        server_class = type("IPv6Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    server = server_class((host.strip("[]"), port), handler)
    server.daemon_threads = True
    return server

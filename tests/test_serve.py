"""`monitor serve`: the dashboard in a real headless Chromium while another process writes to the
database, the token rule for non-local binds, and the read-only, bounded request handling."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import httpx
import pytest
from click.testing import CliRunner

from monitor.store import Store
from tests import report_fixtures
from tests.conftest import ROOT
from tests.report_fixtures import HOSTILE_TEXT, SPIKE_DAY, PageLog, chart_sizes, screenshot

pytest.importorskip("vl_convert", reason="the report extra (vl-convert-python) is not installed")
pytest.importorskip("jinja2", reason="the report extra (jinja2) is not installed")

report_db = report_fixtures.report_db  # module-scoped fixtures shared with test_report
browser = report_fixtures.browser


def _start(store: Store, host: str = "127.0.0.1", **options) -> tuple[str, object]:
    from monitor.report.serve import make_server

    server = make_server(store, host, 0, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture(scope="module")
def dashboard(report_db: Path) -> Iterator[str]:
    base, server = _start(Store(report_db), refresh=1)
    yield base
    server.shutdown()
    server.server_close()


WRITER = """
import sys, time
from monitor.store import Store

store, waits = Store(sys.argv[1], lock_timeout=10.0), []
for i in range(int(sys.argv[2])):
    started = time.monotonic()
    with store.write_connection() as con:  # the daemon's writer: attach, write, checkpoint, detach
        waits.append(time.monotonic() - started)
        con.execute("INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, "
                    "tool_version) VALUES (?, 'x', ?, 'Satya Nadella, late', TIMESTAMP '2025-01-21 15:00:00', "
                    "TIMESTAMP '2025-01-21 15:00:00', 'test-writer', 'test')", [f"x:late-{i}", f"late-{i}"])
    time.sleep(0.2)  # the daemon's writes come apart; and the reads below get time to overlap them, under load too
print(f"longest wait for the lock: {max(waits):.2f} s")
"""


def _write_in_another_process(data_dir: Path, n: int) -> subprocess.Popen[str]:
    """n short write transactions in another process, as the daemon makes them (each raises after 10 s
    without the lock)."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), str(n)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_dashboard_answers_while_another_process_writes(browser, dashboard: str, report_db: Path,
                                                        tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    log = PageLog(page)
    page.goto(dashboard + "/?since=2025-01-01&until=2025-01-22")  # filters in the address fill the form
    page.wait_for_function("Number(document.body.dataset.chartsDone) >= 6", timeout=20_000)
    sizes = chart_sizes(page)
    assert len(sizes) >= 6 and all(n > 10 for n in sizes.values()), sizes
    before = httpx.get(dashboard + "/api/health").json()["posts"]
    mentions_text = page.inner_text("#window")
    assert "by day" in mentions_text and page.input_value("input[name=since]") == "2025-01-01"
    screenshot(page, tmp_path, "dashboard.png")

    writer = _write_in_another_process(report_db, 10)
    statuses = []
    with httpx.Client(base_url=dashboard, timeout=10) as client:
        while writer.poll() is None:
            statuses += [client.get("/api/health").status_code, client.get("/api/report").status_code]
            time.sleep(0.05)
    output = writer.communicate()[0]
    assert writer.returncode == 0, output  # the writer was never kept out for long ...
    assert float(output.split(":")[-1].split()[0]) < 5, output
    assert len(statuses) > 5 and set(statuses) == {200}, statuses  # ... and every read was answered
    time.sleep(1.1)  # the health answer is cached for a second
    assert httpx.get(dashboard + "/api/health").json()["posts"] == before + 10
    # The page refreshes itself (every second here) and shows the new posts.
    page.wait_for_function(f"document.getElementById('window').textContent !== {mentions_text!r}", timeout=10_000)
    page.wait_for_function("!window.chartsRendering", timeout=10_000)  # the new data's charts are drawn

    # Drill down: a click on a point of the volume chart lists the posts behind it.
    page.locator("#chart-volume g.mark-symbol.role-mark path").last.click()
    page.wait_for_selector("#drill section h2", timeout=10_000)
    assert "Posts about" in page.inner_text("#drill h2")
    assert log.errors == [] and log.dialogs == []
    assert all(url.startswith(dashboard) for url in log.requests), log.requests  # nothing left the machine
    page.close()


def test_drill_down_shows_posts_literally(dashboard: str) -> None:
    answer = httpx.get(dashboard + "/api/posts", params={"target": "musk", "start": SPIKE_DAY, "bucket": "day"})
    [first, *others] = answer.json()["posts"]
    assert first["text"] == HOSTILE_TEXT.replace("\x1b", "\\x1b")  # JSON text for textContent, ESC made visible
    assert first["link"] is None and first["url_text"] == "javascript:alert(3)"
    assert "mallory\\x1b[2J" in first["meta"]
    assert others and all(p["link"].startswith("https://") for p in others)
    assert answer.headers["cache-control"] == "no-store"


def test_dashboard_is_read_only_and_local(dashboard: str) -> None:
    assert httpx.post(dashboard + "/api/report").status_code == 405
    assert httpx.get(dashboard + "/nothing").status_code == 404
    assert httpx.get(dashboard + "/api/report", params={"since": "soon"}).status_code == 400
    # Filters the CLI refuses are refused here too, not answered with an empty report.
    backwards = httpx.get(dashboard + "/api/report", params={"since": "1d", "until": "7d"})
    assert backwards.status_code == 400 and backwards.json()["error"] == "until must be later than since"
    for path in ("/api/report", "/api/posts"):
        unknown = httpx.get(dashboard + path, params={"target": "musk,nobody"})
        assert unknown.status_code == 400 and unknown.json()["error"].startswith("unknown target nobody; the targets")
        assert httpx.get(dashboard + path, params={"target": "musk"}).status_code == 200
    # Another host name (DNS rebinding: a page elsewhere whose name now points here) is refused.
    assert httpx.get(dashboard + "/api/health", headers={"Host": "evil.example"}).status_code == 403
    page = httpx.get(dashboard + "/")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]


def test_non_local_bind_needs_a_token(report_db: Path, config) -> None:
    from monitor.report.commands import serve_command

    app = SimpleNamespace(store=Store(report_db), config=config)
    refused = CliRunner().invoke(serve_command, ["--host", "0.0.0.0", "--port", "0"], obj=app, env={
        "MONITOR_SERVE_TOKEN": ""})
    assert refused.exit_code == 2 and "token" in refused.output
    base, server = _start(Store(report_db), host="0.0.0.0", token="s3cret")
    try:
        assert httpx.get(base + "/api/health").status_code == 403
        assert httpx.get(base + "/api/health", params={"token": "wrong"}).status_code == 403
        assert httpx.get(base + "/api/health", params={"token": "s3cret"}).status_code == 200
        assert httpx.get(base + "/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_query_is_stopped(report_db: Path) -> None:
    from monitor.report.serve import Dashboard

    dashboard = Dashboard(store=Store(report_db), query_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(duckdb.InterruptException):
        dashboard.read(lambda con: con.execute("SELECT count(*) FROM range(100000000000) a").fetchall())
    assert time.monotonic() - started < 5


def test_a_query_that_needs_too_much_memory_is_stopped(report_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request's DuckDB is capped (a whole-history report over 10M posts took 7.1 GB); over the cap
    the request says to narrow the filters."""
    from monitor.report import serve

    monkeypatch.setattr(serve, "DASHBOARD_MEMORY_LIMIT", "16MB")
    with pytest.raises(duckdb.OutOfMemoryException):
        serve.Dashboard(store=Store(report_db)).read(
            lambda con: con.execute("SELECT list(i) FROM range(10000000) t(i)").fetchall())
    base, server = _start(Store(report_db))
    try:
        monkeypatch.setattr(serve, "DASHBOARD_MEMORY_LIMIT", "1MB")
        answer = httpx.get(base + "/api/report")
        assert answer.status_code == 503 and "narrow the filters" in answer.json()["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_refresh_keeps_no_memory_for_good() -> None:
    """The dashboard renders the report's tables at every refresh: compiling their template each time
    kept ~3.7 KB for good (a dashboard left open grew for as long as it ran); it is compiled once."""
    import gc
    import tracemalloc

    from monitor.report.data import Report
    from monitor.report.html import render_tables

    report = Report(generated_at="", start=None, end=None, bucket="day", buckets=[], posts_total=0, mentions=0,
                    filters={"since": None, "until": None, "targets": [], "platforms": []})
    first = render_tables(report)
    tracemalloc.start()
    try:
        gc.collect()  # a render leaves reference cycles behind, freed by the collector
        before = tracemalloc.get_traced_memory()[0]
        assert all(render_tables(report) == first for _ in range(50))
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 20_000  # compiled each time: 50 refreshes kept ~135 KB

"""What the report and dashboard tests share: a small real database (imported through `monitor
import`, as a user would), a planted hostile post, and a headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.store import Store
from tests.conftest import CONFIG_PATH, ROOT, write_jsonl

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# UPDATE_SCREENSHOTS=1 makes the browser tests write docs/report.png and docs/dashboard.png (the README's).
DOCS = ROOT / "docs"
HOSTILE_TEXT = "Elon Musk <script>alert(1)</script> [bold]bold?[/bold] \x1b[31mRED <img src=x onerror=alert(2)>"
HOSTILE_URL = "javascript:alert(3)"
SPIKE_DAY = "2025-01-15"


def _records() -> list[dict[str, Any]]:
    """Three weeks of posts about a few targets: a Musk spike on SPIKE_DAY, Sam Altman's own account
    (x:sama) talking about Musk, co-mentions, and the hostile post (most engaged, so it shows everywhere)."""
    cues = ["is brilliant, great work", "is wrong and dishonest", "announced a plan", "is a grift, vaporware"]
    records: list[dict[str, Any]] = []
    for day in range(1, 22):
        for i in range(2 + day % 3):
            who = ["Elon Musk", "Sam Altman", "Satya Nadella", "OpenAI"][(day + i) % 4]
            records.append({"platform": "x" if i % 2 else "bluesky", "id": f"d{day}-{i}",
                            "text": f"{who} {cues[(day * 3 + i) % 4]} on Stargate",
                            "created_at": f"2025-01-{day:02d}T{8 + i:02d}:00:00Z", "author": f"user{i % 5}",
                            "likes": (day * 7 + i) % 40, "url": f"https://example.org/p/{day}/{i}"})
    for i in range(14):  # the spike
        records.append({"platform": "x", "id": f"spike-{i}", "text": f"Elon Musk {cues[i % 4]} (take {i})",
                        "created_at": f"{SPIKE_DAY}T{10 + i % 8:02d}:{i:02d}:00Z", "author": f"fan{i}",
                        "likes": i, "url": f"https://example.org/spike/{i}"})
    for i in range(3):  # who says what about whom: Altman's own account about Musk
        records.append({"platform": "x", "id": f"sama-{i}", "author": "sama",
                        "text": f"Elon Musk is wrong about OpenAI again ({i})", "created_at": f"2025-01-1{i}T09:00:00Z",
                        "likes": 500 + i, "url": f"https://x.com/sama/status/{i}"})
    records.append({"platform": "x", "id": "hostile", "author": "mallory\x1b[2J", "text": HOSTILE_TEXT,
                    "created_at": f"{SPIKE_DAY}T12:30:00Z", "likes": 10_000, "url": HOSTILE_URL})
    return records


def import_into(data_dir: Path, *paths: Path) -> None:
    from monitor.cli import main

    result = CliRunner().invoke(main, ["--config", str(CONFIG_PATH), "--data-dir", str(data_dir), "import",
                                       *map(str, paths)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def add_gap(store: Store) -> None:
    """A rate-limited collector run: a coverage gap (runs are written by collectors, not imports)."""
    with store.write_connection() as con:
        con.execute("INSERT INTO runs (run_id, source, query, started_at, finished_at, pages, requests, posts_new, "
                    "posts_seen, statuses, error, coverage) VALUES (1, 'hackernews', 'Musk', "
                    "TIMESTAMP '2025-01-12 06:00:00', TIMESTAMP '2025-01-12 06:01:00', 1, 2, 0, 0, '429x1', "
                    "'HTTP 429 <b>Too Many</b>', 'rate-limited')")


_built: dict[str, Path] = {}


def _report_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic posts and the bundled Hacker News sample (real posts), imported once a session."""
    if "data" not in _built:
        base = tmp_path_factory.mktemp("report")
        data_dir = base / "data"
        data_dir.mkdir()
        archive = write_jsonl(base / "posts.jsonl", _records())
        import_into(data_dir, archive, ROOT / "monitor" / "sample" / "hackernews_search_by_date_nodejs_2017.json")
        add_gap(Store(data_dir))
        _built["data"] = data_dir
    return _built["data"]


@pytest.fixture(scope="module")
def report_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the report data for one test module (test_serve writes to its copy)."""
    copy = tmp_path_factory.mktemp("report_copy") / "data"
    shutil.copytree(_report_data(tmp_path_factory), copy)
    return copy


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Debian's, driven through Playwright)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): browser tests skipped")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (report extra)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageLog:
    """What a page did: console errors, uncaught exceptions, dialogs (alert) and every request."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.requests.append(r.url))


def chart_sizes(page: Any) -> dict[str, int]:
    """Per chart element: how many drawn SVG shapes it holds (0: not drawn)."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.chart')].map(
        c => [c.dataset.chart, c.querySelectorAll('svg path, svg rect, svg line, svg text').length]))""")


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
    return path

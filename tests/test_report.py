"""`monitor report`: the figures, the self-contained HTML file (in a real headless Chromium) and the PNGs."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.report.data import Filters, compute, parse_time, safe_link, visible
from monitor.store import Store
from tests import report_fixtures
from tests.report_fixtures import HOSTILE_TEXT, SPIKE_DAY, PageLog, chart_sizes, screenshot

report_db = report_fixtures.report_db  # module-scoped fixtures shared with test_serve
browser = report_fixtures.browser

pytest.importorskip("vl_convert", reason="the report extra (vl-convert-python) is not installed")
pytest.importorskip("jinja2", reason="the report extra (jinja2) is not installed")


def _sources(html: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every src / href / srcset / action / data attribute (script text is not markup)."""
    found: list[tuple[str, str, str]] = []

    class Sources(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend((tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "action", "data"))

    Sources().feed(html)
    return found


def _report(data_dir: Path, **filters: Any):
    with Store(data_dir).read() as con:
        return compute(con, Filters(**filters))


def _run_report(data_dir: Path, config, *args: str) -> dict[str, Any]:
    from monitor.report.commands import report_command

    app = SimpleNamespace(store=Store(data_dir), config=config)
    result = CliRunner().invoke(report_command, [*args, "--json"], obj=app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def report_file(report_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from monitor.config import load_config
    from tests.conftest import CONFIG_PATH

    out = tmp_path_factory.mktemp("out")
    result = _run_report(report_db, load_config(CONFIG_PATH), "--out", str(out / "report.html"),
                         "--png", str(out / "png"), "--since", "2025-01-01", "--until", "2025-01-22")
    assert result["window"]["bucket"] == "day" and result["mentions"] > 100
    return out / "report.html", result


def test_figures(report_db: Path) -> None:
    report = _report(report_db)
    by_id = {t.target_id: t for t in report.targets}
    assert {"musk", "altman", "nadella", "openai", "microsoft"} <= set(by_id)  # microsoft: the HN sample
    assert abs(sum(t.share for t in report.targets) - 1) < 0.01
    assert by_id["musk"].posts > by_id["nadella"].posts
    musk = by_id["musk"]  # (the figures' values depend on the analyzer stored; their bookkeeping does not)
    assert musk.sd_sentiment is not None and musk.favor + musk.against + musk.neutral == musk.posts
    [spike] = [s for s in report.spikes if s.target_id == "musk"]
    assert spike.bucket.startswith("2025-01")  # by month: the months between 2017 and 2025 are quiet
    # Several targets spike alike here (16 posts, 87.8x): ties come in target order, so a report is the same twice.
    order = [(-s.ratio, -s.posts, s.bucket, s.target_id) for s in report.spikes]
    assert order == sorted(order) and len({(s.ratio, s.posts) for s in report.spikes}) < len(order)
    assert {(v.speaker_id, v.target_id) for v in report.voices} == {("altman", "musk"), ("altman", "openai")}
    assert any({c.target_a, c.target_b} == {"musk", "openai"} for c in report.co_mentions)
    rows = {kind: sum(s.rows for s in report.scorers if s.kind == kind) for kind in {s.kind for s in report.scorers}}
    assert rows == {"stance": report.mentions, "target sentiment": report.mentions,
                    "post sentiment": report.posts_total}
    [gap] = report.gaps
    assert gap.source == "hackernews" and gap.problems == ["rate-limited"]
    assert {c.source for c in report.coverage} >= {"hackernews", "jsonl"} or len(report.coverage) >= 2
    assert report.bucket == "month"  # the HN sample is from 2017: the window spans years


def test_filters_narrow_the_figures(report_db: Path) -> None:
    window = _report(report_db, since=datetime(2025, 1, 10), until=datetime(2025, 1, 20), targets=("musk",),
                     platforms=("x",))
    assert [t.target_id for t in window.targets] == ["musk"]
    assert window.bucket == "day" and len(window.buckets) == 10
    assert all("2025-01-10" <= s.bucket < "2025-01-20" for s in window.series)
    assert all(p.platform == "x" for p in window.most_engaged)
    assert {v.target_id for v in window.voices} == {"musk"}  # what the others say about the filtered target
    assert not _report(report_db, platforms=("mastodon",)).targets
    january = _report(report_db, since=datetime(2025, 1, 1), until=datetime(2025, 1, 22))
    [spike] = january.spikes
    assert (spike.target_id, spike.bucket[:10]) == ("musk", SPIKE_DAY) and spike.ratio >= 3
    assert spike.top_posts[0].text == HOSTILE_TEXT  # the most engaged post of the spike, kept exactly


def test_time_and_link_rules() -> None:
    now = datetime(2025, 1, 31, 12)
    assert parse_time("7d", now) == datetime(2025, 1, 24, 12)
    assert parse_time("all") is None and parse_time("2025-01-02T03:00+02:00") == datetime(2025, 1, 2, 1)
    with pytest.raises(ValueError):
        parse_time("last tuesday")
    assert safe_link("https://x.com/a") == "https://x.com/a"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "https://a.b/\x1b", "//evil", None):
        assert safe_link(bad) is None
    assert visible("a\x1b[31mb\u202e") == "a\\x1b[31mb\\u202e"


def test_report_file_is_self_contained(report_file: tuple[Path, dict[str, Any]]) -> None:
    path, result = report_file
    html = path.read_text(encoding="utf-8")
    assert result["bytes"] == path.stat().st_size and len(result["charts"]) >= 6
    # Nothing is loaded from elsewhere: no element with a source, no link but to the posts' originals, and a
    # CSP forbidding requests.
    sources = _sources(html)
    assert not [s for s in sources if s[0] != "a"], sources
    assert all(re.match(r"https?://", url) for _, _, url in sources)
    assert "default-src 'none'" in unescape(html)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html.lower() and "\x1b" not in html
    pngs = [Path(p) for p in result["pngs"]]
    assert [p.stem for p in pngs] == result["charts"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in pngs)


def test_report_command_rejects_bad_filters(report_db: Path, config) -> None:
    from monitor.report.commands import report_command

    app = SimpleNamespace(store=Store(report_db), config=config)
    for args in (["--since", "soon"], ["--target", "nobody"], ["--since", "2025-02-01", "--until", "2025-01-01"]):
        result = CliRunner().invoke(report_command, args, obj=app)
        assert result.exit_code == 2, (args, result.output)


def test_report_in_chromium(browser, report_file: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, result = report_file
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    log = PageLog(page)
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.chartsDone !== undefined", timeout=20_000)
    sizes = chart_sizes(page)
    assert len(sizes) >= 6 and sorted(sizes) == sorted(result["charts"])
    assert all(n > 10 for n in sizes.values()), sizes  # every chart drew its marks
    assert page.evaluate("window.chartErrors") == []
    assert log.errors == [] and log.dialogs == []  # no console error, no script of a post ran
    assert all(url.startswith("file://") for url in log.requests), log.requests  # nothing left the machine
    text = page.inner_text("body")
    assert "Elon Musk <script>alert(1)</script> [bold]bold?[/bold] \\x1b[31mRED <img src=x onerror=alert(2)>" in text
    assert "javascript:alert(3)" in text  # shown as text ...
    assert page.locator("a[href^='javascript']").count() == 0  # ... never a link
    assert page.locator("a[href='https://x.com/sama/status/2']").count() >= 1
    # The spike's tooltip names its top post, the hostile one: shown as text by Vega's tooltip handler.
    page.locator("#chart-volume g.mark-symbol.role-mark").last.locator("path").first.hover()
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    assert "<script>alert(1)</script>" in page.inner_text("#vg-tooltip-element")
    assert page.locator("#vg-tooltip-element script, #vg-tooltip-element img").count() == 0
    assert page.locator("#analyzers tr").count() >= 4  # a header and a row per figure kind and scorer
    assert screenshot(page, tmp_path, "report.png").stat().st_size > 20_000
    page.close()


def _page(path: Path) -> str:
    return re.sub(r"generated \S+ UTC", "", path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def default_cap_report(report_db: Path, config, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The whole report under the default cap: what each capped run must equal (made once for them)."""
    out = tmp_path_factory.mktemp("default-cap") / "a.html"
    return _run_report(report_db, config, "--out", str(out)), _page(out)


@pytest.mark.parametrize("cap, again", [("64MB", False), ("8MB", True)])
def test_the_report_runs_with_duckdb_capped(report_db: Path, default_cap_report: tuple[dict[str, Any], str], config,
                                            tmp_path: Path, cap: str, again: bool, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """`monitor report` caps DuckDB's memory (REPORT_MEMORY_LIMIT; 10M posts took 7.1 GB uncapped),
    with a folder to spill to; under a cap too small for what cannot spill it computes again
    uncapped. The same report either way."""
    import logging

    from monitor.report import commands

    uncapped, uncapped_page = default_cap_report
    monkeypatch.setattr(commands, "REPORT_MEMORY_LIMIT", cap)
    with caplog.at_level(logging.INFO, logger="monitor.report.commands"):
        capped = _run_report(report_db, config, "--out", str(tmp_path / "b.html"))
    assert capped["mentions"] == uncapped["mentions"] > 100
    assert _page(tmp_path / "b.html") == uncapped_page
    assert ("computed again uncapped" in caplog.text) is again


def test_a_post_whose_mentions_tie_on_stance_is_listed_the_same_every_time(report_db: Path) -> None:
    """A listed post takes its mentions' most frequent stance; mode() broke a tie at random, so the same
    report listed "Sam Altman is a grift, vaporware on Stargate" (against Altman, none toward Stargate)
    as against, then as none. A tie now goes to the first stance by name."""
    from monitor.report.data import WINDOW_TABLE, _load_window, _top_posts

    listed = set()
    with Store(report_db).read() as con:
        _load_window(con, Filters())
        for _ in range(40):
            rows = _top_posts(con, WINDOW_TABLE, "post_key = ?", ["bluesky:d17-0"], "engagement", 1)
            listed |= {(p.post_key, p.stance) for p in rows if p.post_key == "bluesky:d17-0"}
    assert listed == {("bluesky:d17-0", "against")}

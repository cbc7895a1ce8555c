"""One self-contained HTML file: the charts (Vega-Lite, drawn by vega-embed inlined in the page)
and the tables behind them. Nothing is fetched when the file is opened: the JavaScript and the data
are in the file, and its Content-Security-Policy forbids any request.

Post text, authors and URLs are escaped by Jinja2's autoescape, with control characters shown as
visible escapes; only http(s) URLs become links. Chart data sits in a JSON script element with
``<``, ``>`` and ``&`` escaped, so no string in it can end the element.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, Template

from monitor.report.charts import VEGA_LITE_VERSION, Chart, all_charts
from monitor.report.data import Report, safe_link, visible

MISSING_EXTRA = "the report needs the 'report' extra: pip install 'discourse-monitor[report]'"

# The page may run its own inline scripts (Vega compiles its expressions, hence unsafe-eval) and
# nothing else: no request of any kind leaves the file. The dashboard may also fetch from itself.
CSP_FILE = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
            "img-src data:; font-src data:; base-uri 'none'; form-action 'none'")
CSP_DASHBOARD = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
                 "img-src data:; font-src data:; connect-src 'self'; base-uri 'none'; form-action 'self'")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "discourse-monitor"


@cache
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script (~0.9 MB). vl-convert builds it without network
    in ~4 s, so it is kept in the user's cache folder, one file per vl-convert and Vega-Lite version."""
    try:
        import vl_convert
    except ImportError as exc:
        raise RuntimeError(MISSING_EXTRA) from exc
    cached = _cache_dir() / f"vega-bundle-{vl_convert.__version__}-vl{VEGA_LITE_VERSION}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)
    bundle = bundle.replace("</script", "<\\/script")  # cannot end the script element early
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)  # whole or not at all, if two processes build it at once
    except OSError:
        pass  # no writable cache folder: build it again next time
    return bundle


def script_json(value: Any) -> str:
    """JSON for a <script type="application/json"> element: nothing in it can close the element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_payload(charts: list[Chart]) -> list[dict[str, Any]]:
    return [{"name": c.name, "title": c.title, "note": c.note, "spec": c.spec} for c in charts]


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def _mood(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


@cache
def _template(source: str) -> Template:
    """One of the templates below, compiled once a process: the dashboard rendered the tables at every
    refresh, and compiling them each time took 26 ms (rendering 1.6) and kept ~3.7 KB of memory for good."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(visible=visible, link=safe_link, percent=_percent, mood=_mood)
    return env.from_string(source)


TABLES = """
{% macro post(p) %}
<div class="post"><div class="text">{{ visible(p.text, 600) }}</div>
<div class="meta">{{ visible(p.platform) }} · @{{ visible(p.author or '?', 60) }} · {{ p.created_at[:16] }} UTC
 · sentiment {{ mood(p.sentiment) }} · stance {{ p.stance or '—' }} · engagement {{ p.engagement }}
 · {{ p.targets | join(', ') }}
{% if link(p.url) %} · <a href="{{ link(p.url) }}" rel="noopener noreferrer nofollow" target="_blank">original</a>
{% elif p.url %} · <span class="nolink" title="not an http(s) link">{{ visible(p.url, 120) }}</span>{% endif %}
</div></div>
{% endmacro %}
<section id="analyzers"><h2>Which analyzers made these figures</h2>
{% if r.scorers %}<table><tr><th>figure</th><th>scorer</th><th>version</th><th class="n">rows</th></tr>
{% for s in r.scorers %}<tr><td>{{ s.kind }}</td><td>{{ s.scorer }}</td><td>{{ s.version }}</td>
<td class="n">{{ s.rows }}</td></tr>{% endfor %}</table>
<p class="note">As stored with each score: post_sentiment.scorer, target_scores.sentiment_scorer and
target_scores.stance_scorer, with their versions (stance-rules: the zero-shot rules).</p>
{% else %}<p class="empty">No scored mentions in this window.</p>{% endif %}</section>
<section id="targets"><h2>Targets</h2>
{% if r.targets %}<table><tr><th>target</th><th class="n">posts</th><th class="n">share</th><th class="n">mood</th>
<th class="n">± sd</th><th class="n">favor</th><th class="n">against</th><th class="n">neither</th>
<th class="n">authors</th><th class="n">engagement</th></tr>
{% for t in r.targets %}{% set scored = t.favor + t.against + t.neutral %}
<tr><td>{{ visible(t.name) }}</td><td class="n">{{ t.posts }}</td><td class="n">{{ '%.1f' % (100 * t.share) }}%</td>
<td class="n">{{ mood(t.mean_sentiment) }}</td>
<td class="n">{{ '%.2f' % t.sd_sentiment if t.sd_sentiment is not none else '—' }}</td>
<td class="n">{{ percent(t.favor, scored) }}</td><td class="n">{{ percent(t.against, scored) }}</td>
<td class="n">{{ percent(t.neutral, scored) }}</td><td class="n">{{ t.authors }}</td>
<td class="n">{{ t.engagement }}</td></tr>
{% endfor %}</table>{% else %}<p class="empty">No mentions of any target in this window.</p>{% endif %}</section>
<section id="spikes"><h2>Spikes and what drove them</h2>
{% for s in r.spikes %}<div class="spike"><h3>{{ visible(s.name) }} · {{ s.bucket[:16] }} UTC ({{ r.bucket }}) ·
{{ s.posts }} posts, {{ s.ratio }}x the average · mood {{ mood(s.mean_sentiment) }}</h3>
{% for p in s.top_posts %}{{ post(p) }}{% endfor %}</div>
{% else %}<p class="empty">No spike (a {{ r.bucket }} with at least 3x a target's average and 10 posts).</p>{% endfor %}
</section>
<section id="voices"><h2>Who says what about whom</h2>
{% if r.voices %}<table><tr><th>speaker → about</th><th class="n">posts</th><th class="n">mood</th>
<th class="n">favor/against/neither</th><th>latest post</th></tr>
{% for v in r.voices %}<tr><td>{{ visible(v.speaker) }} → {{ visible(v.target) }}</td><td class="n">{{ v.posts }}</td>
<td class="n">{{ mood(v.mean_sentiment) }}</td><td class="n">{{ v.favor }}/{{ v.against }}/{{ v.neutral }}</td>
<td>{{ post(v.latest) }}</td></tr>{% endfor %}</table>
{% else %}<p class="empty">No post from a target's own accounts (config <code>accounts</code>) names another
target in this window.</p>{% endif %}</section>
<section id="posts"><h2>Posts</h2>
{% for title, rows in (('Most engaged', r.most_engaged), ('Most positive', r.most_positive),
                       ('Most negative', r.most_negative)) %}
<h3>{{ title }}</h3>{% for p in rows %}{{ post(p) }}{% else %}<p class="empty">None.</p>{% endfor %}
{% endfor %}</section>
<section id="coverage"><h2>Sources and coverage</h2>
{% if r.coverage %}<table><tr><th>source</th><th class="n">posts</th><th class="n">runs</th><th class="n">complete</th>
<th class="n">capped</th><th class="n">rate-limited</th><th class="n">failed</th><th>last run</th>
<th>last error</th></tr>
{% for c in r.coverage %}<tr><td>{{ visible(c.source) }}</td><td class="n">{{ c.posts }}</td>
<td class="n">{{ c.runs }}</td>
<td class="n">{{ c.complete }}</td><td class="n">{{ c.capped }}</td><td class="n">{{ c.rate_limited }}</td>
<td class="n">{{ c.failed }}</td><td>{{ (c.last_run or '—')[:16] }}</td>
<td>{{ visible(c.last_error or '', 160) }}</td></tr>
{% endfor %}</table>{% endif %}
<p class="note">Archive readers (imports) have no runs: their coverage is the file you gave.</p>
{% if r.gaps %}<h3>Gaps (hours a collector was down, capped or rate-limited)</h3>
<table><tr><th>hour (UTC)</th><th>source</th><th>problems</th><th class="n">runs</th><th>example error</th></tr>
{% for g in r.gaps[:50] %}<tr><td>{{ g.hour[:16] }}</td><td>{{ visible(g.source) }}</td>
<td>{{ g.problems | join(', ') }}</td>
<td class="n">{{ g.runs }}</td><td>{{ visible(g.example_error or '', 160) }}</td></tr>{% endfor %}</table>
{% else %}<p class="empty">No coverage gap in this window.</p>{% endif %}</section>
"""

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}
header .sub{color:#c7ccd4;font-size:13px}main{padding:16px 24px;max-width:1200px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(800px,1fr));gap:16px}
figure{background:#fff;margin:0;padding:12px;border:1px solid #e1e4e8;border-radius:6px;overflow-x:auto}
figcaption{color:#58606b;font-size:12px;margin-top:6px}
section{background:#fff;margin:16px 0;padding:12px 16px;border:1px solid #e1e4e8;border-radius:6px}
h2{font-size:16px;margin:4px 0 10px}h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #eef0f2;vertical-align:top}th.n,td.n{text-align:right}
.post{border-left:3px solid #d0d7de;padding:4px 10px;margin:6px 0}
.post .text{white-space:pre-wrap;overflow-wrap:anywhere}.post .meta{color:#58606b;font-size:12px}
.nolink{color:#8a5a00}.empty,.note{color:#58606b;font-style:italic}
form.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:end;margin:0 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#58606b}
#drill{min-height:20px}.status{font-size:12px;color:#c7ccd4}
"""

RENDER_JS = """
window.chartsRendered = 0; window.chartErrors = [];
function renderCharts(charts) {
  const holder = document.getElementById('charts');
  holder.replaceChildren();
  window.chartsRendered = 0; window.chartsRendering = true;
  return Promise.all(charts.map(function (c) {
    const fig = document.createElement('figure');
    const div = document.createElement('div');
    div.className = 'chart'; div.id = 'chart-' + c.name; div.dataset.chart = c.name;
    const cap = document.createElement('figcaption');
    cap.textContent = c.note;
    fig.append(div, cap); holder.append(fig);
    return vegaEmbed(div, c.spec, {actions: false, renderer: 'svg'}).then(function (result) {
      window.chartsRendered += 1;
      if (window.onChart) { window.onChart(c, result.view); }
    }).catch(function (err) { window.chartErrors.push(String(err)); console.error(err); });
  })).then(function () {
    window.chartsRendering = false; document.body.dataset.chartsDone = String(window.chartsRendered);
  });
}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ style | safe }}</style></head>
<body>
<header><h1>{{ title }}</h1><div class="sub" id="window">{{ window_text }}</div></header>
<main>
{{ controls | safe }}
<div id="drill"></div>
<div class="charts" id="charts"></div>
<div id="tables">{{ tables | safe }}</div>
</main>
<script type="application/json" id="chart-specs">{{ specs | safe }}</script>
<script>{{ bundle | safe }}</script>
<script>{{ render_js | safe }}</script>
<script>{{ page_js | safe }}</script>
</body></html>
"""

REPORT_JS = "renderCharts(JSON.parse(document.getElementById('chart-specs').textContent));"


def window_text(report: Report) -> str:
    """One line: the window, the filters and the counts (plain text; the template escapes it)."""
    f = report.filters
    parts = [f"{(report.start or '—')[:16]} → {(report.end or '—')[:16]} UTC, by {report.bucket}",
             f"{report.mentions:,} mentions ({report.posts_total:,} posts stored)"]
    if f["targets"]:
        parts.append("targets: " + ", ".join(f["targets"]))
    if f["platforms"]:
        parts.append("platforms: " + ", ".join(f["platforms"]))
    parts.append(f"generated {report.generated_at[:16]} UTC")
    return visible(" · ".join(parts))


def render_tables(report: Report) -> str:
    return _template(TABLES).render(r=report)


def render_page(report: Report, charts: list[Chart], *, title: str, csp: str, controls: str = "",
                page_js: str = REPORT_JS) -> str:
    return _template(PAGE).render(
        title=title, csp=csp, style=STYLE, window_text=window_text(report), controls=controls,
        tables=render_tables(report), specs=script_json(chart_payload(charts)), bundle=vega_bundle(),
        render_js=RENDER_JS, page_js=page_js)


def write_report(report: Report, out: Path) -> list[Chart]:
    """Write the self-contained report to ``out``; returns the charts it holds."""
    charts = all_charts(report)
    html = render_page(report, charts, title="discourse-monitor report", csp=CSP_FILE)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return charts

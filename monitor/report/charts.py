"""The report's charts as Vega-Lite specifications (plain dicts, data inline).

The same specs are drawn in the HTML report and the dashboard (by vega-embed, inlined) and written
as PNG (by vl-convert). Post text only ever reaches a chart as tooltip data, shortened and with
control characters made visible; Vega's tooltip handler escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.report.data import Report, visible

VEGA_LITE_VERSION = "6.4"  # the same for the inlined JavaScript and the PNG renderer
WIDTH = 720
HEIGHT = 220
STANCE_COLORS = {"favor": "#2a9d5c", "against": "#d1495b", "none": "#9aa5b1"}
MOOD_DOMAIN = [-1, 1]


@dataclass(frozen=True)
class Chart:
    name: str  # file name for the PNG and the element id
    title: str
    note: str  # what the chart shows, in one sentence
    spec: dict[str, Any]


def _utc(iso: str) -> str:
    # Stored times are naive UTC: mark them so, or the browser would read them as local time.
    return iso if iso.endswith("Z") or "+" in iso[10:] else iso + "Z"


def _time_axis(bucket: str) -> dict[str, Any]:
    # A UTC time unit: buckets are UTC, and bars get the bucket's width.
    unit = {"hour": "utcyearmonthdatehours", "day": "utcyearmonthdate", "week": "utcyearmonthdate",
            "month": "utcyearmonth"}[bucket]
    label = {"hour": "%b %d %H:00", "day": "%b %d", "week": "%b %d %Y", "month": "%b %Y"}[bucket]
    return {"field": "bucket", "type": "temporal", "timeUnit": unit, "title": None,
            "axis": {"format": label, "labelOverlap": True}}


def _target_color(report: Report) -> dict[str, Any]:
    names = {t.target_id: t.name for t in report.targets}
    domain = sorted({s.target_id for s in report.series}, key=lambda t: [x.target_id for x in report.targets].index(t))
    return {"field": "target", "type": "nominal", "title": "target",
            "scale": {"domain": [names.get(t, t) for t in domain], "scheme": "tableau10"}}


def _base(title: str, height: int = HEIGHT) -> dict[str, Any]:
    return {"title": title, "width": WIDTH, "height": height, "background": "white",
            "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 11, "titleFontSize": 11}}}


def volume_chart(report: Report) -> Chart:
    names = {t.target_id: t.name for t in report.targets}
    counts = {(s.bucket, s.target_id): s.posts for s in report.series}
    charted = list(dict.fromkeys(s.target_id for s in report.series))
    # Every bucket of the window, zeros included: a quiet stretch is a dip, not a line across it.
    values = [{"bucket": _utc(b), "target": names.get(t, t), "target_id": t, "posts": counts.get((b, t), 0)}
              for b in report.buckets or sorted({b for b, _ in counts}) for t in charted]
    spikes = [{"bucket": _utc(s.bucket), "target": s.name, "target_id": s.target_id, "posts": s.posts,
               "ratio": s.ratio,
               "top post": visible(s.top_posts[0].text, limit=140) if s.top_posts else ""} for s in report.spikes]
    layers = [
        {"data": {"values": values}, "mark": {"type": "line", "point": True if len(values) < 400 else {"size": 8}},
         "encoding": {"x": _time_axis(report.bucket), "y": {"field": "posts", "type": "quantitative", "title": "posts"},
                      "color": _target_color(report),
                      "tooltip": [{"field": "target"},
                                  {"field": "bucket", "type": "temporal", "timeUnit": "utcyearmonthdatehours",
                                   "title": "from (UTC)"},
                                  {"field": "posts"}]}},
        {"data": {"values": spikes}, "mark": {"type": "point", "shape": "triangle-up", "size": 160, "filled": True,
                                              "color": "#c0392b", "yOffset": -10},
         "encoding": {"x": _time_axis(report.bucket), "y": {"field": "posts", "type": "quantitative"},
                      "tooltip": [{"field": "target"}, {"field": "posts"}, {"field": "ratio", "title": "x average"},
                                  {"field": "top post"}]}},
    ]
    spec = _base("Volume over time (▲ spikes)") | {"layer": layers if spikes else layers[:1]}
    return Chart("volume", "Volume per target", "Mentions per target and time bucket; red triangles mark spikes "
                 "(at least 3x the target's average bucket and 10 posts).", spec)


def mood_chart(report: Report) -> Chart:
    names = {t.target_id: t.name for t in report.targets}
    by_key = {(s.bucket, s.target_id): s for s in report.series}
    charted = list(dict.fromkeys(s.target_id for s in report.series))
    values: list[dict[str, Any]] = []
    for bucket in report.buckets or sorted({b for b, _ in by_key}):
        for target in charted:
            s = by_key.get((bucket, target))
            mean = s.mean_sentiment if s else None
            # A bucket without posts has no mood: a null breaks the line instead of bridging the gap.
            spread = (s.sd_sentiment or 0.0) if s else 0.0
            values.append({"bucket": _utc(bucket), "target": names.get(target, target), "mean": mean,
                           "low": None if mean is None else max(-1.0, mean - spread),
                           "high": None if mean is None else min(1.0, mean + spread), "posts": s.posts if s else 0})
    x, color = _time_axis(report.bucket), _target_color(report)
    y_scale = {"domain": MOOD_DOMAIN}
    # One legend, the line's (the band's colours are faint).
    spec = _base("Mood: mean sentiment, band = ±1 standard deviation") | {"data": {"values": values}, "layer": [
        {"mark": {"type": "line", "point": True, "invalid": "break-paths-show-domains"},
         "encoding": {"x": x, "y": {"field": "mean", "type": "quantitative", "scale": y_scale}, "color": color,
                      "tooltip": [{"field": "target"}, {"field": "mean", "format": "+.2f"},
                                  {"field": "posts"}]}},
        {"mark": {"type": "area", "opacity": 0.15, "invalid": "break-paths-show-domains"},
         "encoding": {"x": x, "y": {"field": "low", "type": "quantitative", "scale": y_scale, "title": "sentiment"},
                      "y2": {"field": "high"}, "color": color | {"legend": None}}},
        {"mark": {"type": "rule", "strokeDash": [3, 3], "color": "#888"}, "encoding": {"y": {"datum": 0}}},
    ], "resolve": {"legend": {"color": "independent"}}}
    return Chart("mood", "Mood per target", "Mean sentiment (the stored analyzer's compound) of the sentences "
                 "naming each target (-1 negative … +1 positive), with its spread.", spec)


def stance_chart(report: Report) -> Chart:
    names = {t.target_id: t.name for t in report.targets}
    values = [{"bucket": _utc(s.bucket), "target": names.get(s.target_id, s.target_id), "stance": stance, "posts": n}
              for s in report.series
              for stance, n in (("favor", s.favor), ("against", s.against), ("none", s.neutral)) if n]
    shown = len({v["target"] for v in values}) or 1
    spec = _base("Stance share over time", height=max(50, min(90, 400 // shown))) | {
        "data": {"values": values}, "mark": {"type": "bar"},
        "encoding": {"x": _time_axis(report.bucket),
                     "y": {"aggregate": "sum", "field": "posts", "type": "quantitative", "stack": "normalize",
                           "title": "share", "axis": {"format": "%"}},
                     "color": {"field": "stance", "type": "nominal",
                               "scale": {"domain": list(STANCE_COLORS), "range": list(STANCE_COLORS.values())}},
                     "row": {"field": "target", "type": "nominal", "title": None},
                     "tooltip": [{"field": "target"}, {"field": "stance"}, {"field": "posts", "aggregate": "sum"}]}}
    return Chart("stance", "Stance share", "Share of each target's scored mentions that favour it, are against it, "
                 "or neither, per time bucket.", spec)


def share_chart(report: Report) -> Chart:
    values = [{"target": t.name, "share": t.share, "posts": t.posts} for t in report.targets]
    spec = _base("Share of voice", height=max(60, 22 * len(values))) | {"data": {"values": values}, "layer": [
        {"mark": {"type": "bar", "color": "#4e79a7"},
         "encoding": {"y": {"field": "target", "type": "nominal", "sort": None, "title": None},
                      "x": {"field": "share", "type": "quantitative", "axis": {"format": "%"}, "title": "share"},
                      "tooltip": [{"field": "target"}, {"field": "posts"}, {"field": "share", "format": ".1%"}]}},
        {"mark": {"type": "text", "align": "left", "dx": 4},
         "encoding": {"y": {"field": "target", "type": "nominal", "sort": None},
                      "x": {"field": "share", "type": "quantitative"},
                      "text": {"field": "share", "format": ".1%"}}},
    ]}
    return Chart("share", "Share of voice", "Each target's share of all mentions in the window.", spec)


def _heatmap(title: str, values: list[dict[str, Any]], x: str, y: str, color: dict[str, Any],
             tooltip: list[dict[str, Any]]) -> dict[str, Any]:
    rows = len({v[y] for v in values}) or 1
    return _base(title, height=max(60, 26 * rows)) | {"data": {"values": values}, "layer": [
        {"mark": {"type": "rect"},
         "encoding": {"x": {"field": x, "type": "nominal"}, "y": {"field": y, "type": "nominal"}, "color": color,
                      "tooltip": tooltip}},
        {"mark": {"type": "text", "fontSize": 11},
         "encoding": {"x": {"field": x, "type": "nominal"}, "y": {"field": y, "type": "nominal"},
                      "text": {"field": "posts"}}},
    ]}


def voices_chart(report: Report) -> Chart:
    values = [{"speaker": v.speaker, "about": v.target, "posts": v.posts, "mood": v.mean_sentiment,
               "latest": visible(v.latest.text, limit=140)} for v in report.voices]
    color = {"field": "mood", "type": "quantitative", "title": "mood",
             "scale": {"domain": MOOD_DOMAIN, "scheme": "redblue"}}
    spec = _heatmap("Who says what about whom", values, "about", "speaker", color,
                    [{"field": "speaker"}, {"field": "about"}, {"field": "posts"},
                     {"field": "mood", "format": "+.2f"}, {"field": "latest"}])
    return Chart("voices", "Who says what about whom", "Posts from a target's own accounts (config `accounts`) "
                 "that name another target: count, coloured by mean sentiment.", spec)


def co_mentions_chart(report: Report) -> Chart:
    names = {t.target_id: t.name for t in report.targets}
    values = [{"a": names.get(c.target_a, c.target_a), "b": names.get(c.target_b, c.target_b), "posts": c.posts}
              for c in report.co_mentions]
    color = {"field": "posts", "type": "quantitative", "scale": {"scheme": "blues"}}
    spec = _heatmap("Co-mentions (posts naming both)", values, "a", "b", color,
                    [{"field": "a", "title": "target"}, {"field": "b", "title": "with"}, {"field": "posts"}])
    return Chart("co_mentions", "Co-mentions", "How many posts name both targets of a pair.", spec)


def coverage_chart(report: Report) -> Chart:
    values = [{"bucket": _utc(s.bucket), "source": s.source, "posts": s.posts} for s in report.source_series]
    gaps = [{"bucket": _utc(g.hour), "source": g.source, "problems": ", ".join(g.problems), "runs": g.runs}
            for g in report.gaps]
    x = _time_axis(report.bucket)
    layers = [
        {"data": {"values": values}, "mark": {"type": "bar"},
         "encoding": {"x": x, "y": {"field": "posts", "type": "quantitative", "aggregate": "sum", "title": "posts"},
                      "color": {"field": "source", "type": "nominal", "scale": {"scheme": "set2"}},
                      "tooltip": [{"field": "source"}, {"field": "posts", "aggregate": "sum"}]}},
        {"data": {"values": gaps}, "mark": {"type": "rule", "color": "#d1495b", "strokeWidth": 2, "opacity": 0.7},
         "encoding": {"x": x, "tooltip": [{"field": "source"}, {"field": "problems"}, {"field": "runs"}]}},
    ]
    spec = _base("Posts per source, with coverage gaps (red)") | {"layer": layers if gaps else layers[:1]}
    return Chart("coverage", "Sources and gaps", "Stored posts per source (collector or archive reader); red "
                 "lines mark hours a collector was down, capped or rate-limited.", spec)


def scorers_chart(report: Report) -> Chart:
    values = [{"kind": s.kind, "scorer": f"{s.scorer} {s.version}", "rows": s.rows} for s in report.scorers]
    spec = _base("Which analyzers made the figures", height=max(60, 30 * len({v['kind'] for v in values}))) | {
        "data": {"values": values}, "mark": {"type": "bar"},
        "encoding": {"y": {"field": "kind", "type": "nominal", "title": None},
                     "x": {"field": "rows", "type": "quantitative", "stack": "zero", "title": "scored rows"},
                     "color": {"field": "scorer", "type": "nominal", "scale": {"scheme": "dark2"}},
                     "tooltip": [{"field": "kind"}, {"field": "scorer"}, {"field": "rows"}]}}
    return Chart("scorers", "Analyzers", "The scorer (name and version) behind each sentiment and stance figure, "
                 "from the score tables' scorer columns.", spec)


def all_charts(report: Report) -> list[Chart]:
    return [volume_chart(report), mood_chart(report), stance_chart(report), share_chart(report),
            voices_chart(report), co_mentions_chart(report), coverage_chart(report), scorers_chart(report)]

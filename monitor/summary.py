"""The terminal summary: per target volume, change, mood, stance and trend; notable posts,
authors, platforms and data freshness. ``compute`` returns plain data (also the --json output);
``render`` draws it with rich, showing every post-derived string literally."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.models import STANCE_RULES_SCORER
from monitor.terminal import ago, literal, safe, sparkline

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
TREND_BUCKETS = 14
# A spike: an hour (windows up to 7 days) or a day (longer ones) with at least SPIKE_FACTOR times
# the target's average volume per hour or day over the window, and at least SPIKE_MIN_POSTS posts.
SPIKE_FACTOR = 3.0
SPIKE_MIN_POSTS = 10
SPIKES_SHOWN = 5
VOICES_SHOWN = 8  # (speaker, target) pairs in "who says what about whom"


def parse_window(value: str) -> timedelta | None:
    """'24h', '7d', '30d', 'all', or any N followed by h/d/w."""
    if value in WINDOWS:
        return WINDOWS[value]
    match = re.fullmatch(r"(\d+)([hdw])", value.strip())
    if not match:
        raise ValueError(f"window '{value}' not understood: use 24h, 7d, 30d, all, or a number with h/d/w")
    n, unit = int(match.group(1)), match.group(2)
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class _Window:
    start: datetime
    end: datetime
    prev_start: datetime | None  # the previous window of the same length (None for 'all')
    where: str  # SQL filter on v_mentions: the window and the target / platform filters
    params: list[Any]

    @property
    def span(self) -> timedelta:
        return max(self.end - self.start, timedelta(seconds=1))


def _window(con: duckdb.DuckDBPyConnection, since: str, target: str | None, platform: str | None,
            now: datetime | None) -> _Window:
    delta = parse_window(since)
    end = now or _now()
    if delta is None:
        # The whole history: the trend spans first to last post, not up to now.
        bounds = con.execute("SELECT min(created_at), max(created_at) FROM posts").fetchone()
        start = bounds[0] if bounds and bounds[0] else end
        end = bounds[1] if bounds and bounds[1] else end
        prev_start = None
    else:
        start = end - delta
        prev_start = start - delta
    where, params = _filters(start, end, target, platform)
    return _Window(start, end, prev_start, where, params)


def _filters(start: datetime, end: datetime, target: str | None, platform: str | None,
             target_sql: str = "target_id = ?") -> tuple[str, list[Any]]:
    """SQL filter and its parameters: the time window, the target (each ? of ``target_sql``), the platform."""
    filters = ["created_at >= ?", "created_at <= ?"]
    params: list[Any] = [start, end]
    if target:
        filters.append(target_sql)
        params += [target] * target_sql.count("?")
    if platform:
        filters.append("platform = ?")
        params.append(platform)
    return " AND ".join(filters), params


def compute(con: duckdb.DuckDBPyConnection, since: str = "all", target: str | None = None,
            platform: str | None = None, top: int = 3, now: datetime | None = None) -> dict[str, Any]:
    window = _window(con, since, target, platform, now)
    where, params = window.where, window.params
    bucket_seconds = max(1, int(window.span.total_seconds() / TREND_BUCKETS) + 1)
    targets = _target_summaries(con, window, bucket_seconds)
    spikes = _spikes(con, where, params, window.span)
    voices = _voices(con, window, target, platform)
    return {
        "generated_at": _iso(now or _now()),
        "window": {"since": since, "start": _iso(window.start), "end": _iso(window.end),
                   "previous_start": _iso(window.prev_start), "bucket_seconds": bucket_seconds},
        "filters": {"target": target, "platform": platform},
        "mentions_in_window": sum(t["posts"] for t in targets),
        "targets": targets,
        "spikes": spikes,
        "voices": voices,
        "most_positive": _notable_posts(con, where, params, top, "sentiment DESC", "AND sentiment > 0"),
        "most_negative": _notable_posts(con, where, params, top, "sentiment ASC", "AND sentiment < 0"),
        "most_engaged": _notable_posts(con, where, params, top, "engagement DESC, created_at DESC",
                                       "AND engagement > 0"),
        "top_authors": _top_authors(con, where, params, top + 2),
        "platforms": _platform_counts(con, where, params),
        "freshness": _freshness(con),
    }


def _target_summaries(con: duckdb.DuckDBPyConnection, window: _Window, bucket_seconds: int) -> list[dict[str, Any]]:
    """Per target, busiest first: volume, change against the previous window, mood, stance counts,
    engagement, authors, trend and the stance scorers behind its figures."""
    rows = con.execute(f"""
        SELECT target_id, any_value(target_name), count(*), avg(sentiment),
               count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
               count(*) FILTER (WHERE stance = 'none'), sum(engagement), count(DISTINCT author_handle)
        FROM v_mentions WHERE {window.where} GROUP BY target_id ORDER BY count(*) DESC, target_id
    """, window.params).fetchall()
    previous = _previous_counts(con, window)
    scorers = _stance_scorers(con, window.where, window.params)
    trends = _trends(con, window, bucket_seconds)
    targets = []
    for tid, name, count, mean, favor, against, none, engagement, authors in rows:
        prev = previous.get(tid) if window.prev_start is not None else None
        change = None if prev in (None, 0) else round((count - prev) / prev * 100, 1)
        targets.append({
            "target_id": tid, "name": name or tid, "posts": count, "previous_posts": prev, "change_pct": change,
            "mean_sentiment": None if mean is None else round(mean, 3),
            "stance": {"favor": favor, "against": against, "none": none},
            "engagement": int(engagement or 0), "authors": authors, "trend": trends.get(tid, [0] * TREND_BUCKETS),
            "stance_scorers": scorers.get(tid, []),
        })
    return targets


def _previous_counts(con: duckdb.DuckDBPyConnection, window: _Window) -> dict[str, int]:
    """Posts per target in the window before this one, of the same length (none for 'all')."""
    if window.prev_start is None:
        return {}
    # The same filters with the time bounds (the first two parameters) moved back one window.
    prev_params = [window.prev_start, window.start, *window.params[2:]]
    return dict(con.execute(f"SELECT target_id, count(*) FROM v_mentions WHERE {window.where} GROUP BY target_id",
                            prev_params).fetchall())


def _stance_scorers(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Per target, which stance scorers (and versions) scored its posts, commonest first."""
    scorers: dict[str, list[dict[str, Any]]] = {}
    for tid, scorer, version, n in con.execute(f"""
        SELECT target_id, stance_scorer, stance_scorer_version, count(*) FROM v_mentions
        WHERE {where} AND stance_scorer IS NOT NULL GROUP BY ALL ORDER BY target_id, count(*) DESC
    """, params).fetchall():
        scorers.setdefault(tid, []).append({"scorer": scorer, "version": version, "posts": n})
    return scorers


def _trends(con: duckdb.DuckDBPyConnection, window: _Window, bucket_seconds: int) -> dict[str, list[int]]:
    """Per target, posts in each of TREND_BUCKETS equal slices of the window (for the sparkline)."""
    trend_rows = con.execute(f"""
        SELECT target_id, CAST(floor(epoch(created_at - ?::TIMESTAMP) / ?) AS INTEGER) AS b, count(*)
        FROM v_mentions WHERE {window.where} GROUP BY ALL
    """, [window.start, bucket_seconds, *window.params]).fetchall()
    trends: dict[str, list[int]] = {}
    for tid, bucket, count in trend_rows:
        series = trends.setdefault(tid, [0] * TREND_BUCKETS)
        series[min(max(bucket, 0), TREND_BUCKETS - 1)] += count
    return trends


def _notable_posts(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], top: int, order: str,
                   extra: str = "") -> list[dict[str, Any]]:
    """The first ``top`` posts in ``order`` (among those matching ``extra``), each text once."""
    result = con.execute(f"""
        SELECT post_key, platform, created_at, author_handle, text, url, sentiment, stance, engagement,
               list(DISTINCT target_id ORDER BY target_id) AS targets
        FROM v_mentions WHERE {where} {extra}
        GROUP BY post_key, platform, created_at, author_handle, text, url, sentiment, stance, engagement
        QUALIFY row_number() OVER (PARTITION BY text ORDER BY {order}) = 1  -- a text once, not each retweet
        ORDER BY {order} LIMIT ?
    """, [*params, top]).fetchall()
    return [{"post_key": r[0], "platform": r[1], "created_at": _iso(r[2]), "author": r[3], "text": r[4],
             "url": r[5], "sentiment": r[6], "stance": r[7], "engagement": r[8], "targets": r[9]} for r in result]


def _top_authors(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], limit: int) -> list[dict[str, Any]]:
    authors = con.execute(f"""
        SELECT author_handle, platform, count(DISTINCT post_key) AS n, round(avg(sentiment), 3)
        FROM v_mentions WHERE {where} AND author_handle IS NOT NULL
        GROUP BY ALL ORDER BY n DESC, author_handle LIMIT ?
    """, [*params, limit]).fetchall()
    return [{"author": a, "platform": p, "posts": n, "mean_sentiment": s} for a, p, n, s in authors]


def _platform_counts(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[dict[str, Any]]:
    platforms = con.execute(f"""
        SELECT platform, count(DISTINCT post_key) FROM v_mentions WHERE {where} GROUP BY ALL ORDER BY 2 DESC
    """, params).fetchall()
    return [{"platform": p, "posts": n} for p, n in platforms]


def _freshness(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """How current the whole database is, whatever the window: newest post, last import, last collector run."""
    fresh = con.execute("SELECT count(*), max(created_at), max(collected_at) FROM posts").fetchone() or (0, None, None)
    last_import = con.execute("SELECT max(finished_at) FROM imports WHERE status <> 'running'").fetchone()
    last_run = con.execute("SELECT max(finished_at) FROM runs").fetchone()
    return {"posts_total": fresh[0], "newest_post": _iso(fresh[1]), "newest_collected": _iso(fresh[2]),
            "last_import": _iso(last_import[0] if last_import else None),
            "last_collector_run": _iso(last_run[0] if last_run else None)}


def _mood(value: float | None) -> Text:
    if value is None:
        return Text("—", style="dim")
    style = "green" if value >= 0.05 else "red" if value <= -0.05 else "yellow"
    return Text(f"{value:+.2f}", style=style)


def _stance_split(stance: dict[str, int]) -> str:
    """'40/49/10': percent for / against / neither, so the column stays narrow at any volume."""
    total = stance["favor"] + stance["against"] + stance["none"]
    if not total:
        return "—"
    return "/".join(f"{round(100 * stance[k] / total)}" for k in ("favor", "against", "none"))


def _spikes(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], span: timedelta,
            limit: int = SPIKES_SHOWN) -> list[dict[str, Any]]:
    """The window's busiest hours (or days) per target, against the target's average over the window,
    each with its most engaged post: what the spike was about."""
    unit = "hour" if span <= timedelta(days=7) else "day"
    buckets = max(1.0, span / (timedelta(hours=1) if unit == "hour" else timedelta(days=1)))
    rows = con.execute(f"""
        WITH per_bucket AS (
            SELECT target_id, any_value(target_name) AS name, date_trunc('{unit}', created_at) AS bucket,
                   count(*) AS n, avg(sentiment) AS mood,
                   arg_max(struct_pack(post_key, text, url, engagement),
                           coalesce(engagement, 0)) AS top
            FROM v_mentions WHERE {where} GROUP BY target_id, bucket
        )
        SELECT b.target_id, b.name, b.bucket, b.n, b.mood, b.top,
               sum(b.n) OVER (PARTITION BY b.target_id) / ? AS average
        FROM per_bucket b
        QUALIFY b.n >= ? AND b.n >= ? * average
        ORDER BY b.n / average DESC, b.n DESC, b.bucket LIMIT ?
    """, [*params, buckets, SPIKE_MIN_POSTS, SPIKE_FACTOR, limit]).fetchall()
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    spikes = []
    for tid, name, bucket, n, mood, top, average in rows:
        spikes.append({
            "target_id": tid, "name": name or tid, "unit": unit, "start": _iso(bucket), "end": _iso(bucket + step),
            "posts": n, "average": round(average, 2), "ratio": round(n / average, 1),
            "mean_sentiment": None if mood is None else round(mood, 3),
            "top_post": top,
        })
    return spikes


def _voices(con: duckdb.DuckDBPyConnection, window: _Window, target: str | None, platform: str | None,
            limit: int = VOICES_SHOWN) -> list[dict[str, Any]]:
    """Who says what about whom: per (speaker, target), the posts of a target's own accounts (the
    config's ``accounts``) that mention another target. With a target filter: what it says and what
    the others say about it."""
    where, params = _filters(window.start, window.end, target, platform, "(speaker_id = ? OR target_id = ?)")
    rows = con.execute(f"""
        SELECT speaker_id, any_value(speaker_name), target_id, any_value(target_name), count(*) AS n,
               avg(sentiment), count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
               count(*) FILTER (WHERE stance = 'none'),
               arg_max(struct_pack(text, url, platform, author_handle, created_at), created_at) AS latest
        FROM v_voices WHERE {where}
        GROUP BY speaker_id, target_id
        ORDER BY n DESC, max(created_at) DESC, speaker_id, target_id LIMIT ?
    """, [*params, limit]).fetchall()
    return [{
        "speaker_id": speaker, "speaker": speaker_name or speaker, "target_id": tid, "target": name or tid,
        "posts": n, "mean_sentiment": None if mood is None else round(mood, 3),
        "stance": {"favor": favor, "against": against, "none": none},
        "latest": {**latest, "created_at": _iso(latest["created_at"])},
    } for speaker, speaker_name, tid, name, n, mood, favor, against, none, latest in rows]


def _stance_lead(stance: dict[str, int]) -> str:
    """'against 2/3': the commonest stance and its share, for a handful of posts."""
    total = sum(stance.values())
    if not total:
        return "—"
    counts = sorted(stance.items(), key=lambda kv: -kv[1])
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return f"mixed ({total})"
    label, n = counts[0]
    return f"{'neither' if label == 'none' else label} {n}/{total}"


def spike_when(spike: dict[str, Any]) -> str:
    """'2025-01-22 14:00' for an hour, '2025-01-22' for a day (UTC)."""
    return spike["start"][:13].replace("T", " ") + ":00" if spike.get("unit", "hour") == "hour" else spike["start"][:10]


def spike_ratio(spike: dict[str, Any]) -> str:
    return f"{spike['ratio']:.0f}x" if spike["ratio"] >= 10 else f"{spike['ratio']:.1f}x"


def recent_spikes(con: duckdb.DuckDBPyConnection, now: datetime | None = None,
                  within: timedelta = timedelta(hours=2)) -> list[dict[str, Any]]:
    """Spikes happening now, for alerts: hours that began within ``within`` of ``now`` with
    SPIKE_FACTOR times the target's average hour over the last 24 h. A target needs a full day of
    history first (when collection has only just begun, every first hour would look like a spike)."""
    window = _window(con, "24h", None, None, now)
    found = [s for s in _spikes(con, window.where, window.params, window.span, limit=1000)
             if datetime.fromisoformat(s["start"]) >= window.end - within]
    if not found:
        return []
    first = dict(con.execute("SELECT target_id, min(created_at) FROM v_mentions WHERE target_id IN "
                             f"({', '.join('?' for _ in found)}) GROUP BY target_id",
                             [s["target_id"] for s in found]).fetchall())
    return [s for s in found if first.get(s["target_id"]) is not None and first[s["target_id"]] <= window.start]


def render(data: dict[str, Any], console: Console, warnings: list[str] | None = None) -> None:
    now = datetime.fromisoformat(data["generated_at"])
    _print_header(data, console, warnings, now)
    if not data["targets"]:
        console.print(Text("No mentions of any target in this window. Try --since all, or run `monitor run --once`.",
                           style="yellow"))
        return
    console.print(_targets_table(data["targets"]))
    _print_trained_scorers(data["targets"], console)
    if data["spikes"]:
        console.print(_spikes_table(data["spikes"]))
    if data["voices"]:
        console.print(_voices_table(data["voices"], now))
    tables = [t for t in (_post_table("Most positive", data["most_positive"]),
                          _post_table("Most negative", data["most_negative"]),
                          _post_table("Most engaged", data["most_engaged"])) if t is not None]
    if tables:
        console.print(Panel(Group(*tables), title="Posts", title_align="left"))
    grid = Table.grid(padding=(0, 4))
    grid.add_row(_authors_table(data["top_authors"]), _platforms_table(data["platforms"]))
    console.print(grid)


def _print_header(data: dict[str, Any], console: Console, warnings: list[str] | None, now: datetime) -> None:
    """The title (window and filters), any warnings, and how fresh the data is."""
    window = data["window"]
    title = Text.assemble(("discourse-monitor summary", "bold"), "  window: ", window["since"],
                          f"  ({window['start'][:16]} → {window['end'][:16]} UTC)")
    if data["filters"]["target"] or data["filters"]["platform"]:
        title.append(f"  filters: {safe(data['filters'])}")
    console.print(title)
    for warning in warnings or []:
        console.print(Text("! " + warning, style="bold yellow"))
    fresh = data["freshness"]
    console.print(Text(
        f"Data: {fresh['posts_total']:,} posts stored; newest post {ago(fresh['newest_post'], now)}"
        f" ({(fresh['newest_post'] or '—')[:16]}); last import {ago(fresh['last_import'], now)};"
        f" last collector run {ago(fresh['last_collector_run'], now)}.", style="dim"))


def _targets_table(targets: list[dict[str, Any]]) -> Table:
    # Narrow headers, so the table fits an 80-column terminal; the caption spells out the stance column.
    table = Table(title="Targets", title_justify="left", expand=False,
                  caption="stance: % of scored posts for / against / neither (counts in --json); zero-shot rules "
                          "unless noted (accuracy: README, 'Accuracy')",
                  caption_justify="left")
    for col, justify in (("target", "left"), ("posts", "right"), ("change", "right"), ("mood", "right"),
                         ("stance", "right"), ("authors", "right"), ("trend", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "target",  # type: ignore[arg-type]
                         min_width=12 if col == "target" else None)
    for t in targets:
        change = "—" if t["change_pct"] is None else f"{t['change_pct']:+.0f}%"
        table.add_row(literal(t["name"]), f"{t['posts']:,}", change, _mood(t["mean_sentiment"]),
                      _stance_split(t["stance"]), f"{t['authors']:,}", Text(sparkline(t["trend"]), style="cyan"))
    return table


def _print_trained_scorers(targets: list[dict[str, Any]], console: Console) -> None:
    # What the stance figures rest on: the zero-shot rules, or a model trained on the user's labels.
    for t in targets:
        trained = [s for s in t["stance_scorers"] if s["scorer"] != STANCE_RULES_SCORER]
        if trained:
            used = ", ".join(f"{s['scorer']} {s['version']} ({s['posts']:,} posts)" for s in trained)
            console.print(literal(f"{t['name']}: stance from a model trained on your labels: {used}", style="dim"))


def _spikes_table(spikes: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Spikes (≥{SPIKE_FACTOR:g}x the target's average, ≥{SPIKE_MIN_POSTS} posts)",
                  title_justify="left")
    for col, justify in (("target", "left"), ("when (UTC)", "left"), ("posts", "right"), ("x avg", "right"),
                         ("mood", "right"), ("most engaged post", "left")):
        table.add_column(col, justify=justify, no_wrap=col not in ("target", "most engaged post"))  # type: ignore[arg-type]
    for sp in spikes:
        top = sp["top_post"]
        table.add_row(literal(sp["name"]), spike_when(sp), str(sp["posts"]), spike_ratio(sp),
                      _mood(sp["mean_sentiment"]), literal(top["text"] if top else "", limit=90))
    return table


def _voices_table(voices: list[dict[str, Any]], now: datetime) -> Table:
    table = Table(title="Who says what about whom (posts from the targets' own accounts)", title_justify="left")
    for col, justify in (("speaker → about", "left"), ("posts", "right"), ("mood", "right"),
                         ("stance", "left"), ("latest post", "left")):
        table.add_column(col, justify=justify, no_wrap=col in ("posts", "mood", "stance"))  # type: ignore[arg-type]
    for v in voices:
        latest = v["latest"]
        table.add_row(literal(f"{v['speaker']} → {v['target']}"), str(v["posts"]), _mood(v["mean_sentiment"]),
                      _stance_lead(v["stance"]),
                      Text.assemble(literal(latest["text"], limit=70), "\n",
                                    literal(f"{latest['platform']} · {ago(latest['created_at'], now)}", style="dim")))
    return table


def _post_table(title: str, posts: list[dict[str, Any]]) -> Table | None:
    """A borderless list of notable posts, mood first; None when there are none."""
    if not posts:
        return None
    table = Table(title=title, title_justify="left", show_header=False, expand=False, box=None, padding=(0, 1))
    table.add_column(justify="right")
    table.add_column(overflow="fold")
    for p in posts:
        body = Text.assemble(literal(p["text"], limit=200), "\n",
                             literal(f"{p['platform']} · @{p['author'] or '?'} · {str(p['created_at'])[:16]} · "
                                     f"engagement {p['engagement']} · {', '.join(p['targets'])}", style="dim"),
                             "\n", literal(p["url"] or "", style="blue underline"))
        table.add_row(_mood(p["sentiment"]), body)
    return table


def _authors_table(top_authors: list[dict[str, Any]]) -> Table:
    table = Table(title="Top authors", title_justify="left")
    table.add_column("author")
    table.add_column("platform")
    table.add_column("posts", justify="right")
    table.add_column("mood", justify="right")
    for a in top_authors:
        table.add_row(literal(a["author"], limit=40), literal(a["platform"]), str(a["posts"]),
                      _mood(a["mean_sentiment"]))
    return table


def _platforms_table(platforms: list[dict[str, Any]]) -> Table:
    table = Table(title="Platforms", title_justify="left")
    table.add_column("platform")
    table.add_column("posts", justify="right")
    for p in platforms:
        table.add_row(literal(p["platform"]), str(p["posts"]))
    return table

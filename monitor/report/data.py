"""The report's figures, read from the DuckDB database into plain typed data.

Every figure comes from the stored views (v_mentions, v_voices, v_coverage_gaps, runs, the score
tables) with the same filters as ``monitor summary``: a time window, target ids and platforms.
``compute`` takes an open read-only connection and never writes; callers open it just for the call
(``Store.read``), so the daemon's writer is never kept waiting for long. Every listing has a row cap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import duckdb

from monitor.store.rows import utcnow_naive as utcnow
from monitor.summary import parse_bound
from monitor.terminal import safe

# Same thresholds as `monitor summary`: a spike is a bucket with at least SPIKE_FACTOR times the
# target's average volume per bucket over the window, and at least SPIKE_MIN_POSTS posts.
SPIKE_FACTOR = 3.0
SPIKE_MIN_POSTS = 10
SPIKES_SHOWN = 10
SPIKE_TOP_POSTS = 3
VOICES_SHOWN = 30
TOP_POSTS = 5
MAX_TARGETS_CHARTED = 12  # the busiest targets get a series; the rest are still in the tables
MAX_GAPS = 200
DRILL_POSTS = 50  # posts one drill-down returns at most

def visible(value: object, limit: int | None = None) -> str:
    """Post-derived text for display: control characters (ESC, bidirectional overrides) as visible
    escapes like the terminal shows them, optionally shortened."""
    return safe(value, limit=limit)


def safe_link(url: str | None) -> str | None:
    """The URL if it may be a link (http or https, no control characters or spaces), else None:
    a ``javascript:`` or ``data:`` URL is shown as text, never linked."""
    if not url or safe(url) != url or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None



def parse_time(value: str | None, now: datetime | None = None) -> datetime | None:
    """A --since/--until (or page filter) value as summary reads it (``summary.parse_bound``: 'all',
    24h, 7d, 2w, 6m, 1y or an ISO date/time); an empty value is no bound, like 'all'."""
    return parse_bound(value if value and value.strip() else None, now)


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    targets: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()

    def sql(self, target_column: str = "target_id", time_column: str = "created_at",
            platform_column: str = "platform") -> tuple[str, list[Any]]:
        """A WHERE clause (never empty) and its parameters."""
        clauses, params = ["TRUE"], []
        if self.since is not None:
            clauses.append(f"{time_column} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{time_column} < ?")
            params.append(self.until)
        if self.targets:
            clauses.append(f"{target_column} IN ({', '.join('?' for _ in self.targets)})")
            params += list(self.targets)
        if self.platforms:
            clauses.append(f"{platform_column} IN ({', '.join('?' for _ in self.platforms)})")
            params += list(self.platforms)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class PostRow:
    post_key: str
    platform: str
    created_at: str
    author: str | None
    text: str  # as stored; display through visible()
    url: str | None  # as stored; link only through safe_link()
    sentiment: float | None
    stance: str | None
    engagement: int
    targets: list[str]


@dataclass(frozen=True)
class TargetFigures:
    target_id: str
    name: str
    posts: int
    share: float  # of all mentions in the window
    mean_sentiment: float | None
    sd_sentiment: float | None
    favor: int
    against: int
    neutral: int
    authors: int
    engagement: int


@dataclass(frozen=True)
class BucketFigures:
    """One target in one time bucket."""

    bucket: str
    target_id: str
    posts: int
    mean_sentiment: float | None
    sd_sentiment: float | None
    favor: int
    against: int
    neutral: int


@dataclass(frozen=True)
class Spike:
    target_id: str
    name: str
    bucket: str
    posts: int
    average: float
    ratio: float
    mean_sentiment: float | None
    top_posts: list[PostRow]


@dataclass(frozen=True)
class Voice:
    speaker_id: str
    speaker: str
    target_id: str
    target: str
    posts: int
    mean_sentiment: float | None
    favor: int
    against: int
    neutral: int
    latest: PostRow


@dataclass(frozen=True)
class CoMention:
    target_a: str
    target_b: str
    posts: int


@dataclass(frozen=True)
class SourceCoverage:
    source: str
    posts: int  # stored posts of this source (reader or collector) in the window
    runs: int
    complete: int
    capped: int
    rate_limited: int
    failed: int
    last_run: str | None
    last_error: str | None


@dataclass(frozen=True)
class SourceBucket:
    bucket: str
    source: str
    posts: int


@dataclass(frozen=True)
class Gap:
    source: str
    hour: str
    problems: list[str]
    runs: int
    example_error: str | None


@dataclass(frozen=True)
class ScorerUse:
    kind: str  # sentiment (per post) | target sentiment | stance
    scorer: str
    version: str
    rows: int


@dataclass
class Report:
    generated_at: str
    start: str | None  # the window actually covered (first and last post when unbounded)
    end: str | None
    bucket: str  # hour | day | week | month
    buckets: list[str]  # every bucket of the window, in order (for zero-filled series)
    filters: dict[str, Any]
    posts_total: int  # stored posts, whatever the filters
    mentions: int  # mentions in the window
    targets: list[TargetFigures] = field(default_factory=list)
    series: list[BucketFigures] = field(default_factory=list)
    spikes: list[Spike] = field(default_factory=list)
    voices: list[Voice] = field(default_factory=list)
    co_mentions: list[CoMention] = field(default_factory=list)
    coverage: list[SourceCoverage] = field(default_factory=list)
    source_series: list[SourceBucket] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    scorers: list[ScorerUse] = field(default_factory=list)
    most_engaged: list[PostRow] = field(default_factory=list)
    most_positive: list[PostRow] = field(default_factory=list)
    most_negative: list[PostRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def choose_bucket(start: datetime | None, end: datetime | None) -> str:
    """A time bucket that gives a readable number of points (tens to a couple of hundred)."""
    if start is None or end is None:
        return "day"
    span = end - start
    if span <= timedelta(days=3):
        return "hour"
    if span <= timedelta(days=180):
        return "day"
    if span <= timedelta(days=3 * 365):
        return "week"
    return "month"


def bucket_starts(start: datetime | None, end: datetime | None, bucket: str, end_inclusive: bool = True,
                  cap: int = 1000) -> list[str]:
    """Every bucket from the one holding ``start`` to the one holding ``end`` (at most ``cap``); an
    exclusive ``end`` (the --until bound) on a bucket's first instant does not open that bucket."""
    if start is None or end is None:
        return []
    if bucket == "month":
        current = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif bucket == "week":  # ISO weeks start on Monday, as DuckDB's date_trunc('week')
        current = (start - timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif bucket == "day":
        current = start.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        current = start.replace(minute=0, second=0, microsecond=0)
    starts: list[str] = []
    while (current < end or (end_inclusive and current == end)) and len(starts) < cap:
        starts.append(current.isoformat())
        if bucket == "month":
            current = current.replace(year=current.year + current.month // 12, month=current.month % 12 + 1)
        else:
            current += {"week": timedelta(weeks=1), "day": timedelta(days=1), "hour": timedelta(hours=1)}[bucket]
    return starts


# The report reads the window's mentions once into a temp table (a read-only connection may make
# them; it lives in memory and goes with the connection), so the figures are quick scans of it
# instead of the v_mentions join each time (7 s -> ~1.5 s for 500k posts on 2 busy cores).
WINDOW_TABLE = "report_window"


def _load_window(con: duckdb.DuckDBPyConnection, filters: Filters) -> None:
    """The mentions of the window and platforms (every target: co-mentions need the others), with
    their score rows' scorer columns; post text stays in the database until a listing needs it."""
    where, params = Filters(filters.since, filters.until, (), filters.platforms).sql(
        "m.target_id", "m.created_at", "m.platform")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {WINDOW_TABLE} AS
        SELECT m.target_id, m.target_name, m.post_key, m.platform, m.created_at, m.author_handle, m.sentiment,
               m.stance, m.engagement, m.stance_scorer, m.stance_scorer_version,
               ts.sentiment_scorer, ts.sentiment_scorer_version, s.scorer AS post_scorer,
               s.scorer_version AS post_scorer_version
        FROM v_mentions m
        LEFT JOIN target_scores ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id
        LEFT JOIN post_sentiment s ON s.post_key = m.post_key
        WHERE {where}
    """, params)


def _target_clause(targets: tuple[str, ...]) -> tuple[str, list[Any]]:
    if not targets:
        return "TRUE", []
    return f"target_id IN ({', '.join('?' for _ in targets)})", list(targets)


def _post_rows(rows: list[tuple[Any, ...]]) -> list[PostRow]:
    return [PostRow(post_key=r[0], platform=r[1], created_at=_iso(r[2]) or "", author=r[3], text=r[4], url=r[5],
                    sentiment=_round(r[6]), stance=r[7], engagement=int(r[8] or 0), targets=list(r[9] or []))
            for r in rows]


_POST_ORDERS = {"engagement": "engagement DESC, created_at DESC, post_key",
                "positive": "sentiment DESC NULLS LAST, post_key", "negative": "sentiment ASC NULLS LAST, post_key",
                "newest": "created_at DESC, post_key"}


def _top_posts(con: duckdb.DuckDBPyConnection, source: str, where: str, params: list[Any], order: str,
               limit: int) -> list[PostRow]:
    """One row per post (a post naming two targets once), the first ``limit`` by ``order``. Ranked on
    plain aggregates first; targets, stance, text and URL are gathered for those posts only."""
    having = {"positive": "HAVING avg(sentiment) > 0", "negative": "HAVING avg(sentiment) < 0"}.get(order, "")
    rows = con.execute(f"""
        WITH top AS (
            SELECT post_key, max(created_at) AS created_at, avg(sentiment) AS sentiment,
                   max(engagement) AS engagement
            FROM {source} WHERE {where} GROUP BY post_key {having} ORDER BY {_POST_ORDERS[order]} LIMIT ?
        ), stances AS (
            SELECT post_key, stance, count(*) AS n, list(target_id) AS target_ids
            FROM {source} WHERE {where} AND post_key IN (SELECT post_key FROM top) GROUP BY post_key, stance
        ), detail AS (
            -- The most frequent stance of the post's mentions; a tie goes to the first by name (mode()
            -- broke it at random: the same report listed a post as against, then as none).
            SELECT post_key, first(stance ORDER BY stance IS NULL, n DESC, stance) AS stance,
                   list_sort(list_distinct(flatten(list(target_ids)))) AS targets
            FROM stances GROUP BY post_key
        )
        SELECT top.post_key, p.platform, top.created_at, p.author_handle, p.text, p.url, top.sentiment,
               detail.stance, top.engagement, detail.targets
        FROM top JOIN detail USING (post_key) JOIN posts p USING (post_key) ORDER BY {_POST_ORDERS[order]}
    """, [*params, limit, *params]).fetchall()
    return _post_rows(rows)


def posts(con: duckdb.DuckDBPyConnection, filters: Filters, order: str = "engagement",
          limit: int = DRILL_POSTS) -> list[PostRow]:
    """Posts of the filters (a drill-down): by engagement, newest, or most positive / negative first."""
    where, params = filters.sql()
    return _top_posts(con, "v_mentions", where, params, order, limit)


def _window_bounds(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[datetime | None, datetime | None]:
    """The window the charts span: the filters' bounds, or the first / last matching post."""
    if filters.since is not None and filters.until is not None:
        return filters.since, filters.until
    where, params = _target_clause(filters.targets)
    row = con.execute(f"SELECT min(created_at), max(created_at) FROM {WINDOW_TABLE} WHERE {where}", params).fetchone()
    first, last = (row or (None, None))
    return filters.since or first, filters.until or last


def _targets(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[TargetFigures]:
    rows = con.execute(f"""
        SELECT target_id, any_value(target_name), count(*), avg(sentiment), stddev_samp(sentiment),
               count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
               count(*) FILTER (WHERE stance = 'none'), count(DISTINCT author_handle), sum(engagement)
        FROM {WINDOW_TABLE} WHERE {where} GROUP BY target_id ORDER BY count(*) DESC, target_id
    """, params).fetchall()
    total = sum(r[2] for r in rows) or 1
    return [TargetFigures(target_id=r[0], name=r[1] or r[0], posts=r[2], share=round(r[2] / total, 4),
                          mean_sentiment=_round(r[3]), sd_sentiment=_round(r[4]), favor=r[5], against=r[6],
                          neutral=r[7], authors=r[8], engagement=int(r[9] or 0)) for r in rows]


def _series(con: duckdb.DuckDBPyConnection, bucket: str, charted: list[str]) -> list[BucketFigures]:
    if not charted:
        return []
    rows = con.execute(f"""
        SELECT date_trunc('{bucket}', created_at) AS b, target_id, count(*), avg(sentiment), stddev_samp(sentiment),
               count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
               count(*) FILTER (WHERE stance = 'none')
        FROM {WINDOW_TABLE} WHERE target_id IN ({', '.join('?' for _ in charted)})
        GROUP BY ALL ORDER BY b, target_id
    """, charted).fetchall()
    return [BucketFigures(bucket=_iso(r[0]) or "", target_id=r[1], posts=r[2], mean_sentiment=_round(r[3]),
                          sd_sentiment=_round(r[4]), favor=r[5], against=r[6], neutral=r[7]) for r in rows]


def _spikes(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], bucket: str,
            start: datetime | None, end: datetime | None) -> list[Spike]:
    """Each target's buckets with SPIKE_FACTOR times its average bucket over the window, each with
    its most engaged posts: what the spike was about."""
    if start is None or end is None:
        return []
    unit = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
            "month": timedelta(days=30.44)}[bucket]
    buckets = max(1.0, (end - start) / unit)
    rows = con.execute(f"""
        WITH per_bucket AS (
            SELECT target_id, any_value(target_name) AS name, date_trunc('{bucket}', created_at) AS b,
                   count(*) AS n, avg(sentiment) AS mood
            FROM {WINDOW_TABLE} WHERE {where} GROUP BY target_id, b
        )
        SELECT target_id, name, b, n, mood, sum(n) OVER (PARTITION BY target_id) / ? AS average
        FROM per_bucket QUALIFY n >= ? AND n >= ? * average
        ORDER BY n / average DESC, n DESC, b, target_id LIMIT ?
    """, [*params, buckets, SPIKE_MIN_POSTS, SPIKE_FACTOR, SPIKES_SHOWN]).fetchall()
    return [Spike(target_id=tid, name=name or tid, bucket=_iso(b) or "", posts=n, average=round(average, 2),
                  ratio=round(n / average, 1), mean_sentiment=_round(mood),
                  top_posts=_top_posts(con, WINDOW_TABLE, f"target_id = ? AND date_trunc('{bucket}', created_at) = ?",
                                       [tid, b], "engagement", SPIKE_TOP_POSTS))
            for tid, name, b, n, mood, average in rows]


def _voices(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[Voice]:
    """Who says what about whom: posts of a target's own accounts naming another target. With a
    target filter, what those targets say and what the others say about them."""
    where, params = Filters(filters.since, filters.until, (), filters.platforms).sql()
    if filters.targets:
        marks = ", ".join("?" for _ in filters.targets)
        where += f" AND (speaker_id IN ({marks}) OR target_id IN ({marks}))"
        params += [*filters.targets, *filters.targets]
    rows = con.execute(f"""
        SELECT speaker_id, any_value(speaker_name), target_id, any_value(target_name), count(*) AS n,
               avg(sentiment), count(*) FILTER (WHERE stance = 'favor'), count(*) FILTER (WHERE stance = 'against'),
               count(*) FILTER (WHERE stance = 'none'),
               arg_max(struct_pack(post_key, platform, created_at, author_handle, text, url, sentiment, stance,
                                   engagement), created_at) AS latest
        FROM v_voices WHERE {where} GROUP BY speaker_id, target_id
        ORDER BY n DESC, max(created_at) DESC, speaker_id, target_id LIMIT ?
    """, [*params, VOICES_SHOWN]).fetchall()
    voices = []
    for speaker, speaker_name, tid, name, n, mood, favor, against, neutral, latest in rows:
        post = _post_rows([(latest["post_key"], latest["platform"], latest["created_at"], latest["author_handle"],
                            latest["text"], latest["url"], latest["sentiment"], latest["stance"],
                            latest["engagement"], [tid])])[0]
        voices.append(Voice(speaker_id=speaker, speaker=speaker_name or speaker, target_id=tid, target=name or tid,
                            posts=n, mean_sentiment=_round(mood), favor=favor, against=against, neutral=neutral,
                            latest=post))
    return voices


def _co_mentions(con: duckdb.DuckDBPyConnection, targets: tuple[str, ...]) -> list[CoMention]:
    either = ""
    if targets:
        marks = ", ".join("?" for _ in targets)
        either = f"AND (a.target_id IN ({marks}) OR b.target_id IN ({marks}))"
    rows = con.execute(f"""
        SELECT a.target_id, b.target_id, count(DISTINCT a.post_key) AS n
        FROM {WINDOW_TABLE} a JOIN {WINDOW_TABLE} b ON a.post_key = b.post_key AND a.target_id < b.target_id {either}
        GROUP BY ALL ORDER BY n DESC, 1, 2 LIMIT 100
    """, [*targets, *targets]).fetchall()
    return [CoMention(target_a=a, target_b=b, posts=n) for a, b, n in rows]


def _coverage(con: duckdb.DuckDBPyConnection, filters: Filters,
              bucket: str) -> tuple[list[SourceCoverage], list[SourceBucket], list[Gap]]:
    """Per source: posts stored in the window, its collector runs by coverage, and the hours it was
    down, capped or rate-limited (gaps in the trend lines)."""
    post_where, post_params = Filters(filters.since, filters.until, (), filters.platforms).sql()
    per_source = dict(con.execute(f"SELECT source, count(*) FROM posts WHERE {post_where} GROUP BY source",
                                  post_params).fetchall())
    run_where, run_params = Filters(filters.since, filters.until).sql(time_column="started_at")
    runs = {r[0]: r[1:] for r in con.execute(f"""
        SELECT source, count(*), count(*) FILTER (WHERE coverage = 'complete'),
               count(*) FILTER (WHERE coverage = 'capped'), count(*) FILTER (WHERE coverage = 'rate-limited'),
               count(*) FILTER (WHERE coverage = 'failed' OR coverage IS NULL), max(started_at),
               arg_max(error, started_at)
        FROM runs WHERE {run_where} GROUP BY source
    """, run_params).fetchall()}
    coverage = []
    for source in sorted(set(per_source) | set(runs)):
        n, complete, capped, limited, failed, last, error = runs.get(source, (0, 0, 0, 0, 0, None, None))
        coverage.append(SourceCoverage(source=source, posts=int(per_source.get(source, 0)), runs=n,
                                       complete=complete, capped=capped, rate_limited=limited, failed=failed,
                                       last_run=_iso(last), last_error=error))
    series = [SourceBucket(bucket=_iso(b) or "", source=s, posts=n) for b, s, n in con.execute(f"""
        SELECT date_trunc('{bucket}', created_at) AS b, source, count(*) FROM posts WHERE {post_where}
        GROUP BY ALL ORDER BY b, source
    """, post_params).fetchall()]
    gap_where, gap_params = Filters(filters.since, filters.until).sql(time_column="hour")
    gaps = [Gap(source=s, hour=_iso(h) or "", problems=list(p or []), runs=n, example_error=e)
            for s, h, p, n, e in con.execute(
                f"SELECT source, hour, problems, runs, example_error FROM v_coverage_gaps WHERE {gap_where} "
                "ORDER BY hour DESC, source LIMIT ?", [*gap_params, MAX_GAPS]).fetchall()]
    return coverage, series, gaps


def _scorers(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[ScorerUse]:
    """Which analyzers made the figures: the scorer columns of the score rows behind the window."""
    rows = con.execute(f"""
        WITH m AS (SELECT * FROM {WINDOW_TABLE} WHERE {where})
        SELECT 'stance', stance_scorer, stance_scorer_version, count(*) FROM m
        WHERE stance_scorer IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT 'target sentiment', sentiment_scorer, sentiment_scorer_version, count(*) FROM m
        WHERE sentiment_scorer IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT 'post sentiment', post_scorer, post_scorer_version, count(DISTINCT post_key) FROM m
        WHERE post_scorer IS NOT NULL GROUP BY ALL
        ORDER BY 1, 4 DESC, 2, 3
    """, [*params]).fetchall()
    return [ScorerUse(kind=k, scorer=s, version=v, rows=n) for k, s, v, n in rows]


def compute(con: duckdb.DuckDBPyConnection, filters: Filters, now: datetime | None = None) -> Report:
    """Every figure of the report, for the given filters."""
    _load_window(con, filters)
    where, params = _target_clause(filters.targets)
    start, end = _window_bounds(con, filters)
    bucket = choose_bucket(start, end)
    targets = _targets(con, where, params)
    coverage, source_series, gaps = _coverage(con, filters, bucket)
    total = con.execute("SELECT count(*) FROM posts").fetchone()
    return Report(
        generated_at=_iso(now or utcnow()) or "",
        start=_iso(start), end=_iso(end), bucket=bucket,
        buckets=bucket_starts(start, end, bucket, end_inclusive=filters.until is None),
        filters={"since": _iso(filters.since), "until": _iso(filters.until), "targets": list(filters.targets),
                 "platforms": list(filters.platforms)},
        posts_total=int(total[0]) if total else 0,
        mentions=sum(t.posts for t in targets),
        targets=targets,
        series=_series(con, bucket, [t.target_id for t in targets[:MAX_TARGETS_CHARTED]]),
        spikes=_spikes(con, where, params, bucket, start, end),
        voices=_voices(con, filters),
        co_mentions=_co_mentions(con, filters.targets),
        coverage=coverage, source_series=source_series, gaps=gaps,
        scorers=_scorers(con, where, params),
        most_engaged=_top_posts(con, WINDOW_TABLE, where, params, "engagement", TOP_POSTS),
        most_positive=_top_posts(con, WINDOW_TABLE, where, params, "positive", TOP_POSTS),
        most_negative=_top_posts(con, WINDOW_TABLE, where, params, "negative", TOP_POSTS),
    )

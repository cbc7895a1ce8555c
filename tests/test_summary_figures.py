"""The summary's windows, filters and figures (issue #15 items 9, 10, 15; issue #17 item 4): absolute
and calendar windows, --until, several targets, errors naming what is known, mood series and its
change, share of voice, hashtags and terms, the author view, spikes against a rolling baseline,
dated sparklines, and the same figures as database views."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from monitor import summary
from monitor.store import Store

NOW = datetime(2025, 3, 1, 12, 0)
TARGETS = [("musk", "Elon Musk"), ("altman", "Sam Altman"), ("stargate", "Stargate")]


class Posts:
    """Rows written straight into a migrated database: fast, and independent of the import path."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.n = 0
        con.executemany("INSERT INTO targets (target_id, name, kind) VALUES (?, ?, 'person')", TARGETS)

    def add(self, when: datetime, text: str, targets: dict[str, float | None], platform: str = "x",
            author: str = "someone", stance: str = "none", import_id: int | None = None,
            collected_at: datetime | None = None) -> None:
        """One post mentioning ``targets`` (id -> sentiment; None: not scored)."""
        self.n += 1
        key = f"{platform}:{self.n}"
        self.con.execute("""
            INSERT INTO posts (post_key, platform, post_id, text, created_at, collected_at, source, tool_version,
                               author_handle, import_id)
            VALUES (?, ?, ?, ?, ?, ?, 'test', 'test', ?, ?)""",
                         [key, platform, str(self.n), text, when, collected_at or when, author, import_id])
        for tid, sentiment in targets.items():
            self.con.execute("INSERT INTO mentions VALUES (?, ?, NULL, 'r')", [key, tid])
            self.con.execute("""
                INSERT INTO target_scores (post_key, target_id, sentiment, stance, sentiment_scorer,
                                           sentiment_scorer_version, scored_at)
                VALUES (?, ?, ?, ?, 'test', '1', ?)""", [key, tid, sentiment, stance, when])


@pytest.fixture
def db(data_dir: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Posts]]:
    store = Store(data_dir)
    store.ensure()
    con = duckdb.connect(str(store.path))
    try:
        yield con, Posts(con)
    finally:
        con.close()


def _render(data: dict, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), force_terminal=True)
    summary.render(data, console)
    return console.export_text()


# --- windows (#15.9, #15.10) -------------------------------------------------------------------


def test_parse_window_keeps_todays_results_and_reads_dates_and_calendar_spans() -> None:
    assert summary.parse_window("24h") == timedelta(hours=24)
    assert summary.parse_window("7d") == timedelta(days=7)
    assert summary.parse_window("2w") == timedelta(weeks=2)
    assert summary.parse_window("all") is None
    assert summary.parse_window("6m", NOW) == NOW - datetime(2024, 9, 1, 12, 0)  # calendar months
    assert summary.parse_window("1y", NOW) == NOW - datetime(2024, 3, 1, 12, 0)
    assert summary.parse_window("1m", datetime(2025, 1, 31)) == timedelta(days=31)  # to 2024-12-31
    assert summary.parse_window("1m", datetime(2025, 3, 31)) == timedelta(days=31)  # to 2025-02-28
    assert summary.parse_window("1y", datetime(2024, 2, 29)) == timedelta(days=366)  # to 2023-02-28
    assert summary.parse_window("2016-01-31") == datetime(2016, 1, 31)
    assert summary.parse_window("2016-01-31T12:00:00Z") == datetime(2016, 1, 31, 12)
    assert summary.parse_window("2016-01-31T14:00+02:00") == datetime(2016, 1, 31, 12)  # to UTC
    assert summary.parse_bound("7d", NOW) == NOW - timedelta(days=7)
    assert summary.parse_bound(None, NOW) is None


def test_a_sparkline_bucket_reads_as_hours_days_or_years() -> None:
    """A window over decades printed its bucket as '1.44e+03 days'."""
    assert [summary.bucket_size_text(s) for s in (3600 * 6, 86400 * 1.5, 86400 * 365, 86400 * 1440)] == [
        "6 h", "1.5 days", "365 days", "3.94 years"]


@pytest.mark.parametrize("value", ["99999999d", "999999999999d", "5000y", "99999999999w"])
def test_an_enormous_window_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="before the year 1: use --since all"):
        summary.parse_window(value, NOW)


def test_a_window_not_understood_says_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"not understood: use all, .*6m months, 1y years.*ISO date"):
        summary.parse_window("yesterday")


def test_until_is_an_exclusive_end_and_json_times_carry_utc(db) -> None:
    con, posts = db
    for day in (1, 2, 3):
        posts.add(datetime(2016, 1, day, 10), f"Elon Musk on day {day}", {"musk": 0.5})
    data = summary.compute(con, since="2016-01-01", until="2016-01-03", now=NOW)
    assert [t["posts"] for t in data["targets"]] == [2]  # the 3rd is the (excluded) end
    assert data["window"]["start"] == "2016-01-01T00:00:00+00:00"
    assert data["window"]["end"] == "2016-01-03T00:00:00+00:00" and data["window"]["end_inclusive"] is False
    assert data["generated_at"].endswith("+00:00") and data["freshness"]["newest_post"].endswith("+00:00")
    assert data["window"]["previous_start"] == "2015-12-30T00:00:00+00:00"
    with pytest.raises(ValueError, match="--until must be later than --since"):
        summary.compute(con, since="2016-01-03", until="2016-01-01", now=NOW)


def test_several_targets_and_platforms_are_all_kept(db) -> None:
    con, posts = db
    posts.add(NOW - timedelta(hours=1), "Elon Musk", {"musk": 0.1})
    posts.add(NOW - timedelta(hours=2), "Sam Altman", {"altman": 0.1}, platform="reddit")
    posts.add(NOW - timedelta(hours=3), "Stargate", {"stargate": 0.1}, platform="bluesky")
    data = summary.compute(con, since="7d", target=("musk", "altman"), now=NOW)
    assert sorted(t["target_id"] for t in data["targets"]) == ["altman", "musk"]
    assert data["filters"]["targets"] == ["musk", "altman"] and data["filters"]["target"] == "musk,altman"
    by_platform = summary.compute(con, since="7d", platform=["reddit", "bluesky"], now=NOW)
    assert sorted(t["target_id"] for t in by_platform["targets"]) == ["altman", "stargate"]


def test_unknown_platform_or_author_names_what_is_stored(db) -> None:
    con, posts = db
    posts.add(NOW, "Elon Musk", {"musk": 0.1}, platform="hackernews", author="pg")
    problems = summary.unknown_filter_values(con, summary.make_filters(platform=["twitter"], author="@nobody"))
    assert problems[0] == "no posts from platform 'twitter' are stored (platforms stored: hackernews)"
    assert "no posts by author @nobody" in problems[1]
    assert summary.unknown_filter_values(con, summary.make_filters(platform="hackernews", author="PG")) == []


# --- the screen (#15.15) ----------------------------------------------------------------------


def test_header_shows_filters_as_text_and_no_pointless_hint(db) -> None:
    con, posts = db
    posts.add(datetime(2016, 1, 1), "Elon Musk", {"musk": 0.1})
    out = _render(summary.compute(con, since="all", target="altman", platform="x", now=NOW))
    assert "Filters: target: altman; platform: x" in out
    assert "{" not in out and "'target'" not in out
    assert "in the whole history with target: altman" in out and "--since all" not in out
    out = _render(summary.compute(con, since="7d", target="altman", now=NOW))
    assert "Try --since all" in out


def test_sparklines_are_dated_and_fit_80_columns(db) -> None:
    con, posts = db
    for day in range(20):
        posts.add(datetime(2025, 1, 1 + day, 9), "Elon Musk is great #Tesla", {"musk": 0.6 if day < 10 else -0.6})
    data = summary.compute(con, since="all", now=NOW)
    assert data["window"]["buckets"][0] == "2025-01-01T09:00:00+00:00" and len(data["window"]["buckets"]) == 14
    out = _render(data)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "2025-01-01" in out and "→ 2025-01-20" in out  # the first and last date under the trend
    words = " ".join(out.split())
    assert "buckets from 2025-01-01 to 2025-01-20" in words and "change: posts against the window before" in words


def test_spikes_on_a_long_window_use_a_rolling_baseline(db) -> None:
    """Two posts a day through 2024, then 40 on one day, on a window of 20 years: the ratio is over the
    28 days before (about 20x), not the average over 20 mostly empty years (thousands)."""
    con, posts = db
    for day in range(60):
        for k in range(2):
            posts.add(datetime(2024, 1, 1, 10 + k) + timedelta(days=day), "Elon Musk", {"musk": 0.0})
    for k in range(40):
        posts.add(datetime(2024, 3, 1, k % 24, 30), "Elon Musk!", {"musk": 0.0})
    data = summary.compute(con, since="20y", now=NOW)
    [spike] = data["spikes"]
    assert spike["start"].startswith("2024-03-01") and spike["unit"] == "day"
    assert 15 <= spike["ratio"] <= 25, spike["ratio"]
    assert "28 days before" in spike["baseline"]
    out = " ".join(_render(data).split())
    assert "x base: the day's posts over the target's average day over the 28 days before" in out


# --- mood, share of voice, words, author (#17.4) ------------------------------------------------


def test_mood_series_and_change_against_the_previous_window(db) -> None:
    con, posts = db
    for day in range(7):  # the previous week: friendly; this week: hostile
        posts.add(NOW - timedelta(days=8 + day), "Elon Musk is great", {"musk": 0.6})
        posts.add(NOW - timedelta(days=1 + day) + timedelta(hours=1), "Elon Musk is awful", {"musk": -0.4})
    posts.add(NOW - timedelta(hours=3), "Elon Musk, a post not scored", {"musk": None})
    [musk] = summary.compute(con, since="7d", now=NOW)["targets"]
    assert musk["mean_sentiment"] == -0.4 and musk["previous_mean_sentiment"] == 0.6
    assert musk["mood_change"] == -1.0 and musk["scored_posts"] == 7 and musk["posts"] == 8
    assert len(musk["mood_trend"]) == 14 and set(musk["mood_trend"]) <= {-0.4, None}
    line = summary.mood_sparkline(musk["mood_trend"])
    assert "·" in line and summary.mood_sparkline([-1.0, 0.0, 1.0]) == "▁▅█"


def test_share_of_voice_counts_every_target_even_when_filtered(db) -> None:
    con, posts = db
    for i in range(3):
        posts.add(NOW - timedelta(hours=i + 1), "Elon Musk", {"musk": 0.0})
    posts.add(NOW - timedelta(hours=5), "Sam Altman and Elon Musk", {"altman": 0.0, "musk": 0.0})
    shares = {t["target_id"]: t["share_of_voice"] for t in summary.compute(con, since="24h", now=NOW)["targets"]}
    assert shares == {"musk": 0.8, "altman": 0.2}
    [altman] = summary.compute(con, since="24h", target="altman", now=NOW)["targets"]
    assert altman["share_of_voice"] == 0.2
    out = _render(summary.compute(con, since="24h", now=NOW))
    assert "Mood and share of voice" in out and "80%" in out


def test_top_hashtags_and_terms_per_target(db) -> None:
    con, posts = db
    posts.add(NOW - timedelta(hours=1), "Elon Musk launches rockets #SpaceX #Mars https://t.co/x", {"musk": 0.1})
    posts.add(NOW - timedelta(hours=2), "Musk and his rockets again #spacex @someone", {"musk": 0.1})
    posts.add(NOW - timedelta(hours=3), "Sam Altman talks [bold]compute[/bold] #AI", {"altman": 0.1})
    words = summary.compute(con, since="24h", now=NOW)["words"]
    assert words["musk"]["hashtags"] == [{"hashtag": "spacex", "posts": 2}, {"hashtag": "mars", "posts": 1}]
    assert words["musk"]["terms"][0] == {"term": "rockets", "posts": 2}
    terms = {w["term"] for w in words["musk"]["terms"]}
    assert not terms & {"elon", "musk", "the", "and", "https", "someone", "spacex"}  # name, stopwords, links, tags
    out = _render(summary.compute(con, since="24h", now=NOW))
    assert "#spacex 2" in out and "rockets 2" in out


def test_author_filter_and_view(db) -> None:
    con, posts = db
    posts.add(NOW - timedelta(hours=1), "Elon Musk [red]rocks[/red]", {"musk": 0.5}, author="Fan\x1b[31m")
    posts.add(NOW - timedelta(hours=2), "Sam Altman", {"altman": -0.5}, author="fan\x1b[31m")
    posts.add(NOW - timedelta(hours=3), "Elon Musk", {"musk": -0.9}, author="other")
    data = summary.compute(con, since="24h", author="@FAN\x1b[31m", now=NOW)
    assert sorted(t["target_id"] for t in data["targets"]) == ["altman", "musk"]
    assert data["author"]["posts"] == 2 and data["author"]["handles"] == ["Fan\x1b[31m", "fan\x1b[31m"]
    assert data["author"]["mean_sentiment"] == 0.0
    out = _render(data)
    assert "Author @Fan\\x1b[31m, @fan\\x1b[31m on x: 2 posts" in out and "\x1b[31m" not in out.replace("\\x1b", "")
    assert "[red]rocks[/red]" in out


def test_the_same_figures_are_views(db) -> None:
    con, posts = db
    posts.add(datetime(2025, 1, 1, 10), "Elon Musk #Tesla rockets", {"musk": 0.5}, stance="favor", author="a")
    posts.add(datetime(2025, 1, 1, 11), "Elon Musk #tesla", {"musk": -0.1}, stance="against", author="a")
    posts.add(datetime(2025, 1, 1, 12), "Sam Altman", {"altman": None}, author="b")
    mood = con.execute("SELECT target_id, posts, scored, mean_sentiment, favor, against FROM v_mood_daily "
                       "ORDER BY target_id").fetchall()
    assert mood == [("altman", 1, 0, None, 0, 0), ("musk", 2, 2, 0.2, 1, 1)]
    share = con.execute("SELECT target_id, posts, all_mentions, share FROM v_share_of_voice ORDER BY 1").fetchall()
    assert [(t, n, a, round(float(s), 4)) for t, n, a, s in share] == [("altman", 1, 3, 0.3333),
                                                                       ("musk", 2, 3, 0.6667)]
    assert con.execute("SELECT target_id, hashtag, posts FROM v_top_hashtags").fetchall() == [("musk", "tesla", 2)]
    assert ("musk", "rockets", 1) in con.execute("SELECT target_id, term, posts FROM v_top_terms").fetchall()
    assert con.execute("SELECT author_handle, target_id, posts FROM v_author_targets ORDER BY 1, 2").fetchall() == [
        ("a", "musk", 2), ("b", "altman", 1)]


# --- status (#15.15) --------------------------------------------------------------------------


def test_status_counts_new_posts_by_when_they_were_stored(db, data_dir: Path) -> None:
    """A Pushshift dump's collected_at is its 2016 retrieval time: posts imported an hour ago count as
    stored an hour ago (the import's time), whatever their own dates say."""
    from monitor import status

    con, posts = db
    con.execute("INSERT INTO imports (import_id, path, started_at, status) VALUES (1, 'rc.zst', ?, 'complete')",
                [NOW - timedelta(minutes=30)])
    for i in range(6):
        posts.add(datetime(2010, 1, 1) + timedelta(days=i), "Elon Musk", {"musk": 0.0}, import_id=1,
                  collected_at=datetime(2016, 5, 1))
    con.close()
    data = status.compute(Store(data_dir), data_dir, now=NOW)
    assert data["posts_last_hour"] == 6 and data["posts_stored_24h"] == 6 and data["posts_per_hour"] == 0.2
    assert data["posts_newest_created_at"].startswith("2010-01-06") and data["generated_at"].endswith("+00:00")
    console = Console(width=80, record=True, file=io.StringIO())
    status.render(data, console)
    out = console.export_text()
    assert "by when they were stored here" in out and "6 in the last hour" in out
    json.dumps(data)  # plain data


def test_status_lists_the_imports_under_way_and_of_the_last_week(db, data_dir: Path) -> None:
    """A long import (the learned analyzer: ~20 minutes for 100,000 posts) could not be followed from
    another terminal: `monitor status` said nothing of imports. Now it lists those under way (however
    old) and those of the last week, newest first; a file's name is text, never markup."""
    from monitor import status

    con, _posts = db
    rows = [(1, "/dumps/old.zst", "complete", NOW - timedelta(days=9), timedelta(minutes=5), 900, 0),
            (2, "/dumps/[red]big.jsonl", "running", NOW - timedelta(minutes=12), None, 40_000, 3),
            (3, "/dumps/week.zip!a/b.jsonl", "partial", NOW - timedelta(days=2), timedelta(seconds=95), 120, 0),
            (4, "/dumps/stale.jsonl", "running", NOW - timedelta(days=30), None, 10, 0)]
    for import_id, path, state, started, took, records, errors in rows:
        con.execute("INSERT INTO imports (import_id, path, started_at, finished_at, status, records, posts_new, "
                    "errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [import_id, path, started, started + took if took else None, state, records, records, errors])
    con.close()
    data = status.compute(Store(data_dir), data_dir, now=NOW)
    assert [(i["path"], i["status"]) for i in data["imports"]] == [
        ("/dumps/[red]big.jsonl", "running"), ("/dumps/week.zip!a/b.jsonl", "partial"),
        ("/dumps/stale.jsonl", "running")]
    console = Console(width=100, record=True, file=io.StringIO())
    status.render(data, console)
    lines = console.export_text().splitlines()
    [big] = [line for line in lines if "[red]big.jsonl" in line]
    assert "running" in big and "40,000" in big and "0:12:00 so far" in big
    [week] = [line for line in lines if "week.zip" in line]
    assert "partial" in week and "0:01:35" in week
    assert not any("old.zst" in line for line in lines)
    json.dumps(data)


# --- the command (#15.9) -----------------------------------------------------------------------


def test_summary_command_refuses_what_would_silently_show_nothing(db, cli) -> None:
    con, posts = db
    posts.add(datetime(2016, 1, 1), "Elon Musk", {"musk": 0.1})
    posts.add(datetime(2016, 1, 2), "Sam Altman", {"altman": 0.1}, platform="reddit")
    con.close()  # the command opens the file itself
    for args, expected in ((["--since", "99999999d"], "before the year 1: use --since all"),
                           (["--platform", "twitter"], "platforms stored: reddit, x"),
                           (["--target", "nosuch"], "configured: stargate"),
                           (["--author", "nobody"], "no posts by author @nobody"),
                           (["--since", "2016-02-01", "--until", "2016-01-01"], "--until must be later"),
                           (["--until", "someday"], "not understood"),
                           # the whole history up to a time before its first post: not "ends before it starts"
                           (["--until", "2015-06-01"], "nothing is stored before --until (2015-06-01 00:00): "
                                                       "the first post is of 2016-01-01 00:00"),
                           # no --until given: not "--until must be later"
                           (["--since", "2099-01-01"], "--since (2099-01-01 00:00) is in the future")):
        result = cli("summary", *args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output and "OverflowError" not in result.output
    both = json.loads(cli("summary", "--json", "--target", "musk", "--target", "altman").output)
    assert sorted(t["target_id"] for t in both["targets"]) == ["altman", "musk"]
    window = json.loads(cli("summary", "--json", "--since", "2016-01-01", "--until", "2016-01-02").output)
    assert [t["target_id"] for t in window["targets"]] == ["musk"] and window["window"]["end"].endswith("+00:00")


def test_status_renders_a_source_row_with_zoned_times(db, data_dir: Path) -> None:
    from monitor import status

    con, _ = db
    con.execute("INSERT INTO runs (run_id, source, query, started_at, coverage) VALUES (1, 'hackernews', 'q', ?, "
                "'complete')", [NOW - timedelta(minutes=5)])
    con.close()
    data = status.compute(Store(data_dir), data_dir, now=NOW)
    assert data["sources"][0]["last_run"] == "2025-03-01T11:55:00+00:00"
    console = Console(width=80, record=True, file=io.StringIO())
    status.render(data, console)
    [row] = [line for line in console.export_text().splitlines() if line.startswith("│ hackernews")]
    assert "5 min ago" in row


def test_the_daemons_spikes_keep_their_naive_times(db) -> None:
    """The daemon matches spikes it already reported on their "start" as it stored them (naive UTC)."""
    con, posts = db
    for hour in range(48):
        posts.add(NOW - timedelta(hours=48 - hour), "Elon Musk", {"musk": 0.0})
    for k in range(20):
        posts.add(NOW - timedelta(minutes=50 - k), "Elon Musk!", {"musk": 0.0})
    [spike] = summary.recent_spikes(con, NOW)
    assert spike["start"] == "2025-03-01T11:00:00" and spike["end"] == "2025-03-01T12:00:00"

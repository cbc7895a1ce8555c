"""`monitor status`: is the daemon running, how each source is doing, and how big things are."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.alerts import alert_status, render_alert_status
from monitor.store import Store, StoreError, lake_read
from monitor.store.daemon_state import read_status, running_pid
from monitor.summary import SPIKE_FACTOR, spike_ratio, spike_when
from monitor.terminal import ago, clock, literal

IMPORTS_SHOWN = 8  # the newest imports `monitor status` lists (the imports table has them all)


def _iso(value: Any) -> Any:
    """A time for JSON: ISO 8601 with its zone. The database stores naive UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def compute(store: Store, data_dir: Path, now: datetime | None = None,
            sentiment_stamp: tuple[str, str] | None = None,
            stance_stamp: tuple[str, str] | None = None) -> dict[str, Any]:
    """The status as a dict (``--json``). ``sentiment_stamp`` and ``stance_stamp``: the (scorer,
    version) the configured analyzer writes on sentiment rows and on zero-shot stance rows, to tell
    which stored scores an earlier one made."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    pid = running_pid(data_dir)
    daemon_status = read_status(data_dir)
    jobs = daemon_status.get("jobs", {})
    batches, spool_bytes = store.spool_size()
    db_bytes = sum(p.stat().st_size for p in (store.path, store.wal_path)
                   if p.exists())
    result: dict[str, Any] = {
        "generated_at": _iso(now),
        "daemon": {"running": pid is not None, "pid": pid, "status_updated_at": daemon_status.get("updated_at"),
                   "config_changed": jobs.get("config") if pid is not None else None},
        "database": {"path": str(store.path), "bytes": db_bytes},
        "spool": {"batches": batches, "bytes": spool_bytes},
        "sources": [], "posts_per_hour": None, "posts_last_hour": None, "gaps": [],
    }
    try:
        with store.read() as con:
            figures = _read_figures(con, now, stance_stamp[0] if stance_stamp else None)
    except StoreError as exc:
        result["error"] = str(exc)
        return result
    for source, last_run, coverage, error, new_24h, problems_24h, last_ok in figures["runs"]:
        job = jobs.get(source, {})
        result["sources"].append({
            "source": source, "last_run": _iso(last_run), "result": coverage,
            "last_error": figures["last_errors"].get(source), "current_error": error, "last_complete": _iso(last_ok),
            "posts_new_24h": int(new_24h or 0), "incomplete_runs_24h": problems_24h, "next_run": job.get("next_run"),
        })
    day, hour, newest = figures["stored"]
    result["posts_stored_24h"] = day
    result["posts_per_hour"] = round(day / 24, 1)
    result["posts_last_hour"] = hour
    result["posts_newest_created_at"] = _iso(newest)
    result["posts_counted_by"] = "stored_at: the start of the import or collector run that stored each post"
    result["gaps"] = [{"source": s, "hours_7d": n, "first": _iso(a), "last": _iso(b)} for s, n, a, b in figures["gaps"]]
    result["recent_job_problems"] = [{"at": _iso(a), "kind": k, "job": j, "detail": d}
                                     for a, k, j, d in figures["events"]]
    result["spikes_24h"] = [{"target_id": tid, "name": name, **detail} for tid, name, detail in figures["spikes"]]
    result["voices_24h"] = [{"speaker_id": tid, "speaker": name, **detail} for tid, name, detail in figures["voices"]]
    result["alerts"] = figures["alerts"]
    result["lake"] = figures["lake"]
    result["imports"] = [{"path": path, "format": fmt, "status": state, "started_at": _iso(started),
                          "finished_at": _iso(finished), "records": records, "posts_new": new, "posts_seen": seen,
                          "errors": errors, "message": message}
                         for path, fmt, state, started, finished, records, new, seen, errors, message
                         in figures["imports"]]
    result["sentiment_analyzer"], result["sentiment_scorers"] = _versions(sentiment_stamp, figures["scorers"], "posts")
    result["zero_shot_stance"], result["zero_shot_stance_scorers"] = _versions(stance_stamp, figures["stance_scorers"],
                                                                               "scores")
    return result


def _versions(stamp: tuple[str, str] | None, rows: list[tuple[str, str, int]],
              counted: str) -> tuple[dict[str, str] | None, list[dict[str, Any]]]:
    """The configured (scorer, version) and the stored ones, each with its count and whether it is
    the configured one (None when no stamp is given)."""
    configured = None if stamp is None else {"scorer": stamp[0], "version": stamp[1]}
    return configured, [{"scorer": scorer, "version": version, counted: n,
                         "current": None if stamp is None else (scorer, version) == tuple(stamp)}
                        for scorer, version, n in rows]


def _read_figures(con: duckdb.DuckDBPyConnection, now: datetime, zero_shot_scorer: str | None) -> dict[str, Any]:
    """The rows behind the status, read in one short visit: runs per source, new posts, gaps, the
    daemon's recent problems, spikes and voices, alert deliveries, the versions of stored scores."""
    day_ago = now - timedelta(hours=24)
    runs = con.execute("""
        SELECT source, max(started_at) AS last_run, arg_max(coverage, started_at),
               arg_max(error, started_at), sum(posts_new) FILTER (WHERE started_at >= ?),
               count(*) FILTER (WHERE started_at >= ? AND coverage <> 'complete'),
               max(started_at) FILTER (WHERE coverage = 'complete')
        FROM runs GROUP BY source ORDER BY source
    """, [day_ago, day_ago]).fetchall()
    last_errors = dict(con.execute("""
        SELECT source, arg_max(error, started_at) FROM runs WHERE error IS NOT NULL GROUP BY source
    """).fetchall())
    # By when the post was stored here (its import's or collector run's start), not collected_at:
    # for an archive that is the archive's own retrieval time (2016 for a Pushshift dump).
    stored = con.execute("""
        SELECT count(*) FILTER (WHERE stored_at >= ?), count(*) FILTER (WHERE stored_at >= ?),
               max(created_at) FILTER (WHERE stored_at >= ?)
        FROM v_posts_stored
    """, [day_ago, now - timedelta(hours=1), day_ago]).fetchone() or (0, 0, None)
    gaps = con.execute("""
        SELECT source, count(*) AS hours, min(hour), max(hour) FROM v_coverage_gaps
        WHERE hour >= ? GROUP BY source ORDER BY source
    """, [now - timedelta(days=7)]).fetchall()
    events = con.execute("""
        SELECT event_at, kind, job, detail FROM daemon_events
        WHERE kind IN ('job-error', 'job-missed') ORDER BY event_at DESC LIMIT 5
    """).fetchall()
    # The imports under way (their row says so from the first batch; one killed with SIGKILL says so for
    # good) and those of the last week, newest first.
    imports = con.execute("""
        SELECT path, format, status, started_at, finished_at, records, posts_new, posts_seen, errors, message
        FROM imports WHERE status = 'running' OR started_at >= ?
        ORDER BY started_at DESC, import_id DESC LIMIT ?
    """, [now - timedelta(days=7), IMPORTS_SHOWN]).fetchall()
    return {"runs": runs, "last_errors": last_errors, "stored": stored, "gaps": gaps, "events": events,
            "imports": imports,
            "spikes": _target_events(con, "spike", day_ago),
            "voices": _target_events(con, "voice", day_ago, then_by="$.created_at"),
            "alerts": alert_status(con, now), "lake": _lake(con),
            # Which analyzer (and version) scored the stored posts: figures mixing two move at the switch
            # (0.09 s over ten million posts).
            "scorers": con.execute("SELECT scorer, scorer_version, count(*) FROM post_sentiment WHERE scored "
                                   "GROUP BY ALL ORDER BY count(*) DESC, scorer, scorer_version").fetchall(),
            # The same for the zero-shot stance (its reading can change with the sentiment's unchanged;
            # 0.05-0.15 s over 13 million stance rows).
            "stance_scorers": con.execute(
                "SELECT stance_scorer, stance_scorer_version, count(*) FROM target_scores WHERE stance_scorer = ? "
                "GROUP BY ALL ORDER BY count(*) DESC, stance_scorer_version", [zero_shot_scorer]).fetchall()}


def _lake(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """An attached lake's posts and newest post (as of its last refresh), and whether its views in
    the database are an earlier version's; None without a lake."""
    if not lake_read.attached(con):
        return None
    posts, newest = lake_read.posts_and_newest(con)
    return {"posts": posts, "newest_post": _iso(newest), "views_outdated": lake_read.lake_views_outdated(con)}


def _target_events(con: duckdb.DuckDBPyConnection, kind: str, since: datetime, then_by: str | None = None,
                   limit: int = 10) -> list[tuple[str, str, dict[str, Any]]]:
    """The daemon's newest events of ``kind`` about a target (spikes, voices) since ``since``: (target
    id, its name, the decoded detail), newest first, then by the detail's ``then_by`` JSON path."""
    order = f", json_extract_string(e.detail, '{then_by}') DESC" if then_by else ""
    rows = con.execute(f"""
        SELECT e.job, coalesce(t.name, e.job), e.detail FROM daemon_events e
        LEFT JOIN targets t ON t.target_id = e.job
        WHERE e.kind = ? AND e.event_at >= ?
        ORDER BY e.event_at DESC{order} LIMIT ?
    """, [kind, since, limit]).fetchall()
    return [(job, name, json.loads(detail)) for job, name, detail in rows]


def _print_post_counts(data: dict[str, Any], console: Console) -> None:
    """New posts, counted by when they were stored here (an import or a collector run), not by their
    own dates nor an archive's retrieval time."""
    line = (f"New posts, by when they were stored here (imported or collected): "
            f"{data.get('posts_stored_24h', 0):,} in the last 24 h ({data['posts_per_hour']:,} per hour), "
            f"{data['posts_last_hour']:,} in the last hour")
    if data.get("posts_newest_created_at"):
        line += f"; the newest of them is dated {data['posts_newest_created_at'][:16].replace('T', ' ')} UTC"
    console.print(line + ".", markup=False)


def _print_lake(lake: dict[str, Any] | None, console: Console) -> None:
    if lake:
        console.print(f"Lake attached: {lake['posts']:,} posts (as of its last refresh), newest dated "
                      f"{(lake['newest_post'] or '—')[:16].replace('T', ' ')} UTC"
                      + ("; its views are an earlier version's: run `monitor lake attach --lake PATH` again"
                         if lake["views_outdated"] else "") + "; details: `monitor lake status --lake PATH`",
                      markup=False)


def _posts(n: int) -> str:
    return f"{n:,} post" + ("" if n == 1 else "s")


def _print_stale_scores(data: dict[str, Any], console: Console) -> None:
    """Posts scored by another analyzer or version than the configured one (after an upgrade of the
    tool or a change of analyzer): summaries mix both until they are scored again."""
    stale = [s for s in data.get("sentiment_scorers", []) if s["current"] is False]
    if stale:
        analyzer = data["sentiment_analyzer"]
        current = sum(s["posts"] for s in data["sentiment_scorers"] if s["current"])
        listed = "; ".join(f"{_posts(s['posts'])} by {s['scorer']} {s['version']}" for s in stale)
        console.print(Text(f"Stored scores by another analyzer or version than the configured one "
                           f"({analyzer['scorer']} {analyzer['version']}: {_posts(current)}): {listed}. `monitor "
                           "rescore` scores them again with it; until then, figures over both move where one gave "
                           "way to the other."))
    old_stance = [s for s in data.get("zero_shot_stance_scorers", []) if s["current"] is False]
    if old_stance:
        zero_shot = data["zero_shot_stance"]
        listed = "; ".join(f"{s['scores']:,} (post, target) scores by {s['version']}" for s in old_stance)
        console.print(Text(f"Stored zero-shot stance of an earlier version: {listed} (now {zero_shot['scorer']} "
                           f"{zero_shot['version']}). `monitor rescore` scores them again."))


def render(data: dict[str, Any], console: Console) -> None:
    daemon = data["daemon"]
    state = Text(f"running (pid {daemon['pid']})", style="green") if daemon["running"] else Text("not running",
                                                                                                style="yellow")
    console.print(Text.assemble("Daemon: ", state))
    changed = daemon.get("config_changed")
    if changed:
        console.print(Text.assemble(("! ", "yellow"), literal(changed["path"]), (
            " changed since the daemon started; it goes on with the config it started with until restarted"
            + ("" if changed["loads"] else "; as it is now the file does not load"), "yellow")))
    console.print(f"Database: {data['database']['path']} ({data['database']['bytes'] / 1e6:.1f} MB); "
                  f"spool: {data['spool']['batches']} batches ({data['spool']['bytes'] / 1e6:.1f} MB)", markup=False)
    if "error" in data:
        console.print(Text(data["error"], style="yellow"))
        return
    _print_lake(data.get("lake"), console)
    _print_post_counts(data, console)
    _print_stale_scores(data, console)
    now = datetime.fromisoformat(data["generated_at"]).astimezone(UTC).replace(tzinfo=None)
    table = Table(title="Sources", title_justify="left")
    for col in ("source", "last run", "result", "new (24h)", "next run"):
        table.add_column(col, no_wrap=True, justify="right" if col == "new (24h)" else "left")
    errors: list[Text] = []
    for s in data["sources"]:
        style = "green" if s["result"] == "complete" else "yellow"
        table.add_row(literal(s["source"]), ago(s["last_run"], now), Text(s["result"] or "—", style=style),
                      str(s["posts_new_24h"]), ago(s["next_run"], now) if s["next_run"] else "—")
        if s["last_error"]:
            errors.append(Text.assemble(literal(s["source"], style="bold"), ": ",
                                        literal(s["last_error"], limit=300)))
    console.print(table)
    if errors:  # below the table, whole: a folded column of them made rows ten lines tall
        console.print(Text("Last error of each source (full history in the runs table):"))
        for line in errors:
            console.print(line)
    if data["gaps"]:
        gaps = Table(title="Coverage gaps, last 7 days (hours with a failed, capped or rate-limited run)",
                     title_justify="left")
        for col in ("source", "hours", "first", "last"):
            gaps.add_column(col)
        for g in data["gaps"]:
            gaps.add_row(literal(g["source"]), str(g["hours_7d"]), str(g["first"])[:16], str(g["last"])[:16])
        console.print(gaps)
    _print_imports(data.get("imports", []), console, data["generated_at"], now)
    _print_target_events(data, console)
    if data.get("alerts"):
        render_alert_status(data["alerts"], console)
    for problem in data.get("recent_job_problems", []):
        console.print(literal(f"{problem['at']} {problem['kind']} {problem['job']}: {problem['detail']}",
                              style="yellow"))


def _print_target_events(data: dict[str, Any], console: Console) -> None:
    """The daemon's spikes and targets' voices of the last 24 hours."""
    if data.get("spikes_24h"):
        console.print(Text(f"Spikes in the last 24 h (an hour with ≥{SPIKE_FACTOR:g}x the target's 24 h average):"))
        for spike in data["spikes_24h"]:
            console.print(Text.assemble((f"{spike_when(spike)} UTC ", "bold"), literal(spike["name"]),
                                        f": {spike['posts']} posts, {spike_ratio(spike)}  ",
                                        literal(spike.get("url") or "", style="blue")))
    if data.get("voices_24h"):
        console.print(Text("Targets' own posts about other targets, last 24 h (summary: 'Who says what about whom'):"))
        for voice in data["voices_24h"]:
            console.print(Text.assemble((f"{voice['created_at'][:16].replace('T', ' ')} UTC ", "bold"),
                                        literal(f"{voice['speaker']} on {', '.join(voice['targets'])}"), "  ",
                                        literal(voice.get("url") or voice["post_key"], style="blue")))


IMPORT_STYLES = {"complete": "green", "running": "cyan"}  # partial, failed: yellow


def _print_imports(imports: list[dict[str, Any]], console: Console, generated_at: str, now: datetime) -> None:
    """Imports under way and those of the last week: a long one (the learned analyzer takes ~20 minutes
    for 100,000 posts) can be followed from another terminal."""
    if not imports:
        return
    table = Table(title="Imports (under way, and the last 7 days)", title_justify="left")
    for col in ("file", "started", "status", "records", "new", "bad", "took"):
        table.add_column(col, no_wrap=col != "file", justify="right" if col in ("records", "new", "bad") else "left")
    for row in imports:
        # times with their zone (compute): a running import's time so far ends at the status's own
        spent = datetime.fromisoformat(row["finished_at"] or generated_at) - datetime.fromisoformat(row["started_at"])
        took = clock(spent.total_seconds()) + ("" if row["finished_at"] else " so far")
        table.add_row(literal(Path(row["path"].split("!")[0]).name), ago(row["started_at"], now),
                      Text(row["status"], style=IMPORT_STYLES.get(row["status"], "yellow")),
                      f"{row['records'] or 0:,}", f"{row['posts_new'] or 0:,}", f"{row['errors'] or 0:,}", took)
    console.print(table)

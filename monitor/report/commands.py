"""The click commands `monitor report` and `monitor serve`.

They take the application context the `monitor` group puts in ``ctx.obj`` (anything with ``store``
and ``config``), so the group adds them with ``main.add_command(report_command)`` and
``main.add_command(serve_command)``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any, Protocol

import click

from monitor.config import Config, ConfigError
from monitor.report.data import Filters, parse_time, utcnow, visible
from monitor.store import Store, StoreError
from monitor.store.schema import sql_string


class AppLike(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def config(self) -> Config: ...


log = logging.getLogger(__name__)
REPORT_MEMORY_LIMIT = "1GB"  # DuckDB's memory while the report's figures are computed


def _compute_capped(store: Store, filters: Filters) -> Any:
    """The report's figures, with DuckDB's memory capped and a folder to spill to: the window's
    mentions are gathered into one table (10M posts: 7.1 GB of memory uncapped and 30 s; capped,
    1.2 GB and 67 s). What cannot spill and does not fit under the cap is computed again uncapped.
    The connection is closed before the (slower) rendering."""
    import duckdb

    from monitor.report.data import compute

    with tempfile.TemporaryDirectory(prefix="monitor-report-") as spill, store.read() as con:
        con.execute(f"SET temp_directory = {sql_string(spill)}")
        con.execute(f"SET memory_limit = '{REPORT_MEMORY_LIMIT}'")
        try:
            return compute(con, filters)
        except duckdb.OutOfMemoryException as exc:
            log.info("the report needed more than %s of DuckDB memory, computed again uncapped: %s",
                     REPORT_MEMORY_LIMIT, exc)
            con.execute("RESET memory_limit")
            return compute(con, filters)


def _check_targets(app: AppLike, targets: tuple[str, ...]) -> None:
    for target in targets:
        try:
            app.config.target(target)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--target") from exc


def _filters(since: str, until: str | None, targets: tuple[str, ...], platforms: tuple[str, ...]) -> Filters:
    now = utcnow()
    try:
        start = parse_time(since, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    try:
        end = parse_time(until, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--until") from exc
    if start is not None and end is not None and end <= start:
        from monitor.summary import backwards_window

        raise click.BadParameter(backwards_window(start, end), param_hint="--since/--until")
    return Filters(since=start, until=end, targets=targets, platforms=platforms)


@click.command("report")
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False), default=Path("report.html"),
              show_default=True, help="The HTML file to write (self-contained: opens from disk, fetches nothing).")
@click.option("--png", "png_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Also write each chart as a PNG into this folder (for slides and e-mail).")
@click.option("--since", default="all", show_default=True, help="Start: all, 24h, 7d, 2w, or a date/time (UTC).")
@click.option("--until", default=None,
              help="End (exclusive): a date/time (UTC) or a span back from now; default: no end.")
@click.option("--target", "targets", multiple=True, help="Only this target id (repeatable).")
@click.option("--platform", "platforms", multiple=True, help="Only this platform (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_obj
def report_command(app: AppLike, out: Path, png_dir: Path | None, since: str, until: str | None,
                   targets: tuple[str, ...], platforms: tuple[str, ...], as_json: bool) -> None:
    """Write the report: one HTML file with charts (volume and spikes, mood, stance share, share of
    voice, who says what about whom, co-mentions, sources and gaps, analyzers) and the tables
    behind them; --png writes the charts as PNG too."""
    from monitor.report.html import write_report
    from monitor.report.png import write_pngs

    _check_targets(app, targets)
    filters = _filters(since, until, targets, platforms)
    try:
        report = _compute_capped(app.store, filters)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        charts = write_report(report, out)
        pngs = write_pngs(charts, png_dir) if png_dir else []
    except RuntimeError as exc:  # the 'report' extra is not installed
        raise click.ClickException(str(exc)) from exc
    result: dict[str, Any] = {
        "out": str(out), "bytes": out.stat().st_size, "charts": [c.name for c in charts],
        "pngs": [str(p) for p in pngs], "mentions": report.mentions, "posts_total": report.posts_total,
        "window": {"start": report.start, "end": report.end, "bucket": report.bucket}, "filters": report.filters,
    }
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(visible(f"wrote {out} ({len(charts)} charts, {result['bytes'] / 1e6:.1f} MB, "
                       f"{report.mentions:,} mentions)"))
    if pngs:
        click.echo(visible(f"wrote {len(pngs)} PNG files to {png_dir}"))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback needs --token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="MONITOR_SERVE_TOKEN", default=None,
              help="Required on every request when set (?token= on the page address); env MONITOR_SERVE_TOKEN.")
@click.option("--refresh", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds between the page's refreshes.")
@click.option("--query-seconds", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="A request's queries are stopped after this long.")
@click.pass_obj
def serve_command(app: AppLike, host: str, port: int, token: str | None, refresh: int, query_seconds: float) -> None:
    """A read-only dashboard in the browser: the report's charts with filters, live refresh while
    the daemon writes, and a click on the volume chart lists the posts behind it. Each request
    opens the database briefly and closes it."""
    from monitor.report.serve import BindRefused, make_server

    try:
        server = make_server(app.store, host, port, token=token, refresh=refresh, query_seconds=query_seconds)
    except BindRefused as exc:
        raise click.UsageError(str(exc)) from exc
    except RuntimeError as exc:  # the 'report' extra is not installed
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    click.echo(f"dashboard on http://{shown}:{bound_port}/" + ("?token=…" if token else "")
               + f" (read-only, refresh {refresh} s); Ctrl-C stops it", err=True)
    if not app.store.path.exists():
        click.echo(f"no database yet at {app.store.path}: the page shows data once one exists", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

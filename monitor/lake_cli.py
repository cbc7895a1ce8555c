"""`monitor lake ...`: the distributed import into a Parquet lake and the lake's upkeep (issue #18).

- ``monitor lake import PATHS --lake DIR [--cluster tcp://host:8786 | local:N]``
- ``monitor lake attach --lake DIR``: store the lake's views (``lake_*``, ``all_*``) in the database
- ``monitor lake status --lake DIR``, ``monitor lake compact --lake DIR``, ``monitor lake detach``

Reads the global context the main CLI sets (``ctx.obj``: ``.config``, ``.store``, ``.data_dir``,
``.console``, ``.err``). Register with ``main.add_command(lake_group)``; ``run_lake_import`` is
what ``monitor import --cluster/--lake`` calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from monitor.terminal import literal

LAKE_OPTION_HELP = "The lake: a directory (or an s3:// or gs:// URL, untested) for the Parquet parts."
CLUSTER_OPTION_HELP = ("A Dask scheduler (tcp://host:8786), or local:N for N worker processes on this machine "
                       "(default: the config's [distributed] scheduler, local:2). Needs pip install '.[distributed]'.")


def _app() -> Any:
    obj = click.get_current_context().obj
    if obj is None:
        raise click.ClickException("internal error: no application context")
    return obj


def run_lake_import(app: Any, paths: Sequence[Path], lake_url: str, cluster: str = "local:2", fmt: str = "auto",
                    force: bool = False, analyzer: str | None = None, split_mib: float = 64,
                    options: dict[str, Any] | None = None) -> Any:
    """Run the import on a cluster into the lake, with a progress bar; returns the LakeImport."""
    from monitor.ingest.distributed import DistributedImport, DistributedUnavailable, connect
    from monitor.store.lake import Lake

    lake = Lake(lake_url)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=app.err, transient=True)
    bar = progress.add_task("tasks", total=None)

    def advance(result: Any, done: int, total: int) -> None:
        state = "skipped (done before)" if result.skipped else f"{result.kept} of {result.records} posts kept"
        if result.error:
            state = "failed"
            app.err.print(Text.assemble((f"task {Path(result.path).name} [{result.start}:{result.end}] failed: ",
                                         "red"), literal(result.error)))
        progress.update(bar, completed=done, total=total,
                        description=f"{Path(result.path).name} [{result.start}:{result.end}] {state}")

    try:
        with connect(cluster) as client, progress:
            job = DistributedImport(client, app.config, lake, analyzer=analyzer,
                                    models_dir=str(Path(app.data_dir) / "models"), options=options or {},
                                    split_bytes=int(split_mib * (1 << 20)), force=force, progress=advance)
            return job.run(list(paths), fmt)
    except DistributedUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


# A run over a folder of many files shows this many inputs (those with a refusal or a failed task
# first) and a line for the rest; --json has every one.
LAKE_ROWS_SHOWN = 20


def print_lake_import(app: Any, done: Any) -> None:
    table = Table(title=f"Lake import: {len(done.results)} tasks in {done.seconds:.1f} s", title_justify="left")
    for column in ("input", "tasks", "records", "kept", "errors", "task s", "failed"):
        # A long path wraps instead of being cut to "/tmp/data/ma…" (every input read the same).
        table.add_column(column, justify="left" if column == "input" else "right",
                         overflow="fold" if column == "input" else "ellipsis")
    by_path: dict[str, list[Any]] = {}
    for r in done.results:
        by_path.setdefault(r.path, []).append(r)
    rows = []
    for entry in done.entries:
        if entry.refused:
            refused = Text(entry.refused, style="red")
            rows.append((True, [literal(_shown_path(entry.name)), "0", "", "", "", "", refused]))
            continue
        mine = by_path.get(entry.tasks[0].path, [])
        failed = sum(1 for r in mine if r.error)
        rows.append((failed > 0, [literal(_shown_path(entry.name)), str(len(entry.tasks)),
                                  str(sum(r.records for r in mine)), str(sum(r.kept for r in mine)),
                                  str(sum(r.errors for r in mine)), f"{sum(r.seconds for r in mine):.1f}",
                                  Text(str(failed), style="red" if failed else "")]))
    shown = sorted(rows, key=lambda row: not row[0])[:LAKE_ROWS_SHOWN] if len(rows) > LAKE_ROWS_SHOWN else rows
    for _, cells in shown:
        table.add_row(*cells)
    if len(rows) > len(shown):
        table.add_row(Text(f"… {len(rows) - len(shown)} more (--json)", style="dim"))
    if len(rows) > 1:
        failed = sum(1 for r in done.results if r.error)
        table.add_row(Text(f"all {len(rows)} inputs", style="bold"), str(len(done.results)),
                      str(sum(r.records for r in done.results)), str(sum(r.kept for r in done.results)),
                      str(sum(r.errors for r in done.results)), f"{sum(r.seconds for r in done.results):.1f}",
                      Text(str(failed), style="red" if failed else ""))
    app.console.print(table)


def _shown_path(name: str) -> str:
    """An input as the user named it: relative to the current folder when it is under it."""
    try:
        return str(Path(name).relative_to(Path.cwd()))
    except ValueError:
        return name


@click.group("lake")
def lake_group() -> None:
    """A Parquet lake of posts and scores, filled by a distributed import (Dask), read by DuckDB,
    Spark and Trino."""


@lake_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--lake", "lake_url", required=True, help=LAKE_OPTION_HELP)
@click.option("--cluster", default=None, help=CLUSTER_OPTION_HELP)
@click.option("--format", "fmt", default="auto", show_default=True, help="Archive format; 'auto' detects it.")
@click.option("--split-mib", default=64.0, show_default=True,
              help="Split JSON Lines files (and multi-frame .zst) into tasks of about this many MiB.")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Generic JSONL/CSV: read FIELD (id, text, created_at, author, platform, url, lang...) from COLUMN.")
@click.option("--platform", default="generic", show_default=True,
              help="Generic formats: platform when no column gives it.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the files.")
@click.option("--force", is_flag=True, help="Run tasks an earlier run finished (their parts are replaced).")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None,
              help="Analyzer (default: the config's analysis.analyzer).")
@click.option("--attach/--no-attach", default=True, show_default=True,
              help="Then store the lake's views in the database (as `monitor lake attach`).")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks' results as JSON.")
def lake_import(paths: tuple[Path, ...], lake_url: str, cluster: str | None, fmt: str, split_mib: float,
                maps: tuple[str, ...], platform: str, encoding: str, force: bool, analyzer: str | None, attach: bool,
                as_json: bool) -> None:
    """Import archives on a Dask cluster into a Parquet lake (each task writes its own parts)."""
    app = _app()
    done = run_lake_import(app, paths, lake_url, cluster or app.config.distributed.scheduler, fmt, force, analyzer,
                           split_mib, read_options(maps, platform, encoding))
    if attach and done.results:
        attach_after_import(app, lake_url)
    if as_json:
        click.echo(json.dumps([vars(r) for r in done.results], indent=2, default=str))
    else:
        print_lake_import(app, done)
    if any(e.refused for e in done.entries) or any(r.error for r in done.results):
        raise SystemExit(1)


def read_options(maps: tuple[str, ...], platform: str, encoding: str) -> dict[str, Any]:
    """The readers' options from ``--map``, ``--platform`` and ``--encoding`` (as `monitor import` takes
    them), refused with a usage error before anything runs."""
    from monitor.ingest.imports import check_encoding
    from monitor.sources.base import parse_field_map

    try:
        check_encoding(encoding)
        return {"mapping": parse_field_map(maps), "platform": platform, "encoding": encoding}
    except ValueError as exc:  # a malformed --map, or an unknown encoding (ImportOptionError)
        raise click.UsageError(str(exc)) from exc


def attach_after_import(app: Any, lake_url: str) -> None:
    """Store the lake's views in the database; a database another writer holds is said, not fatal."""
    from monitor.store import StoreError
    from monitor.store.lake import Lake, attach_to_store

    try:
        app.store.ensure()
        attach_to_store(app.store, Lake(lake_url))
    except StoreError as exc:
        app.err.print(Text.assemble(("views not stored now: ", "yellow"), literal(str(exc)),
                                    " (run `monitor lake attach` later)"))


@lake_group.command("attach")
@click.option("--lake", "lake_url", required=True, help=LAKE_OPTION_HELP)
def lake_attach(lake_url: str) -> None:
    """Store the lake's views in the database: lake_posts, lake_mentions, lake_post_sentiment,
    lake_target_scores (deduped), lake_daily_target, and all_* (local rows and the lake's)."""
    from monitor.store.lake import Lake, LakeError, attach_to_store

    app = _app()
    app.store.ensure()
    try:
        attach_to_store(app.store, Lake(lake_url))
    except LakeError as exc:
        raise click.ClickException(str(exc)) from exc
    app.console.print(Text.assemble("attached ", literal(Lake(lake_url).root), " to ", literal(str(app.store.path))))


@lake_group.command("detach")
def lake_detach() -> None:
    """Drop the lake's views from the database (the lake itself is not touched)."""
    from monitor.store.lake import detach_from_store

    detach_from_store(_app().store)


@lake_group.command("status")
@click.option("--lake", "lake_url", required=True, help=LAKE_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def lake_status_cmd(lake_url: str, as_json: bool) -> None:
    """Parts and bytes per table, finished tasks, and whether the daily rollup is current."""
    from monitor.store.lake import Lake, lake_status

    status = lake_status(Lake(lake_url))
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    app = _app()
    table = Table(title=Text.assemble("Lake ", literal(status["lake"])), title_justify="left")
    for column in ("table", "parts", "MiB"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, figures in status["tables"].items():
        table.add_row(name, str(figures["parts"]), f"{figures['bytes'] / (1 << 20):.1f}")
    app.console.print(table)
    app.console.print(f"{status['tasks']} tasks finished; rollup {'current' if status['rollup_current'] else 'stale'}")


@lake_group.command("compact")
@click.option("--lake", "lake_url", required=True, help=LAKE_OPTION_HELP)
@click.option("--small-mib", default=32, show_default=True, help="Merge the parts smaller than this.")
def lake_compact(lake_url: str, small_mib: int) -> None:
    """Merge each partition's small parts into one (the rows stay the same), then rebuild the rollup."""
    from monitor.store.lake import Lake, compact, refresh_rollup

    lake = Lake(lake_url)
    done = compact(lake, small_mib << 20)
    rollup = refresh_rollup(lake)
    _app().console.print(f"merged {done['parts_merged']} parts into {done['parts_written']}; rollup: {rollup} rows")

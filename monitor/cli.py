"""The `monitor` command line: a thin layer over the library."""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import json
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import click
import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import __version__, json_text
from monitor.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    DEFAULT_DATA_DIR,
    ISO_639_1,
    PACKAGED_CONFIG,
    Config,
    ConfigError,
    find_config,
    initial_config_text,
    is_placeholder_contact,
    user_config_path,
    valid_contact,
)
from monitor.progress import posts_progress
from monitor.store import Store, StoreError
from monitor.terminal import literal, safe

log = logging.getLogger("monitor")


@dataclass
class AppContext:
    config_path: Path | None
    data_dir: Path
    verbose: int = 0
    debug: bool = False
    console: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))  # one line stays one line

    @cached_property
    def config(self) -> Config:
        # Imported here: the sources it checks the config against (httpx among them) cost a read-only
        # command such as `summary` ~45 ms of start-up it does not need.
        from monitor.ingest import load_checked_config

        try:
            return load_checked_config(self.config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def store(self) -> Store:
        return Store(self.data_dir)

    def tidy_store(self) -> None:
        """After a one-shot command that wrote: merge the small row groups its writes left (and fold a
        WAL another writer left). If someone holds the file, the next maintenance does it."""
        try:
            self.store.checkpoint(timeout=5.0)
        except StoreError as exc:
            logging.getLogger(__name__).info("row groups not merged now: %s", exc)


pass_app = click.make_pass_decorator(AppContext)

ANALYZER_OPTION_HELP = ("Analyzer: 'learned' (our fine-tuned model, the most accurate) or 'vader' (VADER and the "
                        "stance rules: exact and fast). Default: the config's analysis.analyzer (learned).")


class _BriefFormatter(logging.Formatter):
    """Log lines without tracebacks: a logged exception adds its message on the same line. The
    command's own error says what to do; --debug (or -vv) shows the tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.getMessage()}: {safe(exc, one_line=True, limit=300)}"
            record.args, record.exc_info, record.exc_text = None, None, None
        return super().format(record)


def _setup_logging(verbose: int, debug: bool = False) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not debug and verbose < 2:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_BriefFormatter(handler.formatter._fmt if handler.formatter else None))


# What to do about an operating-system failure, by errno. DuckDB reports these as text only, so the
# text is matched too.
_DATA_DIR_HINT = "choose a writable folder with --data-dir (or MONITOR_DATA_DIR)"
_OS_ADVICE = {
    errno.EROFS: ("the file system is read-only", _DATA_DIR_HINT),
    errno.EACCES: ("permission denied", _DATA_DIR_HINT + ", or fix the folder's permissions"),
    errno.EPERM: ("operation not permitted", _DATA_DIR_HINT + ", or fix the folder's permissions"),
    errno.ENOSPC: ("the disk is full", "free some space (or use a folder on another disk), then run the command "
                                       "again (an import skips what is already stored)"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or move --data-dir, then run the command again"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.ENOENT: ("no such file or folder", "check the path"),
}
_OS_TEXT = {"read-only file system": errno.EROFS, "permission denied": errno.EACCES,
            "no space left": errno.ENOSPC, "disk quota": errno.EDQUOT, "not a directory": errno.ENOTDIR}
# Failures of the environment or the input, not bugs: one line, no traceback (unless --debug).
EXPECTED_FAILURES = (ConfigError, StoreError, OSError, duckdb.Error, UnicodeError)


def _os_errno(exc: BaseException) -> int | None:
    """The errno behind ``exc``, from it or its causes, or from their text (DuckDB's IO errors)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _OS_ADVICE:
            return seen.errno
        lowered = str(seen).lower()
        for text, number in _OS_TEXT.items():
            if text in lowered:
                return number
        seen = seen.__cause__ or seen.__context__
    return None


def describe_failure(exc: BaseException) -> str:
    """One line for the user: what happened and what to do (ConfigError keeps its per-key lines)."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        what = f"{exc.filename}: {exc.strerror or exc}"
    else:
        what = str(exc) or type(exc).__name__
        # DuckDB wraps the cause ("Database ... invalidated ... Original error: Could not write ..."): say the cause.
        what = what.rsplit("Original error: ", 1)[-1]
    what = safe(what, one_line=True, limit=300)
    number = _os_errno(exc)
    if number is None:
        # A StoreError is written for the user already; anything else may need the details.
        return what if isinstance(exc, StoreError) else f"{what} (--debug shows the traceback)"
    reason, advice = _OS_ADVICE[number]
    said = [reason, *(text for text, n in _OS_TEXT.items() if n == number)]
    if not any(words in what.lower() for words in said):
        what = f"{what} ({reason})"
    return f"{what}. What to do: {advice}."


SUBCOMMAND_ARGS = "monitor.subcommand_args"


class MonitorGroup(click.Group):
    """The `monitor` group: a failure of the environment (read-only folder, full disk, a broken
    config, a damaged database) is one clear line and exit status 1 for every command, here rather
    than per command; ``--debug`` shows the traceback instead."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                             list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[SUBCOMMAND_ARGS] = rest  # for the group callback: is it `monitor CMD --help`?
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED_FAILURES as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(describe_failure(exc)) from exc


# Commands that work without a config (init writes one).
_NO_CONFIG_COMMANDS = {"init"}
# Commands that warn while the User-Agent contact is the placeholder: those that send requests to
# sites, and the status screen (where a daemon's operator looks).
_COLLECTING_COMMANDS = {"collect", "run", "status"}


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help=f"Configuration file (TOML). Default: ${CONFIG_ENV}, else ./{DEFAULT_CONFIG}, else "
                   f"{user_config_path()}, else the default shipped with the package (see `monitor init`).")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="MONITOR_DATA_DIR", default=DEFAULT_DATA_DIR,
              show_default=True, help="Folder for monitor.duckdb, models, spool and logs (env MONITOR_DATA_DIR).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error instead of one line.")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, data_dir: Path, verbose: int, debug: bool) -> None:
    """Follow what people say in public about tracked people, companies and topics.

    \b
    Typical use:
      monitor run --once              import configured archives (and collect), once
      monitor summary --since 7d      who says what, how the mood moves
      monitor sql "SELECT * FROM v_daily_target LIMIT 10"
      monitor import dump.jsonl.zst   add an archive you were given

    Everything is stored in DATA_DIR/monitor.duckdb, which you can also open with the DuckDB CLI
    (duckdb -readonly data/monitor.duckdb).
    """
    _setup_logging(verbose, debug)
    command = ctx.invoked_subcommand
    if command in _NO_CONFIG_COMMANDS:
        ctx.obj = AppContext(config_path, data_dir, verbose, debug)
        return
    # Resolved now: a --config that does not exist is the first thing said, whatever the command.
    ctx.obj = app = AppContext(find_config(config_path), data_dir, verbose, debug)
    if _asks_for_help(ctx):
        return
    app.config  # noqa: B018 - validated now: a broken config is the first thing said, whatever the command
    if command in _COLLECTING_COMMANDS:
        _warn_about_the_config(app)


def _warn_about_the_config(app: AppContext) -> None:
    """Before sending requests: a config nobody edited has no contact for site operators."""
    if app.config.path == PACKAGED_CONFIG:
        app.err.print(Text(f"warning: no config found (--config, ${CONFIG_ENV}, ./{DEFAULT_CONFIG}, "
                           f"{user_config_path()}), so the package's default is used, with a placeholder contact in "
                           "the User-Agent; write your own with `monitor init`", style="yellow"))
    elif is_placeholder_contact(app.config.contact):
        app.err.print(Text(f"warning: contact in {app.config.path} is still the placeholder; set your e-mail or URL "
                           "there (sites see it in the User-Agent), or write a config with `monitor init`",
                           style="yellow"))


def data_value(value: Any) -> Any:
    """A value for CSV or JSON output: times as ISO 8601 with their zone (the database stores naive
    UTC, so a naive time is UTC); anything else unchanged."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat().replace("+00:00", "Z")
    return value


def json_value(value: Any) -> Any:
    """``json.dumps(default=...)``: times with their zone, other non-JSON values as text."""
    converted = data_value(value)
    return converted if isinstance(converted, str) else str(converted)


def _asks_for_help(ctx: click.Context) -> bool:
    """`monitor CMD --help`: help needs no config (and shows even while the config is broken)."""
    return any(arg in ctx.help_option_names for arg in ctx.meta.get(SUBCOMMAND_ARGS, []))


def _fail(message: str) -> None:
    raise click.ClickException(message)


# --- init ------------------------------------------------------------------------------------


CONTACT_PROMPT = ("Your e-mail or a web page where site operators can reach you (it goes into the User-Agent of "
                  "every request)")


def _contact(value: str) -> str:
    if not valid_contact(value):
        raise click.BadParameter(f"'{value}' is neither an e-mail address nor an http(s) URL")
    return value.strip()


def _ask_contact() -> str:
    """The contact, asked for until it is one. Input that ends first (a script, `< /dev/null`) used
    to print a bare "Aborted!": it says what to pass instead."""
    try:
        return click.prompt(CONTACT_PROMPT, err=True, value_proc=_contact)
    except click.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C at the prompt
        click.echo(err=True)  # end the prompt's line
        raise click.UsageError("no contact given (standard input ended before one): pass it as "
                               "--contact you@example.org or --contact https://your.site") from None


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--contact", help="Your e-mail or URL for the User-Agent (asked for when not given).")
@click.option("--force", is_flag=True, help="Replace an existing config file.")
def init(directory: Path, contact: str | None, force: bool) -> None:
    """Write a commented config to edit, DIRECTORY/config/monitor.toml (DIRECTORY: the current folder).

    Run `monitor` from DIRECTORY and it finds the file; elsewhere pass --config or set MONITOR_CONFIG.
    Without a config the tool uses the one shipped with the package (the same targets)."""
    path = directory / DEFAULT_CONFIG
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; edit it, or pass --force to replace it")
    if contact is None:
        contact = _ask_contact()
    else:
        try:
            _contact(contact)
        except click.BadParameter as exc:
            exc.param_hint = "--contact"
            raise
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(initial_config_text(contact), encoding="utf-8")
    where = path.resolve()
    click.echo(f"wrote {where}. Next: edit its targets and [sources.*], then run `monitor run --once` in "
               f"{where.parent.parent} (elsewhere: monitor --config {where} ..., or set {CONFIG_ENV}).", err=True)


# --- import / run ----------------------------------------------------------------------------


@contextmanager
def _importer(app: AppContext, analyzer: str | None = None) -> Iterator[Any]:
    """An Importer whose progress shows on stderr; its worker processes end with the block."""
    from monitor.ingest.imports import Importer
    from monitor.ingest.pool import AnalysisPool, sigterm_as_interrupt

    # SIGTERM stops an import the way Ctrl-C does: the batch in hand is recorded, workers end.
    with posts_progress(app.err) as progress, sigterm_as_interrupt():
        task = progress.add_task("importing", total=None, share=None, since=None, share_at=None)
        reading = ""  # the input the share is of

        def tick(path: str, n: int) -> None:
            progress.update(task, advance=n, description=f"importing {Path(path.split('!')[0]).name}")

        def read(path: str, share: float) -> None:  # the time left for the file (progress.RateColumn)
            nonlocal reading
            if reading != path:
                reading = path
                progress.update(task, since=time.monotonic())
            progress.update(task, share=share, share_at=time.monotonic())

        pool = AnalysisPool(app.config, app.data_dir / "models", analyzer=analyzer)
        importer = Importer(app.config, app.store, pool=pool, progress=tick, share=read)
        finished = False
        try:
            yield importer
            finished = True
        finally:
            importer.pool.close(abandon=not finished)  # stopped: the workers' chunks in hand are not waited for


def run_imports(app: AppContext, paths: list[Path], fmt: str = "auto", force: bool = False,
                analyzer: str | None = None, **options: Any) -> list[Any]:
    with _importer(app, analyzer) as importer:
        return importer.import_paths(paths, fmt=fmt, force=force, **options)


# Inputs listed one by one at most; past that, those with a problem first, then a line for the rest
# (a folder of 1,000 files printed 1,000 lines). --json lists every one.
IMPORT_LINES_SHOWN = 30


def _inputs_to_list(reports: list[Any]) -> tuple[list[Any], int]:
    """The reports to print a line for, in their order, and how many others there are."""
    if len(reports) <= IMPORT_LINES_SHOWN:
        return reports, 0
    chosen = {id(r) for r in reports if r.failed or r.errors or r.spooled}
    for r in reports:
        if len(chosen) >= IMPORT_LINES_SHOWN:
            break
        chosen.add(id(r))
    shown = [r for r in reports if id(r) in chosen]
    return shown, len(reports) - len(shown)


def print_import_reports(app: AppContext, reports: list[Any]) -> None:
    shown, others = _inputs_to_list(reports)
    for r in shown:
        if r.skipped and not r.records:
            app.err.print(Text.assemble(literal(r.path), (f": skipped, {r.skipped}", "dim")))
            continue
        line = Text.assemble(
            literal(r.path), f" [{r.format}]: {r.records} records, ", (f"{r.posts_new} new", "green"),
            f", {r.posts_seen} already stored, {r.unmatched} without a target",
            (f", {r.errors} bad records", "yellow") if r.errors else "", f" ({r.seconds:.1f} s)",
            (" — database locked, batches spooled", "yellow") if r.spooled else "")
        app.err.print(line)
        for err in r.error_samples[:5]:
            app.err.print(Text("    " + safe(str(err), one_line=True, limit=300), style="yellow"))
        if r.errors > 5:
            app.err.print(Text(f"    … {r.errors - 5} more; all are in the import_errors table "
                               "(monitor sql \"SELECT * FROM import_errors\")", style="yellow"))
        if r.skipped:
            app.err.print(Text("    " + safe(r.skipped), style="red"))
    if others:
        app.err.print(Text(f"… {others:,} more inputs, none with a problem (--json lists every input)", style="dim"))
    if len(reports) > 1:  # a folder of many files: its sum, not only a line per file
        _print_import_total(app, reports)


def _print_import_total(app: AppContext, reports: list[Any]) -> None:
    read = [r for r in reports if r.records or r.errors]
    failed = sum(1 for r in reports if r.failed)
    unchanged = sum(1 for r in reports if r.skipped and r.skipped.startswith("already imported"))
    parts: list[str | tuple[str, str]] = [(f"{len(read)} of {len(reports)} inputs read", "bold")]
    if read:
        parts += [f": {sum(r.records for r in read):,} records, ", (f"{sum(r.posts_new for r in read):,} new", "green"),
                  f", {sum(r.posts_seen for r in read):,} already stored, "
                  f"{sum(r.unmatched for r in read):,} without a target"]
        if any(r.errors for r in read):
            parts.append((f", {sum(r.errors for r in read):,} bad records", "yellow"))
    if unchanged:
        parts.append(f"; {unchanged} already imported")
    if failed:
        parts.append((f"; {failed} failed", "red"))
    app.err.print(Text.assemble(*parts))


def _mapping(values: tuple[str, ...]) -> dict[str, str]:
    from monitor.sources.base import parse_field_map

    try:
        return parse_field_map(values)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _format_names() -> list[str]:
    from monitor.sources.api import load_sources

    return sorted(load_sources().readers)


class _ImportCommand(click.Command):
    """`monitor import --help` lists the formats from the registry, so the list cannot drift."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from monitor.sources.api import load_sources

        readers = sorted(load_sources().readers.values(), key=lambda r: r.name)
        with formatter.section("Formats (--format; 'auto' detects them from the content)"):
            formatter.write_dl([(r.name, r.description) for r in readers])
        super().format_epilog(ctx, formatter)


@main.command("import", cls=_ImportCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Archive format (listed below); 'auto' detects it from the content.")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Generic JSONL/CSV: read FIELD (id, text, created_at, author, platform, url, lang...) from COLUMN.")
@click.option("--platform", default="generic", show_default=True,
              help="Generic formats: platform when no column gives it.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the files.")
@click.option("--force", is_flag=True, help="Read files again even if already imported unchanged.")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None, help=ANALYZER_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the import reports as JSON.")
@click.option("--no-prefilter", "no_prefilter", is_flag=True,
              help="Parse every line of Reddit dumps, also those that cannot mention a target (slower; the "
                   "prefilter never drops a mention).")
@click.option("--lake", "lake_url", default=None, metavar="PATH",
              help="Import into a Parquet lake on a Dask cluster instead of the database (docs/LAKE.md).")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="With --lake: a Dask scheduler (tcp://host:8786) or local:N worker processes (default: the config's "
                   "[distributed] scheduler, local:2).")
@pass_app
def import_cmd(app: AppContext, paths: tuple[Path, ...], fmt: str, maps: tuple[str, ...], platform: str,
               encoding: str, force: bool, analyzer: str | None, as_json: bool, no_prefilter: bool,
               lake_url: str | None, cluster: str | None) -> None:
    """Import archives of posts: files, folders or .zip; .gz and .zst are read transparently.

    Generic JSONL and CSV need the fields id, text and created_at (other column names:
    --map text=body). A bad record is reported with its file, line and reason, and skipped; the rest is imported.
    Importing the same posts again adds nothing. Exit status 1 when an input was missing, not
    recognised or stopped by an error (the other inputs are still imported); bad records alone
    leave it 0.
    """
    if fmt != "auto" and fmt not in _format_names():
        _fail(f"unknown format '{fmt}'. Known formats: {', '.join(_format_names())}")
    _check_encoding(encoding)
    if Path("-") in paths and not Path("-").exists():
        paths = tuple(_save_stdin(app) if p == Path("-") else p for p in paths)
    empty = _folders_without_files(paths)
    for folder in empty:
        app.err.print(Text.assemble(literal(folder), (": no files to import in this folder", "red")))
    readable = [p for p in paths if p not in empty]
    options = {"mapping": _mapping(maps), "platform": platform, "encoding": encoding}
    if lake_url or cluster:
        _import_to_lake(app, readable, lake_url, cluster, fmt, force, analyzer, as_json, bool(empty), options)
        return
    reports = run_imports(app, readable, fmt, force, analyzer, prefilter=not no_prefilter,
                          **options) if readable else []
    if reports:
        app.tidy_store()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        print_import_reports(app, reports)
    if empty or any(r.failed for r in reports):
        sys.exit(1)


# The first bytes of the compressed streams an input may come in: the saved copy is named for its
# compression, which the readers take from the name.
_STDIN_SUFFIXES = {b"\x1f\x8b": ".gz", b"\x28\xb5\x2f\xfd": ".zst", b"PK\x03\x04": ".zip"}


def _save_stdin(app: AppContext) -> Path:
    """Standard input, saved under DATA_DIR/stdin/ to be imported as a file: an input is read more than
    once (its format sniffed, then read; big files by ranges), and the copy stays as the record of what
    was imported (its lines are the ones bad records name)."""
    folder = app.data_dir / "stdin"
    folder.mkdir(parents=True, exist_ok=True)
    head = sys.stdin.buffer.read(4)
    suffix = next((ext for magic, ext in _STDIN_SUFFIXES.items() if head.startswith(magic)), "")
    path = folder / f"stdin-{datetime.now(UTC):%Y%m%dT%H%M%S%f}{suffix}"
    with open(path, "wb") as out:
        out.write(head)
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    app.err.print(Text.assemble("standard input saved to ", literal(str(path)),
                                f" ({path.stat().st_size / 1e6:.1f} MB; remove it when you no longer need it)"))
    return path


def _import_to_lake(app: AppContext, paths: list[Path], lake_url: str | None, cluster: str | None, fmt: str,
                    force: bool, analyzer: str | None, as_json: bool, had_empty: bool, options: dict[str, Any]) -> None:
    """`monitor import --lake PATH [--cluster ADDRESS]`: the distributed import (monitor/lake_cli.py)."""
    from monitor.lake_cli import attach_after_import, print_lake_import, run_lake_import

    if not lake_url:
        _fail("--cluster needs --lake PATH: the distributed import writes a Parquet lake (docs/LAKE.md)")
    done = run_lake_import(app, paths, lake_url, cluster or app.config.distributed.scheduler, fmt, force, analyzer,
                           options=options)
    if done.results:
        attach_after_import(app, lake_url)
    if as_json:
        click.echo(json.dumps([vars(r) for r in done.results], indent=2, default=str))
    else:
        print_lake_import(app, done)
    if had_empty or any(e.refused for e in done.entries) or any(r.error for r in done.results):
        sys.exit(1)


def _check_encoding(encoding: str) -> None:
    """Refuse an unknown --encoding before anything is read (as a usage error, exit status 2)."""
    from monitor.ingest.imports import ImportOptionError, check_encoding

    try:
        check_encoding(encoding)
    except ImportOptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--encoding") from exc


def _folders_without_files(paths: Iterable[Path]) -> list[Path]:
    """Folders in which the import would find nothing to read (an empty folder is a mistake worth a line)."""
    from monitor.sources.base import expand_inputs

    return [p for p in paths if p.is_dir() and next(iter(expand_inputs(p)), None) is None]


@main.command()
@click.option("--once", is_flag=True, help="Run one full cycle (archives, then collectors) and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print what the cycle did as JSON.")
@pass_app
def run(app: AppContext, once: bool, as_json: bool) -> None:
    """Run the main job: import the configured archives and collect from live sources.

    With --once, one cycle runs and the command exits (good for cron); its exit status is 1 when the
    cycle got nothing: every live source failed and no configured archive was read (offline, with
    archives imported, it says so in a line and exits 0). Without it, the daemon keeps collecting on
    each source's schedule until stopped (Ctrl-C or SIGTERM).
    """
    from monitor.daemon import run_daemon
    from monitor.store.daemon_state import DaemonLock, DaemonRunning

    if not once:
        sys.exit(run_daemon(app.config, app.data_dir, app.verbose,
                            say=lambda line: app.err.print(line, markup=False, highlight=False)))
    lock = DaemonLock(app.data_dir)  # a cron cycle never overlaps a daemon or another cycle
    try:
        lock.acquire()
    except DaemonRunning as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        cycle, collectors_ok = run_cycle(app)
        app.tidy_store()
    finally:
        lock.release()
    if as_json:
        click.echo(json.dumps(cycle, indent=2, default=json_value))
    if not collectors_ok:
        if not any(not r["failed"] for r in cycle["imports"]):
            _fail_all_sources(cycle["collectors"])
        app.err.print(Text(f"every live source failed ({', '.join(sorted(cycle['collectors']))}); the configured "
                           "archives were read. `monitor status` shows each source's last error.", style="yellow"))


def import_configured_archives(app: AppContext) -> list[Any]:
    """The archives listed in the config, each in its format (skipped quickly when already
    imported); the reports are printed and returned. Missing ones are named and skipped."""
    from monitor.ingest.cycle import import_configured_archives as import_archives

    def missing(path: Path) -> None:
        app.err.print(Text(f"archive {safe(path)} (from the config) does not exist; skipped", style="yellow"))

    with _importer(app) as importer:
        reports = import_archives(importer, app.config, missing)
    print_import_reports(app, reports)
    return reports


def run_cycle(app: AppContext) -> tuple[dict[str, Any], bool]:
    """One cycle of the main job: archives from the config, then each enabled collector; and whether
    the collectors did their job (see ``run_collection``)."""
    reports = import_configured_archives(app)
    collectors, ok = run_collection(app)
    return {"imports": [r.as_dict() for r in reports], "collectors": collectors}, ok


def _fail_all_sources(collectors: dict[str, Any]) -> None:
    raise click.ClickException(f"every source failed ({', '.join(sorted(collectors))}); nothing was collected. "
                               "The lines above say why; `monitor status` shows each source's last error.")


def run_collection(app: AppContext, names: list[str] | None = None, once: bool = True) -> tuple[
    dict[str, list[dict[str, Any]]], bool
]:
    """Run collectors once, printing one line per source; failures never stop the others. Also
    returns False when sources were to run and none succeeded (the command then exits 1)."""
    from monitor.ingest.collect import collect_sources, summarise
    from monitor.ingest.pool import AnalysisPool
    from monitor.sources.api import UnknownSourceError

    outcomes: list[bool] = []

    def show(collector: Any, reports: list[Any]) -> None:
        ok, line = summarise(collector, reports, collector.settings(app.config).interval_minutes)
        outcomes.append(ok)
        app.err.print(Text(safe(line, one_line=True), style="" if ok else "yellow"))

    pool = AnalysisPool(app.config, app.data_dir / "models")
    try:
        results = collect_sources(app.config, app.store, pool, names, on_report=show, once=once)
    except UnknownSourceError as exc:
        raise click.BadParameter(str(exc), param_hint="SOURCE") from exc
    finally:
        pool.close()
    return {name: [r.as_dict() for r in reports] for name, reports in results.items()}, any(outcomes) or not outcomes


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the run records as JSON.")
@pass_app
def collect(app: AppContext, sources: tuple[str, ...], as_json: bool) -> None:
    """Run live collectors once now (default: every enabled source; see `monitor sources`).

    Each source pulls what is new since its last run, up to max_pages pages per query, and
    stores posts and its cursor together. A source that fails says so in one line and the others
    go on. Exit status 1 when every source that ran failed.
    """
    results, ok = run_collection(app, list(sources) or None)
    app.tidy_store()
    if as_json:
        click.echo(json.dumps(results, indent=2, default=json_value))
    if not ok:
        _fail_all_sources(results)


@main.command("sources")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def sources_cmd(app: AppContext, as_json: bool) -> None:
    """List live sources: enabled or not, what each needs, its interval and queries."""
    from monitor.sources.api import load_sources

    rows = []
    for name, c in sorted(load_sources().collectors.items()):
        settings = c.settings(app.config)
        missing = c.missing()
        rows.append({"source": name, "enabled": c.is_enabled(app.config), "ready": not missing,
                     "needs": c.needs, "missing": missing, "interval_minutes": settings.interval_minutes,
                     "max_pages": settings.max_pages, "base_url": settings.base_url or c.base_url,
                     "queries": c.query_list(app.config), "description": c.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    # One block per source rather than a table: what a source needs (environment variable names)
    # must show whole, and a six-column table folded it away on an 80-column terminal.
    width = max(len(r["source"]) for r in rows)
    for r in rows:
        state = ("enabled" if r["ready"] else "enabled, but missing " + ", ".join(r["missing"])) if r["enabled"] \
            else "disabled"
        queries = len(r["queries"])
        app.console.print(Text.assemble(
            (r["source"].ljust(width), "bold"), "  ", (state, "green" if r["enabled"] and r["ready"] else "yellow"),
            f" · every {r['interval_minutes']:g} min · {queries} quer{'y' if queries == 1 else 'ies'} · needs ",
            literal(r["needs"])))
        app.console.print(Text.assemble("  ", literal(r["description"], style="dim")))
    app.err.print(Text("Enable or disable a source, and set its options, in [sources.NAME] of the config.",
                       style="dim"))


# --- summary / sql / export ---------------------------------------------------------------------


def _read(app: AppContext):
    try:
        return app.store.read()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--since", default="all", show_default=True,
              help="From: a span back from now (24h, 7d, 2w, 6m months, 1y years), an ISO date or time (2016-01-31, "
                   "2016-01-31T12:00, UTC unless it says), or all.")
@click.option("--until", default=None, help="Up to (not including): the same forms as --since. Default: now.")
@click.option("--target", "targets", multiple=True, help="Only this target id (repeatable: any of them; see config).")
@click.option("--platform", "platforms", multiple=True,
              help="Only this platform (repeatable: x, reddit, bluesky, mastodon, hackernews, news, ...).")
@click.option("--author", help="Only this author's posts (a handle, with or without @; any case), with their view.")
@click.option("--top", default=3, show_default=True, help="How many posts and authors to list.")
@click.option("--json", "as_json", is_flag=True, help="The same numbers as JSON (times UTC, ISO 8601 with zone).")
@click.option("--exact", is_flag=True,
              help="Count each target's distinct authors exactly even over millions of mentions (slower; by "
                   "default they are estimated, within a few percent, over more than 2,000,000 in the window).")
@pass_app
def summary(app: AppContext, since: str, until: str | None, targets: tuple[str, ...], platforms: tuple[str, ...],
            author: str | None, top: int, as_json: bool, exact: bool) -> None:
    """Per target: volume and change against the previous window, share of voice, mood and how it
    moves (per bucket, change against the previous window), stance split, trend; top hashtags and
    terms; spikes (busy hours or days against a baseline, and what drove them); who says what about
    whom (posts of a target's own accounts, config `accounts`, naming another target); the most
    positive, negative and engaged posts; top authors; platform mix; freshness.

    With --target ID, who-says-what lists what ID says and what the others say about it. With
    --author HANDLE, every figure is that author's. The same figures are views for `monitor sql`:
    v_mood_daily, v_share_of_voice, v_top_hashtags, v_top_terms, v_author_targets."""
    from monitor.store.lake_read import lake_views_outdated
    from monitor.summary import compute, make_filters, parse_window, render, unknown_filter_values

    for value, option in ((since, "--since"), (until, "--until")):
        try:
            if value is not None:
                parse_window(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc
    for tid in targets:
        try:
            app.config.target(tid)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--target") from exc
    try:
        with app.store.read() as con:
            problems = unknown_filter_values(con, make_filters(targets, platforms, author))
            if problems:
                raise click.BadParameter("; ".join(problems), param_hint="--platform/--author")
            data = compute(con, since=since, until=until, target=targets, platform=platforms, author=author, top=top,
                           exact=exact)
            outdated_lake = lake_views_outdated(con)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    warnings = _summary_warnings(app, data, outdated_lake)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data, app.console, warnings)


def _summary_warnings(app: AppContext, data: dict[str, Any], outdated_lake: bool) -> list[str]:
    """What the summary's reader should know first: stance from an earlier analyzer or version, a lake
    attached by an earlier version, batches waiting in the spool (also added to ``data``)."""
    from monitor.analysis.stamps import zero_shot_stance_stamp
    from monitor.summary import earlier_stance_warning

    batches, size = app.store.spool_size()
    warnings = []
    current = zero_shot_stance_stamp(app.config)
    data["zero_shot_stance"] = {"scorer": current[0], "version": current[1]}
    earlier = earlier_stance_warning(data["targets"], current)
    if earlier:
        warnings.append(earlier)
    if outdated_lake:
        warnings.append("The lake's views in the database are from an earlier version: run `monitor lake attach "
                        "--lake PATH` again (then its summary files make this faster).")
    if batches:
        warnings.append(f"{batches} batches ({size / 1e6:.1f} MB) are waiting in the spool because the database "
                        "was locked; they are applied when the lock is free.")
    data["spool"] = {"batches": batches, "bytes": size}
    return warnings


def schema_relations() -> tuple[list[str], list[str]]:
    """The tables and views a database of this version has, from the migrations themselves (applied to
    an empty in-memory database), so `sql --help` cannot drift from the schema."""
    from monitor.store.schema import migrate

    con = duckdb.connect(":memory:")
    try:
        migrate(con)
        rows = con.execute("SELECT table_name, table_type FROM information_schema.tables "
                           "WHERE table_name NOT IN ('schema_migrations', 'applied_batches') ORDER BY 1").fetchall()
    finally:
        con.close()
    return [n for n, kind in rows if kind != "VIEW"], [n for n, kind in rows if kind == "VIEW"]


class _SqlCommand(click.Command):
    """`monitor sql --help` lists the tables and views from the schema."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        tables, views = schema_relations()
        with formatter.section("Tables"):
            formatter.write_text(", ".join(tables))
        with formatter.section("Views"):
            formatter.write_text(", ".join(views))
        super().format_epilog(ctx, formatter)


@dataclass
class QueryResult:
    statement: str
    columns: list[str]
    rows: list[tuple[Any, ...]]  # the first rows, those shown (all of them with --limit 0)
    total: int = 0  # rows in the result


# csv and json are written to a file beside the database first (in memory up to this size), so that a
# big result neither fills the memory (all rows of 100k posts took 850 MB, 10M would not fit) nor holds
# the database open while a slow reader (| less) takes it: the daemon's writes would wait in the spool.
SQL_OUTPUT_IN_MEMORY = 64 << 20
SQL_FETCH_ROWS = 10_000


@main.command(cls=_SqlCommand)
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "line", "csv", "json"]), default="table",
              show_default=True, help="table; line: one 'column = value' per line, for wide rows; csv and json: the "
                                      "data unchanged (one statement).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--param", "params", multiple=True, help="A value for a ? placeholder (repeatable, in order).")
@click.option("--limit", default=1000, show_default=True, help="Rows shown in table and line format (0 = all).")
@pass_app
def sql(app: AppContext, query: str, fmt: str, as_json: bool, params: tuple[str, ...], limit: int) -> None:
    """Run read-only SQL against the database. Several statements (separated by ;) run in order and
    each result is shown, in table and line format; csv and json take one statement.

    \b
    Examples:
      monitor sql "SELECT * FROM v_daily_target ORDER BY day DESC LIMIT 20"
      monitor sql "SELECT text, url FROM v_mentions WHERE target_id = ? AND stance = 'against'" --param musk
      monitor sql "SELECT platform, count(*) FROM posts GROUP BY 1" --format csv
      monitor sql "SELECT * FROM posts LIMIT 3" --format line
    """
    fmt = "json" if as_json else fmt
    if fmt in ("csv", "json"):
        _write_data(app, query, list(params), fmt)
        return
    with app.store.read() as con:
        results = _run_statements(con, query, list(params), limit)
    for index, result in enumerate(results):
        if len(results) > 1:
            app.console.print(Text.assemble(("" if index == 0 else "\n") + "-- ",
                                            literal(result.statement, limit=200), style="dim"))
        (_print_lines if fmt == "line" else _print_table)(app, result)


def _statements(con: Any, query: str, params: list[str], several_ok: bool) -> list[str]:
    statements = [s.query.strip() for s in con.extract_statements(query)]
    if not statements:
        raise click.BadParameter("no SQL statement given", param_hint="QUERY")
    if len(statements) > 1 and not several_ok:
        raise click.BadParameter(f"csv and json output take one statement; this has {len(statements)} "
                                 "(use --format table or line to see each result)", param_hint="QUERY")
    if len(statements) > 1 and params:
        raise click.BadParameter("--param goes with a single statement", param_hint="--param")
    return statements


def _execute(con: Any, statement: str, params: list[str]) -> tuple[Any, list[str]]:
    """The statement's cursor and its columns (none for a statement that returns no rows)."""
    cursor = con.execute(statement, params) if params else con.execute(statement)
    return cursor, [d[0] for d in cursor.description] if cursor.description else []


def _run_statements(con: Any, query: str, params: list[str], limit: int) -> list[QueryResult]:
    """Each statement's columns, its first ``limit`` rows (0: all) and its number of rows (the rest are
    counted as Arrow batches, not made into Python rows)."""
    try:
        results = []
        for statement in _statements(con, query, params, several_ok=True):
            cursor, columns = _execute(con, statement, params)
            rows = (cursor.fetchall() if limit == 0 else cursor.fetchmany(limit)) if columns else []
            total = len(rows)
            if columns and limit and len(rows) == limit:
                with warnings.catch_warnings():  # "an extra copy of the rows": of a batch at a time
                    warnings.simplefilter("ignore")
                    total += sum(batch.num_rows for batch in cursor.to_arrow_reader(100_000))
            results.append(QueryResult(statement, columns, rows, total))
        return results
    except duckdb.Error as exc:
        raise click.ClickException(f"query failed: {safe(exc, one_line=True)}") from exc


def _write_data(app: AppContext, query: str, params: list[str], fmt: str) -> None:
    """csv or json of one statement, SQL_FETCH_ROWS rows at a time, to standard output."""
    spill = app.data_dir if os.access(app.data_dir, os.W_OK) else None  # a read-only copy: the system's temp
    with tempfile.SpooledTemporaryFile(max_size=SQL_OUTPUT_IN_MEMORY, mode="w+", encoding="utf-8", newline="",
                                       dir=spill) as out:
        with app.store.read() as con:
            try:
                [statement] = _statements(con, query, params, several_ok=False)
                cursor, columns = _execute(con, statement, params)
                chunks = iter(lambda: cursor.fetchmany(SQL_FETCH_ROWS) if columns else [], [])
                (_csv_into if fmt == "csv" else _json_into)(out, columns, chunks)
            except duckdb.Error as exc:
                raise click.ClickException(f"query failed: {safe(exc, one_line=True)}") from exc
        out.seek(0)
        # Not click.echo: it strips ANSI sequences from output that is not a terminal, changing the data.
        shutil.copyfileobj(out, sys.stdout)
        sys.stdout.flush()


def _csv_into(out: IO[str], columns: list[str], chunks: Iterator[list[tuple[Any, ...]]]) -> None:
    """CSV is data for other programs: values go out exactly as stored (a carriage return stays one;
    the csv module quotes it). Only when it goes straight to a terminal are control characters shown
    as escapes, so a post cannot send the terminal commands."""
    to_terminal = sys.stdout.isatty()
    writer = csv.writer(out)
    writer.writerow([safe(c) if to_terminal else c for c in columns])
    for rows in chunks:
        for row in rows:
            values = ["" if v is None else data_value(v) for v in row]
            writer.writerow([safe(v) for v in values] if to_terminal else values)


def _json_into(out: IO[str], columns: list[str], chunks: Iterator[list[tuple[Any, ...]]]) -> None:
    """The rows as a JSON array of objects, indented as json.dumps(rows, indent=2) writes it."""
    first = True
    for rows in chunks:
        for row in rows:
            item = json.dumps(dict(zip(columns, row, strict=True)), indent=2, default=json_value)
            out.write(("[\n" if first else ",\n") + textwrap.indent(item, "  "))
            first = False
    out.write("[]\n" if first else "\n]\n")


def _print_table(app: AppContext, result: QueryResult) -> None:
    table = Table(show_lines=False)
    for i, c in enumerate(result.columns):
        values = [r[i] for r in result.rows if r[i] is not None]
        numeric = bool(values) and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values)
        table.add_column(literal(c), overflow="fold", justify="right" if numeric else "left")
    for r in result.rows:
        table.add_row(*[Text("NULL", style="dim") if v is None else literal(v, limit=500) for v in r])
    app.console.print(table)
    _say_rows(app, result)


def _print_lines(app: AppContext, result: QueryResult) -> None:
    """One 'column = value' line per value and a blank line between rows: wide rows stay readable."""
    width = max((len(c) for c in result.columns), default=0)
    for index, row in enumerate(result.rows):
        if index:
            app.console.print()
        for column, value in zip(result.columns, row, strict=True):
            shown_value = Text("NULL", style="dim") if value is None else literal(value, limit=2000)
            app.console.print(Text.assemble(literal(column.rjust(width), style="bold"), " = ", shown_value),
                              soft_wrap=True)
    _say_rows(app, result)


def _say_rows(app: AppContext, result: QueryResult) -> None:
    if len(result.rows) < result.total:
        app.err.print(f"{result.total - len(result.rows)} more rows not shown (use --limit 0 or --format csv)")
    app.err.print(f"{result.total} rows", style="dim")


@main.command()
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--output", "-o", default=None, metavar="FILE",
              help="File to write ('-' for standard output), the same as FILE. Its ending (.csv, .parquet, .jsonl) "
                   "chooses the format.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]), default=None,
              help="Format, when the file name does not say it (default for '-': csv).")
@click.option("--flat", is_flag=True, help="One row per (post, target) with the target's alias, sentiment and stance "
                                           "in columns (for spreadsheets), instead of one row per post.")
@click.option("--target", "targets", multiple=True,
              help="Only posts that mention this target (repeatable: any of them).")
@click.option("--since", default="all", show_default=True,
              help="From: a span back from now (24h, 7d, 6m, 1y), an ISO date or time (2016-01-31, UTC unless it "
                   "says), or all.")
@click.option("--until", default=None, help="Up to (not including): the same forms as --since. Default: no end.")
@click.option("--platform", "platforms", multiple=True, help="Only this platform (repeatable: any of them).")
@pass_app
def export(app: AppContext, file: str | None, output: str | None, fmt: str | None, flat: bool,
           targets: tuple[str, ...], since: str, until: str | None, platforms: tuple[str, ...]) -> None:
    """Export posts with their mentions and scores to FILE: one row per post (mentions as a list;
    JSON text in CSV), or with --flat one row per (post, target). Times are UTC, ISO 8601 with Z.

    \b
    Examples:
      monitor export posts.parquet
      monitor export --flat --target musk --since 30d musk.csv
      monitor export - --format jsonl | jq .text
    """
    from monitor.export import ExportFilter, export_posts, format_for

    if file and output and file != output:
        raise click.UsageError(f"two files to write: {file} and --output {output}; give one")
    output = file or output
    if not output:
        raise click.UsageError("say where to write: monitor export FILE (or -o FILE; '-' for standard output)")

    try:
        fmt = format_for(output, fmt)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from exc
    for tid in targets:
        try:
            app.config.target(tid)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--target") from exc
    where = ExportFilter(targets, platforms, _bound(since, "--since"), _bound(until, "--until"))
    if where.start is not None and where.end is not None and where.end <= where.start:
        from monitor.summary import backwards_window

        # It wrote an empty file, as if nothing were said.
        raise click.BadParameter(backwards_window(where.start, where.end), param_hint="--since/--until")
    with app.store.read() as con:
        _check_platforms(con, platforms)
        destination = sys.stdout.buffer if output == "-" else Path(output)
        with posts_progress(app.err) as progress:  # 1M posts take ~14 s, in windows of 100,000
            task = progress.add_task("exporting", total=None)
            count = export_posts(con, destination, fmt, where, flat=flat,
                                 progress=lambda done, total: progress.update(task, completed=done, total=total))
    app.err.print(Text(f"wrote {count} posts to {'standard output' if output == '-' else safe(output)} ({fmt})"))


def _bound(value: str | None, option: str) -> Any:
    """A --since/--until value as a naive UTC instant (None: unbounded), the way summary reads it."""
    from monitor.summary import parse_bound

    try:
        return parse_bound(None if value == "all" else value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _check_platforms(con: Any, platforms: tuple[str, ...]) -> None:
    """An unknown --platform selects nothing: say so, with the platforms there are."""
    if not platforms:
        return
    known = [row[0] for row in con.execute("SELECT DISTINCT platform FROM posts ORDER BY 1").fetchall()]
    unknown = [p for p in platforms if p not in known]
    if unknown:
        raise click.BadParameter(f"no posts from {', '.join(repr(p) for p in unknown)} in the database "
                                 f"(platforms there: {', '.join(known) or 'none yet'})", param_hint="--platform")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Is the daemon running; per source the last run, its result, the next run and the last error;
    posts per hour; spool and database size; hours with gaps in coverage."""
    from monitor.analysis.stamps import sentiment_stamp, zero_shot_stance_stamp
    from monitor.status import compute, render

    data = compute(app.store, app.data_dir, sentiment_stamp=sentiment_stamp(app.config),
                   stance_stamp=zero_shot_stance_stamp(app.config))
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data, app.console)


@main.command()
@click.option("--all", "everything", is_flag=True, help="Re-analyse every post, not only those with old versions.")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None, help=ANALYZER_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print what was rescored as JSON.")
@pass_app
def rescore(app: AppContext, everything: bool, analyzer: str | None, as_json: bool) -> None:
    """Recompute target matches, sentiment and stance from the stored posts (no re-collecting).

    Run it after changing targets or aliases in the config, training a stance model or choosing
    another analyzer: posts whose stored analysis has another rule set, analyzer or scorer version
    are re-analysed, in batches.
    """
    from monitor.ingest.pool import AnalysisPool
    from monitor.ingest.rescore import rescore as run_rescore

    pool = AnalysisPool(app.config, app.data_dir / "models", analyzer=analyzer)
    try:
        with posts_progress(app.err) as progress:
            task = progress.add_task("rescoring", total=None)
            report = run_rescore(app.store, pool, everything,
                                 progress=lambda done, total: progress.update(task, completed=done, total=total))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        pool.close()
    app.tidy_store()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
        return
    app.err.print(f"rescored {report.rescored} of {report.candidates} candidate posts; mentions "
                  f"{report.mentions_before} -> {report.mentions_after}", markup=False)


# --- score -----------------------------------------------------------------------------------


SCORE_BATCH = 256  # lines scored together (the learned model runs a batch at a time)
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as errors="surrogateescape" reads it


@main.command()
@click.argument("source", default="-", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@click.option("--text", "texts", multiple=True, help="Score this text instead of reading JSONL (repeatable).")
@click.option("--target", "targets", multiple=True,
              help="Score stance toward this target even where no alias appears (repeatable).")
@click.option("--lang", default=None, help="Language of lines without a \"lang\" field (default: guessed per line).")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None, help=ANALYZER_OPTION_HELP)
@pass_app
def score(app: AppContext, source: io.TextIOBase, texts: tuple[str, ...], targets: tuple[str, ...],
          lang: str | None, analyzer: str | None) -> None:
    """Score JSONL (a file, or - for stdin): one {"id", "text"} per line in, one result per line out.

    \b
    Output per line:
      {"id": ..., "analyzer": "NAME@VERSION",
       "sentiment": {"compound": float, "label": "positive|neutral|negative"},
       "stance": {TARGET_ID: {"label": "favor|against|none", "score": float}},
       "mentions": [{"target": TARGET_ID, "alias": "..."}]}
    A line that cannot be scored (not JSON, or no "text") gives {"id": its id or null, "line": N, "error": "..."}.
    Optional input fields: "lang" (posts in other languages than the configured ones get no scores).

    \b
    Examples:
      monitor score --text "Sam Altman is a genius" --text "Stargate is vaporware"
      monitor score --analyzer vader posts.jsonl > scores.jsonl
    """
    from monitor.analysis.analyzers import make_analyzer

    for tid in targets:
        try:
            app.config.target(tid)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--target") from exc
    if lang is not None and lang.split("-")[0].lower() not in ISO_639_1:
        raise click.BadParameter(f"'{lang}' is not an ISO 639-1 language code (e.g. en, de, fr)", param_hint="--lang")
    # Every line gets a sentiment, whether or not it mentions a target.
    config = app.config.model_copy(deep=True)
    config.analysis.store_unmatched = True
    scorer = make_analyzer(config, app.data_dir / "models", analyzer)
    lines: Iterable[str] = (json.dumps({"id": i, "text": t}) for i, t in enumerate(texts, 1)) if texts else source
    # On standard error, while stdout takes the results: the learned analyzer scores ~75-500 lines a
    # second here, and a file of 100,000 said nothing for minutes. A file's share read gives the time left.
    from monitor.sources.base import share_of

    size = None if texts else _file_size(source)
    with posts_progress(app.err) as progress:
        task = progress.add_task("scoring", total=None, share=None, since=time.monotonic(), share_at=None)

        def scored(n: int) -> None:
            share = None if size is None else share_of(getattr(source, "buffer", None), size)
            read = {} if share is None else {"share": share, "share_at": time.monotonic()}
            progress.update(task, advance=n, **read)

        _score_lines(scorer, lines, lang, targets, scored)


def _score_lines(scorer: Any, lines: Iterable[str], lang: str | None, targets: tuple[str, ...],
                 scored: Callable[[int], None]) -> None:
    """Each line's result (or error) to stdout, in order, SCORE_BATCH lines scored at a time; ``scored(n)``
    after each n lines written."""
    batch: list[tuple[int, dict[str, Any]]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, error = _score_input(line)
        if error is not None:
            _flush_scores(scorer, batch, lang, targets, scored)
            batch = []
            sys.stdout.write(json.dumps({"id": record.get("id"), "line": lineno, "error": error}) + "\n")
            scored(1)
            continue
        batch.append((lineno, record))
        if len(batch) >= SCORE_BATCH:
            _flush_scores(scorer, batch, lang, targets, scored)
            batch = []
    _flush_scores(scorer, batch, lang, targets, scored)


def _file_size(source: io.TextIOBase) -> int | None:
    """The size of a regular file being read (None for standard input or a pipe)."""
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None


def _score_input(line: str) -> tuple[dict[str, Any], str | None]:
    """The line's record, or what is wrong with it (and what there is of it, for its id)."""
    expected = 'expected one JSON object a line, {"id": ..., "text": "..."} (plain texts: --text)'
    bad_byte = None if line.isascii() else _UNDECODED_BYTE.search(line)  # read with errors="surrogateescape"
    if bad_byte is not None:
        return {}, (f"not valid UTF-8 (byte 0x{ord(bad_byte.group()) - 0xDC00:02x} at column {bad_byte.start() + 1}); "
                    "the input must be UTF-8")
    try:
        record = json_text.loads(line)  # a lone surrogate escape ("\\ud83d") becomes U+FFFD
    except json.JSONDecodeError as exc:
        return {}, f"not valid JSON ({exc.msg} at column {exc.colno}); {expected}"
    if not isinstance(record, dict):
        return {}, f"a JSON {type(record).__name__}, not an object; {expected}"
    if not isinstance(record.get("text"), str):
        return record, "missing field 'text'" if record.get("text") is None else "'text' must be a string"
    return record, None


def _flush_scores(scorer: Any, batch: list[tuple[int, dict[str, Any]]], lang: str | None,
                  targets: tuple[str, ...], scored: Callable[[int], None]) -> None:
    if not batch:
        return
    results = scorer.analyse_many([(r["text"], r.get("lang") or lang) for _, r in batch], force_targets=targets)
    for (_, record), result in zip(batch, results, strict=True):
        sys.stdout.write(json.dumps(score_record(record.get("id"), result, scorer.stamp), ensure_ascii=False) + "\n")
    sys.stdout.flush()
    scored(len(batch))


def score_record(post_id: Any, result: Any, analyzer: str) -> dict[str, Any]:
    """The stable `monitor score` output object for one analysed text."""
    return {
        "id": post_id,
        "analyzer": analyzer,
        "sentiment": {"compound": result.compound, "label": result.label} if result.scored else None,
        "stance": {t.target_id: {"label": t.stance.label, "score": t.stance.score}
                   for t in result.targets if t.stance is not None},
        "mentions": [{"target": t.target_id, "alias": t.alias} for t in result.targets if t.alias is not None],
    }


# Commands that live in their own modules register here, the way a plugin's would.
def _register_commands() -> None:
    from monitor.alerts_cli import alerts_group
    from monitor.delete_cli import delete_command
    from monitor.eval_cli import eval_command, label_command, stance_group
    from monitor.lake_cli import lake_group
    from monitor.report.commands import report_command, serve_command

    for command in (eval_command, stance_group, label_command, alerts_group, report_command, serve_command,
                    lake_group, delete_command):
        main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()

"""`monitor delete`: remove stored posts on the user's word (a wrong import, single posts).

Reads the global context the main CLI sets (``ctx.obj``: ``.store``, ``.err``, ``.tidy_store``).
Register with ``main.add_command(delete_command)``.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.text import Text

from monitor.progress import posts_progress
from monitor.store import StoreError
from monitor.terminal import literal


@click.command("delete")
@click.option("--import", "import_ids", multiple=True, type=int, metavar="ID",
              help="The posts this import stored (repeatable). IDs: monitor sql \"SELECT import_id, path, started_at, "
                   "posts_new FROM imports ORDER BY started_at\".")
@click.option("--file", "files", multiple=True, metavar="PATH",
              help="The posts of every import of this file, its path as it was given to `monitor import` (repeatable).")
@click.option("--post", "post_keys", multiple=True, metavar="KEY",
              help="One post by its key, platform:id as in posts.post_key (repeatable).")
@click.option("--before", default=None, metavar="WHEN",
              help="The posts created before this: a date (2024-01-01, UTC) or a span back from now (1y keeps the "
                   "last year). With --platform: of those platforms only.")
@click.option("--platform", "platforms", multiple=True, metavar="NAME",
              help="The posts of this platform (repeatable); with --before, only those created before it.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted, and delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was (or would be) deleted as JSON.")
def delete_command(import_ids: tuple[int, ...], files: tuple[str, ...], post_keys: tuple[str, ...],
                   before: str | None, platforms: tuple[str, ...], yes: bool, dry_run: bool, as_json: bool) -> None:
    """Delete stored posts: those of a wrong import, or single posts. Their scores, mentions and the
    summary's figures go with them; an import's row is marked deleted, so its file is not "already
    imported" any more: import it again, as it was or with other options (`monitor import --map ...`).

    A post belongs to the import that stored it first: a post two imports read is deleted with the first.

    \b
    Examples:
      monitor delete --file exports/wrong-columns.csv --dry-run
      monitor delete --import 1733580000123456 --yes
      monitor delete --post x:1882012345678901234
      monitor delete --before 1y --platform reddit     # keep the last year of Reddit
    """
    from monitor.ingest.delete import delete, select
    from monitor.summary import parse_bound

    if not (import_ids or files or post_keys or before or platforms):
        raise click.UsageError("say what to delete: --import ID, --file PATH, --post KEY, --before WHEN or "
                               "--platform NAME")
    try:
        cutoff = parse_bound(before)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--before") from exc
    app = click.get_current_context().obj
    try:
        chosen = select(app.store, import_ids, files, post_keys, cutoff, platforms)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    _describe(app, chosen, as_json, dry_run)
    if dry_run or not (chosen.keys or chosen.imports):
        return
    if not yes and not click.confirm(f"Delete {len(chosen.keys):,} posts?", err=True):
        raise click.Abort()
    progress = posts_progress(app.err)
    try:
        with progress:
            task = progress.add_task("deleting", total=len(chosen.keys))
            deleted = delete(app.store, chosen, lambda done, total: progress.update(task, completed=done))
    except StoreError as exc:
        raise click.ClickException(f"{exc} (nothing more was deleted; run the same command again)") from exc
    app.tidy_store()
    if not as_json:
        app.err.print(Text(f"deleted {deleted:,} posts" + (f"; {len(chosen.imports)} imports marked deleted"
                                                            if chosen.imports else "")))


def _describe(app: Any, chosen: Any, as_json: bool, dry_run: bool) -> None:
    if as_json:
        click.echo(json.dumps({"posts": len(chosen.keys), "imports": chosen.imports, "not_found": chosen.unknown,
                               "dry_run": dry_run}, default=str, ensure_ascii=False))
        return
    for row in chosen.imports:
        app.err.print(Text.assemble(f"import {row['import_id']} of ", literal(row["path"]),
                                    f" ({row['status']}, {row['started_at']:%Y-%m-%d %H:%M} UTC, "
                                    f"{row['posts_new'] or 0:,} posts stored)"))
    for missing in chosen.unknown:
        app.err.print(Text.assemble(literal(missing), (": not stored", "yellow")))
    app.err.print(Text(f"{len(chosen.keys):,} stored posts " + ("would be deleted (--dry-run)" if dry_run
                                                                 else "to delete")))

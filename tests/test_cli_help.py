"""Help that cannot drift (issue #15, item 14): every option a help text mentions exists, and the
lists of formats, tables and views come from the registry and the schema."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import duckdb
from click.testing import CliRunner

from monitor.cli import main, schema_relations
from monitor.store.schema import migrate

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMAND_LINE = re.compile(r"\bmonitor((?: [a-z][a-z-]*)+)")


def commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))


def options_of(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


def command_named(words: list[str], fallback: click.Command) -> click.Command:
    """The command a help line's `monitor WORD WORD ...` example runs (the longest path that exists)."""
    command: click.Command = main
    for word in words:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
    return fallback if command is main and not words else command


def mentioned_options(help_text: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
    """(option, the command it belongs to): the command of a `monitor CMD ... --option` example on the
    same line, else the command whose help it is."""
    for line in help_text.splitlines():
        example = COMMAND_LINE.search(line)
        for match in OPTION.finditer(line):
            owner = command
            if example and example.start() < match.start():
                owner = command_named(example.group(1).split(), command)
            yield match.group(0), owner


def test_every_option_a_help_text_mentions_exists() -> None:
    root_options = options_of(main)
    problems = []
    for path, command in commands(main):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for option, owner in mentioned_options(result.output, command):
            if option not in options_of(owner) | root_options:
                problems.append(f"monitor {' '.join(path)} --help mentions {option}, which `{owner.name}` lacks")
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_option_that_does_not_exist() -> None:
    """The check above can fail: `import --help` once pointed to a --list-formats that never existed."""
    command = main.commands["import"]
    found = list(mentioned_options("See --list-formats for the formats.", command))
    assert found == [("--list-formats", command)] and "--list-formats" not in options_of(command)
    # ... and an example names the command it belongs to.
    owners = {o: c.name for o, c in mentioned_options("  monitor stance train --target musk x.csv", main)}
    assert owners == {"--target": "train"}


def test_sql_help_lists_every_table_and_view_of_the_schema() -> None:
    con = duckdb.connect(":memory:")
    migrate(con)
    relations = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    tables, views = schema_relations()
    assert {"v_voices", "v_coverage_gaps", "daemon_events", "posts", "v_mentions"} <= set(tables) | set(views)
    assert set(tables) | set(views) == relations - {"schema_migrations", "applied_batches"}
    text = " ".join(CliRunner().invoke(main, ["sql", "--help"]).output.split())
    for name in (*tables, *views):
        assert re.search(rf"\b{name}\b", text), name


def test_import_help_lists_every_format_of_the_registry() -> None:
    from monitor.sources.api import load_sources

    text = CliRunner().invoke(main, ["import", "--help"]).output
    for name in load_sources().readers:
        assert re.search(rf"^\s+{re.escape(name)}\s", text, re.MULTILINE), name

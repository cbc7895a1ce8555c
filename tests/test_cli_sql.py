"""`monitor sql` (issue #15, item 12): CSV and JSON are the data unchanged; the terminal modes (table,
line) show control characters as escapes; several statements each show their result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import post, write_jsonl

CR_TEXT = "Elon Musk\rsays\x1b[31m red\x1b[0m, \"quoted\"\nand a second line"


@pytest.fixture
def stored(cli, tmp_path: Path) -> None:
    posts = [post(1, CR_TEXT), post(2, "Sam Altman " + "wide " * 60)]
    assert cli("import", str(write_jsonl(tmp_path / "a.jsonl", posts))).exit_code == 0


def test_csv_keeps_the_data(cli, stored: None) -> None:
    out = cli("sql", "SELECT post_id, text, created_at FROM posts ORDER BY post_id", "--format", "csv").output
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["post_id", "text", "created_at"]
    assert rows[1][1] == CR_TEXT  # a carriage return and an escape stay what they are, not "\x0d"
    assert rows[1][2] == "2025-01-11T12:00:00Z"  # times say they are UTC


def test_json_keeps_the_data_and_the_zone(cli, stored: None) -> None:
    data = json.loads(cli("sql", "SELECT text, created_at FROM posts WHERE post_id = '1'", "--format", "json").output)
    assert data == [{"text": CR_TEXT, "created_at": "2025-01-11T12:00:00Z"}]
    # --json, as the other commands spell it, is the same output
    assert cli("sql", "SELECT text, created_at FROM posts WHERE post_id = '1'", "--json").output == json.dumps(
        data, indent=2) + "\n"


def test_line_format_shows_wide_rows_whole_and_safely(cli, stored: None) -> None:
    out = cli("sql", "SELECT post_id, text FROM posts ORDER BY post_id", "--format", "line").output
    assert "post_id = 1" in out and "post_id = 2" in out
    assert "\x1b" not in out and "\\x1b[31m" in out
    assert ("wide " * 60).strip() in " ".join(out.split())  # not squeezed into one-character columns


def test_several_statements_each_show_their_result(cli, stored: None) -> None:
    out = cli("sql", "SELECT count(*) AS n_posts FROM posts; SELECT 'x;y' AS semicolon").output
    assert "n_posts" in out and "semicolon" in out and "x;y" in out
    refused = cli("sql", "SELECT 1; SELECT 2", "--format", "csv")
    assert refused.exit_code == 2 and "one statement" in refused.output


def test_a_bad_query_is_one_line(cli, stored: None) -> None:
    result = cli("sql", "SELECT nosuch FROM posts")
    assert result.exit_code == 1
    assert result.output.startswith("Error: query failed:") and len(result.output.strip().splitlines()) == 1


def test_a_big_result_is_written_a_chunk_at_a_time_through_a_file(cli, stored: None, data_dir: Path,
                                                                  monkeypatch) -> None:
    """csv and json of every row were built in memory (100k posts: 850 MB; 10M would not fit). They are
    fetched SQL_FETCH_ROWS at a time into a file beside the database (in memory up to a size), then
    copied out once the database is closed; the table counts the rows it does not show without
    making them Python rows."""
    import monitor.cli as cli_module

    monkeypatch.setattr(cli_module, "SQL_FETCH_ROWS", 7)
    monkeypatch.setattr(cli_module, "SQL_OUTPUT_IN_MEMORY", 100)  # to a file after 100 characters
    query = "SELECT range AS n, 'row ' || range AS label FROM range(50)"
    rows = list(csv.reader(io.StringIO(cli("sql", query, "--format", "csv").output, newline="")))
    assert rows == [["n", "label"]] + [[str(i), f"row {i}"] for i in range(50)]
    assert json.loads(cli("sql", query, "--json").output) == [{"n": i, "label": f"row {i}"} for i in range(50)]
    assert cli("sql", "SELECT 1 AS n WHERE false", "--json").output == "[]\n"
    assert list(data_dir.glob("tmp*")) == []  # the file is gone
    table = cli("sql", query, "--limit", "10").output
    assert "40 more rows not shown" in table and "50 rows" in table

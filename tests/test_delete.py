"""`monitor delete`: the posts of a wrong import, or single posts, go with their analysis and every
figure built on them; the import can be read again. Before it, nothing but a new database removed a
wrong import (a placeholder date, a bad --map)."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.store import Store
from tests.conftest import post, stored, write_jsonl

ANALYSIS_ROWS = ("SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM mentions), "
                 "(SELECT count(*) FROM target_scores), (SELECT count(*) FROM post_sentiment), "
                 "(SELECT count(*) FROM mention_facts)")


def _summary_posts(cli) -> dict[str, int]:
    data = json.loads(cli("summary", "--json").output)
    return {t["target_id"]: t["posts"] for t in data["targets"]}


def test_delete_an_import_then_read_it_again(cli, data_dir: Path, tmp_path: Path) -> None:
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [post(i, f"Elon Musk, take {i}") for i in range(5)])
    other = write_jsonl(tmp_path / "other.jsonl", [post(4, "Elon Musk, take 4"), post(7, "Sam Altman again")])
    cli("import", str(wrong))
    cli("import", str(other))
    store = Store(data_dir)
    before = stored(store, ANALYSIS_ROWS)
    assert before[0][0] == 6 and _summary_posts(cli) == {"musk": 5, "altman": 1}

    dry = cli("delete", "--file", str(wrong), "--dry-run")
    assert dry.exit_code == 0 and "5 stored posts would be deleted" in dry.output
    assert stored(store, ANALYSIS_ROWS) == before

    result = cli("delete", "--file", str(wrong), "--yes", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[0])["posts"] == 5  # x:4 too: wrong.jsonl stored it first
    assert stored(store, ANALYSIS_ROWS) == [(1, 1, 1, 1, 1)]
    assert _summary_posts(cli) == {"altman": 1}  # the summary's figures went with them
    assert stored(store, "SELECT status FROM imports WHERE path = '" + str(wrong) + "'") == [("deleted",)]
    assert stored(store, "SELECT count(*) FROM deletions WHERE source = 'monitor delete'") == [(5,)]

    again = cli("import", str(wrong))  # no longer "already imported"
    assert "5 new" in again.output
    assert stored(store, ANALYSIS_ROWS)[0][0] == 6 and _summary_posts(cli) == {"musk": 5, "altman": 1}


def test_delete_single_posts_says_which_are_not_stored(cli, data_dir: Path, tmp_path: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk"), post(2, "Sam Altman")])))
    result = cli("delete", "--post", "x:1", "--post", "x:404", "--yes")
    assert result.exit_code == 0 and "post x:404: not stored" in result.output and "deleted 1 posts" in result.output
    assert stored(Store(data_dir), "SELECT post_key FROM posts") == [("x:2",)]
    asked = cli("delete", "--post", "x:2", input="n\n")  # asked first; "no" deletes nothing
    assert asked.exit_code == 1 and stored(Store(data_dir)) == [(1,)]
    nothing = cli("delete")
    assert nothing.exit_code == 2 and "--import ID, --file PATH, --post KEY, --before WHEN" in nothing.output


def test_delete_old_posts_of_a_platform(cli, data_dir: Path, tmp_path: Path) -> None:
    """Keeping a window (a year of one platform) for a daemon that runs for months."""
    posts = [post(i, f"Elon Musk, day {i}", platform="reddit" if i % 2 else "x") for i in range(10)]
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", posts)))  # days 2025-01-10 .. 2025-01-19
    result = cli("delete", "--before", "2025-01-15", "--platform", "reddit", "--yes")
    assert result.exit_code == 0 and "deleted 2 posts" in result.output  # reddit:1 and reddit:3
    assert stored(Store(data_dir), "SELECT count(*), count(*) FILTER (WHERE platform = 'reddit') FROM posts") == [
        (8, 3)]
    assert cli("delete", "--before", "soonish").exit_code == 2

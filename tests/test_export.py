"""`monitor export` (issue #15, items 9, 10, 11): the format follows the file name, '-' is standard
output, --flat has a row per (post, target), --since/--until take dates, unknown targets and
platforms are refused, and every time carries its zone."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import post, write_jsonl


@pytest.fixture
def stored(cli, tmp_path: Path) -> None:
    posts = [post(1, "Elon Musk and Sam Altman"), post(2, "Oracle earnings", platform="reddit"),
             post(3, "Musk again", created_at="2016-03-01T08:30:00.250Z")]
    assert cli("import", str(write_jsonl(tmp_path / "a.jsonl", posts))).exit_code == 0


def test_the_format_follows_the_file_name(cli, stored: None, tmp_path: Path) -> None:
    out = tmp_path / "posts.csv"
    result = cli("export", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert not out.read_bytes().startswith(b"PAR1")  # was Parquet in a .csv file
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["post_id"] for r in rows} == {"1", "2", "3"}
    assert pq.read_table(_export(cli, tmp_path / "posts.parquet")).num_rows == 3
    assert len(_export(cli, tmp_path / "posts.jsonl").read_text().splitlines()) == 3
    unknown = cli("export", "-o", str(tmp_path / "posts.txt"))
    assert unknown.exit_code == 2 and "--format" in unknown.output
    assert cli("export", "-o", str(tmp_path / "posts.txt"), "--format", "csv").exit_code == 0
    # the file may also be named as an argument, as in `monitor import FILE`; never twice, never not at all
    assert cli("export", str(tmp_path / "again.csv")).exit_code == 0
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()
    assert "give one" in cli("export", str(tmp_path / "a.csv"), "-o", str(tmp_path / "b.csv")).output
    assert "monitor export FILE" in cli("export").output


def _export(cli, path: Path, *args: str) -> Path:
    result = cli("export", "-o", str(path), *args)
    assert result.exit_code == 0, result.output
    return path


def test_times_are_utc_with_their_zone(cli, stored: None, tmp_path: Path) -> None:
    rows = {r["post_id"]: r for r in csv.DictReader(_export(cli, tmp_path / "p.csv").open(encoding="utf-8"))}
    assert rows["1"]["created_at"] == "2025-01-11T12:00:00Z"
    assert rows["3"]["created_at"] == "2016-03-01T08:30:00.250000Z"
    assert rows["1"]["collected_at"].endswith("Z")
    lines = [json.loads(line) for line in _export(cli, tmp_path / "p.jsonl").read_text().splitlines()]
    assert all(line["created_at"].endswith("Z") and line["collected_at"].endswith("Z") for line in lines)
    schema = pq.read_schema(_export(cli, tmp_path / "p.parquet"))
    assert str(schema.field("created_at").type) == "timestamp[us, tz=UTC]"


def test_stdout_and_flat(cli, stored: None) -> None:
    result = cli("export", "-o", "-", "--flat", "--target", "musk", "--target", "altman")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted((r["post_id"], r["target_id"]) for r in rows) == [("1", "altman"), ("1", "musk"), ("3", "musk")]
    assert all(r["alias"] and r["stance"] for r in rows)
    assert "mentions" not in rows[0]  # no JSON blob in a cell
    assert "wrote 2 posts to standard output" in result.stderr


def test_since_and_until_take_dates(cli, stored: None, tmp_path: Path) -> None:
    early = _export(cli, tmp_path / "early.jsonl", "--since", "2016-01-01", "--until", "2017-01-01")
    assert [json.loads(line)["post_id"] for line in early.read_text().splitlines()] == ["3"]
    recent = _export(cli, tmp_path / "recent.jsonl", "--since", "2020-01-01T00:00+00:00")
    assert {json.loads(line)["post_id"] for line in recent.read_text().splitlines()} == {"1", "2"}
    bad = cli("export", "-o", str(tmp_path / "x.csv"), "--until", "yesterday-ish")
    assert bad.exit_code == 2 and "--until" in bad.output
    backwards = cli("export", "-o", str(tmp_path / "x.csv"), "--since", "2017-01-01", "--until", "2016-01-01")
    assert backwards.exit_code == 2 and "--until must be later than --since" in backwards.output  # not an empty file
    assert not (tmp_path / "x.csv").exists()


def test_unknown_targets_and_platforms_are_refused(cli, stored: None, tmp_path: Path) -> None:
    target = cli("export", "-o", str(tmp_path / "x.csv"), "--target", "nosuch")
    assert target.exit_code == 2 and "unknown target 'nosuch'" in target.output and "musk" in target.output
    platform = cli("export", "-o", str(tmp_path / "x.csv"), "--platform", "myspace")
    assert platform.exit_code == 2 and "'myspace'" in platform.output and "reddit, x" in platform.output
    assert not (tmp_path / "x.csv").exists()
    only = _export(cli, tmp_path / "reddit.csv", "--platform", "reddit")
    assert duckdb.sql(f"SELECT post_id FROM read_csv('{only}')").fetchall() == [(2,)]


def test_a_big_export_is_written_in_windows_with_the_same_bytes(cli, data_dir: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    """In one query DuckDB held the whole export in memory (1M posts: 2.6 GB; its per-post lists of
    mentions cannot spill to disk). It is written in windows of created_at, joined in order: the
    same file, byte for byte, as one query (measured on 1M posts too: 582 MB)."""
    from monitor import export

    posts = [post(i, f"Elon Musk post {i}" + (" and Sam Altman" if i % 3 == 0 else ""),
                  created_at=f"2025-0{1 + i % 3}-{10 + i % 7:02d}T12:00:00Z") for i in range(40)]
    assert cli("import", str(write_jsonl(tmp_path / "many.jsonl", posts))).exit_code == 0
    runs = [("all.csv",), ("all.jsonl",), ("flat.csv", "--flat"), ("musk.jsonl", "--target", "altman"),
            ("window.csv", "--since", "2025-02-01", "--until", "2025-03-15")]
    whole = {run[0]: _export(cli, tmp_path / f"whole-{run[0]}", *run[1:]).read_bytes() for run in runs}
    whole_parquet = pq.read_table(_export(cli, tmp_path / "whole.parquet")).to_pylist()
    monkeypatch.setattr(export, "EXPORT_WINDOW_POSTS", 4)  # 10 windows, with ties across their edges
    for run in runs:
        assert _export(cli, tmp_path / f"windows-{run[0]}", *run[1:]).read_bytes() == whole[run[0]], run
    assert pq.read_table(_export(cli, tmp_path / "windows.parquet")).to_pylist() == whole_parquet
    assert cli("export", "-o", "-", "--format", "jsonl").stdout_bytes == whole["all.jsonl"]
    # a big export says how far it is, window by window (1M posts take ~14 s)
    steps: list[tuple[int, int]] = []
    from monitor.store import Store

    with Store(data_dir).read() as con:
        export.export_posts(con, tmp_path / "counted.csv", "csv", progress=lambda *step: steps.append(step))
    assert (tmp_path / "counted.csv").read_bytes() == whole["all.csv"]
    assert steps == [(4 * k, 40) for k in range(1, 11)]

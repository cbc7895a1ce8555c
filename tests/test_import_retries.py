"""A failed or empty read is not "done": the retry an error recommends (another --encoding, a
--map, another --format) reads the file again; and junk input (a program, an empty file, a CSV
without the needed columns, an unknown encoding) fails with one clear reason instead of
"succeeding" with a bad record per line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.ingest.imports import Importer, ImportOptionError
from monitor.sources.base import NOT_TEXT
from monitor.store import Store
from tests.conftest import post, stored, write_jsonl

CP1252_CSV = ("id,text,created_at,author\n"
              "1,Caf\xe9 talk: Sam Altman on OpenAI,2025-01-10T12:00:00Z,alice\n"
              "2,Na\xefve take on Elon Musk,2025-01-11T12:00:00Z,bob\n").encode("cp1252")


def importer(config, data_dir: Path) -> Importer:
    return Importer(config, Store(data_dir))


def test_a_wrong_encoding_read_does_not_block_the_retry_with_the_right_one(config, data_dir: Path,
                                                                             tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes(CP1252_CSV)
    first = importer(config, data_dir).import_paths([path])[0]
    assert first.failed and first.records == 0 and "--encoding" in (first.skipped or "")
    retry = importer(config, data_dir).import_paths([path], encoding="cp1252")[0]
    assert not retry.skipped and (retry.records, retry.posts_new) == (2, 2)
    again = importer(config, data_dir).import_paths([path], encoding="cp1252")[0]
    assert again.skipped and "already imported" in again.skipped and not again.failed
    # Other options are another read: the file is read again (and its posts are not stored twice).
    other = importer(config, data_dir).import_paths([path], encoding="cp1252", platform="reddit")[0]
    assert not other.skipped and other.records == 2
    assert stored(importer(config, data_dir).store, "SELECT count(*) FROM posts") == [(4,)]


def test_a_read_with_a_missing_column_does_not_block_the_retry_with_map(config, data_dir: Path,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "renamed.csv"
    path.write_text("id,body,created_at,author\n1,Sam Altman again,2025-01-10T12:00:00Z,alice\n", encoding="utf-8")
    first = importer(config, data_dir).import_paths([path], fmt="csv")[0]
    assert first.failed and first.errors == 1
    mapped = importer(config, data_dir).import_paths([path], fmt="csv", mapping={"text": "body"})[0]
    assert not mapped.failed and (mapped.records, mapped.posts_new) == (1, 1)
    with Store(data_dir).read() as con:
        rows = con.execute("SELECT status, records, options FROM imports ORDER BY started_at").fetchall()
    assert [r[:2] for r in rows] == [("failed", 0), ("complete", 1)]
    assert '"mapping"' in rows[1][2] and '"mapping"' not in rows[0][2]


def test_another_format_reads_the_file_again(config, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,text,created_at,author\n1,Elon Musk on Mars,2025-01-10T12:00:00Z,alice\n", encoding="utf-8")
    assert importer(config, data_dir).import_paths([path])[0].records == 1
    as_csv = importer(config, data_dir).import_paths([path], fmt="csv")[0]
    assert as_csv.skipped and "already imported" in as_csv.skipped  # auto-detected as csv: same read
    as_jsonl = importer(config, data_dir).import_paths([path], fmt="jsonl")[0]
    assert not (as_jsonl.skipped or "").startswith("already imported")
    assert as_jsonl.failed  # and a CSV read as JSON Lines gives no post: a failed input


def test_a_program_is_not_read_as_csv(config, data_dir: Path, tmp_path: Path) -> None:
    binary = tmp_path / "ls.csv"
    shutil.copy("/bin/ls", binary)
    for fmt in ("auto", "csv"):
        report = importer(config, data_dir).import_paths([binary], fmt=fmt)[0]
        assert report.failed and report.records == 0 and report.errors == 0
        assert "not a text file" in (report.skipped or "")


def test_an_image_beside_the_data_in_a_folder_is_skipped_not_failed(config, data_dir: Path, tmp_path: Path) -> None:
    """A folder of exports with a chart image in it failed the whole import (exit status 1) every time;
    named on its own, the image still fails."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_jsonl(folder / "day1.jsonl", [post(1, "Elon Musk")])
    (folder / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    reports = importer(config, data_dir).import_paths([folder])
    assert [(Path(r.path).name, r.failed, NOT_TEXT in (r.skipped or "")) for r in reports] == [
        ("chart.png", False, True), ("day1.jsonl", False, False)]
    [named] = importer(config, data_dir).import_paths([folder / "chart.png"])
    assert named.failed


def test_utf16_text_is_not_mistaken_for_binary(config, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes("id,text,created_at,author\n1,Satya Nadella,2025-01-10T12:00:00Z,a\n".encode("utf-16"))
    report = importer(config, data_dir).import_paths([path], fmt="csv", encoding="utf-16")[0]
    assert not report.failed and report.records == 1


def test_a_csv_without_the_needed_columns_is_one_error(config, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,age,city\n" + "".join(f"p{i},{20 + i},Berlin\n" for i in range(50)), encoding="utf-8")
    report = importer(config, data_dir).import_paths([path])[0]
    assert report.failed and report.errors == 1 and report.records == 0
    assert report.error_samples[0].reason.startswith(
        "this file has no id/text/created_at columns (map them with --map id=COLUMN ...)")
    assert "no post could be read" in (report.skipped or "") and "\n" not in (report.skipped or "")
    partly = tmp_path / "partly.csv"
    partly.write_text("id,message,created_at\n1,hello Musk,2025-01-01\n", encoding="utf-8")
    one = importer(config, data_dir).import_paths([partly])[0]
    assert one.failed and one.errors == 1 and "no text column (map it with --map text=COLUMN" in one.skipped


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "blank.jsonl"])
def test_an_empty_file_fails_with_a_reason(config, data_dir: Path, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("\n \n" if name.startswith("blank") else "", encoding="utf-8")
    report = importer(config, data_dir).import_paths([path])[0]
    assert report.failed and report.skipped == "the file is empty: nothing to import"


def test_a_corrupt_compressed_file_is_not_called_empty(config, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage that is no deflate stream at all")
    report = importer(config, data_dir).import_paths([path])[0]
    assert report.failed and "corrupt or truncated" in (report.skipped or "")


def test_a_file_with_no_good_record_fails(config, data_dir: Path, tmp_path: Path) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,text,created_at,author\n", encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "1", "text": "Musk"}\n{"id": "2", "text": "Altman"}\n', encoding="utf-8")
    store = Store(data_dir)
    header, bad = Importer(config, store).import_paths([header_only, broken], fmt="auto")
    assert header.failed and header.skipped == "no posts in this file (read as csv)"
    # the first bad record is named whole: file, line, field and reason
    assert bad.failed and bad.skipped.startswith(
        f"no post could be read (2 bad records); the first: {broken}:1: field 'created_at': missing")
    assert stored(store, "SELECT status FROM imports ORDER BY path") == [("failed",), ("failed",)]


def test_an_empty_folder_is_reported(config, data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    folder.mkdir()
    [report] = importer(config, data_dir).import_paths([folder])
    assert report.failed and "no files to import" in (report.skipped or "")


def test_an_unknown_encoding_is_a_clear_error_before_reading(config, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,text,created_at\n1,Musk,2025-01-01\n", encoding="utf-8")
    with pytest.raises(ImportOptionError, match="unknown encoding 'nosuchenc'"):
        importer(config, data_dir).import_paths([path], encoding="nosuchenc")
    assert isinstance(ImportOptionError("x"), ValueError)
    assert not (data_dir / "monitor.duckdb").exists()  # refused before anything was written

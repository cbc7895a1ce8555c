"""Generic JSON Lines and CSV readers (monitor/sources/generic.py)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.models import Post
from monitor.sources.api import detect_format
from monitor.sources.base import ArchiveInput, RecordError
from monitor.sources.generic import read_csv, read_jsonl, read_parquet


def split(items: list[Post | RecordError]) -> tuple[list[Post], list[RecordError]]:
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, RecordError)]


def record(i: int, **extra: object) -> dict:
    return {"platform": "x", "id": str(i), "text": f"post {i}", "created_at": f"2025-01-{10 + i:02d}T12:00:00Z",
            "author": f"user{i}", **extra}


def test_csv_quoted_multiline_text(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "platform,id,text,created_at,author,likes\n"
        'x,1,"first line\nsecond line, with a comma\nand a ""quote""",2025-01-10T12:00:00Z,alice,3\n'
        "x,2,plain,2025-01-11 08:30:00,bob,\n",
        encoding="utf-8",
    )
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None and reader.name == "csv"
    posts, errors = split(list(read_csv(source)))
    assert errors == []
    assert [p.id for p in posts] == ["1", "2"]
    assert posts[0].text == 'first line\nsecond line, with a comma\nand a "quote"'
    assert posts[0].author.handle == "alice"
    assert posts[0].engagement.likes == 3
    assert posts[0].created_at == datetime(2025, 1, 10, 12, tzinfo=UTC)
    assert [p.provenance.line for p in posts] == [2, 5]  # a row's first line
    assert posts[1].created_at == datetime(2025, 1, 11, 8, 30, tzinfo=UTC)
    assert posts[1].engagement.likes is None


def test_csv_quoted_field_keeps_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text('platform,id,text,created_at,author\nx,1,"para one\n\npara two",2025-01-10,alice\n',
                    encoding="utf-8")
    posts, errors = split(list(read_csv(ArchiveInput(path))))
    assert errors == []
    assert posts[0].text == "para one\n\npara two"


def test_csv_stray_quote_costs_its_row_not_the_rest_of_the_file(tmp_path: Path, monkeypatch) -> None:
    """A '"' that opens a field never closed swallowed every line after it into one field (the rest of
    the file lost: 'unterminated quoted field at end of file'), and joining the lines at each one
    made it quadratic (10 MB did not finish in two minutes). Now the row is skipped once the open
    field passes CSV_ROW_LIMIT, or at the end of the file, and reading goes on at its next line."""
    from monitor.sources import generic

    monkeypatch.setattr(generic, "CSV_ROW_LIMIT", 200)
    rows = [f"x,{i},post {i} about Musk,2025-01-10,alice" for i in range(3, 60)]
    path = tmp_path / "posts.csv"
    path.write_text("platform,id,text,created_at,author\n"
                    'x,1,"a real\nmultiline field",2025-01-10,bob\n'
                    'x,2,"a stray quote,2025-01-10,alice\n' + "\n".join(rows) + "\n"
                    'x,99,"open at the end,2025-01-10,carol\nx,100,the last row,2025-01-10,dan\n', encoding="utf-8")
    posts, errors = split(list(read_csv(ArchiveInput(path))))
    assert [p.id for p in posts] == ["1", *[str(i) for i in range(3, 60)], "100"]
    assert posts[0].text == "a real\nmultiline field" and posts[1].provenance.line == 5
    assert [(e.line, "stray" in e.reason) for e in errors] == [(4, True), (62, True)]
    assert "still open after 200 characters" in errors[0].reason and "end of file" in errors[1].reason


def test_csv_long_post_is_read(tmp_path: Path) -> None:
    """A 200,000-character blog post in one field was a bad record: the csv module refuses fields over
    131,072 characters by default, below the reader's own CSV_ROW_LIMIT."""
    long_text = "Musk said the backers do not have the money. " * 4500
    path = tmp_path / "posts.csv"
    path.write_text("platform,id,text,created_at,author\n"
                    f'x,1,"{long_text}",2025-01-10,alice\nx,2,short,2025-01-11,bob\n', encoding="utf-8")
    posts, errors = split(list(read_csv(ArchiveInput(path))))
    assert errors == []
    assert [p.id for p in posts] == ["1", "2"] and len(posts[0].text) > 131_072


def test_jsonl_missing_text_is_reported_with_line_and_field(tmp_path: Path) -> None:
    rows = [record(1), record(2), record(3)]
    del rows[1]["text"]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None and reader.name == "jsonl"
    posts, errors = split(list(read_jsonl(source)))
    assert [p.id for p in posts] == ["1", "3"]
    assert len(errors) == 1
    assert (errors[0].line, errors[0].field) == (2, "text")
    assert "--map text=COLUMN" in errors[0].reason


def test_a_post_dated_in_the_future_is_a_bad_record(tmp_path: Path) -> None:
    """A post dated 2099 (a placeholder, a wrong unit) was stored, and every "since all" window and
    trend stretched to 2099. More than a day ahead of the clock is refused, naming line and field; so is
    the Unix epoch itself (a missing time written as 0)."""
    soon = datetime.now(UTC).timestamp() + 3600  # an hour ahead: a clock a little off, kept
    rows = [record(1, created_at="2099-01-01T00:00:00Z"), record(2, created_at=soon),
            record(3, created_at=int(soon * 1000) + 10 * 86_400_000), record(4), record(5, created_at=0)]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    posts, errors = split(list(read_jsonl(ArchiveInput(path))))
    assert [p.id for p in posts] == ["2", "4"]
    assert [(e.line, e.field) for e in errors] == [(1, "created_at"), (3, "created_at"), (5, "created_at")]
    assert "2099-01-01 00:00 UTC is in the future" in errors[0].reason and "Unix epoch" in errors[2].reason


def test_csv_missing_text_column_value(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("platform,id,text,created_at,author\nx,1,,2025-01-10,alice\nx,2,ok,2025-01-11,bob\n",
                    encoding="utf-8")
    posts, errors = split(list(read_csv(ArchiveInput(path))))
    assert [p.id for p in posts] == ["2"]
    assert [(e.line, e.field) for e in errors] == [(2, "text")]


def test_mapping_other_column_names(tmp_path: Path) -> None:
    rows = [{"post_id": "a1", "body": "hello", "posted": 1736510400, "user": "carol", "hearts": "7"},
            {"post_id": "a2", "body": "again", "posted": "2025-01-11T00:00:00+02:00", "user": "dave"}]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapping = {"id": "post_id", "text": "body", "created_at": "posted", "author": "user", "likes": "hearts"}
    posts, errors = split(list(read_jsonl(ArchiveInput(path), mapping=mapping, platform="forum")))
    assert errors == []
    assert [(p.platform, p.id, p.text, p.author.handle) for p in posts] == [
        ("forum", "a1", "hello", "carol"), ("forum", "a2", "again", "dave")]
    assert posts[0].created_at == datetime(2025, 1, 10, 12, tzinfo=UTC)
    assert posts[1].created_at == datetime(2025, 1, 10, 22, tzinfo=UTC)  # converted to UTC
    assert posts[0].engagement.likes == 7

    # A mapped column that is missing is reported under its real name, without the --map hint.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"post_id": "a3", "posted": 1736510400}) + "\n", encoding="utf-8")
    _, errors = split(list(read_jsonl(ArchiveInput(bad), mapping=mapping)))
    assert [(e.line, e.field) for e in errors] == [(1, "body")]
    assert "--map" not in errors[0].reason


def test_non_utf8_line_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    lines = [json.dumps(record(1)).encode(), json.dumps(record(2)).encode().replace(b"post 2", b"caf\xe9"),
             json.dumps(record(3)).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    posts, errors = split(list(read_jsonl(ArchiveInput(path))))
    assert [p.id for p in posts] == ["1", "3"]
    assert len(errors) == 1 and errors[0].line == 2
    assert "not valid utf-8" in errors[0].reason and "--encoding" in errors[0].reason

    csv_path = tmp_path / "posts.csv"
    csv_path.write_bytes(b"platform,id,text,created_at,author\nx,1,caf\xe9,2025-01-10,a\nx,2,ok,2025-01-11,b\n")
    csv_posts, csv_errors = split(list(read_csv(ArchiveInput(csv_path))))
    assert [p.id for p in csv_posts] == ["2"] and [e.line for e in csv_errors] == [2]
    latin, latin_errors = split(list(read_csv(ArchiveInput(csv_path), encoding="cp1252")))
    assert latin_errors == [] and latin[0].text == "café"


def test_gzip_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(1, 4):
            fh.write(json.dumps(record(i, lang="en", reply_to="0" if i == 2 else None)) + "\n")
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None and reader.name == "jsonl"
    posts, errors = split(list(reader.read(source)))
    assert errors == []
    assert [p.id for p in posts] == ["1", "2", "3"]
    assert posts[1].reply_to == "0" and posts[0].lang == "en"
    assert posts[0].provenance.source == "jsonl" and posts[0].provenance.line == 1


def test_broken_json_line_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps(record(1)) + "\n" + '{"id": "2", "text": \n' + json.dumps(record(3)) + "\n",
                    encoding="utf-8")
    posts, errors = split(list(read_jsonl(ArchiveInput(path))))
    assert [p.provenance.line for p in posts] == [1, 3]
    assert len(errors) == 1 and errors[0].line == 2 and "not valid JSON" in errors[0].reason


def test_generic_jsonl_with_author_id_is_not_taken_for_tweets(tmp_path: Path) -> None:
    # Platform readers sniff first; a flat generic record must still reach the generic reader.
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps(record(1, author_id="42", likes=3)) + "\n", encoding="utf-8")
    reader = detect_format(ArchiveInput(path))
    assert reader is not None and reader.name == "jsonl"
    [post] = list(reader.read(ArchiveInput(path)))
    assert isinstance(post, Post) and post.author.id == "42" and post.platform == "x"


def test_a_json_array_of_posts_is_read_element_by_element(tmp_path: Path, monkeypatch) -> None:
    """`[{...}, {...}]`, as pandas and many scrapers export posts: it was "format not recognised", and
    with --format jsonl one record, the whole list ('expected a JSON object, got list')."""
    from monitor.sources import base

    rows = [record(i) for i in range(1, 6)]
    rows[2]["created_at"] = "not a time"
    path = tmp_path / "export.json"
    path.write_text("\ufeff" + json.dumps(rows, indent=2), encoding="utf-8")
    lines = [n for n, line in enumerate(json.dumps(rows, indent=2).splitlines(), 1) if line == "  {"]
    source = ArchiveInput(path)
    reader = detect_format(source)
    assert reader is not None and reader.name == "json"
    for chunk in (5, 1 << 20):  # a chunk of a few bytes cuts every element
        monkeypatch.setattr(base, "TEXT_CHUNK", chunk)
        posts, errors = split(list(reader.read(source)))
        assert [(p.id, p.text, p.provenance.line) for p in posts] == [
            (str(i), f"post {i}", lines[i - 1]) for i in (1, 2, 4, 5)]
        assert [(e.line, e.field) for e in errors] == [(lines[2], "created_at")]
    (tmp_path / "statuses.json").write_text(json.dumps([{"id": "1", "content": "<p>hi</p>"}]), encoding="utf-8")
    other = detect_format(ArchiveInput(tmp_path / "statuses.json"))
    assert other is None or other.name != "json"  # a Mastodon timeline is not a generic export


def test_a_json_array_cut_into_chunks_inside_numbers_and_literals(tmp_path: Path, monkeypatch) -> None:
    """A number or literal at the very end of what was read may go on in the next chunk."""
    from monitor.sources import base

    values = [12345, 678, {"a": [1, 2]}, 99999, True, None, "a string", -0.5e3]
    (tmp_path / "n.json").write_text(json.dumps(values), encoding="utf-8")
    for chunk in (1, 2, 3, 5):
        monkeypatch.setattr(base, "TEXT_CHUNK", chunk)
        assert [v for _, v in base.iter_json_array(ArchiveInput(tmp_path / "n.json"))] == values, chunk


def test_parquet_posts_with_typed_columns_a_field_map_and_a_bad_row(config, data_dir: Path, tmp_path: Path) -> None:
    """Parquet (what DuckDB, pandas and dataset hubs write) was refused as "not a text file"."""
    import zipfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from monitor.ingest.imports import Importer
    from monitor.store import Store
    from tests.conftest import stored

    table = pa.table({
        "tweet_id": pa.array([11, 12, 13], pa.int64()),
        "body": ["Elon Musk on Stargate", None, "Sam Altman replies"],
        "created_at": pa.array([datetime(2025, 1, 21, 12), datetime(2025, 1, 22), datetime(2025, 1, 23)],
                               pa.timestamp("us")),
        "user": [{"handle": "ann"}, {"handle": "bob"}, {"handle": "cy"}],  # a struct column
    })
    path = tmp_path / "posts.parquet"
    pq.write_table(table, path, row_group_size=2)
    posts, errors = split(list(read_parquet(ArchiveInput(path), mapping={"id": "tweet_id", "text": "body",
                                                                        "author": "user"}, platform="x")))
    assert [(p.id, p.text, p.created_at, p.author.handle, p.provenance.line) for p in posts] == [
        ("11", "Elon Musk on Stargate", datetime(2025, 1, 21, 12, tzinfo=UTC), "ann", 1),
        ("13", "Sam Altman replies", datetime(2025, 1, 23, tzinfo=UTC), "cy", 3)]
    assert [(e.line, e.field) for e in errors] == [(2, "body")]  # the column, as the file names it
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as zf:  # detected by its first bytes, also in a .zip
        zf.write(path, "data/posts.parquet")
    [report] = Importer(config, Store(data_dir)).import_paths([tmp_path / "export.zip"], mapping={
        "id": "tweet_id", "text": "body", "author": "user"}, platform="x")
    assert (report.format, report.records, report.posts_new, report.errors) == ("parquet", 2, 2, 1)
    assert stored(Store(data_dir), "SELECT post_key, source FROM posts ORDER BY 1") == [
        ("x:11", "parquet"), ("x:13", "parquet")]


def test_a_text_of_more_than_a_million_characters_is_a_bad_record(tmp_path: Path, monkeypatch) -> None:
    """A document or a dump in one field (100 MB) stalled the learned analyzer for most of an hour."""
    from monitor.sources import base

    monkeypatch.setattr(base, "MAX_TEXT_CHARS", 1000)
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [record(1), record(2, text="Musk " * 201), record(3)]),
                    encoding="utf-8")
    posts, errors = split(list(read_jsonl(ArchiveInput(path))))
    assert [p.id for p in posts] == ["1", "3"]
    assert [(e.line, e.field) for e in errors] == [(2, "text")] and "1,005 characters is not a post" in errors[0].reason

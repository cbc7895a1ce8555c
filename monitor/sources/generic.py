"""Generic JSON Lines and CSV archives.

Minimal fields: ``platform``, ``id``, ``text``, ``created_at``, ``author``. Optional: ``url``,
``lang``, ``author_id``, ``author_name``, ``likes``, ``reposts``, ``replies``, ``quotes``,
``reply_to``, ``quote_of``. Other column names are mapped with ``--map field=column``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from monitor.models import Post, Provenance
from monitor.sources.api import register_reader
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    RecordError,
    iter_json_array,
    iter_json_records,
    iter_lines,
    opt_str,
    parse_time,
    records_with_errors,
    to_int,
)

REQUIRED = ("id", "text", "created_at")
FIELDS = (
    "platform", "id", "text", "created_at", "author", "author_id", "author_name", "url", "lang",
    "likes", "reposts", "replies", "quotes", "reply_to", "quote_of",
)


def transform_generic(
    record: Mapping[str, Any],
    provenance: Provenance | dict[str, Any],
    mapping: Mapping[str, str] | None = None,
    default_platform: str = "generic",
) -> Post:
    """A flat record (JSON object or CSV row) -> Post, with optional field -> column mapping.
    This runs for every line of a large archive, so it is written for speed: one pydantic
    validation per post (nested values as plain dicts), no copies of the record."""
    if not isinstance(record, Mapping):
        raise FieldError("record", f"expected a JSON object, got {type(record).__name__}")
    if mapping:
        record = {field: record.get(mapping.get(field, field)) for field in FIELDS}
    values = {k: v for k, v in record.items() if v is not None and v != ""} if "" in record.values() else record
    for name in REQUIRED:
        if values.get(name) is None:
            column = (mapping or {}).get(name, name)
            hint = "" if column != name else f" (map another column with --map {name}=COLUMN)"
            raise FieldError(column, f"missing{hint}")
    for name in ("id", "text"):  # a nested value's repr would be stored as the key or the text
        if isinstance(values[name], (Mapping, list)):
            kind = "object" if isinstance(values[name], Mapping) else "array"
            raise FieldError((mapping or {}).get(name, name), f"expected a string or a number, got a JSON {kind}")
    author = values.get("author")
    if isinstance(author, Mapping):
        author_fields = {"id": opt_str(author.get("id")), "name": opt_str(author.get("name")),
                         "handle": opt_str(author.get("handle") or author.get("username"))}
    else:
        author_fields = {"id": opt_str(values.get("author_id")), "handle": opt_str(author),
                         "name": opt_str(values.get("author_name"))}
    get = values.get
    return Post.model_validate({
        "platform": str(get("platform") or default_platform),
        "id": str(get("id")),
        "url": opt_str(get("url")),
        "author": author_fields,
        "text": str(get("text")),
        "lang": opt_str(get("lang")),
        "created_at": parse_time(get("created_at"), (mapping or {}).get("created_at", "created_at")),
        "reply_to": opt_str(get("reply_to")),
        "quote_of": opt_str(get("quote_of")),
        "engagement": {"likes": to_int(get("likes")), "reposts": to_int(get("reposts")),
                       "replies": to_int(get("replies")), "quotes": to_int(get("quotes"))},
        "provenance": provenance,
        "raw": record,
    })


def missing_columns(header: list[str], mapping: Mapping[str, str] | None) -> str | None:
    """Why no row of a CSV with this header can be a post (required columns absent), or None."""
    missing = [f for f in REQUIRED if (mapping or {}).get(f, f) not in header]
    if not missing:
        return None
    names = "/".join(missing)
    plural = "s" if len(missing) > 1 else ""
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    return (f"this file has no {names} column{plural} (map {'them' if plural else 'it'} with "
            f"--map {missing[0]}=COLUMN ...); its columns are: {shown}")


def _header_delimiter(header: str, default: str) -> str:
    """The delimiter a header line uses, where it has none of ``default``: spreadsheets in many
    locales write ';' (the decimal comma takes ','), some '|'."""
    if default in header:
        return default
    counts = {sep: header.count(sep) for sep in (";", "\t", "|", ",")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else default


def _looks_generic_jsonl(sample: str, name: str) -> bool:
    first = sample.lstrip().split("\n", 1)[0]
    return first.startswith("{") and '"text"' in first and '"id"' in first


def _looks_csv(sample: str, name: str) -> bool:
    if name.lower().rsplit(".", 1)[-1] in ("csv", "tsv") or name.lower().endswith((".csv.gz", ".csv.zst")):
        return True
    header = sample.split("\n", 1)[0].lower()
    return "," in header and "text" in header and not header.lstrip().startswith(("{", "["))


@register_reader("jsonl", description="Generic JSON Lines: platform, id, text, created_at, author",
                 sniff=_looks_generic_jsonl, priority=90)
def read_jsonl(source: ArchiveInput, *, mapping: Mapping[str, str] | None = None, platform: str = "generic",
               encoding: str = "utf-8", **_: Any) -> Iterator[Post | RecordError]:
    yield from _generic_posts(source, "jsonl", iter_json_records(source, encoding=encoding), mapping, platform)


def _generic_posts(source: ArchiveInput, reader: str, records: Iterator[Any], mapping: Mapping[str, str] | None,
                   platform: str) -> Iterator[Post | RecordError]:
    """The posts of generic JSON records ((line, record) pairs and errors), stamped with ``reader``."""
    name = source.name

    def mapper(record: Any, lineno: int) -> Iterator[Post]:
        # Provenance as a dict: validated together with the post, in one pydantic call.
        yield transform_generic(record, {"source": reader, "file": name, "line": lineno}, mapping, platform)

    yield from records_with_errors(source, records, mapper)


def _looks_generic_json_array(sample: str, name: str) -> bool:
    """A JSON array whose first element is a post object (id and text): an export of posts as one
    JSON document. Top-level arrays of other shapes (a Mastodon timeline) are not this."""
    text = sample.lstrip()
    if not text.startswith("["):
        return False
    first, _ = json.JSONDecoder().raw_decode(text, len(text) - len(text[1:].lstrip()))
    return isinstance(first, dict) and "text" in first and "id" in first


@register_reader("json", description="Generic JSON array of post objects (the fields of jsonl), read a chunk at a time",
                 sniff=_looks_generic_json_array, priority=91)
def read_json_array(source: ArchiveInput, *, mapping: Mapping[str, str] | None = None, platform: str = "generic",
                    encoding: str = "utf-8", **_: Any) -> Iterator[Post | RecordError]:
    yield from _generic_posts(source, "json", iter_json_array(source, encoding), mapping, platform)


PARQUET_BATCH_ROWS = 10_000


def _parquet_records(source: ArchiveInput) -> Iterator[tuple[int, Any]]:
    """(row number from 1, row as a dict) of a Parquet file, a row group batch at a time. A file on
    disk is read where it is; a .zip member or a compressed file (not seekable) is read into memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = source.member is None and not source.path.name.lower().endswith((".gz", ".zst", ".zstd"))
    with (open(source.path, "rb") if plain else source.open()) as fh:
        parquet = pq.ParquetFile(fh if plain else pa.BufferReader(fh.read()))
        row = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for record in batch.to_pylist():
                row += 1
                yield row, record


@register_reader("parquet", description="Generic Parquet file of posts (the fields of jsonl, typed columns; rows "
                                        "numbered as lines)", sniff=lambda sample, name: False, priority=97,
                 magic=b"PAR1")
def read_parquet(source: ArchiveInput, *, mapping: Mapping[str, str] | None = None, platform: str = "generic",
                 **_: Any) -> Iterator[Post | RecordError]:
    yield from _generic_posts(source, "parquet", _parquet_records(source), mapping, platform)


@register_reader("csv", description="Generic CSV with a header row: platform, id, text, created_at, author",
                 sniff=_looks_csv, priority=95)
def read_csv(source: ArchiveInput, *, mapping: Mapping[str, str] | None = None, platform: str = "generic",
             encoding: str = "utf-8", delimiter: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    """CSV rows may span lines (quoted newlines); line numbers are the row's first line."""
    name = source.name
    if csv.field_size_limit() < CSV_ROW_LIMIT:
        csv.field_size_limit(CSV_ROW_LIMIT)
    header: list[str] | None = None
    sep = delimiter or ("\t" if source.basename.lower().endswith((".tsv", ".tsv.gz")) else ",")
    for item in _csv_records(source, encoding):
        if isinstance(item, RecordError):
            yield item
            continue
        start_line, joined = item
        try:
            row = next(csv.reader(io.StringIO(joined), delimiter=sep))
        except (csv.Error, StopIteration) as exc:
            yield RecordError(name, start_line, f"not valid CSV: {exc}")
            continue
        if header is None:
            if delimiter is None and (sniffed := _header_delimiter(joined, sep)) != sep:
                sep, row = sniffed, next(csv.reader(io.StringIO(joined), delimiter=sniffed))
            header = [h.strip().lstrip("\ufeff") for h in row]
            missing = missing_columns(header, mapping)
            if missing:  # every row would fail the same way: say it once, for the file
                yield RecordError(name, start_line, missing)
                return
            continue
        if len(row) != len(header):
            yield RecordError(name, start_line, f"expected {len(header)} columns, found {len(row)}; row skipped")
            continue
        try:
            yield transform_generic(dict(zip(header, row, strict=True)),
                                    Provenance(source="csv", file=name, line=start_line), mapping, platform)
        except FieldError as exc:
            yield RecordError(name, start_line, exc.reason, exc.field)
        except ValueError as exc:
            yield RecordError(name, start_line, str(exc))


# A quoted field may span lines; one still open after this many characters is a stray quote: its row is
# skipped and reading goes on at the line after it, instead of the rest of the file being swallowed into
# one field. A closed field up to this size is a post (a long blog post or comment): the csv module's own
# limit (131,072 characters by default) is raised to it, so such a row is read, not reported as bad.
CSV_ROW_LIMIT = 1 << 18


def _csv_records(source: ArchiveInput, encoding: str) -> Iterator[tuple[int, str] | RecordError]:
    """(first line, text) of each CSV record, joining the lines of quoted newlines. The quotes are
    counted line by line (joining the record's lines at each one made a stray quote quadratic: a
    10 MB file did not finish in 2 minutes)."""
    lines = iter_lines(source, encoding, keep_blank=True)  # a quoted field may hold blank lines
    again: list[tuple[int, str]] = []  # lines to read again after a stray quote, last first
    buffer: list[tuple[int, str]] = []
    quotes = size = 0
    while True:
        item = again.pop() if again else next(lines, None)
        if item is None or isinstance(item, RecordError):
            if item is not None:
                yield item
                continue
            if not buffer:
                return
            yield RecordError(source.name, buffer[0][0], "unterminated quoted field at end of file (a stray '\"'?); "
                                                         "row skipped, reading goes on at its next line")
            again, buffer, quotes, size = buffer[:0:-1], [], 0, 0
            continue
        text = item[1]
        if not buffer and not text.strip():
            continue
        buffer.append(item)
        quotes += text.count('"')
        size += len(text)
        if quotes % 2 == 0:  # not inside a quoted field that goes on at the next line
            yield buffer[0][0], "".join(t for _, t in buffer)
            buffer, quotes, size = [], 0, 0
        elif size > CSV_ROW_LIMIT:
            yield RecordError(source.name, buffer[0][0], f"a quoted field still open after {CSV_ROW_LIMIT:,} "
                                                         "characters (a stray '\"'?); row skipped, reading goes on "
                                                         "at its next line")
            again, buffer, quotes, size = buffer[:0:-1], [], 0, 0

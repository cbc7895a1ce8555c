"""A big JSON Lines input read in byte ranges by the worker processes (monitor/ingest/ranges.py):
the same stored rows, counts, bad records and line numbers as when the main process reads it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from monitor.config import Config
from monitor.ingest import ranges
from monitor.ingest.imports import Importer
from monitor.ingest.lake_input import first_frame_within, zstd_frame_offsets
from monitor.ingest.pool import AnalysisPool
from monitor.store import Store
from tests.conftest import post, stored

TEXTS = ["Elon Musk says the Stargate backers do not have the money", "Sam Altman: wrong, as you surely know",
         "Satya Nadella is good for his $80 billion", "what a lovely day at the beach", "OpenAI and Oracle, again",
         "Benioff thinks Microsoft and OpenAI will split", "nothing to see here", "Masayoshi Son chairs Stargate"]
TABLES = {
    "posts": "SELECT * EXCLUDE (import_id, collected_at) FROM posts ORDER BY post_key",
    "mentions": "SELECT * FROM mentions ORDER BY ALL",
    "post_sentiment": "SELECT * EXCLUDE (scored_at) FROM post_sentiment ORDER BY ALL",
    "target_scores": "SELECT * EXCLUDE (scored_at) FROM target_scores ORDER BY ALL",
    "import_errors": "SELECT file, line, field, reason FROM import_errors ORDER BY line",
    "lines": "SELECT post_key, source_line FROM posts ORDER BY post_key",
    "rollup_words": "SELECT day, target_id, kind, word, sum(posts) FROM rollup_words GROUP BY ALL ORDER BY ALL",
}


def _archive(path: Path, count: int, repeats: bool = False) -> Path:
    """Posts (some naming no target), with bad lines and blank ones; with ``repeats``, post ids seen
    twice: once in the next line (the same range), once 500 lines on (another range)."""
    lines = []
    for i in range(count):
        record = post(i, f"{TEXTS[i % len(TEXTS)]} #{i % 13}")
        if repeats and i % 97 == 5:
            record["id"] = str(i - 1)  # the post before, again
        if repeats and i % 250 == 7 and i > 500:
            record["id"] = str(i - 500)
        lines.append(json.dumps(record))
        if i % 211 == 3:
            lines.append('{"platform": "x", "id": "broken", "text": "Elon Musk"')  # cut short
        if i % 301 == 9:
            lines.append(json.dumps({"platform": "x", "id": f"no-text-{i}", "created_at": "2025-01-02"}))
        if i % 157 == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_workers(config: Config) -> Iterator[AnalysisPool]:
    """One pool of two worker processes for the module's ranged imports (starting one costs ~0.5 s)."""
    pool = AnalysisPool(config, workers=2)
    yield pool
    pool.close()


def _imported(config: Config, data_dir: Path, path: Path, pool: AnalysisPool | None, **options: object) -> tuple:
    """An import of ``path`` into a new store: by ``pool``'s workers, or with None in this process
    (one worker: the file read whole)."""
    store = Store(data_dir)
    report = Importer(config, store, pool or AnalysisPool(config, workers=1)).import_paths([path], **options)[0]
    assert pool is None or pool._pool is not None  # the ranges went to its worker processes
    return report, {name: stored(store, sql) for name, sql in TABLES.items()}


@pytest.mark.parametrize("repeats", [False, True])
def test_ranges_store_what_one_reader_stores(config: Config, tmp_path: Path, monkeypatch, repeats: bool,
                                             two_workers: AnalysisPool) -> None:
    archive = _archive(tmp_path / "posts.jsonl", 2400, repeats)
    monkeypatch.setattr(ranges, "RANGE_BYTES", 16 << 10)  # ~30 ranges, lines cut across their ends
    assert len(ranges.split_ranges(str(archive), ranges.RANGE_BYTES)) > 20
    ranged_report, ranged = _imported(config, tmp_path / "ranged", archive, two_workers)
    whole_report, whole = _imported(config, tmp_path / "whole", archive, None)
    assert ranged == whole
    assert (ranged_report.posts_new, ranged_report.errors) == (whole_report.posts_new, whole_report.errors)
    assert ranged_report.posts_new == len(whole["posts"]) > 1500
    assert ranged_report.errors == len(whole["import_errors"]) == 12 + 8
    counts = ("records", "posts_seen", "unmatched")
    if repeats:
        # A post read twice in one write batch is read once (the first), as before; in another batch, the
        # store counts it as seen. Ranges cut the batches elsewhere than 5,000 posts: the counts may differ
        # by such posts, and the rows may not.
        assert 0 <= ranged_report.records - whole_report.records <= 2400 // 250
    else:
        assert [getattr(ranged_report, c) for c in counts] == [getattr(whole_report, c) for c in counts]
    # the line numbers are the file's: each stored post's line holds its id
    lines = archive.read_text(encoding="utf-8").splitlines()
    for key, line in ranged["lines"][::97]:
        assert json.loads(lines[line - 1])["id"] == key.split(":", 1)[1]
    assert all(lines[line - 1].startswith('{"platform": "x", "id": "') for _, line, _, _ in ranged["import_errors"])


def test_ranges_with_the_prefilter_store_what_one_reader_stores(config: Config, tmp_path: Path, monkeypatch,
                                                               two_workers: AnalysisPool) -> None:
    """A Reddit dump (the reader that skips unparsed the lines naming no target), uncompressed and in
    several zstd frames: the same rows with and without ranges."""
    records = [{"id": f"c{i}", "author": f"u{i % 7}", "body": TEXTS[i % len(TEXTS)] if i % 9 else "",
                "subreddit": "tech", "score": i, "created_utc": 1700000000 + i * 60, "link_id": "t3_abc",
                "parent_id": "t3_abc"}
               for i in range(3000)]
    raw = "".join(json.dumps(r) + "\n" for r in records).encode()
    plain = tmp_path / "RC_2025-01"
    plain.write_bytes(raw)
    framed = tmp_path / "RC_2025-01.zst"
    third = len(raw) // 3
    with framed.open("wb") as fh:  # three frames, cut inside lines
        for start in range(0, len(raw), third):
            fh.write(zstandard.ZstdCompressor().compress(raw[start:start + third]))
    assert len(zstd_frame_offsets(str(framed))) >= 4
    monkeypatch.setattr(ranges, "RANGE_BYTES", 24 << 10)
    for path in (plain, framed):
        whole_report, whole = _imported(config, tmp_path / f"whole-{path.name}", path, None, prefilter=False)
        report, tables = _imported(config, tmp_path / f"ranged-{path.name}", path, two_workers)
        assert report.format == "reddit_dump"
        assert tables == whole
        assert (report.records, report.posts_new, report.unmatched) == \
            (whole_report.records, whole_report.posts_new, whole_report.unmatched)
        assert report.posts_new > 1500


def test_small_and_compressed_inputs_are_read_whole(config: Config, tmp_path: Path) -> None:
    from monitor.sources.api import load_sources
    from monitor.sources.base import ArchiveInput

    reader = load_sources().reader("jsonl")
    big = _archive(tmp_path / "big.jsonl", 25_000)
    assert os.path.getsize(big) > 3 * ranges.RANGE_BYTES
    assert ranges.ranges_of(ArchiveInput(big), reader, "utf-8", workers=2)
    assert ranges.ranges_of(ArchiveInput(big), reader, "utf-8", workers=1) is None  # the learned analyzer's one
    small = _archive(tmp_path / "small.jsonl", 100)
    assert ranges.ranges_of(ArchiveInput(small), reader, "utf-8", workers=2) is None
    single = tmp_path / "big.jsonl.zst"  # one frame, as zstd writes it: cannot be entered in the middle
    single.write_bytes(zstandard.ZstdCompressor().compress(big.read_bytes()))
    assert ranges.ranges_of(ArchiveInput(single), reader, "utf-8", workers=2) is None


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_frame_offsets_of_a_cut_file_end_at_its_end(tmp_path: Path, cut: float) -> None:
    """A .zst cut short inside a frame: the frame runs to the end of the file (it used to loop forever)."""
    data = zstandard.ZstdCompressor().compress(os.urandom(400_000))
    path = tmp_path / "cut.zst"
    path.write_bytes(data[: int(len(data) * cut)])
    assert zstd_frame_offsets(str(path)) == [0, path.stat().st_size]


def test_only_a_zst_whose_first_frame_ends_early_is_walked(tmp_path: Path) -> None:
    """A single-frame .zst (zstd -T0, Pushshift) is not split; finding that out reads its first
    blocks only, not a block header every 128 KiB of the whole file."""
    data = os.urandom(1 << 20)
    single, framed, other = tmp_path / "one.zst", tmp_path / "many.zst", tmp_path / "not.zst"
    single.write_bytes(zstandard.ZstdCompressor().compress(data))
    framed.write_bytes(b"".join(zstandard.ZstdCompressor().compress(data[i:i + (256 << 10)])
                                for i in range(0, len(data), 256 << 10)))
    other.write_bytes(b"plain text, not zstd\n")
    assert not first_frame_within(str(single), 300 << 10)  # stops after ~300 KiB of its 1 MiB frame
    assert first_frame_within(str(single), 2 << 20) is False  # the one frame is the whole file
    assert first_frame_within(str(framed), 300 << 10)
    assert not first_frame_within(str(other), 300 << 10)


def test_ranges_read_another_encoding(config: Config, tmp_path: Path, monkeypatch, two_workers: AnalysisPool) -> None:
    archive = tmp_path / "cp1252.jsonl"
    archive.write_bytes("".join(json.dumps(post(i, f"{TEXTS[i % len(TEXTS)]}, café n° {i}"), ensure_ascii=False)
                                + "\n" for i in range(600)).encode("cp1252"))
    monkeypatch.setattr(ranges, "RANGE_BYTES", 16 << 10)
    ranged_report, ranged = _imported(config, tmp_path / "ranged", archive, two_workers, encoding="cp1252")
    whole_report, whole = _imported(config, tmp_path / "whole", archive, None, encoding="cp1252")
    assert ranged == whole
    assert ranged_report.errors == whole_report.errors == 0
    assert ranged_report.posts_new == whole_report.posts_new > 350

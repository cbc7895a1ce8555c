"""Importing archives: counts, idempotency, and bad input that is reported without losing data."""

from __future__ import annotations

import gzip
import json
import random
import string
from pathlib import Path

import pytest
import zstandard

from monitor.ingest.imports import Importer
from monitor.store import Store
from tests.conftest import post, stored, write_jsonl


def test_import_twice_adds_nothing(config, data_dir: Path, tmp_path: Path) -> None:
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, f"Sam Altman fired back, take {i}") for i in range(50)])
    store = Store(data_dir)
    first = Importer(config, store).import_paths([archive])[0]
    assert (first.records, first.posts_new, first.posts_seen) == (50, 50, 0)
    again = Importer(config, store).import_paths([archive])[0]
    assert again.skipped and "already imported" in again.skipped
    forced = Importer(config, store).import_paths([archive], force=True)[0]
    assert (forced.posts_new, forced.posts_seen) == (0, 50)
    assert stored(store) == [(50,)]
    assert stored(store, "SELECT count(*) FROM mentions") == [(50,)]


def test_unmatched_posts_are_counted_not_stored(config, data_dir: Path, tmp_path: Path) -> None:
    archive = write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk again"), post(2, "nothing to see here")])
    report = Importer(config, Store(data_dir)).import_paths([archive])[0]
    assert (report.posts_new, report.unmatched) == (1, 1)


def test_a_byte_order_mark_is_not_part_of_the_first_record(config, data_dir: Path, tmp_path: Path) -> None:
    """Windows tools start UTF-8 files with a BOM: the first line is still a record, read as JSON."""
    records = [post(1, "Elon Musk again"), post(2, "Satya Nadella too")]
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in records).encode())
    report = Importer(config, Store(data_dir)).import_paths([path])[0]
    assert (report.format, report.errors, report.posts_new) == ("jsonl", 0, 2)


def test_json_lines_in_another_encoding_with_encoding(config, data_dir: Path, tmp_path: Path) -> None:
    """The bad-record message says to pass --encoding: for JSON Lines it has to work, too."""
    path = tmp_path / "cp1252.jsonl"
    path.write_bytes("".join(json.dumps(post(i, f"Nadella’s café, part {i}"), ensure_ascii=False) + "\n"
                             for i in range(3)).encode("cp1252"))
    store = Store(data_dir)
    refused = Importer(config, store).import_paths([path])[0]
    assert refused.errors == 3 and "--encoding" in refused.skipped
    report = Importer(config, store).import_paths([path], encoding="cp1252")[0]
    assert (report.errors, report.posts_new) == (0, 3)
    assert stored(store, "SELECT DISTINCT left(text, 14) FROM posts") == [("Nadella’s café",)]


def test_csv_with_semicolons_or_tabs_is_read(config, data_dir: Path, tmp_path: Path) -> None:
    """Spreadsheets in many locales save CSV with ';' (the decimal comma takes ','): the header says which."""
    store = Store(data_dir)
    semi = tmp_path / "semi.csv"
    semi.write_text('platform;id;text;created_at;author\nx;1;"Elon Musk; right, again";2025-01-02;a\n'
                    "x;2;Sam Altman is wrong;2025-01-02;b\n", encoding="utf-8")
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("platform\tid\ttext\tcreated_at\tauthor\nx\t3\tSatya Nadella, as usual\t2025-01-02\tc\n",
                    encoding="utf-8")
    reports = Importer(config, store).import_paths([semi, tabs])
    assert [(r.format, r.errors, r.posts_new) for r in reports] == [("csv", 0, 2), ("csv", 0, 1)]
    assert stored(store, "SELECT text FROM posts ORDER BY post_key") == [
        ("Elon Musk; right, again",), ("Sam Altman is wrong",), ("Satya Nadella, as usual",)]


def test_a_folder_is_checked_for_imported_files_in_one_query(config, data_dir: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    """A folder of daily files: which were read before is asked once, not once a file."""
    import monitor.ingest.imports as importer_module

    folder = tmp_path / "daily"
    folder.mkdir()
    for day in range(3):
        write_jsonl(folder / f"day{day}.jsonl", [post(10 * day + i, f"Elon Musk, day {day}") for i in range(3)])
    store = Store(data_dir)
    first = Importer(config, store).import_paths([folder])
    assert [r.posts_new for r in first] == [3, 3, 3]

    def one_by_one(*args: object) -> bool:
        raise AssertionError("asked file by file")

    monkeypatch.setattr(importer_module, "already_imported", one_by_one)
    again = Importer(config, store).import_paths([folder])
    assert [bool(r.skipped and "already imported" in r.skipped) for r in again] == [True, True, True]
    assert stored(store, "SELECT count(*), sum(records) FROM imports") == [(3, 9)]
    twice = Importer(config, Store(tmp_path / "other")).import_paths([folder / "day0.jsonl", folder / "day0.jsonl"])
    assert twice[0].posts_new == 3 and twice[1].skipped and "already imported" in twice[1].skipped


def test_bad_lines_are_reported_and_the_rest_imported(config, data_dir: Path, tmp_path: Path) -> None:
    good = [json.dumps(post(i, f"Nadella on Microsoft capex {i}")) for i in range(6)]
    lines = [good[0], good[1], "{not json", json.dumps({"id": "x1", "created_at": "2025-01-01"}), good[2],
             json.dumps(post(99, "OpenAI", created_at="yesterday-ish")), good[3]]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "9", "text": "Microsoft caf\xe9"}\n' +
                     (good[4] + "\n").encode())
    store = Store(data_dir)
    report = Importer(config, store).import_paths([path])[0]
    assert report.posts_new == 5
    assert report.errors == 4
    errors = {(e.line, e.field) for e in report.error_samples}
    assert (3, None) in errors  # invalid JSON
    assert (4, "text") in errors  # missing field
    assert (6, "created_at") in errors  # unparseable time
    assert any(e.line == 8 and "utf-8" in e.reason for e in report.error_samples)
    rows = stored(store, "SELECT line, field FROM import_errors ORDER BY line")
    assert [r[0] for r in rows] == [3, 4, 6, 8]


def test_values_the_store_cannot_hold_cost_their_line_or_their_field_not_the_file(config, data_dir: Path,
                                                                                 tmp_path: Path) -> None:
    """A count beyond BIGINT once failed the whole file ('failed after 0 records: OverflowError'); an epoch
    beyond year 9999 was an 'unexpected record shape'; a nested id was stored as its repr."""
    lines = [post(1, "Elon Musk one", likes=99999999999999999999), post(2, "Elon Musk two", likes=1.5e300),
             post(3, "Elon Musk three", likes="1e999", reposts=-3), post(4, "Elon Musk four", created_at=1e20),
             post(5, "Elon Musk five", created_at="-99999999999"), {**post(6, "Elon Musk six"), "id": ["a"]},
             {**post(7, "x"), "text": {"nested": "Elon Musk"}}, post(8, "Elon Musk eight", likes=7)]
    path = write_jsonl(tmp_path / "big.jsonl", lines)
    store = Store(data_dir)
    report = Importer(config, store).import_paths([path])[0]
    assert not report.failed and report.posts_new == 4 and report.errors == 4
    reasons = {e.line: (e.field, e.reason) for e in report.error_samples}
    assert reasons[4][0] == "created_at" and "out of range" in reasons[4][1]
    assert reasons[5][0] == "created_at" and "out of range" in reasons[5][1]
    assert reasons[6] == ("id", "expected a string or a number, got a JSON array")
    assert reasons[7] == ("text", "expected a string or a number, got a JSON object")
    counts = stored(store, "SELECT post_key, likes, reposts FROM posts ORDER BY post_key")
    assert counts == [("x:1", None, None), ("x:2", None, None), ("x:3", None, -3), ("x:8", 7, None)]


def test_a_damaged_zip_in_a_folder_is_reported_and_the_rest_imported(config, data_dir: Path,
                                                                     tmp_path: Path) -> None:
    """It raised BadZipFile out of the folder's listing: a traceback, and no file of the folder read."""
    import zipfile

    folder = tmp_path / "downloads"
    folder.mkdir()
    with zipfile.ZipFile(folder / "archive.zip", "w") as zf:
        zf.writestr("posts.jsonl", json.dumps(post(1, "Elon Musk in a zip")) + "\n")
    whole = (folder / "archive.zip").read_bytes()
    (folder / "archive.zip").write_bytes(whole[: len(whole) // 2])  # a download cut short
    write_jsonl(folder / "z_posts.jsonl", [post(2, "Sam Altman after the zip")])
    reports = {Path(r.path).name: r for r in Importer(config, Store(data_dir)).import_paths([folder])}
    assert reports["archive.zip"].failed and "not a valid zip file" in reports["archive.zip"].skipped
    assert reports["z_posts.jsonl"].posts_new == 1


def test_a_zip_of_many_files_is_opened_once_and_a_changed_member_is_read_again(config, data_dir: Path,
                                                                               tmp_path: Path, monkeypatch) -> None:
    """Each member opened the archive three times, reading its whole directory each time: a .zip of 5,000
    small files took 222 s (14 s now). A member is known by its CRC and size, not by the zip's own bytes."""
    import zipfile

    path = tmp_path / "export.zip"

    def write(texts: dict[int, str]) -> None:
        with zipfile.ZipFile(path, "w") as zf:
            for i, text in texts.items():
                zf.writestr(f"day/{i:03d}.jsonl", json.dumps(post(i, text)) + "\n")

    write({i: f"Elon Musk, day {i}" for i in range(40)})
    opened: list[str] = []
    real_zipfile = zipfile.ZipFile
    monkeypatch.setattr(zipfile, "ZipFile",
                        lambda file, *a, **k: opened.append(str(file)) or real_zipfile(file, *a, **k))
    store = Store(data_dir)
    reports = Importer(config, store).import_paths([path])
    assert len(reports) == 40 and all(r.posts_new == 1 for r in reports)
    assert len(opened) <= 3  # its listing, and once for its members (not three times 40)
    write({**{i: f"Elon Musk, day {i}" for i in range(40)}, 7: "Sam Altman, day 7 (edited)"})  # one member changed
    again = Importer(config, store).import_paths([path])
    assert [r.path.split("!")[1] for r in again if not r.skipped] == ["day/007.jsonl"]


def test_truncated_zst_keeps_what_was_read(config, data_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(7)  # incompressible text, so half the file holds whole blocks of lines
    records = [post(i, f"Altman and Musk argue, round {i} " + "".join(rng.choices(string.ascii_letters, k=300)))
               for i in range(2000)]
    raw = "".join(json.dumps(r) + "\n" for r in records).encode()
    full = zstandard.ZstdCompressor().compress(raw)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(full[: len(full) // 2])
    store = Store(data_dir)
    report = Importer(config, store).import_paths([path])[0]
    assert 0 < report.posts_new < 2000
    assert any("ended early" in e.reason or "not valid JSON" in e.reason for e in report.error_samples)
    kept = stored(store)[0][0]
    # The whole file later: nothing lost, nothing duplicated.
    path.write_bytes(full)
    again = Importer(config, store).import_paths([path])[0]
    assert again.posts_seen == kept and again.posts_new == 2000 - kept
    assert stored(store) == [(2000,)]


def test_gzip_and_csv_with_mapping(config, data_dir: Path, tmp_path: Path) -> None:
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress("".join(json.dumps(post(i, f"SoftBank {i}")) + "\n" for i in range(3)).encode()))
    csv_path = tmp_path / "b.csv"
    csv_path.write_text('tweet_id,body,when,user\n1001,"Oracle, and\nLarry Ellison",2025-01-22 10:00:00,al\n',
                        encoding="utf-8")
    store = Store(data_dir)
    importer = Importer(config, store)
    assert importer.import_paths([gz])[0].posts_new == 3
    report = importer.import_paths([csv_path], mapping={"id": "tweet_id", "text": "body", "created_at": "when",
                                                        "author": "user"}, platform="x")[0]
    assert report.posts_new == 1, report.error_samples
    assert stored(store, "SELECT text, author_handle, created_at::VARCHAR FROM posts WHERE post_id = '1001'") == [
        ("Oracle, and\nLarry Ellison", "al", "2025-01-22 10:00:00")]


def test_failure_mid_import_keeps_stored_batches(config, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import monitor.ingest.imports as importer_module

    monkeypatch.setattr(importer_module, "BATCH_SIZE", 10)
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, f"Benioff {i}") for i in range(35)])
    store = Store(data_dir)
    importer = Importer(config, store)
    calls = {"n": 0}
    original = importer._save

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    monkeypatch.setattr(importer, "_save", flaky)
    report = importer.import_paths([archive])[0]
    assert report.skipped and "disk on fire" in report.skipped
    assert stored(store) == [(20,)]
    assert stored(store, "SELECT status FROM imports") == [("failed",)]


def _import_interrupted_at_the_third_batch(config, data_dir: Path, tmp_path: Path, monkeypatch,
                                           interrupt: BaseException, after_commit: bool) -> Store:
    """Import 35 posts in batches of 10; the third batch's transaction raises ``interrupt`` before it
    commits, or just after (``after_commit``)."""
    import monitor.ingest.imports as importer_module
    from monitor.store.db import Store as StoreClass

    monkeypatch.setattr(importer_module, "BATCH_SIZE", 10)
    archive = write_jsonl(tmp_path / "a.jsonl", [post(i, f"Benioff {i}") for i in range(35)])
    store = Store(data_dir)
    calls = {"n": 0}
    original = StoreClass._apply

    def interrupted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "posts" in args[1].tables:
            calls["n"] += 1
        third = "posts" in args[1].tables and calls["n"] == 3
        if third and not after_commit:
            raise interrupt
        result = original(self, *args, **kwargs)
        if third:
            raise interrupt
        return result

    monkeypatch.setattr(StoreClass, "_apply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Importer(config, store).import_paths([archive])
    return store


def test_an_interrupt_inside_a_duckdb_query_stops_the_import_as_interrupted(config, data_dir: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """Ctrl-C (or SIGTERM) mid-query reaches us from DuckDB as RuntimeError("Query interrupted"): the
    import is recorded as stopped ("partial", "interrupted"), not failed, and the batches before it stay."""
    store = _import_interrupted_at_the_third_batch(config, data_dir, tmp_path, monkeypatch,
                                                   RuntimeError("Query interrupted"), after_commit=False)
    assert stored(store) == [(20,)]
    assert stored(store, "SELECT status, message FROM imports") == [("partial", "interrupted")]


def test_an_interrupt_after_a_batch_is_stored_counts_its_records(config, data_dir: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Ctrl-C after a batch's transaction committed but before the write returned: the batch is stored,
    and the import's row counted its records (it said 20 records beside 30 stored posts)."""
    store = _import_interrupted_at_the_third_batch(config, data_dir, tmp_path, monkeypatch,
                                                   KeyboardInterrupt(), after_commit=True)
    assert stored(store) == [(30,)]
    assert stored(store, "SELECT status, records, posts_new FROM imports") == [("partial", 30, 30)]


def texts_analysed(monkeypatch, analyzer_class: type) -> list[str]:
    """The texts the analyzer class is given from now on (in this process), in order."""
    texts: list[str] = []
    original = analyzer_class.analyse_many

    def counting(self, items, force_targets=()):
        texts.extend(text for text, _ in items)
        return original(self, items, force_targets)

    monkeypatch.setattr(analyzer_class, "analyse_many", counting)
    return texts


def test_repeated_texts_are_analysed_once_and_stored_for_each_post(config, data_dir: Path, tmp_path: Path,
                                                                     monkeypatch) -> None:
    from monitor.analysis.pipeline import Analyzer

    calls = texts_analysed(monkeypatch, Analyzer)
    retweet = "RT @sama: Elon Musk is wrong about Stargate, as usual"
    posts = [post(i, retweet) for i in range(5)] + [post(9, "Satya Nadella: we are good for our $80B")]
    store = Store(data_dir)
    report = Importer(config, store).import_paths([write_jsonl(tmp_path / "rt.jsonl", posts)])[0]
    assert report.posts_new == 6
    assert sorted(calls) == sorted([retweet, posts[-1]["text"]])
    rows = stored(store, "SELECT post_key, target_id, stance, stance_score FROM target_scores "
                         "WHERE post_key <> 'x:9' ORDER BY post_key, target_id")
    assert len(rows) == 15  # altman (@sama), musk and stargate for each of the five reposts
    assert len({r[1:] for r in rows}) == 3  # ... with the same scores


def test_worker_processes_keep_each_post_with_its_own_analysis(config, data_dir: Path, tmp_path: Path) -> None:
    # Enough posts for the worker pool, which splits a batch by text: reposts, unmatched posts and
    # posts naming different targets must each come back to the right post.
    names = {"musk": "Elon Musk", "altman": "Sam Altman", "nadella": "Satya Nadella"}
    posts, expected = [], {}
    for i in range(1200):
        if i % 4 == 3:
            posts.append(post(i, f"nothing to see here, number {i}"))
            continue
        tid = list(names)[i % 3]
        text = f"RT @someone: {names[tid]} is right" if i % 5 == 0 else f"{names[tid]} said {i}"
        posts.append(post(i, text))
        expected[f"x:{i}"] = tid
    store = Store(data_dir)
    importer = Importer(config, store)
    assert importer.pool.workers >= 2
    report = importer.import_paths([write_jsonl(tmp_path / "many.jsonl", posts)])[0]
    assert (report.posts_new, report.unmatched) == (len(expected), 300)
    rows = dict(stored(store, "SELECT post_key, target_id FROM mentions"))
    assert rows == expected
    keys = {k for (k,) in stored(store, "SELECT post_key FROM target_scores")}
    assert keys == set(expected)


def test_a_key_seen_again_keeps_its_first_post(config, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    # A key repeated in the same batch or in a later one is stored once: the first post wins.
    import monitor.ingest.imports as importer_module

    monkeypatch.setattr(importer_module, "BATCH_SIZE", 10)
    posts = [post(i, f"Benioff {i}") for i in range(30)]
    for at in (2, 6, 26):  # after post 1: twice in its batch, once in a later one
        posts.insert(at, post(1, f"Benioff again at {at}"))
    store = Store(data_dir)
    report = Importer(config, store).import_paths([write_jsonl(tmp_path / "dup.jsonl", posts)])[0]
    assert report.posts_new == 30
    assert stored(store, "SELECT text FROM posts WHERE post_id = '1'") == [("Benioff 1",)]
    for table in ("mentions", "post_sentiment", "target_scores"):
        assert stored(store, f"SELECT count(*), count(DISTINCT post_key) FROM {table}") == [(30, 30)]


def test_progress_counts_posts_as_they_are_analysed_and_each_record_once(config, data_dir: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """With one analysis process (the learned analyzer's), a 5,000-post batch showed "0/? posts" for a
    minute, then all at once: now its posts count as they are analysed, in chunks that store the same
    rows as one call, and each record read counts once in all."""
    from monitor.ingest.pool import AnalysisPool

    monkeypatch.setattr(AnalysisPool, "LOCAL_CHUNK_ITEMS", 10)
    names = ["Elon Musk", "Sam Altman", "Satya Nadella"]
    posts = [post(i, f"{names[i % 3]} is {'right' if i % 2 else 'wrong'}, {i}") for i in range(35)]
    posts += [post(100 + i, f"nothing to see here, {i}") for i in range(5)] + [post(3, "a second post x:3")]
    path = write_jsonl(tmp_path / "posts.jsonl", posts)
    path.write_text(path.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    one_process = config.model_copy(update={"analysis": config.analysis.model_copy(update={"workers": 1})})
    rows = "SELECT COLUMNS(lambda c: c <> 'scored_at') FROM {} ORDER BY ALL"  # the time each was scored aside

    ticks: list[int] = []
    shares: list[float] = []
    counted = Store(data_dir / "counted")
    report = Importer(one_process, counted, progress=lambda _path, n: ticks.append(n),
                      share=lambda _path, s: shares.append(s)).import_paths([path])[0]
    whole = Store(data_dir / "whole")
    Importer(one_process, whole).import_paths([path])
    # 40 posts analysed, ten at a time (the second x:3 is the same key: read once), then nothing left to count
    assert (report.posts_new, report.records, report.errors) == (35, 40, 1)
    assert ticks == [10, 10, 10, 10, 0]
    # how much of the file is done: from 0, as the posts are analysed, to all of it
    assert len(shares) == 6 and shares[0] == 0.0
    assert 0 < shares[1] < shares[2] < shares[3] < shares[4] < shares[5] == 1.0
    for table in ("mentions", "post_sentiment", "target_scores"):
        assert stored(counted, rows.format(table)) == stored(whole, rows.format(table))
    # Batches of 15: a batch's posts move the share before the batch ahead of it is written, which
    # says where that one ended: the share only moves forward.
    import monitor.ingest.imports as importer_module

    monkeypatch.setattr(importer_module, "BATCH_SIZE", 15)
    shares.clear()
    Importer(one_process, Store(data_dir / "batches"), progress=lambda _path, n: None,
             share=lambda _path, s: shares.append(s)).import_paths([path])
    assert shares[0] == 0.0 and shares[-1] == 1.0 and len(shares) > 4
    assert shares == sorted(set(shares)), shares  # each step forward


def test_an_input_says_how_much_of_it_was_read(tmp_path: Path) -> None:
    """What a progress bar shows of a file whose number of posts is not known: the share of its bytes
    (as stored: compressed, or a zip member's) the reader has read, then all of it once it is done."""
    import zipfile

    from monitor.sources.base import ArchiveInput

    words = random.Random(7)  # texts that do not compress to nothing: the .zst is read a piece at a time
    lines = b"".join(json.dumps(post(i, "Elon Musk " + "".join(words.choices(string.ascii_letters, k=60)))).encode()
                     + b"\n" for i in range(20_000))
    plain = tmp_path / "posts.jsonl"
    plain.write_bytes(lines)
    packed = tmp_path / "posts.jsonl.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(lines))
    with zipfile.ZipFile(tmp_path / "posts.zip", "w") as archive:
        archive.writestr("posts.jsonl", lines)
    for source in (ArchiveInput(plain), ArchiveInput(packed), ArchiveInput(tmp_path / "posts.zip", "posts.jsonl")):
        assert source.share_read() is None  # not opened yet
        with source.open() as stream:
            stream.read(len(lines) // 2)
            halfway = source.share_read()
            assert halfway is not None and 0 < halfway < 1, source.name
            stream.read()
            assert source.share_read() == 1.0
        assert source.share_read() == 1.0  # closed: its reader is done with it


def test_a_resumed_import_does_not_analyse_again_what_is_stored(config, data_dir: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    """The store keeps a post's first analysis, yet an import analysed every post it read: resuming a
    stopped import with the learned analyzer (~10-25 ms a post here) spent minutes on posts stored
    already. Now only the new ones are analysed; the others are counted as seen, their rows unchanged."""
    from monitor.analysis.learned_analyzer import LearnedAnalyzer

    analysed = texts_analysed(monkeypatch, LearnedAnalyzer)
    learned = config.model_copy(update={"analysis": config.analysis.model_copy(update={"analyzer": "learned"})})
    posts = [post(i, f"Sam Altman on Stargate, day {i}") for i in range(12)]
    store = Store(data_dir)
    first = Importer(learned, store).import_paths([write_jsonl(tmp_path / "part.jsonl", posts[:8])])[0]
    rows = "SELECT COLUMNS(lambda c: c <> 'scored_at') FROM target_scores ORDER BY ALL"
    before = stored(store, rows)
    analysed.clear()
    again = Importer(learned, store).import_paths([write_jsonl(tmp_path / "all.jsonl", posts)])[0]
    assert (first.posts_new, again.posts_new, again.posts_seen, again.records) == (8, 4, 8, 12)
    assert sorted(analysed) == sorted(p["text"] for p in posts[8:])
    after = stored(store, rows)
    assert [r for r in after if r[0] in {f"x:{i}" for i in range(8)}] == before and len(after) == 2 * 12

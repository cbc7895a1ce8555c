"""Distributed import on a real dask.distributed cluster (issue #18): a scheduler and two worker
processes on 127.0.0.1 import a multi-file archive (several formats, a multi-frame .zst split into
tasks) into a lake whose rows equal a single-process local import of the same files, row for row;
a second run writes no duplicate; a worker killed with SIGKILL mid-task loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import pytest

from monitor.ingest.distributed import DistributedImport, LakeImport
from monitor.ingest.imports import Importer
from monitor.ingest.pool import AnalysisPool
from monitor.store import Store
from monitor.store.lake import Lake, attach
from tests.conftest import config_file
from tests.lake_archive import build
from tests.test_lake import TABLES, rows

SPLIT = 24 << 10


@pytest.fixture(scope="module")
def client():
    # Imported here, not at the top: dask.distributed takes ~0.7 s to import, and every test worker
    # collects this file while only one runs it.
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def local(config, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store]:
    root = tmp_path_factory.mktemp("distributed")
    archive = build(root / "archive", reddit_copies=1, jsonl_posts=400)
    store = Store(root / "data")
    Importer(config, store, AnalysisPool(config, workers=1)).import_paths([archive])
    return archive, store


def lake_rows(store: Store, lake: Lake, where: str = "true") -> dict[str, list[tuple]]:
    with store.read() as con:
        attach(con, lake)
        return {t: rows(con, f"(SELECT * FROM lake_{t} WHERE {where})", o, t) for t, o in TABLES.items()}


def local_rows(store: Store, where: str = "true") -> dict[str, list[tuple]]:
    with store.read() as con:
        return {t: rows(con, f"(SELECT * FROM {t} WHERE {where})", o, t) for t, o in TABLES.items()}


def part_files(lake: Lake) -> list[str]:
    return sorted(str(p.relative_to(lake.root)) for p in Path(lake.root).rglob("*.parquet"))


def test_cluster_import_equals_the_local_import_and_runs_again_without_duplicates(client, local, config,
                                                                                  tmp_path: Path) -> None:
    archive, store = local
    lake = Lake(str(tmp_path / "lake"))
    seen: list[int] = []
    job = DistributedImport(client, config, lake, split_bytes=SPLIT, progress=lambda r, done, total: seen.append(done))
    first = job.run([archive])
    zst_tasks = [r for r in first.results if r.path.endswith("RC_multi.zst")]
    assert len(zst_tasks) >= 3 and len({r.worker for r in first.results}) == 2  # split, and both workers ran
    assert seen == list(range(1, len(first.results) + 1))
    assert lake_rows(store, lake) == local_rows(store)
    files = part_files(lake)

    again = job.run([archive])  # every task finished already: nothing is read or written
    assert all(r.skipped for r in again.results) and part_files(lake) == files
    job.force = True  # read again: the same parts are replaced, none added
    forced = job.run([archive])
    assert not any(r.skipped for r in forced.results) and part_files(lake) == files
    assert lake_rows(store, lake) == local_rows(store)


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(client, local, config, tmp_path: Path) -> None:
    archive, store = local
    lake = Lake(str(tmp_path / "lake"))
    job = DistributedImport(client, config, lake, split_bytes=SPLIT, delay=1.0)
    outcome: list[LakeImport | BaseException] = []

    def run() -> None:
        try:
            outcome.append(job.run([archive / "RC_multi.zst"], rollup=False))
        except BaseException as exc:  # surfaced by the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    victim = _busy_worker(client)
    pids = client.run(os.getpid)
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=60)
    assert outcome and isinstance(outcome[0], LakeImport), outcome
    assert len(outcome[0].results) >= 3
    assert victim not in client.run(os.getpid) or client.run(os.getpid)[victim] != pids[victim]
    where = f"source_file = '{archive / 'RC_multi.zst'}'"
    with_file = local_rows(store, f"post_key IN (SELECT post_key FROM posts WHERE {where})")
    assert lake_rows(store, lake) == with_file
    with duckdb.connect() as con:  # no part holds a post twice, and no task wrote twice
        attach(con, lake, local=False)
        assert con.execute("SELECT count(*) - count(DISTINCT post_key) FROM lake_posts_parts").fetchone() == (0,)


def _busy_worker(client, timeout: float = 30.0) -> str:
    """The address of a worker running an import task (not a line count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any(str(k).startswith("run_task") for k in keys):
                time.sleep(0.3)  # into the task: reading and scoring done, sleeping before the write
                return worker
        time.sleep(0.05)
    raise AssertionError("no import task started")


def test_lake_commands_import_attach_status_compact(client, local, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    archive, _ = local
    # No --cluster: the config's [distributed] scheduler names the cluster.
    config_path = config_file(tmp_path / "monitor.toml", lambda data: (
        data.setdefault("analysis", {}).update(analyzer="vader"),
        data.update(distributed={"scheduler": client.scheduler.address})))
    lake, data = tmp_path / "lake", tmp_path / "data"

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config_path), "--data-dir", str(data), *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def transitions() -> int:
        return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

    before = transitions()
    run("lake", "import", str(archive / "planted.jsonl"), "--lake", str(lake), "--split-mib", "0.02")
    assert transitions() > before  # the tasks ran on the configured cluster, not on a local:2 of its own
    assert run("sql", "SELECT count(*) AS n FROM all_posts WHERE origin = 'lake'", "--format", "csv").split() == \
        ["n", str(len(lake_rows_of(lake)))]
    status = json.loads(run("lake", "status", "--lake", str(lake), "--json"))
    parts = status["tables"]["posts"]["parts"]
    assert status["tasks"] >= 3 and status["rollup_current"] and parts > 3  # three months, several tasks each
    # Four tables, three months: every partition's parts become one.
    assert f"merged {4 * parts} parts into 12" in run("lake", "compact", "--lake", str(lake))
    assert run("sql", "SELECT count(*) AS n FROM lake_posts", "--format", "csv").split()[1] == str(
        len(lake_rows_of(lake)))


def test_lake_import_takes_the_read_options_of_import(client, tmp_path: Path) -> None:
    """`monitor lake import` reads other encodings and column names, as `monitor import` does (the
    bad-record message tells users to pass --encoding)."""
    from click.testing import CliRunner

    from monitor.cli import main

    archive = tmp_path / "cp1252.jsonl"
    records = [{"tid": str(i), "body": f"Satya Nadella’s café {i}", "when": "2025-01-02", "user": "u"}
               for i in range(50)]
    archive.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("cp1252"))
    config_path = config_file(tmp_path / "monitor.toml", lambda data: data.setdefault("analysis", {}).update(
        analyzer="vader"))
    args = ["--config", str(config_path), "--data-dir", str(tmp_path / "data"), "lake", "import", str(archive),
            "--lake", str(tmp_path / "lake"), "--cluster", client.scheduler.address, "--format", "jsonl", "--json",
            "--encoding", "cp1252", "--platform", "x", "--map", "id=tid", "--map", "text=body", "--map",
            "created_at=when", "--map", "author=user"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [(r["records"], r["kept"], r["errors"]) for r in json.loads(result.output)] == [(50, 50, 0)]
    with duckdb.connect() as con:
        attach(con, Lake(str(tmp_path / "lake")), local=False)
        assert con.execute("SELECT DISTINCT platform, left(text, 20) FROM lake_posts").fetchall() == [
            ("x", "Satya Nadella’s café")]
    bad = CliRunner().invoke(main, [*args[:-8], "--map", "text"])
    assert bad.exit_code == 2 and "FIELD=COLUMN" in bad.output


def lake_rows_of(path: Path) -> list[tuple]:
    with duckdb.connect() as con:
        attach(con, Lake(str(path)), local=False)
        return con.execute("SELECT post_key FROM lake_posts").fetchall()


def test_a_task_that_fails_on_every_try_is_reported_and_the_others_run(client, local, config, tmp_path: Path) -> None:
    from monitor.ingest.lake_task import LakeTask

    archive, _ = local
    lake = Lake(str(tmp_path / "lake"))
    good = LakeTask(str(archive / "guardian_rss2.xml"), None, "rss", "f1")
    bad = LakeTask(str(archive / "planted.jsonl"), None, "no_such_reader", "f2")
    results = DistributedImport(client, config, lake).run_tasks([good, bad])
    by_path = {Path(r.path).name: r for r in results}
    assert by_path["planted.jsonl"].error is not None and "no_such_reader" in by_path["planted.jsonl"].error
    assert by_path["guardian_rss2.xml"].error is None and by_path["guardian_rss2.xml"].kept > 0

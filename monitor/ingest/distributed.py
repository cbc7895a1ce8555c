"""Distributed import on a Dask cluster into a Parquet lake (issue #18).

The client plans tasks (one per input; JSON Lines files split into byte ranges, multi-frame .zst
files into frame ranges: ``lake_input``), counts each range's lines on the cluster (so posts keep
their line numbers in the file), then runs ``lake_task.run_task`` for each task on the workers.
Tasks are idempotent (``LakeTask.part_name``): a task retried after its worker died, or run again,
writes the same parts. Dask reschedules the tasks of a lost worker by itself.

``cluster``: ``tcp://host:8786`` (an existing scheduler; the workers need this package and the lake
path) or ``local:N`` (a LocalCluster of N worker processes, one thread each, on 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.config import Config
from monitor.ingest.imports import check_encoding, choose_reader, fingerprint
from monitor.ingest.lake_input import count_newlines, line_offsets, split_ranges, splittable
from monitor.ingest.lake_task import LakeTask, TaskResult, run_task
from monitor.sources.base import ArchiveInput, expand_inputs
from monitor.store.lake import Lake, refresh_rollup

SPLIT_BYTES = 64 << 20  # a task's share of a big file (compressed bytes for .zst)


class DistributedUnavailable(RuntimeError):
    """dask.distributed is not installed."""


def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise DistributedUnavailable("the distributed import needs Dask: pip install '.[distributed]'") from None
    return distributed


@dataclass
class PlanEntry:
    """An input and what became of it in planning: its tasks, or why it is not imported."""

    name: str
    tasks: list[LakeTask] = field(default_factory=list)
    refused: str | None = None


def plan(paths: Iterable[Path], fmt: str = "auto", split_bytes: int = SPLIT_BYTES,
         encoding: str = "utf-8") -> list[PlanEntry]:
    """Inputs and their tasks (line offsets not counted yet: ``count_lines``)."""
    check_encoding(encoding)
    entries: list[PlanEntry] = []
    for given in paths:
        path = Path(os.path.abspath(given))  # workers elsewhere have another working directory
        if not path.exists():
            entries.append(PlanEntry(str(path), refused=f"{path} does not exist"))
            continue
        for source in expand_inputs(path):
            entries.append(_plan_input(source, fmt, split_bytes, encoding))
    return entries


def _plan_input(source: ArchiveInput, fmt: str, split_bytes: int, encoding: str) -> PlanEntry:
    reader, refusal = choose_reader(source, fmt, encoding)
    if reader is None:
        return PlanEntry(source.name, refused=refusal)
    whole = LakeTask(str(source.path), source.member, reader.name, fingerprint(source))
    if not splittable(source, reader.name, encoding):
        return PlanEntry(source.name, [whole])
    ranges = split_ranges(str(source.path), split_bytes)
    if len(ranges) == 1:
        return PlanEntry(source.name, [whole])
    return PlanEntry(source.name, [replace(whole, start=s, end=e, ranged=True, index=i)
                                   for i, (s, e) in enumerate(ranges)])


def with_line_offsets(tasks: list[LakeTask], counts: list[int]) -> list[LakeTask]:
    """The tasks with their line offsets, from the newline counts of the ranged ones (in order)."""
    ranged = [t for t in tasks if t.ranged]
    offsets: dict[tuple[str, int], int] = {}
    for path in dict.fromkeys(t.path for t in ranged):
        mine = [(t, c) for t, c in zip(ranged, counts, strict=True) if t.path == path]
        for (task, _), offset in zip(mine, line_offsets([c for _, c in mine]), strict=True):
            offsets[(path, task.index)] = offset
    return [replace(t, line_offset=offsets[(t.path, t.index)]) if t.ranged else t for t in tasks]


def run_in_process(paths: Iterable[Path], config: Config, lake: Lake, fmt: str = "auto",
                   split_bytes: int = SPLIT_BYTES, **task_options: Any) -> LakeImport:
    """The same tasks one after another in this process, without Dask (a baseline, and the lake
    for a machine without the extra)."""
    started = time.perf_counter()
    entries = plan(paths, fmt, split_bytes)
    tasks = [t for e in entries for t in e.tasks]
    ranged = [t for t in tasks if t.ranged]
    tasks = with_line_offsets(tasks, [count_newlines(t.path, t.start, t.end) for t in ranged])
    done = LakeImport(entries, plan_seconds=time.perf_counter() - started)
    done.results = [run_task(t, config, lake.url, **task_options) for t in tasks]
    done.seconds = time.perf_counter() - started
    return done


@contextmanager
def connect(cluster: str) -> Iterator[Any]:
    """A dask Client: ``local:N`` starts (and stops) a LocalCluster of N processes on 127.0.0.1."""
    distributed = _dask()
    if cluster.startswith("local:"):
        workers = int(cluster.split(":", 1)[1] or 1)
        # The scheduler runs in this process: its INFO lines (workers joining, leaving) are noise here.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=logging.WARNING) as local, \
                distributed.Client(local) as client:
            yield client
        return
    with distributed.Client(cluster) as client:
        yield client


@dataclass
class LakeImport:
    """What a distributed import did."""

    entries: list[PlanEntry]
    results: list[TaskResult] = field(default_factory=list)
    seconds: float = 0.0
    plan_seconds: float = 0.0
    rollup_rows: int = 0

    @property
    def records(self) -> int:
        return sum(r.records for r in self.results)

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.results)


@dataclass
class DistributedImport:
    """Run an import on a dask Client into a lake. ``progress(result, done, total)`` is called as
    each task finishes (in completion order)."""

    client: Any
    config: Config
    lake: Lake
    analyzer: str | None = None
    models_dir: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    split_bytes: int = SPLIT_BYTES
    force: bool = False
    delay: float = 0.0  # tests: seconds each task sleeps before writing
    progress: Callable[[TaskResult, int, int], None] | None = None

    def run(self, paths: Iterable[Path], fmt: str = "auto", rollup: bool = True) -> LakeImport:
        started = time.perf_counter()
        entries = plan(paths, fmt, self.split_bytes, self.options.get("encoding") or "utf-8")
        tasks = self.count_lines([t for e in entries for t in e.tasks])
        done = LakeImport(entries, plan_seconds=time.perf_counter() - started)
        done.results = self.run_tasks(tasks)
        if rollup and done.results:
            done.rollup_rows = refresh_rollup(self.lake)
        done.seconds = time.perf_counter() - started
        return done

    def count_lines(self, tasks: list[LakeTask]) -> list[LakeTask]:
        """Line offsets of ranged tasks: each range's newlines are counted on the cluster."""
        ranged = [t for t in tasks if t.ranged]
        if not ranged:
            return tasks
        counts = self.client.gather(self.client.map(count_newlines, [t.path for t in ranged],
                                                    [t.start for t in ranged], [t.end for t in ranged], pure=False))
        return with_line_offsets(tasks, counts)

    def run_tasks(self, tasks: list[LakeTask]) -> list[TaskResult]:
        distributed = _dask()
        lake_url = self.lake.root  # absolute: the workers' working directory is not ours
        futures = {self.client.submit(run_task, task, self.config, lake_url, self.analyzer, self.models_dir,
                                      self.options, self.force, self.delay, retries=2, pure=False): task
                   for task in tasks}
        results: list[TaskResult] = []
        for future in distributed.as_completed(futures):
            if future.status == "error":  # raised on every try: the other tasks go on, as a local import's files do
                task = futures[future]
                exc = future.exception()
                result = TaskResult("", task.path, task.start, task.end, error=f"{type(exc).__name__}: {exc}")
            else:
                result = future.result()
            results.append(result)
            if self.progress is not None:
                self.progress(result, len(results), len(futures))
        return sorted(results, key=lambda r: (r.path, r.start))

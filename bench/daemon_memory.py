"""The daemon's memory over thousands of collection cycles (it should stay flat).

Runs ``--cycles`` cycles in this one process the way ``monitor run`` does: the real ``Daemon``
object runs its ``collect`` job for the ``hackernews`` collector (``run_collector`` with the
daemon's per-thread ``AnalysisPool(workers=1)``, its status file) on a one-thread executor like the
scheduler's, and its ``maintenance`` job (spool drain + CHECKPOINT) every ``--maintenance-every``
cycles, against a ``Store`` on a temporary data directory. The Algolia API is a ``ReplayServer`` on
127.0.0.1, in a child process so its own memory is not counted, serving the recorded response
(tests/fixtures/hackernews/search_by_date_nodejs_2017.json) as a growing index: every request
publishes ``--hits-per-cycle`` new hits (the recorded ones with new ids and newer times), so every
cycle stores new posts, advances the cursor and writes its run.

Every cycle samples VmRSS (/proc/self/status); every ``--every`` cycles it prints RSS, Python heap
objects, open file descriptors, threads, the cycle time and the database size. At the end it
compares the first and last quarters, and the quarters of the second half (growth that levels off is
bounded; growth that goes on is a leak). If RSS grew (or with --tracemalloc), it runs more cycles under
tracemalloc and prints the allocation sites that grew.

    python bench/daemon_memory.py [--cycles 2000] [--every 250] [--hits-per-cycle 1] [--tracemalloc]
                                  [--uncapped-arenas]

Like `monitor run`, it caps glibc's malloc arenas first (daemon.limit_malloc_arenas); with
--uncapped-arenas it does not, and the RSS grows more while malloc's heap in use stays flat (2,000
cycles, first to last quarter: +20.8 and +5.1 MB in two runs, against +3.4 and +3.7 MB capped).

A cycle takes ~95 ms here (writes, each checkpointed, and reads), and more as the posts
table grows (see bench/writer_lock.py): 2,000 cycles take about 3 minutes.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import logging
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURE = ROOT / "tests" / "fixtures" / "hackernews" / "search_by_date_nodejs_2017.json"
FLAT_MB = 5.0  # last-quarter median minus first-quarter median below this (and under 5 %): flat


# --- the API, in a child process ----------------------------------------------------------------------


class NewHits:
    """Algolia over time: each request publishes ``per_request`` hits newer than any before (the
    recorded ones, cycled, with fresh objectIDs and times); ``created_at_i>N`` filters as Algolia does."""

    def __init__(self, per_request: int):
        self.recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))
        self.templates = sorted(self.recorded["hits"], key=lambda h: h["created_at_i"])
        self.per_request = per_request
        self.next_id = 90_000_000
        self.now = 1_700_000_000
        self.requests: list[Any] | None = None  # the server's request log, emptied as we go

    def __call__(self, request: Any) -> Any:
        from tests.replay import Reply

        if self.requests is not None:
            self.requests.clear()
        hits = []
        for _ in range(self.per_request):
            template = self.templates[self.next_id % len(self.templates)]
            self.next_id += 1
            self.now += 37
            created = datetime.fromtimestamp(self.now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            hits.append({**copy.deepcopy(template), "objectID": str(self.next_id), "created_at_i": self.now,
                         "created_at": created})
        flt = request.param("numericFilters")
        if flt and ">" in flt:
            after = int(flt.split(">")[1])
            hits = [h for h in hits if h["created_at_i"] > after]
        return Reply({**self.recorded, "hits": list(reversed(hits)), "nbHits": len(hits), "nbPages": 1, "page": 0,
                      "hitsPerPage": 100})


def serve(conn: Any, per_request: int) -> None:
    """Child process: a ReplayServer with a growing index; sends its URL, serves until told to stop."""
    from tests.replay import ReplayServer

    index = NewHits(per_request)
    with ReplayServer() as server:
        index.requests = server.requests
        server.add("/api/v1/search_by_date", index)
        conn.send(server.url)
        conn.recv()


# --- measuring ----------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        return libc
    except (OSError, AttributeError):  # not glibc >= 2.33
        return None


LIBC = _libc()


def heap_in_use_mb() -> float:
    """Bytes malloc has handed out and not had back (all arenas, mmapped chunks included): what a
    leak in C or Python code grows. RSS also counts freed memory malloc keeps for reuse."""
    if LIBC is None:
        return float("nan")
    info = LIBC.mallinfo2()
    return (info.uordblks + info.hblkhd) / (1024 * 1024)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def make_config(base_url: str) -> Any:
    from monitor.config import load_config

    config = load_config(ROOT / "config" / "monitor.toml")
    # The recorded Hacker News comments are about Node.js, not our targets: keep unmatched posts, as
    # tests/test_daemon.py does, so every cycle stores its posts.
    config.analysis.store_unmatched = True
    config.sources["hackernews"] = dict(enabled=True, interval_minutes=15, max_pages=5,
                                                base_url=f"{base_url}/api/v1", queries=["nodejs"])
    return config


class Bench:
    def __init__(self, config: Any, data_dir: Path, maintenance_every: int):
        from monitor.daemon import Daemon
        from monitor.sources.api import load_sources
        from monitor.store import Store

        self.collector = load_sources().collectors["hackernews"]
        self.store = Store(data_dir, lock_timeout=config.daemon.lock_timeout_seconds)
        self.failures: list[str] = []
        self.daemon = Daemon(config, self.store, data_dir, say=self.failures.append)
        self.executor = ThreadPoolExecutor(1)  # the scheduler's "default" executor: one thread
        self.maintenance_every = maintenance_every
        self.cycles = 0
        self.write_seconds = 0.0  # time inside Store.write (open, transaction, close with its checkpoint)
        write = self.store.write

        def timed_write(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return write(*args, **kwargs)
            finally:
                self.write_seconds += time.perf_counter() - started

        self.store.write = timed_write  # type: ignore[method-assign]

    def cycle(self) -> None:
        self.executor.submit(self.daemon.collect, self.collector).result()
        self.cycles += 1
        if self.maintenance_every and self.cycles % self.maintenance_every == 0:
            self.executor.submit(self.daemon.maintenance).result()

    def close(self) -> None:
        def close_pool() -> None:  # the pool lives in the executor thread's thread-local
            pool = getattr(self.daemon._pools, "pool", None)
            if pool is not None:
                pool.close()

        self.executor.submit(close_pool).result()
        self.executor.shutdown()

    def posts(self) -> int:
        with self.store.read() as con:
            row = con.execute("SELECT count(*) FROM posts").fetchone()
        return int(row[0]) if row else 0


def quarter_medians(samples: list[float]) -> tuple[float, float]:
    q = max(1, len(samples) // 4)
    return statistics.median(samples[:q]), statistics.median(samples[-q:])


def run_tracemalloc(bench: Bench, cycles: int, top: int) -> None:
    print(f"\ntracemalloc: {cycles} more cycles; allocation sites that grew the most (after gc.collect):")
    tracemalloc.start(10)
    for _ in range(min(50, cycles)):  # let caches settle under tracing
        bench.cycle()
    gc.collect()
    before = tracemalloc.take_snapshot()
    rss_before = rss_mb()
    for _ in range(cycles):
        bench.cycle()
    gc.collect()
    after = tracemalloc.take_snapshot()
    rss_after = rss_mb()
    traced, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    filters = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib*")]
    stats = after.filter_traces(filters).compare_to(before.filter_traces(filters), "traceback")
    grown = [s for s in stats if s.size_diff > 0]
    total = sum(s.size_diff for s in stats)
    print(f"  Python heap (traced): {total / 1024:+,.1f} KiB over {cycles} cycles "
          f"({total / cycles:+,.0f} B/cycle); traced now {traced / 1e6:.1f} MB; "
          f"RSS {rss_before:.1f} -> {rss_after:.1f} MB (tracemalloc's own bookkeeping included)")
    skip = ("tracemalloc", "threading.py", "concurrent/futures", "contextlib.py")
    for stat in grown[:top]:
        frames = [f for f in reversed(stat.traceback) if not any(s in f.filename for s in skip)]  # newest first
        where = "  <-  ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[:4])
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=2000, help="default 2,000 (about 5 minutes on 2 cores)")
    parser.add_argument("--every", type=int, default=250, help="print a line every N cycles")
    parser.add_argument("--hits-per-cycle", type=int, default=1, help="new hits the index publishes per request")
    parser.add_argument("--maintenance-every", type=int, default=10,
                        help="run the maintenance job every N cycles (0: never)")
    parser.add_argument("--warmup", type=int, default=50, help="cycles before the first sample")
    parser.add_argument("--tracemalloc", action="store_true", help="always run the tracemalloc phase")
    parser.add_argument("--tracemalloc-cycles", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--uncapped-arenas", action="store_true",
                        help="leave glibc's malloc arenas uncapped (`monitor run` caps them: daemon.MALLOC_ARENAS)")
    args = parser.parse_args()
    from monitor.daemon import limit_malloc_arenas

    # Before any thread starts, as run_daemon does first.
    arenas = "uncapped" if args.uncapped_arenas else ("capped" if limit_malloc_arenas() else "not capped here")

    logging.basicConfig(level=logging.WARNING)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(child, args.hits_per_cycle), daemon=True)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="monitor-daemon-memory-"))
    data_dir = work / "data"
    bench: Bench | None = None
    try:
        url = parent.recv()
        import duckdb

        bench = Bench(make_config(url), data_dir, args.maintenance_every)
        db = bench.store.path
        print(f"daemon cycles against {url} (child pid {server.pid}); data: {data_dir}; duckdb {duckdb.__version__}; "
              f"{args.hits_per_cycle} new hits per cycle; maintenance every {args.maintenance_every} cycles; "
              f"malloc arenas {arenas}")
        for _ in range(args.warmup):
            bench.cycle()
        if bench.failures:
            raise SystemExit(f"collection failed during warm-up: {bench.failures[0]}")
        gc.collect()
        print(f"after {args.warmup} warm-up cycles: RSS {rss_mb():.1f} MB, {bench.posts():,} posts")
        print(f"{'cycle':>7} {'RSS MB':>8} {'ΔRSS':>7} {'heap MB':>8} {'py objects':>11} {'fds':>4} {'thr':>4} "
              f"{'ms/cycle':>9} {'write ms':>9} {'posts':>7} {'DB MB':>6}")
        samples: list[float] = []
        heap: list[float] = []
        first_rss = rss_mb()
        started = last = time.perf_counter()
        last_write, last_n = bench.write_seconds, 0
        for n in range(1, args.cycles + 1):
            bench.cycle()
            samples.append(rss_mb())
            heap.append(heap_in_use_mb())
            if n % args.every == 0 or n == args.cycles:
                now = time.perf_counter()
                done = n - last_n
                per_cycle = (now - last) / done * 1000
                writes = (bench.write_seconds - last_write) / done * 1000
                last, last_n, last_write = now, n, bench.write_seconds
                size = db.stat().st_size / 1e6
                print(f"{n:7,} {samples[-1]:8.1f} {samples[-1] - first_rss:+7.1f} {heap[-1]:8.1f} "
                      f"{len(gc.get_objects()):11,} {open_fds():4} {threading.active_count():4} {per_cycle:9.1f} "
                      f"{writes:9.1f} {bench.posts():7,} {size:6.1f}", flush=True)
        elapsed = time.perf_counter() - started
        q1, q4 = quarter_medians(samples)
        h1, h4 = quarter_medians(heap)
        growth = q4 - q1
        flat = growth < FLAT_MB and growth < 0.05 * q1
        failed = len(bench.failures)
        per_k = 1000 / max(1, args.cycles * 3 / 4)  # the quarters' midpoints are 3/4 of the run apart
        print(f"\n{args.cycles:,} cycles in {elapsed:.0f} s ({elapsed / args.cycles * 1000:.0f} ms/cycle); "
              f"{failed} failed cycles; {bench.posts():,} posts stored")
        print(f"RSS median, first quarter {q1:.1f} MB -> last quarter {q4:.1f} MB: {growth:+.1f} MB "
              f"({growth * per_k:+.2f} MB per 1,000 cycles); min {min(samples):.1f}, max {max(samples):.1f} MB "
              f"-> {'FLAT' if flat else 'GROWING'} (flat: under {FLAT_MB:.0f} MB and 5 %)")
        # Growth that stops (caches filling, an instance's attaches until it is replaced) is bounded; growth
        # that goes on in the second half as in the first is a leak.
        s1, s4 = quarter_medians(samples[len(samples) // 2:])
        print(f"RSS in the second half alone: {s1:.1f} -> {s4:.1f} MB, {s4 - s1:+.1f} MB "
              f"-> {'LEVELLED OFF' if s4 - s1 < FLAT_MB / 2 else 'STILL GROWING'} (under {FLAT_MB / 2:.1f} MB)")
        print(f"malloc heap in use, first quarter {h1:.1f} MB -> last quarter {h4:.1f} MB: {h4 - h1:+.1f} MB "
              f"({(h4 - h1) * per_k:+.2f} MB per 1,000 cycles)")
        if LIBC is not None:
            before = rss_mb()
            LIBC.malloc_trim(0)
            print(f"malloc_trim(0): RSS {before:.1f} -> {rss_mb():.1f} MB (the difference was freed memory "
                  "malloc kept, not live data)")
        if failed:
            print(f"first failure: {bench.failures[0]}")
        if args.tracemalloc or not flat:
            run_tracemalloc(bench, args.tracemalloc_cycles, top=15)
    finally:
        if bench is not None:
            bench.close()
        parent.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Stopping `monitor import` (SIGTERM, or Ctrl-C to its process group) stops its worker processes too:
none is left waiting, idle, for work that will never come."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import config_file

if not Path("/proc/self/stat").exists():
    pytest.skip("reads the process tree from /proc (Linux)", allow_module_level=True)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name, in parentheses, may hold spaces
    return int(fields[1]), fields[0]


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[1] not in ("Z", "X")}


def _archive(path: Path, posts: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(posts):
            fh.write(json.dumps({"platform": "test", "id": str(i), "author": f"u{i % 97}", "lang": "en",
                                 "created_at": f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                                 "text": f"Elon Musk says the Stargate data centers are {i} times better, but I doubt "
                                         f"it #{i % 50}"}) + "\n")
    return path


def _start_import(tmp_path: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    """An import of a file big enough to be still analysing when it is stopped; returns it once its
    worker processes run, with its descendants at that moment."""
    archive = _archive(tmp_path / "big.jsonl", 120_000)
    config = config_file(tmp_path / "two-workers.toml",
                         lambda data: data.setdefault("analysis", {}).update(analyzer="vader", workers=2))
    cmd = [sys.executable, "-m", "monitor", "--config", str(config), "--data-dir", str(tmp_path / "data"),
           "import", "--analyzer", "vader", str(archive)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [pid for pid in _descendants(proc.pid)
                   if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        if len(workers) >= 2:
            time.sleep(0.5)  # let them take work
            return proc, _descendants(proc.pid)
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the import never started its worker processes")


def _assert_all_end(proc: subprocess.Popen[bytes], tree: set[int]) -> None:
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _alive(tree)
    for pid in left:  # leave no process behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left after the import stopped: {sorted(left)}"


def test_sigterm_stops_the_workers(tmp_path: Path) -> None:
    proc, tree = _start_import(tmp_path)
    assert proc.poll() is None and len(tree) >= 2
    os.kill(proc.pid, signal.SIGTERM)
    _assert_all_end(proc, tree)
    assert proc.returncode != 0  # stopped, not finished
    # The workers were stopped, not waited for, and the import still recorded itself as interrupted.
    con = duckdb.connect(str(tmp_path / "data" / "monitor.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status, message FROM imports").fetchall() == [("partial", "interrupted")]
    finally:
        con.close()


def test_ctrl_c_stops_the_workers(tmp_path: Path) -> None:
    proc, tree = _start_import(tmp_path)
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
    _assert_all_end(proc, tree)
    assert proc.returncode != 0


def test_sigterm_as_interrupt_raises_keyboard_interrupt_within_the_block_only() -> None:
    code = """
import os, signal
from monitor.ingest.pool import sigterm_as_interrupt
try:
    with sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()  # the handler raises before this returns
except KeyboardInterrupt:
    print("interrupted", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "interrupted True"

"""The daemon's state on disk, shared by the daemon (which writes it) and `monitor status` (which
reads it): the lock that makes one daemon per data directory, and the status file of its jobs."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

LOCK_NAME = "daemon.lock"
STATUS_NAME = "daemon-status.json"


class DaemonRunning(Exception):
    pass


class DaemonLock:
    """An exclusive flock on DATA_DIR/daemon.lock holding our pid. The kernel drops the lock when
    the process dies, so a stale pid file never blocks a restart."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # held (and locked) for the daemon's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise DaemonRunning(f"a daemon (pid {pid}) is already running for {self.path.parent}; "
                                "stop it first, or use another --data-dir") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def running_pid(data_dir: Path) -> int | None:
    """The daemon's pid if one holds the lock for this data directory."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def write_status(data_dir: Path, jobs: dict[str, Any]) -> None:
    """Replace the status file atomically (a reader never sees half of it)."""
    payload = {"pid": os.getpid(), "updated_at": datetime.now(UTC).isoformat(), "jobs": jobs}
    tmp = data_dir / f".{STATUS_NAME}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    tmp.replace(data_dir / STATUS_NAME)


def read_status(data_dir: Path) -> dict[str, Any]:
    """The running daemon's status ({} when none runs or the file is unreadable)."""
    status_file = data_dir / STATUS_NAME
    if not running_pid(data_dir) or not status_file.exists():
        return {}
    try:
        return dict(json.loads(status_file.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError):
        return {}

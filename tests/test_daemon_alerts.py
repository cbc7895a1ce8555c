"""The daemon's spikes and voices reach an alert sink (a webhook on 127.0.0.1) exactly once, across a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts import AlertsConfig
from monitor.daemon import Daemon
from monitor.ingest.imports import Importer
from monitor.store import Store
from tests.conftest import write_jsonl


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_a_spike_a_voice_and_a_stance_shift_reach_the_webhook_once_across_a_restart(
        config, data_dir: Path, tmp_path: Path, webhook) -> None:
    url, received = webhook
    cfg = config.model_copy(update={"alerts": AlertsConfig.model_validate({"sinks": [{"kind": "webhook",
                                                                                       "url": url}]})})
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    records = [{"platform": "x", "id": f"m{h}", "text": "Elon Musk again", "author": "a",
                "created_at": stamp(now - timedelta(hours=h, minutes=-5))} for h in range(1, 31)]
    records += [{"platform": "x", "id": f"s{k}", "text": f"Elon Musk <b>says</b> they lack the money, {k}",
                 "author": f"u{k}", "likes": k, "url": f"https://x.example/{k}",
                 "created_at": stamp(now + timedelta(seconds=k))} for k in range(20)]
    records += [{"platform": "x", "id": "v1", "author": "elonmusk", "url": "https://x.example/v1",
                 "text": "Sam Altman's Stargate: they don't have the money",
                 "created_at": stamp(now + timedelta(minutes=10))}]
    records += [{"platform": "x", "id": f"f{k}", "author": f"f{k}", "text": f"The Stargate Project is a huge win, {k}",
                 "created_at": stamp(now - timedelta(hours=30))} for k in range(20)]
    records += [{"platform": "x", "id": f"g{k}", "author": f"g{k}", "text": f"The Stargate Project is vaporware, {k}",
                 "likes": k, "url": f"https://x.example/g{k}", "created_at": stamp(now - timedelta(hours=3))}
                for k in range(20)]
    Importer(cfg, Store(data_dir)).import_paths([write_jsonl(tmp_path / "a.jsonl", records)])
    at = (now + timedelta(minutes=30)).replace(tzinfo=None)
    for _ in range(2):  # a daemon, then the same daemon restarted on the same data directory
        daemon = Daemon(cfg, Store(data_dir), data_dir)
        for _ in range(2):  # two maintenance runs each
            daemon.watch_spikes(at)
            daemon.watch_voices(at + timedelta(minutes=5))
            daemon.watch_stance(at)
            daemon.alerts.flush()
    assert sorted(r["kind"] for r in received) == ["spike", "stance_shift", "voice"]
    shift = next(r for r in received if r["kind"] == "stance_shift")
    assert shift["event"]["target_id"] == "stargate" and shift["event"]["previous_net"] == 1.0
    assert shift["event"]["current_net"] == -1.0 and shift["url"] == "https://x.example/g19"
    spike = next(r for r in received if r["kind"] == "spike")
    assert spike["event"]["target_id"] == "musk" and spike["event"]["posts"] == 20
    assert spike["text"] == "Elon Musk <b>says</b> they lack the money, 19"  # literal, the most engaged post
    voice = next(r for r in received if r["kind"] == "voice")
    assert voice["event"]["about"] == ["altman", "stargate"] and voice["url"] == "https://x.example/v1"

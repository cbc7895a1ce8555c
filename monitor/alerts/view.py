"""Showing the alerts' state in the terminal (`monitor status`, `monitor alerts status`).

Errors quote what a server answered: they are shown literally (rich ``Text``, control characters
made visible), never as markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from monitor.terminal import literal


def render_alert_status(data: dict[str, Any], console: Console) -> None:
    """The alerts part of `monitor status` (``data`` from ``alert_status``): one line per sink, then
    each failed or retrying delivery. Errors are shown literally (they quote what a server said)."""
    if not data["sinks"]:
        console.print(Text("Alerts: none this week.", style="dim"))
        return
    for sink, counts in sorted(data["sinks"].items()):
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        bad = counts.get("failed", 0) or counts.get("retrying", 0)
        console.print(Text.assemble("Alerts to ", literal(sink), f": {summary} since {data['since'][:10]}",
                                    style="yellow" if bad else ""))
    for f in data["failures"]:
        retry = f", next try {f['next_attempt_at'][:16]}" if f["next_attempt_at"] else ""
        answer = f" (answer {f['http_status']})" if f["http_status"] is not None else ""
        console.print(Text.assemble("  ", (f["status"], "red" if f["status"] == "failed" else "yellow"), " ",
                                    literal(f"{f['event_key']} -> {f['sink']}{answer}: {f['error'] or '?'}"
                                            f" after {f['attempts']} tries{retry}", limit=240)))

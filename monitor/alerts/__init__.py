"""Alerts that reach people: spikes, voices and stance shifts delivered to webhook, Slack, ntfy and
e-mail sinks, once per event, with retries, rate limits and quiet hours (see delivery.py).

The names below load on first use: monitor/config.py imports ``monitor.alerts.settings``, and that
must not pull in the store, httpx or smtplib (nor risk an import cycle through them).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.alerts.delivery import (
        CREATE_TABLE,
        AlertDispatcher,
        SinkResult,
        alert_status,
        delivery_counts,
        ensure_table,
        recent_failures,
        send_test_alert,
    )
    from monitor.alerts.detect import recent_stance_shifts
    from monitor.alerts.events import (
        AlertEvent,
        SpikeEvent,
        StanceShiftEvent,
        TestEvent,
        VoiceEvent,
        event_from_json,
    )
    from monitor.alerts.settings import AlertsConfig, EmailSink, NtfySink, QuietHours, SlackSink, WebhookSink

_WHERE = {
    "delivery": ["CREATE_TABLE", "AlertDispatcher", "SinkResult", "alert_status", "delivery_counts", "ensure_table",
                 "recent_failures", "send_test_alert"],
    "detect": ["recent_stance_shifts"],
    "events": ["AlertEvent", "SpikeEvent", "StanceShiftEvent", "TestEvent", "VoiceEvent", "event_from_json"],
    "settings": ["AlertsConfig", "EmailSink", "NtfySink", "QuietHours", "SlackSink", "WebhookSink"],
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "CREATE_TABLE", "AlertDispatcher", "AlertEvent", "AlertsConfig", "EmailSink", "NtfySink", "QuietHours",
    "SinkResult", "SlackSink", "SpikeEvent", "StanceShiftEvent", "TestEvent", "VoiceEvent", "WebhookSink",
    "alert_status", "delivery_counts", "ensure_table", "event_from_json", "recent_failures", "recent_stance_shifts",
    "send_test_alert",
]
assert sorted(__all__) == sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor.alerts' has no attribute {name!r}")
    return getattr(import_module(f"monitor.alerts.{module}"), name)

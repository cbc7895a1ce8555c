"""Alerts that reach people: spikes, voices and stance shifts delivered to webhook, Slack, ntfy and
e-mail sinks, once per event, with retries, rate limits and quiet hours (see delivery.py).

The settings (``[alerts]`` in the config) live in monitor/alerts_config.py, in the config's layer.
"""

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
from monitor.alerts.events import AlertEvent, SpikeEvent, StanceShiftEvent, TestEvent, VoiceEvent, event_from_json
from monitor.alerts.view import render_alert_status
from monitor.alerts_config import AlertsConfig

__all__ = [
    "CREATE_TABLE", "AlertDispatcher", "AlertEvent", "AlertsConfig", "SinkResult", "SpikeEvent", "StanceShiftEvent",
    "TestEvent", "VoiceEvent", "alert_status", "delivery_counts", "ensure_table", "event_from_json",
    "recent_failures", "recent_stance_shifts", "render_alert_status", "send_test_alert",
]

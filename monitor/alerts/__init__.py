"""Alerts that reach people: spikes, voices and stance shifts delivered to webhook, Slack, ntfy and
e-mail sinks, once per event, with retries, rate limits and quiet hours (see delivery.py)."""

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
from monitor.alerts.events import AlertEvent, SpikeEvent, StanceShiftEvent, TestEvent, VoiceEvent, event_from_json
from monitor.alerts.settings import AlertsConfig, EmailSink, NtfySink, QuietHours, SlackSink, WebhookSink

__all__ = [
    "CREATE_TABLE",
    "AlertDispatcher",
    "AlertEvent",
    "AlertsConfig",
    "EmailSink",
    "NtfySink",
    "QuietHours",
    "SinkResult",
    "SlackSink",
    "SpikeEvent",
    "StanceShiftEvent",
    "TestEvent",
    "VoiceEvent",
    "WebhookSink",
    "alert_status",
    "delivery_counts",
    "ensure_table",
    "event_from_json",
    "recent_failures",
    "send_test_alert",
]

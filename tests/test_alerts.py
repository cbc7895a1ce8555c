"""Alerts against real local servers: an HTTP server on 127.0.0.1 standing in for webhook, Slack and
ntfy endpoints, and an SMTP server (aiosmtpd). The clock and sleep are injected: nothing waits."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from monitor.alerts import (
    AlertDispatcher,
    AlertsConfig,
    SpikeEvent,
    StanceShiftEvent,
    VoiceEvent,
    delivery_counts,
    recent_failures,
    send_test_alert,
)
from monitor.alerts.view import render_alert_status
from monitor.alerts_cli import alerts_group
from monitor.alerts_config import EmailSink, QuietHours
from monitor.store import Store

HOSTILE = "<script>alert(1)</script> <!channel> *bold* & <@U123> \x1b[31mred\x1b[0m [b]x[/b]\r\nInjected: header"
SECRET = "s3cret-Pa55-never-shown"


# --- a local HTTP server ------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSinkServer:
    """Answers each path from a script of (status, headers), then 200; records every request."""

    url: str
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def http_sink() -> Iterator[HttpSinkServer]:
    state = HttpSinkServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            script = state.scripts.get(self.path) or []
            status, headers = script.pop(0) if script else (200, {})
            headers = dict(headers)
            self.send_response(status, headers.pop("_reason", None))  # a server's own reason phrase
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --- a local SMTP server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


def _start_smtp(tls_context: ssl.SSLContext | None = None, password: str | None = None) -> tuple[Any, SmtpServer]:
    aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd is in the test extra")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    state = SmtpServer(port=_free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            from email import message_from_bytes, policy

            state.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password.decode() == password
        if ok:
            return AuthResult(success=True)
        # Like servers that name the account they refused: the error text then holds a secret.
        user = data.login.decode() if isinstance(data, LoginPassword) else "?"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 login refused for {user}")

    kwargs: dict[str, Any] = {"auth_require_tls": False}
    if password is not None:
        kwargs["authenticator"] = authenticator
    if tls_context is not None:
        kwargs |= {"tls_context": tls_context, "require_starttls": True}
    assert aiosmtpd
    controller = Controller(Handler(), hostname="127.0.0.1", port=state.port, **kwargs)
    controller.start()
    return controller, state


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    controller, state = _start_smtp(password=SECRET)
    yield state
    controller.stop()


# --- helpers ------------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def alerts_config(**values: Any) -> AlertsConfig:
    return AlertsConfig.model_validate(values)


def spike(target: str = "musk", hour: int = 14, ratio: float = 5.0, posts: int = 40,
          text: str | None = "Big news", url: str | None = "https://example.org/post/1") -> SpikeEvent:
    return SpikeEvent.from_spike({
        "target_id": target, "name": target.title(), "start": f"2026-12-06T{hour:02d}:00:00", "posts": posts,
        "average": 8.0, "ratio": ratio, "mean_sentiment": -0.2,
        "top_post": {"post_key": "x:1", "text": text, "url": url, "engagement": 10},
    })


def rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as con:
        cursor = con.execute("SELECT * FROM alert_deliveries ORDER BY event_key, sink")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def dispatcher(config: AlertsConfig, store: Store, clock: Clock) -> AlertDispatcher:
    return AlertDispatcher(config, store.write_connection, clock=clock, sleep=clock.sleep)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 12, 6, 14, 30))


# --- payloads -----------------------------------------------------------------------------------


def test_webhook_slack_and_ntfy_get_their_payloads_with_hostile_text_kept_literal(
        http_sink: HttpSinkServer, store: Store, clock: Clock) -> None:
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"},
                                  {"kind": "slack", "url": http_sink.url + "/slack"},
                                  {"kind": "ntfy", "url": http_sink.url + "/ntfy", "priority": 5}])
    results = dispatcher(config, store, clock).emit(spike(text=HOSTILE, url="https://example.org/a|b>c"))
    assert [(r.sink, r.status, r.http_status) for r in results] == [
        ("webhook", "sent", 200), ("slack", "sent", 200), ("ntfy", "sent", 200)]

    hook = http_sink.on("/hook")[0]
    assert hook.headers["content-type"] == "application/json"
    assert hook.json()["event"]["text"] == HOSTILE  # JSON carries the text exactly
    assert hook.json()["event_key"] == "spike:musk:2026-12-06T14:00"

    slack = http_sink.on("/slack")[0].json()
    mrkdwn = [slack["text"]] + [b["text"]["text"] for b in slack["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    mrkdwn += [e["text"] for b in slack["blocks"] for e in b.get("elements", [])]
    for field_text in mrkdwn:  # every mrkdwn field escaped; the only '<' opens our own link
        assert "<!channel>" not in field_text and "<script>" not in field_text and "\x1b" not in field_text
    assert mrkdwn[-1] == "<https://example.org/a%7Cb&gt;c|open the post>"
    plain = [b["text"] for b in slack["blocks"] if b.get("text", {}).get("type") == "plain_text"]
    assert plain[0]["text"].startswith("<script>alert(1)</script> <!channel> *bold* & <@U123> \\x1b[31mred")
    assert plain[0]["emoji"] is False

    ntfy = http_sink.on("/ntfy")[0]
    assert ntfy.headers["title"].startswith("Spike: Musk, 40 posts")
    assert ntfy.headers["priority"] == "5" and ntfy.headers["tags"] == "chart_with_upwards_trend"
    assert "markdown" not in ntfy.headers  # the body is shown as plain text
    body = ntfy.body.decode()
    assert "<script>alert(1)</script> <!channel> *bold*" in body and "\x1b" not in body and "\\x1b[31m" in body


def test_ntfy_headers_never_carry_line_breaks_from_names(http_sink: HttpSinkServer, store: Store,
                                                         clock: Clock) -> None:
    config = alerts_config(sinks=[{"kind": "ntfy", "url": http_sink.url + "/ntfy"}])
    event = VoiceEvent.from_voice(speaker_id="altman", speaker_name="Sam\r\nX-Evil: 1 Ältman", post_key="x:9",
                                  created_at=dt.datetime(2026, 12, 6, 14), platform="x", url="https://x.com/9",
                                  text=HOSTILE, about=["stargate"], about_names=["Stargate"])
    assert dispatcher(config, store, clock).emit(event)[0].status == "sent"
    received = http_sink.on("/ntfy")[0].headers
    assert "x-evil" not in received
    assert received["title"].startswith("=?utf-8?")  # non-ASCII as an RFC 2047 word, on one line


# --- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_and_500s_are_retried_then_sent(http_sink: HttpSinkServer, store: Store,
                                                             clock: Clock) -> None:
    http_sink.scripts["/hook"] = [(429, {"Retry-After": "7"}), (500, {}), (503, {})]
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    result = dispatcher(config, store, clock).emit(spike())[0]
    assert (result.status, result.attempts, result.http_status) == ("sent", 4, 200)
    assert clock.slept == [7.0, 4.0, 8.0]  # Retry-After honoured, then exponential backoff (2 s base)
    assert len(http_sink.on("/hook")) == 4
    [row] = rows(store)
    assert (row["status"], row["attempts"], row["http_status"], row["error"]) == ("sent", 4, 200, None)


def test_a_long_retry_after_is_not_slept_through_but_retried_at_a_later_flush(
        http_sink: HttpSinkServer, store: Store, clock: Clock) -> None:
    http_sink.scripts["/hook"] = [(429, {"Retry-After": "3600"})]
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    alerts = dispatcher(config, store, clock)
    first = alerts.emit(spike())[0]
    assert (first.status, first.http_status, clock.slept) == ("retrying", 429, [])
    assert first.next_attempt_at == clock.now + dt.timedelta(hours=1)
    clock.now += dt.timedelta(minutes=30)
    assert alerts.flush() == []  # not due yet
    clock.now += dt.timedelta(minutes=31)
    assert [(r.status, r.attempts) for r in alerts.flush()] == [("sent", 2)]


def test_failures_are_recorded_and_shown_for_status(http_sink: HttpSinkServer, store: Store, clock: Clock) -> None:
    http_sink.scripts["/gone"] = [(404, {})]
    config = alerts_config(sinks=[
        {"kind": "webhook", "name": "gone", "url": http_sink.url + "/gone"},
        {"kind": "slack", "name": "down", "url": f"http://127.0.0.1:{_free_port()}/x", "retry": {"max_attempts": 2}},
        {"kind": "webhook", "name": "ok", "url": http_sink.url + "/ok"}])
    results = {r.sink: r for r in dispatcher(config, store, clock).emit(spike())}
    assert (results["gone"].status, results["gone"].attempts, results["gone"].http_status) == ("failed", 1, 404)
    assert (results["down"].status, results["down"].attempts) == ("failed", 2)
    assert "ConnectError" in (results["down"].error or "")
    assert results["ok"].status == "sent"  # one broken sink does not stop the others
    with store.read() as con:
        failures = recent_failures(con, since=clock.now - dt.timedelta(hours=1))
        counts = delivery_counts(con, since=clock.now - dt.timedelta(hours=1))
    assert {(f["sink"], f["status"], f["http_status"]) for f in failures} == {("gone", "failed", 404),
                                                                            ("down", "failed", None)}
    assert counts == {"down": {"failed": 1}, "gone": {"failed": 1}, "ok": {"sent": 1}}


def test_status_helpers_are_empty_before_any_alert(store: Store) -> None:
    store.ensure()
    with store.read() as con:
        assert recent_failures(con) == [] and delivery_counts(con) == {}
    console = Console(file=io.StringIO(), width=100)
    render_alert_status({"since": "2026-12-01T00:00:00", "sinks": {}, "failures": []}, console)
    assert "Alerts: none this week." in console.file.getvalue()  # type: ignore[attr-defined]


def test_alerts_status_shows_what_a_server_answered_literally(http_sink: HttpSinkServer, store: Store,
                                                              clock: Clock) -> None:
    http_sink.scripts["/hook"] = [(403, {"_reason": "[bold red]Forbidden[/] \x1b[2J"})]
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    alerts = AlertDispatcher(config, store.write_connection, clock=clock, sleep=clock.sleep)
    assert [e.key for e in alerts.queue([spike(), spike()])] == [spike().key]
    assert http_sink.requests == []  # recorded, not sent yet
    assert alerts.queue([spike()]) == []  # already recorded: nothing new
    assert [r.status for r in alerts.flush()] == ["failed"]
    app = SimpleNamespace(store=store, console=Console(file=io.StringIO(), width=200, force_terminal=True))
    outcome = CliRunner().invoke(alerts_group, ["status", "--json"], obj=app)
    data = json.loads(outcome.output)
    assert data["sinks"] == {"webhook": {"failed": 1}}
    assert data["failures"][0]["error"].startswith("HTTP 403 [bold red]Forbidden[/]")
    with store.read() as con:
        from monitor.alerts import alert_status

        render_alert_status(alert_status(con, since=dt.timedelta(days=3650)), app.console)
    shown = app.console.file.getvalue()
    assert "[bold red]Forbidden[/]" in shown and "\\x1b[2J" in shown and "\x1b[2J" not in shown.replace("\\x1b", "")


# --- once per event -----------------------------------------------------------------------------


def test_an_event_is_delivered_once_across_a_restart(http_sink: HttpSinkServer, tmp_path: Path,
                                                     clock: Clock) -> None:
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    first = dispatcher(config, Store(tmp_path / "data"), clock)
    assert [r.status for r in first.emit(spike())] == ["sent"]
    assert first.emit(spike()) == []  # the same spike found again by the same daemon
    restarted = dispatcher(config, Store(tmp_path / "data"), clock)  # a new process, the same file
    assert restarted.emit(spike()) == []
    assert restarted.emit(spike(hour=15))[0].status == "sent"  # the next hour's spike is a new event
    assert [r.json()["event_key"] for r in http_sink.on("/hook")] == ["spike:musk:2026-12-06T14:00",
                                                                      "spike:musk:2026-12-06T15:00"]


def test_a_delivery_pending_at_shutdown_is_sent_after_the_restart(http_sink: HttpSinkServer, tmp_path: Path,
                                                                  clock: Clock) -> None:
    http_sink.scripts["/hook"] = [(503, {"Retry-After": "600"})]
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    assert dispatcher(config, Store(tmp_path / "data"), clock).emit(spike())[0].status == "retrying"
    clock.now += dt.timedelta(minutes=11)
    results = dispatcher(config, Store(tmp_path / "data"), clock).flush()
    assert [(r.status, r.attempts) for r in results] == [("sent", 2)]
    assert http_sink.on("/hook")[1].json()["event"]["text"] == "Big news"  # the event itself came from the table


# --- quiet hours, rate limits, thresholds -------------------------------------------------------


def test_quiet_hours_hold_alerts_until_they_end(http_sink: HttpSinkServer, store: Store) -> None:
    clock = Clock(dt.datetime(2026, 12, 6, 23, 0))  # 00:00 in Berlin (UTC+1 in December)
    config = alerts_config(quiet_hours={"start": "22:30", "end": "07:00", "timezone": "Europe/Berlin"},
                           sinks=[{"kind": "webhook", "url": http_sink.url + "/hook"}])
    alerts = dispatcher(config, store, clock)
    held = alerts.emit(spike(hour=22))[0]
    assert held.status == "held" and held.next_attempt_at == dt.datetime(2026, 12, 7, 6, 0)
    clock.now = dt.datetime(2026, 12, 7, 5, 59)
    assert [r.status for r in alerts.flush()] == []  # still quiet: nothing due
    assert http_sink.requests == []
    clock.now = dt.datetime(2026, 12, 7, 6, 0)
    assert [r.status for r in alerts.flush()] == ["sent"]
    assert len(http_sink.on("/hook")) == 1


def test_quiet_hours_within_one_day() -> None:
    quiet = QuietHours.model_validate({"start": "12:00", "end": "13:30"})
    assert quiet.quiet_until(dt.datetime(2026, 12, 6, 11, 59)) is None
    assert quiet.quiet_until(dt.datetime(2026, 12, 6, 12, 0)) == dt.datetime(2026, 12, 6, 13, 30)
    assert quiet.quiet_until(dt.datetime(2026, 12, 6, 13, 30)) is None


def test_rate_limit_delays_the_alerts_over_it(http_sink: HttpSinkServer, store: Store, clock: Clock) -> None:
    config = alerts_config(sinks=[{"kind": "webhook", "url": http_sink.url + "/hook", "max_per_hour": 2}])
    alerts = dispatcher(config, store, clock)
    results = alerts.emit_many([spike("musk"), spike("altman"), spike("son")])
    assert [r.status for r in results] == ["sent", "sent", "pending"]
    assert "rate limit" in (results[2].error or "")
    assert len(http_sink.requests) == 2
    clock.now += dt.timedelta(minutes=30)
    assert alerts.flush() == []
    clock.now += dt.timedelta(minutes=31)
    assert [r.status for r in alerts.flush()] == ["sent"]
    assert len(http_sink.requests) == 3  # delayed, not dropped


def test_per_target_thresholds_and_event_kinds_per_sink(http_sink: HttpSinkServer, store: Store,
                                                        clock: Clock) -> None:
    config = alerts_config(
        thresholds={"spike_ratio": 4.0, "stance_shift": 0.3},
        targets={"musk": {"spike_ratio": 10.0}, "trump": {"voices": False}},
        sinks=[{"kind": "webhook", "name": "all", "url": http_sink.url + "/all"},
               {"kind": "webhook", "name": "spikes", "url": http_sink.url + "/spikes", "events": ["spike"]}])
    shift = StanceShiftEvent(target_id="altman", target_name="Altman", at=clock.now, previous_net=0.1,
                             current_net=-0.3, posts=50, previous_posts=40)
    small_shift = shift.model_copy(update={"target_id": "oracle", "current_net": 0.0})
    few_posts = shift.model_copy(update={"target_id": "nadella", "previous_posts": 19})
    voice = VoiceEvent.from_voice(speaker_id="trump", speaker_name="Trump", post_key="x:5",
                                  created_at=clock.now, about=["stargate"])
    events = [spike("musk", ratio=5.0), spike("altman", ratio=5.0), spike("son", ratio=3.5), shift, small_shift,
              few_posts, voice]
    sent = {(r.sink, r.event_key) for r in dispatcher(config, store, clock).emit_many(events)}
    assert sent == {("all", "spike:altman:2026-12-06T14:00"), ("spikes", "spike:altman:2026-12-06T14:00"),
                    ("all", "stance_shift:altman:2026-12-06:against")}


# --- e-mail -------------------------------------------------------------------------------------


def email_sink(port: int, **values: Any) -> dict[str, Any]:
    return {"kind": "email", "host": "127.0.0.1", "port": port, "starttls": False, "from": "monitor@example.org",
            "to": ["desk@example.org"], "username_env": "MONITOR_TEST_SMTP_USER",
            "password_env": "MONITOR_TEST_SMTP_PASSWORD", "timeout_seconds": 5} | values


def test_email_reaches_a_local_smtp_server_as_plain_text(smtp: SmtpServer, store: Store, clock: Clock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "monitor")
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)
    config = alerts_config(sinks=[email_sink(smtp.port)])
    result = dispatcher(config, store, clock).emit(spike(text=HOSTILE))[0]
    assert (result.status, result.http_status) == ("sent", 250)
    [message] = smtp.messages
    assert message["Subject"].startswith("[monitor] Spike: Musk, 40 posts") and "\n" not in message["Subject"]
    assert message["To"] == "desk@example.org" and message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "<script>alert(1)</script> <!channel>" in body and "\\x1b[31m" in body and "\x1b" not in body
    assert "https://example.org/post/1" in body


def test_smtp_credentials_from_the_environment_never_reach_logs_or_records(
        smtp: SmtpServer, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "user-" + SECRET)
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET + "-wrong")
    config = alerts_config(sinks=[email_sink(smtp.port), {"kind": "webhook", "name": "noenv",
                                                           "url": "http://127.0.0.1:9/x",
                                                           "token_env": "MONITOR_TEST_UNSET_TOKEN"}])
    monkeypatch.delenv("MONITOR_TEST_UNSET_TOKEN", raising=False)
    with caplog.at_level(logging.DEBUG):
        results = {r.sink: r for r in dispatcher(config, store, clock).emit(spike())}
    assert (results["email"].status, results["email"].http_status) == ("failed", 535)  # not retried
    assert results["noenv"].error == "environment variable MONITOR_TEST_UNSET_TOKEN is not set"
    assert smtp.messages == []
    recorded = json.dumps(rows(store), default=str)
    assert "535 5.7.8 login refused for ***" in recorded  # the server's answer, without the account
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))  # not the server's
    assert SECRET not in recorded and SECRET not in ours
    assert "alert spike:musk:2026-12-06T14:00 -> email: failed" in ours


def test_starttls_is_used_when_configured_and_refused_when_missing(
        tmp_path: Path, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, state = _start_smtp(tls_context=context, password=SECRET)
    plain_controller, plain_state = _start_smtp()
    monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "monitor")
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)
    try:
        config = alerts_config(sinks=[
            email_sink(state.port, name="tls", starttls=True, ca_file=str(cert)),
            email_sink(plain_state.port, name="plain", starttls=True, ca_file=str(cert))])
        results = {r.sink: r for r in dispatcher(config, store, clock).emit(spike())}
    finally:
        controller.stop()
        plain_controller.stop()
    assert results["tls"].status == "sent" and len(state.messages) == 1
    # A server without STARTTLS never gets the credentials in clear text.
    assert results["plain"].status == "failed" and "STARTTLS" in (results["plain"].error or "")
    assert plain_state.messages == []


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA), made with the openssl command or, failing that, the
    cryptography package; the test skips when neither is there."""
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    if openssl:
        made = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-keyout", str(key_path), "-out", str(cert_path), "-days", "1",
                               "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                              capture_output=True, timeout=30)
        if made.returncode == 0:
            return cert_path, key_path
    return _self_signed_with_cryptography(cert_path, key_path)


def _self_signed_with_cryptography(cert_path: Path, key_path: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509", reason="no openssl command and no cryptography package")
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# --- `monitor alerts test` ----------------------------------------------------------------------


def test_alerts_test_command_reports_what_each_sink_answered(http_sink: HttpSinkServer, smtp: SmtpServer,
                                                             store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "monitor")
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)
    http_sink.scripts["/broken"] = [(400, {})]
    config = alerts_config(quiet_hours={"start": "00:00", "end": "23:59"}, sinks=[
        {"kind": "webhook", "url": http_sink.url + "/hook"}, email_sink(smtp.port),
        {"kind": "slack", "name": "broken", "url": http_sink.url + "/broken"}])
    store.ensure()
    app = SimpleNamespace(config=SimpleNamespace(alerts=config, path=None), store=store,
                          console=Console(file=io.StringIO()))
    outcome = CliRunner().invoke(alerts_group, ["test", "--json"], obj=app)
    assert outcome.exit_code == 1, outcome.output  # one sink refused
    answers = {r["sink"]: (r["status"], r["http_status"]) for r in json.loads(outcome.output)}
    assert answers == {"webhook": ("sent", 200), "email": ("sent", 250), "broken": ("failed", 400)}
    assert http_sink.on("/hook")[0].json()["kind"] == "test" and len(smtp.messages) == 1
    assert {r["status"] for r in rows(store)} == {"sent", "failed"}  # recorded too


def test_send_test_alert_without_a_database_tries_twice_at_most(http_sink: HttpSinkServer, clock: Clock) -> None:
    http_sink.scripts["/ntfy"] = [(503, {})]
    http_sink.scripts["/down"] = [(503, {"Retry-After": "1"})] * 5
    config = alerts_config(sinks=[{"kind": "ntfy", "url": http_sink.url + "/ntfy"},
                                  {"kind": "webhook", "url": http_sink.url + "/down"}])
    ntfy, down = send_test_alert(config, clock=clock, sleep=clock.sleep)
    assert (ntfy.sink, ntfy.status, ntfy.http_status, ntfy.attempts) == ("ntfy", "sent", 200, 2)
    assert (down.status, down.http_status, down.attempts) == ("failed", 503, 2)
    assert clock.slept == [1.0, 1.0]  # the user is waiting: a second between tries at most
    assert http_sink.on("/ntfy")[1].headers["tags"] == "white_check_mark"


def test_alerts_test_command_without_sinks_says_what_to_add() -> None:
    app = SimpleNamespace(config=SimpleNamespace(path="config/monitor.toml"), store=None, console=Console())
    outcome = CliRunner().invoke(alerts_group, ["test"], obj=app)
    assert outcome.exit_code == 1 and "add [[alerts.sinks]] to config/monitor.toml" in outcome.output


# --- configuration ------------------------------------------------------------------------------


def test_config_is_strict_and_names_what_is_wrong() -> None:
    import tomllib

    from pydantic import ValidationError

    raw = tomllib.loads("""
        [[sinks]]
        kind = "webhook"
        url = "http://127.0.0.1:9000/hook"
        [[sinks]]
        kind = "email"
        host = "smtp.example.org"
        from = "a@example.org"
        to = ["b@example.org"]
        username_env = "MONITOR_SMTP_USER"
        password_env = "MONITOR_SMTP_PASSWORD"
    """)
    config = AlertsConfig.model_validate(raw)
    assert config.sink_names() == ["webhook", "email"]
    assert isinstance(config.sinks[1], EmailSink) and config.sinks[1].port == 587 and config.sinks[1].starttls
    bad = [{"kind": "webhook", "url": "ftp://x"}, {"kind": "slack", "url": "http://x", "token": "t"},
           {"kind": "ntfy"}, {"kind": "email", "host": "h", "from": "a@b", "to": ["c@d"], "username_env": "U"},
           {"kind": "pager", "url": "http://x"}]
    for sink in bad:
        with pytest.raises(ValidationError):
            AlertsConfig.model_validate({"sinks": [sink]})
    with pytest.raises(ValidationError, match="used twice"):
        AlertsConfig.model_validate({"sinks": [{"kind": "webhook", "name": "a", "url": "http://x"},
                                               {"kind": "slack", "name": "a", "url": "http://y"}]})
    with pytest.raises(ValidationError, match="unknown time zone"):
        AlertsConfig.model_validate({"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Base"}})


def test_event_keys_name_the_event_not_when_it_was_seen() -> None:
    assert spike().key == spike(text="other text").key == "spike:musk:2026-12-06T14:00"
    aware = SpikeEvent.from_spike({"target_id": "musk", "start": "2026-12-06T15:00:00+01:00", "posts": 9,
                                   "average": 1.0, "ratio": 9.0})
    assert aware.key == "spike:musk:2026-12-06T14:00"  # naive UTC


def test_stance_shifts_compare_the_last_day_with_the_day_before() -> None:
    import duckdb

    from monitor.alerts.detect import recent_stance_shifts

    now = dt.datetime(2026, 12, 6, 14, 20)
    con = duckdb.connect()
    con.execute("""CREATE TABLE v_mentions (target_id VARCHAR, target_name VARCHAR, stance VARCHAR, url VARCHAR,
                   text VARCHAR, engagement BIGINT, created_at TIMESTAMP)""")
    rows: list[tuple[Any, ...]] = []
    for hours_ago, stances in ((30, ["favor"] * 15 + ["none"] * 5), (3, ["against"] * 14 + ["favor"] * 6)):
        for i, stance in enumerate(stances):
            rows.append(("altman", "Sam Altman", stance, f"https://x.example/{hours_ago}/{i}", f"{stance} {i}", i,
                         now - dt.timedelta(hours=hours_ago)))
    rows += [("musk", "Elon Musk", "favor", None, "steady", 0, now - dt.timedelta(hours=h)) for h in (2, 30)] * 10
    rows += [("son", "Son", "against", None, "only today", 0, now - dt.timedelta(hours=1))] * 30
    rows += [("altman", "Sam Altman", None, None, "unscored", 0, now - dt.timedelta(hours=2))] * 50
    con.executemany("INSERT INTO v_mentions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    [shift] = recent_stance_shifts(con, now)
    assert (shift.target_id, shift.previous_net, shift.current_net, shift.posts, shift.previous_posts) == (
        "altman", 0.75, -0.4, 20, 20)
    assert shift.key == "stance_shift:altman:2026-12-06:against" and shift.at == dt.datetime(2026, 12, 6, 14)
    assert shift.url == "https://x.example/3/13" and shift.text == "against 13"  # the most engaged 'against' post

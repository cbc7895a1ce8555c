"""Sending one alert to one sink, once: the payload each kind expects, and what the answer means.

Retries, rate limits and records are the dispatcher's (delivery.py); here one attempt is made and
its outcome classified (sent, worth retrying, or not).

Post text stays text everywhere: JSON escapes it for the webhook; in Slack it goes in a
``plain_text`` block and every ``mrkdwn`` field is escaped (& < >); ntfy gets it as the plain body
(no Markdown header); e-mail is text/plain only. Control characters (terminal escapes, bidi
overrides) are made visible in the human formats. Header values lose line breaks (no header
injection). Secrets read from the environment are removed from any error text before it is
returned, so they reach neither the log nor the database.
"""

from __future__ import annotations

import email.utils
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.alerts.events import BaseEvent
from monitor.alerts_config import (
    EmailSink,
    MissingSecret,
    NtfySink,
    SinkSettings,
    SlackSink,
    WebhookSink,
    require_env,
)

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"discourse-monitor/{__version__} (alerts)"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ERROR_LIMIT = 300


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try. ``code`` is the HTTP status, or the SMTP reply code for e-mail."""

    ok: bool
    code: int | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds the server asked us to wait


def visible(text: str | None) -> str:
    """Control characters shown as escapes (\\x1b), so text reaches a reader as what it is."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                        else f"\\u{ord(m.group(0)):04x}", text or "")


def one_line(text: str) -> str:
    return " ".join(visible(text).split())


def slack_escape(text: str) -> str:
    """Slack mrkdwn's three reserved characters; `<!channel>` in a post stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:ERROR_LIMIT]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- payloads ------------------------------------------------------------------------------


def plain_message(event: BaseEvent) -> str:
    """The alert as plain text (ntfy body, e-mail body)."""
    lines = [one_line(event.title()), *(one_line(d) for d in event.details())]
    if event.text:
        lines += ["", visible(event.text)]
    if event.url:
        lines += ["", one_line(event.url)]
    return "\n".join(lines)


def webhook_body(event: BaseEvent) -> dict[str, Any]:
    return event.payload() | {"kind": event.kind, "details": event.details(), "text": event.text, "url": event.url}


def slack_body(event: BaseEvent) -> dict[str, Any]:
    title = slack_escape(one_line(event.title()))
    summary = "\n".join([f"*{title}*", *(slack_escape(one_line(d)) for d in event.details())])
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": summary, "verbatim": True}}]
    if event.text:
        # plain_text: Slack parses no formatting, links or mentions in it.
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": visible(event.text)[:2900],
                                                   "emoji": False}})
    if event.url:
        link = slack_escape(one_line(event.url)).replace("|", "%7C")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|open the post>",
                                                         "verbatim": True}]})
    return {"text": title, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def header_value(text: str) -> str:
    """A header value on one line; non-ASCII as an RFC 2047 encoded word (ntfy decodes those)."""
    flat = one_line(text)[:250]
    return flat if flat.isascii() else Header(flat, "utf-8").encode(maxlinelen=10_000).replace("\n", "")


NTFY_TAGS = {"spike": "chart_with_upwards_trend", "voice": "speech_balloon", "stance_shift": "scales",
             "test": "white_check_mark"}


def ntfy_request(sink: NtfySink, event: BaseEvent) -> tuple[dict[str, str], bytes]:
    headers = {"Title": header_value(event.title()), "Tags": NTFY_TAGS.get(event.kind, "bell"),
               "Priority": str(3 if event.kind == "test" else sink.priority),
               "Content-Type": "text/plain; charset=utf-8"}
    if event.url and event.url.startswith(("http://", "https://")):
        headers["Click"] = header_value(event.url)
    return headers, plain_message(event).encode("utf-8")


def email_message(sink: EmailSink, event: BaseEvent) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(f"{sink.subject_prefix} {event.title()}".strip())[:200]
    message["From"] = sink.from_addr
    message["To"] = ", ".join(sink.to)
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain="discourse-monitor.local")
    message["X-Monitor-Event"] = one_line(event.key)[:200]
    message.set_content(plain_message(event) + "\n")  # text/plain only: nothing in it is rendered as HTML
    return message


# --- sending -------------------------------------------------------------------------------


def classify_response(response: httpx.Response) -> Attempt:
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(ok=True, code=status)
    wait = parse_retry_after(response.headers.get("retry-after"))
    retryable = status in (408, 425, 429) or status >= 500
    return Attempt(ok=False, code=status, error=f"HTTP {status} {response.reason_phrase}".strip(),
                   retryable=retryable, retry_after=wait)


def _bearer(token_env: str | None, secrets: list[str]) -> dict[str, str]:
    if not token_env:
        return {}
    token = require_env(token_env)
    secrets.append(token)
    return {"Authorization": f"Bearer {token}"}


def _http_request(sink: WebhookSink | SlackSink | NtfySink, event: BaseEvent,
                  secrets: list[str]) -> tuple[str, dict[str, str], bytes]:
    url = sink.resolve_url()
    if sink.url_env:
        secrets.append(url)
    headers = {"User-Agent": USER_AGENT}
    if isinstance(sink, NtfySink):
        extra, body = ntfy_request(sink, event)
        return url, headers | extra | _bearer(sink.token_env, secrets), body
    data = slack_body(event) if isinstance(sink, SlackSink) else webhook_body(event)
    headers["Content-Type"] = "application/json"
    if isinstance(sink, WebhookSink):
        headers |= _bearer(sink.token_env, secrets)
    return url, headers, json.dumps(data, ensure_ascii=False).encode("utf-8")


def send_http(sink: WebhookSink | SlackSink | NtfySink, event: BaseEvent) -> Attempt:
    # Imported here, not at the top: `monitor status` reads alert state and sends nothing, and
    # importing the HTTP client took ~0.18 s of its start-up.
    import httpx

    secrets: list[str] = []
    try:
        url, headers, body = _http_request(sink, event, secrets)
        timeout = httpx.Timeout(sink.timeout_seconds, connect=min(5.0, sink.timeout_seconds))
        # No redirects: a sink that moved should be reconfigured, not followed with the payload.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            return classify_response(client.post(url, headers=headers, content=body))
    except MissingSecret as exc:
        return Attempt(ok=False, error=str(exc))
    except httpx.TransportError as exc:  # connect, read, write errors and timeouts
        return Attempt(ok=False, error=redact(f"{type(exc).__name__}: {exc}", secrets), retryable=True)
    except (httpx.HTTPError, ValueError) as exc:  # an unusable URL, say
        return Attempt(ok=False, error=redact(f"{type(exc).__name__}: {exc}", secrets))


def _smtp_failure(exc: Exception, secrets: list[str]) -> Attempt:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        code = codes[0] if codes else None
        return Attempt(ok=False, code=code, error=redact(f"recipients refused: {exc.recipients}", secrets),
                       retryable=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return Attempt(ok=False, code=exc.smtp_code, error=redact(f"SMTP {exc.smtp_code} {message}", secrets),
                       retryable=400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLError | ssl.CertificateError):
        return Attempt(ok=False, error=redact(f"{type(exc).__name__}: {exc}", secrets))
    return Attempt(ok=False, error=redact(f"{type(exc).__name__}: {exc}", secrets), retryable=True)


def send_email(sink: EmailSink, event: BaseEvent) -> Attempt:
    secrets: list[str] = []
    try:
        credentials = None
        if sink.username_env and sink.password_env:
            credentials = (require_env(sink.username_env), require_env(sink.password_env))
            secrets.extend(credentials)
        with smtplib.SMTP(sink.host, sink.port, timeout=sink.timeout_seconds) as smtp:
            smtp.ehlo()
            if sink.starttls:
                # Raises SMTPNotSupportedError when the server offers no STARTTLS: never fall back to plain text.
                smtp.starttls(context=ssl.create_default_context(cafile=sink.ca_file))
                smtp.ehlo()
            if credentials:
                smtp.login(*credentials)
            smtp.send_message(email_message(sink, event))
            return Attempt(ok=True, code=250)
    except MissingSecret as exc:
        return Attempt(ok=False, error=str(exc))
    except (smtplib.SMTPException, OSError) as exc:
        return _smtp_failure(exc, secrets)


Sender = Callable[[SinkSettings, BaseEvent], Attempt]


def send_once(sink: SinkSettings, event: BaseEvent) -> Attempt:
    """One attempt to deliver ``event`` to ``sink``."""
    if isinstance(sink, EmailSink):
        return send_email(sink, event)
    return send_http(sink, event)

"""Alert settings: the ``[alerts]`` table of the config, validated by pydantic.

monitor/config.py imports this module: it belongs to the config's layer (the lowest, see the
import-linter contracts in pyproject.toml), so it imports only pydantic and the standard library.

```toml
[alerts]
quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/London" }

[alerts.thresholds]            # every target
spike_ratio = 3.0
[alerts.targets.musk]          # one target: only the keys given replace the defaults
spike_ratio = 10.0

[[alerts.sinks]]
kind = "webhook"
name = "ops"
url = "http://127.0.0.1:9000/hook"
max_per_hour = 30
```

Secrets never live in the file: a sink names the environment variable that holds each one
(``token_env``, ``url_env``, ``username_env``, ``password_env``) and it is read when sending.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EventKind = Literal["spike", "voice", "stance_shift", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrySettings(_Strict):
    max_attempts: int = Field(default=5, ge=1)  # in all, across flushes; then the delivery is 'failed'
    backoff_seconds: float = Field(default=2.0, ge=0)  # 2, 4, 8 ... between attempts
    max_backoff_seconds: float = Field(default=300.0, ge=0)
    # Longer waits (a long Retry-After) are not slept through: the next flush tries again.
    max_inline_wait_seconds: float = Field(default=20.0, ge=0)


class _SinkBase(_Strict):
    name: str | None = None  # names the sink in alert_deliveries; default: kind, or kind-N when repeated
    events: list[EventKind] | None = None  # which kinds this sink gets; default: all
    max_per_hour: int = Field(default=30, ge=1)  # rate limit; more alerts wait for the next free slot
    timeout_seconds: float = Field(default=10.0, gt=0)
    retry: RetrySettings = Field(default_factory=RetrySettings)

    def wants(self, kind: str) -> bool:
        return kind == "test" or self.events is None or kind in self.events


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


class _HttpSinkBase(_SinkBase):
    url: str | None = None
    url_env: str | None = None  # the URL is itself a secret (Slack webhooks): read it from this variable

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _http_url(value)

    @model_validator(mode="after")
    def _one_url(self) -> _HttpSinkBase:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self

    def resolve_url(self) -> str:
        if self.url is not None:
            return self.url
        return _http_url(require_env(self.url_env or "")) or ""


class WebhookSink(_HttpSinkBase):
    """POST of the event as JSON."""

    kind: Literal["webhook"]
    token_env: str | None = None  # sent as "Authorization: Bearer <token>"


class SlackSink(_HttpSinkBase):
    """A Slack-compatible incoming webhook (also Mattermost, Rocket.Chat)."""

    kind: Literal["slack"]


class NtfySink(_HttpSinkBase):
    """ntfy: the URL is the topic's (https://ntfy.sh/my-topic)."""

    kind: Literal["ntfy"]
    token_env: str | None = None  # access token, sent as "Authorization: Bearer <token>"
    priority: Literal[1, 2, 3, 4, 5] = 4


class EmailSink(_SinkBase):
    """E-mail over SMTP, plain text."""

    kind: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True  # upgrade the connection before logging in; refuse to send if the server cannot
    ca_file: str | None = None  # a private CA to verify the server with (default: the system's)
    from_addr: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username_env: str | None = None
    password_env: str | None = None
    subject_prefix: str = "[monitor]"

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> EmailSink:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env, or neither")
        return self


SinkSettings = Annotated[WebhookSink | SlackSink | NtfySink | EmailSink, Field(discriminator="kind")]


class TargetThresholds(_Strict):
    """When an event is worth an alert. In ``[alerts.targets.<id>]`` a key left out takes the
    value of ``[alerts.thresholds]``."""

    spike_ratio: float | None = None  # the hour's posts over the target's average hour
    spike_min_posts: int | None = None
    stance_shift: float | None = None  # change in net stance, (favor - against) / scored posts: -1..1
    stance_min_posts: int | None = None  # scored posts each day must have (fewer say little)
    voices: bool | None = None  # alert when the target's own account names another target


class Thresholds(_Strict):
    spike_ratio: float = 3.0
    spike_min_posts: int = 5
    stance_shift: float = 0.2
    stance_min_posts: int = 20
    voices: bool = True

    def merged(self, override: TargetThresholds | None) -> Thresholds:
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class QuietHours(_Strict):
    """Alerts due from ``start`` to ``end`` (local time of ``timezone``; may span midnight) are held
    and sent when the quiet hours end."""

    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}' (examples: 'UTC', 'Europe/Berlin')") from exc
        return value

    def quiet_until(self, now_utc: datetime) -> datetime | None:
        """When the quiet hours holding ``now_utc`` (naive UTC) end, as naive UTC; None outside them."""
        zone = ZoneInfo(self.timezone)
        local = now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return None
        spans_midnight = self.start > self.end
        inside = (clock >= self.start or clock < self.end) if spans_midnight else self.start <= clock < self.end
        if not inside:
            return None
        end_day = local.date() + timedelta(days=1) if spans_midnight and clock >= self.start else local.date()
        end_local = datetime.combine(end_day, self.end, tzinfo=zone)
        return end_local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


class AlertsConfig(_Strict):
    enabled: bool = True
    sinks: list[SinkSettings] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    targets: dict[str, TargetThresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        seen: set[str] = set()
        for name in self.sink_names():
            if name in seen:
                raise ValueError(f"sink name '{name}' is used twice")
            seen.add(name)
        return self

    def sink_names(self) -> list[str]:
        """Each sink's name: its ``name``, else its kind (kind-2, kind-3 ... when a kind repeats).
        Deliveries are recorded under it: give names if you reorder sinks."""
        names: list[str] = []
        counts: dict[str, int] = {}
        for sink in self.sinks:
            counts[sink.kind] = counts.get(sink.kind, 0) + 1
            names.append(sink.name or (sink.kind if counts[sink.kind] == 1 else f"{sink.kind}-{counts[sink.kind]}"))
        return names

    def thresholds_for(self, target_id: str | None) -> Thresholds:
        return self.thresholds.merged(self.targets.get(target_id or ""))


class MissingSecret(Exception):
    pass


def require_env(name: str) -> str:
    """The value of an environment variable a sink names; the error names the variable only."""
    value = os.environ.get(name)
    if not value:
        raise MissingSecret(f"environment variable {name} is not set")
    return value

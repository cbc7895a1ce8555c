"""What an alert is about: typed events, each with a deterministic key.

The key names the event itself (the target and the hour of a spike, the post of a voice), never
when it was noticed: a daemon that restarts and finds the same spike again makes the same key, and
alert_deliveries already holds it, so nothing is sent twice.

Post text in an event is data. Each sink turns it into its own format and keeps it literal there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TEXT_LIMIT = 500  # characters of post text carried in an alert


def _clip(text: str | None, limit: int = TEXT_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _naive(value: datetime | str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


class BaseEvent(BaseModel):
    """What every alert event has; ``kind`` says which one it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    target_id: str
    target_name: str
    at: datetime  # when it happened, naive UTC
    url: str | None = None  # the post that shows what it is about
    text: str | None = None  # ... and its text (clipped)

    @property
    def key(self) -> str:
        raise NotImplementedError

    def title(self) -> str:
        raise NotImplementedError

    def details(self) -> list[str]:
        """Lines of figures under the title (no post text: sinks place that themselves)."""
        return []

    def payload(self) -> dict[str, Any]:
        return {"event_key": self.key, "title": self.title(), "event": self.model_dump(mode="json")}


class SpikeEvent(BaseEvent):
    """An hour with ``ratio`` times the target's average hour over the last day."""

    kind: Literal["spike"] = "spike"
    posts: int
    average: float
    ratio: float
    mean_sentiment: float | None = None
    post_key: str | None = None

    @property
    def key(self) -> str:
        return f"spike:{self.target_id}:{self.at.isoformat(timespec='minutes')}"

    def title(self) -> str:
        return (f"Spike: {self.target_name}, {self.posts} posts in the hour from {self.at:%Y-%m-%d %H:%M} UTC "
                f"({self.ratio:g}x the average hour)")

    def details(self) -> list[str]:
        mood = "n/a" if self.mean_sentiment is None else f"{self.mean_sentiment:+.2f}"
        return [f"average hour: {self.average:g} posts; mean sentiment: {mood}"]

    @classmethod
    def from_spike(cls, spike: dict[str, Any]) -> SpikeEvent:
        """From one of monitor.summary.recent_spikes' dicts (what the daemon's watch_spikes finds)."""
        top = spike.get("top_post") or {}
        return cls(target_id=spike["target_id"], target_name=spike.get("name") or spike["target_id"],
                   at=_naive(spike["start"]), posts=int(spike["posts"]), average=float(spike["average"]),
                   ratio=float(spike["ratio"]), mean_sentiment=spike.get("mean_sentiment"),
                   url=top.get("url"), text=_clip(top.get("text")), post_key=top.get("post_key"))


class VoiceEvent(BaseEvent):
    """A post of a target's own account that names other targets (v_voices). ``target_id`` is the
    speaker."""

    kind: Literal["voice"] = "voice"
    post_key: str
    platform: str | None = None
    about: list[str] = Field(default_factory=list)  # target ids named
    about_names: list[str] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"voice:{self.target_id}:{self.post_key}"

    def title(self) -> str:
        where = f" ({self.platform})" if self.platform else ""
        return f"{self.target_name}{where} on {', '.join(self.about_names or self.about) or '?'}"

    @classmethod
    def from_voice(cls, *, speaker_id: str, speaker_name: str | None, post_key: str, created_at: datetime,
                   platform: str | None = None, url: str | None = None, text: str | None = None,
                   about: list[str] | None = None, about_names: list[str | None] | None = None) -> VoiceEvent:
        """From one row of the daemon's watch_voices query."""
        ids = list(about or [])
        names = [name or target for target, name in zip(ids, about_names, strict=True)] if about_names else ids
        return cls(target_id=speaker_id, target_name=speaker_name or speaker_id, at=_naive(created_at),
                   post_key=post_key, platform=platform, url=url, text=_clip(text), about=ids, about_names=names)


class StanceShiftEvent(BaseEvent):
    """The target's net stance, (favor - against) / scored posts, over the day before ``at`` moved
    by ``shift`` against the day before that. At most one alert per target, day and direction."""

    kind: Literal["stance_shift"] = "stance_shift"
    previous_net: float
    current_net: float
    posts: int  # scored posts in the last day
    previous_posts: int = 0  # ... and in the day before

    @property
    def shift(self) -> float:
        return round(self.current_net - self.previous_net, 3)

    @property
    def key(self) -> str:
        direction = "against" if self.shift < 0 else "favor"
        return f"stance_shift:{self.target_id}:{self.at.date().isoformat()}:{direction}"

    def title(self) -> str:
        return (f"Stance shift: {self.target_name}, net stance {self.previous_net:+.2f} -> {self.current_net:+.2f} "
                f"over the last 24 h")

    def details(self) -> list[str]:
        return [f"scored posts: {self.posts} in the last 24 h, {self.previous_posts} in the 24 h before; "
                "net stance = (favor - against) / scored posts"]


class TestEvent(BaseEvent):
    """`monitor alerts test`: checks that a sink answers."""

    __test__ = False  # not a pytest test class
    kind: Literal["test"] = "test"
    nonce: str

    @property
    def key(self) -> str:
        return f"test:{self.at.isoformat(timespec='seconds')}:{self.nonce}"

    def title(self) -> str:
        return "Test alert from discourse-monitor"

    def details(self) -> list[str]:
        return [f"sent at {self.at:%Y-%m-%d %H:%M:%S} UTC by `monitor alerts test`; if you read this, the sink works"]


AlertEvent = Annotated[SpikeEvent | VoiceEvent | StanceShiftEvent | TestEvent, Field(discriminator="kind")]
_EVENT: TypeAdapter[AlertEvent] = TypeAdapter(AlertEvent)


def event_from_json(data: str) -> SpikeEvent | VoiceEvent | StanceShiftEvent | TestEvent:
    """An event stored in alert_deliveries.event, back as its type."""
    return _EVENT.validate_json(data)

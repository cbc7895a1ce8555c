"""The one normalised post model every source produces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor import __version__, json_text

# The names zero-shot stance scorers stamp on their scores (analysis writes them; the read side
# tells zero-shot figures from those of a model trained on the user's labels by them): the VADER
# analyzer's rules, and the learned analyzer's model.
STANCE_RULES_SCORER = "stance-rules"
ZERO_SHOT_STANCE_SCORERS = frozenset({STANCE_RULES_SCORER, "learned"})
# The stance scorer of posts from platforms that report (news; analysis.reporting_platforms): none.
REPORTING_STANCE_SCORER = "reporting"


def utcnow() -> datetime:
    return datetime.now(UTC)


INT64_MAX = 2**63 - 1


class Author(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str | None = None
    handle: str | None = None
    name: str | None = None


class Engagement(BaseModel):
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None

    @field_validator("likes", "reposts", "replies", "quotes")
    @classmethod
    def _storable(cls, value: int | None) -> int | None:
        """A count beyond what the store's BIGINT holds (1e300 in a hand-made file) is no count: None,
        rather than a batch the store refuses."""
        return value if value is None or -INT64_MAX <= value <= INT64_MAX else None

    @property
    def total(self) -> int:
        return sum(v or 0 for v in (self.likes, self.reposts, self.replies, self.quotes))


class Provenance(BaseModel):
    """Where and when a record was collected, and by which version (twarc-style stamping)."""

    source: str  # reader or collector name, e.g. "x_twarc" or "hackernews"
    file: str | None = None
    line: int | None = None  # 1-based line (or record number for non-line formats)
    request: str | None = None  # URL of the request that returned the record
    query: str | None = None
    collected_at: datetime = Field(default_factory=utcnow)
    tool_version: str = __version__


class Post(BaseModel):
    platform: str  # "x", "reddit", "bluesky", "mastodon", "hackernews", "news", "youtube", ...
    id: str  # canonical id on the platform (tweet id, at:// URI, status URI, t1_/t3_ fullname, ...)
    url: str | None = None
    author: Author = Field(default_factory=Author)
    text: str = ""
    lang: str | None = None  # ISO 639-1 where known
    created_at: datetime
    reply_to: str | None = None
    quote_of: str | None = None
    repost_of: str | None = None
    engagement: Engagement = Field(default_factory=Engagement)
    provenance: Provenance
    raw: Any = None  # the record as received (dict or list); not validated: copying it cost more than the rest

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("text")
    @classmethod
    def _encodable(cls, value: str) -> str:
        """A lone surrogate (an emoji cut in half, from a reader that did not go through ``json_text``)
        becomes U+FFFD: the tokenizer, Arrow and DuckDB refuse text that UTF-8 cannot encode."""
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return json_text.repaired(value)
        return value

    @field_validator("lang")
    @classmethod
    def _norm_lang(cls, value: str | None) -> str | None:
        if not value or value in ("und", "qme", "qht", "zxx", "qam", "qct", "qst"):
            return None
        return value.split("-")[0].split("_")[0].lower()

    @property
    def key(self) -> str:
        """Stable primary key across sources: platform and id."""
        return f"{self.platform}:{self.id}"


def platform_of_key(key: str) -> str:
    """The platform part of a ``Post.key`` (platform names have no colon; ids may)."""
    return key.split(":", 1)[0]

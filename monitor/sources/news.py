"""News feeds: RSS 2.0 and Atom (Google News search feeds included).

One mapping (``post_from_item``) serves saved feed files and the live collector. A feed item
becomes a post: the headline and summary as text, the publisher (or dc:creator) as author.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from pydantic import Field

from monitor.config import Config, SourceSettings
from monitor.http import FetchError
from monitor.models import Author, Post, Provenance
from monitor.sources.api import CollectContext, Page, default_queries, register_collector, register_reader
from monitor.sources.base import ArchiveInput, FieldError, RecordError, parse_time
from monitor.sources.text import html_to_text

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"

# Feed boilerplate, not the story's words: a closing "Continue reading..." link on a line of its own,
# and "Related:" lines, which carry another story's headline (its mentions and words would count
# for this item, as Google News' related headlines would).
_READ_ON = re.compile(r"\n\s*(?:continue reading|read more|read the full (?:story|article)|keep reading)"
                      r"\s*(?:\.{3}|…|»|→)?\s*$", re.IGNORECASE)
_RELATED = re.compile(r"^[ \t]*related:.*(?:\n|$)", re.IGNORECASE | re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class FeedItem:
    """The fields we use from an RSS <item> or Atom <entry>, whitespace-stripped."""

    title: str
    link: str | None
    guid: str | None
    published: str | None
    summary: str | None
    author: str | None
    source: str | None  # Google News: the publisher
    source_url: str | None
    feed_title: str | None
    feed_lang: str | None

    def as_raw(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    value = "".join(element.itertext()).strip()  # prettified feeds wrap every value in whitespace
    return value or None


def iter_feed_items(stream: IO[bytes]) -> Iterator[FeedItem]:
    """Stream items from an RSS or Atom document (constant memory: each item is freed after use)."""
    import xml.etree.ElementTree as ET  # imported where used: ~30 ms of every command's start-up otherwise

    feed_title: str | None = None
    feed_lang: str | None = None
    depth = 0
    for event, element in ET.iterparse(stream, events=("start", "end")):
        tag = element.tag
        if event == "start":
            depth += 1
            continue
        depth -= 1
        # Feed title: rss/channel/title (depth 2 once closed) or feed/title (depth 1).
        if feed_title is None and ((tag == "title" and depth == 2) or (tag == f"{ATOM}title" and depth == 1)):
            feed_title = _text(element)
        elif tag in ("language", f"{DC}language") and feed_lang is None:
            feed_lang = _text(element)
        elif tag == "item":
            source = element.find("source")
            yield FeedItem(
                title=_text(element.find("title")) or "",
                link=_text(element.find("link")),
                guid=_text(element.find("guid")),
                published=_text(element.find("pubDate")) or _text(element.find(f"{DC}date")),
                summary=_text(element.find("description")),
                author=_text(element.find(f"{DC}creator")) or _text(element.find("author")),
                source=_text(source),
                source_url=source.get("url") if source is not None else None,
                feed_title=feed_title, feed_lang=feed_lang,
            )
            element.clear()
        elif tag == f"{ATOM}entry":
            link = None
            for candidate in element.findall(f"{ATOM}link"):
                if candidate.get("rel", "alternate") == "alternate":
                    link = candidate.get("href")
                    break
            yield FeedItem(
                title=_text(element.find(f"{ATOM}title")) or "",
                link=link,
                guid=_text(element.find(f"{ATOM}id")),
                published=_text(element.find(f"{ATOM}published")) or _text(element.find(f"{ATOM}updated")),
                summary=_text(element.find(f"{ATOM}summary")) or _text(element.find(f"{ATOM}content")),
                author=_text(element.find(f"{ATOM}author/{ATOM}name")),
                source=None, source_url=None, feed_title=feed_title, feed_lang=feed_lang,
            )
            element.clear()


def post_from_item(item: FeedItem, provenance: Provenance) -> Post:
    if not item.title and not item.summary:
        raise FieldError("title", "item has neither a title nor a description")
    key = item.guid or item.link
    if not key:
        raise FieldError("guid", "item has neither a guid/id nor a link")
    # Google News descriptions (items with <source>) list related headlines from other outlets;
    # they would put other stories' mentions on this one, so only the headline counts there.
    summary = summary_text(item.summary) if item.summary and not item.source else ""
    text = item.title if not summary or summary.startswith(item.title) else f"{item.title}\n\n{summary}"
    publisher = item.source or item.feed_title
    return Post(
        platform="news",
        id=key if len(key) <= 200 else hashlib.sha256(key.encode()).hexdigest(),
        url=item.link,
        author=Author(id=item.source_url, handle=publisher, name=item.author or publisher),
        text=text,
        lang=item.feed_lang,
        created_at=parse_time(item.published, "pubDate"),
        provenance=provenance,
        raw=item.as_raw(),
    )


def summary_text(html: str) -> str:
    """A feed item's description as plain text, without the feed's boilerplate lines."""
    text = _READ_ON.sub("", html_to_text(html))
    return _BLANK_LINES.sub("\n\n", _RELATED.sub("", text)).strip()


def _looks_like_feed(sample: str, name: str) -> bool:
    head = sample.lstrip()[:2000]
    return head.startswith("<") and ("<rss" in head or ("<feed" in head and "w3.org/2005/Atom" in head))


@register_reader("rss", description="RSS 2.0 or Atom feed (news sites, Google News)", sniff=_looks_like_feed,
                 priority=40)
def read_feed(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    from xml.etree.ElementTree import ParseError

    number = 0
    try:
        with source.open() as stream:
            for item in iter_feed_items(stream):
                number += 1
                try:
                    yield post_from_item(item, Provenance(source="rss", file=source.name, line=number))
                except FieldError as exc:
                    yield RecordError(source.name, number, exc.reason, exc.field)
    except ParseError as exc:
        yield RecordError(source.name, exc.position[0] if exc.position else None, f"not well-formed XML: {exc}")


# --- live collector ---------------------------------------------------------------------------

GOOGLE_NEWS = "https://news.google.com/rss/search"


class NewsSettings(SourceSettings):
    interval_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    google_news: bool = True  # a Google News search per target
    feeds: list[str] = Field(default_factory=list)  # RSS/Atom feed URLs read as well
    hl: str = "en-US"
    gl: str = "US"
    ceid: str = "US:en"


def news_queries(config: Config, settings: NewsSettings) -> list[str]:
    """A Google News search per target (unless ``google_news = false``), then each configured feed."""
    queries = [f"search:{q}" for q in default_queries(config)] if settings.google_news else []
    return queries + [f"feed:{url}" for url in settings.feeds]


@register_collector("news", description="Google News search RSS per target, plus any RSS/Atom feeds in the config",
                    base_url=GOOGLE_NEWS, settings_model=NewsSettings, queries=news_queries,
                    needs="nothing (feeds: [sources.news] feeds = [...])")
def fetch_news(ctx: CollectContext[NewsSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """One request per feed, conditional on the ETag / Last-Modified of the last one, so an
    unchanged feed costs a 304 and nothing else."""
    from xml.etree.ElementTree import ParseError

    kind, _, value = query.partition(":")
    if kind == "search":
        url = ctx.base_url
        params: dict[str, str] | None = {"q": value, "hl": ctx.settings.hl, "gl": ctx.settings.gl,
                                         "ceid": ctx.settings.ceid}
    else:
        url, params = value, None
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    response = ctx.http.get(url, params=params, headers=headers, ok=(200, 304))
    if response.status == 304:
        yield Page([], state, more=False, request=response.url)
        return
    posts: list[Post] = []
    try:
        for number, item in enumerate(iter_feed_items(io.BytesIO(response.content)), start=1):
            try:
                posts.append(post_from_item(item, ctx.provenance(response.url, query)))
            except FieldError as exc:
                log.warning("news: item %d of %s skipped: %s", number, response.url, exc)
    except ParseError as exc:
        raise FetchError("bad-body", f"{url}: not a well-formed RSS/Atom feed ({exc})", response.status) from exc
    new_state = {k: v for k, v in (("etag", response.headers.get("etag")),
                                   ("last_modified", response.headers.get("last-modified"))) if v}
    yield Page(posts, new_state, more=False, request=response.url)

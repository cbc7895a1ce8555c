"""Hacker News through the Algolia search API (``https://hn.algolia.com/api/v1/search[_by_date]``).

The ``hackernews`` reader takes response pages (``{"hits": [...], "nbHits": ...}``, one per line
or one document), JSONL of single hits, and recorded ``[{"url", "reply"}, ...]`` arrays (each
``reply`` with ``hits`` is read; item and user replies are skipped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from monitor.config import SourceSettings
from monitor.http import FetchError
from monitor.models import Author, Engagement, Post, Provenance
from monitor.sources.api import CollectContext, Page, register_collector, register_reader
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    RecordError,
    explode_records,
    iter_json_records,
    opt_str,
    parse_time,
    records_with_errors,
    require,
    to_int,
)
from monitor.sources.text import html_to_text

log = logging.getLogger(__name__)

READER = "hackernews"
ITEM_URL = "https://news.ycombinator.com/item?id={}"



def _is_comment(hit: dict[str, Any]) -> bool:
    tags = hit.get("_tags")
    if isinstance(tags, list) and tags:
        return "comment" in tags
    return hit.get("comment_text") is not None and not hit.get("title")


def post_from_hit(hit: dict[str, Any], provenance: Provenance) -> Post:
    """An Algolia HN hit -> Post. Stories, polls, jobs: text = title, plus a blank line and
    the story text when there is one. Comments: the comment text. HTML is converted to text.
    Fields may be null or absent (the index has changed shape over the years)."""
    object_id = str(require(hit, "objectID"))
    comment = _is_comment(hit)
    if comment:
        if hit.get("comment_text") is None:
            raise FieldError("comment_text", "missing")
        text = html_to_text(str(hit["comment_text"]))
    else:
        title = hit.get("title")
        if title is None:
            raise FieldError("title", "missing")
        body = html_to_text(str(hit.get("story_text") or ""))
        text = f"{title}\n\n{body}" if body else str(title)
    created = hit.get("created_at_i") if hit.get("created_at_i") is not None else hit.get("created_at")
    return Post(
        platform="hackernews",
        id=object_id,
        url=ITEM_URL.format(object_id),
        author=Author(handle=opt_str(hit.get("author"))),
        text=text,
        lang=None,
        created_at=parse_time(created, "created_at"),
        reply_to=opt_str(hit.get("parent_id")) if comment else None,
        engagement=Engagement(likes=to_int(hit.get("points")), replies=to_int(hit.get("num_comments"))),
        provenance=provenance,
        raw=hit,
    )


def _is_hit(value: Any) -> bool:
    # /users/<name> replies also have an objectID; hits have tags or a title or comment text.
    return isinstance(value, dict) and "objectID" in value and bool({"_tags", "title", "comment_text"} & value.keys())


def _hits(record: Any) -> Iterator[Any]:
    if isinstance(record, dict) and isinstance(record.get("hits"), list):
        yield from record["hits"]
    elif _is_hit(record):
        yield record
    elif isinstance(record, list):
        for entry in record:
            if isinstance(entry, dict) and isinstance(entry.get("reply"), dict):
                # Recorded [{url, reply}] pairs: only search replies hold hits (not /items, /users).
                yield from entry["reply"].get("hits") or []
            elif _is_hit(entry):
                yield entry
    else:
        raise FieldError("hits", "not an Algolia Hacker News response or hit")


def _looks_hackernews(sample: str, name: str) -> bool:
    return (sample.lstrip()[:1] in ("{", "[") and '"objectID"' in sample and '"_tags"' in sample
            and '"created_at' in sample)


@register_reader(READER, description="Hacker News Algolia search responses (pages or hits)",
                 sniff=_looks_hackernews, priority=40)
def read_hackernews(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(hit: Any, lineno: int) -> Iterator[Post]:
        yield post_from_hit(hit, Provenance(source=READER, file=name, line=lineno))

    records = iter_json_records(source, encoding=encoding)
    yield from records_with_errors(source, explode_records(source, records, _hits), mapper)


# --- live collector ---------------------------------------------------------------------------


def _page_posts(hits: list[Any], ctx: CollectContext, request: str, query: str) -> list[Post]:
    posts: list[Post] = []
    for hit in hits:
        if not _is_hit(hit):
            continue
        try:
            posts.append(post_from_hit(hit, ctx.provenance(request, query)))
        except (FieldError, ValueError) as exc:
            log.warning("hackernews: skipped a hit (%s)", exc)
    return posts


class HackerNewsSettings(SourceSettings):
    hits_per_page: int = Field(default=100, ge=1, le=1000)


@register_collector("hackernews", description="Hacker News stories and comments (Algolia search_by_date)",
                    base_url="https://hn.algolia.com/api/v1",
                    settings_model=HackerNewsSettings)
def fetch_hackernews(ctx: CollectContext[HackerNewsSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """Newest first. ``newest`` (created_at_i) only advances when a pass reaches its end, so a
    capped run is resumed from ``next_page`` next time instead of leaving a gap; a run over
    unchanged data is one request that returns nothing."""
    newest = int(state.get("newest", 0))
    pass_newest = int(state.get("pass_newest", newest))
    page_no = int(state.get("next_page", 0))
    while True:
        params: dict[str, Any] = {"query": query, "tags": "(story,comment)", "page": page_no,
                                  "hitsPerPage": ctx.settings.hits_per_page}
        if newest:
            params["numericFilters"] = f"created_at_i>{newest}"
        data, response = ctx.http.get_json(f"{ctx.base_url}/search_by_date", params=params)
        if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
            raise FetchError("bad-body", f"hackernews: unexpected response shape (keys: {list(data)[:5]})",
                             response.status)
        hits = data["hits"]
        posts = _page_posts(hits, ctx, response.url, query)
        times = [int(h["created_at_i"]) for h in hits if isinstance(h, dict) and h.get("created_at_i") is not None]
        pass_newest = max([pass_newest, *times])
        last = not hits or page_no + 1 >= int(data.get("nbPages") or 0)
        if last:
            yield Page(posts, {"newest": pass_newest}, more=False, request=response.url)
            return
        page_no += 1
        yield Page(posts, {"newest": newest, "pass_newest": pass_newest, "next_page": page_no}, request=response.url)

"""Bluesky: AppView post views and Jetstream events.

Readers:
- ``bluesky``: response pages of ``app.bsky.feed.searchPosts`` / ``getPosts`` / ``getQuotes``
  (``{"posts": [...]}``), ``getAuthorFeed`` / timelines (``{"feed": [{"post": ...}]}``) and
  ``getPostThread`` (``{"thread": ...}``), one page per line or a single document.
- ``bluesky_jetstream``: JSONL of Jetstream events; only ``app.bsky.feed.post`` creates become
  posts, every other event (likes, follows, deletes, identity...) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from monitor.models import Author, Engagement, Post, Provenance
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    RecordError,
    iter_json_records,
    parse_time,
    records_with_errors,
    register_reader,
    require,
    to_int,
)
from monitor.sources.mastodon import explode_records

VIEWS = "bluesky"
JETSTREAM = "bluesky_jetstream"
POST_COLLECTION = "app.bsky.feed.post"


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def web_url(actor: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{rkey}"


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _text(record: dict[str, Any]) -> str:
    # An empty text is a real post (an image or link with no caption); a missing one is not.
    if record.get("text") is None:
        raise FieldError("record.text", "missing")
    return str(record["text"])


def _lang(record: dict[str, Any]) -> str | None:
    langs = record.get("langs")
    return _str(langs[0]) if isinstance(langs, list) and langs else None


def _reply_parent(record: dict[str, Any]) -> str | None:
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    return _str(parent.get("uri")) if isinstance(parent, dict) else None


def _quoted(record: dict[str, Any]) -> str | None:
    """The quoted post: ``embed.record`` (app.bsky.embed.record) or ``embed.record.record``
    (recordWithMedia). Embedded feeds, lists and starter packs are not quotes of a post."""
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return None
    ref = embed.get("record")
    if isinstance(ref, dict) and isinstance(ref.get("record"), dict):  # recordWithMedia
        ref = ref["record"]
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return str(uri) if isinstance(uri, str) and f"/{POST_COLLECTION}/" in uri else None


def post_from_post_view(view: dict[str, Any], provenance: Provenance) -> Post:
    """An ``app.bsky.feed.defs#postView`` (as the AppView returns it) -> Post."""
    uri = str(require(view, "uri"))
    record = view.get("record")
    if not isinstance(record, dict):
        raise FieldError("record", "missing")
    author = view.get("author") if isinstance(view.get("author"), dict) else {}
    did = _str(author.get("did")) or uri.removeprefix("at://").split("/", 1)[0]
    handle = _str(author.get("handle"))
    if handle == "handle.invalid":  # the AppView's placeholder when the handle does not verify
        handle = None
    return Post(
        platform="bluesky",
        id=uri,
        url=web_url(handle or did, _rkey(uri)),
        author=Author(id=did, handle=handle, name=_str(author.get("displayName"))),
        text=_text(record),
        lang=_lang(record),
        created_at=parse_time(record.get("createdAt") or view.get("indexedAt"), "record.createdAt"),
        reply_to=_reply_parent(record),
        quote_of=_quoted(record),
        engagement=Engagement(
            likes=to_int(view.get("likeCount")),
            reposts=to_int(view.get("repostCount")),
            replies=to_int(view.get("replyCount")),
            quotes=to_int(view.get("quoteCount")),
        ),
        provenance=provenance,
        raw=view,
    )


def post_from_jetstream_event(event: dict[str, Any], provenance: Provenance) -> Post | None:
    """A Jetstream event -> Post for ``app.bsky.feed.post`` creates, None for any other event.

    Jetstream carries no handle, so the author is known by DID only (and the URL uses the DID).
    """
    if not isinstance(event, dict):
        raise FieldError("kind", f"expected a Jetstream event object, got {type(event).__name__}")
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return None
    if commit.get("collection") != POST_COLLECTION or commit.get("operation") != "create":
        return None
    did = str(require(event, "did"))
    rkey = str(require(commit, "rkey"))
    record = commit.get("record")
    if not isinstance(record, dict):
        raise FieldError("commit.record", "missing")
    return Post(
        platform="bluesky",
        id=f"at://{did}/{POST_COLLECTION}/{rkey}",
        url=web_url(did, rkey),
        author=Author(id=did),
        text=_text(record),
        lang=_lang(record),
        created_at=parse_time(record.get("createdAt") or event.get("time_us"), "record.createdAt"),
        reply_to=_reply_parent(record),
        quote_of=_quoted(record),
        provenance=provenance,
        raw=event,
    )


# --- readers ----------------------------------------------------------------------------------


def _thread_posts(anchor: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Post views of a ``threadViewPost``: ancestors (oldest first), the post, then its replies
    depth first. Blocked and not-found nodes have no post and are skipped."""
    ancestors: list[dict[str, Any]] = []
    parent = anchor.get("parent")
    while isinstance(parent, dict):
        if isinstance(parent.get("post"), dict):
            ancestors.append(parent["post"])
        parent = parent.get("parent")
    yield from reversed(ancestors)
    yield from _subtree(anchor)


def _subtree(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    if isinstance(node.get("post"), dict):
        yield node["post"]
    for reply in node.get("replies") or []:
        yield from _subtree(reply)


def _post_views(page: Any) -> Iterator[Any]:
    if isinstance(page, list):  # a bare array of post views
        yield from page
    elif isinstance(page, dict) and isinstance(page.get("posts"), list):
        yield from page["posts"]
    elif isinstance(page, dict) and isinstance(page.get("feed"), list):
        # Feed items also carry reply context (parent/root views): those are not fetched results.
        for item in page["feed"]:
            yield item.get("post") if isinstance(item, dict) else item
    elif isinstance(page, dict) and isinstance(page.get("thread"), dict):
        yield from _thread_posts(page["thread"])
    elif isinstance(page, dict) and "uri" in page and "record" in page:
        yield page
    else:
        raise FieldError("posts", "not a Bluesky posts, feed or thread response")


_PAGE_KEYS = re.compile(r'"(posts|feed|thread)"\s*:\s*[\[{]')
_JETSTREAM = re.compile(r'"time_us"\s*:\s*\d+')
_JETSTREAM_KIND = re.compile(r'"kind"\s*:\s*"(commit|identity|account)"')


def _looks_post_views(sample: str, name: str) -> bool:
    return (sample.lstrip()[:1] in ("{", "[") and '"at://did:' in sample and f'"{POST_COLLECTION}"' in sample
            and bool(_PAGE_KEYS.search(sample)) and not _JETSTREAM.search(sample[:2048]))


def _looks_jetstream(sample: str, name: str) -> bool:
    first = sample.lstrip().split("\n", 1)[0]
    return first.startswith("{") and bool(_JETSTREAM.search(first)) and bool(_JETSTREAM_KIND.search(first))


@register_reader(VIEWS, description="Bluesky AppView pages: searchPosts, getPosts, getQuotes, feeds, threads",
                 sniff=_looks_post_views, priority=40)
def read_post_views(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(view: Any, lineno: int) -> Iterator[Post]:
        yield post_from_post_view(view, Provenance(source=VIEWS, file=name, line=lineno))

    yield from records_with_errors(source, explode_records(source, iter_json_records(source), _post_views), mapper)


@register_reader(JETSTREAM, description="Bluesky Jetstream events JSONL (post creates only)", sniff=_looks_jetstream,
                 priority=30)
def read_jetstream(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(event: Any, lineno: int) -> Iterator[Post]:
        post = post_from_jetstream_event(event, Provenance(source=JETSTREAM, file=name, line=lineno))
        if post is not None:
            yield post

    yield from records_with_errors(source, iter_json_records(source), mapper)

"""Reddit: Pushshift / Arctic Shift NDJSON dumps and Reddit Data API ``Listing`` responses.

Both carry the same thing objects (submissions ``t3``, comments ``t1``), so one mapping function,
``post_from_thing``, serves the readers here and the live collector (``search.json``). ``.zst``
dumps stream through base.py, which reports a truncated file as one "stream ended early" error.
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

DUMP = "reddit_dump"
LISTING = "reddit_listing"
WEB = "https://www.reddit.com"
# Not people: keep them out of author handles so they do not pool into one pseudo-author.
_NO_AUTHOR = frozenset({"[deleted]", "[removed]"})


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _unescape(text: str) -> str:
    """Pushshift dumps and Listings fetched without ``raw_json=1`` escape ``&``, ``<``, ``>``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _kind(thing: dict[str, Any], kind: str | None) -> str:
    name = thing.get("name")
    if isinstance(name, str) and re.match(r"t[13]_", name):
        return name[:2]
    if kind in ("t1", "t3"):
        return kind
    return "t3" if "title" in thing else "t1"


def _permalink_url(thing: dict[str, Any], kind: str, bare_id: str) -> str:
    permalink = thing.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        return WEB + permalink.split("?", 1)[0]  # search results append ?ref=search_posts
    sub = f"/r/{thing['subreddit']}" if thing.get("subreddit") else ""
    if kind == "t3":
        return f"{WEB}{sub}/comments/{bare_id}/"
    link = str(thing.get("link_id") or "").removeprefix("t3_")
    # Comments in old dumps have no permalink; this form resolves without the post's slug.
    return f"{WEB}{sub}/comments/{link}/_/{bare_id}/" if link else f"{WEB}{sub}/comments/{bare_id}/"


def post_from_thing(thing: dict[str, Any], provenance: Provenance, kind: str | None = None) -> Post:
    """A Reddit submission (t3) or comment (t1) -> Post; ``kind`` is the Listing child's kind.

    Submissions: text = title, plus a blank line and the selftext when there is one. Comments:
    text = body. ``[deleted]`` / ``[removed]`` bodies are kept as they are (the marker is the
    text), so counts stay complete and analysis can filter them.
    """
    kind = _kind(thing, kind)
    raw_id = str(require(thing, "id"))
    bare_id = raw_id[3:] if raw_id[:3] in ("t1_", "t3_") else raw_id
    fullname = f"{kind}_{bare_id}"
    if kind == "t3":
        title = thing.get("title")
        if title is None:
            raise FieldError("title", "missing")
        selftext = thing.get("selftext") or ""
        text = _unescape(str(title)) + (f"\n\n{_unescape(str(selftext))}" if selftext.strip() else "")
        reply_to = None
    else:
        body = thing.get("body")
        if body is None:
            raise FieldError("body", "missing")
        text = _unescape(str(body))
        reply_to = _str(thing.get("parent_id")) or _str(thing.get("link_id"))
    author = _str(thing.get("author"))
    return Post(
        platform="reddit",
        id=fullname,
        url=_permalink_url(thing, kind, bare_id),
        author=Author(id=_str(thing.get("author_fullname")), handle=None if author in _NO_AUTHOR else author),
        text=text,
        lang=None,
        created_at=parse_time(thing.get("created_utc"), "created_utc"),
        reply_to=reply_to,
        engagement=Engagement(likes=to_int(thing.get("score")), replies=to_int(thing.get("num_comments"))),
        provenance=provenance,
        raw=thing,
    )


def _things(record: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(thing, kind) for every t1/t3 in a dump line, a Listing, an array of Listings (the
    ``/comments/{id}`` response) or a ``{"kind", "data"}`` wrapper; comment trees are walked."""
    if isinstance(record, list):
        for part in record:
            yield from _things(part)
        return
    if not isinstance(record, dict):
        raise FieldError("kind", f"expected a Reddit thing or Listing, got {type(record).__name__}")
    kind = record.get("kind")
    data = record.get("data")
    if kind == "Listing" and isinstance(data, dict):
        for child in data.get("children") or []:
            yield from _things(child)
    elif kind in ("t1", "t3") and isinstance(data, dict):
        replies = data.get("replies")
        if isinstance(replies, dict):
            # Keep the stored record to this comment; the replies become posts of their own.
            yield {k: v for k, v in data.items() if k != "replies"}, kind
            yield from _things(replies)
        else:
            yield data, kind
    elif isinstance(kind, str):
        return  # "more" stubs, accounts, subreddits...: not posts
    else:
        yield record, None  # a bare thing, as in Pushshift / Arctic Shift dumps


def _collected(thing: dict[str, Any]) -> dict[str, Any]:
    """Dumps say when the archiver fetched the thing (``retrieved_on`` / ``retrieved_utc``)."""
    for key in ("retrieved_on", "retrieved_utc"):
        if thing.get(key):
            try:
                return {"collected_at": parse_time(thing[key], key)}
            except FieldError:
                return {}
    return {}


# --- readers ----------------------------------------------------------------------------------


def _read(source: ArchiveInput, reader: str) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(item: tuple[dict[str, Any], str | None], lineno: int) -> Iterator[Post]:
        thing, kind = item
        provenance = Provenance(source=reader, file=name, line=lineno, **_collected(thing))
        yield post_from_thing(thing, provenance, kind)

    yield from records_with_errors(source, explode_records(source, iter_json_records(source), _things), mapper)


_LISTING = re.compile(r'"kind"\s*:\s*"Listing"')
_THING_TEXT = re.compile(r'"(body|selftext|title)"\s*:')


def _looks_listing(sample: str, name: str) -> bool:
    return sample.lstrip()[:1] in ("{", "[") and bool(_LISTING.search(sample[:4096]))


def _looks_dump(sample: str, name: str) -> bool:
    first = sample.lstrip().split("\n", 1)[0]
    return (first.startswith("{") and '"subreddit"' in first and '"created_utc"' in first
            and bool(_THING_TEXT.search(first)) and not _LISTING.search(first))


@register_reader(DUMP, description="Reddit NDJSON dumps (Pushshift / Arctic Shift; .zst streamed)",
                 sniff=_looks_dump, priority=45)
def read_dump(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    yield from _read(source, DUMP)


@register_reader(LISTING, description="Reddit API Listing responses (one per line or one document)",
                 sniff=_looks_listing, priority=40)
def read_listing(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    yield from _read(source, LISTING)

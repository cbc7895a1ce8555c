"""Mastodon statuses: timeline / tag / account responses (a JSON array of Status objects),
``/api/v2/search`` results (``{"statuses": [...]}``), single statuses, or JSONL of any of these.

Also home of two small helpers the other platform modules reuse: ``html_to_text`` (Mastodon
``content`` and Hacker News ``comment_text`` are HTML) and ``explode_records`` (one response page
per line -> one record per post, so a bad post does not cost the rest of its page).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlparse

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

READER = "mastodon"

# --- shared helpers ---------------------------------------------------------------------------

# Tags that end a paragraph (blank line) or a line; everything else is inline.
_PARAGRAPH_TAGS = frozenset({"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"})
_LINE_TAGS = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer"})
_SKIP_TAGS = frozenset({"script", "style"})
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, turning block boundaries into newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending_newlines = 0  # line breaks owed before the next visible text
        self.in_pre = 0
        self.in_skip = 0

    def _owe(self, count: int, cumulative: bool = False) -> None:
        owed = self.pending_newlines + count if cumulative else max(self.pending_newlines, count)
        self.pending_newlines = min(owed, 2)  # never more than one blank line

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._owe(1, cumulative=True)  # <br><br> is a blank line
        elif tag in _PARAGRAPH_TAGS:
            self._owe(2)
        elif tag in _LINE_TAGS:
            self._owe(1)
        if tag == "pre":
            self.in_pre += 1
        elif tag in _SKIP_TAGS:
            self.in_skip += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/>: no end tag follows

    def handle_endtag(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self._owe(2)
        elif tag in _LINE_TAGS:
            self._owe(1)
        if tag == "pre" and self.in_pre:
            self.in_pre -= 1
        elif tag in _SKIP_TAGS and self.in_skip:
            self.in_skip -= 1

    def handle_data(self, data: str) -> None:
        if self.in_skip:
            return
        if not self.in_pre:
            data = _SPACES.sub(" ", data)
        at_line_start = not self.parts or self.pending_newlines > 0 or self.parts[-1].endswith((" ", "\n"))
        if at_line_start and not self.in_pre:
            data = data.lstrip(" ")
        if not data:
            return
        if self.pending_newlines and self.parts:
            self.parts[-1] = self.parts[-1].rstrip(" ")
            self.parts.append("\n" * self.pending_newlines)
        self.pending_newlines = 0
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, tags dropped, paragraphs kept as blank
    lines and ``<br>`` as line breaks. Whitespace inside ``<pre>`` is preserved."""
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = "".join(parser.parts).split("\n")
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip()


def explode_records(
    source: ArchiveInput,
    records: Iterable[tuple[int, Any] | RecordError],
    explode: Callable[[Any], Iterable[Any]],
) -> Iterator[tuple[int, Any] | RecordError]:
    """Split each record (an API response page) into its items, all keeping the page's line
    number, so ``records_with_errors`` maps and reports each item on its own. ``explode`` raises
    FieldError for a record of the wrong shape."""
    for item in records:
        if isinstance(item, RecordError):
            yield item
            continue
        lineno, record = item
        try:
            for thing in explode(record):
                yield lineno, thing
        except FieldError as exc:
            yield RecordError(source.name, lineno, exc.reason, exc.field)


# --- mapping ----------------------------------------------------------------------------------


def _text_of(status: dict[str, Any]) -> str:
    """Content warning (it is part of what people read) plus the content as plain text."""
    if status.get("content") is not None:
        body = html_to_text(str(status["content"]))
    elif status.get("text") is not None:  # DELETE / source responses carry the plain source text
        body = str(status["text"])
    else:
        raise FieldError("content", "missing")
    spoiler = (status.get("spoiler_text") or "").strip()
    return f"{spoiler}\n\n{body}".strip() if spoiler else body


def _host(*urls: Any) -> str | None:
    for url in urls:
        if isinstance(url, str) and url:
            netloc = urlparse(url).netloc
            if netloc:
                return netloc
    return None


def _author(account: Any, *urls: Any) -> Author:
    if not isinstance(account, dict):
        return Author()
    acct = account.get("acct") or account.get("username")
    if acct and "@" not in acct:
        # Local accounts come without a domain; qualify them so handles are unique across instances.
        host = _host(*urls, account.get("url"))
        acct = f"{acct}@{host}" if host else acct
    return Author(id=_str(account.get("id")), handle=_str(acct), name=_str(account.get("display_name")))


def _quoted(quote: Any) -> str | None:
    """Mastodon 4.5 ``quote`` is ``{"state", "quoted_status": Status}`` or a shallow
    ``{"state", "quoted_status_id"}``; some forks embed the quoted Status directly."""
    if not isinstance(quote, dict):
        return None
    inner = quote.get("quoted_status")
    if isinstance(inner, dict) and inner.get("uri"):
        return str(inner["uri"])
    if quote.get("uri"):
        return str(quote["uri"])
    return _str(quote.get("quoted_status_id"))  # instance-local id, stored as given


def post_from_status(status: dict[str, Any], provenance: Provenance) -> Post:
    """A Mastodon Status (as the REST API returns it) -> Post.

    The id is the status ``uri`` so the same status seen through two instances dedupes. A reblog
    wrapper becomes a post by the reblogger with the reblogged text and ``repost_of`` = the
    reblogged status's uri. ``in_reply_to_id`` is instance-local and stored as given.
    """
    uri = str(require(status, "uri"))
    created_at = parse_time(status.get("created_at"), "created_at")
    reblog = status.get("reblog") if isinstance(status.get("reblog"), dict) else None
    shown = reblog or status  # the status whose text is on screen
    if reblog is not None:
        require(reblog, "uri")
    url = status.get("url") or (reblog or {}).get("url") or uri  # reblog wrappers have url null
    return Post(
        platform="mastodon",
        id=uri,
        url=str(url),
        author=_author(status.get("account"), status.get("url"), uri),
        text=_text_of(shown),
        lang=_str(shown.get("language")),
        created_at=created_at,
        reply_to=_str(status.get("in_reply_to_id")),
        quote_of=_quoted(shown.get("quote")),
        repost_of=str(reblog["uri"]) if reblog else None,
        engagement=Engagement(
            likes=to_int(status.get("favourites_count")),
            reposts=to_int(status.get("reblogs_count")),
            replies=to_int(status.get("replies_count")),
            quotes=to_int(status.get("quotes_count")),
        ),
        provenance=provenance,
        raw=status,
    )


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --- reader -----------------------------------------------------------------------------------


def _statuses(record: Any) -> Iterator[Any]:
    if isinstance(record, list):
        yield from record
    elif isinstance(record, dict) and isinstance(record.get("statuses"), list):
        yield from record["statuses"]  # /api/v2/search (accounts and hashtags are not posts)
    elif isinstance(record, dict) and "account" in record and ({"uri", "content", "text"} & record.keys()):
        yield record  # one status; mapping reports what it lacks
    else:
        raise FieldError("statuses", "not a Mastodon status, list of statuses or search result")


_STATUS_KEYS = re.compile(r'"(reblogs_count|favourites_count)"\s*:')
_SEARCH_KEYS = re.compile(r'"statuses"\s*:\s*\[')


def _looks_mastodon(sample: str, name: str) -> bool:
    head = sample.lstrip()
    if not head.startswith(("[", "{")):
        return False
    if _SEARCH_KEYS.search(sample) and '"hashtags"' in sample and '"accounts"' in sample:
        return True
    keys = {m.group(1) for m in _STATUS_KEYS.finditer(sample)}
    return keys == {"reblogs_count", "favourites_count"} and '"uri"' in sample and '"account"' in sample


@register_reader(READER, description="Mastodon statuses: timeline arrays, /api/v2/search results, JSONL",
                 sniff=_looks_mastodon, priority=45)
def read_mastodon(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(status: Any, lineno: int) -> Iterator[Post]:
        yield post_from_status(status, Provenance(source=READER, file=name, line=lineno))

    yield from records_with_errors(source, explode_records(source, iter_json_records(source), _statuses), mapper)

"""Mastodon statuses: timeline / tag / account responses (a JSON array of Status objects),
``/api/v2/search`` results (``{"statuses": [...]}``), single statuses, or JSONL of any of these.

The ``mastodon`` collector follows hashtag timelines on configured instances and, with a token,
runs full-text search; see ``fetch_mastodon``.

Also home of small helpers the other platform modules reuse: ``html_to_text`` (Mastodon
``content`` and Hacker News ``comment_text`` are HTML), ``explode_records`` (one response page
per line -> one record per post, so a bad post does not cost the rest of its page) and
``quota_exhausted`` (stop before a request the platform's rate-limit headers say will fail).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from pydantic import Field, field_validator

from monitor.config import SourceSettings
from monitor.http import FetchError, RateLimited, Response, phrase, quota_exhausted
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

READER = "mastodon"

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
    return Author(id=opt_str(account.get("id")), handle=opt_str(acct), name=opt_str(account.get("display_name")))


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
    return opt_str(quote.get("quoted_status_id"))  # instance-local id, stored as given


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
        lang=opt_str(shown.get("language")),
        created_at=created_at,
        reply_to=opt_str(status.get("in_reply_to_id")),
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
def read_mastodon(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(status: Any, lineno: int) -> Iterator[Post]:
        yield post_from_status(status, Provenance(source=READER, file=name, line=lineno))

    records = iter_json_records(source, encoding=encoding)
    yield from records_with_errors(source, explode_records(source, records, _statuses), mapper)


# --- live collector ---------------------------------------------------------------------------

MASTODON_SOCIAL = "https://mastodon.social"
TIMELINE_LIMIT = 40  # the API's maximum for timelines and search
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_NOT_TAG = re.compile(r"\W+")


def tag_for(query: str) -> str:
    """The hashtag a query is followed as: "Sam Altman" -> "samaltman", "#StargateAI" -> "stargateai"."""
    return _NOT_TAG.sub("", query).lower()


def _id_key(value: Any) -> tuple[int, str]:
    # Status ids are decimal strings of varying length; compare them as numbers.
    text = str(value)
    return (len(text), text) if text.isdigit() else (0, text)


def _newer(status_id: Any, than: str | None) -> bool:
    return status_id is not None and (than is None or _id_key(status_id) > _id_key(than))


def _newest(*ids: Any) -> str | None:
    present = [str(i) for i in ids if i is not None]
    return max(present, key=_id_key) if present else None


def _next_max_id(response: Response) -> str | None:
    """``max_id`` of the Link header's rel="next" URL (Mastodon's own pagination)."""
    match = _LINK_NEXT.search(response.headers.get("link") or "")
    if not match:
        return None
    values = parse_qs(urlparse(match.group(1)).query).get("max_id")
    return values[0] if values else None


class MastodonSettings(SourceSettings):
    instances: list[str] = Field(default_factory=list)  # hashtag timelines read on each (default mastodon.social)
    search_instance: str | None = None  # where MASTODON_TOKEN belongs (default: the first instance)
    backfill_days: float = Field(default=7, ge=0)  # how far a first pass reaches back (0 = no limit)

    @field_validator("instances", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _first_pass_cutoff(ctx: CollectContext, newest: str | None) -> datetime | None:
    """Hashtag timelines and search reach back for years: a first pass (no newest id yet) stops
    at statuses older than ``backfill_days`` (default 7; 0 = no limit)."""
    days = ctx.settings.backfill_days
    return None if newest or days <= 0 else datetime.now(UTC) - timedelta(days=days)


def _before(status: dict[str, Any], cutoff: datetime | None) -> bool:
    if cutoff is None:
        return False
    try:
        return parse_time(status.get("created_at"), "created_at") < cutoff
    except FieldError:
        return False


def _status_posts(statuses: list[Any], ctx: CollectContext, request: str, query: str) -> list[Post]:
    posts: list[Post] = []
    for status in statuses:
        try:
            posts.append(post_from_status(status, ctx.provenance(request, query)))
        except (FieldError, ValueError) as exc:
            log.warning("mastodon: skipped a status from %s (%s)", urlparse(request).netloc, exc)
    return posts


def _timeline_pass(ctx: CollectContext, instance: str, tag: str, query: str, cursor: dict[str, Any],
                   quota: dict[str, RateLimited | None]) -> Iterator[tuple[list[Post], bool, Response]]:
    """One pass over ``/api/v1/timelines/tag/{tag}``, newest first, down to ``cursor["newest"]``
    (``since_id``; on a first pass, down to the backfill cutoff), following the Link header's
    ``max_id``. ``cursor`` is updated in place: ``newest`` moves to ``pass_newest`` only when the
    pass ends, so a capped pass resumes at ``max_id`` next run."""
    url = f"{instance}/api/v1/timelines/tag/{quote(tag, safe='')}"
    newest = cursor.get("newest")
    cutoff = _first_pass_cutoff(ctx, newest)
    while True:
        pending = quota.get(instance)
        if pending is not None:
            raise pending
        params: dict[str, Any] = {"limit": TIMELINE_LIMIT}
        if newest:
            params["since_id"] = newest
        if cursor.get("max_id"):
            params["max_id"] = cursor["max_id"]
        data, response = ctx.http.get_json(url, params=params)
        quota[instance] = quota_exhausted(response)
        if not isinstance(data, list):
            raise FetchError("bad-body", f"{urlparse(url).netloc}: expected a list of statuses from the tag timeline",
                             response.status)
        statuses = [s for s in data if isinstance(s, dict)]
        fresh = [s for s in statuses if _newer(s.get("id"), newest) and not _before(s, cutoff)]
        pass_newest = _newest(cursor.get("pass_newest") or newest, *(s.get("id") for s in fresh))
        next_max = _next_max_id(response)
        if next_max is None and len(data) >= TIMELINE_LIMIT and fresh:  # a proxy may drop the Link header
            next_max = min((str(s["id"]) for s in fresh), key=_id_key)
        done = not statuses or len(fresh) < len(statuses) or next_max is None
        cursor.clear()
        if done:
            cursor.update({"newest": pass_newest} if pass_newest else {})
        else:
            cursor.update({k: v for k, v in (("newest", newest), ("pass_newest", pass_newest),
                                              ("max_id", next_max)) if v})
        yield _status_posts(fresh, ctx, response.url, query), done, response
        if done:
            return


def _search_pass(ctx: CollectContext, instance: str, query: str, token: str, cursor: dict[str, Any],
                 quota: dict[str, RateLimited | None]) -> Iterator[tuple[list[Post], bool, Response]]:
    """Full-text ``/api/v2/search?type=statuses`` (needs a token; finds only posts the instance
    has indexed), statuses newer than ``cursor["newest"]`` (``min_id``), paged by ``offset``."""
    url = f"{instance}/api/v2/search"
    headers = {"Authorization": f"Bearer {token}"}
    newest = cursor.get("newest")
    cutoff = _first_pass_cutoff(ctx, newest)
    while True:
        pending = quota.get(instance)
        if pending is not None:
            raise pending
        offset = int(cursor.get("offset", 0))
        params: dict[str, Any] = {"q": phrase(query), "type": "statuses", "limit": TIMELINE_LIMIT,
                                  "resolve": "false", "offset": offset}
        if newest:
            params["min_id"] = newest
        data, response = ctx.http.get_json(url, params=params, headers=headers)
        quota[instance] = quota_exhausted(response)
        if not isinstance(data, dict) or not isinstance(data.get("statuses"), list):
            raise FetchError("bad-body", f"{urlparse(url).netloc}: expected a search result with statuses",
                             response.status)
        statuses = [s for s in data["statuses"] if isinstance(s, dict)]
        fresh = [s for s in statuses if _newer(s.get("id"), newest) and not _before(s, cutoff)]
        pass_newest = _newest(cursor.get("pass_newest") or newest, *(s.get("id") for s in fresh))
        done = len(data["statuses"]) < TIMELINE_LIMIT or len(fresh) < len(statuses)
        cursor.clear()
        if done:
            cursor.update({"newest": pass_newest} if pass_newest else {})
        else:
            cursor.update({k: v for k, v in (("newest", newest), ("pass_newest", pass_newest),
                                              ("offset", offset + len(data["statuses"]))) if v})
        yield _status_posts(fresh, ctx, response.url, query), done, response
        if done:
            return


def _instances(ctx: CollectContext) -> list[str]:
    configured = ctx.settings.instances or [ctx.base_url]
    return list(dict.fromkeys(str(url).rstrip("/") for url in configured if url))


@register_collector("mastodon", description="Mastodon hashtag timelines on the configured instances "
                                            "(and full-text search with MASTODON_TOKEN)",
                    base_url=MASTODON_SOCIAL, settings_model=MastodonSettings,
                    needs="nothing (optional: env MASTODON_TOKEN for search)")
def fetch_mastodon(ctx: CollectContext[MastodonSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """For each instance, the hashtag timeline of the query's tag (incremental per instance via
    ``since_id``); then, with ``MASTODON_TOKEN``, full-text search on ``search_instance`` (the
    token's home; default the first instance). The token is sent to that instance only.

    State: ``{"timeline": {instance: cursor}, "search": {instance: cursor}}``. Ids are local to
    each instance, so each has its own cursor; the Post id is the status URI, so a status seen
    through two instances is stored once. A first pass reaches back ``backfill_days``. One
    instance failing does not stop the others; its error is raised after them."""
    instances = _instances(ctx)
    token = ctx.env("MASTODON_TOKEN")
    tag = tag_for(query)
    units = [("timeline", instance) for instance in instances] if tag else []
    if token:
        units.append(("search", str(ctx.settings.search_instance or instances[0]).rstrip("/")))
    cursors: dict[str, dict[str, dict[str, Any]]] = {
        kind: {k: dict(v) for k, v in (state.get(kind) or {}).items() if isinstance(v, dict)}
        for kind in ("timeline", "search")}
    quota: dict[str, RateLimited | None] = {}
    errors: list[FetchError] = []
    failed: set[str] = set()
    for index, (kind, instance) in enumerate(units):
        if instance in failed:
            continue
        cursor = cursors[kind].setdefault(instance, {})
        walk = (_timeline_pass(ctx, instance, tag, query, cursor, quota) if kind == "timeline"
                else _search_pass(ctx, instance, query, token or "", cursor, quota))
        try:
            for posts, done, response in walk:
                # more=False only at the very end, and never while an error is still to be raised.
                last = done and index == len(units) - 1 and not errors
                yield Page(posts, json.loads(json.dumps(cursors)), more=not last, request=response.url)
        except FetchError as exc:
            log.info("mastodon: %s %s: %s", urlparse(instance).netloc, kind, exc)
            errors.append(exc)
            failed.add(instance)
    if errors:
        first = errors[0]
        if first.kind == "offline" and len(failed) < len(instances):
            # Other instances answered: this is not the machine being offline, so do not stop the
            # source's other queries.
            raise FetchError("unreachable", str(first), first.status) from first
        raise first

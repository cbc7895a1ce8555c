"""Reddit: Pushshift / Arctic Shift NDJSON dumps and Reddit Data API ``Listing`` responses.

Both carry the same thing objects (submissions ``t3``, comments ``t1``), so one mapping function,
``post_from_thing``, serves the readers here and the live collector (``search.json``). ``.zst``
dumps stream through base.py, which reports a truncated file as one "stream ended early" error.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from pydantic import Field, field_validator

from monitor.config import SourceSettings
from monitor.http import FetchError, RateLimited, Response, phrase, quota_exhausted
from monitor.models import Author, Engagement, Post, Provenance
from monitor.sources.api import CollectContext, Page, register_collector, register_reader
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    LineFilter,
    RecordError,
    SkippedLines,
    explode_records,
    iter_json_records,
    opt_str,
    parse_time,
    records_with_errors,
    require,
    to_int,
)

log = logging.getLogger(__name__)

DUMP = "reddit_dump"
LISTING = "reddit_listing"
WEB = "https://www.reddit.com"
# Not people: keep them out of author handles so they do not pool into one pseudo-author.
_NO_AUTHOR = frozenset({"[deleted]", "[removed]"})



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
        reply_to = opt_str(thing.get("parent_id")) or opt_str(thing.get("link_id"))
    author = opt_str(thing.get("author"))
    return Post(
        platform="reddit",
        id=fullname,
        url=_permalink_url(thing, kind, bare_id),
        author=Author(id=opt_str(thing.get("author_fullname")), handle=None if author in _NO_AUTHOR else author),
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


def _read(source: ArchiveInput, reader: str, line_filter: LineFilter | None = None,
          encoding: str | None = None) -> Iterator[
    Post | RecordError | SkippedLines
]:
    name = source.name

    def mapper(item: tuple[dict[str, Any], str | None], lineno: int) -> Iterator[Post]:
        thing, kind = item
        provenance = Provenance(source=reader, file=name, line=lineno, **_collected(thing))
        yield post_from_thing(thing, provenance, kind)

    records = iter_json_records(source, line_filter, encoding)
    yield from records_with_errors(source, explode_records(source, records, _things), mapper)


_LISTING = re.compile(r'"kind"\s*:\s*"Listing"')
_THING_TEXT = re.compile(r'"(body|selftext|title)"\s*:')


def _looks_listing(sample: str, name: str) -> bool:
    return sample.lstrip()[:1] in ("{", "[") and bool(_LISTING.search(sample[:4096]))


def _looks_dump(sample: str, name: str) -> bool:
    first = sample.lstrip().split("\n", 1)[0]
    return (first.startswith("{") and '"subreddit"' in first and '"created_utc"' in first
            and bool(_THING_TEXT.search(first)) and not _LISTING.search(first))


# One thing a line; text from body/title/selftext with only &amp;-style entities undone (they never
# join letters): the prefilter's literal needles hold (monitor/analysis/prefilter.py).
@register_reader(DUMP, description="Reddit NDJSON dumps (Pushshift / Arctic Shift; .zst streamed)",
                 sniff=_looks_dump, priority=45, takes_prefilter=True)
def read_dump(source: ArchiveInput, line_filter: LineFilter | None = None, encoding: str | None = None,
              **_: Any) -> Iterator[Post | RecordError | SkippedLines]:
    yield from _read(source, DUMP, line_filter, encoding)


@register_reader(LISTING, description="Reddit API Listing responses (one per line or one document)",
                 sniff=_looks_listing, priority=40)
def read_listing(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    yield from _read(source, LISTING, encoding=encoding)


# --- live collector ---------------------------------------------------------------------------

OAUTH = "https://oauth.reddit.com"
PAGE_SIZE = 100  # the Data API's maximum
# (auth_url, client_id) -> (access token, monotonic expiry). In memory only: never logged or stored.
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}


class _AppAuth:
    """Application-only OAuth (client credentials) for an app registered at reddit.com/prefs/apps."""

    def __init__(self, auth_url: str, client_id: str, secret: str):
        self.auth_url, self.client_id, self._secret = auth_url, client_id, secret

    def token(self, ctx: CollectContext) -> str:
        cached = _TOKENS.get((self.auth_url, self.client_id))
        if cached and cached[1] > time.monotonic():
            return cached[0]
        basic = base64.b64encode(f"{self.client_id}:{self._secret}".encode()).decode()
        response = ctx.http.request("POST", f"{self.auth_url}/api/v1/access_token",
                                    form={"grant_type": "client_credentials"},
                                    headers={"Authorization": f"Basic {basic}"})
        data = response.json()
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:  # Reddit answers a refused grant with 200 and {"error": ...}
            reason = data.get("error") if isinstance(data, dict) else "no access_token"
            raise FetchError("auth", f"reddit: the OAuth token request was refused ({reason}); "
                                     "check REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET", response.status)
        lifetime = float(data.get("expires_in") or 3600)
        _TOKENS[(self.auth_url, self.client_id)] = (str(token), time.monotonic() + max(60.0, lifetime - 60))
        return str(token)

    def forget(self) -> None:
        _TOKENS.pop((self.auth_url, self.client_id), None)


def _listing(ctx: CollectContext, url: str, params: dict[str, Any], auth: _AppAuth | None) -> tuple[Any, Response]:
    if auth is None:
        return ctx.http.get_json(url, params=params)
    for attempt in range(2):
        try:
            return ctx.http.get_json(url, params=params, headers={"Authorization": f"Bearer {auth.token(ctx)}"})
        except FetchError as exc:
            if exc.status != 401 or attempt:
                raise
            auth.forget()  # revoked or expired early: one new token, one more try
    raise AssertionError("unreachable")


class RedditSettings(SourceSettings):
    subreddits: list[str] = Field(default_factory=list)  # searched beside the site-wide search
    oauth_url: str | None = None  # with REDDIT_CLIENT_ID/SECRET (default oauth.reddit.com)
    auth_url: str | None = None  # where the app-only token comes from (default www.reddit.com)

    @field_validator("subreddits", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _units(ctx: CollectContext[RedditSettings]) -> list[str]:
    """Site-wide search, then each configured subreddit ("technology", "r/technology")."""
    subs = ctx.settings.subreddits
    names = (str(s).strip().strip("/").removeprefix("r/").strip("/") for s in subs)
    return ["all", *dict.fromkeys(f"r/{name}" for name in names if name)]


def _is_new(post: Post, newest: float, newest_ids: set[str]) -> bool:
    created = post.created_at.timestamp()
    return created > newest or (created == newest and post.id not in newest_ids)


@register_collector("reddit", description="Reddit search, newest first: site-wide and in the configured subreddits",
                    base_url=WEB, settings_model=RedditSettings,
                    needs="nothing (optional: env REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET)")
def fetch_reddit(ctx: CollectContext[RedditSettings], query: str, state: dict[str, Any]) -> Iterator[Page]:
    """``search.json?sort=new`` site-wide and per subreddit (``restrict_sr=1``), paged with
    ``after``. Search has no "since" parameter, so each pass reads newest first until it reaches
    the newest post (``created_utc`` and the fullnames at that second) of the last completed pass;
    a run over unchanged data is one request. With ``REDDIT_CLIENT_ID`` / ``REDDIT_CLIENT_SECRET``
    the requests go to ``oauth_url`` with an app-only token from ``auth_url``.

    State: ``{unit: cursor}`` for unit "all" and "r/<name>"; a cursor holds ``newest`` /
    ``newest_ids``, plus ``pass_newest`` / ``pass_ids`` / ``after`` while a pass is unfinished.
    When ``x-ratelimit-remaining`` reaches 0 the run stops (rate-limited) until the reset."""
    auth, base = _auth_and_base(ctx)
    units = _units(ctx)
    cursors: dict[str, dict[str, Any]] = {k: dict(v) for k, v in state.items() if isinstance(v, dict)}
    pending: RateLimited | None = None
    for index, unit in enumerate(units):
        cursor = cursors.setdefault(unit, {})
        newest = float(cursor.get("newest", 0))
        newest_ids = set(cursor.get("newest_ids", []))
        url = f"{base}/search.json" if unit == "all" else f"{base}/{unit}/search.json"
        while True:
            if pending is not None:
                raise pending
            data, response = _listing(ctx, url, _search_params(query, unit, cursor), auth)
            pending = quota_exhausted(response)
            listing, posts = _listing_posts(ctx, data, response, unit, query)
            fresh = [p for p in posts if _is_new(p, newest, newest_ids)]
            done = _advance_cursor(cursor, newest, newest_ids, listing, posts, fresh)
            last = done and index == len(units) - 1
            yield Page(fresh, {k: dict(v) for k, v in cursors.items()}, more=not last, request=response.url)
            if done:
                break


def _auth_and_base(ctx: CollectContext[RedditSettings]) -> tuple[_AppAuth | None, str]:
    """Anonymous requests to the web site, or, with REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET, app-only
    OAuth requests to ``oauth_url``."""
    client_id, secret = ctx.env("REDDIT_CLIENT_ID"), ctx.env("REDDIT_CLIENT_SECRET")
    if client_id and secret:
        auth = _AppAuth(str(ctx.settings.auth_url or WEB).rstrip("/"), client_id, secret)
        return auth, str(ctx.settings.oauth_url or OAUTH).rstrip("/")
    return None, ctx.base_url


def _search_params(query: str, unit: str, cursor: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"q": phrase(query), "sort": "new", "limit": PAGE_SIZE, "raw_json": 1}
    if unit != "all":
        params["restrict_sr"] = 1
    if cursor.get("after"):
        params["after"] = cursor["after"]
    return params


def _listing_posts(ctx: CollectContext[RedditSettings], data: Any, response: Response, unit: str,
                   query: str) -> tuple[dict[str, Any], list[Post]]:
    """The Listing's ``data`` and its things as posts (a thing that does not map is logged and skipped)."""
    listing = data.get("data") if isinstance(data, dict) and data.get("kind") == "Listing" else None
    if not isinstance(listing, dict) or not isinstance(listing.get("children"), list):
        raise FetchError("bad-body", f"reddit: expected a Listing from {unit} search", response.status)
    posts: list[Post] = []
    for thing, kind in _things(data):
        try:
            posts.append(post_from_thing(thing, ctx.provenance(response.url, query), kind))
        except (FieldError, ValueError) as exc:
            log.warning("reddit: skipped a thing (%s)", exc)
    return listing, posts


def _advance_cursor(cursor: dict[str, Any], newest: float, newest_ids: set[str], listing: dict[str, Any],
                    posts: list[Post], fresh: list[Post]) -> bool:
    """Record one page in the unit's cursor; True when the pass is complete (the listing ran out or
    reached posts of the last completed pass), and its newest post becomes the next pass's stop."""
    pass_newest = float(cursor.get("pass_newest", newest))
    pass_ids = set(cursor.get("pass_ids", newest_ids))
    for post in fresh:
        created = post.created_at.timestamp()
        if created > pass_newest:
            pass_newest, pass_ids = created, {post.id}
        elif created == pass_newest:
            pass_ids.add(post.id)
    after = listing.get("after")
    done = not listing["children"] or len(fresh) < len(posts) or not after
    cursor.clear()
    if done:
        if pass_newest:
            cursor.update(newest=pass_newest, newest_ids=sorted(pass_ids))
    else:
        cursor.update(newest=newest, newest_ids=sorted(newest_ids), pass_newest=pass_newest,
                      pass_ids=sorted(pass_ids), after=str(after))
    return done

"""X (Twitter): API v2 responses as twarc2 writes them, and the account archive (``tweets.js``).

Readers:
- ``x_twarc``: JSONL where each line is an API v2 response page (``data`` + ``includes``, with
  twarc's ``__twarc`` stamp) or one tweet object (``twarc2 flatten`` output with ``author``
  embedded, or a plain tweet with ``author_id``). Only ``data`` tweets become posts; tweets that
  are merely referenced (``includes.tweets``) are not stored.
- ``x_archive``: ``data/tweets.js`` (and ``tweets-partN.js``) from an account archive, as a file
  or as a member of the archive zip; author details come from ``account.js`` next to it.
- ``x_archive_other``: every other ``window.YTD.*`` archive file; yields nothing, so a whole
  archive zip imports cleanly.

Collector ``x`` (disabled by default; needs ``X_BEARER_TOKEN``): API v2 recent search, mapped with
the same ``post_from_tweet`` as the twarc reader.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from monitor.config import Config, SourceSettings
from monitor.http import FetchError, RateLimited, Response, quota_exhausted
from monitor.models import Author, Engagement, Post, Provenance
from monitor.sources.api import CollectContext, Page, register_collector, register_reader
from monitor.sources.base import (
    ArchiveInput,
    FieldError,
    RecordError,
    TextWindow,
    explode_records,
    iter_json_array,
    iter_json_records,
    opt_str,
    parse_time,
    records_with_errors,
    require,
    to_int,
)

log = logging.getLogger(__name__)

TWARC = "x_twarc"
ARCHIVE = "x_archive"
ARCHIVE_OTHER = "x_archive_other"


def unescape_twitter(text: str) -> str:
    """X escapes exactly ``&``, ``<`` and ``>`` in tweet text (API v1.1, v2 and archives).
    ``html.unescape`` would also rewrite things people typed, such as ``&copy``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def tweet_url(tweet_id: str, username: str | None) -> str:
    if username:
        return f"https://x.com/{username}/status/{tweet_id}"
    return f"https://x.com/i/web/status/{tweet_id}"



# --- API v2 -----------------------------------------------------------------------------------


def post_from_tweet(tweet: dict[str, Any], provenance: Provenance,
                    users: dict[str, dict[str, Any]] | None = None) -> Post:
    """An X API v2 tweet object -> Post.

    ``users`` maps user id -> user object from the page's ``includes.users``; a twarc-flattened
    tweet carries its user under ``author`` instead. Long posts take ``note_tweet.text``.
    """
    tweet_id = str(require(tweet, "id"))
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else tweet.get("text")
    if text is None:
        raise FieldError("text", "missing")
    if not tweet.get("created_at"):
        raise FieldError("created_at", "missing (request it with tweet.fields=created_at)")
    created_at = parse_time(tweet["created_at"], "created_at")

    author_id = opt_str(tweet.get("author_id"))
    user = tweet.get("author") if isinstance(tweet.get("author"), dict) else None
    if user is None and users and author_id:
        user = users.get(author_id)
    username = opt_str(user.get("username")) if user else None

    refs: dict[str, str] = {}
    for ref in tweet.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") and ref.get("id"):
            refs.setdefault(str(ref["type"]), str(ref["id"]))

    metrics = tweet.get("public_metrics") if isinstance(tweet.get("public_metrics"), dict) else {}
    raw = tweet if user is None or "author" in tweet else {**tweet, "author": user}
    return Post(
        platform="x",
        id=tweet_id,
        url=tweet_url(tweet_id, username),
        author=Author(id=author_id or (opt_str(user.get("id")) if user else None), handle=username,
                      name=opt_str(user.get("name")) if user else None),
        text=unescape_twitter(str(text)),
        lang=opt_str(tweet.get("lang")),
        created_at=created_at,
        reply_to=refs.get("replied_to"),
        quote_of=refs.get("quoted"),
        repost_of=refs.get("retweeted"),
        engagement=Engagement(
            likes=to_int(metrics.get("like_count")),
            reposts=to_int(metrics.get("retweet_count")),
            replies=to_int(metrics.get("reply_count")),
            quotes=to_int(metrics.get("quote_count")),
        ),
        provenance=provenance,
        raw=raw,
    )


def _twarc_provenance(page: dict[str, Any], file: str, line: int) -> Provenance:
    """twarc stamps each page with the request URL and retrieval time; keep them."""
    stamp = page.get("__twarc") if isinstance(page.get("__twarc"), dict) else {}
    extra: dict[str, Any] = {}
    if stamp.get("url"):
        extra["request"] = str(stamp["url"])
    if stamp.get("retrieved_at"):
        try:
            extra["collected_at"] = parse_time(stamp["retrieved_at"], "__twarc.retrieved_at")
        except FieldError:
            pass  # a bad stamp is no reason to drop the tweet
    return Provenance(source=TWARC, file=file, line=line, **extra)


def _tweets_in(record: Any) -> Iterator[tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]]:
    """(tweet, users by id, page) for each post in a response page or flattened tweet line."""
    if not isinstance(record, dict):
        raise FieldError("data", f"expected an X API response page or tweet object, got {type(record).__name__}")
    if "data" in record:
        data = record["data"]
        includes = record.get("includes") if isinstance(record.get("includes"), dict) else {}
        users = {str(u["id"]): u for u in includes.get("users") or [] if isinstance(u, dict) and u.get("id")}
        for tweet in data if isinstance(data, list) else [data]:
            yield tweet, users, record
    elif "id" in record and ("text" in record or "note_tweet" in record):
        yield record, {}, record
    elif not ({"meta", "errors", "__twarc"} & record.keys()):
        # Pages with no results (meta.result_count 0) or only errors hold no tweets: not an error.
        raise FieldError("data", "not an X API response page or tweet object")


_TWEET_ONLY_KEYS = re.compile(
    r'"(edit_history_tweet_ids|conversation_id|public_metrics|referenced_tweets|reply_settings|possibly_sensitive)"\s*:')


def _looks_twarc(sample: str, name: str) -> bool:
    head = sample.lstrip()
    if not head.startswith("{"):
        return False
    first = head.split("\n", 1)[0]
    if len(first.strip()) <= 1:  # a pretty-printed document: look at all of the sample
        first = head
    if '"__twarc"' in first:
        return True
    tweet_keys = bool(_TWEET_ONLY_KEYS.search(first)) or bool(re.search(r'"author_id"\s*:', first))
    if re.search(r'"data"\s*:\s*[\[{]', first):
        return tweet_keys or bool(re.search(r'"(newest_id|result_count)"\s*:', first))
    # One tweet per line. "author_id" alone is also a generic-JSONL column: only count it
    # when the line has no "platform" field.
    if not (re.search(r'"id"\s*:', first) and re.search(r'"text"\s*:', first)):
        return False
    return bool(_TWEET_ONLY_KEYS.search(first)) or (bool(re.search(r'"author_id"\s*:', first))
                                                    and not re.search(r'"platform"\s*:', first))


@register_reader(TWARC, description="X API v2 JSONL (twarc2 pages or flattened tweets)", sniff=_looks_twarc,
                 priority=40)
def read_twarc(source: ArchiveInput, encoding: str | None = None, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name

    def mapper(item: tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]], lineno: int) -> Iterator[Post]:
        tweet, users, page = item
        yield post_from_tweet(tweet, _twarc_provenance(page, name, lineno), users)

    records = iter_json_records(source, encoding=encoding)
    yield from records_with_errors(source, explode_records(source, records, _tweets_in), mapper)


# --- account archive --------------------------------------------------------------------------

_YTD_PREFIX = re.compile(r"\s*window\.YTD\.(\w+)\.part\d+\s*=\s*")
_TWEET_FILES = ("tweets", "tweet")  # "tweet.js" in archives before 2022


def post_from_archive_tweet(tweet: dict[str, Any], provenance: Provenance,
                            account: dict[str, Any] | None = None) -> Post:
    """A tweet from an account archive (API v1.1 shape, numbers as strings) -> Post.

    ``account`` is the archive's ``account.js`` entry (username, accountId, accountDisplayName).
    Retweets are kept with their ``RT @user: ...`` text; archives do not say which tweet they
    repost, so ``repost_of`` stays None unless a v1.1 ``retweeted_status`` is present.
    """
    tweet_id = str(tweet.get("id_str") or require(tweet, "id"))
    text = tweet.get("full_text") if tweet.get("full_text") is not None else tweet.get("text")
    if text is None:
        raise FieldError("full_text", "missing")
    created_at = parse_time(tweet.get("created_at"), "created_at")
    if account:
        author = Author(id=opt_str(account.get("accountId")), handle=opt_str(account.get("username")),
                        name=opt_str(account.get("accountDisplayName")))
    elif isinstance(tweet.get("user"), dict):  # API v1.1 tweet objects
        user = tweet["user"]
        author = Author(id=opt_str(user.get("id_str") or user.get("id")), handle=opt_str(user.get("screen_name")),
                        name=opt_str(user.get("name")))
    else:
        author = Author()
    retweeted = tweet.get("retweeted_status") if isinstance(tweet.get("retweeted_status"), dict) else {}
    return Post(
        platform="x",
        id=tweet_id,
        url=tweet_url(tweet_id, author.handle),
        author=author,
        text=unescape_twitter(str(text)),
        lang=opt_str(tweet.get("lang")),
        created_at=created_at,
        reply_to=opt_str(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")),
        quote_of=opt_str(tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id")),
        repost_of=opt_str(retweeted.get("id_str") or retweeted.get("id")),
        engagement=Engagement(likes=to_int(tweet.get("favorite_count")), reposts=to_int(tweet.get("retweet_count")),
                              replies=to_int(tweet.get("reply_count")), quotes=to_int(tweet.get("quote_count"))),
        provenance=provenance,
        raw=tweet,
    )


def _read_ytd(source: ArchiveInput) -> Iterator[tuple[int, Any] | RecordError]:
    """(line, entry) for each element of a ``window.YTD.<name>.partN = [...]`` file, read a chunk at a
    time (a heavy account's tweets.js is hundreds of MB: read whole, and with each element's line
    counted from the start, 150 MB took hours)."""
    return iter_json_array(source, start=_after_ytd_prefix, where="after the archive prefix")


def _after_ytd_prefix(window: TextWindow) -> int | RecordError:
    window.fill(256)
    prefix = _YTD_PREFIX.match(window.text)
    if prefix is None:
        return RecordError("", 1, "not an X archive file (no 'window.YTD.<name>.partN =' prefix)")
    return prefix.end()


def _archive_account(source: ArchiveInput) -> dict[str, Any] | None:
    sibling = source.sibling("account.js")
    if sibling is None:
        return None
    for item in _read_ytd(sibling):
        if isinstance(item, tuple) and isinstance(item[1], dict):
            entry = item[1]
            return entry.get("account") if isinstance(entry.get("account"), dict) else entry
    return None


def _archive_kind(sample: str) -> str | None:
    match = _YTD_PREFIX.match(sample.lstrip("\ufeff"))
    return match.group(1) if match else None


def _looks_archive_tweets(sample: str, name: str) -> bool:
    return _archive_kind(sample) in _TWEET_FILES


def _looks_archive_other(sample: str, name: str) -> bool:
    kind = _archive_kind(sample)
    return kind is not None and kind not in _TWEET_FILES


@register_reader(ARCHIVE, description="X account archive tweets.js (file, folder or archive zip)",
                 sniff=_looks_archive_tweets, priority=20)
def read_archive(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    name = source.name
    account = _archive_account(source)

    def mapper(entry: Any, lineno: int) -> Iterator[Post]:
        tweet = entry.get("tweet", entry) if isinstance(entry, dict) else entry  # older archives: no wrapper
        yield post_from_archive_tweet(tweet, Provenance(source=ARCHIVE, file=name, line=lineno), account)

    yield from records_with_errors(source, _read_ytd(source), mapper)


@register_reader(ARCHIVE_OTHER, description="Other X archive files (account.js, likes.js, ...): nothing to import",
                 sniff=_looks_archive_other, priority=21)
def read_archive_other(source: ArchiveInput, **_: Any) -> Iterator[Post | RecordError]:
    # Likes, DMs, followers, deleted tweets...: not public posts by the account, deliberately skipped.
    yield from ()


# --- live collector ---------------------------------------------------------------------------

X_API = "https://api.x.com"
SEARCH_PATH = "/2/tweets/search/recent"
TWEET_FIELDS = "created_at,lang,public_metrics,referenced_tweets,conversation_id,author_id,edit_history_tweet_ids"
EXPANSIONS = "author_id,referenced_tweets.id"
USER_FIELDS = "username,name"
_SNOWFLAKE_EPOCH_MS = 1288834974657  # X ids since late 2010 carry their creation time in the top bits


def _term(name: str) -> str:
    return name if re.fullmatch(r"\w+", name) else '"' + name.replace('"', "") + '"'


class XSettings(SourceSettings):
    enabled: bool = False  # needs X_BEARER_TOKEN, and a paid API tier
    interval_minutes: float = Field(default=60, gt=0, le=7 * 24 * 60)
    max_results: int = Field(default=100, ge=10, le=100)


def x_queries(config: Config, settings: XSettings) -> list[str]:
    """One search per target: its most specific name (as a phrase) or any of its @handles,
    retweets left out (they repeat the text they share): ``("Elon Musk" OR @elonmusk) -is:retweet``.
    Queries set in ``[sources.x] queries`` are used as written, in X's search syntax."""
    queries: list[str] = []
    for target in config.targets:
        names = target.aliases or target.exact_aliases or [target.name]
        terms = list(dict.fromkeys([_term(names[0]), *(f"@{h.lstrip('@')}" for h in target.handles)]))
        body = terms[0] if len(terms) == 1 else f"({' OR '.join(terms)})"
        queries.append(f"{body} -is:retweet")
    return list(dict.fromkeys(queries))


def _newest_id(*ids: Any) -> str | None:
    present = [str(i) for i in ids if i is not None and str(i).isdigit()]
    return max(present, key=lambda i: (len(i), i)) if present else None


def _snowflake_time(tweet_id: str) -> str | None:
    if not tweet_id.isdigit() or int(tweet_id) < 1 << 40:  # pre-snowflake ids carry no time
        return None
    ms = (int(tweet_id) >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _page_posts(data: dict[str, Any], ctx: CollectContext, request: str, query: str) -> tuple[list[Post], list[str]]:
    """Posts of a search page (``includes.users`` give the handles) and the keys of the earlier
    versions of edited tweets in it: an edit is a new tweet id, so the old version is removed."""
    includes = data.get("includes") if isinstance(data.get("includes"), dict) else {}
    users = {str(u["id"]): u for u in includes.get("users") or [] if isinstance(u, dict) and u.get("id")}
    posts: list[Post] = []
    replaced: list[str] = []
    for tweet in data.get("data") or []:
        if not isinstance(tweet, dict):
            continue
        try:
            tweet_id = str(require(tweet, "id"))
            derived = None if tweet.get("created_at") else _snowflake_time(tweet_id)
            post = post_from_tweet({**tweet, "created_at": derived} if derived else tweet,
                                   ctx.provenance(request, query), users)
            if derived and isinstance(post.raw, dict):
                # The time came from the id (the response lacked created_at): keep raw as received.
                post = post.model_copy(update={"raw": {k: v for k, v in post.raw.items() if k != "created_at"}})
        except (FieldError, ValueError) as exc:
            log.warning("x: skipped a tweet (%s)", exc)
            continue
        posts.append(post)
        history = tweet.get("edit_history_tweet_ids")
        if isinstance(history, list) and tweet_id.isdigit():
            # Only earlier versions: an old version is served with the whole history, newer ids included.
            replaced.extend(f"x:{old}" for old in history if str(old).isdigit() and int(old) < int(tweet_id))
    gone = set(replaced)
    return [p for p in posts if p.key not in gone], list(dict.fromkeys(replaced))


@register_collector("x", description="X API v2 recent search (the last 7 days), one query per target",
                    base_url=X_API, settings_model=XSettings,
                    required_env=("X_BEARER_TOKEN",), needs="env X_BEARER_TOKEN", queries=x_queries)
def fetch_x(ctx: CollectContext, query: str, state: dict[str, Any]) -> Iterator[Page]:
    """``/2/tweets/search/recent``, newest first, paged with ``next_token``. Incremental with
    ``since_id`` = the newest id of the last completed pass; a capped pass resumes at its
    ``next_token``. The bearer token goes in the Authorization header only (never in a URL,
    a log line, the state or an error message)."""
    token = ctx.env("X_BEARER_TOKEN")
    if not token:
        raise FetchError("auth", "x: X_BEARER_TOKEN is not set")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{ctx.base_url}{SEARCH_PATH}"
    newest = state.get("newest")
    pass_newest = state.get("pass_newest", newest)
    next_token = state.get("next_token")
    pending: RateLimited | None = None
    while True:
        if pending is not None:
            raise pending
        params: dict[str, Any] = {"query": query, "max_results": ctx.settings.max_results,
                                  "tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user.fields": USER_FIELDS}
        if newest:
            params["since_id"] = newest
        if next_token:
            params["next_token"] = next_token
        try:
            data, response = ctx.http.get_json(url, params=params, headers=headers)
        except FetchError as exc:
            if exc.status == 400 and newest and "since_id" in str(exc):
                # since_id older than the 7-day window is refused; everything searchable is newer anyway.
                log.info("x: since_id %s refused; searching the whole window", newest)
                newest, next_token = None, None
                continue
            raise
        pending = quota_exhausted(response)
        data = _checked(data, response)
        posts, replaced = _page_posts(data, ctx, response.url, query)
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        tweets = data.get("data") or []
        pass_newest = _newest_id(pass_newest, meta.get("newest_id"),
                                 *(t.get("id") for t in tweets if isinstance(t, dict)))
        next_token = meta.get("next_token")
        done = not tweets or not next_token
        if done:
            page_state: dict[str, Any] = {"newest": pass_newest} if pass_newest else {}
        else:
            page_state = {k: v for k, v in (("newest", newest), ("pass_newest", pass_newest),
                                            ("next_token", next_token)) if v}
        yield Page(posts, page_state, more=not done, request=response.url, deleted=replaced)
        if done:
            return


def _checked(data: Any, response: Response) -> dict[str, Any]:
    """A search page; a body with only ``errors`` (and no ``data`` / ``meta``) is a failure."""
    if not isinstance(data, dict):
        raise FetchError("bad-body", "x: expected a JSON object from recent search", response.status)
    if "data" not in data and "meta" not in data:
        errors = data.get("errors") if isinstance(data.get("errors"), list) else []
        detail = "; ".join(str(e.get("message") or e.get("detail") or e) for e in errors if isinstance(e, dict))
        raise FetchError("http", f"x: search returned no data ({detail or 'unexpected body'})", response.status)
    if not isinstance(data.get("data", []), list):
        raise FetchError("bad-body", "x: 'data' is not a list of tweets", response.status)
    return data

"""HTTP for collectors: explicit timeouts, a User-Agent naming the tool and a contact, bounded
retries with exponential backoff and jitter on 5xx and timeouts, and rate limits honoured from
``Retry-After`` and the platforms' reset headers. Never a tight loop; never a token in a log line."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from monitor import __version__, json_text

if TYPE_CHECKING:
    import ssl

    import httpx

log = logging.getLogger(__name__)


class FetchError(Exception):
    """A request that did not give a usable response. ``kind``: offline, timeout, http, bad-body."""

    def __init__(self, kind: str, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


class RateLimited(FetchError):
    def __init__(self, message: str, retry_at: datetime | None, status: int | None = 429):
        super().__init__("rate-limited", message, status)
        self.retry_at = retry_at


@dataclass
class Response:
    url: str
    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        try:
            return json_text.loads(self.content)  # a lone surrogate escape becomes U+FFFD
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            snippet = self.content[:80].decode("utf-8", "replace").replace("\n", " ")
            kind = "an HTML page" if snippet.lstrip().lower().startswith(("<!doctype", "<html")) else "not JSON"
            raise FetchError("bad-body", f"{_safe_url(self.url)}: status {self.status} but the body is {kind} "
                                         f"({len(self.content)} bytes: {snippet!r})", self.status) from exc


def _safe_url(url: str) -> str:
    """A URL fit for logs: no query values that could hold credentials."""
    import httpx

    return str(httpx.URL(url).copy_with(query=None))


def user_agent(contact: str) -> str:
    return f"discourse-monitor/{__version__} (+{contact})"


def wait_from_headers(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before the next request, from Retry-After or a reset header, if any."""
    now = time.time() if now is None else now
    retry_after = headers.get("retry-after")
    if retry_after:
        retry_after = retry_after.strip()
        if retry_after.replace(".", "", 1).isdigit():
            return float(retry_after)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now)
        except (TypeError, ValueError):
            pass
    for name in ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"):
        value = headers.get(name)
        if not value:
            continue
        value = value.strip()
        try:
            number = float(value)
        except ValueError:
            try:  # Mastodon: an ISO 8601 timestamp
                return max(0.0, datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now)
            except ValueError:
                continue
        # Epoch seconds (X, Bluesky) or seconds from now (Reddit).
        return max(0.0, number - now) if number > 1e9 else number
    return None


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once per process: making one loads the CA bundle
    (~50 ms), and every collector run (each minute in the daemon) made its own client."""
    import httpx

    return httpx.create_ssl_context()


class HttpClient:
    def __init__(self, contact: str, *, timeout: float = 20.0, connect_timeout: float = 5.0, max_tries: int = 4,
                 backoff: float = 1.0, max_wait: float = 120.0, sleep: Callable[[float], None] = time.sleep,
                 headers: Mapping[str, str] | None = None):
        import httpx  # imported where used: ~30 ms of every command's start-up otherwise

        self.max_tries = max_tries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.statuses: Counter[str] = Counter()
        self.requests = 0
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout), verify=_tls_context(),
            headers={"User-Agent": user_agent(contact), "Accept": "application/json", **(headers or {})},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2**attempt) * (0.5 + random.random())

    def get(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
            ok: tuple[int, ...] = (200,)) -> Response:
        """GET with retries. Returns responses whose status is in ``ok`` (add 304 for conditional
        requests); raises FetchError / RateLimited otherwise."""
        return self.request("GET", url, params=params, headers=headers, ok=ok)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json_body: Any = None,
                form: Mapping[str, str] | None = None, ok: tuple[int, ...] = (200,)) -> Response:
        import httpx

        last_error = ""
        for attempt in range(self.max_tries):
            self.requests += 1
            try:
                raw = self._client.request(method, url, params=params, headers=headers, json=json_body, data=form)
                content = raw.read()
            except httpx.TimeoutException as exc:
                self.statuses["timeout"] += 1
                last_error = f"timed out ({type(exc).__name__})"
                if attempt + 1 < self.max_tries:
                    self.sleep(self._backoff(attempt))
                continue
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                self.statuses["network"] += 1
                if isinstance(exc, httpx.ConnectError):
                    raise FetchError("offline", f"cannot connect to {httpx.URL(url).host}: {exc}") from exc
                last_error = f"connection broke: {exc}"
                if attempt + 1 < self.max_tries:
                    self.sleep(self._backoff(attempt))
                continue
            response = Response(str(raw.url), raw.status_code, raw.headers, content)
            self.statuses[str(raw.status_code)] += 1
            if raw.status_code in ok:
                return response
            if raw.status_code == 429 or (raw.status_code == 403 and raw.headers.get("x-ratelimit-remaining") == "0"):
                wait = wait_from_headers(raw.headers)
                if wait is None:
                    wait = self._backoff(attempt + 2)
                retry_at = datetime.fromtimestamp(time.time() + wait, UTC)
                if wait > self.max_wait or attempt + 1 >= self.max_tries:
                    raise RateLimited(f"{_safe_url(url)}: rate limited; retry after {retry_at:%H:%M:%S} UTC",
                                      retry_at, raw.status_code)
                log.info("rate limited by %s; waiting %.1f s", httpx.URL(url).host, wait)
                self.sleep(wait)
                continue
            if raw.status_code >= 500:
                last_error = f"server error {raw.status_code}"
                if attempt + 1 < self.max_tries:
                    self.sleep(self._backoff(attempt))
                continue
            snippet = content[:200].decode("utf-8", "replace").replace("\n", " ")
            raise FetchError("http", f"{_safe_url(url)}: HTTP {raw.status_code}: {snippet}", raw.status_code)
        raise FetchError("timeout" if "timed out" in last_error else "http",
                         f"{_safe_url(url)}: gave up after {self.max_tries} tries ({last_error})")

    def get_json(self, url: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> tuple[Any, Response]:
        """GET and parse JSON; a 200 with an HTML page or a truncated body is retried, then fails."""
        for attempt in range(self.max_tries):
            response = self.get(url, params=params, headers=headers)
            try:
                return response.json(), response
            except FetchError:
                self.statuses["bad-body"] += 1
                if attempt + 1 >= self.max_tries:
                    raise
                self.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def status_summary(self) -> str:
        return ",".join(f"{k}x{v}" for k, v in sorted(self.statuses.items()))


_REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")


def quota_exhausted(response: Response, default_wait: float = 60.0) -> RateLimited | None:
    """A RateLimited to raise instead of the next request when the response says no requests
    are left (Reddit sends "0.0", Mastodon and X integers); None while some remain. The wait
    comes from the reset header (Reddit: seconds, Mastodon: ISO time, X: epoch)."""
    import httpx

    for name in _REMAINING_HEADERS:
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            remaining = float(value)
        except ValueError:
            return None
        if remaining >= 1:
            return None
        wait = wait_from_headers(response.headers)
        retry_at = datetime.now(UTC) + timedelta(seconds=default_wait if wait is None else wait)
        host = httpx.URL(response.url).host
        return RateLimited(f"{host}: request quota used up ({name}: {value}); retry after {retry_at:%H:%M:%S} UTC",
                           retry_at, response.status)
    return None


def phrase(query: str) -> str:
    """A multi-word name as an exact phrase for a search box; queries with their own syntax
    (quotes, parentheses, operators) are left alone."""
    if " " not in query.strip() or any(c in query for c in "\"()#@:") or re.search(r"\b(OR|AND|NOT)\b", query):
        return query
    return f'"{query.strip()}"'

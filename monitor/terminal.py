"""Showing untrusted text in the terminal (and times, alike everywhere).

Post text is data: it must never become rich markup or terminal control sequences. Everything
that came from a post goes through ``safe`` (control characters become visible escapes) and is
wrapped in ``rich.text.Text`` (which never parses markup).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

# Control characters (ESC starts every terminal escape sequence) and the bidirectional overrides
# that make text display differently from what it is. They are shown as visible escapes (\x1b),
# so a post that carries an escape sequence shows it literally and nothing is sent to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object, one_line: bool = False, limit: int | None = None) -> str:
    text = "" if value is None else str(value)
    if one_line:
        text = " ".join(text.split())
    text = _CONTROL.sub(_visible, text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def literal(value: object, style: str = "", one_line: bool = True, limit: int | None = None) -> Text:
    """A rich Text that shows ``value`` literally: '[bold]' stays '[bold]'."""
    return Text(safe(value, one_line=one_line, limit=limit), style=style)


SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int | float]) -> str:
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK_CHARS[0] * len(values)
    return "".join(SPARK_CHARS[min(len(SPARK_CHARS) - 1, int(v / top * (len(SPARK_CHARS) - 1) + 0.5))]
                   for v in values)


def ago(value: str | datetime | None, now: datetime) -> str:
    """'5 min ago', or 'in 5 min' for a time still to come; 'never' for none. ``now`` is naive UTC,
    as the database stores times; aware values are converted."""
    if not value:
        return "never"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    seconds = (now - when).total_seconds()
    span = abs(seconds)
    if span < 120:
        amount = f"{int(span)} s"
    elif span < 7200:
        amount = f"{int(span // 60)} min"
    elif span < 172800:
        amount = f"{int(span // 3600)} h"
    else:
        amount = f"{int(span // 86400)} days"
    return f"{amount} ago" if seconds >= 0 else f"in {amount}"


def clock(seconds: float) -> str:
    """A duration as h:mm:ss ("0:12:09"): the time an import took, or has left."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"

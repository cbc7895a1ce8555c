"""JSON whose strings are valid Unicode.

A JSON string may hold a lone UTF-16 surrogate as an escape ("\\ud83d"): a tweet or comment cut in
the middle of an emoji, as dumps and APIs do. Python decodes it into a str that cannot be encoded as
UTF-8, so the tokenizer, Arrow and DuckDB refuse the post, and with it the batch. ``loads`` puts
U+FFFD (the replacement character) in place of such a surrogate, in values and keys. Only text that
holds a surrogate escape not paired with its other half is walked: a cheap search of the raw text.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A high surrogate escape not followed by a low one, or a low one not after a high one.
_HIGH, _LOW = r"\\u[dD][89abAB][0-9a-fA-F]{2}", r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE = f"{_HIGH}(?!{_LOW})|(?<!{_HIGH}){_LOW}"
_LONE_TEXT = re.compile(_LONE)
_LONE_BYTES = re.compile(_LONE.encode())
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: str | bytes) -> Any:
    """``json.loads``, with lone surrogates replaced by U+FFFD."""
    value = json.loads(text)
    found = _LONE_BYTES.search(text) if isinstance(text, bytes) else _LONE_TEXT.search(text)
    return repaired(value) if found else value


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """``decoder.raw_decode(text, pos)`` (one value of a longer text), repaired like ``loads``."""
    value, end = decoder.raw_decode(text, pos)
    return (repaired(value) if _LONE_TEXT.search(text, pos, end) else value), end


def repaired(value: Any) -> Any:
    """A decoded JSON value with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {repaired(k): repaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repaired(v) for v in value]
    return value

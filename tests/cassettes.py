"""Read recorded HTTP responses out of VCR (R ``vcr`` / Python ``vcrpy``) YAML cassettes and
betamax JSON cassettes, so reader tests can use real API response bodies as archive files."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # test-only dependency


@dataclass(frozen=True)
class Recorded:
    method: str
    uri: str
    status: int | None
    body: str


def _status(response: dict[str, Any]) -> int | None:
    status = response.get("status")
    if isinstance(status, dict):  # vcrpy/betamax: {code, message}; R vcr: {status_code, ...}
        code = status.get("code", status.get("status_code"))
        return int(code) if code is not None else None
    return int(status) if status is not None else None


def _body(body: Any) -> str:
    if isinstance(body, dict):
        if body.get("base64_string"):
            data: Any = base64.b64decode(body["base64_string"])
        elif (body.get("encoding") or "").lower() == "base64":
            data = base64.b64decode(body.get("string") or "")
        else:
            data = body.get("string", "")
    else:
        data = body
    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":  # tweepy records gzip bodies as !!binary
            data = gzip.decompress(data)
        data = data.decode("utf-8")
    return str(data or "")


def interactions(path: Path) -> list[Recorded]:
    """All request/response pairs of a cassette, in recorded order."""
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    items = doc.get("http_interactions") or doc.get("interactions") or []
    out = []
    for item in items:
        request, response = item["request"], item["response"]
        out.append(Recorded(method=str(request.get("method", "")).upper(), uri=str(request.get("uri", "")),
                            status=_status(response), body=_body(response.get("body"))))
    return out


def response_body(path: Path, uri_contains: str = "", index: int = 0) -> str:
    """The body of the ``index``-th GET response whose URI contains ``uri_contains``."""
    matches = [r for r in interactions(path) if r.method == "GET" and uri_contains in r.uri]
    if len(matches) <= index:
        raise LookupError(f"{path.name}: no GET response #{index} for {uri_contains!r}")
    return matches[index].body


def body_file(cassette: Path, tmp_path: Path, uri_contains: str = "", index: int = 0,
              name: str | None = None) -> Path:
    """Write a recorded response body to ``tmp_path`` (as an archive file) and return its path."""
    target = tmp_path / (name or f"{cassette.name.split('.')[0]}.json")
    target.write_text(response_body(cassette, uri_contains, index), encoding="utf-8")
    return target

"""Text cut in the middle of an emoji: a JSON escape of half a surrogate pair ("\\ud83d"), as dumps and
APIs truncate posts. Python decodes it into a str that UTF-8 cannot encode; before monitor/json_text.py
one such post failed its whole file ("failed after 0 records": UnicodeEncodeError with VADER, a
tokenizer TypeError with the learned analyzer). Now it is stored with U+FFFD in its place."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from monitor import json_text
from monitor.http import Response
from tests.conftest import FIXTURES

CUT = "\ufffd"


def test_only_lone_surrogates_are_replaced() -> None:
    cases = {
        r'{"t": "cut \ud83d"}': {"t": f"cut {CUT}"},
        r'{"t": "a pair \ud83d\ude00 is an emoji"}': {"t": "a pair \U0001F600 is an emoji"},
        r'{"t": "low \ude00 alone"}': {"t": f"low {CUT} alone"},
        r'{"t": "\u00e9\udc00"}': {"t": f"\u00e9{CUT}"},  # a low half after another escape
        r'{"k\ud800": ["\udfff", 1, {"x": "pair \ud83d\ude00 then \ud83d"}]}':
            {f"k{CUT}": [CUT, 1, {"x": f"pair \U0001F600 then {CUT}"}]},
        r'{"t": "\\ud83d is written out"}': {"t": "\\ud83d is written out"},
        '{"t": "plain é 😀"}': {"t": "plain é 😀"},
    }
    for text, expected in cases.items():
        assert json_text.loads(text) == expected, text
        assert json_text.loads(text.encode()) == expected, text
        json.dumps(json_text.loads(text), ensure_ascii=False).encode("utf-8")  # encodable


def test_the_quick_check_finds_every_lone_surrogate() -> None:
    """``loads`` walks a value only when the raw text holds a lone surrogate's escape: on random texts
    of pairs, lone halves, backslashes and "u" it gives what always walking gives."""
    import random

    rng = random.Random(11)
    pieces = ["a", "\\", "u", "d83d", "\ud83d", "\ude00", "\U0001F600", "\u00e9", "\udbff", "\udc00", '"']
    for _ in range(3000):
        value = {"t": "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))}
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")):
            if isinstance(text, bytes) and any("\ud800" <= c <= "\udfff" for c in value["t"]):
                continue  # raw surrogates are not UTF-8: only their escapes reach json.loads
            assert json_text.loads(text) == json_text.repaired(json.loads(text)), text


def test_an_import_keeps_every_post_of_a_file_with_a_cut_emoji(cli, data_dir: Path, tmp_path: Path) -> None:
    lines = [r'{"id": "1", "text": "Elon Musk is great \ud83d", "created_at": "2025-01-22T10:00:00Z", '
             r'"author": "a\udc00"}',
             r'{"id": "2", "text": "Sam Altman \ud83d\ude00", "created_at": "2025-01-22T10:00:00Z"}',
             '{"id": "3", "text": "Satya Nadella is fine", "created_at": "2025-01-22T10:00:00Z"}']
    archive = tmp_path / "cut.jsonl"
    archive.write_text("\n".join(lines) + "\n", encoding="ascii")
    result = cli("import", "--json", str(archive))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[0]
    assert (report["records"], report["posts_new"], report["errors"]) == (3, 3, 0)
    import duckdb

    with duckdb.connect(str(data_dir / "monitor.duckdb"), read_only=True) as con:
        rows = dict(con.execute("SELECT post_key, text FROM posts").fetchall())
        raw = con.execute("SELECT raw FROM posts WHERE post_key = 'generic:1'").fetchone()[0]
        scored = con.execute("SELECT count(*) FROM post_sentiment").fetchone()[0]
    assert rows == {"generic:1": f"Elon Musk is great {CUT}", "generic:2": "Sam Altman \U0001F600",
                    "generic:3": "Satya Nadella is fine"}
    assert json.loads(raw)["author"] == f"a{CUT}" and scored == 3


def test_an_x_archive_with_a_cut_emoji(cli, data_dir: Path, tmp_path: Path) -> None:
    source = (FIXTURES / "x" / "archive" / "tweets.js").read_text(encoding="utf-8")
    cut = source.replace("Good morning #LeadDevBerlin \U0001F44B", "Good morning Elon Musk \\ud83d", 1)
    assert cut != source
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "tweets.js").write_text(cut, encoding="utf-8")
    result = cli("import", "--json", "--format", "x_archive", str(tmp_path / "archive" / "tweets.js"))
    report = json.loads(result.output)[0]
    assert (report["records"], report["posts_new"], report["errors"], report["failed"]) == (150, 1, 0, False)
    import duckdb

    with duckdb.connect(str(data_dir / "monitor.duckdb"), read_only=True) as con:
        assert con.execute("SELECT text FROM posts").fetchall()[0][0].startswith(f"Good morning Elon Musk {CUT}")


def test_a_collectors_response_with_a_cut_emoji() -> None:
    body = rb'{"hits": [{"comment_text": "OpenAI \ud83d"}]}'
    response = Response("http://127.0.0.1/search", 200, httpx.Headers(), body)
    assert response.json() == {"hits": [{"comment_text": f"OpenAI {CUT}"}]}


def test_score_reports_bytes_that_are_not_utf8_and_scores_the_rest(cli) -> None:
    lines = [b'{"id": 1, "text": "Elon Musk is great"}', b'{"id": 2, "text": "bad \xff byte"}',
             b'{"id": "\\ud800x", "text": "Sam Altman cut \\ud83d"}']
    out = [json.loads(line) for line in cli("score", "-", input=b"\n".join(lines)).output.splitlines()]
    assert out[0]["id"] == 1 and out[0]["sentiment"]["label"] == "positive"
    assert out[1] == {"id": None, "line": 2,
                      "error": "not valid UTF-8 (byte 0xff at column 24); the input must be UTF-8"}
    assert out[2]["id"] == f"{CUT}x" and out[2]["mentions"] == [{"target": "altman", "alias": "Sam Altman"}]


def test_the_learned_analyzer_reads_a_lone_surrogate(config) -> None:
    """A library caller's text that never went through a reader or the Post model."""
    from monitor.analysis.learned import normalize_text

    assert normalize_text("Musk \ud83d rocks") == "Musk rocks"
    from monitor.analysis.analyzers import make_analyzer

    result = make_analyzer(config, None, "learned").analyse_many([("Elon Musk is great \ud83d", "en")])[0]
    assert result.scored and result.targets[0].target_id == "musk"


def test_a_post_holds_only_text_utf8_can_encode() -> None:
    """Readers of other formats (a plugin's own JSON parsing) reach the store through the Post model."""
    from datetime import UTC, datetime

    from monitor.models import Post, Provenance

    made = Post(platform="x", id="1", text="Musk \ud83d", created_at=datetime.now(UTC),
                provenance=Provenance(source="t"))
    assert made.text == f"Musk {CUT}"

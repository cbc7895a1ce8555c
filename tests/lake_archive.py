"""A multi-file, multi-format archive for the distributed import's tests and bench (issue #18).

- ``RC_multi.zst``: the Pushshift fixture's 1,075 comments, repeated with new ids, every third body
  replaced by a planted mention (tests/planted.py), compressed in many zstd frames whose edges fall
  mid-line (so frame ranges must hand lines across);
- ``planted.jsonl``: generic JSON Lines, planted mentions and decoys, a bad line, and a post id
  given twice with two texts (the first one read must win, in the lake as in a local import);
- fixtures read whole: a twarc2 page file, Bluesky Jetstream events, the X account archive (a
  folder with tweets.js and account.js), an RSS feed.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import zstandard

from tests.planted import DECOY_FORMS, FRAMES, TRUE_FORMS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WHOLE_FIXTURES = ("x/search_recent_expanded_brexit_2021.jsonl", "bluesky/jetstream_v1_stream_window_2026-07.jsonl",
                  "news/guardian_rss2.xml")


def planted_texts(rng: random.Random, count: int) -> list[str]:
    forms = [f.split(" | ")[0] for forms in (*TRUE_FORMS.values(), *DECOY_FORMS.values()) for f in forms]
    return [rng.choice(FRAMES).replace("{m}", (form := rng.choice(forms))).replace("{M}", form[:1].upper() + form[1:])
            for _ in range(count)]


def reddit_lines(copies: int, rng: random.Random) -> list[bytes]:
    raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
        (FIXTURES / "reddit" / "RC_2005-12.zst").open("rb"), read_across_frames=True).read()
    base = [json.loads(line) for line in raw.splitlines() if line.strip()]
    texts = iter(planted_texts(rng, len(base) * copies))
    lines = []
    for copy in range(copies):
        for index, record in enumerate(base):
            record = dict(record, id=f"{record['id']}{copy}")
            text = next(texts)
            if index % 3 == 0:
                record["body"] = text
            lines.append(json.dumps(record).encode())
    return lines


def write_multiframe_zst(path: Path, data: bytes, frame_bytes: int) -> None:
    """Frames of ``frame_bytes`` of content each, cut wherever the count falls (mid-line)."""
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    with path.open("wb") as fh:
        for start in range(0, len(data), frame_bytes):
            fh.write(cctx.compress(data[start:start + frame_bytes]))


def planted_jsonl(rng: random.Random, count: int) -> bytes:
    lines = []
    texts = planted_texts(rng, count)
    texts[1] = "Sam Altman on the new model"  # matched: its later duplicate (below) is not stored
    for index, text in enumerate(texts):
        day = 1 + index % 28
        lines.append(json.dumps({"platform": "generic", "id": f"g{index}", "text": text,
                                 "created_at": f"2026-{1 + index % 3:02d}-{day:02d}T10:00:00Z",
                                 "author": f"user{index % 50}"}))
        if index == count // 2:
            lines.append("{not json")
    # The same id again, later in the file, with another text: the first one read wins.
    lines.append(json.dumps({"platform": "generic", "id": "g1", "text": "Elon Musk said something else entirely",
                             "created_at": "2026-01-02T10:00:00Z", "author": "user1"}))
    return ("\n".join(lines) + "\n").encode()


def build(folder: Path, reddit_copies: int = 2, jsonl_posts: int = 1500, frame_bytes: int = 96 << 10,
          seed: int = 7) -> Path:
    """Write the archive into ``folder`` (created) and return it."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_multiframe_zst(folder / "RC_multi.zst", b"\n".join(reddit_lines(reddit_copies, rng)) + b"\n", frame_bytes)
    (folder / "planted.jsonl").write_bytes(planted_jsonl(rng, jsonl_posts))
    for relative in WHOLE_FIXTURES:
        shutil.copy(FIXTURES / relative, folder / Path(relative).name)
    shutil.copytree(FIXTURES / "x" / "archive", folder / "x_archive")
    return folder

"""Splitting line-oriented archives into byte ranges that distributed tasks read on their own.

A range [start, end) of a file owns the lines that begin right after a newline inside it (and the
first line of the file when start is 0); its last line runs on past ``end`` to its newline. So every
line belongs to exactly one range, whatever the split points, and a range can be read without the
rest of the file. For a ``.zst`` file, ranges are whole zstd frames (``start`` and ``end`` are frame
offsets in the compressed file; the rule applies to the decompressed bytes): a single-frame file
(what ``zstd -T0`` writes, and the Pushshift dumps) is one task. gzip files and zip members are one
task each: their streams cannot be entered in the middle.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from monitor.sources.base import ArchiveInput

# Readers that read a JSON Lines file line by line (``iter_json_records``): their files can be split.
LINE_READERS = frozenset({"jsonl", "reddit_dump", "reddit_listing", "bluesky", "bluesky_jetstream", "hackernews",
                          "mastodon", "x_twarc"})
ZSTD_MAGIC = 0xFD2FB528
CHUNK = 1 << 20


def is_zstd(name: str) -> bool:
    return name.lower().endswith((".zst", ".zstd"))


def zstd_frame_offsets(path: str) -> list[int]:
    """The compressed offset of each frame, then the file size, found by walking frame and block
    headers (no decompression: a few reads per 128 KiB block)."""
    offsets: list[int] = []
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        pos = 0
        while pos < size:
            offsets.append(pos)
            pos = _frame_end(fh, pos)
    offsets.append(size)
    return offsets


def first_frame_within(path: str, limit: int) -> bool:
    """Whether a .zst file's first frame ends within ``limit`` compressed bytes (a file of several
    frames, as pzstd writes them), found without walking the rest: in a single-frame file (zstd -T0,
    the Pushshift dumps) ``zstd_frame_offsets`` reads a block header every 128 KiB of it, a long
    walk on a slow disk for a file that cannot be split anyway."""
    try:
        with open(path, "rb") as fh:
            return 0 < _frame_end(fh, 0, limit) < fh.seek(0, 2)
    except (ValueError, IndexError):  # not zstd after all: read whole, where its errors are reported
        return False


def _frame_end(fh: IO[bytes], pos: int, limit: int | None = None) -> int:
    """Where the frame at ``pos`` ends; -1 once it runs past ``limit`` bytes (when one is given)."""
    fh.seek(pos)
    magic = int.from_bytes(fh.read(4), "little")
    if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: its size follows the magic
        return pos + 8 + int.from_bytes(fh.read(4), "little")
    if magic != ZSTD_MAGIC:
        raise ValueError(f"not a zstd frame at offset {pos}")
    descriptor = fh.read(1)[0]
    single_segment = (descriptor >> 5) & 1
    content_size_bytes = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    header = 1 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size_bytes
    at = pos + 4 + header
    while True:
        fh.seek(at)
        header_bytes = fh.read(3)
        if len(header_bytes) < 3:  # the file ends inside the frame (cut short): the frame is the rest of it
            return fh.seek(0, 2)
        block = int.from_bytes(header_bytes, "little")
        block_type, block_size = (block >> 1) & 3, block >> 3
        at += 3 + (1 if block_type == 1 else block_size)  # an RLE block stores one byte
        if limit is not None and at - pos > limit:
            return -1
        if block & 1:  # the last block of the frame
            break
    return at + (4 if descriptor & 4 else 0)  # the content checksum


def split_ranges(path: str, split_bytes: int) -> list[tuple[int, int]]:
    """[start, end) ranges of about ``split_bytes`` (compressed bytes for .zst, at frame offsets)."""
    if is_zstd(path):
        bounds = zstd_frame_offsets(path)
    else:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
        bounds = [*range(0, size, max(1, split_bytes)), size]
    ranges: list[tuple[int, int]] = []
    start = bounds[0]
    for offset in bounds[1:]:
        if offset - start >= split_bytes or offset == bounds[-1]:
            ranges.append((start, offset))
            start = offset
    return [r for r in ranges if r[1] > r[0]] or [(0, bounds[-1])]


class _Window(io.RawIOBase):
    """Bytes [start, end) of a file (end None: to its end)."""

    def __init__(self, path: str, start: int, end: int | None):
        self._fh = open(path, "rb")
        self._fh.seek(start)
        self._left = None if end is None else end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer) if self._left is None else min(len(buffer), self._left)
        data = self._fh.read(want)
        buffer[:len(data)] = data
        if self._left is not None:
            self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _content(path: str, start: int, end: int | None) -> Iterator[bytes]:
    """The decompressed content of bytes [start, end) of a file, in chunks."""
    window: IO[bytes] = io.BufferedReader(_Window(path, start, end), CHUNK)
    if is_zstd(path):
        import zstandard

        window = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            window, read_across_frames=True, closefd=True)
    with window:
        while chunk := window.read(CHUNK):
            yield chunk


def owned_chunks(path: str, start: int, end: int) -> Iterator[bytes]:
    """The bytes of the lines a range owns: from after its first newline (from the start when
    ``start`` is 0), through the newline that ends the line running past ``end``."""
    started = start == 0
    for chunk in _content(path, start, end):
        if not started:
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            started, chunk = True, chunk[newline + 1:]
        if chunk:
            yield chunk
    if not started:
        return  # no newline in the range: every byte of it belongs to a line an earlier range owns
    for chunk in _content(path, end, None):
        newline = chunk.find(b"\n")
        if newline >= 0:
            yield chunk[:newline + 1]
            return
        yield chunk


def count_newlines(path: str, start: int, end: int) -> int:
    """Newlines in the (decompressed) bytes of a range: their running sum numbers each range's lines."""
    return sum(chunk.count(b"\n") for chunk in _content(path, start, end))


class _ChunksRaw(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@dataclass(frozen=True)
class RangeInput(ArchiveInput):
    """An input that reads only the lines a byte range owns; its name is the whole file's, so
    posts and bad records name the file (their line numbers are shifted by the task afterwards)."""

    start: int = 0
    end: int = 0

    def open(self) -> IO[bytes]:
        return io.BufferedReader(_ChunksRaw(owned_chunks(str(self.path), self.start, self.end)), CHUNK)


def splittable(source: ArchiveInput, reader: str, encoding: str) -> bool:
    """A plain or .zst JSON Lines file (its first line a whole JSON value) in a byte encoding."""
    if source.member is not None or reader not in LINE_READERS:
        return False
    if encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32")):
        return False
    name = source.path.name.lower()
    if not is_zstd(name) and name.endswith((".gz", ".zip", ".bz2", ".xz")):
        return False
    first = source.sample().split(b"\n", 1)[0]
    try:
        json.loads(first.decode(encoding, errors="replace"))
    except ValueError:
        return False  # a pretty-printed document: read whole
    return True


def line_offsets(counts: list[int]) -> list[int]:
    """Each range's line offset from the newline counts of the ranges before it (see RangeInput)."""
    offsets, before = [], 0
    for index, count in enumerate(counts):
        offsets.append(before + 1 if index else 0)
        before += count
    return offsets

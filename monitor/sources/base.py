"""Shared plumbing for archive readers: opening (compressed) files, reading lines and JSON
records with line numbers, and reporting bad records (the registry is in ``sources.api``).

A reader is a plain generator function ``read(archive_input) -> Iterator[Post | RecordError]``.
Bad records are *yielded* as ``RecordError`` (never raised) so one malformed line in a 10 GB
archive is reported and skipped while the rest is imported.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import json
import queue
import re
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from monitor import json_text
from monitor.models import Post

SNIFF_BYTES = 64 * 1024
# A reader whose description says this reads files that hold no posts on purpose (the X archive's
# account.js & co.): reading nothing from such a file is not a failed import.
NOTHING_TO_IMPORT = "nothing to import"
# Control bytes other than tab, newline, form feed, carriage return and escape: text has (almost) none.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


@dataclass(frozen=True)
class SkippedLines:
    """Lines a prefilter passed over without parsing them (they cannot mention a target): each
    non-blank one is a record without a target. Yielded by readers only when given a filter."""

    count: int


class LineFilter(Protocol):
    """Picks the lines of raw JSON Lines bytes worth parsing (monitor/analysis/prefilter.py)."""

    def candidate_lines(self, chunk: bytes) -> list[tuple[int, int]]:
        """(start, end) of each line to parse, in order; ``end`` is its b"\\n" or len(chunk)."""
        ...


@dataclass(frozen=True)
class RecordError:
    """A record that could not be turned into a Post: where it is and why."""

    file: str
    line: int | None
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        what = f" field '{self.field}':" if self.field else ""
        return f"{where}:{what} {self.reason}"


class FieldError(ValueError):
    """Raised by mapping functions for a missing or unusable field; becomes a RecordError."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ArchiveInput:
    """One readable input: a file on disk, or a member of a zip archive."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def basename(self) -> str:
        return Path(self.member).name if self.member else self.path.name

    def open(self) -> IO[bytes]:
        """Binary stream of the decompressed content."""
        if self.member is not None:
            raw: IO[bytes] = zip_archive(self.path).open(self.member)
            _reading(self.name, raw, zip_archive(self.path).getinfo(self.member).file_size)
            return _decompress(raw, self.member)
        raw = open(self.path, "rb")
        _reading(self.name, raw, self.path.stat().st_size)
        return _decompress(raw, str(self.path))

    def share_read(self) -> float | None:
        """How much of the input its latest ``open()`` has read, 0 to 1, in the bytes of the file (or
        of the zip member) as stored, compressed or not; 1 once that stream is closed or gone (its
        reader is done with it); None where nothing was opened or the size is unknown. For a
        progress bar: a reader is a generator of posts and says nothing of where it is."""
        with _READING_LOCK:
            ref, size = _READING.get(self.name, (None, 0))
        return None if ref is None else share_of(ref(), size)

    def sibling(self, name: str) -> ArchiveInput | None:
        """Another file in the same folder or zip folder (e.g. account.js next to tweets.js)."""
        if self.member is not None:
            parent = str(Path(self.member).parent)
            wanted = name if parent in ("", ".") else f"{parent}/{name}"
            return ArchiveInput(self.path, wanted) if wanted in zip_archive(self.path).NameToInfo else None
        candidate = self.path.parent / name
        return ArchiveInput(candidate) if candidate.exists() else None

    def sample(self, size: int = SNIFF_BYTES) -> bytes:
        chunks: list[bytes] = []
        got = 0
        with self.open() as fh:
            try:
                while got < size:
                    chunk = fh.read(min(8192, size - got))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
            except Exception:  # a truncated stream is still sniffed from what could be read
                pass
        return b"".join(chunks)


# The stream the latest open() of each of the last few inputs reads from, and the size it has
# (ArchiveInput.share_read). Weak references: the stream goes with the reader that holds it.
_READING: dict[str, tuple[weakref.ref[IO[bytes]], int]] = {}
_READING_KEPT = 16
_READING_LOCK = threading.Lock()  # the daemon's jobs import in threads of their own


def _reading(name: str, raw: IO[bytes], size: int) -> None:
    with _READING_LOCK:
        _READING.pop(name, None)
        _READING[name] = (weakref.ref(raw), size)
        while len(_READING) > _READING_KEPT:  # a daemon's inbox reads files for months
            del _READING[next(iter(_READING))]


def share_of(stream: IO[bytes] | None, size: int) -> float | None:
    """How much of a binary stream of ``size`` bytes was read, 0 to 1 (its position: a text stream
    being iterated cannot tell its own, its buffer can); 1 once it is closed or gone; None where the
    size is unknown or the stream cannot tell."""
    if size <= 0:
        return None
    if stream is None or stream.closed:
        return 1.0
    try:
        return min(1.0, stream.tell() / size)
    except (OSError, ValueError):
        return None


def zip_archive(path: Path) -> zipfile.ZipFile:
    """The zip archive at ``path``, opened once for all its members: opening one reads its whole directory
    (7 ms for 1,000 members), and each member is opened three times (two samples, then the read), so a
    .zip of 5,000 small files took 222 s. A changed file (time or size) is opened again."""
    stat = path.stat()
    return _opened_zip(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _opened_zip(path: str, mtime_ns: int, size: int) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)  # members are read under its lock: safe from several threads


def _decompress(raw: IO[bytes], name: str) -> IO[bytes]:
    lower = name.lower()
    if lower.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if lower.endswith(".zst") or lower.endswith(".zstd"):
        return io.BufferedReader(_ZstdRaw(raw), buffer_size=1 << 20)
    return raw


class _ZstdRaw(io.RawIOBase):
    """Streaming zstd decompression that notices a truncated file (zstandard's stream_reader just
    stops at the end of the input, silently)."""

    def __init__(self, raw: IO[bytes]):
        import zstandard

        # Pushshift dumps declare a 2 GiB window; the default limit refuses them.
        self._dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
        self._raw = raw
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._offset = 0
        self._in_frame = False
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._pending) and not self._done:
            chunk = self._raw.read(1 << 18)
            if not chunk:
                self._done = True
                if self._in_frame:
                    raise EOFError("compressed stream is truncated (the last zstd frame is incomplete)")
                break
            out: list[bytes] = []
            while chunk:
                self._in_frame = True
                out.append(self._obj.decompress(chunk))
                if self._obj.eof:  # frame finished; anything left starts a new frame
                    chunk = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()
                    self._in_frame = False
                else:
                    chunk = b""
            self._pending, self._offset = b"".join(out), 0
        # Handed out from an offset: slicing off what was read copied the rest each time (1.7 s
        # of CPU for 1.2 GB instead of 0.5).
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = memoryview(self._pending)[self._offset:self._offset + n]
        self._offset += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def expand_inputs(path: Path) -> Iterator[ArchiveInput]:
    """Files under a path; zip archives expand to their members (an X archive zip stays whole)."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.name.startswith(".") or (child.suffix.lower() in (".md", ".txt") and "README" in child.name):
                continue
            yield from expand_inputs(child)
        return
    if path.suffix.lower() == ".zip":
        try:  # the archive its members are then read from: its directory is read once
            names = [n for n in zip_archive(path).namelist() if not n.endswith("/")]
        except (zipfile.BadZipFile, OSError):  # damaged or cut short: the importer reports it, the rest goes on
            yield ArchiveInput(path)
            return
        for member in sorted(names):
            if Path(member).name.startswith(".") or Path(member).name.lower().startswith("readme"):
                continue
            yield ArchiveInput(path, member)
        return
    yield ArchiveInput(path)


NOT_TEXT = "not a text file"  # how not_text_reason's answer starts


def not_text_reason(sample: bytes, encoding: str = "utf-8") -> str | None:
    """Why the start of a (decompressed) input is not text, or None when it may be: NUL bytes (unless
    the encoding is UTF-16/32, where they are normal) or many control bytes mean an executable, an
    image or a database, whose "records" would be noise."""
    if not sample:
        return None
    wide = _is_wide(encoding) or sample.startswith((b"\xff\xfe", b"\xfe\xff"))
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if (b"\x00" in sample and not wide) or (not wide and controls > len(sample) // 20):
        return (f"{NOT_TEXT} (binary content such as a program, image or database); expected JSON Lines, "
                "CSV, XML or a platform's JSON archive")
    return None


# --- reading ----------------------------------------------------------------------------


def iter_lines(source: ArchiveInput, encoding: str = "utf-8", keep_blank: bool = False) -> Iterator[
    tuple[int, str] | RecordError
]:
    """(line number, text) for each line (blank ones only with ``keep_blank``); undecodable lines
    and a broken stream are yielded as RecordError. Reads in constant memory."""
    if _is_wide(encoding):
        yield from _iter_wide_lines(source, encoding, keep_blank)
        return
    lineno = 0
    try:
        with source.open() as fh:
            for raw_line in fh:
                lineno += 1
                try:
                    text = raw_line.decode(encoding)
                except UnicodeDecodeError as exc:
                    yield _undecodable(source, lineno, raw_line, exc, encoding)
                    continue
                if lineno == 1 and text.startswith("\ufeff"):  # a byte order mark (Windows tools write one)
                    text = text[1:]
                if keep_blank or text.strip():
                    yield lineno, text
    except Exception as exc:
        if not _is_stream_error(exc):
            raise
        yield _stream_ended(source, lineno + 1, exc)


CHUNK_BYTES = 4 << 20  # a prefilter's unit: big enough for C speed, small enough for memory
# A line that may be blank (empty, or starting with whitespace or a non-ASCII byte): checked one by one.
_MAYBE_BLANK = re.compile(rb"\n(?=[\t-\r \x1c-\x1f\x80-\xff])")
_MAYBE_BLANK_FIRST = frozenset(b"\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f") | frozenset(range(0x80, 0x100))


def iter_candidate_lines(source: ArchiveInput, line_filter: LineFilter) -> Iterator[
    tuple[int, str] | RecordError | SkippedLines
]:
    """``iter_lines`` (UTF-8) with a prefilter: the raw bytes are read a few MiB at a time, the
    filter picks the lines worth parsing, and only those are decoded and yielded, with their line
    numbers; the other non-blank lines are counted (``SkippedLines``), not decoded. A thread
    decompresses the next block while this one is filtered (zstd and the C scan let go of the
    GIL: two cores); at most two blocks wait, so memory stays bounded."""
    lineno = 0  # lines before the next block
    blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    reader = threading.Thread(target=_read_blocks, args=(source, blocks, stop), name="prefilter-read", daemon=True)
    reader.start()
    try:
        while (block := blocks.get()) is not None:
            if isinstance(block, BaseException):
                if not isinstance(block, Exception) or not _is_stream_error(block):
                    raise block
                yield _stream_ended(source, lineno + 1, block)
                break
            lineno = yield from _filtered_block(source, block, lineno, line_filter)
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting for room, then let it see ``stop``
            try:
                blocks.get_nowait()
            except queue.Empty:
                reader.join(0.05)


def _read_blocks(source: ArchiveInput, blocks: queue.Queue[bytes | BaseException | None],
                 stop: threading.Event) -> None:
    """Blocks of whole lines (~CHUNK_BYTES; the last may lack its b"\\n") into ``blocks``, then
    None; a read error after the complete lines read before it, as iter_lines does."""
    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                blocks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    carry = b""
    parts: list[bytes] = []
    size = 0
    try:
        with source.open() as fh:
            read = getattr(fh, "read1", fh.read)  # what has been decompressed, even if the rest is corrupt
            while data := read(1 << 20):
                parts.append(data)
                size += len(data)
                if size < CHUNK_BYTES:
                    continue
                block = carry + b"".join(parts)
                parts, size = [], 0
                cut = block.rfind(b"\n") + 1
                carry = block[cut:]
                if not put(block[:cut]):
                    return
        put(carry + b"".join(parts))
        put(None)
    except BaseException as exc:  # handed to the consumer, which reports or raises it
        block = carry + b"".join(parts)
        if put(block[:block.rfind(b"\n") + 1]):
            put(exc)


def _stream_ended(source: ArchiveInput, line: int, exc: BaseException) -> RecordError:
    return RecordError(source.name, line, f"stream ended early (truncated or corrupt file): {exc}")


def _is_stream_error(exc: Exception) -> bool:
    """A broken input (truncated or corrupt compressed data, a bad zip member), not a bug: zstandard's
    errors included."""
    return isinstance(exc, (OSError, EOFError, zipfile.BadZipFile, ValueError)) or \
        type(exc).__module__.startswith("zstandard") or "zstd" in type(exc).__name__.lower()


def _filtered_block(source: ArchiveInput, block: bytes, lineno: int, line_filter: LineFilter) -> Generator[
    tuple[int, str] | RecordError | SkippedLines, None, int
]:
    """The candidate lines of a block of whole lines (the first is line ``lineno + 1``), decoded,
    then one SkippedLines for the block's other non-blank lines. Returns the number of the block's
    last complete line (each byte is counted once: newline counting is a pass over the block)."""
    if not block:
        return lineno
    first = lineno
    blank = len(_blank_line_offsets(block))
    parsed = 0
    done = 0  # offset of the first line not yet counted
    for start, end in line_filter.candidate_lines(block):
        lineno += block.count(b"\n", done, start) + 1
        done = end + 1
        raw_line = block[start:done]
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            parsed += 1
            yield _undecodable(source, lineno, raw_line, exc, "utf-8")
            continue
        if text.strip():  # a blank one (a filter is only a protocol) is among ``blank`` already
            parsed += 1
            yield lineno, text
    if done < len(block):  # the lines after the last candidate (a last one without its b"\n" too)
        lineno += block.count(b"\n", done) + (not block.endswith(b"\n"))
    skipped = lineno - first - parsed - blank
    if skipped:
        yield SkippedLines(skipped)
    return lineno


def _blank_line_offsets(block: bytes) -> list[int]:
    """Start offsets of the blank lines (empty or whitespace once decoded) of a block: none in the
    common case, found in one C-speed search; else each suspect line is decoded and stripped."""
    if block[:1] and block[0] not in _MAYBE_BLANK_FIRST and not _MAYBE_BLANK.search(block):
        return []
    starts = [0] + [m.end() for m in _MAYBE_BLANK.finditer(block)]
    blank = []
    for start in starts:
        end = block.find(b"\n", start)
        line = block[start:len(block) if end < 0 else end]
        if start < len(block) and not line.decode("utf-8", "replace").strip():
            blank.append(start)
    return blank


def _undecodable(source: ArchiveInput, lineno: int, raw_line: bytes, exc: UnicodeDecodeError,
                 encoding: str) -> RecordError:
    return RecordError(source.name, lineno,
                       f"not valid {encoding} (byte 0x{raw_line[exc.start]:02x} at column {exc.start + 1}); "
                       "line skipped. If the whole file uses another encoding, pass --encoding "
                       "(e.g. --encoding cp1252)")


def _is_wide(encoding: str) -> bool:
    """UTF-16/32: a line is not a run of bytes ending in 0x0a, so lines are decoded as a stream."""
    return encoding.lower().replace("_", "-").replace("-", "").startswith(("utf16", "utf32"))


def _iter_wide_lines(source: ArchiveInput, encoding: str, keep_blank: bool) -> Iterator[tuple[int, str] | RecordError]:
    lineno = 0
    try:
        with source.open() as fh, io.TextIOWrapper(fh, encoding=encoding, newline="") as text:
            for line in text:
                lineno += 1
                if keep_blank or line.strip():
                    yield lineno, line
    except UnicodeDecodeError as exc:
        yield RecordError(source.name, lineno + 1, f"not valid {encoding} ({exc.reason}); the rest of the file "
                                                   "skipped. Pass the file's encoding with --encoding")
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        yield _stream_ended(source, lineno + 1, exc)


def iter_json_records(source: ArchiveInput, line_filter: LineFilter | None = None, encoding: str | None = None
                      ) -> Iterator[tuple[int, Any] | RecordError | SkippedLines]:
    """JSON values with their line numbers, from JSON Lines or from a single JSON document
    (a pretty-printed API response), in ``encoding`` (default UTF-8). A whole-document file counts
    as line 1. With ``line_filter`` (JSON Lines whose first line is a whole JSON value, in UTF-8:
    the filter looks for UTF-8 bytes), only the lines it picks are parsed."""
    encoding = encoding or "utf-8"
    if line_filter is not None and _first_line_is_json(source):
        yield from _json_lines(source, iter_candidate_lines(source, line_filter))
        return
    lines = iter_lines(source, encoding)
    first: tuple[int, str] | RecordError | None = next(lines, None)
    if first is None:
        return
    if isinstance(first, RecordError):
        yield first
        yield from _json_lines(source, lines)
        return
    lineno, text = first
    try:
        value = json_text.loads(text)
    except json.JSONDecodeError:
        # Not JSON Lines: maybe one pretty-printed document.
        if text.lstrip()[:1] in ("{", "["):
            doc = _whole_document(source, encoding)
            if doc is not None:
                yield doc
                return
        yield RecordError(source.name, lineno, "not valid JSON; line skipped")
        yield from _json_lines(source, lines)
        return
    yield lineno, value
    yield from _json_lines(source, lines)


def _first_line_is_json(source: ArchiveInput) -> bool:
    """Whether the input starts with a whole JSON value on one line (JSON Lines, not a document)."""
    sample = source.sample()
    for raw_line in sample.split(b"\n")[:-1]:  # the last piece may be cut short
        if raw_line.strip():
            try:
                json.loads(raw_line)
            except ValueError:
                return False
            return True
    return False


def _json_lines(source: ArchiveInput, lines: Iterator[tuple[int, str] | RecordError | SkippedLines]) -> Iterator[
    tuple[int, Any] | RecordError | SkippedLines
]:
    for item in lines:
        if isinstance(item, (RecordError, SkippedLines)):
            yield item
            continue
        lineno, text = item
        try:
            yield lineno, json_text.loads(text)
        except json.JSONDecodeError as exc:
            yield RecordError(source.name, lineno, f"not valid JSON ({exc.msg} at column {exc.colno}); line skipped")


def _whole_document(source: ArchiveInput, encoding: str) -> tuple[int, Any] | RecordError | None:
    try:
        with source.open() as fh:
            data = fh.read()
        return 1, json_text.loads(data.decode(encoding).lstrip("\ufeff"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    except Exception as exc:
        return RecordError(source.name, 1, f"could not read file: {exc}")


# --- JSON arrays, read a chunk at a time ------------------------------------------------------

TEXT_CHUNK = 1 << 20  # bytes read at a time
JSON_ITEM_LIMIT = 64 << 20  # an element still not whole after this many characters: a broken file


def iter_json_array(source: ArchiveInput, encoding: str = "utf-8",
                    start: Callable[[TextWindow], int | RecordError] | None = None, where: str = "at the start"
                    ) -> Iterator[tuple[int, Any] | RecordError]:
    """(line, element) for each element of a file that is one JSON array (after what ``start`` skips:
    it returns where the array starts, or a RecordError), read a chunk at a time: memory stays
    small on any file size."""
    try:
        fh = source.open()
    except (OSError, EOFError, ValueError) as exc:
        yield RecordError(source.name, None, f"could not read file: {exc}")
        return
    with fh:
        window = TextWindow(fh, "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding)
        try:
            pos = start(window) if start is not None else 0
            if isinstance(pos, RecordError):
                yield RecordError(source.name, pos.line, pos.reason)
                return
            yield from json_array_items(source.name, window, pos, where)
        except UnicodeDecodeError as exc:
            yield RecordError(source.name, window.line_at(window.counted_pos),
                              f"not valid {encoding} ({exc.reason}); rest of the file skipped")
        except (OSError, EOFError) as exc:
            yield RecordError(source.name, None, f"could not read file: {exc}")


def json_array_items(name: str, window: TextWindow, pos: int, where: str = "at the start"
                     ) -> Iterator[tuple[int, Any] | RecordError]:
    """(line, element) for each element of the JSON array at ``pos`` of the window's text (after
    whitespace), decoded one at a time; a broken element ends the array with a RecordError."""
    pos = window.skip_ws(pos)
    if window.text[pos:pos + 1] != "[":
        yield RecordError(name, window.line_at(pos), f"expected '[' {where}")
        return
    pos = window.skip_ws(pos + 1)
    decoder = json.JSONDecoder()
    while pos < len(window.text) and window.text[pos] != "]":
        line = window.line_at(pos)
        try:
            value, pos = window.decode(decoder, pos)
        except json.JSONDecodeError as exc:
            yield RecordError(name, window.line_at(exc.pos), f"not valid JSON ({exc.msg}); rest of the file skipped")
            return
        yield line, value
        pos = window.skip_ws(pos)
        if window.text[pos:pos + 1] == ",":
            pos = window.skip_ws(pos + 1)
        elif window.text[pos:pos + 1] != "]":
            yield RecordError(name, window.line_at(pos), "expected ',' or ']'; rest of the file skipped")
            return
        pos = window.compact(pos)


class TextWindow:
    """The decoded text of a file, read a chunk at a time, without the part already parsed; and the
    line of any position in it, counted once (``line_at`` is asked of positions in order)."""

    def __init__(self, fh: IO[bytes], encoding: str = "utf-8-sig") -> None:
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.text = ""
        self.eof = False
        self.counted_pos, self.counted_line = 0, 1  # the line text[counted_pos] is on

    def more(self, size: int | None = None) -> bool:
        """Read more of the file (TEXT_CHUNK bytes, or ``size``); False at its end."""
        if self.eof:
            return False
        raw = self.fh.read(size or TEXT_CHUNK)
        self.eof = not raw
        self.text += self.decoder.decode(raw, final=self.eof)
        return not self.eof

    def fill(self, size: int) -> None:
        while len(self.text) < size and self.more():
            pass

    def skip_ws(self, pos: int) -> int:
        while True:
            while pos < len(self.text) and self.text[pos] in " \t\r\n":
                pos += 1
            if pos < len(self.text) or not self.more():
                return pos

    def line_at(self, pos: int) -> int:
        self.counted_line += self.text.count("\n", self.counted_pos, pos)
        self.counted_pos = pos
        return self.counted_line

    def decode(self, decoder: json.JSONDecoder, pos: int) -> tuple[Any, int]:
        """The JSON value at pos and where it ends, reading more while it is cut short."""
        while True:
            try:
                value, end = json_text.raw_decode(decoder, self.text, pos)
                if end < len(self.text) or self.eof:  # a number at the very end may go on in the next chunk
                    return value, end
            except json.JSONDecodeError:
                if self.eof or len(self.text) - pos > JSON_ITEM_LIMIT:
                    raise
            self.more(max(TEXT_CHUNK, len(self.text) - pos))  # doubles what an element may span

    def compact(self, pos: int) -> int:
        """Drop the text before pos once it is long; returns pos in the text kept."""
        if pos < TEXT_CHUNK:
            return pos
        self.line_at(pos)
        self.text, self.counted_pos = self.text[pos:], 0
        return 0


# --- small helpers shared by the mapping functions ---------------------------------------------


# A post dated further ahead of this machine's clock than this is a bad record (a wrong unit or zone,
# a placeholder date): stored, it stretched every "since all" window and trend to its year.
FUTURE_TOLERANCE_SECONDS = 86_400


def parse_time(value: Any, field: str = "created_at") -> datetime:
    """Epoch seconds (int, float or numeric string), ISO 8601, or RFC 822/Twitter style -> UTC.
    A time more than a day ahead of now, or the Unix epoch itself (a placeholder 0), is refused
    (FieldError)."""
    parsed = _parse_time(value, field)
    stamp = parsed.timestamp()
    if stamp == 0:
        raise FieldError(field, "1970-01-01 00:00 UTC, the Unix epoch itself: a missing time written as 0?")
    if stamp > time.time() + FUTURE_TOLERANCE_SECONDS:
        raise FieldError(field, f"{parsed:%Y-%m-%d %H:%M} UTC is in the future (this machine's clock says "
                                f"{datetime.now(UTC):%Y-%m-%d %H:%M}): a wrong time zone or unit?")
    return parsed


def _parse_time(value: Any, field: str) -> datetime:
    if value is None or value == "":
        raise FieldError(field, "missing")
    if isinstance(value, datetime):  # a typed column (Parquet): naive is UTC
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value[:1].isdigit() and len(value) >= 10 and value[4:5] == "-":
        try:  # the common case first: ISO 8601
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except ValueError:
            pass
    if isinstance(value, (int, float)) or (isinstance(value, str) and _is_number(value)):
        number = float(value)
        if number > 1e14:  # microseconds (Jetstream time_us)
            number /= 1e6
        elif number > 1e11:  # milliseconds
            number /= 1e3
        try:
            return datetime.fromtimestamp(number, UTC)
        except (ValueError, OverflowError, OSError) as exc:  # beyond year 9999, or nan/inf
            raise FieldError(field, f"epoch time {str(value)[:30]} is out of range ({exc})") from exc
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None:
            from email.utils import parsedate_to_datetime

            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                parsed = None
        if parsed is None:
            for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is not None:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise FieldError(field, f"not a recognisable time: {str(value)[:60]!r}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf", "1e999"
        return None


def require(record: dict[str, Any], key: str) -> Any:
    if not isinstance(record, dict):
        raise FieldError(key, f"expected a JSON object, got {type(record).__name__}")
    value = record.get(key)
    if value is None or value == "":
        raise FieldError(key, "missing")
    return value


# A longer "post" is a document or a dump in one field: the learned analyzer reads every sentence (~27 us a
# character: a 100 MB one stalled an import for 45 minutes), and no summary line can show it.
MAX_TEXT_CHARS = 1_000_000


def records_with_errors(
    source: ArchiveInput,
    records: Iterator[tuple[int, Any] | RecordError | SkippedLines],
    mapper: Callable[[Any, int], Iterator[Post]],
) -> Iterator[Post | RecordError | SkippedLines]:
    """Run a mapping over records, turning FieldError/KeyError/TypeError into RecordError."""
    for item in records:
        if isinstance(item, (RecordError, SkippedLines)):
            yield item
            continue
        lineno, record = item
        try:
            for post in mapper(record, lineno):
                if len(post.text) > MAX_TEXT_CHARS:
                    yield RecordError(source.name, lineno, f"a text of {len(post.text):,} characters is not a post "
                                                           f"(at most {MAX_TEXT_CHARS:,}): a file or a dump in one "
                                                           "field?", "text")
                else:
                    yield post
        except FieldError as exc:
            yield RecordError(source.name, lineno, exc.reason, exc.field)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            yield RecordError(source.name, lineno, f"unexpected record shape: {type(exc).__name__}: {exc}")


def explode_records(
    source: ArchiveInput,
    records: Iterable[tuple[int, Any] | RecordError | SkippedLines],
    explode: Callable[[Any], Iterable[Any]],
) -> Iterator[tuple[int, Any] | RecordError | SkippedLines]:
    """Split each record (an API response page) into its items, all keeping the page's line
    number, so ``records_with_errors`` maps and reports each item on its own. ``explode`` raises
    FieldError for a record of the wrong shape."""
    for item in records:
        if isinstance(item, (RecordError, SkippedLines)):
            yield item
            continue
        lineno, record = item
        try:
            for thing in explode(record):
                yield lineno, thing
        except FieldError as exc:
            yield RecordError(source.name, lineno, exc.reason, exc.field)



def parse_field_map(items: Iterable[str]) -> dict[str, str]:
    """``--map FIELD=COLUMN`` options as {field: column}; ValueError names a malformed one."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--map expects FIELD=COLUMN (e.g. --map text=body), got '{item}'")
        field, column = item.split("=", 1)
        out[field.strip()] = column.strip()
    return out


def opt_str(value: Any) -> str | None:
    """None for missing or empty values, else the value as a string."""
    return None if value is None or value == "" else str(value)


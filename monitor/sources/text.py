"""Plain text from the HTML that platforms send (Mastodon statuses, Hacker News comments, feeds)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Tags that end a paragraph (blank line) or a line; everything else is inline.
_PARAGRAPH_TAGS = frozenset({"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"})
_LINE_TAGS = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer"})
_SKIP_TAGS = frozenset({"script", "style"})
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, turning block boundaries into newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending_newlines = 0  # line breaks owed before the next visible text
        self.in_pre = 0
        self.in_skip = 0

    def _owe(self, count: int, cumulative: bool = False) -> None:
        owed = self.pending_newlines + count if cumulative else max(self.pending_newlines, count)
        self.pending_newlines = min(owed, 2)  # never more than one blank line

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._owe(1, cumulative=True)  # <br><br> is a blank line
        elif tag in _PARAGRAPH_TAGS:
            self._owe(2)
        elif tag in _LINE_TAGS:
            self._owe(1)
        if tag == "pre":
            self.in_pre += 1
        elif tag in _SKIP_TAGS:
            self.in_skip += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/>: no end tag follows

    def handle_endtag(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self._owe(2)
        elif tag in _LINE_TAGS:
            self._owe(1)
        if tag == "pre" and self.in_pre:
            self.in_pre -= 1
        elif tag in _SKIP_TAGS and self.in_skip:
            self.in_skip -= 1

    def handle_data(self, data: str) -> None:
        if self.in_skip:
            return
        if not self.in_pre:
            data = _SPACES.sub(" ", data)
        at_line_start = not self.parts or self.pending_newlines > 0 or self.parts[-1].endswith((" ", "\n"))
        if at_line_start and not self.in_pre:
            data = data.lstrip(" ")
        if not data:
            return
        if self.pending_newlines and self.parts:
            self.parts[-1] = self.parts[-1].rstrip(" ")
            self.parts.append("\n" * self.pending_newlines)
        self.pending_newlines = 0
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, tags dropped, paragraphs kept as blank
    lines and ``<br>`` as line breaks. Whitespace inside ``<pre>`` is preserved."""
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = "".join(parser.parts).split("\n")
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip()

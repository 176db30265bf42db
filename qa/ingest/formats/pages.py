"""A laid-out page as text: rows for segmentation, and the boxes of its lines.

A PDF or a scan has no text file, so its text is made here: every line of every page, in
reading order (the page header first), one line of text each. Line numbers and character
offsets of rows, paragraphs and citations refer to this text, and each line number to a box
on its page.
"""

from __future__ import annotations

from typing import NamedTuple

from qa.ingest.decode import Row
from qa.ingest.formats.header import read_fields
from qa.ingest.formats.layout import Element, Layout, Line, element_text
from qa.ingest.segment import Meta
from qa.text import clean_text
from qa.types import LineBox, PageInfo


class Page(NamedTuple):
    """One page of a paper: its header's metadata, rows for `segment`, its lines' boxes."""

    meta: Meta
    rows: list[Row]
    lines: list[LineBox]  # every line of the page, header included, by line number
    info: PageInfo | None  # None for a web page: no page image
    body_lines: frozenset[int]  # line numbers of paragraph text (not headlines, not header)
    byline: str | None = None  # the author a web page names


class Document(NamedTuple):
    """A file read by layout: its pages, and its text (what line numbers refer to)."""

    pages: list[Page]
    text: str  # every line of every page, one line each
    kind: str  # how it was read: "pdf", "pdf+ocr", "ocr", "html"


class Text:
    """The running text of a file: lines appended one by one, with their numbers and offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> tuple[int, int, int]:
        """Append a line; its (line number, start, end)."""
        if self.parts:
            self.size += 1  # the newline before it
        start = self.size
        self.parts.append(text)
        self.size += len(text)
        return len(self.parts), start, self.size

    def value(self) -> str:
        return "\n".join(self.parts)


def build_page(layout: Layout, info: PageInfo, text: Text) -> Page:
    """Number the page's lines into `text` and turn its elements into rows."""
    layout = _cleaned(layout)
    lines: list[LineBox] = []
    body: set[int] = set()

    def number(line: Line) -> tuple[int, int, int]:
        at = text.add(line.text)
        lines.append(_box(line, at[0], info))
        return at

    for line in layout.header:
        number(line)
    rows: list[Row] = []
    for element in layout.elements:
        if rows:
            rows.append(Row("", len(text.parts) + 1, text.size, text.size))
        rows += _rows(element, number, body)
    meta = read_fields([line.text for line in layout.header], [line.size for line in layout.header],
                       read_by_ocr=any(line.confidence is not None for line in layout.header))
    return Page(meta, rows, lines, info._replace(label=meta.page), frozenset(body))


def _cleaned(layout: Layout) -> Layout:
    """Text as it may enter the library (qa.text.clean: one for one, so edges stay true)."""
    def clean(line: Line) -> Line:
        return line._replace(text=clean_text(line.text))

    return layout._replace(header=tuple(map(clean, layout.header)), elements=tuple(
        e._replace(lines=tuple(map(clean, e.lines))) for e in layout.elements))


def _rows(element: Element, number, body: set[int]) -> list[Row]:
    if element.kind == "head":
        spans = [number(line) for line in element.lines]
        return [Row(element_text(element), spans[0][0], spans[0][1], spans[-1][2], element.level)]
    rows = []
    for line in element.lines:
        no, start, end = number(line)
        body.add(no)
        rows.append(Row(line.text, no, start, end))
    return rows


def _box(line: Line, no: int, info: PageInfo) -> LineBox:
    w, h = info.width or 1.0, info.height or 1.0
    return LineBox(no, info.number, line.x0 / w, line.y0 / h, line.x1 / w, line.y1 / h, line.text,
                   line.confidence, tuple(x / w for x in line.edges))

"""Saved web pages: the article body and its metadata, through trafilatura, never the page chrome.

trafilatura keeps the main text (navigation, sidebars, footers, comments and share buttons
are dropped) and finds the title, the date (from the page's metadata or text) and the site's
name, which stands for the newspaper. Each paragraph is located in the decoded HTML, so its
line number and offsets point at the source (approximately where markup sits inside it).
"""

from __future__ import annotations

import re

from qa.errors import ReadError
from qa.ingest.decode import Row, decode
from qa.ingest.formats.pages import Document, Page
from qa.ingest.segment import Meta
from qa.text import HAN, clean_text

BLOCKS = {"p": 0, "head": 3, "quote": 0, "item": 0, "row": 0, "code": 0}  # tag -> heading level


def read_html(data: bytes) -> Document:
    """The article of a saved web page (its file's bytes) as one Document page (no page image)."""
    source = clean_text(decode(data)[0])
    page = html_page(source)
    if not any(row.text for row in page.rows):
        raise ReadError("no article text found in the web page (only navigation or markup)")
    return Document([page], source, "html")


def html_page(source: str) -> Page:
    """Title, paragraphs and metadata of the article in the HTML text `source`."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(source, with_metadata=True, include_comments=False,
                                          include_tables=True)
    except (ValueError, TypeError) as exc:  # markup lxml cannot parse at all
        raise ReadError(f"not a readable web page ({exc})") from exc
    if doc is None or doc.body is None:
        raise ReadError("no article text found in the web page")
    finder = _Finder(source)
    title = " ".join((doc.title or "").split())
    rows: list[Row] = [finder.row(title, 1)] if title else []
    info: dict[str, str] = {}
    for n, element in enumerate(doc.body.iter(*BLOCKS)):
        if any(parent.tag in BLOCKS for parent in element.iterancestors()):
            continue  # its text is in the block around it
        text = " ".join("".join(element.itertext()).split())
        if not text or text == title:
            continue
        if n < 4 and (found := _info_line(text)):  # 来源：… 作者：… under the headline
            info = {**found, **info}
            continue
        if rows:
            rows.append(Row("", rows[-1].line, rows[-1].end, rows[-1].end))
        rows.append(finder.row(text, BLOCKS[element.tag]))
    info = {**_info_near_title(source, title), **info}
    paper = info.get("source") or (doc.sitename or "").strip() or None
    meta = Meta(newspaper=paper, date=_iso(doc.date) or _iso(info.get("date")))
    return Page(meta, rows, [], None, frozenset(), info.get("author") or (doc.author or "").strip() or None)


_FIELD = re.compile(r"(来源|稿源|来自|作者|记者|文|编辑|责任编辑|发布时间|时间|日期)\s*[:：]")
_NAMES = re.compile(rf"[{HAN}·]{{2,4}}(?:[ 、，,][{HAN}·]{{2,4}}){{0,3}}")
_DATE = re.compile(r"(?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}")


def _info_near_title(source: str, title: str) -> dict[str, str]:
    """来源 and 作者 printed in the blocks under the headline, which extractors drop with the
    page chrome."""
    import lxml.html

    if not title:
        return {}
    try:
        root = lxml.html.fromstring(source)
    except (ValueError, lxml.etree.ParserError):
        return {}
    for head in root.iter("h1", "h2", "h3", "div", "p"):
        if " ".join(head.text_content().split()) != title:
            continue
        for n, block in enumerate(head.itersiblings()):
            if n >= 3:
                break
            if found := _info_line(" ".join(block.text_content().split())):
                return found
    return {}


def _info_line(text: str) -> dict[str, str] | None:
    """Source, author and date from a short line of article metadata, or None for text."""
    if not text or len(text) > 80 or "。" in text:
        return None
    parts = _FIELD.split(text)
    found: dict[str, str] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        value = value.strip(" |｜/")
        if key in ("来源", "稿源", "来自") and value:
            found.setdefault("source", value.split()[0])
        elif key in ("作者", "记者", "文") and (names := _NAMES.match(value)):
            found.setdefault("author", names.group(0))
    if (date := _DATE.search(text)) and found:
        found["date"] = date.group(0)
    return found or None


def _iso(value: str | None) -> str | None:
    """yyyy-mm-dd from trafilatura's date or a date written in the page."""
    if not value:
        return None
    parts = re.findall(r"\d+", value)[:3]
    return f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}" if len(parts) == 3 else None


class _Finder:
    """Where pieces of extracted text start in the HTML, searched forward from the last one."""

    def __init__(self, source: str):
        self.source = source
        self.pos = 0

    def row(self, text: str, level: int) -> Row:
        probe = text[:6]
        at = self.source.find(probe, self.pos) if probe else -1
        if at < 0:
            at = self.pos
        else:
            self.pos = at + len(probe)
        line = self.source.count("\n", 0, at) + 1
        return Row(text, line, at, min(len(self.source), at + len(text)), level)

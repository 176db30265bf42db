"""Ingest archive files into articles and paragraphs: read, segment, repair, attach metadata.

Each format's reader (qa.ingest.registry names them) turns one file into articles; metadata
comes from qa.ingest.catalog and the page. One bad file gives a FileResult with `error`, never
an exception.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path

from qa.errors import QAError, ReadError
from qa.files import Found, source_name, walk
from qa.ingest.catalog import CATALOG, merge_meta, parse_date, sidecar
from qa.ingest.decode import (
    Record,
    Row,
    looks_like_markdown,
    markdown_rows,
    read_file,
    records,
    text_rows,
)
from qa.ingest.formats.pages import Document
from qa.ingest.normalize import fix_spaces_mapped, seam, split_long
from qa.ingest.registry import format_of, readable
from qa.ingest.segment import Meta, Story, segment
from qa.settings import Settings
from qa.types import Article, LineBox, PageInfo, Paragraph

MIN_PARAGRAPH_CHARS = 8  # letters and digits; shorter fragments are merged into a neighbour


@dataclass
class FileResult:
    source: str
    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    encoding: str | None = None  # or how a PDF, scan or web page was read (pdf, ocr, html)
    pages: list[PageInfo] = field(default_factory=list)  # pages of a PDF or scan
    lines: list[LineBox] = field(default_factory=list)  # their printed lines, by line number


def _wanted(name: str) -> bool:
    return readable(name) and name != CATALOG


def iter_files(paths: Iterable[Path], follow_links: bool = False) -> Iterator[Found]:
    """Files to ingest under `paths`, folders walked recursively in sorted order, with source
    names; those that must not be read carry the reason (see qa.files.walk)."""
    return walk(paths, _wanted, follow_links)


def ingest_paths(paths: Iterable[Path], settings: Settings | None = None) -> Iterator[FileResult]:
    """One FileResult per file under `paths`, streamed in a deterministic order."""
    settings = settings or Settings()
    for path, source, skip in iter_files(paths, settings.follow_links):
        yield FileResult(source, error=skip) if skip else ingest_file(path, source, settings)


def ingest_file(path: Path, source: str | None = None, settings: Settings | None = None) -> FileResult:
    """Articles of one file; problems become `error` (file skipped) or `warnings` (file kept)."""
    settings = settings or Settings()
    result = FileResult(source or source_name(path))
    try:
        result.articles = format_of(path.name).read()(path, result, settings)
    except QAError as exc:
        result.error, result.articles = str(exc), []
    except (OSError, ValueError, RecursionError) as exc:  # never a traceback for one bad file
        result.error, result.articles = f"cannot ingest: {exc}", []
    except MemoryError:  # what it asked for is its own error: the run goes on
        result.error, result.articles = "cannot ingest: not enough memory to read it", []
    except Exception as exc:  # noqa: BLE001 - a reader library's own failure (pdfium, Pillow)
        result.error, result.articles = f"cannot ingest: {type(exc).__name__}: {exc}", []
    return result


def read_text(path: Path, result: FileResult, settings: Settings, markdown: bool = False) -> list[Article]:
    """A page of plain text (or Markdown, also when a .txt file is written in it)."""
    text, result.encoding, replaced = read_file(path, settings.max_file_bytes, settings.read_timeout_s)
    if replaced:
        result.warnings.append(f"{replaced} control characters or invalid code points replaced")
    catalog = sidecar(path, result.warnings, settings.read_timeout_s)
    markdown = markdown or looks_like_markdown(text)
    page = segment(markdown_rows(text) if markdown else text_rows(text), markdown)
    meta = merge_meta(catalog, page.meta, path)
    stories = [(s, p) for s in page.stories
               if (p := _paragraph_pieces(s.paragraphs, settings.max_paragraph_chars))]
    articles = [_article(s, pieces, meta, result.source, n) for n, (s, pieces) in enumerate(stories)]
    result.warnings += _meta_warnings(meta, articles)
    return articles


def read_markdown(path: Path, result: FileResult, settings: Settings) -> list[Article]:
    return read_text(path, result, settings, markdown=True)


def read_records(path: Path, result: FileResult, settings: Settings) -> list[Article]:
    """One article per record of a .jsonl or .csv file."""
    text, result.encoding, replaced = read_file(path, settings.max_file_bytes, settings.read_timeout_s)
    if replaced:
        result.warnings.append(f"{replaced} control characters or invalid code points replaced")
    return _record_articles(text, path.suffix.lower(), result, sidecar(path, result.warnings, settings.read_timeout_s), settings)


def read_pdf(path: Path, result: FileResult, settings: Settings) -> list[Article]:
    from qa.ingest.formats.document import read_pdf as document

    return _layout_articles(document(path, settings), path, result, settings)


def read_image(path: Path, result: FileResult, settings: Settings) -> list[Article]:
    from qa.ingest.formats.document import read_image as document

    return _layout_articles(document(path, settings), path, result, settings)


def read_html(path: Path, result: FileResult, settings: Settings) -> list[Article]:
    from qa.ingest.formats.document import read_web_page

    return _layout_articles(read_web_page(path, settings), path, result, settings)


def _layout_articles(document: Document, path: Path, result: FileResult,
                     settings: Settings) -> list[Article]:
    """Articles of a PDF, scan or web page, page by page; paragraphs keep their line boxes."""
    result.encoding = document.kind
    result.lines = [line for p in document.pages for line in p.lines]
    catalog = sidecar(path, result.warnings, settings.read_timeout_s)
    if len(document.pages) > 1:  # each page of the file is its own page of the paper
        catalog = {k: v for k, v in catalog.items() if k != "page"}
    articles: list[Article] = []
    metas = []
    for page in document.pages:
        found = segment(page.rows, markdown=True, guess_headlines=False)
        header = Meta(*(a or b for a, b in zip(astuple(page.meta), astuple(found.meta), strict=True)))
        meta = merge_meta(catalog, header, path)
        if meta.page is None and len(document.pages) > 1:
            meta.page = str(page.info.number)
        metas.append(meta)
        if page.info is not None:
            result.pages.append(page.info._replace(label=meta.page))
        boxes = {b.line: b for b in page.lines if b.line in page.body_lines}
        for story in found.stories:
            if pieces := _paragraph_pieces(story.paragraphs, settings.max_paragraph_chars):
                article = _article(story, pieces, meta, result.source, len(articles))
                paragraphs = tuple(replace(p, boxes=tuple(boxes[n] for n in range(
                    p.line_start, p.line_end + 1) if n in boxes)) for p in article.paragraphs)
                articles.append(replace(article, byline=article.byline or page.byline,
                                        paragraphs=paragraphs))
    result.warnings += _meta_warnings(metas[0] if metas else Meta(), articles)
    return articles


def article_id(source: str, ordinal: int) -> str:
    """Stable id: the same file path and story position always give the same id."""
    return f"{hashlib.sha1(source.encode('utf-8')).hexdigest()[:10]}-{ordinal:03d}"


def _article(story: Story, pieces: list[tuple[str, int, int, int, int]], meta: Meta, source: str,
             ordinal: int) -> Article:
    aid = article_id(source, ordinal)
    paragraphs = tuple(Paragraph(aid, i, text, source, first, last, start, end)
                       for i, (text, first, last, start, end) in enumerate(pieces))
    return Article(aid, source, meta.newspaper, meta.date, meta.page, story.section or meta.section,
                   _clean_title(story.title), _clean_title(story.subtitle), story.byline, paragraphs)


def _clean_title(text: str | None) -> str | None:
    return re.sub(r"\s+", " ", text).strip() or None if text else None


_SPACE = re.compile(r"\s")
_CONTENT = re.compile(r"[^\W_]")  # a letter or digit (Han characters are letters)
_ENOUGH = re.compile(rf"(?:[^\W_][\W_]*){{{MIN_PARAGRAPH_CHARS}}}")


def _content(rows: list[Row]) -> int:
    """0 for no letters or digits, 1 for a fragment, 2 for enough to stand as a paragraph."""
    text = rows[0].text if len(rows) == 1 else "".join(r.text for r in rows)
    return 2 if _ENOUGH.search(text) else int(bool(_CONTENT.search(text)))


def _paragraph_pieces(paragraphs: list[list[Row]], max_chars: int) -> list[tuple[str, int, int, int, int]]:
    """(text, line_start, line_end, char_start, char_end) for each retrieval paragraph of a story."""
    merged: list[list[Row]] = []
    carry: list[Row] = []
    for rows in paragraphs:
        content = _content(rows)
        if content == 0:
            continue
        if content == 1:
            carry += rows  # a fragment joins the paragraph after it (or before, at the end)
            continue
        merged.append(carry + rows)
        carry = []
    if carry:
        if merged:
            merged[-1] = merged[-1] + carry
        elif _content(carry) == 2:
            merged.append(carry)
    out = []
    for rows in merged:
        if len(rows) == 1 and len(rows[0].text) <= max_chars and not _SPACE.search(rows[0].text):
            r = rows[0]  # the common case in one-paragraph-a-line files: the row is the paragraph
            out.append((r.text, r.line, r.line, r.start, r.end))
            continue
        text, anchors = _join(rows)
        for a, b in split_long(text, max_chars):
            piece = text[a:b]
            lead = len(piece) - len(piece.lstrip())
            piece = piece.strip()
            if piece:
                a += lead
                first, last = _locate(anchors, a), _locate(anchors, a + len(piece) - 1)
                out.append((piece, first[0], last[0], first[1], last[1] + 1))
    return out


def _join(rows: list[Row]) -> tuple[str, list[tuple[int, Row, int]]]:
    """Paragraph text from its rows, and anchors (text offset, row, offset in the row's text)."""
    parts: list[str] = []
    anchors: list[tuple[int, Row, int]] = []
    size = 0
    for row in rows:
        part, pieces = fix_spaces_mapped(row.text)
        if parts:
            drop, separator = seam(parts[-1], part)
            parts[-1] = parts[-1][: len(parts[-1]) - drop] + separator
            size += len(separator) - drop
        anchors += [(size + out, row, src) for out, src in pieces]
        parts.append(part)
        size += len(part)
    return "".join(parts), anchors


def _locate(anchors: list[tuple[int, Row, int]], pos: int) -> tuple[int, int]:
    """(line, source offset) of paragraph position `pos` (inside Markdown rows: approximate)."""
    at, row, src = anchors[max(0, bisect_right(anchors, pos, key=lambda a: a[0]) - 1)]
    return row.line, min(row.start + src + (pos - at), max(row.end - 1, row.start))


def _meta_warnings(meta: Meta, articles: list[Article]) -> list[str]:
    warnings = []
    if not articles:
        warnings.append("no articles found")
    if meta.newspaper is None:
        warnings.append(f"newspaper unknown (add the file to {CATALOG})")
    if meta.date is None:
        warnings.append(f"date unknown (add it to {CATALOG})")
    untitled = sum(a.title is None for a in articles)
    if untitled:
        warnings.append(f"{untitled} of {len(articles)} articles without a headline")
    return warnings


def _record_articles(text: str, suffix: str, result: FileResult, catalog: dict[str, str],
                     settings: Settings) -> list[Article]:
    articles = []
    for record in records(text, suffix):
        if isinstance(record, str):
            result.warnings.append(record)
            continue
        article = _record_article(record, result.source, len(articles), catalog, settings)
        if article is None:
            result.warnings.append(f"line {record.line_start}: record without text, skipped")
        else:
            articles.append(article)
    if not articles:
        raise ReadError("no articles: no record has a text/content field")
    return articles


def _record_article(record: Record, source: str, ordinal: int, catalog: dict[str, str],
                    settings: Settings) -> Article | None:
    f = record.fields
    body = f.get("text", "")
    rows = [Row(line.strip(), record.line_start, record.start, record.end) for line in body.splitlines()]
    rows = [r for r in rows if r.text]
    if not rows:
        return None
    aid = article_id(source, ordinal)
    pieces = _paragraph_pieces([[r] for r in rows], settings.max_paragraph_chars)
    paragraphs = tuple(
        Paragraph(aid, i, t, source, record.line_start, record.line_end, record.start, record.end)
        for i, (t, *_) in enumerate(pieces)
    )
    return Article(
        aid, source, f.get("newspaper") or catalog.get("newspaper"),
        parse_date(f.get("date")) or parse_date(catalog.get("date")),
        f.get("page") or catalog.get("page"), f.get("section") or catalog.get("section"),
        _clean_title(f.get("title")), _clean_title(f.get("subtitle")), f.get("byline"), paragraphs,
    )


def article_json(article: Article) -> dict:
    """The JSON form of an article printed by `ingest --json`."""
    return {
        "id": article.id, "source": article.source, "newspaper": article.newspaper,
        "date": article.date, "page": article.page, "section": article.section,
        "title": article.title, "subtitle": article.subtitle, "byline": article.byline,
        "paragraphs": [_paragraph_json(p) for p in article.paragraphs],
    }


def _paragraph_json(p: Paragraph) -> dict:
    out = {"index": p.index, "text": p.text, "line_start": p.line_start, "line_end": p.line_end}
    if p.boxes:  # a PDF or scan: the page and the lines' boxes (fractions of the page)
        out["page"] = p.boxes[0].page
        out["boxes"] = [[b.x0, b.y0, b.x1, b.y1] for b in p.boxes]
    return out


def format_report(result: FileResult) -> str:
    """A readable summary of one file: what was found, and what went wrong."""
    if result.error:
        return f"{result.source}\n  skipped: {result.error}\n"
    n_par = sum(len(a.paragraphs) for a in result.articles)
    lines = [f"{result.source}  [{result.encoding}]  {len(result.articles)} articles, {n_par} paragraphs"]
    if result.pages:
        ocr = sum(p.ocr for p in result.pages)
        lines.append(f"  pages: {len(result.pages)} ({ocr} by OCR), "
                     f"{sum(p.seconds for p in result.pages):.1f} s")
    if result.articles:
        a = result.articles[0]
        lines.append(f"  newspaper: {a.newspaper or '?'}   date: {a.date or '?'}   "
                     f"page: {a.page or '?'}   section: {a.section or '?'}")
    for n, a in enumerate(result.articles, 1):
        title = a.title or "(no headline)"
        if a.subtitle:
            title += f" —— {a.subtitle}"
        first, last = a.paragraphs[0], a.paragraphs[-1]
        lines.append(f"  {n:>3}. {title}")
        lines.append(f"       {a.byline or 'no byline'} · {len(a.paragraphs)} paragraphs · "
                     f"lines {first.line_start}-{last.line_end}")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"

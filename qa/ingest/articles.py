"""Ingest archive files into articles and paragraphs: read, segment, repair, attach metadata.

Metadata comes from, in order of precedence: a `catalog.csv` sidecar (columns file, newspaper,
date, page, section; `file` relative to the catalog's folder, found in the file's folder or
the nearest parent that has one), the page itself (masthead, header, editor lines), then a date
in the file name (`20221001.md`). One bad file gives a FileResult with `error`, never an exception.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from qa.errors import QAError, ReadError
from qa.files import Found, read_bytes, source_name, walk
from qa.ingest.decode import (
    MARKDOWN_SUFFIXES,
    RECORD_SUFFIXES,
    SUFFIXES,
    Record,
    Row,
    looks_like_markdown,
    markdown_rows,
    read_file,
    records,
    text_rows,
)
from qa.ingest.formats import SUFFIXES as LAYOUT_SUFFIXES
from qa.ingest.formats import Document, read_layout
from qa.ingest.normalize import fix_spaces_mapped, seam, split_long
from qa.ingest.segment import Meta, Story, segment
from qa.settings import Settings
from qa.text import clean_text
from qa.types import Article, LineBox, PageInfo, Paragraph

CATALOG = "catalog.csv"
CATALOG_MAX_BYTES = 64 * 1024 * 1024
MIN_PARAGRAPH_CHARS = 8  # letters and digits; shorter fragments are merged into a neighbour
_FILE_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
_TEXT_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
ALL_SUFFIXES = SUFFIXES + LAYOUT_SUFFIXES


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
    return name.lower().endswith(ALL_SUFFIXES) and name != CATALOG


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
        suffix = path.suffix.lower()
        if suffix not in ALL_SUFFIXES:
            raise ReadError(f"unsupported file type {suffix or '(none)'}: expected {', '.join(ALL_SUFFIXES)}")
        if suffix in LAYOUT_SUFFIXES:
            result.articles = _layout_articles(read_layout(path, settings), path, result, settings)
            return result
        text, result.encoding, replaced = read_file(path, settings.max_file_bytes,
                                                    settings.read_timeout_s)
        if replaced:
            result.warnings.append(f"{replaced} control characters or invalid code points replaced")
        sidecar = _sidecar(path, result.warnings)
        if suffix in RECORD_SUFFIXES:
            result.articles = _record_articles(text, suffix, result, sidecar, settings)
        else:
            markdown = suffix in MARKDOWN_SUFFIXES or looks_like_markdown(text)
            page = segment(markdown_rows(text) if markdown else text_rows(text), markdown)
            meta = _merge_meta(sidecar, page.meta, path)
            stories = [(s, p) for s in page.stories if (p := _paragraph_pieces(s.paragraphs,
                                                                             settings.max_paragraph_chars))]
            result.articles = [_article(s, pieces, meta, result.source, n)
                               for n, (s, pieces) in enumerate(stories)]
            result.warnings += _meta_warnings(meta, result.articles)
    except QAError as exc:
        result.error, result.articles = str(exc), []
    except (OSError, ValueError, RecursionError) as exc:  # never a traceback for one bad file
        result.error, result.articles = f"cannot ingest: {exc}", []
    return result


def _layout_articles(document: Document, path: Path, result: FileResult,
                     settings: Settings) -> list[Article]:
    """Articles of a PDF, scan or web page, page by page; paragraphs keep their line boxes."""
    result.encoding = document.kind
    result.lines = [line for p in document.pages for line in p.lines]
    sidecar = _sidecar(path, result.warnings)
    if len(document.pages) > 1:  # each page of the file is its own page of the paper
        sidecar = {k: v for k, v in sidecar.items() if k != "page"}
    articles: list[Article] = []
    metas = []
    for page in document.pages:
        found = segment(page.rows, markdown=True, guess_headlines=False)
        header = Meta(*(a or b for a, b in zip(astuple(page.meta), astuple(found.meta), strict=True)))
        meta = _merge_meta(sidecar, header, path)
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


def _merge_meta(sidecar: dict[str, str], page: Meta, path: Path) -> Meta:
    file_date = _FILE_DATE.search(path.stem)
    return Meta(
        newspaper=sidecar.get("newspaper") or page.newspaper,
        date=_parse_date(sidecar.get("date")) or page.date or (
            _parse_date("-".join(file_date.groups())) if file_date else None),
        page=sidecar.get("page") or page.page,
        section=sidecar.get("section") or page.section,
    )


def _parse_date(text: str | None) -> str | None:
    """ISO date from 2022-11-22, 2022/11/22, 2022年11月22日 or 20221122; None if not a real date."""
    from datetime import date

    if not text:
        return None
    m = _TEXT_DATE.search(text) or _FILE_DATE.search(text)
    if not m:
        return None
    try:
        return date(*map(int, m.groups())).isoformat()
    except ValueError:
        return None


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


def _record_articles(text: str, suffix: str, result: FileResult, sidecar: dict[str, str],
                     settings: Settings) -> list[Article]:
    articles = []
    for record in records(text, suffix):
        if isinstance(record, str):
            result.warnings.append(record)
            continue
        article = _record_article(record, result.source, len(articles), sidecar, settings)
        if article is None:
            result.warnings.append(f"line {record.line_start}: record without text, skipped")
        else:
            articles.append(article)
    if not articles:
        raise ReadError("no articles: no record has a text/content field")
    return articles


def _record_article(record: Record, source: str, ordinal: int, sidecar: dict[str, str],
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
        aid, source, f.get("newspaper") or sidecar.get("newspaper"),
        _parse_date(f.get("date")) or _parse_date(sidecar.get("date")),
        f.get("page") or sidecar.get("page"), f.get("section") or sidecar.get("section"),
        _clean_title(f.get("title")), _clean_title(f.get("subtitle")), f.get("byline"), paragraphs,
    )


def _sidecar(path: Path, warnings: list[str]) -> dict[str, str]:
    """The catalog row for `path` from the nearest catalog.csv in its folder or a parent."""
    absolute = Path(os.path.abspath(path))
    for folder in absolute.parents:
        catalog = folder / CATALOG
        if _is_file(catalog):
            try:
                entries = _load_catalog(str(catalog), catalog.stat().st_mtime_ns)
            except (OSError, UnicodeDecodeError, csv.Error, ReadError) as exc:
                warnings.append(f"{source_name(catalog)} unreadable, ignored: {exc}")
                return {}
            return entries.get(absolute.relative_to(folder).as_posix(), {})
    return {}


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a path too long for the system
        return False


@lru_cache(maxsize=32)
def _load_catalog(path: str, mtime_ns: int) -> dict[str, dict[str, str]]:
    text = clean_text(read_bytes(Path(path), CATALOG_MAX_BYTES).decode("utf-8-sig"))
    return {
        (row.get("file") or "").strip(): {k: v.strip() for k, v in row.items()
                                            if k and k != "file" and v and v.strip()}
        for row in csv.DictReader(io.StringIO(text, newline=""))
    }


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

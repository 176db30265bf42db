"""Read archive files: decode bytes, and turn a page into rows of text that remember where they were.

A `Row` is one line of a plain-text page, or one HTML paragraph of a Markdown line, with its
1-based line number and its character span in the decoded file. Blank rows (text "") mark
paragraph breaks. Structured files (.jsonl / .csv) hold one article per record instead.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from qa.errors import ReadError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # a newspaper page is kilobytes; 50 MB is not a page
SAMPLE_HAN = 4000  # Han characters scored when telling GB18030 from Big5
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

PLAIN_SUFFIXES = (".txt", ".text")
MARKDOWN_SUFFIXES = (".md", ".markdown")
RECORD_SUFFIXES = (".jsonl", ".csv")
SUFFIXES = PLAIN_SUFFIXES + MARKDOWN_SUFFIXES + RECORD_SUFFIXES


class Row(NamedTuple):  # a tuple: pages have thousands of rows
    text: str  # "" for a paragraph break
    line: int  # 1-based line number
    start: int  # character offsets of the row in the decoded file, end exclusive
    end: int
    level: int = 0  # Markdown heading level, 0 for body text


@dataclass(frozen=True)
class Record:
    """One article of a structured file: its fields, and the lines it came from."""

    fields: dict[str, str]
    line_start: int
    line_end: int
    start: int
    end: int


def read_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str]:
    """Decoded text and encoding name of `path`; ReadError if too big, binary, empty or undecodable.

    Files above `max_bytes` are refused without being read (a page is kilobytes; a 200 MB
    one-line file is a dump, not a page), so memory stays bounded by the limit.
    """
    try:
        size = path.stat().st_size
        if size <= max_bytes:
            with open(path, "rb") as f:
                data = f.read(max_bytes + 1)  # the size may change under us
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from exc
    if size > max_bytes or len(data) > max_bytes:
        raise ReadError(
            f"{max(size, max_bytes + 1) / 1e6:.0f} MB is above the "
            f"{max_bytes // (1024 * 1024)} MB limit per file (not a newspaper page; "
            "raise QA_MAX_FILE_MB to read it)"
        )
    text, encoding = decode(data)
    if not text.strip():
        raise ReadError("no text: the file is empty" if not data else "no text: only white space")
    return text, encoding


def decode(data: bytes) -> tuple[str, str]:
    """Decode page bytes: BOMs first, then strict UTF-8, then GB18030 or Big5, whichever reads as Chinese."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            text = _strict(data, name)
            if text is None:
                raise ReadError(f"cannot decode: starts with a {name} byte-order mark but is not {name}")
            return _checked(text, name)
    if b"\x00" in data[:65536]:
        raise ReadError("binary file (NUL bytes), not text")
    text = _strict(data, "utf-8")
    if text is not None:
        return _checked(text, "utf-8")
    candidates = [(name, t) for name in ("gb18030", "big5") if (t := _strict(data, name)) is not None]
    if not candidates:
        raise ReadError("cannot decode: not UTF-8, UTF-16, GB18030/GBK or Big5")
    name, text = max(candidates, key=lambda c: _commonness(c[1], c[0]))
    return _checked(text, name)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _checked(text: str, encoding: str) -> tuple[str, str]:
    controls = len(_CONTROL.findall(text, 0, 65536))
    if controls > max(8, len(text[:65536]) // 100):
        raise ReadError(f"binary file (control characters), not text (tried {encoding})")
    return text, encoding


def _commonness(text: str, encoding: str) -> float:
    """Share of Han characters that are everyday ones in `encoding`'s own table.

    Right decodings are ~95% common characters (GB2312 level 1, Big5 常用字); the same bytes
    read with the other table land all over the rare and symbol areas.
    """
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"][:SAMPLE_HAN]
    if not han:
        return 0.0
    common = 0
    for ch in han:
        try:
            code = int.from_bytes(ch.encode("gb2312" if encoding == "gb18030" else "big5"), "big")
        except UnicodeEncodeError:
            continue
        common += 0xB0A1 <= code <= 0xD7FE if encoding == "gb18030" else 0xA440 <= code <= 0xC67E
    return common / len(han)


def text_rows(text: str) -> list[Row]:
    """One row per line, stripped of surrounding white space; blank lines become break rows."""
    rows, pos = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        start = pos + line.find(stripped[:1]) if line[:1].isspace() else pos
        rows.append(Row(stripped, number, start, start + len(stripped)))
        pos += len(line)
    return rows


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_PARA_BREAK = re.compile(r"</?p(?:\s[^>]*)?>|<br\s*/?>|</?div[^>]*>|</h\d>", re.I)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|<[^>]{0,200}>|\*\*|__|&(nbsp|amp|lt|gt|quot|#39);")
_MARK = re.compile(r"[<\[*_&!]")
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}


def markdown_rows(text: str) -> list[Row]:
    """Rows of a Markdown page: headings carry their level, HTML paragraphs become separate rows.

    Images and link-only lines (`[查看原文](url)`) are kept as the marker row "[link]" so that
    segmentation can see where a story ended; other links keep their text.
    """
    rows: list[Row] = []
    for row in text_rows(text):  # one pass over rows; most are plain text
        line = row.text
        if not line:
            rows.append(row)
        elif line[0] == "#" and (heading := _HEADING.match(line)):
            rows.append(Row(_inline(heading.group(2)), row.line, row.start, row.end,
                            len(heading.group(1))))
        elif line[0] in "[!" and (_LINK.fullmatch(line) or _IMAGE.fullmatch(line)):
            rows.append(Row("[link]", row.line, row.start, row.end))
        elif "<" not in line:
            rows.append(row._replace(text=_inline(line)))
        else:
            rows += _html_rows(row)
    return rows


def _html_rows(row: Row) -> list[Row]:
    """A line of HTML paragraphs as rows, with a break row between paragraphs."""
    out: list[Row] = []
    line, pos = row.text, 0
    for m in [*_PARA_BREAK.finditer(line), None]:
        end = len(line) if m is None else m.start()
        if end > pos and (clean := _inline(line[pos:end])):
            if out:
                out.append(Row("", row.line, row.start + pos, row.start + pos))
            out.append(Row(clean, row.line, row.start + pos, row.start + end))
        if m is not None:
            pos = m.end()
    return out


def looks_like_markdown(text: str) -> bool:
    """A .txt page written in Markdown: at least two `#` heading lines, or HTML paragraphs."""
    sample = text[:200_000]
    return len(re.findall(r"(?m)^#{1,6}\s+\S", sample)) >= 2 or sample.count("<p>") >= 2


def _inline(text: str) -> str:
    """Text of a Markdown/HTML fragment: images and tags dropped, links reduced to their text."""
    if not _MARK.search(text):
        return text.strip()
    return _MARKUP.sub(_unmark, text).strip()


def _unmark(m: re.Match) -> str:
    if m.group(1) is not None:
        return m.group(1)
    return _ENTITIES[m.group(2)] if m.group(2) else ""


# Field names accepted for each article attribute in structured files, first match wins.
FIELD_NAMES = {
    "title": ("title", "headline", "标题", "题目"),
    "subtitle": ("subtitle", "subheadline", "副标题"),
    "text": ("text", "content", "body", "article", "正文", "内容"),
    "date": ("date", "published", "pub_date", "日期"),
    "newspaper": ("newspaper", "paper", "publication", "source_name", "报纸", "报刊"),
    "page": ("page", "版次", "版"),
    "section": ("section", "column", "栏目", "版面"),
    "byline": ("byline", "author", "authors", "作者", "记者"),
}


def records(text: str, suffix: str) -> Iterator[Record | str]:
    """Articles of a .jsonl or .csv file; a string in the stream is a warning about a bad record."""
    if suffix == ".jsonl":
        yield from _jsonl_records(text)
    else:
        yield from _csv_records(text)


def _jsonl_records(text: str) -> Iterator[Record | str]:
    pos = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        start, pos = pos, pos + len(line)
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}: not valid JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            yield f"line {number}: not a JSON object"
            continue
        yield Record(_fields(obj), number, number, start, start + len(line.rstrip("\r\n")))


def _csv_records(text: str) -> Iterator[Record | str]:
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    first = 2
    try:
        for row in reader:
            last = reader.line_num
            yield Record(_fields(row), first, last, line_starts[first - 1],
                         line_starts[min(last, len(line_starts) - 1)])
            first = last + 1
    except csv.Error as exc:
        yield f"line {reader.line_num}: broken CSV ({exc})"


def _fields(obj: dict) -> dict[str, str]:
    lowered = {str(k).strip().lower(): v for k, v in obj.items() if k is not None}
    out = {}
    for name, keys in FIELD_NAMES.items():
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, list):
                value = "、".join(str(v) for v in value) if name == "byline" else "\n\n".join(
                    str(v) for v in value)
            if value not in (None, ""):
                out[name] = str(value).strip()
                break
    return out


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

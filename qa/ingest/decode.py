"""Read archive files: decode bytes, and turn a page into rows of text that remember where they were.

A `Row` is one line of a plain-text page, or one HTML paragraph of a Markdown line, with its
1-based line number and its character span in the decoded file. Blank rows (text "") mark
paragraph breaks. Structured files (.jsonl / .csv) hold one article per record instead.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from qa.errors import ReadError
from qa.files import read_bytes
from qa.text import clean, is_han

MAX_BROKEN_RECORDS = 100  # per CSV file; past that it is not a CSV file
SAMPLE_HAN = 4000  # Han characters scored when telling GB18030 from Big5
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")







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


class Decoded(NamedTuple):
    text: str
    encoding: str
    replaced: int = 0  # control characters and lone surrogates replaced (see qa.text.clean)


def read_file(path: Path, max_bytes: int, timeout: float) -> Decoded:
    """Decoded, cleaned text of `path`; ReadError if too big, slow, binary, empty or undecodable.

    Only a regular file is opened (see qa.files); files above `max_bytes` are refused without
    being read (a page is kilobytes; a 200 MB one-line file is a dump, not a page), so memory
    stays bounded by the limit.
    """
    data = read_bytes(path, max_bytes, timeout)
    text, encoding = decode(data)
    if not text.strip():
        raise ReadError("no text: the file is empty" if not data else "no text: only white space")
    cleaned = clean(text)
    return Decoded(cleaned.text, encoding, cleaned.replaced)


# Legacy encodings a page may come in, for charset-normalizer to choose from (never Latin ones:
# any bytes decode as Latin-1, so a binary file would be read as text).
LEGACY = ("gb18030", "big5", "cp932", "euc_jp", "cp949", "utf_16_le", "utf_16_be")
_CHINESE = ("gb18030", "big5")


def decode(data: bytes) -> tuple[str, str]:
    """Decode page bytes: BOMs, then strict UTF-8, then the most plausible legacy encoding.

    The legacy encoding is chosen by charset-normalizer among `LEGACY` (it tells UTF-16 without
    a byte-order mark, Shift-JIS and EUC-KR from Chinese); when it reads as Chinese, GB18030
    and Big5 are told apart by how common the decoded Han characters are
    (benchmarks/bench_encoding.py measures both).
    """
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            text = _strict(data, name)
            if text is None:
                raise ReadError(f"cannot decode: starts with a {name} byte-order mark but is not {name}")
            return _checked(text, name)
    head = data[:65536]
    nul = head.count(b"\x00")
    # Many NULs: UTF-16 (ASCII in UTF-16 is valid UTF-8 too) or binary; a stray one is cleaned.
    if nul <= max(1, len(head) // 100) and (text := _strict(data, "utf-8")) is not None:
        return _checked(text, "utf-8")
    name = _guess(data)
    if name is None:
        raise ReadError("binary file (NUL bytes), not text" if nul else
                        "cannot decode: not UTF-8, UTF-16, GB18030/GBK, Big5, Shift-JIS, "
                        "EUC-JP or EUC-KR (or too garbled to tell which)")
    if name in _CHINESE:
        candidates = [(n, t) for n in _CHINESE if (t := _strict(data, n)) is not None]
        name, text = max(candidates, key=lambda c: _commonness(c[1], c[0]))
    else:
        text = data.decode(name)
    return _checked(text, name.replace("_", "-"))


def _guess(data: bytes) -> str | None:
    """The encoding charset-normalizer finds most plausible among LEGACY, or None."""
    from charset_normalizer import from_bytes

    for match in from_bytes(data, cp_isolation=list(LEGACY)):  # best first
        name = codecs.lookup(match.encoding).name
        if name not in ("cp949", "euc_kr") or _plausible_korean(str(match)):
            return {"gbk": "gb18030", "gb2312": "gb18030", "big5hkscs": "big5",
                    "cp950": "big5"}.get(name, name)
    return None


def _plausible_korean(text: str) -> bool:
    """Korean is written with spaces between words and whole syllables, not loose letters;
    Japanese or Chinese bytes read as EUC-KR give syllables run together and loose jamo."""
    syllables = sum("\uac00" <= ch <= "\ud7a3" for ch in text)
    jamo = sum("\u3131" <= ch <= "\u318e" for ch in text)
    return jamo <= syllables // 20 and (syllables < 12 or text.count(" ") >= syllables // 10)


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
    han = [ch for ch in text if is_han(ch)][:SAMPLE_HAN]
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
# A heading over several short items, each with its own lead in bold.
BULLETIN = re.compile(r"快讯|快訊|简讯|簡訊|短讯|短訊|简报|簡報")
# a paragraph that is one bold run: <p><strong>今年我国快递业务量已突破500亿件</strong></p>
_BOLD_PARAGRAPH = re.compile(r"<p(?:\s[^>]*)?>(?=\s*<(?:strong|b)>)(.*?)</p>", re.I)
_PARA_BREAK = re.compile(r"</?p(?:\s[^>]*)?>|<br\s*/?>|</?div[^>]*>|</h\d>", re.I)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|<[^>]{0,200}>|\*\*|__|&(nbsp|amp|lt|gt|quot|#39);")
_MARK = re.compile(r"[<\[*_&!]")
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}


_HIDDEN = re.compile(r"<(script|style|template|noscript)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)",
                     re.I | re.S)


def _blank_hidden(text: str) -> str:
    """Scripts, style sheets and comments blanked out (line breaks kept, so offsets hold)."""
    if "<" not in text:
        return text
    return _HIDDEN.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def markdown_rows(text: str) -> list[Row]:
    """Rows of a Markdown page: headings carry their level, HTML paragraphs become separate rows.

    What a browser would not show (`<script>`, `<style>`, comments) is dropped with its body.
    Images and link-only lines (`[查看原文](url)`) are kept as the marker row "[link]" so that
    segmentation can see where a story ended; other links keep their text.
    """
    rows: list[Row] = []
    bulletin = 0  # the level of the bulletin heading the rows are under, 0 when none
    for row in text_rows(_blank_hidden(text)):  # one pass over rows; most are plain text
        line = row.text
        if not line:
            rows.append(row)
        elif line[0] == "#" and (heading := _HEADING.match(line)):
            level, title = len(heading.group(1)), _inline(heading.group(2))
            bulletin = level if BULLETIN.search(title) else 0 if level <= bulletin else bulletin
            rows.append(Row(title, row.line, row.start, row.end, level))
        elif bulletin and "<" in line:
            items = _bulletin_rows(_html_rows(row), line, row, bulletin)
            if any(r.level for r in items):  # its items are the stories: the heading goes
                head = max(i for i, r in enumerate(rows) if r.level == bulletin)
                rows[head] = Row("", rows[head].line, rows[head].start, rows[head].start)
            rows += items
        elif line[0] in "[!" and (_LINK.fullmatch(line) or _IMAGE.fullmatch(line)):
            rows.append(Row("[link]", row.line, row.start, row.end))
        elif "<" not in line:
            rows.append(row._replace(text=_inline(line)))
        else:
            rows += _html_rows(row)
    return rows


def _bulletin_rows(rows: list[Row], line: str, row: Row, level: int) -> list[Row]:
    """A bulletin's paragraphs (国内联播快讯: items each led by a paragraph in bold) with each
    lead as a heading of the bulletin's level, so that each item is a story of its own, cited
    by its own headline; what comes before the first lead (央视网消息（新闻联播）：) is dropped."""
    leads = {m.start(1) for m in _BOLD_PARAGRAPH.finditer(line)}
    out: list[Row] = []
    for r in rows:
        if r.text and r.start - row.start in leads:
            out.append(r._replace(level=level))
        elif out or not r.text:
            out.append(r)
    return out if any(r.level for r in out) else rows


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
        except RecursionError:
            yield f"line {number}: JSON nested too deeply"
            continue
        if not isinstance(obj, dict):
            yield f"line {number}: not a JSON object"
            continue
        yield from _record(obj, number, number, start, start + len(line.rstrip("\r\n")))


def _csv_records(text: str) -> Iterator[Record | str]:
    """Records of a CSV file; a broken record (an unclosed quote) is skipped on its own.

    Quotes are parsed strictly, so a quote that never closes is an error at the end of the
    file (or at the next quote) instead of a field that swallows the records after it; the
    parse then starts again on the line after the broken record's first line.
    """
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    offset = len(text) - len(text.lstrip("\ufeff"))
    starts = [offset]
    for line in lines:
        starts.append(starts[-1] + len(line))
    header = next(csv.reader(lines[:1]), None)
    if not header:
        return
    first, broken = 1, 0  # index of the line where the next record starts
    while first < len(lines):
        reader = csv.reader(lines[first:], strict=True)
        base = first
        try:
            for row in reader:
                last = base + reader.line_num  # 1-based number of the record's last line
                if row:
                    yield from _record(dict(zip(header, row, strict=False)), first + 1, last, starts[first],
                                       starts[last])
                first = last
            return
        except csv.Error as exc:
            yield (f"line {first + 1}: broken CSV record ({exc}: a quote that does not close?), "
                   "skipped")
            first, broken = first + 1, broken + 1
            if broken == MAX_BROKEN_RECORDS:  # each retry may read to the end: bound the work
                yield f"line {first + 1}: {broken} broken records, the rest of the file skipped"
                return


def _record(obj: dict, line_start: int, line_end: int, start: int,
            end: int) -> Iterator[Record | str]:
    fields, replaced = _fields(obj)
    if replaced:
        yield (f"line {line_start}: {replaced} control characters or invalid code points "
               "replaced")
    yield Record(fields, line_start, line_end, start, end)


def _fields(obj: dict) -> tuple[dict[str, str], int]:
    """The article fields of a record, cleaned (qa.text.clean), and how many characters that replaced."""
    lowered = {str(k).strip().lower(): v for k, v in obj.items() if k is not None}
    out, replaced = {}, 0
    for name, keys in FIELD_NAMES.items():
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, list):
                value = "、".join(str(v) for v in value) if name == "byline" else "\n\n".join(
                    str(v) for v in value)
            if value not in (None, ""):
                text, n = clean(str(value).strip())
                out[name], replaced = text, replaced + n
                break
    return out, replaced

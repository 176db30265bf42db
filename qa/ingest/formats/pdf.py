"""PDF pages through pdfium (pypdfium2): text-layer lines with boxes and type sizes, and page images.

Characters come with their loose boxes: the font's full height, so every character of a line
shares one box height, which is the line's type size in page units. They are grouped into
lines: a line runs along
one baseline and ends where the gap to the next character is wider than a column gutter
(`GAP_EMS`), which also splits the fields of a page header set far apart on one row.
Coordinates are PDF points with the origin at the top left of the page.
"""

from __future__ import annotations

import ctypes
import re
import zlib
from collections import Counter
from collections.abc import Iterator

from qa.errors import ReadError
from qa.ingest.formats.layout import Line

GAP_EMS = 1.0  # a wider gap between characters on one baseline ends the line
TOUCH_EMS = 0.05  # pieces not written one after the other join only when this close
SPACE_EMS = 0.3  # an edge gap this wide beside a CJK character is a space
LATIN_SPACE_EMS = 0.18  # between Latin letters or digits
WIDER_EMS = 0.12  # two CJK characters this much further apart than usual have a space between
MIN_TEXT_CHARS = 20  # fewer characters in the text layer: the page is a scan


_STREAM = re.compile(rb">>\s*stream\r?\n")
_NOT_CONTENT = re.compile(rb"/Subtype\s*/(?:Image|Type1C|CIDFontType0C|OpenType|XML)|/Length[123]\b|"
                          rb"/Type\s*/(?:ObjStm|XRef|EmbeddedFile|Metadata)")
_DICT_BYTES = 4096  # a stream's dictionary is looked for this far before its data


def check_content(data: bytes, max_mb: int) -> None:
    """ReadError when one of the PDF's Flate-compressed page descriptions inflates to more than
    `max_mb` (found in the raw file, inflated piece by piece and thrown away, so a bomb costs a
    fraction of a second); images and fonts are bounded elsewhere (pixels, the reader's memory)."""
    limit = max_mb * 1024 * 1024
    for match in _STREAM.finditer(data):
        head = data[max(0, match.start() - _DICT_BYTES):match.start()]
        head = head[head.rfind(b"obj"):]
        if b"/Fl" not in head or _NOT_CONTENT.search(head):
            continue
        inflate, out, at = zlib.decompressobj(), 0, match.end()
        try:
            while not inflate.eof and out <= limit and (inflate.unconsumed_tail or at < len(data)):
                piece = inflate.unconsumed_tail or data[at:at + 65536]
                if not inflate.unconsumed_tail:
                    at += len(piece)
                out += len(inflate.decompress(piece, 1 << 20))
        except zlib.error:
            continue  # encrypted or damaged: pdfium decides, within the reader's memory limit
        if out > limit:
            raise ReadError(f"a page description inflates to more than {max_mb} MB, more than "
                            "one may have (QA_MAX_PDF_CONTENT_MB)")


def open_pdf(data: bytes):
    """The pypdfium2 document of a PDF file's bytes, or ReadError naming what is wrong."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReadError(f"not a readable PDF ({exc})") from exc


class _Char:
    __slots__ = ("ch", "x0", "y0", "x1", "y1", "index")

    def __init__(self, ch, x0, y0, x1, y1, index):
        self.ch, self.x0, self.y0, self.x1, self.y1, self.index = ch, x0, y0, x1, y1, index


def _chars(textpage, height: float) -> list[_Char]:
    """The page's characters in content order. Generated characters (the spaces and line breaks
    pdfium infers, which have no width) are dropped: spaces are put back from the gaps."""
    import pypdfium2.raw as raw

    n = raw.FPDFText_CountChars(textpage)
    if n <= 0:
        return []
    buffer = ctypes.create_string_buffer((n + 1) * 2)
    raw.FPDFText_GetText(textpage, 0, n, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)))
    text = buffer.raw[: n * 2].decode("utf-16-le", errors="replace")
    rect = raw.FS_RECTF()
    loose = raw.FPDFText_GetLooseCharBox
    out: list[_Char] = []
    for i, ch in enumerate(text):
        if ch.isspace() or not loose(textpage, i, rect) or rect.right <= rect.left:
            continue
        if ch == "\ufffe":  # pdfium's mark for a hyphen that ends a line: the hyphen printed
            ch = "-"
        y0, y1 = height - rect.top, height - rect.bottom
        prev = out[-1] if out else None
        if prev is not None and y1 - y0 < 0.5 * (prev.y1 - prev.y0) and (
                prev.y0 <= (y0 + y1) / 2 <= prev.y1) and (
                rect.left >= (prev.x0 + prev.x1) / 2):  # 一, — may get a tight box: borrow the line's
            y0, y1 = prev.y0, prev.y1
        out.append(_Char(ch, rect.left, y0, rect.right, y1, i))
    return out


def _runs(chars: list[_Char]) -> Iterator[list[_Char]]:
    """Consecutive characters on one baseline, moving right, without a gutter between them; or
    stacked one below the other (a vertical line, as headlines may be set)."""
    run: list[_Char] = []
    for c in chars:
        if run:
            last = run[-1]
            h = max(last.y1 - last.y0, c.y1 - c.y0, 1e-3)
            same_line = abs((c.y0 + c.y1) - (last.y0 + last.y1)) / 2 < 0.4 * h
            gap = c.x0 - last.x1
            across = same_line and -0.7 * h <= gap <= GAP_EMS * h
            if not (across and not _vertical(run) or _stacked(last, c) and (len(run) == 1 or _vertical(run))):
                yield run
                run = []
        run.append(c)
    if run:
        yield run


def _stacked(above: _Char, below: _Char) -> bool:
    """`below` set right under `above`, in type of the same size: as wide or as tall (set
    vertically, 一 and 二 get flat boxes, 门 a narrow one)."""
    w = max(above.x1 - above.x0, below.x1 - below.x0, 1e-3)
    h = max(above.y1 - above.y0, below.y1 - below.y0, 1e-3)
    same = (abs((above.x1 - above.x0) - (below.x1 - below.x0)) < 0.15 * w
            or abs((above.y1 - above.y0) - (below.y1 - below.y0)) < 0.15 * h)
    return (same and abs((above.x0 + above.x1) - (below.x0 + below.x1)) / 2 < 0.3 * w
            and -0.2 * w <= below.y0 - above.y1 < 0.6 * w)


def _vertical(run: list[_Char]) -> bool:
    return len(run) > 1 and _stacked(run[0], run[1])


def _column_line(chars: list[_Char], textpage) -> Line:
    """A vertical line: its characters top to bottom; its size the width of its type."""
    import pypdfium2.raw as raw

    widths = sorted(c.x1 - c.x0 for c in chars)
    bold = raw.FPDFText_GetFontWeight(textpage, chars[len(chars) // 2].index) >= 600
    return Line("".join(c.ch for c in chars), min(c.x0 for c in chars), min(c.y0 for c in chars),
                max(c.x1 for c in chars), max(c.y1 for c in chars), widths[len(widths) // 2], bold,
                vertical=True)


def _line(chars: list[_Char], textpage) -> Line:
    """A Line from characters sorted left to right: text, box, per-character edges, size, weight.

    Spaces are put back where the gap says so. Boxes of narrow glyphs (日, 1) hug the ink, so
    edge gaps mislead: between two wide characters (CJK, or punctuation set full width) the
    distance of their centres is compared with the line's usual one (which includes any
    justification); elsewhere the edge gap must be about a Latin space's width.
    """
    import pypdfium2.raw as raw

    # the type size is the most common box height: a few glyphs' loose boxes come short of the
    # font's (气, 十, 足), quotes and digits from another font taller
    counts = Counter(round(c.y1 - c.y0, 1) for c in chars)
    em = max(counts, key=lambda h: (counts[h], h))
    wide = [c.ch >= "\u2e80" or c.x1 - c.x0 >= 0.7 * em for c in chars]
    centres = [(c.x0 + c.x1) / 2 for c in chars]
    pairs = range(len(chars) - 1)
    pitches = sorted(centres[i + 1] - centres[i] for i in pairs if wide[i] and wide[i + 1])
    pitch = pitches[len(pitches) // 4] if pitches else em
    text, edges = [chars[0].ch], [chars[0].x0]
    for i in pairs:
        a, b = chars[i], chars[i + 1]
        if wide[i] and wide[i + 1]:
            spaced = centres[i + 1] - centres[i] - pitch > WIDER_EMS * em
        else:
            spaced = b.x0 - a.x1 > (SPACE_EMS if wide[i] or wide[i + 1] else LATIN_SPACE_EMS) * em
        if spaced:
            text.append(" ")
            edges.append(a.x1)
        text.append(b.ch)
        edges.append(b.x0)
    edges.append(chars[-1].x1)
    bold = raw.FPDFText_GetFontWeight(textpage, chars[len(chars) // 2].index) >= 600
    return Line("".join(text), min(c.x0 for c in chars), min(c.y0 for c in chars),
                max(c.x1 for c in chars), max(c.y1 for c in chars), em, bold, None, tuple(edges))


def _merge(runs: list[list[_Char]]) -> list[list[_Char]]:
    """Join runs that continue one another on the same baseline (a producer may write a line
    in several pieces, e.g. one per font): pieces written one after the other across a gap of
    up to `GAP_EMS`, others only when they touch. Two columns' headlines on one baseline are
    written apart and can come as close as a full-width bracket's blank half."""
    runs = sorted(runs, key=lambda r: (r[0].x0, r[0].y0))
    lines: list[list[_Char]] = []
    open_ends: dict[int, list[int]] = {}  # rounded baseline -> indexes of lines ending there
    for run in runs:
        first = run[0]
        h = max(first.y1 - first.y0, 1e-3)
        key = round(first.y1 / (0.5 * h))
        target = None
        for k in (key - 1, key, key + 1):
            for i in open_ends.get(k, ()):
                last = lines[i][-1]
                follows = 0 < first.index - last.index <= 4  # only spaces or nothing between
                if (abs(last.y1 - first.y1) < 0.3 * h
                        and -0.7 * h <= first.x0 - last.x1 <= (GAP_EMS if follows else TOUCH_EMS) * h):
                    target = i
                    break
            if target is not None:
                break
        if target is None:
            lines.append(list(run))
            target = len(lines) - 1
        else:
            lines[target] += run
        open_ends.setdefault(key, []).append(target)
    return lines


def text_lines(page) -> list[Line]:
    """Lines of a pypdfium2 page's text layer, in content order."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        runs = list(_runs(_chars(textpage, height)))
        columns = [run for run in runs if _vertical(run) and len(run) >= 3]
        across = [run for run in runs if not _vertical(run)]
        across += [[c] for run in runs if _vertical(run) and len(run) < 3 for c in run]  # by chance
        return ([_line(sorted(chars, key=lambda c: c.x0), textpage) for chars in _merge(across)]
                + [_column_line(run, textpage) for run in columns])
    finally:
        textpage.close()


def has_text_layer(lines: list[Line]) -> bool:
    return sum(len(line.text) for line in lines) >= MIN_TEXT_CHARS


def render(page, dpi: float, grayscale: bool = False):
    """A pypdfium2 page as a PIL image at `dpi`."""
    return page.render(scale=dpi / 72, grayscale=grayscale).to_pil()

"""Reading order and roles of the lines of a laid-out page (a PDF text layer or OCR boxes).

1. The page header: lines in the top band that read as furniture (masthead, date, 版次,
   editor) are set aside; they give the page's metadata.
2. Reading order by recursive XY-cut: a group of lines is cut along a vertical gutter that
   runs its whole height (columns, stories side by side: left to right), else along a
   horizontal gap wider than the body's line spacing, else directly above or below a headline
   that spans several columns (so a headline across columns ends the stories above it), and
   read top to bottom; what cannot be cut is one column.
3. Roles from type size relative to the body text: headlines (level 1), the sub-headlines and
   kickers printed with them (level 2), intertitles inside a story (level 3); paragraphs start
   at an indented line or after a short line that ends a sentence; photo captions (small type,
   `图为…`, a `（… 摄）` credit) are moved to the end of their story, so that a caption set
   inside a column never splits a sentence of the text around it.
"""

from __future__ import annotations

import re
from statistics import median
from typing import NamedTuple

from qa.ingest.formats.header import is_field
from qa.ingest.normalize import ends_sentence, joiner
from qa.ingest.segment import ORGAN

HEADLINE = 1.45  # type at least this many times the body size is a headline
SUBHEAD = 1.2  # larger than the body, smaller than a headline: sub-headline or intertitle
SMALL = 0.9  # smaller than the body: caption type
HEIGHT_SLACK = 1.15  # a line's size may exceed what its height says by this much (OCR boxes vary)
HEADER_BAND = 0.15  # the page header sits in this top share of the page
GUTTER_EMS = 0.4  # narrowest gap between two columns
TRIM_EMS = 0.5  # line ends trimmed by this much when looking for gutters
BOX_OVERLAP = 0.25  # a line may overlap the one above by this share of its size (OCR pads its boxes)
INDENT_EMS = 0.9  # a paragraph's first line is indented (two characters in Chinese type)
SHORT = 8  # characters: a line this short is not measured for its type size
_CREDIT = re.compile(r"[（(][^（）()]{1,30}摄\s*[)）]\s*$")
_CLOSER = re.compile(r"[（(][^（）()]{2,16}[)）]")


class Line(NamedTuple):
    """A line of text on a page, top-left origin, in page units (PDF points or pixels)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float  # font size (text layer) or box height (OCR)
    bold: bool = False
    confidence: float | None = None  # OCR recognition confidence
    edges: tuple[float, ...] = ()  # x of each character's left edge, then the last right edge
    vertical: bool = False  # set top to bottom (a vertical headline)


class Element(NamedTuple):
    """A run of lines in reading order: a headline (level 1-3), a paragraph or a caption."""

    kind: str  # "head", "para", "caption"
    lines: tuple[Line, ...]
    level: int = 0


class Layout(NamedTuple):
    header: tuple[Line, ...]  # page furniture at the top, in reading order
    elements: tuple[Element, ...]  # the rest, in reading order
    body_size: float


def analyse(lines: list[Line], page_height: float) -> Layout:
    """Header, then the body's elements in reading order."""
    lines = [line for line in lines if line.text.strip()]
    if not lines:
        return Layout((), (), 0.0)
    size = body_size(lines)
    lines = _split_at_gutters(_capped(lines, size), size)
    header = _header(lines, page_height, size)
    rest = [line for line in lines if line not in header]
    leaves = _cut(rest, size, _line_gap(rest, size))
    elements = _elements(leaves, size)
    return Layout(tuple(sorted(header, key=lambda ln: (ln.y0, ln.x0))), tuple(_relocate_captions(elements)),
                  size)


def _capped(lines: list[Line], size: float) -> list[Line]:
    """Sizes above the body's held to what the line's height allows. OCR gauges type by the
    pitch of its characters, which justification spreads in a narrow column; a line set larger
    is also taller. (For a text layer size and height are one measure: nothing changes.)"""
    height = _weighted_median([(ln.y1 - ln.y0, len(ln.text)) for ln in lines])
    return [ln._replace(size=max(size, min(ln.size, HEIGHT_SLACK * (ln.y1 - ln.y0) * size / height)))
            if ln.size > size and height > 0 else ln for ln in lines]


def _split_at_gutters(lines: list[Line], size: float) -> list[Line]:
    """OCR lines that run across a gutter, cut in two. The detector can join the lines of two
    columns (and the recognizer read the gutter as a comma); the lines just above and below,
    which end and start on either side of the gutter, show where it runs."""
    out = []
    for line in lines:
        cut = (_gutter_in(line, lines, size) if len(line.edges) == len(line.text) + 1
               and line.size < SUBHEAD * size else None)  # a headline may span columns
        out += [line] if cut is None else _cut_line(line, *cut)
    return out


def _gutter_in(line: Line, lines: list[Line], size: float) -> tuple[float, float] | None:
    """(end, start): a gutter inside `line`, where neighbours end and the next column starts."""
    near = [o for o in lines if o is not line and abs(o.y0 - line.y0) < 4 * size
            and o.size < SUBHEAD * size and o.x0 < line.x1 and o.x1 > line.x0]
    ends = sorted(o.x1 for o in near if line.x0 + 3 * size < o.x1 < line.x1 - 3 * size)
    for end in ends:
        stop = [o.x1 for o in near if abs(o.x1 - end) < 0.5 * size]
        starts = [o.x0 for o in near if 0.3 * size < o.x0 - end < 2.5 * size]
        if len(stop) >= 2 and len(starts) >= 2 and not any(
                o.x0 < end and o.x1 > min(starts) for o in near):
            return max(stop), min(starts)
    return None


def _cut_line(line: Line, end: float, start: float) -> list[Line]:
    """`line` as the part left of `end` and the part right of `start` (what lies between, a
    gutter, is dropped)."""
    centres = [(a + b) / 2 for a, b in zip(line.edges, line.edges[1:], strict=False)]
    parts = []
    for keep in (lambda c: c < end, lambda c: c > start):
        chosen = [i for i, c in enumerate(centres) if keep(c)]
        if chosen:
            a, b = chosen[0], chosen[-1] + 1
            edges = line.edges[a : b + 1]
            parts.append(line._replace(text=line.text[a:b], x0=edges[0], x1=edges[-1], edges=edges))
    return [p for p in parts if p.text.strip()] or [line]


def body_size(lines: list[Line]) -> float:
    """The size of most of the text: the median size weighted by characters."""
    return _weighted_median([(line.size, len(line.text)) for line in lines])


def _weighted_median(pairs: list[tuple[float, int]]) -> float:
    weighted = sorted(pairs)
    half, seen = sum(n for _, n in weighted) / 2, 0
    for value, n in weighted:
        seen += n
        if seen >= half:
            return value
    return weighted[-1][0]


# --- header ------------------------------------------------------------------------------------

def _furniture(line: Line, size: float) -> bool:
    text = line.text.strip()
    return len(text) <= 40 and (is_field(text) or bool(ORGAN.match(text)))


def _header(lines: list[Line], page_height: float, size: float) -> set[Line]:
    """Lines in the band of the page header: the top band holding furniture lines, and what is
    set beside them (a masthead in large type reaching below the header line's foot)."""
    top = min(line.y0 for line in lines)
    band = top + HEADER_BAND * (page_height - top)
    marks = [line for line in lines if line.y0 < band and _furniture(line, size)]
    if not marks:
        return set()
    bottom = max(line.y1 for line in marks) + 0.3 * size
    return {line for line in lines if (line.y0 + line.y1) / 2 <= bottom}


# --- reading order -----------------------------------------------------------------------------

def _line_gap(lines: list[Line], size: float) -> float:
    """The usual white space between two lines of a column."""
    gaps = []
    ordered = sorted(lines, key=lambda ln: (ln.x0, ln.y0))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if abs(b.x0 - a.x0) < 3 * size and 0 <= b.y0 - a.y1 < 2 * size and abs(a.size - b.size) < 0.1 * size:
            gaps.append(b.y0 - a.y1)
    return median(gaps) if gaps else 0.5 * size


def _cut(lines: list[Line], size: float, gap: float) -> list[list[Line]]:
    """Recursive XY-cut: leaves (columns or headline blocks) in reading order."""
    if len(lines) <= 1:
        return [lines] if lines else []
    for split in (_split_y, _split_columns, _split_spanning):
        parts = split(lines, size, gap)
        if len(parts) > 1:
            if split is _split_columns and all(ln.vertical for ln in parts[-1]):
                parts.insert(0, parts.pop())  # a vertical headline right of its text leads it
            return [leaf for part in parts for leaf in _cut(part, size, gap)]
    return [sorted(lines, key=lambda ln: (ln.y0, ln.x0))]


def _column_width(lines: list[Line], size: float) -> float | None:
    widths = [ln.x1 - ln.x0 for ln in lines if ln.size < SUBHEAD * size]
    return median(widths) if widths else None


def _split_x(lines: list[Line], size: float, gap: float) -> list[list[Line]]:
    """Groups separated by vertical gutters running the whole height of `lines`.

    Each line's ends are trimmed by a little (`TRIM_EMS`): an OCR box is padded beyond its
    ink, and across a narrow gutter the pads of two columns can touch.
    """
    return _split(lines, lambda ln: _trimmed(ln, size), GUTTER_EMS * size)


def _split_columns(lines: list[Line], size: float, gap: float) -> list[list[Line]]:
    """`_split_x`, but a column that starts just below the headline of the group beside it goes
    with that group: the headline is centred over its story's columns, narrower than they are."""
    parts = _split_x(lines, size, gap)
    merged = [parts[0]]
    for part in parts[1:]:
        if _below_head_of(merged[-1], part, size) or _below_head_of(part, merged[-1], size):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return merged


def _below_head_of(column: list[Line], other: list[Line], size: float) -> bool:
    """Does `column` (no headline) start right under the headline that tops `other`?"""
    if any(ln.size >= SUBHEAD * size for ln in column):
        return False
    top = min(ln.y0 for ln in other)
    head = [ln for ln in other if ln.size >= HEADLINE * size]
    if not head or min(ln.y0 for ln in head) > top + 0.5 * size:
        return False
    body = [ln.y0 for ln in other if ln.size < SUBHEAD * size]
    first_body = min(body, default=float("inf"))
    bottom = max((ln.y1 for ln in other if ln.size >= SUBHEAD * size and ln.y0 < first_body), default=None)
    if bottom is None:
        return False
    start = min(ln.y0 for ln in column)
    return bottom - 0.2 * size <= start <= bottom + 3 * size


def _trimmed(line: Line, size: float) -> tuple[float, float]:
    trim = min(TRIM_EMS * size, 0.25 * (line.x1 - line.x0))
    return line.x0 + trim, line.x1 - trim


def _split_y(lines: list[Line], size: float, gap: float) -> list[list[Line]]:
    """Bands separated by horizontal gaps wider than the line spacing of a column.

    A band without headlines joins the band above when both have a gutter at the same place:
    stories side by side, their headlines in one band and their text (below a photo, say) in
    the next, are read story by story, not band by band.
    """
    bands = _split(lines, lambda ln: (ln.y0, ln.y1), gap + 0.45 * size)
    merged = [bands[0]]
    for band in bands[1:]:
        if not any(ln.size >= HEADLINE * size for ln in band):
            groups = _split_x(merged[-1], size, 0.0)  # of the band above, side by side
            if _share_gutter(groups, band, size) or _under_one(groups, band, size):
                merged[-1] = merged[-1] + band
                continue
        merged.append(band)
    return merged


def _under_one(parts: list[list[Line]], lower: list[Line], size: float) -> bool:
    """Does `lower` lie under one of the groups side by side above it (`parts`)? Then it goes on
    with that group (a story whose text runs on below a picture set across its columns)."""
    x0, x1 = min(ln.x0 for ln in lower), max(ln.x1 for ln in lower)
    return len(parts) > 1 and any(
        x0 >= min(ln.x0 for ln in part) - size and x1 <= max(ln.x1 for ln in part) + size
        for part in parts)


def _gutters(parts: list[list[Line]]) -> list[tuple[float, float]]:
    """The gutters between groups side by side."""
    return [(max(ln.x1 for ln in a), min(ln.x0 for ln in b)) for a, b in zip(parts, parts[1:], strict=False)]


def _share_gutter(parts: list[list[Line]], lower: list[Line], size: float) -> bool:
    """Headlines side by side in the groups above (`parts`), and a gutter of theirs going on
    through `lower`. (The text of one story above and below a picture across its columns shares
    gutters too, but is read band by band.)"""
    if sum(any(ln.size >= HEADLINE * size for ln in part) for part in parts) < 2:
        return False
    return any(min(a1, b1) > max(a0, b0) for a0, a1 in _gutters(parts)
               for b0, b1 in _gutters(_split_x(lower, size, 0.0)))


def _split(lines: list[Line], span, min_gap: float) -> list[list[Line]]:
    ordered = sorted(lines, key=lambda ln: span(ln)[0])
    groups: list[list[Line]] = [[ordered[0]]]
    end = span(ordered[0])[1]
    for line in ordered[1:]:
        lo, hi = span(line)
        if lo - end >= min_gap:
            groups.append([])
        groups[-1].append(line)
        end = max(end, hi)
    return groups


def _split_spanning(lines: list[Line], size: float, gap: float) -> list[list[Line]]:
    """Cut right above and below headlines wider than a column, where nothing straddles the cut.
    The last line of such a headline may be short (`会议` under a line across the page), and a
    sub-headline under it narrower than a column: a line of either size right under a spanning
    one spans too."""
    column = _column_width(lines, size)
    if column is None:
        return [lines]
    ordered = sorted(lines, key=lambda ln: (ln.y0, ln.x0))
    spanning = {ln for ln in ordered if ln.size >= SUBHEAD * size and ln.x1 - ln.x0 > 1.3 * column}
    for ln in ordered:
        if ln.size >= SUBHEAD * size and any(
                -BOX_OVERLAP * ln.size <= ln.y0 - above.y1 < 1.2 * ln.size and min(ln.x1, above.x1) > max(ln.x0, above.x0)
                for above in spanning):
            spanning.add(ln)
    cuts = []
    reach = ordered[0].y1
    for i in range(1, len(ordered)):
        before, after = ordered[i - 1], ordered[i]
        if reach <= after.y0 + 0.15 * size and (before in spanning or after in spanning):
            cuts.append(i)
        reach = max(reach, after.y1)
    bounds = [0, *cuts, len(ordered)]
    return [ordered[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


# --- roles -------------------------------------------------------------------------------------

def _kind(line: Line, size: float, prev: Line | None = None) -> str:
    """head, sub, small or body. A line of a few characters is too short to measure (OCR
    gauges type by character pitch): below headline sizes it goes with the line before it."""
    if line.size >= HEADLINE * size:
        return "head"
    if line.size >= SUBHEAD * size:
        return "sub"
    if len(line.text.strip()) <= SHORT:
        kind = _kind(prev, size) if prev is not None else "body"
        return kind if kind in ("small", "body") else "body"
    return "small" if line.size <= SMALL * size else "body"


def _under(above: Line, line: Line) -> bool:
    """`line` continues `above` on the next line of the same block."""
    return (-BOX_OVERLAP * line.size <= line.y0 - above.y1 < 0.8 * line.size
            and min(line.x1, above.x1) > max(line.x0, above.x0))


def _elements(leaves: list[list[Line]], size: float) -> list[Element]:
    """Headlines, paragraphs and captions from the leaves in reading order."""
    out: list[Element] = []
    para = -1  # the paragraph a line that is not indented continues
    tail: tuple[Line, str] | None = None  # the previous leaf's last line and its kind
    for leaf in leaves:
        # a leaf that starts on the baseline where the one before ended is the rest of that
        # printed line, cut off at a gap (a caption's credit after `。`): it reads as that line
        carry = tail if tail is not None and _beside(tail[0], leaf[0], size) else (None, None)
        kinds, prev = [], carry[0]
        for line in leaf:
            kinds.append(_kind(line, size, prev))
            prev = line
        tail = (leaf[-1], kinds[-1])
        body = [ln for ln, kind in zip(leaf, kinds, strict=True) if kind == "body"]
        left = min((ln.x0 for ln in body), default=0.0)
        right = max((ln.x1 for ln in body), default=0.0)
        prev, prev_kind = carry
        for line, kind in zip(leaf, kinds, strict=True):
            last = out[-1] if out else None
            if kind in ("head", "sub"):
                level = 1 if kind == "head" else 2
                if last and last.kind == "head" and last.level == level and _under(last.lines[-1], line):
                    out[-1] = last._replace(lines=last.lines + (line,))  # a headline on two lines
                else:
                    out.append(Element("head", (line,), level))
                para = -1
            elif kind == "small":
                if last and last.kind == "caption" and prev_kind == "small":
                    out[-1] = last._replace(lines=last.lines + (line,))
                else:
                    out.append(Element("caption", (line,)))
            elif para < 0 or not _beside(prev, line, size) and (line.x0 - left >= INDENT_EMS * size or (
                    prev_kind == "body" and ends_sentence(prev.text) and prev.x1 < right - 1.5 * size)):
                out.append(Element("para", (line,)))  # a paragraph starts
                para = len(out) - 1
            else:
                out[para] = out[para]._replace(lines=out[para].lines + (line,))
            prev, prev_kind = line, kind
    return [_settle(e, out, i, size) for i, e in enumerate(out)]


def _beside(prev: Line | None, line: Line, size: float) -> bool:
    """`line` is the rest of the printed line `prev`, cut off at a gap (on its baseline, to its
    right): it goes on with it, whatever its left edge says."""
    return prev is not None and abs(line.y0 - prev.y0) < 0.5 * size and line.x0 >= prev.x1 - 0.5 * size


def _settle(element: Element, elements: list[Element], i: int, size: float) -> Element:
    """Final roles: captions from their type and words; a sub-headline alone is an intertitle."""
    if element.kind == "para":
        text = "".join(ln.text for ln in element.lines)
        if len(element.lines) <= 6 and "图为" in text[:12] and _CREDIT.search(text):
            return element._replace(kind="caption")
        return element
    if element.level == 2:
        near = [elements[j] for j in (i - 1, i + 1) if 0 <= j < len(elements)]
        if not any(e.kind == "head" and e.level == 1 for e in near):
            return element._replace(level=3)
    return element


def _relocate_captions(elements: list[Element]) -> list[Element]:
    """Each caption moved to the end of its story (before the next headline, and before the
    reporter's name in brackets that closes the story)."""
    out: list[Element] = []
    held: list[Element] = []

    def settle() -> None:
        at = len(out) - 1 if out and _closer(out[-1]) else len(out)
        out[at:at] = held
        held.clear()

    for element in elements:
        if element.kind == "caption":
            held.append(element)
            continue
        if element.kind == "head" and element.level == 1 and held:
            settle()
        out.append(element)
    settle()
    return out


def _closer(element: Element) -> bool:
    return element.kind == "para" and bool(_CLOSER.fullmatch("".join(ln.text for ln in element.lines).strip()))


def element_text(element: Element) -> str:
    """A headline's lines joined into one line of text. A line that ends short of the widest
    was broken on purpose, between two phrases, which one line of text shows as a space; a line
    that ran the full width was broken where the width ran out, mid-phrase."""
    widest = max(line.x1 - line.x0 for line in element.lines)
    text = element.lines[0].text.strip()
    for above, line in zip(element.lines, element.lines[1:], strict=False):
        part = line.text.strip()
        short = widest - (above.x1 - above.x0) > 1.5 * above.size
        text += (" " if short else joiner(text, part)) + part
    return text

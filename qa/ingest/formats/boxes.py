"""From characters of a paragraph to boxes on its printed page.

A paragraph's text was joined from its lines (spaces dropped, hyphens healed), so it is
aligned with the lines' text character by character, white space aside. An answer span then
maps to a stretch of characters on one or more lines, and each stretch to a box: from the
characters' own edges when the text layer gave them, else spread evenly along the line (CJK
type is set on a square grid, so this is close for OCR lines too).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from qa.types import LineBox


def _squash(text: str) -> tuple[str, list[int]]:
    kept = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


def align(text: str, lines: list[LineBox]) -> dict[int, tuple[int, int]]:
    """Position in `text` -> (index in `lines`, position in that line's text), where they match."""
    para, para_at = _squash(text)
    stream, places = "", []
    for n, line in enumerate(lines):
        squashed, at = _squash(line.text)
        stream += squashed
        places += [(n, i) for i in at]
    matcher = SequenceMatcher(None, para, stream, autojunk=False)
    out = {}
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            out[para_at[a + k]] = places[b + k]
    return out


def span_boxes(text: str, start: int, end: int, lines: list[LineBox]) -> list[LineBox]:
    """Boxes around characters [start, end) of `text`, one per printed line they fall on."""
    where = align(text, lines)
    stretches: dict[int, list[int]] = {}
    for pos in range(max(0, start), min(end, len(text))):
        if pos in where:
            n, i = where[pos]
            stretches.setdefault(n, []).append(i)
    return [_part(lines[n], min(found), max(found) + 1) for n, found in sorted(stretches.items())]


def paragraph_boxes(text: str, lines: list[LineBox]) -> list[LineBox]:
    """The lines that hold characters of `text` (not a headline printed among them)."""
    used = {n for n, _ in align(text, lines).values()}
    return [line for n, line in enumerate(lines) if n in used]


def _part(line: LineBox, a: int, b: int) -> LineBox:
    """The box of characters [a, b) of a line."""
    size = len(line.text)
    if len(line.edges) == size + 1:
        x0, x1 = line.edges[a], line.edges[b]
    else:
        step = (line.x1 - line.x0) / max(size, 1)
        x0, x1 = line.x0 + a * step, line.x0 + b * step
    return line._replace(x0=x0, x1=x1, text=line.text[a:b], edges=())

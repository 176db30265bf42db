"""Text repair that keeps the original: join hard-wrapped lines, drop print-break spaces, split sentences.

Display text stays faithful to the page: its punctuation is not rewritten.
"""

from __future__ import annotations

import re

from qa.text import SENTENCE_ENDS, is_cjk

TERMINAL = SENTENCE_ENDS + "…"  # a sentence may end here
CLOSERS = "”’\"'）)』」》】"  # may follow a terminal mark
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]+")


def _word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "%.+-/&")


def fix_spaces(text: str) -> str:
    """Remove white space that a print line break left next to Chinese; keep it between Latin words.

    `记住一 些概念` -> `记住一些概念`, `11 月 18 日` -> `11月18日`, `Kaji Dha` unchanged.
    """
    return fix_spaces_mapped(text)[0]


def fix_spaces_mapped(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`fix_spaces`, plus (output offset, input offset) at the start of each piece kept."""
    out: list[str] = []
    anchors: list[tuple[int, int]] = [(0, 0)]
    size, pos = 0, 0
    for m in _SPACES.finditer(text):
        out.append(text[pos : m.start()])
        size += m.start() - pos
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        if before and after and not is_cjk(before) and not is_cjk(after):
            out.append(" ")
            size += 1
        pos = m.end()
        anchors.append((size, pos))
    out.append(text[pos:])
    return "".join(out), anchors


def joiner(left: str, right: str) -> str:
    """What goes between two wrapped lines: nothing, or a space between two Latin words."""
    if left and right and _word(left[-1]) and _word(right[0]) and left[-1] not in "-/":
        return " "
    return ""


def seam(left: str, right: str) -> tuple[int, str]:
    """How to join two hard-wrapped lines: characters to drop from `left`'s end, and a separator.

    A hyphen that split a Latin word (`PT-` + `MEG`) is dropped, unless the word is a link of
    a hyphenated chain (`乙炔-BDO-` + `PTMEG`); Latin words get a space.
    """
    word = re.search(r"[A-Za-z]+-$", left)
    if (word and len(left) > 2 and right[:1].isascii() and right[:1].isalpha()
            and left[word.start() - 1: word.start()] != "-"):
        return 1, ""
    return 0, joiner(left, right)


def ends_sentence(text: str) -> bool:
    """True when `text` ends with sentence-final punctuation, possibly followed by closing quotes."""
    stripped = text.rstrip(CLOSERS + " ")
    return bool(stripped) and stripped[-1] in TERMINAL


_SENTENCE_END = re.compile(f"[{re.escape(TERMINAL)}]+[{re.escape(CLOSERS)}]*")
_CLAUSE_END = re.compile(r"[，,、：:]\s*")


def split_long(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Spans that cut `text` into pieces of at most `max_chars`, at sentence ends where possible."""
    if len(text) <= max_chars:
        return [(0, len(text))]
    spans, start = [], 0
    while len(text) - start > max_chars:
        window = text[start : start + max_chars]
        cut = _last_end(_SENTENCE_END, window) or _last_end(_CLAUSE_END, window) or max_chars
        if cut < max_chars // 4:  # a cut that leaves a crumb: prefer a clause break or a hard cut
            cut = _last_end(_CLAUSE_END, window) or max_chars
        spans.append((start, start + cut))
        start += cut
    if len(text) - start < max_chars // 10:  # no crumb at the end: the last piece runs a bit long
        spans[-1] = (spans[-1][0], len(text))
    else:
        spans.append((start, len(text)))
    return spans


def _last_end(pattern: re.Pattern, window: str) -> int:
    last = 0
    for m in pattern.finditer(window):
        last = m.end()
    return last

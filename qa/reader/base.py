"""What every answerer shares: the `Answerer` protocol, sentence bounds and span edges.

An answerer reads passages and returns `Span`s (character offsets into the passage as given,
end exclusive) scored on its own scale; it carries the threshold below which its answers are
withheld, so that the pipeline never applies one answerer's threshold to another's scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

from qa.text import SENTENCE_ENDS
from qa.types import Span


class Answerer(Protocol):
    name: str  # which answerer, and on what runtime: recorded with every answer
    threshold: float  # answers scoring below this are withheld
    scale: str  # what the score means, for people reading the threshold

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """Candidate answer spans in `passages`, best first; empty when nothing fits.

        `contexts` (headline, newspaper) per passage may back up a passage's support for the
        question; answers always come from the passages themselves.
        """
        ...

    def confidence(self, score: float) -> float:
        """The probability that a best span with this score is right (calibrated on
        validation questions, unanswerable ones included)."""
        ...


def platt(score: float, a: float, b: float) -> float:
    """sigmoid(a * logit(score) + b): a score on one scale mapped to a probability."""
    s = min(max(score, 1e-6), 1 - 1e-6)
    z = a * math.log(s / (1 - s)) + b
    return 1 / (1 + math.exp(-z))


def shift(score: float, by: float) -> float:
    """The score whose logit is `score`'s plus `by`."""
    return platt(score, 1.0, by)


SENTENCE_END = SENTENCE_ENDS + "\n"
CLOSERS = "”’」』）)》\"'"
CLAUSE_END = "，,、：:" + SENTENCE_END
PUNCT = set(CLAUSE_END + CLOSERS + "“‘「『（(《〈〉·…—-－ 　\t")
# Characters too common to anchor an alignment on their own.
LIGHT = set("的了是在和与及或也都就而其之为于以由对被把将着过并该个这那有")


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, closing punctuation and quotes included, blanks skipped."""
    spans, start, i, n = [], 0, 0, len(text)
    while i < n:
        if text[i] in SENTENCE_END:
            j = i + 1
            while j < n and (text[j] in SENTENCE_END or text[j] in CLOSERS) and text[j] != "\n":
                j += 1
            spans.append((start, j))
            start = i = j
        else:
            i += 1
    spans.append((start, n))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def relative(scores: Sequence[float] | None, n: int) -> list[float]:
    """Retrieval scores scaled so the best passage has 1; passage order when none are given."""
    if scores is None or len(scores) != n:
        return [1 / (1 + i) for i in range(n)]
    top = max(scores, default=0.0)
    return [max(x, 0.0) / top if top > 0 else 1 / (1 + i) for i, x in enumerate(scores)]


def trim(passage: str, a: int, b: int) -> tuple[int, int]:
    """Strip white space, punctuation and dangling particles from both ends."""
    while a < b and (passage[a] in PUNCT or passage[a] in "是为了的由在于被" or passage[a].isspace()):
        a += 1
    while b > a and (passage[b - 1] in PUNCT or passage[b - 1] in "的了是" or passage[b - 1].isspace()):
        b -= 1
    return a, b


PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "（": "）", "(": ")", "《": "》", "〈": "〉",
         "【": "】", "[": "]", '"': '"', "'": "'"}
_CLOSING = {v: k for k, v in PAIRS.items()}


def tidy(passage: str, a: int, b: int) -> tuple[int, int]:
    """Strip white space, clause punctuation and unpaired brackets or quotes from both ends:
    what a model that reads characters leaves at a span's edges. Words stay whole (unlike
    `trim`, which also drops particles such as 的 and 是 for the rules). A bracket left open
    inside is closed when its partner comes next (天正16年（1588年 → …（1588年）), else the
    span ends before it (12个(机器人8个 → 12个); likewise a bracket closed inside that opened
    just before the span, or not."""
    while True:
        a0, b0 = a, b
        while a < b and (passage[a].isspace() or passage[a] in CLAUSE_END):
            a += 1
        while b > a and (passage[b - 1].isspace() or passage[b - 1] in CLAUSE_END):
            b -= 1
        if a < b and (passage[a] in _CLOSING and passage[a] not in PAIRS
                      or passage[a] in PAIRS and PAIRS[passage[a]] not in passage[a + 1 : b]):
            a += 1
        if b > a and (passage[b - 1] in PAIRS and passage[b - 1] not in _CLOSING
                      or passage[b - 1] in _CLOSING
                      and _CLOSING[passage[b - 1]] not in passage[a : b - 1]):
            b -= 1
        a, b = _balance(passage, a, b)
        if (a, b) == (a0, b0):
            return a, b


def _balance(passage: str, a: int, b: int) -> tuple[int, int]:
    """The span with its first unbalanced bracket inside mended (see `tidy`)."""
    opened: list[int] = []
    for i in range(a, b):
        ch = passage[i]
        if ch in _CLOSING and ch not in PAIRS:
            if opened and PAIRS[passage[opened[-1]]] == ch:
                opened.pop()
            elif a > 0 and passage[a - 1] == _CLOSING[ch]:
                return a - 1, b
            else:
                return i + 1, b
        elif ch in PAIRS and ch not in _CLOSING:
            opened.append(i)
    if opened:
        if b < len(passage) and passage[b] == PAIRS[passage[opened[-1]]]:
            return a, b + 1
        return a, opened[0]
    return a, b


def best_first(spans: Iterable[Span]) -> list[Span]:
    """One span per place (passage, start, end), the highest-scoring; best first."""
    best: dict[tuple[int, int, int], Span] = {}
    for span in spans:
        key = (span.passage_index, span.start, span.end)
        if key not in best or best[key].score < span.score:
            best[key] = span
    return sorted(best.values(), key=lambda sp: (-sp.score, sp.passage_index, sp.start))

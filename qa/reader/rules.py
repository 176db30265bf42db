"""The rule-based answerer: question type + alignment, no model needed.

For the sentences that share the most (IDF-weighted) words with the question, it takes the gap
the question word left open, or failing that the nearest phrase of the wanted type, and scores
each candidate with a logistic calibration over a few features (`FEATURES`), fitted on
development questions by `benchmarks/tune_answer.py --fit`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from qa.index.lexical import fold, fold_aligned
from qa.reader.base import (
    CLAUSE_END,
    LIGHT,
    PUNCT,
    SENTENCE_END,
    best_first,
    relative,
    sentences,
    trim,
)
from qa.reader.measure import PERCENT, SHARE, UNITS, wanted_unit
from qa.reader.question import (
    CLAUSE,
    COUNT_TAIL,
    NUMBER,
    NUMERAL,
    PLACE,
    THING,
    WHICH_N,
    Question,
    absent,
    align,
    analyse,
    overlap,
    typed,
)
from qa.reader.shape import shaped
from qa.types import Span


@dataclass(frozen=True)
class Candidate:
    """A span before calibration, with the evidence for it (see FEATURES)."""

    passage: int
    start: int
    end: int
    sentence: tuple[int, int]
    features: tuple[float, ...]


FEATURES = ("overlap", "anchor", "typed", "retrieval", "sentence", "fallback", "absent")


# Logistic calibration over Candidate.features, fitted on development questions
# (benchmarks/tune_answer.py --fit): P(answer right | features).
_COEF = (2.41, 0.78, 0.90, 0.84, 1.00, 0.53, -1.06)
_BIAS = -5.32


def _calibrated(features: Sequence[float]) -> float:
    z = _BIAS + sum(c * f for c, f in zip(_COEF, features, strict=True))
    return 1 / (1 + math.exp(-z))


class RuleAnswerer:
    """Question-type + alignment span extraction for Chinese; no model needed."""

    name = "rules"
    scale = "calibrated probability that the span is right (logistic fit on development questions)"

    # 0.125 keeps every unanswerable development question withheld (benchmarks/tune_answer.py)
    def __init__(self, sentences_per_question: int = 4, max_span: int = 40,
                 threshold: float = 0.125):
        self.sentences_per_question = sentences_per_question
        self.max_span = max_span
        self.threshold = threshold

    def confidence(self, score: float) -> float:
        return score  # the score is already a calibrated probability

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        spans = [Span(c.passage, c.start, c.end, passages[c.passage][c.start : c.end],
                      c.sentence[0], c.sentence[1], _calibrated(c.features))
                 for c in self.candidates(question, passages, retrieval_scores, contexts)]
        return best_first(shaped(question, analyse(question), passages, spans))

    def candidates(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Candidate]:
        """Uncalibrated candidate spans from the best-matching sentences (for tuning)."""
        q = analyse(question)
        rel = relative(retrieval_scores, len(passages))
        scored = []
        for p, passage in enumerate(passages):
            view = _View.of(passage)
            context = fold(contexts[p]) if contexts and p < len(contexts) else ""
            missing = absent(q, view.folded + "\n" + context)
            for s, e in sentences(view.text):
                scored.append((overlap(q, view.folded[s:e]), p, s, e, view, missing))
        scored.sort(key=lambda x: (-(x[0] + 0.15 * rel[x[1]]), x[1], x[2]))
        candidates: list[Candidate] = []
        for ov, p, s, e, view, missing in scored[: self.sentences_per_question]:
            candidates += self._candidates(q, view, p, s, e, ov, rel[p], missing)
        return candidates

    def _candidates(self, q: Question, view: _View, p: int, s: int, e: int,
                    ov: float, rel: float, missing: float) -> list[Candidate]:
        sent = view.folded[s:e]
        keep = view.keep
        qpos = align(q, sent)
        clause = q.kind == CLAUSE
        listing = q.kind == THING and re.fullmatch(WHICH_N, q.text[q.wh_start : q.wh_end])
        stops = SENTENCE_END if clause else CLAUSE_END.replace("、", "") if listing else CLAUSE_END
        out = []

        def add(a: int, b: int, anchor: float, typed: float) -> None:
            if listing and (m := COUNT_TAIL.search(view.text, s + a, s + b)):
                b = m.start() - s  # the list, without the count the question asked about
            a, b = trim(view.text, s + a, s + b)
            if b > a and b - a <= (3 * self.max_span if clause else self.max_span):
                out.append(Candidate(p, keep[a], keep[b - 1] + 1, (keep[s], keep[e - 1] + 1),
                                     (ov, anchor, typed, rel, 0.0, 0.0, missing)))

        runs = _runs(sent, qpos, stops)
        anchors = [_anchor(q, qpos, a, b) for a, b in runs]
        if q.kind == THING:
            for (a, b), anchor in zip(runs, anchors, strict=True):
                if anchor:
                    add(a, b, anchor, 0.5)
        elif q.kind != CLAUSE:
            ordinal = "第" in q.text[q.wh_start : q.wh_end]
            # 多少名 asks for a count of 名: a number with another measure word fits less well
            unit = re.match(UNITS, q.right) if q.kind == NUMBER else None
            share = q.kind == NUMBER and SHARE.search(q.clause) is not None
            measure = wanted_unit(q.clause) if q.kind == NUMBER and not unit else None
            for ta, tb in typed(q.kind, sent):
                if q.kind == NUMBER and (sent[ta] == "第") != ordinal:
                    continue
                if 2 * sum(x >= 0 for x in qpos[ta:tb]) > tb - ta:
                    continue  # mostly question words: the question's own entity
                run = next((i for i, (a, b) in enumerate(runs) if a <= ta < b or a < tb <= b), None)
                fit = 0.5 if unit and unit.group() not in sent[ta:tb] else 1.0
                if share and not PERCENT.search(sent[ta:tb]) or (
                        measure and not measure.search(sent[ta:tb])):
                    fit = 0.5
                if run is not None and anchors[run]:
                    # the phrase fills the question word's gap; a place keeps its whole gap
                    # (泰国的首都曼谷的乍都节县)
                    if q.kind == PLACE:
                        ta, tb = min(ta, runs[run][0]), max(tb, runs[run][1])
                    add(ta, tb, anchors[run], fit)
                else:
                    add(ta, tb, 0.5 / _distance(qpos, ta, tb), fit)
            for (a, b), anchor in zip(runs, anchors, strict=True):
                if q.kind == NUMBER and not NUMERAL.search(sent[a:b]):
                    continue  # a gap without a numeral does not count anything
                if anchor and not any(keep[s + a] < c.end and c.start < keep[s + b - 1] + 1 for c in out):
                    add(a, b, anchor, 0.0)
        # The sentence itself answers a why/how question, and stands in when no gap or
        # typed phrase pins the answer down.
        out.append(Candidate(p, keep[s], keep[e - 1] + 1, (keep[s], keep[e - 1] + 1),
                             (ov, 0.0, 0.5, rel, 1.0, 0.0, missing) if q.kind in (THING, CLAUSE)
                             else (ov, 0.0, 0.0, rel, 0.0, 1.0, missing)))
        return out


class _View(NamedTuple):
    """A passage without its white space (print line breaks leave stray spaces: 俞 忠波)."""

    text: str
    folded: str
    keep: list[int]  # view offset -> passage offset

    @classmethod
    def of(cls, passage: str) -> _View:
        keep = [i for i, ch in enumerate(passage) if ch == "\n" or not ch.isspace()]
        text = "".join(passage[i] for i in keep)
        return cls(text, fold_aligned(text), keep)


def _runs(sent: str, qpos: list[int], stops: str) -> list[tuple[int, int]]:
    """Maximal unmatched stretches of the sentence, cut at `stops` punctuation."""
    runs, start = [], None
    for i, ch in enumerate(sent + "。"):
        free = i < len(sent) and qpos[i] < 0 and ch not in stops
        if free and start is None:
            start = i
        elif not free and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _anchor(q: Question, qpos: list[int], a: int, b: int) -> float:
    """How well the stretch [a, b) sits where the question word is: 0, 1 (one side) or 2."""
    left = qpos[a - 1] if a > 0 else -1
    right = qpos[b] if b < len(qpos) else -1
    score = 0.0
    if left >= 0 and q.wh_start - 3 <= left < q.wh_start and _gap_is_light(q.text, left + 1, q.wh_start):
        score += 1
    if right >= 0 and q.wh_end <= right < q.wh_end + 3 and _gap_is_light(q.text, q.wh_end, right):
        score += 1
    # News puts counts after the noun (实施重点项目296个 for 实施多少个重点项目): the stretch right
    # after the question's last word answers a question that ends with what it counts.
    if (q.kind == NUMBER and left >= q.wh_end and score == 0
            and _gap_is_light(q.text, left + 1, q.wh_end + len(q.right))):
        score += 0.5
    return score


def _gap_is_light(text: str, a: int, b: int) -> bool:
    return all(ch in LIGHT or ch in PUNCT for ch in text[a:b])


def _distance(qpos: list[int], a: int, b: int) -> int:
    """Characters between [a, b) and the nearest aligned character."""
    matched = [i for i, x in enumerate(qpos) if x >= 0]
    if not matched:
        return len(qpos)
    return max(1, min(a - i if i < a else i - b + 1 if i >= b else 1 for i in matched))

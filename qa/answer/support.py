"""How far an answer can be trusted: its confidence level, the other passages that give the
same answer, and the different answers that dated passages give over time.

Everything here works on an answerer's spans (`Span.passage_index` indexes the passages read)
and the probability `Answerer.confidence(score)` gives; it reads no index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from qa.index.lexical import fold
from qa.types import Span

# Levels on the probability that the answer is right (the answerer's own calibration): at
# HIGH or above more likely right than not; below MEDIUM a guess, shown as "可能是…".
HIGH = 0.5
MEDIUM = 0.3
LEVELS = ("low", "medium", "high")
LEVEL_NAMES = {"high": "高", "medium": "中", "low": "低"}
# A dated answer joins a timeline when it scores at least this share of the best answer.
TIMELINE_SHARE = 0.5
TIMELINE_MAX = 6

_NOT_WORD = re.compile(r"[\W_]+")


def level(probability: float, agreeing: int = 1, high: float = HIGH, medium: float = MEDIUM) -> str:
    """"high", "medium" or "low" for a probability (from `high`, from `medium`); agreement of
    two or more articles raises it one step (their passages were read on their own and gave
    the same answer)."""
    step = 2 if probability >= high else 1 if probability >= medium else 0
    if agreeing >= 2:
        step = min(step + 1, 2)
    return LEVELS[step]


def describe(level_: str, probability: float, agreeing: int = 1) -> str:
    """A level as people read it: 可信度 高 · 62%. When articles agree, the probability (one
    passage's) is a floor: 可信度 高 · ≥31%."""
    floor = "≥" if agreeing >= 2 else ""
    return f"可信度 {LEVEL_NAMES[level_]} · {floor}{round(100 * probability)}%"


def answer_key(text: str) -> str:
    """What two answers must share to be the same: folded text without spaces or punctuation
    (「34家」 and "34 家" agree; 34家 and 35家 do not)."""
    return _NOT_WORD.sub("", fold(text))


def same_answer(a: str, b: str) -> bool:
    """Whether two answers are one, up to what a span takes in beside it: 近5万人次 and 5万人次,
    100万亿元 and 100万亿元台 are; 5% and 15%, 34家 and 35家 are not (a number is never part of
    a longer one)."""
    short, long = sorted((answer_key(a), answer_key(b)), key=len)
    at = long.find(short) if short else -1
    if at < 0:
        return False
    end = at + len(short)
    return not (at > 0 and long[at - 1].isdigit() and short[0].isdigit()) and \
        not (end < len(long) and long[end].isdigit() and short[-1].isdigit())


def agreeing(best: Span, spans: Sequence[Span], threshold: float) -> dict[int, Span]:
    """Other passages that give the best span's answer: passage index -> its span there.

    A passage agrees when the answerer, reading it, picks the same answer with a score of at
    least `threshold` (merely containing the words is not enough: a name in a byline is no
    evidence). `spans` are best first per passage; the first that agrees counts.
    """
    key = answer_key(best.text)
    found: dict[int, Span] = {}
    for s in spans:
        if (s.passage_index != best.passage_index and s.passage_index not in found
                and s.score >= threshold and answer_key(s.text) == key):
            found[s.passage_index] = s
    return found


def unconfirmed(best: Span, passages: Sequence[str], agreed: Mapping[int, Span]) -> list[int]:
    """Passages that hold the best answer's words but have not been seen to give it: the
    answer stage reads these again, closely, before deciding who agrees."""
    key = answer_key(best.text)
    return [i for i, text in enumerate(passages)
            if i != best.passage_index and i not in agreed and key and key in answer_key(text)]


class Timeline(NamedTuple):
    """Dated answers that differ: one per date, newest first (`entries`, [] when they agree), and
    other articles of the best answer's own date that give another answer (`conflicts`)."""

    entries: list[Span]
    conflicts: list[Span]


def timeline(best: Span, spans: Sequence[Span], dates: Sequence[str | None],
             articles: Sequence[str], threshold: float,
             fits: Callable[[Span], bool] = lambda _: True) -> Timeline:
    """The answers of dated articles that compare with the best one: each scores at least
    TIMELINE_SHARE of it (and `threshold`), answers in the same kind (a figure for a figure) and
    `fits` the question (its subject, its measure); the best span must be dated.

    A date gives one entry (its best span); a timeline needs two dates with different answers.
    Another answer on the best one's own date is a conflict, never a timeline entry.
    """
    if not dates[best.passage_index]:
        return Timeline([], [])
    floor = max(threshold, TIMELINE_SHARE * best.score)
    figure = _has_digit(best.text)
    day = dates[best.passage_index]
    per_date: dict[str, Span] = {day: best}
    conflicts: dict[str, Span] = {}
    for s in spans:  # best first
        when, article = dates[s.passage_index], articles[s.passage_index]
        if (not when or s.score < floor or _has_digit(s.text) != figure or s is best
                or not fits(s)):
            continue
        if when == day:
            if not same_answer(s.text, best.text) and article != articles[best.passage_index]:
                conflicts.setdefault(article, s)
        else:
            per_date.setdefault(when, s)
    chosen = sorted(per_date.values(), key=lambda s: dates[s.passage_index], reverse=True)
    if all(same_answer(s.text, chosen[0].text) for s in chosen):
        chosen = []
    return Timeline(chosen[:TIMELINE_MAX], list(conflicts.values()))


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() or ch in "零〇一二三四五六七八九十百千万亿两" for ch in text)

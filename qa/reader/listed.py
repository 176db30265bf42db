"""The element of a 分别 list that a number question names.

News gives the figures of several things in one breath: 云计算和大数据收入分别同比增长12.3%和61.6%;
造船完工量、新接订单量、手持订单量…，三大指标分别占世界市场份额的55.1%、74.7%和61.4%;
东北虎、东北豹数量分别从27只、42只增长到70只、80只左右. A reader often marks the whole list or
its first value. The things are named before 分别 (or in the clause before, when a summary such
as 三大指标 leads the 分别 clause), the values after it, in the same order; the value asked is
the one whose thing the question names best, by the characters that tell that thing from the
others (大数据收入 against 云计算: 大, 数, 据, 收, 入).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from qa.index.lexical import fold_aligned
from qa.reader.measure import ASKS_OLD, BOUND, CHANGE_TO, COUNT_WORDS, DIGIT, UNITS
from qa.text import HAN
from qa.types import Span

_VALUE = re.compile(rf"(?:约|近|超过|超|逾)?[\d０-９][\d０-９.．,]*(?:[多余餘])?(?:[万亿萬億])*"
                    rf"(?:{UNITS}|{COUNT_WORDS})*(?:{BOUND.pattern})?")
_CLAUSE = re.compile(r"[，；;。：:]|,(?!\d{3})")
_ITEM = re.compile(r"[、和及与]")
_LEAD = re.compile(r"^(?:其中|包括|对|向|在)")  # the clause's words before the first thing
_CHANGE_TO = re.compile(CHANGE_TO)
_HAN = re.compile(f"[{HAN}]")
_BEST_SHARE = 0.5  # the question names more than this share of the chosen thing's own characters


def listed_value(question: str, passage: str, span: Span,
                 fits: Callable[[str], bool] = lambda _: True) -> Span:
    """`span` moved to the value of a 分别 list of its sentence whose thing the question names
    (the reader marked the whole list, another element, or a value beside the list: the
    group's total before 其中…分别); `span` itself when there is no such list, no one thing
    is named best, or its value is not the kind asked (`fits`)."""
    lo, hi = span.sentence_start, span.sentence_end
    head = passage.rfind("分别", lo, span.start + 1)
    if head < 0:
        head = passage.find("分别", span.end, hi)
    if head < 0 or not DIGIT.search(span.text):
        return span
    after = head + 2
    cut = _CLAUSE.search(passage, after, hi)
    end = cut.start() if cut else hi
    values = [m for m in _VALUE.finditer(passage, after, end) if _HAN.search(m.group()) or "%" in
              m.group()]
    things = _things(passage, lo, head)
    if len(things) < 2:
        return span
    if len(values) == 2 * len(things) and _CHANGE_TO.search(passage, values[len(things) - 1].end(),
                                                           values[len(things)].start()):
        values = values[:len(things)] if ASKS_OLD.search(question) else values[len(things):]
    if len(values) != len(things):
        return span
    chosen = _named(question, things)
    if chosen is None:
        return span
    v = values[chosen]
    if (v.start(), v.end()) == (span.start, span.end) or not fits(v.group()):
        return span
    return replace(span, start=v.start(), end=v.end(), text=v.group())


def _things(passage: str, lo: int, head: int) -> list[str]:
    """The things listed before 分别 at `head`: in its own clause, else in the clause before."""
    cuts = [m.end() for m in _CLAUSE.finditer(passage, lo, head)]
    starts = [lo, *cuts]
    for a, b in ((starts[-1], head), (starts[-2], starts[-1] - 1) if len(starts) > 1 else (0, 0)):
        items = [_LEAD.sub("", t.strip()) for t in _ITEM.split(passage[a:b]) if t.strip()]
        if len(items) >= 2:
            return items
    return []


def _named(question: str, things: list[str]) -> int | None:
    """Which thing the question names best, by the characters that only some things have; None
    when none is named well enough or two are named as well."""
    # the noun the things share follows the last one (白鹤、丹顶鹤数量): it tells none apart
    things = [*things[:-1], things[-1][:max(len(t) for t in things[:-1])]]
    sets = [set(_HAN.findall(fold_aligned(t))) for t in things]
    common = set.intersection(*sets)
    asked = set(fold_aligned(question))
    shares = [len((s - common) & asked) / len(s - common) if s - common else 0.0 for s in sets]
    best = max(range(len(shares)), key=shares.__getitem__)
    if shares[best] <= _BEST_SHARE or sorted(shares)[-2] == shares[best]:
        return None
    return best

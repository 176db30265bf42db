"""The time a question asks about: an explicit year or month (2023年, 2023年10月, in 2023) or a
relative one (今年, 去年, 前年, 本月, 上个月, this year, last year) resolved against the day of
asking, and the publication dates of the reports that can be about it.

A figure is reported after its period (a year's total in the next spring, a holiday's the week
after), so the reports considered for a year run from its first day to the end of the next
year, never past the day of asking. Questions naming no time, or several, are not narrowed.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import NamedTuple

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!代)(?:\s*(\d{1,2})\s*月)?")
_ENGLISH_YEAR = re.compile(r"\b(?:in|of|for|during|since)\s+((?:19|20)\d{2})\b", re.I)
_SINCE = re.compile(r"\s*(?:以来|以後|以后|起|至今)")  # matched where the year ends
_RELATIVE_YEAR = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2}
_RELATIVE = re.compile("|".join(_RELATIVE_YEAR) + r"|this year|last year", re.I)
_RELATIVE_MONTH = re.compile(r"本月|这个月|這個月|上个月|上個月|上月|this month|last month", re.I)
_MONTH_IN_YEAR = re.compile(r"\s*(\d{1,2})\s*月")


class Period(NamedTuple):
    start: date
    end: date
    label: str  # as the reply names it: 2023年, 今年（2026年）

    def reports(self, asked_on: date) -> tuple[str, str]:
        """The publication dates (ISO, inclusive) of the reports that can be about it: from two
        months before it (a year's plan is announced in the December before) to the end of the
        next year for a year, two months after it for a month, never past the day of asking."""
        year, month0 = divmod(self.start.year * 12 + self.start.month - 1 - 2, 12)
        first = date(year, month0 + 1, 1)
        last = date(self.end.year + 1, 12, 31) if self.end.month == 12 and self.end.day == 31 \
            else _add_months(self.end, 2)
        return first.isoformat(), min(last, max(asked_on, self.start)).isoformat()


def _add_months(day: date, n: int) -> date:
    month = day.month - 1 + n
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _year(y: int, label: str) -> Period:
    return Period(date(y, 1, 1), date(y, 12, 31), label)


def _month(y: int, m: int, label: str) -> Period | None:
    if not 1 <= m <= 12:
        return None
    return Period(date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1]), label)


def period(question: str, asked_on: date) -> Period | None:
    """The one period `question` asks about, or None (no time named, or more than one)."""
    found: dict[tuple, Period] = {}
    for m in _YEAR.finditer(question):
        y = int(m.group(1))
        if _SINCE.match(question, m.end()):
            p = Period(date(y, 1, 1), asked_on, f"{y}年以来")
        elif m.group(2):
            p = _month(y, int(m.group(2)), f"{y}年{int(m.group(2))}月")
        else:
            p = _year(y, f"{y}年")
        if p:
            found[(p.start, p.end)] = p
    for m in _ENGLISH_YEAR.finditer(question):
        y = int(m.group(1))
        p = (Period(date(y, 1, 1), asked_on, f"{y}年以来") if m.group(0).lower().startswith("since")
             else _year(y, f"{y}年"))
        found[(p.start, p.end)] = p
    for m in _RELATIVE.finditer(question):
        word = m.group(0)
        offset = _RELATIVE_YEAR.get(word, 0 if word.lower() == "this year" else -1)
        y = asked_on.year + offset
        month = _MONTH_IN_YEAR.match(question, m.end())
        p = (_month(y, int(month.group(1)), f"{word}{int(month.group(1))}月（{y}年）") if month
             else _year(y, f"{word}（{y}年）"))
        if p:
            found[(p.start, p.end)] = p
    for m in _RELATIVE_MONTH.finditer(question):
        back = 0 if m.group(0) in ("本月", "这个月", "這個月") or m.group(0).lower() == "this month" \
            else 1
        shown = _add_months(date(asked_on.year, asked_on.month, 1), -back)
        y, mo = shown.year, shown.month
        p = _month(y, mo, f"{m.group(0)}（{y}年{mo}月）")
        found[(p.start, p.end)] = p
    if len(found) != 1:
        return None
    return next(iter(found.values()))


_DAY_WORDS = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "明天": 1, "明日": 1}
_YEAR_WORDS = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
_MONTH_DAY = re.compile(r"(?<![\d年])(?:(本月|上月|下月)|(\d{1,2})\s*月)\s*(\d{1,2})\s*[日号]")


def absolute(text: str, reported: str | None) -> str | None:
    """The absolute date an answer's relative one means, read from the day it was reported:
    今天（6月1日） → 2024-06-01, 昨天 → the day before, 本月10日 → 2024-06-10, 6月1日 → 2024-06-01,
    明年 → 2025年; None when the answer names no such date or the report has no date."""
    if not reported:
        return None
    try:
        day = date.fromisoformat(reported)
    except ValueError:
        return None
    if m := _MONTH_DAY.search(text):
        month = {None: None, "本月": day.month, "上月": day.month - 1, "下月": day.month + 1}[m[1]]
        month = month if m[1] else int(m[2])
        year = day.year + (month - 1) // 12 if month > 0 else day.year - 1
        month = (month - 1) % 12 + 1
        try:
            return date(year, month, int(m[3])).isoformat()
        except ValueError:
            return None
    for word, offset in _DAY_WORDS.items():
        if word in text:
            return date.fromordinal(day.toordinal() + offset).isoformat()
    for word, offset in _YEAR_WORDS.items():
        if word in text and not re.search(r"\d{4}\s*年", text):
            return f"{day.year + offset}年"
    return None

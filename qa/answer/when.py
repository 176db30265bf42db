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

from qa.errors import QueryError

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!代)(?:\s*(\d{1,2})\s*月)?")
# a span of years (2024—2050年, 2021年至2025年): one period, not two years asked
_YEAR_RANGE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年?\s*[至到—–~～－-]\s*((?:19|20)\d{2})\s*年")
_ENGLISH_YEAR = re.compile(r"\b(?:in|of|for|during|since)\s+(?:the\s+)?((?:19|20)\d{2})\b", re.I)
_SINCE = re.compile(r"\s*(?:以来|以後|以后|起|至今)")  # matched where the year ends
_RELATIVE_YEAR = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2}
_RELATIVE = re.compile("|".join(_RELATIVE_YEAR) + r"|this year|last year", re.I)
_RELATIVE_MONTH = re.compile(r"本月|这个月|這個月|上个月|上個月|上月|this month|last month", re.I)
_MONTH_IN_YEAR = re.compile(r"\s*(\d{1,2})\s*月")
# a year a figure is compared with, not the one asked: 比上年同期, 较2024年, 与去年相比
_BASELINE_BEFORE = re.compile(r"(?:比|较|較|与|與|同)\s*$")
_BASELINE_AFTER = re.compile(r"\s*(?:同期|相比|相比较|比较)")
# Parts of a year named after it (2025年一季度, 今年国庆假期): (first month, first day), (last
# month, last day). Holidays are their days (the reports come in the weeks after); 春节 and 春运
# move with the lunar calendar and are taken wide.
_PARTS = {
    "一季度": ((1, 1), (3, 31)), "第一季度": ((1, 1), (3, 31)), "二季度": ((4, 1), (6, 30)),
    "第二季度": ((4, 1), (6, 30)), "三季度": ((7, 1), (9, 30)), "第三季度": ((7, 1), (9, 30)),
    "四季度": ((10, 1), (12, 31)), "第四季度": ((10, 1), (12, 31)), "上半年": ((1, 1), (6, 30)),
    "下半年": ((7, 1), (12, 31)), "前三季度": ((1, 1), (9, 30)), "国庆": ((10, 1), (10, 8)),
    "國慶": ((10, 1), (10, 8)), "十一": ((10, 1), (10, 8)), "中秋": ((9, 10), (10, 8)),
    "五一": ((5, 1), (5, 5)), "劳动节": ((5, 1), (5, 5)), "勞動節": ((5, 1), (5, 5)),
    "清明": ((4, 4), (4, 6)), "元旦": ((1, 1), (1, 3)), "端午": ((5, 25), (6, 25)),
    "暑运": ((7, 1), (8, 31)), "暑運": ((7, 1), (8, 31)), "暑期": ((7, 1), (8, 31)),
    "暑假": ((7, 1), (8, 31)), "春节": ((1, 10), (2, 28)), "春節": ((1, 10), (2, 28)),
    "春运": ((1, 1), (3, 10)), "春運": ((1, 1), (3, 10)), "双十一": ((11, 1), (11, 11)),
}
_PART = re.compile(r"\s*(?:的)?\s*[“\"「『‘]?(" + "|".join(sorted(_PARTS, key=len, reverse=True)) + ")")
_FIRST_MONTHS = re.compile(r"\s*(?:[前头頭](\d{1,2}|十[一二]?|[一二两兩三四五六七八九])个?個?月"
                           r"|1\s*[至到—–-]\s*(\d{1,2})\s*月)")
_SMALL = {c: i for i, c in enumerate("一二三四五六七八九十", 1)} | {"两": 2, "兩": 2}
_ENGLISH_PART = re.compile(
    r"\b(first|second|third|fourth) quarter (?:of )?((?:19|20)\d{2})\b|"
    r"\b(first|second) half (?:of )?((?:19|20)\d{2})\b", re.I)
# holidays named in English, as the Chinese part of the year they are
_HOLIDAYS = {"may day": "五一", "labor day": "五一", "labour day": "五一", "national day": "国庆",
             "spring festival": "春节", "chinese new year": "春节", "lunar new year": "春节",
             "qingming": "清明", "tomb-sweeping": "清明", "tomb sweeping": "清明",
             "dragon boat": "端午", "mid-autumn": "中秋", "new year's day": "元旦",
             "summer travel": "暑运"}
_HOLIDAY = "|".join(_HOLIDAYS).replace(" ", r"\s+")
_ENGLISH_HOLIDAY = re.compile(
    rf"\b(?:((?:19|20)\d{{2}})\s+({_HOLIDAY})|({_HOLIDAY})"
    r"(?:\s+(?:holidays?|festival|season|travel\s+rush|travel|rush)){0,2}"
    rf"\s+(?:of|in)\s+((?:19|20)\d{{2}}))\b", re.I)
_ORDINAL = {"first": 0, "second": 1, "third": 2, "fourth": 3}
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
# May 2, 2023 / 2 May 2023 / May 2023 (a month name that is also a word, "may", only with a year)
_ENGLISH_DAY = re.compile(
    r"\b(?:(?P<d1>\d{1,2})\s+)?(?P<m>" + "|".join(m.capitalize() for m in _MONTHS)
    + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(?:\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?)?"
    r",?\s+(?P<y>(?:19|20)\d{2})\b")
# 截至 / as of: the latest report up to a day (the end of the month or year named).
_AS_OF = re.compile(r"(?:截至|截止|截止到|到|as of|by the end of)\s*", re.I)
# Figures for a part of a year (a month, a quarter, a holiday) come out for months after it (an
# international body's count of a half-year in the autumn), never as late as the same part of
# the next year.
PART_LAG_MONTHS = 6
PART_LEAD_DAYS = 15  # a holiday's forecast comes out in the fortnight before it
_LAG_MONTHS = 1  # figures "as of" a month's end come out within about a month of it


class Period(NamedTuple):
    start: date
    end: date
    label: str  # as the reply names it: 2023年, 今年（2026年）
    as_of: bool = False  # 截至 the end: the latest report up to it is the answer

    def reports(self, asked_on: date) -> tuple[str, str]:
        """The publication dates (ISO, inclusive) of the reports that can be about it: for a whole
        year from two months before it (its plan is announced in the December before) to the end
        of the next year, or for a year still to come its plans from the year before it; for a
        part of one from a fortnight before it to six months after it; never past the day of
        asking; for "as of" a day, every report up to it (as of a month's or a year's end, up
        to a month or a quarter after it)."""
        whole_year = (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31)
        if self.as_of:  # a day is itself; a month's end figures come out within a month of
            # it, a year's in its first quarter
            lag = self.end if self.start == self.end else _add_months(
                self.end, 3 if whole_year else _LAG_MONTHS)
            return "", min(lag, max(asked_on, self.end)).isoformat()
        if whole_year and self.start > asked_on:  # a year to come: its plans, made the year before
            first = date(self.start.year - 1, 1, 1)
        elif whole_year:
            year, month0 = divmod(self.start.year * 12 + self.start.month - 1 - 2, 12)
            first = date(year, month0 + 1, 1)
        else:  # a part of a year is not reported on before it (bar a forecast just before)
            first = date.fromordinal(self.start.toordinal() - PART_LEAD_DAYS)
        last = date(self.end.year + 1, 12, 31) if whole_year else _add_months(self.end, PART_LAG_MONTHS)
        return first.isoformat(), min(last, max(asked_on, self.start)).isoformat()


def asked_day(value: str | None) -> date:
    """The day of asking a setting names (YYYY-MM-DD), today when it names none."""
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"asked_on {value!r} is not a date (YYYY-MM-DD)") from exc


def narrowed(question: str, asked_on: date, dates, mask):
    """The period `question` asks about (None when it names none) and `mask` (None: every
    report) narrowed to the reports on `dates` that can be about it."""
    asked = period(question, asked_on)
    if asked is None:
        return None, mask
    fitting = timely(dates, asked, asked_on)
    return asked, fitting if mask is None else mask & fitting


def published_by(dates, asked_on: date, mask):
    """`mask` (None: every report) without the reports published after the day of asking: a
    question asked on a day is answered from what had been reported by then (undated reports
    stay)."""
    known = (dates <= asked_on.isoformat()) | (dates == "")
    return known if mask is None else mask & known


def timely(dates, asked: Period, asked_on: date):
    """Which of the reports published on `dates` (an array of ISO dates, "" when undated) can
    be about `asked`: a boolean array; undated reports may be, and are kept."""
    first, last = asked.reports(asked_on)
    return ((dates >= first) & (dates <= last)) | (dates == "")


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


def _in_year(question: str, at: int, y: int, label: str) -> Period | None:
    """The part of year `y` named right after position `at` (一季度, 上半年, 国庆假期, 前8个月),
    or None when none is."""
    if m := _PART.match(question, at):
        return _part(y, m.group(1), f"{label}{m.group(1)}")
    if (m := _FIRST_MONTHS.match(question, at)) and 1 <= (last := _months(
            m.group(1) or m.group(2))) <= 12:
        return Period(date(y, 1, 1), date(y, last, calendar.monthrange(y, last)[1]),
                      f"{label}1-{last}月")
    return None


def _part(y: int, part: str, label: str) -> Period:
    """Part `part` of `_PARTS` (一季度, 国庆) in year `y`."""
    (m0, d0), (m1, d1) = _PARTS[part]
    return Period(date(y, m0, d0), date(y, m1, d1), label)


def _months(n: str) -> int:
    """1–12 from "8", "三", "十一"."""
    if n.isdigit():
        return int(n)
    return 10 + _SMALL.get(n[1:], 0) if n.startswith("十") else _SMALL[n]


def _as_of(question: str, start: int, p: Period) -> Period:
    """`p` as "as of" its end when 截至 / as of comes right before it (at `start`)."""
    before = question[max(0, start - 16):start]
    if re.search(_AS_OF.pattern + r"$", before, re.I):
        return p._replace(as_of=True, label=f"截至{p.label}")
    return p


def _baseline(question: str, m: re.Match) -> bool:
    """Whether the year matched by `m` is what a figure is compared with (比上年同期增长5.4%)."""
    return bool(_BASELINE_BEFORE.search(question[max(0, m.start() - 3):m.start()])
                or _BASELINE_AFTER.match(question, m.end()))


def period(question: str, asked_on: date) -> Period | None:
    """The one period `question` asks about, or None (no time named, or more than one). A year
    a figure is compared with (比上年同期) is not asked about, unless it is the only time named
    (去年同期的出游人次)."""
    found = _periods(question, asked_on, baselines=False) or _periods(question, asked_on, True)
    if len(found) != 1:
        return None
    return next(iter(found.values()))


def _periods(question: str, asked_on: date, baselines: bool) -> dict[tuple, Period]:
    found: dict[tuple, Period] = {}
    spans = []
    for m in _YEAR_RANGE.finditer(question):
        first, last = int(m.group(1)), int(m.group(2))
        if first >= last:
            continue
        spans.append(range(m.start(), m.end()))
        if baselines or not _baseline(question, m):
            p = Period(date(first, 1, 1), date(last, 12, 31), f"{first}—{last}年")
            found[(p.start, p.end)] = _as_of(question, m.start(), p)
    for m in _YEAR.finditer(question):
        if any(m.start() in span for span in spans) or not baselines and _baseline(question, m):
            continue
        y = int(m.group(1))
        if _SINCE.match(question, m.end()):
            p = Period(date(y, 1, 1), asked_on, f"{y}年以来")
        elif m.group(2):
            p = _month(y, int(m.group(2)), f"{y}年{int(m.group(2))}月")
        else:
            p = _in_year(question, m.end(), y, f"{y}年") or _year(y, f"{y}年")
        if p:
            p = _as_of(question, m.start(), p)
            found[(p.start, p.end)] = p
    for m in _ENGLISH_PART.finditer(question):
        if m.group(1):
            q, y = _ORDINAL[m.group(1).lower()], int(m.group(2))
            end = 3 * q + 3
            p = Period(date(y, 3 * q + 1, 1), date(y, end, calendar.monthrange(y, end)[1]),
                       f"{y}年第{q + 1}季度")
        else:
            half, y = _ORDINAL[m.group(3).lower()], int(m.group(4))
            p = Period(date(y, 6 * half + 1, 1), date(y, 6 * half + 6, 30 if half == 0 else 31),
                       f"{y}年{'上下'[half]}半年")
        found = {k: v for k, v in found.items() if k[0].year != y}  # "of 2025" is this part
        found[(p.start, p.end)] = _as_of(question, m.start(), p)
    for m in _ENGLISH_HOLIDAY.finditer(question):
        y, name = int(m.group(1) or m.group(4)), re.sub(r"\s+", " ", m.group(2) or m.group(3))
        part = _HOLIDAYS[name.lower()]
        p = _part(y, part, f"{y}年{part}")
        found = {k: v for k, v in found.items() if k[0].year != y}
        found[(p.start, p.end)] = p
    for m in _ENGLISH_DAY.finditer(question):
        y, name = int(m["y"]), m["m"].lower()
        month = next(i for i, full in enumerate(_MONTHS, 1) if full.startswith(name[:3]))
        day = m["d1"] or m["d2"]
        p = _month(y, month, f"{y}年{month}月")
        if p and day and 1 <= int(day) <= p.end.day:
            at = date(y, month, int(day))
            p = Period(at, at, f"{y}年{month}月{int(day)}日")
        if p:
            found = {k: v for k, v in found.items() if k[0].year != y}
            found[(p.start, p.end)] = _as_of(question, m.start(), p)
    for m in _ENGLISH_YEAR.finditer(question):
        if any(k[0].year == int(m.group(1)) for k in found):
            continue  # the year of a quarter or half named before it
        y = int(m.group(1))
        p = (Period(date(y, 1, 1), asked_on, f"{y}年以来") if m.group(0).lower().startswith("since")
             else _year(y, f"{y}年"))
        found[(p.start, p.end)] = p
    for m in _RELATIVE.finditer(question):
        if not baselines and _baseline(question, m):
            continue
        word = m.group(0)
        offset = _RELATIVE_YEAR.get(word, 0 if word.lower() == "this year" else -1)
        y = asked_on.year + offset
        month = _MONTH_IN_YEAR.match(question, m.end())
        p = (_month(y, int(month.group(1)), f"{word}{int(month.group(1))}月（{y}年）") if month
             else _in_year(question, m.end(), y, f"{word}（{y}年）") or _year(y, f"{word}（{y}年）"))
        if p:
            p = _as_of(question, m.start(), p)
            found[(p.start, p.end)] = p
    for m in _RELATIVE_MONTH.finditer(question):
        back = 0 if m.group(0) in ("本月", "这个月", "這個月") or m.group(0).lower() == "this month" \
            else 1
        shown = _add_months(date(asked_on.year, asked_on.month, 1), -back)
        y, mo = shown.year, shown.month
        p = _month(y, mo, f"{m.group(0)}（{y}年{mo}月）")
        found[(p.start, p.end)] = p
    return found


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

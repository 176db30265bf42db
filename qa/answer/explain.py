"""Why a question found what it found: what was searched, which articles the filters left out
(and how many of those had no date), and what to try when there is no answer."""

from __future__ import annotations

import re

import numpy as np

from qa.index.search import Filters
from qa.index.store import Store
from qa.text import HAN, HAN_EXTENSION_A
from qa.types import Answer, Searched

# A question word (Chinese or English): without one, the answerer cannot tell what is asked.
QUESTION_WORD = re.compile(
    r"谁|多少|几|哪|什么|啥|何|怎|为什么|为何|是否|吗|[？?]$"
    r"|\b(who|what|when|where|which|why|how)\b", re.IGNORECASE)
LATIN = re.compile(r"[A-Za-z]")
_HAN = re.compile(f"[{HAN_EXTENSION_A}{HAN}]")
QUERY_SHOWN = 60  # characters of the searched text quoted back


def searched(store: Store, query: str, filters: Filters | None, read: int,
             mask: np.ndarray | None, period: str | None = None,
             period_reports: bool = True, unread: np.ndarray | None = None) -> Searched:
    """The search behind an answer, with how many articles the filters (whose `mask` the search
    used) let through, how many of those were not read (`unread`: published after the day of
    asking), and the time the question asks about."""
    filters = filters or Filters()
    numbers = store.article_numbers
    total = int(numbers.max()) + 1 if len(numbers) else 0
    admitted = total if mask is None else _articles(numbers, mask)
    undated = 0
    if filters.date_from or filters.date_to:
        paper = Filters(newspaper=filters.newspaper).mask(store)
        no_date = store.dates == ""
        undated = _articles(numbers, no_date if paper is None else no_date & paper)
    later = 0 if unread is None else _articles(numbers, unread)
    return Searched(query, filters.date_from, filters.date_to, filters.newspaper, total,
                    admitted, undated, read, period, period_reports, later)


def _articles(numbers: np.ndarray, mask: np.ndarray) -> int:
    return int(np.unique(numbers[mask]).size)


def searched_text(s: Searched) -> str:
    """What a question searched, e.g. 检索了全部 38 篇文章中与“…”最接近的段落，读了前 5 段。"""
    where = [f"报纸 {s.newspaper}" if s.newspaper else "",
             f"日期 {s.date_from or '…'} 至 {s.date_to or '…'}" if s.date_from or s.date_to
             else ""]
    where = [w for w in where if w]
    if where:
        scope = f"按{'、'.join(where)}筛选，{s.articles} 篇文章中留下 {s.admitted} 篇"
        if s.undated:
            scope += f"（{s.undated} 篇没有日期的文章被日期筛选排除）"
        scope += "；检索了其中"
    else:
        scope = f"检索了全部 {s.articles} 篇文章中"
    query = s.query if len(s.query) <= QUERY_SHOWN else s.query[:QUERY_SHOWN] + "…"
    when = ""
    if s.period:
        when = (f"问的时间：{s.period}，只读可能报道这段时间的文章。" if s.period_reports else
                f"问的时间：{s.period}，档案里没有可能报道这段时间的文章；下面是其他时间的报道。")
    later = f"（{s.later} 篇提问日之后发表的文章未读）" if s.later else ""
    return f"{when}{scope}与“{query}”最接近的段落{later}，读了前 {s.read} 段。"


def mostly_latin(text: str) -> bool:
    """Whether a question is written in a Latin-script language rather than Chinese."""
    return len(LATIN.findall(text)) > 2 * len(_HAN.findall(text))


def hints(answer: Answer) -> list[str]:
    """What to try when a question found no answer, most useful first (in Chinese)."""
    s = answer.searched
    out = [f"{answer.reason}。"] if answer.reason else []
    if s and s.admitted < s.articles:
        if s.undated:
            out.append(f"日期筛选排除了 {s.undated} 篇没有日期的文章：去掉起止日期再问一次。")
        else:
            out.append("放宽筛选条件（报纸、起止日期）再问一次。")
    if s and s.period and not s.period_reports:
        out.append(f"档案里没有{s.period}的报道：去掉问题里的时间，看看其他时间的报道。")
    if answer.answerer == "rules" and mostly_latin(answer.question):
        out.append("请用中文提问：默认的规则答题器只读得懂中文问题（英文问题能找到相关段落，"
                   "但读不出答案）。")
    if not QUESTION_WORD.search(answer.question):
        out.append("写成问句，点明要问什么：谁、多少、哪一年、在哪里、什么……")
    out.append("换一种说法：用报道里会出现的词（机构全称、地名、年份），"
               "或把一个问题拆成几个小问题。")
    return out

"""What every part of the web page's text shares (pure functions): escaping, marking a span,
excerpts, the search controls and the messages people see.

Every piece of archive text is escaped before it becomes HTML or Markdown; offsets are checked
before a span is marked. `reply` writes the chat's answers, `inspector` the passage panel and
`details` the experts' fold.
"""

from __future__ import annotations

import html
import re

from qa.errors import QueryError
from qa.index.search import Filters
from qa.text import is_date
from qa.types import Citation

NOT_FOUND = "在档案中没有找到答案"
ALL_PAPERS = "全部报纸 All papers"
MAX_K = 20
WARM_UP_QUESTION = "档案里有哪些新闻？"
CONTEXT_CHARS = 40  # characters shown on each side of the answer in the chat
EXCERPT_CHARS = 90  # characters of a passage shown in lists
MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|~$]")

# Written for the sample archive in corpus/ (one per seed page); any question works.
EXAMPLES = [
    "全市有多少家大型家政企业加入了家政服务行业协会？",
    "通辽市确定了多少个乡村振兴重点帮扶嘎查村？",
    "市委组织部以推动什么建设提质升级为目标？",
    "乌海军分区把什么作为首要政治任务？",
    "乌海市今年的降雨量是多少毫米？",  # not in the archive: the app says so
]


def escape_markdown(text: str) -> str:
    """Archive text as literal Markdown: HTML escaped, Markdown punctuation backslashed."""
    flat = " ".join(text.split())
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", html.escape(flat, quote=False))


def valid_span(text: str, start: int | None, end: int | None) -> bool:
    return start is not None and end is not None and 0 <= start < end <= len(text)


def highlight(text: str, start: int | None, end: int | None) -> str:
    """`text` as HTML with characters [start, end) in <mark>; invalid offsets mark nothing."""
    if not valid_span(text, start, end):
        return html.escape(text)
    return (
        f"{html.escape(text[:start])}<mark>{html.escape(text[start:end])}</mark>"
        f"{html.escape(text[end:])}"
    )


def opening(text: str, width: int = EXCERPT_CHARS) -> str:
    return text[:width] + ("…" if len(text) > width else "")


def around(c: Citation, width: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(before, answer, after) from the cited passage, `width` characters each side, with
    ellipses where the passage was cut. Without an answer span: the passage's opening."""
    text = c.passage
    if not valid_span(text, c.answer_start, c.answer_end):
        return opening(text, 2 * width), "", ""
    lo, hi = max(0, c.answer_start - width), min(len(text), c.answer_end + width)
    before = ("…" if lo else "") + text[lo : c.answer_start]
    after = text[c.answer_end : hi] + ("…" if hi < len(text) else "")
    return before, text[c.answer_start : c.answer_end], after


def excerpt_html(c: Citation, width: int = EXCERPT_CHARS // 2) -> str:
    """The cited passage around its answer as HTML, the answer in <mark>."""
    before, span, after = around(c, width)
    marked = f"<mark>{html.escape(span)}</mark>" if span else ""
    return f"{html.escape(before)}{marked}{html.escape(after)}"


def parse_filters(date_from: str, date_to: str, newspaper: str | None) -> Filters:
    """Filters from the search controls, or QueryError saying what is wrong."""
    dates = []
    for label, value in (("起始日期", date_from), ("结束日期", date_to)):
        value = (value or "").strip()
        if value and not is_date(value):
            raise QueryError(bilingual(f"{label}应为 YYYY-MM-DD 格式的日期：{value!r}",
                                       "dates are written YYYY-MM-DD, a day that exists"))
        dates.append(value or None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise QueryError(bilingual("起始日期晚于结束日期", "the start date is after the end date"))
    paper = None if not newspaper or newspaper == ALL_PAPERS else newspaper
    return Filters(dates[0], dates[1], paper)


def bilingual(chinese: str, english: str) -> str:
    """A message as people see it everywhere in the app: Chinese first, English after."""
    return f"{chinese}（{english}）"


def refusal(exc: QueryError, max_chars: int, question: str) -> str:
    """A polite message for a question that cannot be asked."""
    text = question.strip()
    if len(text) > max_chars:
        return bilingual(f"问题太长了（{len(text)} 字），请缩短到 {max_chars} 字以内再问",
                         f"the question is {len(text)} characters long; the limit is {max_chars}")
    if not text:
        return bilingual("请先输入问题", "the question is empty")
    if not any(ch.isalnum() for ch in text):
        return bilingual("问题里没有文字", "the question has no words in it")
    return bilingual("无法提问", str(exc))

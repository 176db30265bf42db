"""HTML and Markdown for the web app, from answers, citations and articles (pure functions).

Every piece of archive text is escaped before it becomes HTML or Markdown; offsets are checked
before a span is marked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from qa.cite import format_citation, page_label
from qa.errors import QueryError
from qa.retrieve import Filters
from qa.types import Answer, Article, Citation

NOT_FOUND = "在档案中没有找到答案"
ALL_PAPERS = "全部报纸 All papers"
MAX_K = 20
WARM_UP_QUESTION = "档案里有哪些新闻？"
CONTEXT_CHARS = 40  # characters shown on each side of the answer in the chat
EXCERPT_CHARS = 90  # characters of a passage shown in lists
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
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


def reply_markdown(answer: Answer) -> str:
    """The chat reply: the answer span in bold with its context and numbered citations, or
    the abstention with the nearest passages."""
    if answer.abstained:
        lines = [f"**{NOT_FOUND}**（No answer in the archive）", ""]
        if answer.citations:
            lines.append("最接近的段落 Nearest passages：")
        for c in answer.citations:
            lines.append(f"{c.rank}. {escape_markdown(format_citation(c))}")
            lines.append(f"   > {escape_markdown(opening(c.passage))}")
        return "\n".join(lines)
    before, span, after = around(answer.citations[0])
    lines = [
        f"**{escape_markdown(answer.text or '')}**",
        "",
        f"> {escape_markdown(before)}**{escape_markdown(span)}**{escape_markdown(after)}",
        "",
        "出处 Citations：",
    ]
    lines += [f"{c.rank}. {escape_markdown(format_citation(c))}" for c in answer.citations]
    return "\n".join(lines)


def citation_label(c: Citation) -> str:
    return f"[{c.rank}] {format_citation(c)}"


def _as_cited(c: Citation, note: str) -> str:
    """The passage as it was when cited, for when the index has changed since."""
    body = highlight(c.passage, c.answer_start, c.answer_end)
    return f'<p class="qa-note">{note} (as cited):</p><p class="qa-para qa-cited">{body}</p>'


def article_html(article: Article | None, citation: Citation | None = None) -> str:
    """The whole article as HTML, the cited paragraph marked and its answer span in <mark>.

    When the index was rebuilt since the answer and the article is gone or its paragraph
    changed, the passage as it was cited is shown instead of a highlight in the wrong place.
    """
    if article is None:
        if citation is None:
            return '<p class="qa-note">找不到这篇文章 (article not found)</p>'
        note = "这篇文章已不在当前索引中（索引已更新）；以下是引用时的段落"
        return f'<div class="qa-article">{_as_cited(citation, note)}</div>'
    cited = citation if citation and citation.article_id == article.id else None
    meta = [
        f"《{article.newspaper}》" if article.newspaper else None,
        article.date,
        page_label(article.page),
        article.section,
        article.byline,
    ]
    parts = [
        '<div class="qa-article"><header class="qa-head">',
        f"<h3>{html.escape(article.title or '（无标题 untitled）')}</h3>",
    ]
    if article.subtitle:
        parts.append(f'<p class="qa-subtitle">{html.escape(article.subtitle)}</p>')
    meta_line = " · ".join(html.escape(m) for m in meta if m)
    parts.append(f'<p class="qa-meta">{meta_line}</p></header>')
    found = False
    for p in article.paragraphs:
        number = f'<span class="qa-pno">{p.index + 1}</span>'
        if cited and p.index == cited.paragraph_index and p.text == cited.passage:
            found = True
            body = highlight(p.text, cited.answer_start, cited.answer_end)
            css = "qa-para qa-cited"
        else:
            body, css = html.escape(p.text), "qa-para"
        parts.append(f'<p class="{css}" data-paragraph="{p.index}">{number}{body}</p>')
    if cited and not found:
        parts.append(_as_cited(cited, "引用的段落在索引更新后已改变；引用时的原文"))
    parts.append("</div>")
    return "\n".join(parts)


def sources_html(answer: Answer, seconds: float) -> str:
    """Every retrieved passage with its retrieval score, so a reader can see why."""
    verdict = "abstained" if answer.abstained else f"answer score {answer.score:.3f}"
    rows = []
    for c in answer.citations:
        before, span, after = around(c, EXCERPT_CHARS // 2)
        text = html.escape(before) + (f"<mark>{html.escape(span)}</mark>" if span else "")
        rows.append(
            f"<tr><td>{c.rank}</td><td>{html.escape(format_citation(c))}</td>"
            f"<td>{c.score:.4f}</td><td>{text}{html.escape(after)}</td></tr>"
        )
    return (
        f"<p>{len(answer.citations)} 段 passages · {verdict} · {seconds:.2f} s</p>"
        '<table class="qa-sources"><thead><tr><th>#</th><th>出处 Citation</th>'
        "<th>检索分 Score</th><th>段落 Passage</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def neighbour_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """Dropdown choices (label, article id) for the articles on one page, in page order."""
    return [(f"{i}. {a.title or '（无标题 untitled）'}", a.id) for i, a in enumerate(articles, 1)]


def parse_filters(date_from: str, date_to: str, newspaper: str | None) -> Filters:
    """Filters from the search controls, or QueryError saying what is wrong."""
    dates = []
    for label, value in (("起始日期", date_from), ("结束日期", date_to)):
        value = (value or "").strip()
        if value and not DATE.fullmatch(value):
            raise QueryError(f"{label}应为 YYYY-MM-DD 格式 (date must be YYYY-MM-DD): {value!r}")
        dates.append(value or None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise QueryError("起始日期晚于结束日期 (date_from is after date_to)")
    paper = None if not newspaper or newspaper == ALL_PAPERS else newspaper
    return Filters(dates[0], dates[1], paper)


def refusal(exc: QueryError, max_chars: int, question: str) -> str:
    """A polite message for a question that cannot be asked."""
    if len(question.strip()) > max_chars:
        return f"问题太长了（{len(question.strip())} 字），请缩短到 {max_chars} 字以内再问。"
    return f"无法提问：{exc}"

"""The passage panel beside the chat (pure functions): the answer's citations, evidence apart
from related passages, and the chosen passage inside its whole article.

`article_html` is built from parts (`article_header`, `article_body`, `as_cited`), so another
view of the same article (the printed page, say) can be added as one more part.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from qa.answer.cite import format_citation, is_evidence, page_label
from qa.types import Article, Citation
from qa.web.render import bilingual, excerpt_html, highlight

UNTITLED = "（无标题 untitled）"
ROLE_NAMES = {"answer": "答案出处", "agrees": "同样的答案", "timeline": "另一日期的答案",
              "conflict": "同一天的不同答案"}


def answer_block(citations: Sequence[Citation], index: int) -> tuple[int, int]:
    """[start, end) of the answer's citations that `index` belongs to, in the list of every
    citation of a conversation (each answer's citations are ranked from 1)."""
    start = index
    while start > 0 and citations[start].rank != 1:
        start -= 1
    end = index + 1
    while end < len(citations) and citations[end].rank != 1:
        end += 1
    return start, end


def citation_list_html(citations: Sequence[Citation], first: int, current: int | None) -> str:
    """One answer's citations as links (`#qa-cite-N`, N = `first` + position): the evidence,
    then the related passages; `current` (a conversation index) is shown as open."""
    evidence = [(first + i, c) for i, c in enumerate(citations) if is_evidence(c)]
    related = [(first + i, c) for i, c in enumerate(citations) if not is_evidence(c)]
    parts = ['<div class="qa-cites">']
    if evidence:
        parts.append('<p class="qa-cites-head">证据 Evidence · 含答案的段落</p>')
        parts += [_item(n, c, n == current) for n, c in evidence]
    if related:
        head = "相关段落 Related · 不含答案" if evidence else "最接近的段落 Nearest passages"
        parts.append(f'<p class="qa-cites-head qa-related-head">{head}</p>')
        parts += [_item(n, c, n == current, "qa-related") for n, c in related]
    parts.append("</div>")
    return "\n".join(parts)


def _item(n: int, c: Citation, current: bool, css: str = "") -> str:
    role = ROLE_NAMES.get(c.role)
    note = f'<span class="qa-role">{role}</span> ' if role else ""
    state = ' aria-current="true"' if current else ""
    return (f'<a class="qa-cite {css}" href="#qa-cite-{n}"{state}>'
            f'<span class="qa-rank">[{c.rank}]</span> {note}'
            f'<span class="qa-where">{html.escape(format_citation(c))}</span>'
            f'<span class="qa-excerpt">{excerpt_html(c, 30)}</span></a>')


def neighbour_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """Dropdown choices (label, article id) for the articles on one page, in page order."""
    return [(f"{i}. {a.title or UNTITLED}", a.id) for i, a in enumerate(articles, 1)]


def as_cited(c: Citation, note: str) -> str:
    """The passage as it was when cited, for when the index has changed since."""
    body = highlight(c.passage, c.answer_start, c.answer_end)
    return (f'<p class="qa-note">{bilingual(note, "as cited")}：</p>'
            f'<p class="qa-para qa-cited">{body}</p>')


def article_header(article: Article) -> str:
    """Headline, subtitle and the line of paper, date, page, section and byline."""
    meta = [f"《{article.newspaper}》" if article.newspaper else None, article.date,
            page_label(article.page), article.section, article.byline]
    parts = ['<header class="qa-head">', f"<h3>{html.escape(article.title or UNTITLED)}</h3>"]
    if article.subtitle:
        parts.append(f'<p class="qa-subtitle">{html.escape(article.subtitle)}</p>')
    meta_line = " · ".join(html.escape(m) for m in meta if m)
    parts.append(f'<p class="qa-meta">{meta_line}</p></header>')
    return "\n".join(parts)


def article_body(article: Article, cited: Citation | None) -> tuple[str, bool]:
    """The numbered paragraphs, the cited one marked with its answer span in <mark>; and
    whether the cited paragraph was found unchanged."""
    parts, found = [], False
    for p in article.paragraphs:
        number = f'<span class="qa-pno">{p.index + 1}</span>'
        if cited and p.index == cited.paragraph_index and p.text == cited.passage:
            found = True
            body = highlight(p.text, cited.answer_start, cited.answer_end)
            css = "qa-para qa-cited"
        else:
            body, css = html.escape(p.text), "qa-para"
        parts.append(f'<p class="{css}" data-paragraph="{p.index}">{number}{body}</p>')
    return "\n".join(parts), found


def article_html(article: Article | None, citation: Citation | None = None) -> str:
    """The whole article as HTML, the cited paragraph marked and its answer span in <mark>.

    When the index was rebuilt since the answer and the article is gone or its paragraph
    changed, the passage as it was cited is shown instead of a highlight in the wrong place.
    """
    if article is None:
        if citation is None:
            return f'<p class="qa-note">{bilingual("找不到这篇文章", "article not found")}</p>'
        note = "这篇文章已不在当前索引中（索引已更新），以下是引用时的段落"
        return f'<div class="qa-article">{as_cited(citation, note)}</div>'
    cited = citation if citation and citation.article_id == article.id else None
    body, found = article_body(article, cited)
    parts = ['<div class="qa-article">', article_header(article), body]
    if cited and not found:
        parts.append(as_cited(cited, "引用的段落在索引更新后已改变，以下是引用时的原文"))
    parts.append("</div>")
    return "\n".join(parts)

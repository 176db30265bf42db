"""The experts' fold (pure functions): index version, answerer and threshold, raw scores and
the ranks that retrieved each passage. Kept out of the chat, where people read answers."""

from __future__ import annotations

import html

from qa.answer.cite import format_citation
from qa.types import Answer, Citation, Hit
from qa.web.render import excerpt_html


def archive_line(files: object, paragraphs: int, first: str | None, last: str | None) -> str:
    """The line under the title: what the archive holds (no internals)."""
    span = f"{first} – {last}" if first else "日期不详 dates unknown"
    return f"档案 Archive：{files} 个文件 files · {paragraphs} 段 paragraphs · {span}"


def details_html(answer: Answer | None, seconds: float, version: str, threshold: float) -> str:
    """Internals of the latest answer, for experts: what scored what, and in which index."""
    facts = [f"索引版本 index version <code>{html.escape(version)}</code>"]
    if answer is None:
        return f'<p class="qa-details">{" · ".join(facts)}</p>'
    facts.append(f"答题器 answerer <code>{html.escape(answer.answerer)}</code>, "
                 f"阈值 threshold {threshold:.3f}")
    facts.append(f"答案分 answer score {answer.score:.4f}")
    if answer.confidence is not None:
        facts.append(f"P(right) {answer.confidence:.3f}, level {answer.level}, "
                     f"agreeing articles {answer.agreeing}")
    facts.append("abstained" if answer.abstained else f"{len(answer.timeline)} timeline entries"
                 if answer.timeline else "answered")
    facts.append(f"{seconds:.2f} s")
    by_place = {(h.article.id, h.paragraph.index): h for h in answer.hits}
    rows = [_row(c, by_place.get((c.article_id, c.paragraph_index))) for c in answer.citations]
    return (
        f'<p class="qa-details">{" · ".join(facts)}</p>'
        '<table class="qa-sources"><thead><tr><th>#</th><th>角色 role</th>'
        "<th>出处 citation</th><th>融合分 fused</th><th>向量 dense rank · cos</th>"
        "<th>BM25 rank · score</th><th>段落 passage</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )


def _row(c: Citation, hit: Hit | None) -> str:
    dense = _rank(hit.dense_rank, hit.dense_score) if hit else ""
    lexical = _rank(hit.lexical_rank, hit.lexical_score) if hit else ""
    return (f"<tr><td>{c.rank}</td><td>{html.escape(c.role)}</td>"
            f"<td>{html.escape(format_citation(c))}</td><td>{c.score:.4f}</td>"
            f"<td>{dense}</td><td>{lexical}</td><td>{excerpt_html(c)}</td></tr>")


def _rank(rank: int | None, score: float | None) -> str:
    return "–" if rank is None else f"{rank} · {score:.3f}"

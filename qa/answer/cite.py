"""Citations: where an answer came from, down to the characters, and how people read it."""

from __future__ import annotations

from qa.types import Citation, Hit, Span

# Citation roles that hold an answer (see Citation.role); the others are related passages.
EVIDENCE_ROLES = ("answer", "agrees", "timeline", "conflict")


def is_evidence(c: Citation) -> bool:
    """Whether the cited passage holds an answer (rather than being only related)."""
    return c.role in EVIDENCE_ROLES


def citation(rank: int, hit: Hit, span: Span | None = None, role: str = "related") -> Citation:
    """Cite `hit` at `rank` in `role` (see Citation.role); with `span`, the answer's offsets in
    its paragraph."""
    a, p = hit.article, hit.paragraph
    return Citation(
        rank=rank, article_id=a.id, newspaper=a.newspaper, date=a.date, page=a.page,
        title=a.title, paragraph_index=p.index, passage=p.text,
        answer_start=span.start if span else None, answer_end=span.end if span else None,
        source=p.source, line_start=p.line_start, line_end=p.line_end, score=hit.score,
        role=role, char_start=p.char_start, char_end=p.char_end,
    )


def location(c: Citation) -> str:
    """Where in its file: 20250412.md:130 ¶3 @5120-5188 (line, paragraph, characters)."""
    lines = str(c.line_start) if c.line_start == c.line_end else f"{c.line_start}-{c.line_end}"
    return f"{c.source}:{lines} ¶{c.paragraph_index + 1} @{c.char_start}-{c.char_end}"


def page_label(page: str | None) -> str | None:
    """第3版 for a page number; other page names as they are."""
    if not page:
        return None
    return f"第{page}版" if str(page).isdigit() else str(page)


def format_citation(c: Citation) -> str:
    """For people: 《乌海日报》2022-11-22 第3版〈headline〉第4段."""
    paper = f"《{c.newspaper}》" if c.newspaper else ""
    title = f"〈{c.title}〉" if c.title else ""
    where = " ".join(x for x in (c.date, page_label(c.page)) if x)
    return f"{paper}{where}{title}第{c.paragraph_index + 1}段"

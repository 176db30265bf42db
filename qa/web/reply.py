"""The chat's replies (Markdown with a few inline tags): the answer with its confidence level
and clickable source markers, answers over time, and a "not found" that helps.

A confident answer is bold; a guess (level "low") is phrased "可能是…" after the passage it
came from and is never bold; an abstention has no bold text at all. Markers `[1]` link to
`#qa-cite-N`, N numbering every citation of the conversation, which the page turns into
opening that passage (see assets.REFS_JS).
"""

from __future__ import annotations

from qa.answer.cite import format_citation, is_evidence
from qa.answer.explain import hints, searched_text
from qa.answer.support import describe
from qa.types import Answer, Citation
from qa.web.render import NOT_FOUND, around, bilingual, escape_markdown, opening

NEAREST_CHARS = 50  # of each nearest passage, in a reply without an answer
LEVEL_TITLE = "答对的概率，按验证问题校准（calibrated probability that the answer is right）"


def marker(c: Citation, first: int) -> str:
    """A clickable [rank] that opens citation `c` (numbered from `first` in the conversation)."""
    return f"[\\[{c.rank}\\]](#qa-cite-{first + c.rank - 1})"


def badge(level: str, probability: float, agreeing: int = 1) -> str:
    """The confidence level with its probability, e.g. 可信度 高 · 62%."""
    return (f'<span class="qa-level qa-{level}" title="{LEVEL_TITLE}">'
            f"{describe(level, probability, agreeing)}</span>")


def quote(c: Citation, first: int) -> str:
    """The sentence around the answer in the cited passage, the answer marked, and its marker."""
    before, span, after = around(c)
    marked = f"<mark>{escape_markdown(span)}</mark>" if span else ""
    return f"> {escape_markdown(before)}{marked}{escape_markdown(after)} {marker(c, first)}"


def reply_markdown(answer: Answer, first: int = 0) -> str:
    """The chat reply to `answer`, whose citations are numbered from `first` in the chat."""
    if answer.abstained:
        return not_found_markdown(answer, first)
    if answer.timeline:
        body = timeline_lines(answer, first)
    elif answer.level == "low":
        body = guess_lines(answer, first)
    else:
        lead = f"**{escape_markdown(answer.text or '')}**"
        if answer.resolved_date:
            lead += f"（即 {answer.resolved_date}）"
        if answer.level:
            lead += f" {badge(answer.level, answer.confidence or 0.0, answer.agreeing)}"
        body = [lead, "", quote(answer.citations[0], first)]
    if answer.reason:
        body += ["", f"⚠️ {escape_markdown(answer.reason)}"]
    return "\n".join([*body, "", *source_lines(answer, first)])


def guess_lines(answer: Answer, first: int) -> list[str]:
    """A low-confidence answer: the evidence first, then the answer as a possibility."""
    guess = escape_markdown(answer.text or "")
    return [
        f"{badge('low', answer.confidence or 0.0)} 档案里没有明确的答案，最接近的一段说：",
        "",
        quote(answer.citations[0], first),
        "",
        f"可能是「{guess}」，使用前请核对原文。（Possibly {guess}: check the source before "
        "using it.）",
    ]


def timeline_lines(answer: Answer, first: int) -> list[str]:
    """Different answers by date, newest first: date, answer, level, marker."""
    cites = {c.rank: c for c in answer.citations}
    lines = ["不同日期的报道给出了不同的答案，最新的在前（Different dates, different answers; "
             "newest first）：", ""]
    for d in answer.timeline:
        text = escape_markdown(d.text)
        said = f"**{text}**" if d.level != "low" else f"可能是「{text}」"
        lines.append(f"- {escape_markdown(d.date)}　{said} {badge(d.level, d.confidence)} "
                     f"{marker(cites[d.rank], first)}")
    return lines


def source_lines(answer: Answer, first: int) -> list[str]:
    """Where the answer came from (and how many articles agree), then the related passages."""
    evidence = [c for c in answer.citations if is_evidence(c)]
    related = [c for c in answer.citations if not is_evidence(c)]
    lines = ["出处 Sources：" + "；".join(
        f"{marker(c, first)} {escape_markdown(format_citation(c))}" for c in evidence)]
    if answer.agreeing >= 2:
        agree = " ".join(marker(c, first) for c in evidence if c.role in ("answer", "agrees"))
        lines += ["", f"✔ {answer.agreeing} 篇报道一致（{answer.agreeing} reports agree）：{agree}"]
    if related:
        lines += ["", "相关段落（不含此答案）Related passages：" + " ".join(
            marker(c, first) for c in related)]
    return lines


def not_found_markdown(answer: Answer, first: int = 0) -> str:
    """An abstention: what was searched, what to try instead, and the closest passages."""
    lines = [bilingual(NOT_FOUND, "no answer in the archive"), ""]
    if answer.searched:
        lines += [escape_markdown(searched_text(answer.searched)), ""]
    lines.append("可以试试 Try：")
    lines += [f"- {escape_markdown(h)}" for h in hints(answer)]
    if answer.citations:
        lines += ["", "最接近的段落 Nearest passages："]
        lines += [f"- {marker(c, first)} {escape_markdown(format_citation(c))}："
                  f"{escape_markdown(opening(c.passage, NEAREST_CHARS))}"
                  for c in answer.citations]
    return "\n".join(lines)

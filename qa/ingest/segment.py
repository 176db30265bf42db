"""Split a page into stories: page furniture out, paragraphs repaired, headlines matched to their text.

Three passes over the rows of a page (see `qa.ingest.decode.Row`):
1. furniture and page metadata (masthead, editor lines, date header, page number) are taken out;
2. blocks between blank lines become items: headlines, opening bylines, paragraphs, and closers
   (a closing byline `（刘洋）`, a photo credit `（路静 摄）`, `（下转第二版）`, a source link);
3. stories are cut where papers cut them (a closer, `本报讯`/`新华社…电`, `上接`, a caption, a
   headline group with a byline or `——` subtitle), then each headline group is given to the story
   before or after it. Markdown and headlines printed directly above their text go to the story
   after; otherwise the choice is the story sharing the most character bigrams with the headline,
   nudged toward the page's dominant layout (a page that ends with a headline prints them last).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from qa.ingest.decode import Row
from qa.ingest.normalize import ends_sentence
from qa.text import HAN, is_han

_NAME = rf"[{HAN}·]{{2,5}}"
CLOSING_BYLINE = re.compile(rf"^[（(]\s*({_NAME}(?:\s+{_NAME}){{0,3}})\s*(?:文/图|文图|文|图)?\s*[)）]$")
CREDIT = re.compile(r"\s*[（(]\s*([^（）()]{2,30}?\s*摄)\s*[)）]$")
NOTE = re.compile(r"^[（(]\s*((?:下转|转下|下接|上接|接上|接第|转载自|转自|原载)[^（）()]{0,40})[)）]")
END_NOTE = re.compile(r"\s*[（(]\s*(?:下转|转下|下接)[^（）()]{0,20}[)）]$")
_ROLE = r"(?:本报|本刊)?(?:特约)?(?:记者|通讯员|实习生|实习记者)"
# names after the role, each of 2-5 characters: a paragraph's first line in a narrow column
# (`记者从北京市医药物资`) is no byline
OPEN_BYLINE = re.compile(rf"^{_ROLE}\s*{_NAME}(?:[\s、]+(?:{_ROLE}\s*)?{_NAME})*$")
LEAD = re.compile(rf"^(?:本报讯|(?:本报|新华社|中新社|人民日报|[{HAN}]{{2,6}}社)[^，。,、]{{0,16}}?"
                  rf"(?:\d{{1,2}}|[一二三四五六七八九十]{{1,3}})日电|[{HAN}]{{2,8}}网消息)")
LEAD_BYLINE = re.compile(r"^本报讯\s*[（(]([^（）()]{2,40})[)）]")
SUBTITLE = re.compile(r"^[—–\-－~～]{1,2}\s*(?=\S)")
EDITOR = re.compile(r"(?:责任编辑|本版编辑|编辑|审校|校对|美编|美术编辑|制图|版式|组版|排版|图片编辑|值班主任)\s*[:：]")
DATE_HEADER = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:星期|周|礼拜)[一二三四五六日天]")
PAGE_LINE = re.compile(rf"^(?:第\s*([0-9一二三四五六七八九十]+)\s*版|([A-Z]?\d{{1,2}})\s*版)\s*[:：]?\s*([{HAN}]{{2,6}})?$")
PAGE_NUMBER = re.compile(r"^[-—\s]*(\d{1,3})[-—\s]*$")
ORGAN = re.compile(r"^中共.{2,20}机关报$")
PAPER = re.compile(rf"^([{HAN}]{{2,8}}(?:日报|晚报|早报|时报|商报))$")
MD_MASTHEAD = re.compile(r"《([^》]{2,20})》\s*[（(]?\s*((?:19|20)\d{2}-?\d{2}-?\d{2})")
RULE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,}|={3,})$")
TIMESTAMP = re.compile(r"^[（(][^（）()]{0,12}时间[^（）()]{0,4}[:：]?\s*[\d\s:.\-T]+[)）]$")
ENUMERATED = re.compile(r"^(?:\d{1,2}[.、．]|[（(]\d{1,2}[)）])")
HEADLINE_PUNCT = re.compile("[，。；！？,;!?]")
_SENTENCE_MARK = re.compile("[。！？]")
_HAN = re.compile(f"[{HAN}]")
OPENING_QUOTE = "“\"「『"
BIGRAM_SAMPLE = 3000  # characters of a story compared with a headline


@dataclass
class Meta:
    newspaper: str | None = None
    date: str | None = None
    page: str | None = None
    section: str | None = None


@dataclass
class Item:
    kind: str  # "head", "byline", "para", "close", "section"
    rows: list[Row]
    text: str = ""
    level: int = 0  # Markdown heading level
    adjacent: bool = False  # a headline printed directly above its first line
    opens: bool = False  # a paragraph that starts a story: 本报讯, 新华社…电, 上接…
    caption: bool = False  # a photo caption (图为…)


@dataclass
class Story:
    paragraphs: list[list[Row]] = field(default_factory=list)
    title: str | None = None
    subtitle: str | None = None
    byline: str | None = None
    section: str | None = None
    closed: bool = False
    preamble: bool = False  # text under a section heading before its first story
    has_lead: bool = False  # a paragraph opened with 本报讯, 新华社…电, 上接…


@dataclass
class Page:
    meta: Meta
    stories: list[Story]


def segment(rows: list[Row], markdown: bool, guess_headlines: bool = True) -> Page:
    """Stories of one page, in reading order, with the metadata its furniture gave away.

    Without `guess_headlines`, only rows with a level are headlines (a laid-out page, whose
    headlines are known from their type size), never short lines guessed from their text.
    """
    meta = Meta()
    rows, sections = _strip_furniture(rows, meta, markdown)
    items = _items(rows, markdown, sections, guess_headlines)
    return Page(meta, _stories(items, markdown))


# --- pass 1: furniture ---------------------------------------------------------------------

def _strip_furniture(rows: list[Row], meta: Meta, markdown: bool) -> tuple[list[Row], int]:
    """Drop furniture rows, reading metadata from them. Returns kept rows and the section level."""
    kept: list[Row] = []
    section_level = 0
    drop_block = False
    for row in rows:
        text = row.text
        if not text:
            drop_block = False
            kept.append(row)
            continue
        if drop_block:
            continue
        if row.level and not meta.newspaper and (m := MD_MASTHEAD.search(text)):
            meta.newspaper, meta.date = m.group(1), _iso(m.group(2))
            section_level = row.level + 1
            continue
        if text.startswith("中共") and ORGAN.match(text):
            drop_block = True  # the masthead block: organ line, paper name, slogan
            _drop_block_tail(kept)
            continue
        if _furniture(text, meta, markdown):
            continue
        kept.append(row)
    return kept, section_level


def _drop_block_tail(kept: list[Row]) -> None:
    while kept and kept[-1].text and not kept[-1].level:
        kept.pop()


def _furniture(text: str, meta: Meta, markdown: bool) -> bool:
    """Page furniture (rules, page numbers, editor lines, date header, paper name)? Reads metadata."""
    first = text[0]
    if len(text) > 60 or first in "“\"":
        return False
    if first in "-*_=" and RULE.match(text) or first in "(（" and TIMESTAMP.match(text):
        return True
    if not markdown and (m := PAGE_NUMBER.match(text)):
        meta.page = meta.page or m.group(1)
        return True
    if _SENTENCE_MARK.search(text):
        return False
    if EDITOR.search(text):
        if m := re.match(r"^(\d{1,2})(?=\D)", text):
            meta.page = meta.page or m.group(1)
        tokens = text.split()
        if len(tokens) > 1 and re.fullmatch(rf"[{HAN}]{{2,6}}", tokens[-1]):
            meta.section = meta.section or tokens[-1]
        return True
    if "年" in text and (m := DATE_HEADER.search(text)) and "，" not in text:
        meta.date = meta.date or _iso(*m.groups())
        return True
    if "版" in text and (m := PAGE_LINE.match(text)):
        meta.page = meta.page or m.group(1) or m.group(2)
        meta.section = meta.section or m.group(3)
        return True
    if text[-1] == "报" and (m := PAPER.match(text)):
        meta.newspaper = meta.newspaper or m.group(1)
        return True
    return False


def _iso(y: str, m: str | None = None, d: str | None = None) -> str | None:
    if m is None:
        digits = y.replace("-", "")
        y, m, d = digits[:4], digits[4:6], digits[6:8]
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


# --- pass 2: items ---------------------------------------------------------------------------

def _items(rows: list[Row], markdown: bool, section_level: int, guess: bool = True) -> list[Item]:
    wrapped, width = _wrap_width(rows)
    items: list[Item] = []
    block: list[Row] = []
    for row in [*rows, Row("", 0, 0, 0)]:
        if row.text and not row.level:
            block.append(row)
            continue
        if block:
            items += _block_items(block, items, markdown, wrapped, width, guess)
            block = []
        if row.level:
            kind = "section" if row.level == section_level else "head"
            items.append(Item(kind, [row], row.text, row.level))
    return items


def _wrap_width(rows: list[Row]) -> tuple[bool, float]:
    """Whether the page is hard-wrapped into narrow columns, and its typical line width."""
    lengths = sorted(len(r.text) for r in rows if r.text and not r.level)
    if len(lengths) < 8:
        return False, 0.0
    width = lengths[int(len(lengths) * 0.8)]
    return width <= 45, float(width)


def _headline_like(rows: list[Row]) -> bool:
    """Short lines without sentence punctuation: a headline, not a fragment of text."""
    if len(rows) > 3 or len(rows[0].text) > 40:
        return False
    texts = [r.text for r in rows]
    return (all(len(t) <= 40 for t in texts) and sum(map(len, texts)) <= 60
            and not any(HEADLINE_PUNCT.search(t) for t in texts) and any(map(_HAN.search, texts)))


def _block_items(block: list[Row], before: list[Item], markdown: bool, wrapped: bool,
                 width: float, guess: bool = True) -> list[Item]:
    """Items of one block of consecutive non-blank rows: special rows first, then text runs."""
    after_heading = bool(before) and before[-1].level > 0
    if (after_heading and markdown and len(block) == 1
            and re.fullmatch(rf"[{HAN}·]{{2,4}}", block[0].text)):
        return [Item("byline", block, block[0].text)]  # a bare author name under a Markdown title
    out: list[Item] = []
    text_rows: list[Row] = []
    opens = False
    for row in [*block, None]:
        special = None if row is None else _special(row)
        if row is not None and special is None:
            text_rows.append(row)
            continue
        if text_rows:
            out += _text_items(text_rows, wrapped, width, opens, guess)
            text_rows, opens = [], False
        if special is None:
            break
        if special.kind == "para":  # a continuation note: its text opens the next story
            text_rows, opens = special.rows, True
        elif special.kind != "skip":
            out.append(special)
    return out


def _special(row: Row) -> Item | None:
    """A row that is not running text: link, note, closing byline, photo credit, opening byline."""
    text = row.text
    if text[0] not in "[（(本记通特实":
        return None
    if text == "[link]":
        return Item("close", [row])
    if m := NOTE.match(text):
        if not m.group(1).startswith(("上接", "接上", "接第")):
            return Item("close", [row])
        rest = text[m.end():].strip()
        return Item("para", [row._replace(text=rest, start=row.end - len(rest))]) if rest else Item("skip", [])
    if len(text) > 60:
        return None
    if m := CLOSING_BYLINE.match(text) or CREDIT.fullmatch(text):
        return Item("close", [row], m.group(1))
    if OPEN_BYLINE.match(text) and len(text) <= 30:
        return Item("byline", [row], text)
    return None


def _text_items(rows: list[Row], wrapped: bool, width: float, opens: bool,
                guess: bool = True) -> list[Item]:
    """A headline (when `guess`ing them), or paragraphs (broken after a short line that ends
    a sentence)."""
    out: list[Item] = []
    guessing = guess and not opens
    if (guessing and len(rows) > 1 and _headline_like(rows[:1]) and len(rows[0].text) <= 30
            and rows[1].text[:1] in OPENING_QUOTE):
        out.append(Item("head", rows[:1], rows[0].text, adjacent=True))
        rows = rows[1:]
    elif guessing and _headline_like(rows):  # a subtitle row (——访…) is its own headline
        cuts = [0] + [i for i, r in enumerate(rows) if i and SUBTITLE.match(r.text)] + [len(rows)]
        return [Item("head", rows[a:b], " ".join(r.text for r in rows[a:b]))
                for a, b in zip(cuts, cuts[1:], strict=False)]
    para: list[Row] = []
    for row in rows:
        para.append(row)
        if ends_sentence(row.text) and (not wrapped or len(row.text) < 0.85 * width):
            out.append(_para_item(para, opens))
            para, opens = [], False
    if para:
        out.append(_para_item(para, opens))
    return out


def _para_item(rows: list[Row], continuation: bool = False) -> Item:
    first = rows[0].text
    caption = "图为" in first or len(rows) > 1 and any("图为" in r.text for r in rows)
    return Item("para", rows, opens=continuation or bool(LEAD.match(first)), caption=caption)


# --- pass 3: stories -------------------------------------------------------------------------

def _stories(items: list[Item], markdown: bool) -> list[Story]:
    items = _split_suffixes(items)
    stories: list[Story] = []
    groups: list[tuple[list[Item], int]] = []  # a headline run, and the story that follows it
    top = min((i.level for i in items if i.kind == "head" and i.level), default=0)
    section: str | None = None
    run: list[Item] = []
    cur: Story | None = None
    for item in items:
        if item.kind in ("head", "byline"):
            run.append(item)
            continue
        if item.kind == "section":
            section, run = item.text, []
            cur = Story(section=section, preamble=True)
            stories.append(cur)
            continue
        if item.kind == "close":
            if cur is not None:
                cur.byline = cur.byline or item.text or None
                cur.closed = True
            continue
        splits = bool(run) and (item.opens or item.caption or any(
            h.kind == "byline" or h.adjacent or SUBTITLE.match(h.text) or (h.level and h.level == top)
            for h in run))
        # a lead (本报讯…) opens a story, unless the story has had none yet (a summary came first)
        lead_splits = item.opens and (cur is None or cur.has_lead or not cur.paragraphs)
        new = cur is None or cur.closed or lead_splits or splits
        if cur is not None and cur.preamble and not any(h.level for h in run):
            new = False  # a section's lead-in stays one block until its first story heading
        unfinished = not new and bool(cur.paragraphs) and not ends_sentence(cur.paragraphs[-1][-1].text)
        if run and new:
            groups.append((run, len(stories)))
        run = []
        if unfinished:  # a sentence broken by a blank line, or by a headline set in its way
            cur.paragraphs[-1].extend(item.rows)  # in place: a long run stays linear
            continue
        if new:
            cur = Story(section=section)
            stories.append(cur)
        if cur.byline is None and (m := LEAD_BYLINE.match(item.rows[0].text)):
            cur.byline = m.group(1).strip()
        cur.paragraphs.append(list(item.rows))  # its own list, extended in place above
        cur.has_lead = cur.has_lead or item.opens
    if run:
        groups.append((run, len(stories)))
    _assign_headlines(stories, groups, markdown)
    return [s for n, s in enumerate(stories) if s.paragraphs and not _is_summary(stories, n)]


def _split_suffixes(items: list[Item]) -> list[Item]:
    """Take `（下转第二版）` and `（路静 摄）` off the end of a paragraph; both close its story."""
    out: list[Item] = []
    for item in items:
        if item.kind == "para" and item.rows:
            last = item.rows[-1]
            m = last.text.endswith((")", "）")) and (END_NOTE.search(last.text) or CREDIT.search(last.text))
            if m and m.start() > 0:
                cut = last.text[: m.start()].rstrip()
                item.rows[-1] = last._replace(text=cut, end=last.start + len(cut))
                out.append(item)
                credit = CREDIT.search(last.text)
                out.append(Item("close", [last], credit.group(1) if credit else ""))
                continue
        out.append(item)
    return out


def _is_summary(stories: list[Story], n: int) -> bool:
    """A section lead-in that only lists what follows: enumerated items, or a section without
    stories of its own before a section that has them (`## 新闻摘要` before `## 详细新闻`)."""
    story = stories[n]
    if not story.preamble:
        return False
    texts = [rows[0].text for rows in story.paragraphs]
    if sum(bool(ENUMERATED.match(t)) for t in texts) * 2 >= len(texts):
        return True
    rest = stories[n + 1 :]
    own = next((i for i, s in enumerate(rest) if s.preamble), len(rest))
    return own == 0 and any(not s.preamble for s in rest)


def _clusters(run: list[Item]) -> list[list[Item]]:
    """Cut a run of headline items into headline sets: title, subtitle, byline."""
    clusters: list[list[Item]] = [[]]
    for item in run:
        cur = clusters[-1]
        complete = any(h.kind == "byline" or SUBTITLE.match(h.text) for h in cur) and any(
            _is_main(h) for h in cur)
        if cur and (item.adjacent or complete and item.kind == "head" and not SUBTITLE.match(item.text)):
            clusters.append([])
        clusters[-1].append(item)
    return clusters


def _assign_headlines(stories: list[Story], groups: list[tuple[list[Item], int]], markdown: bool) -> None:
    """Give each headline set to the story before or after it (see the module docstring)."""
    if markdown:
        for run, after in groups:
            if after < len(stories):
                _set_header(stories[after], run, markdown)
        return
    ends_with_headline = bool(groups) and groups[-1][1] == len(stories)
    prior = {-1: 0.15 if ends_with_headline else 0.0, 0: 0.0 if ends_with_headline else 0.15}
    if not groups:
        return
    grams = [_bigrams("".join(r.text for p in s.paragraphs[:6] for r in p)[:BIGRAM_SAMPLE]) for s in stories]
    choices = []
    for run, after in groups:
        for cluster in _clusters(run):
            heads = _bigrams(" ".join(h.text for h in cluster if h.kind == "head"))
            options = [after] if cluster[0].adjacent else [after - 1, after]
            for target in options:
                if 0 <= target < len(stories) and heads:
                    score = len(heads & grams[target]) / len(heads) + prior[target - after]
                    choices.append((score, id(cluster), target, cluster))
    taken: set[int] = set()
    used: set[int] = set()
    for _, key, target, cluster in sorted(choices, key=lambda c: -c[0]):
        if key not in used and target not in taken:
            _set_header(stories[target], cluster, markdown)
            used.add(key)
            taken.add(target)


def _bigrams(text: str) -> set[str]:
    han = [ch for ch in text if is_han(ch)]
    return {a + b for a, b in zip(han, han[1:], strict=False)}


def _is_kicker(head: Item) -> bool:
    """A column label printed over headlines: `学习党的二十大精神·看基层`, `记者手记：`."""
    return "·" in head.text or head.text.endswith(("：", ":"))


def _is_main(item: Item) -> bool:
    return item.kind == "head" and not SUBTITLE.match(item.text) and not _is_kicker(item)


def _set_header(story: Story, run: list[Item], markdown: bool) -> None:
    heads = [h for h in run if h.kind == "head"]
    subs = [h for h in heads if SUBTITLE.match(h.text)]
    kickers = [h for h in heads if _is_kicker(h)]
    mains = [h for h in heads if h not in subs and h not in kickers] or [h for h in heads if h not in subs]
    if mains:
        if markdown:
            level = min(h.level or 9 for h in mains)
            mains.sort(key=lambda h: (h.level or 9) != level)
        title = next((h for h in mains if h.adjacent), mains[0])
        story.title = title.text
        others = subs or [h for h in mains if h is not title]
        if others:
            story.subtitle = SUBTITLE.sub("", others[0].text)
    elif subs:
        story.subtitle = SUBTITLE.sub("", subs[0].text)
    bylines = [h.text for h in run if h.kind == "byline"]
    if bylines:
        story.byline = bylines[0]

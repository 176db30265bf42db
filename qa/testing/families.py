"""Newspaper pages in families of layouts, for measuring the layout step on pages it was not
developed on (benchmarks/bench_formats.py; a fast subset in tests/test_families.py).

A `Family` fixes a page's design: the column grid (3-8), a lead story across some columns
with briefs or a boxed sidebar beside it, the rest either as stories that run on from column
to column (starting mid-column) or as boxes, pictures inside a column or across a story, a
vertical headline, jump lines (转第N版), the header's style (第3版, 3版, A03, dates in several
forms, editors' lines), the masthead (large type, a picture without text, or the paper's name
in the header line), body type size, justified or ragged text, simplified or traditional
script. `make_page` lays real stories out in a family with a seed; the returned `PageSpec`
holds the truth: the stories in reading order, and in `extra["expect"]` the header fields
the printed text shows.
"""

from __future__ import annotations

import base64
import html
import io
import random
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from qa.testing.newspaper import WEEKDAYS, PageSpec, StorySpec


class Family(NamedTuple):
    name: str
    columns: int  # the page's column grid
    width_mm: float
    body_pt: float
    lead: int = 0  # columns the lead story spans (0: none; = columns: the whole width)
    beside: str = ""  # beside a narrower lead: "briefs" or "sidebar"
    rest: str = "boxes"  # "flow": stories run on column to column; "boxes": a box per story
    header: str = "classic"  # see _HEADERS
    masthead: str = "type"  # "type" (large type), "image" (a picture, no text), "plain"
    photos: str = ""  # "", "inside" (within a column), "across" (across a story's columns)
    vertical: bool = False  # one story's headline set vertically beside its text
    jump: bool = False  # the last story ends with a jump line to another page
    ragged: bool = False  # ragged right instead of justified
    script: str = "sc"  # "sc" or "tc" (traditional)


FAMILIES = (
    Family("broadsheet-flow", 4, 280, 10, lead=4, rest="flow", header="oneline", photos="inside"),
    Family("five-boxes", 5, 300, 9.5, lead=3, beside="briefs", header="classic"),
    Family("six-sidebar", 6, 320, 9, lead=4, beside="sidebar", rest="flow", header="short"),
    Family("tabloid-three", 3, 230, 10.5, lead=3, rest="flow", header="slash", masthead="plain",
           ragged=True),
    Family("a-section", 5, 300, 9.5, lead=5, rest="boxes", header="a03", photos="across",
           jump=True),
    Family("vertical-heads", 4, 280, 10, lead=2, beside="briefs", rest="boxes", vertical=True,
           header="chinese"),
    Family("eight-narrow", 8, 340, 8.5, lead=5, beside="briefs", rest="flow", header="classic",
           masthead="image"),
    Family("traditional", 4, 270, 10, lead=4, rest="flow", header="classic", script="tc",
           photos="inside"),
    # kept aside: never looked at while the layout step was developed (tests and bench report them apart)
    Family("seven-mixed", 7, 330, 8.5, lead=4, beside="sidebar", rest="boxes", header="a03",
           photos="across", vertical=True),
    Family("tc-tabloid", 3, 240, 10.5, lead=2, beside="briefs", rest="flow", header="chinese",
           masthead="image", script="tc", ragged=True, jump=True),
    Family("six-oneline", 6, 320, 9, lead=6, rest="flow", header="oneline", photos="across"),
    Family("four-short", 4, 270, 10, lead=3, beside="sidebar", rest="boxes", header="short",
           masthead="plain", photos="inside", jump=True),
)
MASTHEAD_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"  # Debian's fonts-noto-cjk
TEST_FAMILIES = frozenset({"seven-mixed", "tc-tabloid", "six-oneline", "four-short"})


class Meta(NamedTuple):
    newspaper: str
    date: str  # ISO
    page: int
    section: str
    editor: str


CSS = """
@page { margin: 0; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #111; }
.page { width: %(width)smm; padding: 12mm 11mm 10mm; font-family: '%(serif)s', serif;
        font-size: %(body)spt; line-height: 1.6; }
.hd { display: flex; justify-content: space-between; align-items: flex-end; gap: 14pt;
      font: %(small)spt '%(sans)s', sans-serif; border-bottom: 2pt solid #111;
      padding-bottom: 3pt; margin-bottom: 10pt; }
.masthead { font: 900 %(mast)spt '%(serif)s', serif; letter-spacing: 5pt; line-height: 1.2; }
.organ { font: 9pt '%(sans)s', sans-serif; }
.label { font: 700 20pt '%(sans)s', sans-serif; border: 1.5pt solid #111; padding: 0 4pt; }
.grid { display: flex; gap: %(gutter)spt; margin-bottom: 12pt; }
.story { margin: 0 0 12pt; }
.boxed { border: 1pt solid #333; background: #f1f1f1; padding: 6pt 8pt; }
.kicker { font: 700 %(small)spt '%(sans)s', sans-serif; margin: 0 0 3pt; }
h1 { font: 700 %(head)spt/1.25 '%(sans)s', sans-serif; margin: 0 0 6pt; text-align: center; }
h2 { font: 400 %(sub)spt/1.3 '%(serif)s', serif; margin: 0 0 8pt; text-align: center; }
h3 { font: 700 %(brief)spt/1.3 '%(sans)s', sans-serif; margin: 6pt 0 4pt; break-after: avoid;
      break-inside: avoid; }
.cols { column-gap: %(gutter)spt; column-rule: 0.5pt solid #aaa; text-align: %(align)s; }
.cols p { margin: 0; text-indent: 2em; orphans: 1; widows: 1; }
p.byline { text-indent: 0 !important; font-family: '%(sans)s', sans-serif; }
p.closer, p.jump { text-align: right; text-indent: 0 !important; }
.photo { height: %(photo)spt; margin: 6pt 0 3pt; break-inside: avoid;
         background: linear-gradient(135deg, #666, #ccc 60%%, #999); }
figure { column-span: all; margin: 4pt 0 8pt; }
p.caption, figcaption { font: %(cap)spt/1.45 '%(sans)s', sans-serif; text-indent: 0 !important;
                        margin: 0 0 6pt; }
.vstory { display: flex; flex-direction: row-reverse; gap: 10pt; }
.vstory h1 { writing-mode: vertical-rl; text-align: start; margin: 0; }
.vstory .cols { flex: 1; }
.rule { border-top: 0.8pt solid #555; margin: 0 0 10pt; }
"""


def make_page(family: Family, pool: list[StorySpec], meta: Meta, seed: int) -> tuple[str, PageSpec]:
    """A page of `family` made of stories from `pool` (used in order, shortened to fit): its
    HTML and its truth (stories in reading order; the header fields printed as text)."""
    rng = random.Random(f"{family.name}/{seed}")
    convert = _traditional if family.script == "tc" else (lambda text: text)
    stories = [_converted(s, convert) for s in pool]
    meta = meta._replace(newspaper=convert(meta.newspaper), section=convert(meta.section),
                         editor=convert(meta.editor))
    taken: list[StorySpec] = []
    blocks: list[str] = [_header(family, meta, rng)]
    gutter = 12 if family.columns <= 5 else 9
    share = 100 / family.columns

    if family.lead:
        lead = _fit(stories.pop(0), 1400 if family.lead >= 4 else 900, rng)
        lead = _with_extras(lead, rng, photo=family.photos != "", byline=True)
        taken.append(lead)
        lead_html = _story(lead, family, rng, cols=family.lead, head=2.6, photo=family.photos)
        if family.lead < family.columns and family.beside:
            side_cols = family.columns - family.lead
            side, side_html = _beside(family, stories, rng, side_cols)
            taken += side
            blocks.append(f'<div class="grid"><div style="flex:0 0 {share * family.lead - 1:.2f}%">'
                          f'{lead_html}</div><div style="flex:1">{side_html}</div></div>')
        else:
            blocks.append(lead_html)
        blocks.append('<div class="rule"></div>')

    if family.rest == "flow":
        flow = [_fit(s, 700, rng) for s in stories[:5]]
        flow = [_with_extras(s, rng, photo=family.photos == "inside" and i == 1, byline=i % 2 == 0)
                for i, s in enumerate(flow)]
        taken += flow
        parts = [_brief(s, family, rng, size=1.9, jump=family.jump and i == len(flow) - 1)
                 for i, s in enumerate(flow)]
        blocks.append(f'<div class="cols" style="column-count:{family.columns}">{"".join(parts)}</div>')
    else:
        rest = [_fit(s, 900, rng) for s in stories[:4]]
        rest = [_with_extras(s, rng, photo=bool(family.photos) and i == 0, byline=i % 2 == 1)
                for i, s in enumerate(rest)]
        taken += rest
        blocks += _boxes(rest, family, rng)

    values = {"width": family.width_mm, "body": family.body_pt, "small": 9.5,
              "mast": 40, "head": round(family.body_pt * 2.4, 1), "sub": round(family.body_pt * 1.35, 1),
              "brief": round(family.body_pt * 1.7, 1), "cap": round(family.body_pt * 0.85, 1),
              "photo": 70, "gutter": gutter, "align": "left" if family.ragged else "justify",
              "serif": f"Noto Serif CJK {family.script.upper()}",
              "sans": f"Noto Sans CJK {family.script.upper()}"}
    markup = (f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS % values}</style>"
              f"</head><body><div class='page'>{''.join(blocks)}</div></body></html>")
    expect = {"newspaper": None if family.masthead == "image" else meta.newspaper,
              "date": meta.date, "page": _label(family, meta.page)[1]}
    spec = PageSpec(meta.newspaper, taken, meta.date, expect["page"], meta.section, meta.editor,
                    extra={"family": family.name, "expect": expect})
    return markup, spec


_PAPERS = ("乌海日报", "江城晚报", "北方时报", "通辽日报", "江南都市报", "滨海商报", "山城早报")
_SECTIONS = ("要闻", "综合新闻", "经济", "社会", "民生", "国内新闻", "时事")


def page_set(pool: list[StorySpec], per_family: int, families=FAMILIES, seed: int = 0):
    """`per_family` pages of each family from the stories of `pool` (taken in turn, each page
    from the next ones), with drawn papers, dates in 2021-2022, 版次, sections and editors:
    [(HTML, width in mm, truth)]."""
    rng = random.Random(seed)
    stories = [s for s in pool if s.title and sum(map(len, s.paragraphs)) >= 120]
    out, at = [], 0
    for family in families:
        for n in range(per_family):
            chosen = [stories[(at + k) % len(stories)] for k in range(9)]
            at += 7
            lead = max(range(4), key=lambda k: sum(map(len, chosen[k].paragraphs)))
            chosen.insert(0, chosen.pop(lead))
            day = date(2021, 1, 1).toordinal() + rng.randrange(730)
            meta = Meta(rng.choice(_PAPERS), date.fromordinal(day).isoformat(), rng.randint(2, 16),
                        rng.choice(_SECTIONS), rng.choice(_REPORTERS))
            markup, spec = make_page(family, chosen, meta, seed * 1000 + n)
            out.append((markup, family.width_mm, spec))
    return out


# --- stories ------------------------------------------------------------------------------------

def _converted(story: StorySpec, convert) -> StorySpec:
    def c(text):
        return convert(text) if text else text

    return replace(story, title=c(story.title), paragraphs=[convert(p) for p in story.paragraphs],
                   subtitle=c(story.subtitle), byline=c(story.byline), closer=c(story.closer),
                   caption=c(story.caption))


def _fit(story: StorySpec, chars: int, rng: random.Random) -> StorySpec:
    """The story's first paragraphs up to about `chars` characters (at least one)."""
    kept, total = [], 0
    for text in story.paragraphs:
        if kept and total + len(text) > chars:
            break
        kept.append(text)
        total += len(text)
    return replace(story, paragraphs=kept)


_REPORTERS = ("王晓东", "李娜", "张弛", "刘洋", "陈思远", "赵明月", "孙立", "周婷")


def _with_extras(story: StorySpec, rng: random.Random, photo: bool, byline: bool) -> StorySpec:
    """A byline and a photo caption where the story has none (bylines are not measured as text)."""
    name = rng.choice(_REPORTERS)
    if byline and not story.byline:
        story = replace(story, byline=f"本报记者 {name}")
    if photo and not story.caption:
        story = replace(story, caption=f"图为{(story.title or '活动')[:8]}现场。（{rng.choice(_REPORTERS)} 摄）")
    return story


def _paragraphs(story: StorySpec, photo: str, rng: random.Random) -> list[str]:
    out = [f'<p class="byline">{html.escape(story.byline)}</p>'] if story.byline else []
    at = rng.randint(1, max(1, len(story.paragraphs) - 1))
    for n, text in enumerate([*story.paragraphs, None]):
        if n == at and story.caption and photo == "inside":
            out.append(f'<div class="photo"></div><p class="caption">{html.escape(story.caption)}</p>')
        elif n == at and story.caption and photo == "across":
            out.append(f'<figure><div class="photo"></div><figcaption>{html.escape(story.caption)}'
                       "</figcaption></figure>")
        if text is not None:
            out.append(f"<p>{html.escape(text)}</p>")
    if story.closer:
        out.append(f'<p class="closer">{html.escape(story.closer)}</p>')
    return out


def _story(story: StorySpec, family: Family, rng: random.Random, cols: int, head: float,
           photo: str = "", boxed: bool = False, vertical: bool = False) -> str:
    size = round(family.body_pt * head, 1)
    title = f'<h1 style="font-size:{size}pt">{html.escape(story.title or "")}</h1>' if story.title else ""
    sub = f"<h2>——{html.escape(story.subtitle)}</h2>" if story.subtitle else ""
    body = f'<div class="cols" style="column-count:{cols}">{"".join(_paragraphs(story, photo, rng))}</div>'
    kicker = '<p class="kicker">■ 相关链接</p>' if boxed else ""
    if vertical:
        return f'<div class="story vstory">{title}{body}</div>'
    return f'<div class="story{" boxed" if boxed else ""}">{kicker}{title}{sub}{body}</div>'


def _brief(story: StorySpec, family: Family, rng: random.Random, size: float, jump: bool = False) -> str:
    """A story inside a column flow: its headline in the column, its text running on."""
    head = (f'<h3 style="font-size:{round(family.body_pt * size, 1)}pt">{html.escape(story.title)}</h3>'
            if story.title else "")
    photo = "inside" if story.caption else ""
    tail = f'<p class="jump">（转第{rng.randint(5, 12)}版）</p>' if jump else ""
    return head + "".join(_paragraphs(story, photo, rng)) + tail


def _beside(family: Family, stories: list[StorySpec], rng: random.Random, cols: int):
    """What runs beside a lead narrower than the page: briefs in a column flow, or a boxed sidebar."""
    if family.beside == "sidebar":
        side = _fit(stories.pop(0), 450, rng)
        return [side], _story(side, family, rng, cols=cols, head=1.8, boxed=True)
    briefs = [_fit(stories.pop(0), 260, rng) for _ in range(min(2, len(stories)))]
    return briefs, (f'<div class="cols" style="column-count:{cols}">'
                    f'{"".join(_brief(b, family, rng, size=1.6) for b in briefs)}</div>')


def _boxes(stories: list[StorySpec], family: Family, rng: random.Random) -> list[str]:
    """A box per story: a long one across the page, two shorter ones side by side."""
    out, i, vertical = [], 0, family.vertical
    while i < len(stories):
        pair = stories[i:i + 2]
        if len(pair) == 2 and all(sum(map(len, s.paragraphs)) < 700 for s in pair):
            left = family.columns // 2
            cells = [_story(s, family, rng, cols=c, head=2.0, photo=family.photos)
                     for s, c in zip(pair, (left, family.columns - left), strict=True)]
            out.append(f'<div class="grid"><div style="flex:{left}">{cells[0]}</div>'
                       f'<div style="flex:{family.columns - left}">{cells[1]}</div></div>')
            i += 2
            continue
        out.append(_story(stories[i], family, rng, cols=family.columns - vertical, head=2.2,
                          photo=family.photos, vertical=vertical))
        vertical = False  # one vertical headline a page
        out.append('<div class="rule"></div>')
        i += 1
    return out


# --- header -----------------------------------------------------------------------------------

_CN_DIGITS = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n] if n else "〇"
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else _CN_DIGITS[tens]}十{_CN_DIGITS[ones] if ones else ''}"


def _label(family: Family, page: int) -> tuple[str, str]:
    """(the page's label as printed, what a reader of the header should give as its 版次)."""
    if family.header == "a03":
        return f"A{page:02d}", f"A{page}"
    if family.header == "short":
        return f"{page}版", str(page)
    if family.header == "chinese":
        return f"第{_cn_number(page)}版", str(page)
    if family.header == "slash":
        return f"A{page}版", f"A{page}"
    return f"第{page}版", str(page)


def _date(family: Family, iso: str) -> str:
    day = date.fromisoformat(iso)
    week = f"星期{WEEKDAYS[day.weekday()]}"
    if family.header == "short":
        return f"{day.isoformat()} {week}"
    if family.header == "a03":
        return f"{day.year}.{day.month:02d}.{day.day:02d} {week}"
    if family.header == "slash":
        return f"{day.year}/{day.month}/{day.day} 周{WEEKDAYS[day.weekday()]}"
    if family.header == "chinese":
        year = "".join(_CN_DIGITS[int(d)] for d in str(day.year))
        return f"{year}年{_cn_number(day.month)}月{_cn_number(day.day)}日 {week}"
    return f"{day.year}年{day.month}月{day.day}日 {week}"


def _header(family: Family, meta: Meta, rng: random.Random) -> str:
    label, _ = _label(family, meta.page)
    day = _date(family, meta.date)
    editor = {"short": f"本版编辑：{meta.editor} 美编：{rng.choice(_REPORTERS)}",
              "a03": f"编辑 {meta.editor}　校对 {rng.choice(_REPORTERS)}"}.get(
        family.header, f"责任编辑：{meta.editor}")
    e = html.escape
    if family.masthead == "image":
        name = f'<img src="{_masthead_png(meta.newspaper, family.script)}" style="height:40pt">'
    elif family.masthead == "type":
        name = f'<span class="masthead">{e(meta.newspaper)}</span>'
    else:
        name = f"<span>{e(meta.newspaper)}</span>"
    if family.header == "oneline":
        return (f'<div class="hd">{name}<span>{e(day)} {e(label)} {e(meta.section)} {e(editor)}</span></div>')
    if family.header == "a03":
        return (f'<div class="hd"><span class="label">{e(label)}</span><span>{e(meta.section)}</span>'
                f"{name}<span>{e(day)}</span><span>{e(editor)}</span></div>")
    return (f'<div class="hd">{name}<span>{e(day)}</span><span>{e(label)}　{e(meta.section)}</span>'
            f"<span>{e(editor)}</span></div>")


@lru_cache(maxsize=16)
def _masthead_png(name: str, script: str) -> str:
    """The paper's name drawn as a picture (a data URL): a masthead a text layer does not hold."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(MASTHEAD_FONT, 96, index=_font_index(script))
    box = font.getbbox(name)
    image = Image.new("L", (box[2] + 20, box[3] + 20), 255)
    ImageDraw.Draw(image).text((10 - box[0], 10 - box[1]), name, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _font_index(script: str) -> int:
    from PIL import ImageFont

    for i in range(10):
        try:
            if ImageFont.truetype(MASTHEAD_FONT, 12, index=i).getname()[0].endswith(script.upper()):
                return i
        except OSError:
            break
    return 0


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("s2t")


def _traditional(text: str) -> str:
    return _converter().convert(text)

"""Newspaper pages made from real text, for the format tests and benchmarks/bench_formats.py.

A `PageSpec` (masthead, date, 版次, stories) is laid out as an e-paper page in HTML with CSS
columns: headlines in large type spanning their story's columns, sub-headlines, bylines,
paragraphs indented two characters, a photo with its caption set inside the columns, stories
side by side where they are short. Headless Chromium (through Playwright) prints it to a PDF
with Noto CJK; `scan` rasterizes a PDF page as a scanner would (a degree or two of skew,
noise). The spec is the truth a reader of the PDF is measured against.
"""

from __future__ import annotations

import html
import io
import random
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from qa.testing.browser import CHROMIUM, CHROMIUM_ARGS

WEEKDAYS = "一二三四五六日"
PAGE_WIDTH_MM = 280
CAPTION = re.compile(r"图为")
CREDIT = re.compile(r"\s*[（(]\s*[^（）()]{2,30}?\s*摄\s*[)）]\s*$")


@dataclass
class StorySpec:
    title: str | None
    paragraphs: list[str]
    subtitle: str | None = None
    byline: str | None = None  # 本报记者 … under the headline
    closer: str | None = None  # （刘洋） after the last paragraph
    caption: str | None = None  # a photo with this caption (credit included)


@dataclass
class PageSpec:
    newspaper: str
    stories: list[StorySpec]
    date: str | None = None  # ISO
    page: str | None = None
    section: str | None = None
    editor: str | None = None
    extra: dict = field(default_factory=dict)

    def sentences(self) -> list[str]:
        """Every sentence of the page's text (paragraphs and captions), in reading order."""
        out: list[str] = []
        for story in self.stories:
            texts = story.paragraphs + ([CREDIT.sub("", story.caption)] if story.caption else [])
            for text in texts:
                out += split_sentences(text)
        return out


_SENTENCE = re.compile(r"[^。！？!?；;]*[。！？!?；;]+[”’\"』」）)]*|[^。！？!?；;]+$")


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, white space removed (what a reader must return whole)."""
    squashed = re.sub(r"\s+", "", text)
    return [s for s in _SENTENCE.findall(squashed) if sum(ch.isalnum() for ch in s) >= 4]


def seed_spec(path: Path) -> PageSpec:
    """A seed page as its text reader sees it: stories, headlines, bylines, page metadata."""
    from qa.ingest.articles import ingest_file

    articles = ingest_file(path).articles
    first = articles[0]
    stories = []
    for a in articles:
        paragraphs = [p.text for p in a.paragraphs]
        captions = [t for t in paragraphs if CAPTION.search(t)]
        body = [t for t in paragraphs if t not in captions]
        byline, closer, caption = a.byline, None, None
        if captions:
            credit = f"（{byline}）" if byline and byline.endswith("摄") else ""
            caption = CREDIT.sub("", " ".join(captions)) + credit
            byline = None if credit else byline
        if byline and not byline.startswith(("本报", "记者", "通讯员")):
            closer, byline = f"（{byline}）", None
        if not body and caption is None:
            continue
        stories.append(StorySpec(a.title, body, a.subtitle, byline, closer, caption))
    return PageSpec(first.newspaper or "乌海日报", stories, first.date, first.page, first.section,
                    extra={"source": path.name})


def markdown_spec(path: Path, stories: int, newspaper: str = "新闻联播", page: str = "2") -> PageSpec:
    """The first `stories` stories of a Markdown transcript (xwlb) as a page."""
    from qa.ingest.articles import ingest_file

    articles = [a for a in ingest_file(path).articles if a.title][:stories]
    specs = [StorySpec(a.title, [p.text for p in a.paragraphs]) for a in articles]
    return PageSpec(newspaper, specs, articles[0].date, page, "要闻", extra={"source": path.name})


# --- layout -----------------------------------------------------------------------------------

CSS = """
@page { margin: 0; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #111; }
.page { width: %(width)smm; padding: 14mm 13mm 10mm; font-family: 'Noto Serif CJK SC', serif; }
.header { display: flex; justify-content: space-between; align-items: flex-end;
          font: 10pt 'Noto Sans CJK SC', sans-serif; border-bottom: 2pt solid #111;
          padding-bottom: 3pt; margin-bottom: 12pt; }
.masthead { font: 900 44pt 'Noto Serif CJK SC', serif; letter-spacing: 6pt; }
.story { margin: 0 0 16pt; border-bottom: 0.6pt solid #888; padding-bottom: 10pt; }
.row { display: flex; gap: 18pt; }
.row > .story { flex: 1 1 0; }
h1 { font: 700 %(head)spt/1.25 'Noto Sans CJK SC', sans-serif; text-align: center; margin: 0 0 6pt; }
h2 { font: 400 14pt/1.3 'Noto Serif CJK SC', serif; text-align: center; margin: 0 0 10pt; }
.cols { font-size: 10pt; line-height: 1.62; text-align: justify; column-gap: 15pt;
        column-rule: 0.5pt solid #bbb; margin-top: 12pt; }
.cols p { margin: 0; text-indent: 2em; orphans: 1; widows: 1; }
.cols p.byline { text-indent: 0; font-family: 'Noto Sans CJK SC', sans-serif; margin-bottom: 2pt; }
.cols p.closer { text-align: right; text-indent: 0; }
.photo { height: 84pt; margin: 6pt 0 4pt; break-inside: avoid;
         background: linear-gradient(135deg, #777, #ccc 60%%, #999); }
.cols p.caption { font: 8.5pt/1.5 'Noto Sans CJK SC', sans-serif; text-indent: 0; margin-bottom: 7pt; }
"""


def _columns(chars: int, wide: bool) -> int:
    if not wide:
        return 2 if chars > 300 else 1
    return 5 if chars > 1800 else 4 if chars > 900 else 3


def _story_html(story: StorySpec, wide: bool, rng: random.Random) -> str:
    chars = sum(map(len, story.paragraphs))
    parts = ['<div class="story">']
    if story.title:
        size = 24 if wide else 18
        parts.append(f'<h1 style="font-size:{size}pt">{html.escape(story.title)}</h1>')
    if story.subtitle:
        parts.append(f"<h2>——{html.escape(story.subtitle)}</h2>")
    parts.append(f'<div class="cols" style="column-count:{_columns(chars, wide)}">')
    if story.byline:
        parts.append(f'<p class="byline">{html.escape(story.byline)}</p>')
    photo_at = rng.randint(1, max(1, len(story.paragraphs) - 1)) if story.paragraphs else 0
    for n, text in enumerate([*story.paragraphs, None]):
        if n == photo_at and story.caption:
            parts.append('<div class="photo"></div>')
            parts.append(f'<p class="caption">{html.escape(story.caption)}</p>')
        if text is not None:
            parts.append(f"<p>{html.escape(text)}</p>")
    if story.closer:
        parts.append(f'<p class="closer">{html.escape(story.closer)}</p>')
    parts.append("</div></div>")
    return "\n".join(parts)


def page_html(spec: PageSpec, seed: int = 0) -> str:
    """The page as HTML: header, then stories; two short stories in a row share it."""
    rng = random.Random(seed)
    when = date.fromisoformat(spec.date) if spec.date else None
    day = f"{when.year}年{when.month}月{when.day}日 星期{WEEKDAYS[when.weekday()]}" if when else ""
    number = f"第{spec.page}版" if spec.page else ""
    where = f"{number} {spec.section or ''}".strip()
    if spec.page == "1":
        header = (f'<div class="header"><span class="masthead">{html.escape(spec.newspaper)}</span>'
                  f"<span>{day}</span><span>{html.escape(where)}</span></div>")
    else:
        editor = f"<span>责任编辑：{html.escape(spec.editor)}</span>" if spec.editor else ""
        header = (f'<div class="header"><span>{html.escape(spec.newspaper)}</span><span>{day}</span>'
                  f"<span>{html.escape(where)}</span>{editor}</div>")
    body, i = [], 0
    stories = spec.stories
    while i < len(stories):
        short = [len("".join(s.paragraphs)) < 700 for s in stories[i : i + 2]]
        if len(short) == 2 and all(short):
            body.append('<div class="row">' + "".join(_story_html(s, False, rng) for s in stories[i : i + 2])
                        + "</div>")
            i += 2
        else:
            body.append(_story_html(stories[i], True, rng))
            i += 1
    style = CSS % {"width": PAGE_WIDTH_MM, "head": 24}
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head>"
            f"<body><div class='page'>{header}{''.join(body)}</div></body></html>")


def chromium_available() -> str | None:
    """None when the PDF printer can run, else why not."""
    if not CHROMIUM.exists():
        return f"no browser at {CHROMIUM}: apt-get install chromium fonts-noto-cjk (see .ci/run)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    return None


def print_pdf(specs: list[PageSpec], out: Path, seed: int = 0, browser=None) -> Path:
    """One PDF page per spec (laid out by `page_html`), written to `out`; printed by `browser`
    (a Playwright Browser) when given, else by a Chromium started for it."""
    pages = [(page_html(spec, seed + n), PAGE_WIDTH_MM) for n, spec in enumerate(specs)]
    return print_html(pages, out, browser)


def print_html(pages: list[tuple[str, float]], out: Path, browser=None) -> Path:
    """One PDF page per (HTML, width in mm), each as tall as its `.page` element."""
    if browser is not None:
        return _print(browser, pages, out)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            return _print(browser, pages, out)
        finally:
            browser.close()


def _print(browser, pages: list[tuple[str, float]], out: Path) -> Path:
    import pypdfium2 as pdfium

    merged = pdfium.PdfDocument.new()
    page = browser.new_page()
    page.emulate_media(media="print")
    for markup, width in pages:
        page.set_content(markup)
        page.evaluate("document.fonts.ready")
        height = page.evaluate("document.querySelector('.page').getBoundingClientRect().height")
        for _ in range(5):  # print layout may run longer than the screen's: grow until one page
            single = pdfium.PdfDocument(page.pdf(width=f"{width}mm", height=f"{int(height) + 24}px",
                                                 print_background=True))
            if len(single) == 1:
                break
            single.close()
            height *= 1.15
        merged.import_pages(single, [0])
        single.close()
    page.close()
    buffer = io.BytesIO()
    merged.save(buffer)
    out.write_bytes(buffer.getvalue())
    return out


def scan(pdf: Path, page: int = 0, dpi: int = 200, skew: float = 0.0, noise: float = 0.0,
         seed: int = 0):
    """A PDF page as a scanner would give it: grey levels at `dpi`, turned and noisy (`degrade`)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    image = doc[page].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    doc.close()
    return degrade(image, skew, noise, seed)


def degrade(image, skew: float = 0.0, noise: float = 0.0, seed: int = 0):
    """`image` rotated by `skew` degrees (white corners), with Gaussian noise of standard
    deviation `noise` (0-255 scale)."""
    import numpy as np
    from PIL import Image

    if skew:
        image = image.rotate(skew, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if noise:
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image


def photographed(image, seed: int = 0):
    """`image` as a phone photo of a page might give it: lit unevenly (a quarter darker at one
    corner), a little soft, and cut off along one edge (a twentieth of the page)."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = pixels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    corner = rng.integers(0, 4)
    fy, fx = (ys / h if corner in (0, 1) else 1 - ys / h), (xs / w if corner in (0, 2) else 1 - xs / w)
    light = 1.0 - 0.25 * (fx + fy) / 2
    pixels = 255 - (255 - pixels) * 0.9  # ink a little grey
    out = Image.fromarray(np.clip(pixels * light, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    cut = int((w if corner % 2 else h) / 20)
    return out.crop((0, 0, w - cut, h) if corner % 2 else (0, 0, w, h - cut))


# --- measures ---------------------------------------------------------------------------------

class Recovery(NamedTuple):
    sentences: int  # of the source
    whole: int  # found whole inside one paragraph
    in_order: int  # found whole, after the sentence before it
    headlines: int  # of the source
    headlines_exact: int  # found exactly among the articles' headlines

    def __add__(self, other):  # noqa: D105
        return Recovery(*(a + b for a, b in zip(self, other, strict=True)))


def recovery(spec: PageSpec | list[PageSpec], articles, tolerance: float = 0.0) -> Recovery:
    """How much of the laid-out text a reader gave back: sentences whole, in order; headlines.

    With a `tolerance` (for OCR), a sentence counts as whole when a stretch of one paragraph
    matches it but for that share of characters, and headlines are compared without spaces and
    with full- and half-width forms folded.
    """
    specs = spec if isinstance(spec, list) else [spec]
    paragraphs = [_plain(p.text, tolerance) for a in articles for p in a.paragraphs]
    sentences = [_plain(s, tolerance) for sp in specs for s in sp.sentences()]
    whole = in_order = 0
    at = (0, 0)
    for sentence in sentences:
        places = [(i, j) for i, p in enumerate(paragraphs) if (j := _find(sentence, p, tolerance)) >= 0]
        whole += bool(places)
        later = [place for place in places if place >= at]
        if later:
            in_order += 1
            at = (later[0][0], later[0][1] + 1)
    titles = [_plain(st.title, tolerance) for sp in specs for st in sp.stories if st.title]
    found = [_plain(a.title, tolerance) for a in articles if a.title]
    exact = sum(1 for t in titles if t in found)
    return Recovery(len(sentences), whole, in_order, len(titles), exact)


def _plain(text: str, tolerance: float) -> str:
    import unicodedata

    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)) if tolerance else text


def _find(sentence: str, paragraph: str, tolerance: float) -> int:
    """Where `sentence` starts in `paragraph` (exactly, or but for `tolerance`), else -1.

    Approximately: a stretch of the paragraph that starts (or ends) where a few characters of
    the sentence's start (or end) are found, and matches it but for that share of characters.
    """
    squashed = re.sub(r"\s+", "", paragraph)
    exact = squashed.find(sentence)
    if exact >= 0 or not tolerance:
        return exact
    from difflib import SequenceMatcher

    n, probe = len(sentence), min(4, len(sentence))
    starts = {m.start() for k in range(0, 6, 2) for m in re.finditer(re.escape(sentence[k:k + probe]),
                                                                     squashed)}
    starts |= {m.end() - n for m in re.finditer(re.escape(sentence[-probe:]), squashed)}
    for start in sorted(s for s in starts if s >= 0):
        window = squashed[start : start + n + 2]
        matched = sum(b.size for b in SequenceMatcher(None, sentence, window, autojunk=False)
                      .get_matching_blocks())
        if matched >= (1 - tolerance) * n:
            return start
    return -1


def cer(truth: str, text: str, fold: bool = True) -> float:
    """Character error rate: edit distance / length of the truth, white space ignored. With
    `fold`, full- and half-width forms count as one (NFKC): a CJK font sets `,` and `，` alike,
    and no reader of a page can tell them apart."""
    import unicodedata

    import numpy as np

    if fold:
        truth, text = unicodedata.normalize("NFKC", truth), unicodedata.normalize("NFKC", text)
    a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", text)
    if not a:
        return float(bool(b))
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, ch in enumerate(a, 1):
        substitute = row[:-1] + (codes != ord(ch))
        candidate = np.concatenate(([i], np.minimum(substitute, row[1:] + 1)))
        row = np.minimum.accumulate(candidate - steps) + steps  # insertions run along the row
    return float(row[-1]) / len(a)

"""The printed page behind a citation: the part of the PDF page or scan around the cited
paragraph, with the paragraph and the answer boxed. Rendered on the server from the indexed
file, found by the article's id, never by a path from the browser, and sent inline in the HTML;
a file that changed since it was indexed is not drawn (its boxes would point at the wrong place).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from pathlib import Path
from typing import NamedTuple

from qa.errors import ReadError
from qa.files import display_name, read_bytes
from qa.index.store import Store
from qa.ingest.formats.boxes import paragraph_boxes, span_boxes
from qa.types import Citation, LineBox, PageInfo, Paragraph

WIDTH = 900  # pixels across the picture
MAX_HEIGHT = 1800  # pixels down it, at most: twice what a screen shows
MARGIN = 0.04  # of the page, around the paragraph
PARAGRAPH = (232, 162, 0)
ANSWER = (220, 38, 38)


class PageView(NamedTuple):
    image: object | None  # a PIL image, None when there is no page to show
    caption: str  # what is shown, or why nothing is


def page_view(store: Store, paragraph: Paragraph, citation: Citation | None,
              max_bytes: int, timeout: float) -> PageView:
    """The cited paragraph on its page, the answer span (when `citation` has one) boxed.

    The page file is read as archive files are (qa.files: a regular file, within `max_bytes`
    and `timeout`) and must be the one that was indexed.
    """
    lines = store.lines(paragraph.source, paragraph.line_start, paragraph.line_end)
    if not lines:
        return PageView(None, "")
    info = store.page(paragraph.source, lines[0].page)
    path = Path(paragraph.source)
    try:
        data = read_bytes(path, max_bytes, timeout) if info is not None else b""
    except ReadError:
        data = b""
    if not data:
        return PageView(None, f"原页面文件不可用 (page file not readable: {display_name(path.name)})")
    if hashlib.sha256(data).hexdigest() != store.file_hash(paragraph.source):
        return PageView(None, "原页面文件在建立索引后已改变 (the page file changed since indexing)")
    boxes = paragraph_boxes(paragraph.text, lines) or lines
    answer = []
    if citation and citation.answer_start is not None and citation.answer_end is not None \
            and citation.passage == paragraph.text:
        answer = span_boxes(paragraph.text, citation.answer_start, citation.answer_end, lines)
    image = _draw(data, path.suffix.lower() == ".pdf", info, boxes, answer)
    where = f"第{info.label}版 · " if info.label else ""
    how = "OCR" if info.ocr else "PDF"
    return PageView(image, f"{where}{path.name} 第{info.number}页 ({how})")


def page_html(view: PageView) -> str:
    """The view as HTML: the picture inline (a data URL, so no file is written or served) and its
    caption, escaped."""
    if view.image is None:
        return f'<p class="qa-note">{html.escape(view.caption)}</p>' if view.caption else ""
    buffer = io.BytesIO()
    view.image.save(buffer, format="JPEG", quality=88)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    caption = html.escape(view.caption)
    picture = f'<img src="data:image/jpeg;base64,{data}" alt="{caption}">'
    # the picture, and a click on it opens it large beside the chat (no script needed)
    return (f'<figure class="qa-page"><details><summary>{picture}</summary>'
            f'<div class="qa-page-large">{picture}</div></details>'
            f"<figcaption>{caption} · 点击放大 click to enlarge</figcaption></figure>")


def _corners(box: LineBox, info: PageInfo) -> list[tuple[float, float]]:
    """A box's corners on the page as it is (a straightened scan turned back), in page units."""
    from qa.ingest.formats.ocr import unrotate

    w, h = info.width, info.height
    points = [(box.x0 * w, box.y0 * h), (box.x1 * w, box.y0 * h), (box.x1 * w, box.y1 * h),
              (box.x0 * w, box.y1 * h)]
    if info.skew:
        points = [unrotate(x, y, w, h, info.skew) for x, y in points]
    return points


def _draw(data: bytes, is_pdf: bool, info: PageInfo, boxes: list[LineBox], answer: list[LineBox]):
    from PIL import ImageDraw

    corners = [p for box in boxes for p in _corners(box, info)]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    pad_x, pad_y = MARGIN * info.width, MARGIN * info.width
    region = (max(0.0, min(xs) - pad_x), max(0.0, min(ys) - pad_y),
              min(info.width, max(xs) + pad_x), min(info.height, max(ys) + pad_y))
    image, scale = _crop(data, is_pdf, info, region)
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)

    def polygon(box: LineBox) -> list[tuple[float, float]]:
        return [((x - region[0]) * scale, (y - region[1]) * scale) for x, y in _corners(box, info)]

    for box in boxes:
        draw.polygon(polygon(box), fill=(255, 213, 79))
    for box in answer:
        draw.polygon(polygon(box), fill=(255, 120, 120))
    from PIL import Image

    image = Image.blend(image, overlay, 0.35)
    draw = ImageDraw.Draw(image)
    for box in boxes:
        draw.polygon(polygon(box), outline=PARAGRAPH, width=1)
    for box in answer:
        draw.polygon(polygon(box), outline=ANSWER, width=3)
    return image


def picture_scale(width: float, height: float) -> float:
    """Pixels per page unit for a region: WIDTH pixels across, but never taller than
    MAX_HEIGHT (a tall, thin page would otherwise be drawn hundreds of thousands of pixels
    tall)."""
    return min(WIDTH / max(width, 1.0), MAX_HEIGHT / max(height, 1.0))


def _crop(data: bytes, is_pdf: bool, info: PageInfo, region: tuple[float, float, float, float]):
    """The region of the page (page units) as an RGB image `WIDTH` pixels across, and its scale."""
    from PIL import Image

    x0, y0, x1, y1 = region
    scale = picture_scale(x1 - x0, y1 - y0)
    if is_pdf:
        from qa.ingest.formats.pdf import open_pdf

        doc = open_pdf(data)
        try:
            page = doc[info.number - 1]
            bitmap = page.render(scale=scale, crop=(x0, info.height - y1, info.width - x1, y0))
            image = bitmap.to_pil().convert("RGB")
            page.close()
        finally:
            doc.close()
        return image, scale
    with Image.open(io.BytesIO(data)) as scan:
        image = scan.convert("RGB").crop((int(x0), int(y0), int(x1), int(y1)))
    return image.resize((max(1, round(image.width * scale)),
                         max(1, round(image.height * scale)))), scale

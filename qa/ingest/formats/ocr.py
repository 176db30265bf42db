"""Scanned pages through RapidOCR: the PP-OCRv6 small detection and recognition models bundled
in the `rapidocr` wheel (simplified and traditional Chinese, Latin script), run with onnxruntime
on the CPU, nothing downloaded.

A scan turned by a degree or two is straightened first: the skew is the angle at which the
rows of ink line up best (projection profile of a small copy), and the page is turned back by
it, so printed rules run straight (they are then painted out: a column rule reads as 丨 and
joins the lines beside it), columns and gaps line up, and the recognizer reads level lines.
Each detected line keeps its box (on the straightened page) and recognition confidence.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from qa.errors import ReadError
from qa.ingest.formats.layout import Line
from qa.text import is_han

DETECT_MIN_SIDE = 736  # the detector enlarges an image to this shortest side (a strip 5 px wide: 100×)
DETECT_PIXELS = 9_000_000  # the most pixels line detection looks at at once (memory grows with them)
BAND_PX = 2400  # a larger page is searched for lines in bands of so many rows at least,
OVERLAP_PX = 400  # overlapping by so many (more than two headline lines)
EDGE_PX = 4  # a line within so many rows of a band's cut edge is cut by it
PROBE_WIDTH = 1400  # pixels across the copy on which the page's usual line height is measured
TARGET_LINE_PX = 32  # a usual line this tall, or enlarged to it (the models' sweet spot)
MAX_UPSCALE = 2.0
MIN_CONFIDENCE = 0.5  # RapidOCR's own cut: lines read with less confidence are noise
SPLIT_PITCHES = 1.8  # characters this far apart inside a detected line have a gutter between them
MAX_SKEW = 5.0  # degrees searched either way for the page's skew
VERTICAL_RATIO = 3.0  # a detected box this many times taller than wide is a vertical line
SLIVER = 0.35  # a box narrower than this share of a usual line's height is a rule's remnant
BLANK_SHARE = 0.15  # a stretch of a line with ink in fewer of its pixel columns is blank
CHANNEL_EMS = 0.4  # a white channel this wide (in line heights) through a detected line cuts it
CHANNEL_REACH = 3.5  # line heights above and below a line that a channel runs through
WIDE_CHANNEL_EMS = 0.75  # white only above or only below it, this wide
HEAD_LINES = 1.5  # a detected line this many times the usual height is set in headline type
HEAD_SPACE_EMS = 0.6  # pieces of large type closer than this share of its height are one headline,
MISSED_EMS = 5.0  # or as far apart as this with ink between them (characters the detector missed)


LONE_DASH = re.compile(r"(?<=[\u3400-\u9fff“”》」])—(?![—])(?=[\u3400-\u9fff“《「])")
MODELS = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")  # inside the rapidocr wheel


class Engine(NamedTuple):
    """The OCR models: a line detector and a line recognizer."""

    detector: Any
    recognizer: Any

    def detect(self, image) -> Any:
        """Boxes (n × 4 corners, pixels) of the lines of an image (H × W × 3), or None."""
        import numpy as np

        height, width = image.shape[:2]
        if min(height, width) < DETECT_MIN_SIDE:  # padded white, or the detector scales it up to that
            image = np.pad(image, ((0, max(0, DETECT_MIN_SIDE - height)), (0, max(0, DETECT_MIN_SIDE - width)),
                                   (0, 0)), constant_values=255)
        boxes = self.detector(image).boxes
        return None if boxes is None or not len(boxes) else np.asarray(boxes, dtype=np.float32)

    def read(self, crops: list) -> list[tuple[str, float, list[float] | None]]:
        """Each line crop's text, confidence and where each character sits along it (a share of
        its width; None when they cannot be placed)."""
        from rapidocr.ch_ppocr_rec.typings import TextRecInput

        if not crops:
            return []
        out = self.recognizer(TextRecInput(img=crops, return_word_box=True))
        read = []
        for text, score, where in zip(out.txts, out.scores, out.word_results, strict=True):
            text, centres = _dashes(text, _centres(text, where))
            read.append((text, float(score), centres))
        return read


@lru_cache(maxsize=2)
def engine(threads: int) -> Engine:
    """The OCR engine (models load once per process: about a second)."""
    try:
        import rapidocr
    except ImportError as exc:  # the wheel, or a library under OpenCV, is missing
        raise ReadError(f"OCR is not available: {exc} (pip install rapidocr==3.10.0)") from exc
    det, rec = (Path(rapidocr.__file__).parent / "models" / name for name in MODELS)
    for path in (det, rec):
        if not path.is_file():
            raise ReadError(f"OCR is not available: {path} is missing (pip install --force-reinstall "
                            "rapidocr==3.10.0: its wheel carries the models)")
    ocr = rapidocr.RapidOCR(params={
        "Global.log_level": "critical", "Global.use_cls": False,
        "Det.model_path": str(det), "Rec.model_path": str(rec),
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1})
    # RapidOCR's own pipeline downscales pages to 2000 px; its models are driven here one by one
    return Engine(ocr._load_det_model(), ocr._load_rec_model())


def recognise(image, threads: int = -1) -> tuple[list[Line], float]:
    """Lines of a page image (PIL) on the straightened page, and the skew in degrees (positive:
    the lines run down to the right).

    Lines are found and read at full resolution: a page scanned coarsely (lines under
    `TARGET_LINE_PX` tall, as at 150 dpi) is first enlarged up to `MAX_UPSCALE` times, and a
    page of more than `DETECT_PIXELS` is searched for lines band by band (the detector's memory
    grows with the pixels it looks at at once). Coordinates are the image's own.
    """
    import numpy as np
    from PIL import Image

    ocr = engine(threads)
    gray = image.convert("L")
    skew = skew_of(np.asarray(gray))
    if skew:
        gray = gray.rotate(skew, resample=Image.BICUBIC, fillcolor=255)
    factor = _enlargement(ocr, np.asarray(gray))
    if factor > 1:
        gray = gray.resize((round(gray.width * factor), round(gray.height * factor)), Image.BICUBIC)
    clean = _without_rules(np.asarray(gray))
    page = np.repeat(clean[:, :, None], 3, axis=2)  # the models read three channels
    boxes = _detect(ocr, page)
    if boxes is None or not len(boxes):
        return [], skew
    ink = clean < 128
    boxes = _split_at_channels(boxes, ink)
    usual = float(np.median([b[:, 1].max() - b[:, 1].min() for b in boxes]))
    boxes = _joined_heads(boxes, ink, usual)
    boxes = np.stack([b for b in boxes if b[:, 0].max() - b[:, 0].min() >= SLIVER * usual]
                     or list(boxes))  # what is left of a rule, not a line
    upright = [_vertical(box, usual) for box in boxes]
    crops = [_unstacked(page, box) if up else _crop(page, box) for box, up in zip(boxes, upright, strict=True)]
    lines = []
    for box, up, (text, score, centres) in zip(boxes.tolist(), upright, ocr.read(crops), strict=True):
        if float(score) < MIN_CONFIDENCE or not text.strip():
            continue
        xs, ys = zip(*box, strict=True)
        if up:
            lines.append(Line(text.strip(), min(xs), min(ys), max(xs), max(ys), max(xs) - min(xs), False,
                              round(float(score), 4), vertical=True))
            continue
        lines += _pieces(text, centres, min(xs), min(ys), max(xs), max(ys), round(float(score), 4), ink)
    if factor > 1:
        lines = [_scaled(line, 1 / factor) for line in lines]
    return lines, skew


def _enlargement(ocr, gray) -> float:
    """How much to enlarge the page so that its usual line is `TARGET_LINE_PX` tall (1: as it
    is): lines are found on a copy `PROBE_WIDTH` pixels across and measured."""
    import numpy as np
    from PIL import Image

    width = gray.shape[1]
    scale = min(1.0, PROBE_WIDTH / max(width, 1))
    probe = Image.fromarray(gray).resize((max(1, round(width * scale)), max(1, round(gray.shape[0] * scale))),
                                         Image.BILINEAR)
    boxes = ocr.detect(np.repeat(np.asarray(probe)[:, :, None], 3, axis=2))
    if boxes is None:
        return 1.0
    heights = [float(b[:, 1].max() - b[:, 1].min()) / scale for b in boxes]
    usual = float(np.median(heights))
    return min(MAX_UPSCALE, TARGET_LINE_PX / usual) if usual < TARGET_LINE_PX / 1.15 else 1.0


def _detect(ocr, page):
    """Boxes of the page's lines (4 corners each, page pixels): the whole page at once, or bands
    of `BAND_PX` rows overlapping by `OVERLAP_PX`, each keeping the lines whose middle is in its
    own part and that its edges do not cut (those the band beside holds whole); a line taller
    than the overlap (a vertical headline) comes in the pieces the bands hold."""
    import numpy as np

    height, width = page.shape[:2]
    if height * width <= DETECT_PIXELS:
        return ocr.detect(page)
    band = max(BAND_PX, DETECT_PIXELS // width)
    out = []
    for top in range(0, height, band - OVERLAP_PX):
        bottom = min(height, top + band)
        boxes = ocr.detect(np.ascontiguousarray(page[top:bottom]))
        lo = 0 if top == 0 else top + OVERLAP_PX / 2
        hi = height if bottom == height else bottom - OVERLAP_PX / 2
        for box in [] if boxes is None else boxes:
            box = box + np.array([0, top], dtype=np.float32)
            tall = box[:, 1].max() - box[:, 1].min() > OVERLAP_PX - 2 * EDGE_PX  # whole in no band
            cut = (top > 0 and box[:, 1].min() < top + EDGE_PX
                   or bottom < height and box[:, 1].max() > bottom - EDGE_PX)  # whole in the next band
            if tall or not cut and lo <= float(box[:, 1].mean()) < hi:
                out.append(box)
        if bottom == height:
            break
    return np.stack(out) if out else None


def _scaled(line: Line, by: float) -> Line:
    return line._replace(x0=line.x0 * by, y0=line.y0 * by, x1=line.x1 * by, y1=line.y1 * by,
                         size=line.size * by, edges=tuple(x * by for x in line.edges))


def _vertical(box, usual: float) -> bool:
    """A detected box that is a column of characters set top to bottom (a vertical headline):
    tall and narrow, but as wide as type at least (a line's `usual` height)."""
    width = float(box[:, 0].max() - box[:, 0].min())
    return (float(box[:, 1].max() - box[:, 1].min()) >= VERTICAL_RATIO * max(width, 1.0)
            and width >= 0.6 * usual)


def _unstacked(page, box):
    """A vertical line as the recognizer reads lines: its characters set side by side. (The
    recognizer reads a turned crop as characters on their side.) The characters are the runs of
    inked rows, joined while they fit in a square as wide as the column's ink (三 has gaps)."""
    import numpy as np

    x0, x1 = int(box[:, 0].min()), int(box[:, 0].max())
    y0, y1 = int(box[:, 1].min()), int(box[:, 1].max())
    column = page[max(0, y0):y1, max(0, x0):x1]
    inked = (column[:, :, 0] if column.ndim == 3 else column) < 128
    cols = np.flatnonzero(inked.any(axis=0))
    runs = [list(run) for run in _runs_of(inked.any(axis=1), 1)]
    if not len(cols) or not runs:
        return column
    side = int(cols[-1] - cols[0] + 1)
    cells = [runs[0]]
    for a, b in runs[1:]:
        if b - cells[-1][0] <= 1.15 * side:
            cells[-1][1] = b
        else:
            cells.append([a, b])
    height, pad = max(b - a for a, b in cells) + 8, max(2, side // 8)
    parts = []
    for a, b in cells:
        cell = np.full((height, column.shape[1] + 2 * pad, *column.shape[2:]), 255, dtype=column.dtype)
        top = (height - (b - a)) // 2
        cell[top:top + b - a, pad:pad + column.shape[1]] = column[a:b]
        parts.append(cell)
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _split_at_channels(boxes, ink):
    """Detected lines cut where a white channel runs through them: the detector joins the
    lines of two columns across a narrow gutter (its boxes grow by about a character's height
    on every side), but the gutter stays white through the lines on either side, and is wider
    than the blank after a comma (`CHANNEL_EMS` of a line's height); at the top or foot of a
    column, white on one side, it must be wider still (`WIDE_CHANNEL_EMS`). `ink`: the page's
    ink, a boolean array."""
    import numpy as np

    heights = [float(b[:, 1].max() - b[:, 1].min()) for b in boxes]
    usual = float(np.median(heights)) if heights else 0.0
    out = []
    for box, h in zip(boxes, heights, strict=True):
        x0, x1 = int(box[:, 0].min()), int(box[:, 0].max())
        y0, y1 = int(box[:, 1].min()), int(box[:, 1].max())
        if h > HEAD_LINES * usual or x1 - x0 < 4 * h:  # headlines, and lines too short to hold two
            out.append(box)
            continue
        own = ink[max(0, y0):y1, max(0, x0):x1].any(axis=0)
        above = ink[max(0, int(y0 - CHANNEL_REACH * h)):y0, max(0, x0):x1].any(axis=0)
        below = ink[y1:int(y1 + CHANNEL_REACH * h), max(0, x0):x1].any(axis=0)
        both, either = ~(own | above | below), ~own & (~above | ~below)
        cuts = sorted(_runs_of(both, CHANNEL_EMS * h) + _runs_of(either, WIDE_CHANNEL_EMS * h))
        cuts = [(a, b) for a, b in cuts if own[:a].any() and own[b:].any()]
        kept: list[tuple[int, int]] = []
        for a, b in cuts:  # a wide run holds the narrow one found in it
            if kept and a < kept[-1][1]:
                kept[-1] = (min(a, kept[-1][0]), max(b, kept[-1][1]))
            else:
                kept.append((a, b))
        edges = [0, *(a for cut in kept for a in cut), x1 - x0]
        for a, b in zip(edges[::2], edges[1::2], strict=False):
            out.append(np.array([[x0 + a, y0], [x0 + b, y0], [x0 + b, y1], [x0 + a, y1]], dtype=np.float32))
    return np.stack(out) if out else boxes


def _joined_heads(boxes, ink, usual: float):
    """Pieces of one headline set on one row joined: the detector parts large type at a word
    space (`聚焦“五个着力” 助推…`) and misses characters in it now and then. Two pieces join when
    they are of one size, side by side, and either less than `HEAD_SPACE_EMS` of it apart with
    ink below the space (the story's text runs on under it) or with ink between them along the
    row (characters the detector missed); between the headlines of two stories side by side
    runs a white gutter. What the detector found inside a joined headline goes with it. `ink`:
    the page's ink, a boolean array."""
    import numpy as np

    # each box once: x0, y0, x1, y1 and its centre
    ext = [(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max()),
            float(b[:, 0].mean()), float(b[:, 1].mean())) for b in boxes]
    head = [y1 - y0 > HEAD_LINES * usual and x1 - x0 >= 1.5 * (y1 - y0)  # large type, set across
            for x0, y0, x1, y1, _, _ in ext]
    joined: list[list[float]] = []
    grown = False
    for x0, y0, x1, y1, _, _ in sorted((e for e, h in zip(ext, head, strict=True) if h), key=lambda e: e[0]):
        for j in joined:
            h, tall = min(y1 - y0, j[3] - j[1]), max(y1 - y0, j[3] - j[1])
            gap = x0 - j[2]
            if (min(y1, j[3]) - max(y0, j[1]) >= 0.6 * h and h >= 0.75 * tall and gap >= -0.2 * h
                    and (gap <= HEAD_SPACE_EMS * h and _inked(ink, j[2], x0, max(y1, j[3]), CHANNEL_REACH * h)
                         or gap <= MISSED_EMS * h and _inked(ink, j[2] + 0.1 * h, x0 - 0.1 * h, max(y0, j[1]), h)
                         and not any(_smaller_line(e, j[2], x0, min(y0, j[1]), max(y1, j[3]), h) for e in ext))):
                j[:] = [j[0], min(y0, j[1]), max(x1, j[2]), max(y1, j[3])]
                grown = True
                break
        else:
            joined.append([x0, y0, x1, y1])
    if not grown:
        return boxes
    rest = [b for b, e, h in zip(boxes, ext, head, strict=True)
            if not h and not any(a <= e[4] <= c and t <= e[5] <= d for a, t, c, d in joined)]
    return np.stack(rest + [np.array([[a, t], [c, t], [c, d], [a, d]], dtype=np.float32) for a, t, c, d in joined])


def _smaller_line(e: tuple[float, ...], a: float, z: float, top: float, foot: float, height: float) -> bool:
    """Whether a box (`e`: its extent and centre) is a line of smaller type (three characters or
    more) between x `a` and `z` on the row [top, foot]: text of other stories, not characters
    missed in a headline."""
    x0, y0, x1, y1, cx, cy = e
    return a <= cx <= z and top <= cy <= foot and y1 - y0 < 0.75 * height and x1 - x0 >= 3 * (y1 - y0)


def _inked(ink, a: float, b: float, top: float, height: float) -> bool:
    """Whether most pixel columns of the stretch [a, b) have ink within `height` below `top`."""
    return _ink_share(ink, a, max(int(b), int(a) + 1), top, top + height) >= 0.5


def _ink_share(ink, x0: float, x1: float, y0: float, y1: float) -> float:
    """The share of the pixel columns of [x0, x1) × [y0, y1) with ink in them (0 when empty)."""
    region = ink[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)]
    return float(region.any(axis=0).mean()) if region.size else 0.0


def _runs_of(flags, least: float) -> list[tuple[int, int]]:
    """[start, end) of each run of True at least `least` long."""
    out, start = [], None
    for x, on in enumerate([*flags, False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            if x - start >= least:
                out.append((start, x))
            start = None
    return out


def skew_of(gray) -> float:
    """The page's skew in degrees (0.0 for a straight page): the angle that makes the rows of
    ink sharpest, searched on a copy about 600 pixels across, coarse then fine."""
    import numpy as np
    from PIL import Image

    step = max(1, gray.shape[1] // 600)
    ink = Image.fromarray(((gray[::step, ::step] < 160) * 255).astype(np.uint8))

    def sharpness(angle: float) -> float:
        rows = np.asarray(ink.rotate(angle, resample=Image.NEAREST), dtype=np.float32).sum(axis=1)
        return float(np.square(np.diff(rows)).sum())

    best = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 0.5), key=sharpness)
    best = max(np.arange(best - 0.5, best + 0.51, 0.1), key=sharpness)
    best = max(np.arange(best - 0.1, best + 0.11, 0.02), key=sharpness)
    return round(float(best), 2) if abs(best) >= 0.1 else 0.0


def _dashes(text: str, centres: list[float] | None) -> tuple[str, list[float] | None]:
    """A dash the recognizer reads once between Chinese characters as the 破折号 it is (——):
    Chinese sets it two ems long, and the model gives one."""
    at = [m.start() for m in LONE_DASH.finditer(text)]
    if not at:
        return text, centres
    for i in reversed(at):
        text = text[:i] + "—" + text[i:]
        centres = None if centres is None else centres[:i + 1] + centres[i:]
    return text, centres


def _crop(page, box):
    """The line in `box`, turned level (a line taller than long is read turned on its side)."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(page, box.copy())


def _centres(text: str, where) -> list[float] | None:
    """Where each character of a recognised line sits, as a share of the line's width (`where`:
    the recognizer's word information, the output column of each character but spaces, and the
    line's length in columns); a space sits halfway between its neighbours."""
    flat = [c + 0.5 for word in where.word_cols for c in word]
    if len(flat) != sum(not c.isspace() for c in text) or not flat or not where.line_txt_len:
        return None
    placed = iter(flat)
    at = [None if c.isspace() else next(placed) for c in text]
    for i, c in enumerate(at):
        if c is None:
            before = next((x for x in reversed(at[:i]) if x is not None), flat[0])
            after = next((x for x in at[i + 1:] if x is not None), flat[-1])
            at[i] = (before + after) / 2
    return [c / where.line_txt_len for c in at]


def _pieces(text: str, centres: list[float] | None, x0: float, y0: float, x1: float, y1: float,
            score: float, ink=None) -> list[Line]:
    """A recognised line as Lines with character edges, split where the detector joined two
    lines across a gutter: a gap of more than `SPLIT_PITCHES` characters between two read
    characters that is blank on the page (`ink`, the page's ink as a boolean array). A gap with
    ink in it holds characters the recognizer could not read (rare or traditional ones): the
    line goes on across it, and its ends stay where its ink is."""
    if centres is None or len(text) < 2:
        return [Line(text.strip(), x0, y0, x1, y1, _type_size(text, x1 - x0), False, score)]
    at = [x0 + c * (x1 - x0) for c in centres]
    steps = sorted(b - a for a, b in zip(at, at[1:], strict=False))
    pitch = max(steps[len(steps) // 2], 1.0)
    half = pitch / 2

    def blank(a: float, b: float) -> bool:
        return ink is None or b - a < 1 or _ink_share(ink, a, b, y0, y1) < BLANK_SHARE

    cuts = [0, *(i for i in range(1, len(at)) if at[i] - at[i - 1] > SPLIT_PITCHES * pitch
                 and blank(at[i - 1] + half, at[i] - half)), len(at)]
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        part, centre = text[a:b], at[a:b]
        while part and part[0].isspace():
            part, centre = part[1:], centre[1:]
        while part and part[-1].isspace():
            part, centre = part[:-1], centre[:-1]
        if not part:
            continue
        left = max(x0, centre[0] - half)
        right = min(x1, centre[-1] + half)
        if a == 0 and not blank(x0, left):
            left = x0
        if b == len(at) and not blank(right, x1):
            right = x1
        edges = (left, *((p + q) / 2 for p, q in zip(centre, centre[1:], strict=False)), right)
        out.append(Line(part, edges[0], y0, edges[-1], y1,
                        _type_size(part, edges[-1] - edges[0], centre), False, score, edges))
    return out


def _type_size(text: str, width: float, centres: list[float] | None = None) -> float:
    """The type size of a line read by OCR: the distance from its first to its last Han
    character over the characters between (CJK characters are set square, Latin letters and
    digits about half as wide), else its width per character. Character positions come in
    steps of the recognizer's frames (a sixth of a character), so one gap between neighbours is
    no measure; nor is a detected box's height: the detector pads long lines more than short."""
    units = [1.0 if ch >= "\u2e80" else 0.5 for ch in text]
    han = [i for i, ch in enumerate(text) if is_han(ch)]
    if centres and len(han) >= 3:
        first, last = han[0], han[-1]
        return (centres[last] - centres[first]) / (sum(units[first:last]))
    return width / max(sum(u for u, ch in zip(units, text, strict=True) if not ch.isspace()), 1.0)


def _without_rules(gray):
    """The page with its printed rules (column rules, story borders) painted white.

    A rule between two columns is read as a character (丨, 」) and lets the detector join
    the lines on either side into one; rules are long, thin runs of ink that no glyph makes.
    """
    import cv2
    import numpy as np

    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 10)
    reach = max(40, min(gray.shape) // 25)
    rules = np.zeros_like(ink)
    for kernel, across in (((1, reach), (3, 1)), ((reach, 1), (1, 3))):
        # a faint rule, turned back from a scan's skew, wanders a pixel either way and breaks
        # up in noise: widened first, it runs unbroken for a kernel's length
        wide = cv2.dilate(ink, np.ones(across[::-1], np.uint8))
        found = cv2.morphologyEx(wide, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        rules |= cv2.dilate(found, np.ones((3, 3), np.uint8))
    cleaned = gray.copy()
    cleaned[rules > 0] = 255
    return cleaned


def _rotate(x: float, y: float, cx: float, cy: float, degrees: float) -> tuple[float, float]:
    a = math.radians(degrees)
    dx, dy = x - cx, y - cy
    return cx + dx * math.cos(a) - dy * math.sin(a), cy + dx * math.sin(a) + dy * math.cos(a)


def unrotate(x: float, y: float, width: float, height: float, skew: float) -> tuple[float, float]:
    """A point of the straightened page back on the scan as it is."""
    return _rotate(x, y, width / 2, height / 2, skew)

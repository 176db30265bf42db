"""Scanned pages through RapidOCR: PP-OCRv4 detection and recognition models bundled in the
`rapidocr-onnxruntime` wheel, run with onnxruntime on the CPU, nothing downloaded.

Each detected line keeps its box and recognition confidence. A scan turned by a degree or two
is straightened for layout: the skew is the median slant of the wide line boxes, and every box
is rotated back around the page centre, so columns and gaps line up again.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import median

from qa.errors import ReadError
from qa.formats.layout import Line

MAX_SIDE = 10_000  # RapidOCR shrinks larger images (its default, 2000, blurs a page's type)


@lru_cache(maxsize=2)
def engine(threads: int):
    """The OCR engine (models load once per process: about a second)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # the wheel, or OpenCV's system library (libGL), is missing
        raise ReadError(f"OCR is not available: {exc} (pip install rapidocr-onnxruntime; "
                        "on Debian, apt-get install libgl1)") from exc
    return RapidOCR(max_side_len=MAX_SIDE, use_cls=False, print_verbose=False,
                    intra_op_num_threads=threads, inter_op_num_threads=1)


def recognise(image, threads: int = -1) -> tuple[list[Line], float]:
    """Lines of a page image (PIL), straightened, and the skew in degrees."""
    import numpy as np

    pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # OpenCV's channel order
    found, _ = engine(threads)(pixels, use_cls=False)
    found = found or []
    skew = _skew([box for box, _, _ in found])
    cx, cy = image.width / 2, image.height / 2
    lines = []
    for box, text, score in found:
        xs, ys = zip(*(_rotate(x, y, cx, cy, -skew) for x, y in box), strict=True)
        if text.strip():
            lines.append(Line(text.strip(), min(xs), min(ys), max(xs), max(ys), max(ys) - min(ys),
                              False, round(float(score), 4)))
    return lines, skew


def _skew(boxes: list) -> float:
    """The median slant of the top edges of wide boxes, in degrees (clockwise positive)."""
    angles = []
    for box in boxes:
        (x0, y0), (x1, y1) = box[0], box[1]
        height = math.dist(box[1], box[2])
        if x1 - x0 > 4 * max(height, 1.0):
            angles.append(math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return round(median(angles), 3) if len(angles) >= 3 else 0.0


def _rotate(x: float, y: float, cx: float, cy: float, degrees: float) -> tuple[float, float]:
    a = math.radians(degrees)
    dx, dy = x - cx, y - cy
    return cx + dx * math.cos(a) - dy * math.sin(a), cy + dx * math.sin(a) + dy * math.cos(a)


def unrotate(x: float, y: float, width: float, height: float, skew: float) -> tuple[float, float]:
    """A point of the straightened page back on the scan as it is."""
    return _rotate(x, y, width / 2, height / 2, skew)

"""The OCR step's own geometry on drawn pages (qa.ingest.formats.ocr), with a stand-in line
detector: lines cut at white channels, vertical lines unstacked, large pages searched in bands,
coarse pages enlarged. (Real scans are read in tests/test_formats.py and test_families.py.)"""

import numpy as np
import pytest

pytest.importorskip("cv2")
from qa.ingest.formats import ocr  # noqa: E402

H, PITCH = 20, 32  # a line's height and spacing in pixels
COLUMNS = ((20, 320), (340, 640))  # two columns 20 px apart


def page(rows: int = 8, gap_at: dict[int, tuple[int, int]] | None = None):
    """Grey page of `rows` lines in each column: ink in 16 px 'characters' 2 px apart; gap_at
    blanks [a, b) of the left column's line n (n: (a, b))."""
    gray = np.full((rows * PITCH + 40, 660), 255, dtype=np.uint8)
    for n in range(rows):
        y = 20 + n * PITCH
        for x0, x1 in COLUMNS:
            for x in range(x0, x1 - 16, 18):
                gray[y + 2:y + H - 2, x:x + 16] = 0
        if gap_at and n in gap_at:
            a, b = gap_at[n]
            gray[y:y + H, a:b] = 255
    return gray


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def spans(boxes):
    return sorted((int(b[:, 0].min()), int(b[:, 0].max())) for b in boxes)


def test_a_line_joined_across_the_gutter_is_cut_at_the_channel_through_it():
    gray = page()
    y = 20 + 3 * PITCH
    joined = box(20, y, 640, y + H)  # the detector's box over both columns' fourth lines
    out = ocr._split_at_channels(np.stack([joined]), gray < 128)
    assert len(out) == 2
    (a0, a1), (b0, b1) = spans(out)
    assert a0 == 20 and b1 == 640 and a1 <= 340 and b0 >= 306  # the cut lies in the gutter


def test_a_blank_inside_a_column_line_is_not_a_channel():
    """A wide blank after a comma: the lines above and below have ink there."""
    gray = page(gap_at={3: (150, 170)})
    y = 20 + 3 * PITCH
    out = ocr._split_at_channels(np.stack([box(20, y, 320, y + H)]), gray < 128)
    assert spans(out) == [(20, 320)]


def test_at_a_column_foot_only_a_gutter_wide_blank_cuts():
    gray = page(rows=4, gap_at={3: (150, 163)})  # the last line: white below it everywhere
    y = 20 + 3 * PITCH
    narrow = ocr._split_at_channels(np.stack([box(20, y, 320, y + H)]), gray < 128)
    assert spans(narrow) == [(20, 320)]
    across = ocr._split_at_channels(np.stack([box(20, y, 640, y + H)]), gray < 128)
    assert len(across) == 2


def test_a_vertical_line_is_set_out_character_by_character():
    column = np.full((200, 40, 3), 255, dtype=np.uint8)
    column[10:40, 5:35] = 0  # a square character
    for y in (60, 72, 84):  # 三: three strokes with gaps between
        column[y:y + 5, 5:35] = 0
    column[110:140, 5:35] = 0
    out = ocr._unstacked(column, box(0, 0, 40, 200))
    assert out.shape[0] < 60 and out.shape[1] >= 3 * 30  # three cells side by side, 三 one of them
    assert out.shape[1] < 4 * 40


class RowDetector:
    """Stand-in detector: a box for each run of inked rows in each column of the image."""

    def detect(self, image):
        gray = image[:, :, 0] if image.ndim == 3 else image
        boxes = []
        for x0, x1 in COLUMNS:
            rows = (gray[:, x0:x1] < 128).any(axis=1)
            start = None
            for y, on in enumerate([*rows, False]):
                if on and start is None:
                    start = y
                elif not on and start is not None:
                    boxes.append(box(x0, start, x1, y))
                    start = None
        return np.stack(boxes) if boxes else None


def test_a_large_page_is_searched_in_bands_and_each_line_found_once(monkeypatch):
    """Lines found once each; a line taller than the bands' overlap (a vertical headline, here
    in the left column's place) in pieces that cover it."""
    gray = page(rows=60)
    gray[20 + 20 * PITCH:20 + 24 * PITCH, 20:320] = 255
    gray[20 + 20 * PITCH + 4:20 + 24 * PITCH - 4, 150:190] = 0  # 120 px tall
    whole = ocr._detect(RowDetector(), np.repeat(gray[:, :, None], 3, axis=2))
    monkeypatch.setattr(ocr, "DETECT_PIXELS", 100_000)
    monkeypatch.setattr(ocr, "BAND_PX", 200)
    monkeypatch.setattr(ocr, "OVERLAP_PX", 60)
    banded = ocr._detect(RowDetector(), np.repeat(gray[:, :, None], 3, axis=2))
    assert len(whole) == 117

    def rows(boxes, tall):
        return sorted((int(b[:, 1].min()), int(b[:, 1].max())) for b in boxes
                      if (b[:, 1].max() - b[:, 1].min() > 60) == tall and b[:, 0].min() == 20)

    assert rows(banded, False) == rows(whole, False)
    (top, bottom), = rows(whole, True)
    pieces = rows(banded, True) or [(int(b[:, 1].min()), int(b[:, 1].max())) for b in banded
                                   if b[:, 0].min() == 20 and top <= b[:, 1].min() < bottom]
    assert pieces[0][0] == top and max(b for _, b in pieces) == bottom


def test_a_coarse_scan_is_enlarged_to_the_usual_line_height():
    small = page()  # lines 16 px of ink: a coarse scan
    assert ocr._enlargement(RowDetector(), small) == pytest.approx(ocr.TARGET_LINE_PX / 16, rel=0.15)
    big = np.kron(page(), np.ones((3, 3), dtype=np.uint8))  # the same page at three times the dpi
    assert ocr._enlargement(RowDetector(), big) == 1.0


def _headline_row(pieces, below: tuple[int, int] | None):
    """A page with a headline row of 60 px type inked over each (x0, x1) of `pieces`, and, when
    `below` is given, body lines under it across [x0, x1)."""
    gray = np.full((300, 1200), 255, dtype=np.uint8)
    for x0, x1 in pieces:
        gray[22:78, x0:x1] = 0
    if below:
        for y in range(110, 260, PITCH):
            gray[y + 2:y + H - 2, below[0]:below[1]] = 0
    return gray


def _body_boxes():
    return [box(40, y, 1160, y + H) for y in range(110, 260, PITCH)]


def test_a_headline_parted_at_a_word_space_is_joined_when_its_text_runs_on_below():
    gray = _headline_row([(100, 500), (530, 900)], below=(40, 1160))
    boxes = np.stack([box(100, 20, 500, 80), box(530, 20, 900, 80), *_body_boxes()])
    out = ocr._joined_heads(boxes, gray < 128, usual=float(H))
    heads = [b for b in out if b[:, 1].max() - b[:, 1].min() > 2 * H]
    assert spans(heads) == [(100, 900)]
    assert len(out) == len(boxes) - 1


def test_headlines_of_two_stories_side_by_side_stay_apart():
    """As close, but a gutter runs white below the space between them."""
    gray = _headline_row([(100, 500), (530, 900)], below=None)
    for x0, x1 in ((40, 505), (525, 1160)):
        for y in range(110, 260, PITCH):
            gray[y + 2:y + H - 2, x0:x1] = 0
    boxes = np.stack([box(100, 20, 500, 80), box(530, 20, 900, 80)])
    assert spans(ocr._joined_heads(boxes, gray < 128, usual=float(H))) == [(100, 500), (530, 900)]


def test_characters_the_detector_missed_inside_a_headline_join_its_pieces():
    """Far apart, with ink between them along the row: one headline, and the scrap the
    detector found in the middle goes with it."""
    gray = _headline_row([(100, 950)], below=None)
    boxes = np.stack([box(100, 20, 400, 80), box(500, 30, 540, 70), box(650, 20, 950, 80),
                      box(100, 200, 950, 200 + H)])
    out = ocr._joined_heads(boxes, gray < 128, usual=float(H))
    assert spans(out) == [(100, 950), (100, 950)] and len(out) == 2


def test_headlines_with_a_line_of_smaller_type_between_them_stay_apart():
    """Two stories' headlines in a row of narrow columns, a third story's line of body type
    between them: ink along the row, but not characters missed in one headline."""
    gray = _headline_row([(100, 400), (800, 1100)], below=None)
    gray[35:65, 450:750] = 0
    boxes = np.stack([box(100, 20, 400, 80), box(450, 32, 750, 68), box(800, 20, 1100, 80)])
    assert spans(ocr._joined_heads(boxes, gray < 128, usual=float(H))) == [(100, 400), (450, 750), (800, 1100)]


def test_a_dash_read_once_between_chinese_characters_is_the_two_em_dash():
    text, centres = ocr._dashes("复兴—新时代", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert text == "复兴——新时代" and centres == [0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6]
    assert ocr._dashes("好——好 1—2 a—b", None) == ("好——好 1—2 a—b", None)


def test_a_thin_strip_is_padded_for_the_detector_not_enlarged():
    """The detector scales an image up to a 736 px shortest side: a strip 5 px wide would be
    searched 147 times enlarged (44,000 px tall). It is padded white to that side instead."""
    seen = []

    class Detector:
        def __call__(self, image):
            seen.append(image.shape)
            return type("Out", (), {"boxes": None})()

    strip = np.zeros((300, 5, 3), dtype=np.uint8)
    assert ocr.Engine(Detector(), None).detect(strip) is None
    assert seen == [(736, 736, 3)]
    ocr.Engine(Detector(), None).detect(np.zeros((900, 1000, 3), dtype=np.uint8))
    assert seen[-1] == (900, 1000, 3)

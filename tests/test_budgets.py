"""Bounded work per file: pages too big to render, too many pages, blank pages, image bombs and a
reader's own crash are that file's one-line error (or no OCR at all), never the run's end."""

from __future__ import annotations

import io
import warnings

import pytest

from qa.ingest.articles import ingest_file, ingest_paths
from qa.settings import Settings
from qa.web.page import MAX_HEIGHT, WIDTH, picture_scale

pdfium = pytest.importorskip("pypdfium2")
Image = pytest.importorskip("PIL.Image")


def blank_pdf(path, *sizes: tuple[float, float]):
    doc = pdfium.PdfDocument.new()
    for width, height in sizes:
        doc.new_page(width, height)
    buffer = io.BytesIO()
    doc.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_page_too_big_to_render_is_refused_before_rendering(tmp_path, monkeypatch):
    import qa.ingest.formats.pdf as pdf

    drawn = []
    monkeypatch.setattr(pdf, "render", lambda *a, **k: drawn.append(a))
    result = ingest_file(blank_pdf(tmp_path / "huge.pdf", (14400, 14400)))
    assert result.error and "QA_MAX_PAGE_MEGAPIXELS" in result.error and "page 1" in result.error
    assert drawn == []  # refused before drawing (drawn, it took 209 s and 16 GB)


def test_a_pdf_of_too_many_pages_is_refused_naming_the_budget(tmp_path):
    path = blank_pdf(tmp_path / "long.pdf", *[(595, 842)] * 3)
    result = ingest_file(path, settings=Settings(max_pdf_pages=2))
    assert result.error and "3 pages" in result.error and "QA_MAX_PDF_PAGES" in result.error


def test_blank_pages_are_not_read_by_ocr(tmp_path, monkeypatch):
    import qa.ingest.formats.document as document

    read = []
    monkeypatch.setattr(document, "_recognise", lambda image, s: read.append(image) or ([], 0.0))
    result = ingest_file(blank_pdf(tmp_path / "blank.pdf", *[(595, 842)] * 2))
    assert read == [] and result.error and "no text" in result.error
    white = Image.new("L", (400, 600), 250)
    assert document.blank(white)
    page = white.copy()
    page.paste(0, (40, 40, 360, 70))  # a line of print
    assert not document.blank(page)


def test_an_image_bomb_is_refused_naming_the_budget_without_warnings(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (13000, 13000), 1).save(path)  # a few kB on disk, 169 megapixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ingest_file(path)
    assert result.error and "QA_MAX_PAGE_MEGAPIXELS" in result.error


def test_a_readers_crash_is_its_files_error_and_the_run_goes_on(tmp_path, monkeypatch):
    import qa.ingest.articles as articles

    (tmp_path / "good.txt").write_text("乌海市召开经济工作会议，研究部署下一步工作。\n", "utf-8")
    blank_pdf(tmp_path / "bad.pdf", (595, 842))

    def out_of_memory(path, result, settings):
        raise MemoryError

    monkeypatch.setattr(articles, "read_pdf", out_of_memory)
    results = {r.source.rsplit("/", 1)[-1]: r for r in ingest_paths([tmp_path])}
    assert "memory" in results["bad.pdf"].error
    assert results["good.txt"].error is None and results["good.txt"].articles


def test_the_page_view_is_never_taller_than_the_screen_needs():
    assert picture_scale(595, 842) * 595 == pytest.approx(WIDTH)  # a page: 900 across
    tall = picture_scale(20, 14400)  # the 20 × 14400 pt page once drawn 634,626 px tall
    assert tall * 14400 <= MAX_HEIGHT and tall * 20 <= WIDTH

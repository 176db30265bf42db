"""Bounded work per file: pages too big to render, too many pages, blank pages, image bombs,
inflation bombs, memory, time and a reader's own crash are that file's one-line error (or no OCR
at all), never the run's end."""

from __future__ import annotations

import io
import warnings
import zlib

import pytest

from qa.ingest.articles import ingest_file, ingest_paths
from qa.ingest.formats.sandbox import Sandbox
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


def raw_pdf(path, content: bytes = b"", box: str = "0 0 595 842",
            pages: bytes = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"):
    """A PDF written by hand: one page of `content` (Flate-compressed; Helvetica is its /F1),
    its MediaBox, its page tree."""
    stream = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", pages,
               b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R /Resources << /Font "
               b"<< /F1 5 0 R >> >> >>" % box.encode(),
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


def noise_page(path, size=(1700, 2400)):
    """A page image with ink everywhere: not blank, and seconds of OCR."""
    import numpy as np

    rng = np.random.default_rng(0)
    Image.fromarray((rng.random(size[::-1]) > 0.5).astype("uint8") * 255).save(path)
    return path


IN_PROCESS = Settings(reader_memory_mb=0)  # monkeypatched readers run here, not in the sandbox


def test_a_page_too_big_to_render_is_refused_before_rendering(tmp_path, monkeypatch):
    import qa.ingest.formats.pdf as pdf

    drawn = []
    monkeypatch.setattr(pdf, "render", lambda *a, **k: drawn.append(a))
    result = ingest_file(blank_pdf(tmp_path / "huge.pdf", (14400, 14400)), settings=IN_PROCESS)
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
    result = ingest_file(blank_pdf(tmp_path / "blank.pdf", *[(595, 842)] * 2), settings=IN_PROCESS)
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


def test_a_mediabox_of_a_million_points_is_refused_and_the_run_goes_on(tmp_path):
    (tmp_path / "good.txt").write_text("乌海市召开经济工作会议，研究部署下一步工作。\n", "utf-8")
    raw_pdf(tmp_path / "wide.pdf", box="0 0 1000000 1000000")  # once a MemoryError traceback
    results = {r.source.rsplit("/", 1)[-1]: r for r in ingest_paths([tmp_path])}
    assert "QA_MAX_PAGE_MEGAPIXELS" in results["wide.pdf"].error
    assert results["good.txt"].articles


def test_a_page_tree_that_points_at_itself_is_one_files_error(tmp_path):
    (tmp_path / "good.txt").write_text("乌海市召开经济工作会议，研究部署下一步工作。\n", "utf-8")
    raw_pdf(tmp_path / "loop.pdf", pages=b"<< /Type /Pages /Kids [2 0 R] /Count 1000000 >>")
    results = {r.source.rsplit("/", 1)[-1]: r for r in ingest_paths([tmp_path])}
    error = results["loop.pdf"].error
    assert error and "\n" not in error and "Traceback" not in error  # once PdfiumError ended the run
    assert results["good.txt"].articles


def test_a_content_stream_that_inflates_to_gigabytes_is_refused_at_once(tmp_path):
    path = raw_pdf(tmp_path / "bomb.pdf", b" " * (100 << 20))  # 100 kB on disk
    assert path.stat().st_size < 200_000
    result = ingest_file(path, settings=Settings(max_pdf_content_mb=64))
    assert result.error and "QA_MAX_PDF_CONTENT_MB" in result.error
    assert ingest_file(path, settings=Settings(max_pdf_content_mb=128)).error.startswith("no text")


def test_a_file_that_needs_more_memory_than_its_budget_is_refused(tmp_path):
    big = blank_pdf(tmp_path / "big.pdf", (5000, 5000))  # 190 megapixels drawn for OCR
    small = blank_pdf(tmp_path / "a4.pdf", (595, 842))
    tight = Settings(reader_memory_mb=300, max_page_megapixels=400)
    box = Sandbox()
    try:
        with pytest.raises(Exception, match="QA_READER_MEMORY_MB"):
            box.read("pdf", big, tight)
        with pytest.raises(Exception, match="no text"):  # the next file is read as before
            box.read("pdf", small, tight)
    finally:
        box.close()


def test_ocr_past_its_page_or_file_budget_is_stopped(tmp_path):
    page = noise_page(tmp_path / "noise.png")
    result = ingest_file(page, settings=Settings(max_ocr_page_seconds=0.05))
    assert result.error and "QA_MAX_OCR_PAGE_SECONDS" in result.error
    box = Sandbox(grace_s=0)  # the reading process itself is ended when the file's time is up
    try:
        with pytest.raises(Exception, match="QA_MAX_FILE_SECONDS"):
            box.read("image", page, Settings(max_file_seconds=0.1))
        with pytest.raises(Exception, match="no text"):
            box.read("pdf", blank_pdf(tmp_path / "a4.pdf", (595, 842)), Settings())
    finally:
        box.close()


def test_the_files_time_is_checked_between_pages_in_process_too(tmp_path, monkeypatch):
    import time

    import qa.ingest.formats.document as document

    def slow(image, settings):
        time.sleep(0.3)
        return [], 0.0

    monkeypatch.setattr(document, "_recognise", slow)
    monkeypatch.setattr(document, "blank", lambda image: False)
    path = blank_pdf(tmp_path / "three.pdf", *[(595, 842)] * 3)
    result = ingest_file(path, settings=IN_PROCESS.with_(max_file_seconds=0.2))
    assert result.error and "QA_MAX_FILE_SECONDS" in result.error and "pages 1-1" in result.error


def test_a_tall_thin_page_in_the_answer_panel_is_drawn_small_and_a_failure_leaves_the_text(
        tmp_path, monkeypatch):
    import base64
    import re

    import qa.web.app as web_app
    from qa.answer.pipeline import Archive
    from qa.index.build import build_index
    from qa.testing.fake import FakeEmbedder
    from qa.web import ChatApp

    lines = b"".join(b"BT /F1 3 Tf 1 %d Td (Wuhai held its economic work meeting.) Tj ET\n" % y
                     for y in range(14000, 13000, -8))  # a column of print 20 pt wide, 14400 tall
    folder = tmp_path / "archive"
    folder.mkdir()
    raw_pdf(folder / "tall.pdf", lines, box="0 0 20 14400")
    settings = Settings(index_dir=tmp_path / "index", model="qa.testing.fake:FakeEmbedder",
                        answerer="rules")
    report = build_index([folder], settings.index_dir, FakeEmbedder(), settings=settings,
                         progress=False, log=lambda _: None)
    assert report.failed == []
    archive = Archive.open(settings, embedder=FakeEmbedder())
    app = ChatApp(lambda: archive, settings)
    article = archive.store.article(archive.store.page_articles(report.added[0])[0].id)
    html = app._article(archive, article, None)  # once 900 × 634,626 px, 23 s, 6.7 GB
    data = re.search(r'src="data:image/jpeg;base64,([^"]+)"', html).group(1)
    picture = Image.open(io.BytesIO(base64.b64decode(data)))
    assert picture.height <= 1800 and picture.width <= 900
    assert "Wuhai" in html

    def broken(*args, **kwargs):
        raise RuntimeError("Failed to render page")  # what pdfium raises (not an OSError)

    monkeypatch.setattr(web_app, "page_view", broken)
    html = app._article(archive, article, None)
    assert "the page could not be drawn" in html and "Wuhai" in html

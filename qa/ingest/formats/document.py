"""One file with a layout (PDF, page image, web page) as a Document of pages; ReadError when it
cannot be read."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

from qa.errors import ReadError
from qa.files import read_bytes
from qa.ingest.formats.pages import Document, Text, build_page
from qa.ingest.formats.sandbox import deadline, read_isolated
from qa.settings import Settings
from qa.types import PageInfo


def read_pdf(path: Path, settings: Settings) -> Document:
    """The pages of a PDF: from its text layer, or by OCR where a page has none."""
    return _layout("pdf", path, settings)


def read_image(path: Path, settings: Settings) -> Document:
    """The page of a scanned or photographed page, by OCR."""
    return _layout("image", path, settings)


def _layout(kind: str, path: Path, settings: Settings) -> Document:
    """`path` read by HERE[kind], in the reading process of qa.ingest.formats.sandbox unless
    `settings.reader_memory_mb` is 0."""
    if settings.reader_memory_mb > 0:
        return read_isolated(kind, path, settings)
    return HERE[kind](path, settings)


def read_web_page(path: Path, settings: Settings) -> Document:
    """The article of a saved web page."""
    from qa.ingest.formats.html import read_html

    return read_html(_read(path, settings))


def _read(path: Path, settings: Settings) -> bytes:
    """The file's bytes, read like every archive file (qa.files: a regular file only, within the
    size and time limits)."""
    data = read_bytes(path, settings.max_file_bytes, settings.read_timeout_s)
    if not data:
        raise ReadError("no text: the file is empty")
    return data


def _pdf(data: bytes, settings: Settings) -> Document:
    from qa.ingest.formats import pdf
    from qa.ingest.formats.layout import analyse

    pdf.check_content(data, settings.max_pdf_content_mb)
    doc = pdf.open_pdf(data)
    text, pages, scanned = Text(), [], 0
    began = time.perf_counter()
    try:
        if len(doc) > settings.max_pdf_pages:
            raise ReadError(f"{len(doc)} pages: more than the {settings.max_pdf_pages} a file may "
                            "have (QA_MAX_PDF_PAGES)")
        for number in range(1, len(doc) + 1):
            start = time.perf_counter()
            if start - began > settings.max_file_seconds:
                raise ReadError(f"pages 1-{number - 1} took more than {settings.max_file_seconds:g}"
                                " s, the time a file may take (QA_MAX_FILE_SECONDS)")
            page = doc[number - 1]
            width, height = page.get_size()
            lines, skew, ocr = pdf.text_lines(page), 0.0, False
            if not pdf.has_text_layer(lines):  # a scan inside a PDF
                _within_budget(width * settings.ocr_dpi / 72, height * settings.ocr_dpi / 72,
                               settings, f"page {number}")
                image = pdf.render(page, settings.ocr_dpi, grayscale=True)
                lines, skew = ([], 0.0) if blank(image) else _ocr(image, settings, f"page {number}")
                scale = 72 / settings.ocr_dpi  # back to PDF points
                lines = [line._replace(x0=line.x0 * scale, y0=line.y0 * scale, x1=line.x1 * scale,
                                       y1=line.y1 * scale, size=line.size * scale) for line in lines]
                ocr = True
                scanned += 1
            page.close()
            layout = analyse(lines, height)
            info = PageInfo(number, width, height, None, ocr, skew, time.perf_counter() - start)
            pages.append(build_page(layout, info, text))
    finally:
        doc.close()
    kind = "pdf" if not scanned else "ocr" if scanned == len(pages) else "pdf+ocr"
    return _checked(Document(pages, text.value(), kind))


def _within_budget(width: float, height: float, settings: Settings, what: str) -> None:
    """ReadError when a page of `width` × `height` pixels is more than a page may be."""
    megapixels = width * height / 1e6
    if megapixels > settings.max_page_megapixels:
        raise ReadError(f"{what} would be {width:,.0f} × {height:,.0f} pixels ({megapixels:,.0f} "
                        f"megapixels): more than the {settings.max_page_megapixels} a page may "
                        "have (QA_MAX_PAGE_MEGAPIXELS)")


def blank(image, spread: int = 24) -> bool:
    """Whether a grayscale page holds nothing to read: its darkest and lightest pixels, once a
    few specks are ignored, are this close (OCR of a blank page takes seconds for nothing)."""
    histogram = image.histogram()
    total = sum(histogram) or 1
    seen, low, high = 0, None, None
    for level, count in enumerate(histogram[:256]):
        seen += count
        if low is None and seen > 0.0002 * total:
            low = level
        if seen >= 0.9998 * total:
            high = level
            break
    return low is not None and high is not None and high - low < spread


def _image(data: bytes, settings: Settings) -> Document:
    from PIL import Image, UnidentifiedImageError

    from qa.ingest.formats.layout import analyse

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # the page budget below is what decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _within_budget(*image.size, settings, "the image")
                image.load()
                pages_in = getattr(image, "n_frames", 1)
                page = image.convert("L")
    except Image.DecompressionBombError as exc:
        raise ReadError(f"the image is more than twice the pixels Pillow reads ({exc}); more "
                        f"than the {settings.max_page_megapixels} megapixels a page may have "
                        "(QA_MAX_PAGE_MEGAPIXELS)") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ReadError(f"not a readable image ({exc})") from exc
    if pages_in > 1:
        raise ReadError("multi-page images are not read: save each page as its own file")
    lines, skew = ([], 0.0) if blank(page) else _ocr(page, settings, "the image")
    text = Text()
    info = PageInfo(1, page.width, page.height, None, True, skew, time.perf_counter() - start)
    return _checked(Document([build_page(analyse(lines, page.height), info, text)], text.value(), "ocr"))


def _ocr(image, settings: Settings, what: str):
    """Lines and skew of a page image, read within the page's OCR time (the engine is loaded
    first: that takes a second, once)."""
    from qa.ingest.formats.ocr import engine

    engine(settings.ocr_threads)
    with deadline(settings.max_ocr_page_seconds, f"OCR of {what}"):
        return _recognise(image, settings)


def _recognise(image, settings: Settings):
    from qa.ingest.formats.ocr import recognise

    return recognise(image, settings.ocr_threads)


def _checked(document: Document) -> Document:
    if not document.text.strip():
        raise ReadError("no text found on the page (blank, or not a page of text)")
    return document


# The readers themselves, run in this process (the sandbox's worker runs them there).
HERE = {"pdf": lambda path, settings: _pdf(_read(path, settings), settings),
        "image": lambda path, settings: _image(_read(path, settings), settings)}

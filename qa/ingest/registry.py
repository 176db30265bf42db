"""Every format the archive reads, in one table: suffix → reader.

The walk (`qa index`, `qa ingest`), the upload picker and the upload check all take their lists
from here. A reader is named, not imported, so the table costs nothing to import: the web page
builds its file picker from it without loading PDF or OCR code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import PurePath
from typing import NamedTuple

from qa.errors import ReadError


class Format(NamedTuple):
    name: str
    suffixes: tuple[str, ...]
    reader: str  # "module:function"; the function takes (path, FileResult, Settings)

    def read(self) -> Callable:
        module, function = self.reader.split(":")
        return getattr(importlib.import_module(module), function)


_ARTICLES = "qa.ingest.articles"
FORMATS = (
    Format("plain text", (".txt", ".text"), f"{_ARTICLES}:read_text"),
    Format("Markdown", (".md", ".markdown"), f"{_ARTICLES}:read_markdown"),
    Format("records (JSON lines, CSV)", (".jsonl", ".csv"), f"{_ARTICLES}:read_records"),
    Format("PDF (text layer or scanned)", (".pdf",), f"{_ARTICLES}:read_pdf"),
    Format("page image (OCR)", (".png", ".jpg", ".jpeg", ".tif", ".tiff"), f"{_ARTICLES}:read_image"),
    Format("web page", (".html", ".htm"), f"{_ARTICLES}:read_html"),
)
SUFFIXES = tuple(s for f in FORMATS for s in f.suffixes)
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}


def readable(name: str) -> bool:
    """Whether a file of this name is one the archive reads (by its suffix, any case)."""
    return PurePath(name).suffix.lower() in _BY_SUFFIX


def format_of(name: str) -> Format:
    """The format of a file by its suffix; ReadError naming the readable ones otherwise."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in _BY_SUFFIX:
        raise ReadError(f"unsupported file type {suffix or '(none)'}: expected {', '.join(SUFFIXES)}")
    return _BY_SUFFIX[suffix]

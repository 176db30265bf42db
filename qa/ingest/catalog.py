"""Where an article's metadata comes from besides the page: a `catalog.csv` sidecar and the file
name.

A catalog has the columns file, newspaper, date, page, section; `file` is relative to the
catalog's folder, found in the file's folder or the nearest parent that has one. Precedence:
the catalog, then the page itself (masthead, header, editor lines), then a date in the file
name (`20221001.md`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from functools import lru_cache
from pathlib import Path

from qa.errors import ReadError
from qa.files import read_bytes, source_name
from qa.ingest.segment import Meta
from qa.text import clean_text

CATALOG = "catalog.csv"
CATALOG_MAX_BYTES = 64 * 1024 * 1024
_FILE_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
_TEXT_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


def merge_meta(sidecar: dict[str, str], page: Meta, path: Path) -> Meta:
    file_date = _FILE_DATE.search(path.stem)
    return Meta(
        newspaper=sidecar.get("newspaper") or page.newspaper,
        date=parse_date(sidecar.get("date")) or page.date or (
            parse_date("-".join(file_date.groups())) if file_date else None),
        page=sidecar.get("page") or page.page,
        section=sidecar.get("section") or page.section,
    )


def parse_date(text: str | None) -> str | None:
    """ISO date from 2022-11-22, 2022/11/22, 2022年11月22日 or 20221122; None if not a real date."""
    from datetime import date

    if not text:
        return None
    m = _TEXT_DATE.search(text) or _FILE_DATE.search(text)
    if not m:
        return None
    try:
        return date(*map(int, m.groups())).isoformat()
    except ValueError:
        return None


def sidecar(path: Path, warnings: list[str], timeout: float) -> dict[str, str]:
    """The catalog row for `path` from the nearest catalog.csv in its folder or a parent."""
    absolute = Path(os.path.abspath(path))
    for folder in absolute.parents:
        catalog = folder / CATALOG
        if _is_file(catalog):
            try:
                entries = _load_catalog(str(catalog), catalog.stat().st_mtime_ns, timeout)
            except (OSError, UnicodeDecodeError, csv.Error, ReadError) as exc:
                warnings.append(f"{source_name(catalog)} unreadable, ignored: {exc}")
                return {}
            return entries.get(absolute.relative_to(folder).as_posix(), {})
    return {}


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a path too long for the system
        return False


@lru_cache(maxsize=32)
def _load_catalog(path: str, mtime_ns: int, timeout: float) -> dict[str, dict[str, str]]:
    text = clean_text(read_bytes(Path(path), CATALOG_MAX_BYTES, timeout).decode("utf-8-sig"))
    return {
        (row.get("file") or "").strip(): {k: v.strip() for k, v in row.items()
                                            if k and k != "file" and v and v.strip()}
        for row in csv.DictReader(io.StringIO(text, newline=""))
    }

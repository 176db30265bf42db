"""The index's tables and manifest: the one module that knows their columns and fields.

The build writes rows through `insert`/`copy` and the rows `*_row` make; the store reads them
back through `*_from_row` and the column lists here. The manifest is written by `manifest`
and checked by `read_manifest`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from qa.errors import IndexError_
from qa.index.bm25 import BM25Params
from qa.types import Article, LineBox, PageInfo, Paragraph

FORMAT = 2  # 2: pages and lines of PDFs and scans
# The rules a file is read by (qa.ingest): bump when they change what a file yields, so the next
# build reads every file again (2: bulletins cut into their items).
INGEST = 2

TABLES: dict[str, tuple[str, ...]] = {
    "files": ("source TEXT PRIMARY KEY", "sha256 TEXT NOT NULL", "size INTEGER", "encoding TEXT",
              "articles INTEGER", "warnings TEXT"),
    "articles": ("id TEXT PRIMARY KEY", "source TEXT NOT NULL", "ordinal INTEGER NOT NULL",
                 "newspaper TEXT", "date TEXT", "page TEXT", "section TEXT", "title TEXT",
                 "subtitle TEXT", "byline TEXT"),
    "paragraphs": ("id INTEGER PRIMARY KEY", "article_id TEXT NOT NULL", "idx INTEGER NOT NULL",
                   "text TEXT NOT NULL", "source TEXT NOT NULL", "line_start INTEGER",
                   "line_end INTEGER", "char_start INTEGER", "char_end INTEGER",
                   "hash TEXT NOT NULL", "terms TEXT NOT NULL"),
    "pages": ("source TEXT NOT NULL", "page INTEGER NOT NULL", "width REAL", "height REAL",
              "label TEXT", "ocr INTEGER", "skew REAL", "seconds REAL",
              "PRIMARY KEY (source, page)"),
    "lines": ("source TEXT NOT NULL", "line INTEGER NOT NULL", "page INTEGER NOT NULL", "x0 REAL",
              "y0 REAL", "x1 REAL", "y1 REAL", "text TEXT", "confidence REAL", "edges TEXT",
              "PRIMARY KEY (source, line)"),
}
_INDEXES = ("CREATE INDEX paragraphs_article ON paragraphs(article_id, idx);",
            "CREATE INDEX paragraphs_source ON paragraphs(source);",
            "CREATE INDEX articles_source ON articles(source, ordinal);")
SCHEMA = "\n".join([f"CREATE TABLE {name} ({', '.join(cols)});" for name, cols in TABLES.items()]
                   + list(_INDEXES))


def columns(table: str) -> tuple[str, ...]:
    return tuple(c.split()[0] for c in TABLES[table] if not c.startswith("PRIMARY KEY"))


# what an Article, a Paragraph, a PageInfo and a LineBox are read from, in their fields' order
ARTICLE_COLS = ", ".join(c for c in columns("articles") if c != "ordinal")
PARAGRAPH_COLS = ", ".join(c for c in columns("paragraphs") if c not in ("id", "hash", "terms"))
PAGE_COLS = ", ".join(c for c in columns("pages") if c != "source")
LINE_COLS = ", ".join(c for c in columns("lines") if c != "source")


def insert(table: str) -> str:
    """INSERT of one whole row of `table`."""
    cols = columns(table)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def copy(table: str, where: str) -> str:
    """Copy the rows of `table` that match `where` from the attached database `old`."""
    cols = ", ".join(columns(table))
    return f"INSERT INTO {table} ({cols}) SELECT {cols} FROM old.{table} {where}"


def copy_paragraphs(since: int) -> tuple[str, tuple[int]]:
    """Copy the paragraphs listed in the temporary table `carried` under their new ids."""
    cols = [c for c in columns("paragraphs") if c != "id"]
    return (f"INSERT INTO paragraphs (id, {', '.join(cols)}) SELECT c.new_id, "
            f"{', '.join('p.' + c for c in cols)} FROM old.paragraphs p "
            "JOIN carried c ON c.old_id = p.id AND c.new_id >= ?", (since,))


def file_row(source: str, sha: str, size: int, encoding: str | None, articles: int,
             warnings: list[str]) -> tuple:
    return source, sha, size, encoding, articles, json.dumps(warnings, ensure_ascii=False)


def article_row(a: Article, ordinal: int) -> tuple:
    return (a.id, a.source, ordinal, a.newspaper, a.date, a.page, a.section, a.title, a.subtitle,
            a.byline)


def paragraph_row(id_: int, p: Paragraph, hash_: str, terms: list[str]) -> tuple:
    return (id_, p.article_id, p.index, p.text, p.source, p.line_start, p.line_end, p.char_start,
            p.char_end, hash_, " ".join(terms))


def page_row(source: str, p: PageInfo) -> tuple:
    return source, p.number, p.width, p.height, p.label, int(p.ocr), p.skew, p.seconds


def line_row(source: str, box: LineBox) -> tuple:
    """A `lines` row; character edges as space-separated fractions."""
    return (source, box.line, box.page, box.x0, box.y0, box.x1, box.y1, box.text, box.confidence,
            " ".join(f"{x:.5f}" for x in box.edges))


def article_from_row(row, paragraphs: tuple[Paragraph, ...] = ()) -> Article:
    return Article(*row, paragraphs=paragraphs)


def paragraph_from_row(row) -> Paragraph:
    return Paragraph(*row)


def page_from_row(row) -> PageInfo:
    return PageInfo(*row[:4], bool(row[4]), *row[5:])


def line_from_row(row) -> LineBox:
    *head, edges = row
    return LineBox(*head, edges=tuple(float(x) for x in edges.split()) if edges else ())


MANIFEST = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PART_NAME = re.compile(r"[\w.-]{1,100}")


def part(sha256: str, size: int) -> dict:
    """A part's entry in the manifest's `parts`: what its bytes were when it was published."""
    return {"size": size, "sha256": sha256}


def manifest(*, paragraphs: int, files: int, embedder: dict, faiss: dict, bm25: BM25Params,
             tokenizer: str, versions: dict[str, str], parts: dict[str, dict]) -> dict:
    """What a version records about itself: counts, the embedder that built it, the vector
    index, BM25's parameters and tokenizer, the packages' versions, and the size and SHA-256
    of every other file of the version (`parts`, checked when it is opened)."""
    return {
        "format": FORMAT,
        "ingest": INGEST,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "paragraphs": paragraphs,
        "files": files,
        "embedder": embedder,
        "faiss": faiss,
        "bm25": {"tokenizer": tokenizer, **bm25._asdict()},
        "versions": versions,
        "parts": parts,
    }


def read_manifest(folder: Path) -> dict:
    """The manifest of a version folder, checked for the fields readers rely on."""
    try:
        found = json.loads((folder / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"index manifest in {folder} is missing or corrupt: {exc}") from exc
    if not isinstance(found, dict):
        raise IndexError_(f"index manifest in {folder} is corrupt (not a JSON object); rebuild it")
    if found.get("format") != FORMAT:
        raise IndexError_(
            f"index in {folder} has format {found.get('format')!r}, this version reads "
            f"{FORMAT}; rebuild it with `python -m qa index --rebuild`"
        )
    identity = found.get("embedder", {}).get("identity") if isinstance(
        found.get("embedder"), dict) else None
    if not (isinstance(found.get("paragraphs"), int) and isinstance(identity, dict)
            and isinstance(identity.get("dim"), int) and isinstance(found.get("faiss", {}), dict)):
        raise IndexError_(f"index manifest in {folder} is corrupt (fields missing); rebuild it")
    if "parts" in found and not _parts_ok(found["parts"]):
        raise IndexError_(f"index manifest in {folder} is corrupt (its checksums); rebuild it")
    return found


def _parts_ok(parts) -> bool:
    """Whether `parts` maps plain file names of the folder to a size and a SHA-256."""
    return isinstance(parts, dict) and all(
        isinstance(name, str) and _PART_NAME.fullmatch(name) and name not in (".", "..", MANIFEST)
        and isinstance(entry, dict) and isinstance(entry.get("size"), int)
        and not isinstance(entry.get("size"), bool) and entry["size"] >= 0
        and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])
        for name, entry in parts.items())

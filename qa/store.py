"""The index on disk: one folder of plain files per version, and a CURRENT pointer.

    index/
      CURRENT              name of the live version (replaced atomically)
      v-<time>-<rand>/
        manifest.json      embedder identity, FAISS type, counts, versions
        archive.sqlite     files, articles, paragraphs (text, positions, hashes, BM25 terms),
                           pages and line boxes of PDFs and scans
        vectors.npy        float32 (n, dim), row i = paragraph id i
        faiss.index        FAISS index over vectors.npy (inner product)
        bm25_*.npy/json    BM25 postings

A build writes a new version folder and then swaps CURRENT, so a crash at any point leaves
the previous version loadable. Readers that opened an old version keep working: its files
are only deleted two builds later.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path

import numpy as np

from qa import vectors as vectors_
from qa.bm25 import BM25
from qa.errors import IndexError_
from qa.types import Article, LineBox, PageInfo, Paragraph

FORMAT = 2  # 2: pages and lines of PDFs and scans
CURRENT = "CURRENT"
KEEP_VERSIONS = 2

SCHEMA = """
CREATE TABLE files (
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER, encoding TEXT,
    articles INTEGER, warnings TEXT
);
CREATE TABLE articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, ordinal INTEGER NOT NULL,
    newspaper TEXT, date TEXT, page TEXT, section TEXT, title TEXT, subtitle TEXT, byline TEXT
);
CREATE TABLE paragraphs (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL, line_start INTEGER, line_end INTEGER, char_start INTEGER,
    char_end INTEGER, hash TEXT NOT NULL, terms TEXT NOT NULL
);
CREATE TABLE pages (
    source TEXT NOT NULL, page INTEGER NOT NULL, width REAL, height REAL, label TEXT,
    ocr INTEGER, skew REAL, seconds REAL, PRIMARY KEY (source, page)
);
CREATE TABLE lines (
    source TEXT NOT NULL, line INTEGER NOT NULL, page INTEGER NOT NULL, x0 REAL, y0 REAL,
    x1 REAL, y1 REAL, text TEXT, confidence REAL, edges TEXT, PRIMARY KEY (source, line)
);
CREATE INDEX paragraphs_article ON paragraphs(article_id, idx);
CREATE INDEX paragraphs_source ON paragraphs(source);
CREATE INDEX articles_source ON articles(source, ordinal);
"""

ARTICLE_COLS = "id, source, newspaper, date, page, section, title, subtitle, byline"
PARAGRAPH_COLS = "article_id, idx, text, source, line_start, line_end, char_start, char_end"


def article_from_row(row, paragraphs: tuple[Paragraph, ...] = ()) -> Article:
    return Article(*row, paragraphs=paragraphs)


def paragraph_from_row(row) -> Paragraph:
    return Paragraph(*row)


def line_row(source: str, box: LineBox) -> tuple:
    """A `lines` row; character edges as space-separated fractions."""
    return (source, box.line, box.page, box.x0, box.y0, box.x1, box.y1, box.text, box.confidence,
            " ".join(f"{x:.5f}" for x in box.edges))


def line_from_row(row) -> LineBox:
    *head, edges = row
    return LineBox(*head, edges=tuple(float(x) for x in edges.split()) if edges else ())


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when no index has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexError_(f"cannot read {pointer}: {exc}") from exc
    folder = index_dir / name
    if not name or "/" in name or not folder.is_dir():
        raise IndexError_(f"{pointer} names a missing version {name!r}; rebuild the index")
    return folder


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"index manifest in {folder} is missing or corrupt: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise IndexError_(
            f"index in {folder} has format {manifest.get('format')!r}, this version reads "
            f"{FORMAT}; rebuild it with `python -m qa index --rebuild`"
        )
    return manifest


def check_embedder(manifest: dict, identity: dict, folder: Path) -> None:
    """Refuse to query an index with an embedder other than the one that built it."""
    built = manifest.get("embedder", {}).get("identity")
    if built != identity:
        raise IndexError_(
            f"index in {folder} was built with embedder {built}, but the configured embedder "
            f"is {identity}. Use the same model (QA_MODEL / --model) or rebuild with "
            "`python -m qa index --rebuild PATH`."
        )


class Store:
    """A read-only view of one index version. Thread-safe for concurrent readers."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest = read_manifest(folder)
        self._lock = threading.Lock()
        try:
            self.db = sqlite3.connect(
                f"file:{folder / 'archive.sqlite'}?mode=ro", uri=True, check_same_thread=False
            )
            self.size = self.db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
            meta = self.db.execute(
                "SELECT p.id, a.date, a.newspaper, p.hash FROM paragraphs p "
                "JOIN articles a ON a.id = p.article_id ORDER BY p.id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise IndexError_(f"index database in {folder} is corrupt: {exc}") from exc
        if self.size != self.manifest["paragraphs"]:
            raise IndexError_(f"index in {folder} is inconsistent (paragraph count); rebuild it")
        self.dates = np.array([row[1] or "" for row in meta], dtype="U10")
        self.newspapers = np.array([row[2] or "" for row in meta], dtype=object)
        self.hashes = [row[3] for row in meta]
        self.vectors = self._load_vectors()
        self.faiss = vectors_.load(folder, self.manifest.get("faiss", {}), self.size)
        self.bm25 = BM25.load(folder)
        if self.bm25.n_docs != self.size:
            raise IndexError_(f"index in {folder} is inconsistent (BM25 size); rebuild it")

    @classmethod
    def open(cls, index_dir: Path) -> Store:
        """Open the live version of the index in `index_dir`."""
        folder = current_version(index_dir)
        if folder is None:
            raise IndexError_(
                f"no index in {index_dir}; build one with `python -m qa index corpus`"
            )
        return cls(folder)

    def _load_vectors(self) -> np.ndarray:
        try:
            vectors = np.load(self.folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexError_(f"vectors in {self.folder} are missing or corrupt: {exc}") from exc
        dim = self.manifest["embedder"]["identity"]["dim"]
        if vectors.shape != (self.size, dim):
            raise IndexError_(
                f"vectors in {self.folder} have shape {vectors.shape}, expected "
                f"({self.size}, {dim}); rebuild the index"
            )
        return vectors

    def _query(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def paragraphs(self, ids: list[int]) -> list[tuple[Paragraph, Article]]:
        """Paragraphs by id with their article's metadata (article.paragraphs left empty)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f"SELECT p.id, {', '.join('p.' + c for c in PARAGRAPH_COLS.split(', '))}, "
            f"{', '.join('a.' + c for c in ARTICLE_COLS.split(', '))} "
            f"FROM paragraphs p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
            ids,
        )
        n = len(PARAGRAPH_COLS.split(", "))
        found = {r[0]: (paragraph_from_row(r[1 : n + 1]), article_from_row(r[n + 1 :])) for r in rows}
        return [found[i] for i in ids if i in found]

    def article(self, article_id: str) -> Article | None:
        """A whole article with all its paragraphs, or None."""
        rows = self._query(f"SELECT {ARTICLE_COLS} FROM articles WHERE id = ?", (article_id,))
        if not rows:
            return None
        paras = self._query(
            f"SELECT {PARAGRAPH_COLS} FROM paragraphs WHERE article_id = ? ORDER BY idx",
            (article_id,),
        )
        return article_from_row(rows[0], tuple(paragraph_from_row(p) for p in paras))

    def page_articles(self, source: str) -> list[Article]:
        """Metadata of the articles from one source file (one page), in page order."""
        rows = self._query(
            f"SELECT {ARTICLE_COLS} FROM articles WHERE source = ? ORDER BY ordinal", (source,)
        )
        return [article_from_row(r) for r in rows]

    def page(self, source: str, number: int) -> PageInfo | None:
        """A page of a PDF or scan, or None for a text source."""
        rows = self._query("SELECT page, width, height, label, ocr, skew, seconds FROM pages "
                           "WHERE source = ? AND page = ?", (source, number))
        return PageInfo(*rows[0][:4], bool(rows[0][4]), *rows[0][5:]) if rows else None

    def lines(self, source: str, first: int, last: int) -> list[LineBox]:
        """The printed lines `first`..`last` of a PDF or scan (none for a text source)."""
        return [line_from_row(r) for r in self._query(
            "SELECT line, page, x0, y0, x1, y1, text, confidence, edges FROM lines "
            "WHERE source = ? AND line BETWEEN ? AND ? ORDER BY line", (source, first, last))]

    def file_hash(self, source: str) -> str | None:
        """The SHA-256 the source file had when it was indexed."""
        rows = self._query("SELECT sha256 FROM files WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    def newspaper_names(self) -> list[str]:
        rows = self._query("SELECT DISTINCT newspaper FROM articles WHERE newspaper IS NOT NULL")
        return sorted(r[0] for r in rows)

    def date_range(self) -> tuple[str | None, str | None]:
        return self._query("SELECT min(date), max(date) FROM articles")[0]

    def close(self) -> None:
        self.db.close()


def new_version(index_dir: Path) -> Path:
    """Create an empty folder for the next version."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder = index_dir / name
    folder.mkdir()
    return folder


def _fsync_dir(folder: Path) -> None:
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish(index_dir: Path, folder: Path) -> None:
    """Make `folder` the live version atomically, then delete versions no reader needs."""
    for path in folder.iterdir():
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
    _fsync_dir(folder)
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    tmp.write_text(folder.name + "\n", "utf-8")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    collect_garbage(index_dir)


def collect_garbage(index_dir: Path, keep: int = KEEP_VERSIONS) -> None:
    """Delete old versions and abandoned partial builds, keeping the newest `keep` complete."""
    live = current_version(index_dir)
    versions = sorted(
        (p for p in index_dir.glob("v-*") if p.is_dir()), key=lambda p: p.name, reverse=True
    )
    complete = [p for p in versions if (p / "manifest.json").exists() or p == live]
    keepers = {live, *complete[:keep]}
    for path in versions:
        if path not in keepers:
            shutil.rmtree(path, ignore_errors=True)
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)

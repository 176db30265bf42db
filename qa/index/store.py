"""The index on disk: one folder of plain files per version, and a CURRENT pointer.

    index/
      CURRENT              name of the live version (replaced atomically)
      v-<time>-<rand>/
        manifest.json      embedder identity, FAISS type, counts, versions, and the size and
                           SHA-256 of every other file (checked when the version is opened)
        archive.sqlite     files, articles, paragraphs (text, positions, hashes, BM25 terms),
                           pages and line boxes of PDFs and scans
        vectors.npy        float32 (n, dim), row i = paragraph id i
        faiss.index        FAISS index over vectors.npy (inner product)
        bm25_*.npy/json    BM25 postings

A build writes a new version folder and then swaps CURRENT, so a crash at any point leaves
the previous version loadable. A version whose files are not those its manifest recorded is
never read from: the previous sound one is, with a warning. Readers that opened an old version
keep working: its files are only deleted two builds later.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np

from qa.errors import IndexError_, ReadError
from qa.files import digest
from qa.index import vectors as vectors_
from qa.index.bm25 import BM25
from qa.index.schema import (
    ARTICLE_COLS,
    LINE_COLS,
    PAGE_COLS,
    PARAGRAPH_COLS,
    article_from_row,
    line_from_row,
    page_from_row,
    paragraph_from_row,
    read_manifest,
)
from qa.types import Article, LineBox, PageInfo, Paragraph

CURRENT = "CURRENT"
# The files of a version besides its manifest, each checked against the manifest when opened.
PARTS = ("archive.sqlite", "vectors.npy", vectors_.FILE, *BM25.FILES)
KEEP_VERSIONS = 2
_VERSION_NAME = re.compile(r"v-[\w-]{1,100}")
log = logging.getLogger(__name__)
_T = TypeVar("_T")


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when no index has been built.

    When CURRENT is unreadable, garbage, or names a version that is gone or incomplete, the
    newest complete version is live instead, with a warning (the next build writes CURRENT
    again); IndexError_ only when there is none.
    """
    pointer = index_dir / CURRENT
    name = _pointed(index_dir)
    if name is not None and _VERSION_NAME.fullmatch(name) and _complete(index_dir / name):
        return index_dir / name
    if name is None and not any(index_dir.glob("v-*")):
        return None
    fallback = next(iter(complete_versions(index_dir)), None)
    if name is None:
        problem = "is missing"
    elif not _VERSION_NAME.fullmatch(name):
        problem = "is damaged (it holds no version name)"
    else:
        problem = f"names a missing version (or an incomplete one), {name!r}"
    if fallback is None:
        if name is None:
            return None
        raise IndexError_(f"{pointer} {problem}; rebuild the index")
    log.warning("%s %s; using the newest complete version, %s (the next build repairs it)",
                pointer, problem, fallback.name)
    return fallback


def _pointed(index_dir: Path) -> str | None:
    """What CURRENT says, unchecked; None when there is no CURRENT."""
    try:
        return (index_dir / CURRENT).read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""  # unreadable: as good as garbage


def complete_versions(index_dir: Path) -> list[Path]:
    """Version folders with a valid manifest, newest (last written) first."""
    found = []
    for folder in index_dir.glob("v-*"):
        try:
            read_manifest(folder)
            found.append(((folder / "manifest.json").stat().st_mtime_ns, folder.name, folder))
        except (IndexError_, OSError):
            continue
    return [folder for *_, folder in sorted(found, reverse=True)]


def _complete(folder: Path) -> bool:
    return (folder / "manifest.json").is_file()


def missing_index(index_dir: Path) -> str:
    """What to say when `index_dir` holds no index: where it looked, and the build command."""
    where = index_dir if index_dir.is_absolute() else Path.cwd() / index_dir
    build = "python -m qa index" + ("" if index_dir == Path("index") else
                                    f" --index-dir {shlex.quote(str(index_dir))}")
    return f"no index in {where}; build one with `{build} corpus`"


def verify(folder: Path, manifest: dict) -> None:
    """Check every part of a version against the size and SHA-256 its manifest recorded when
    it was published: sizes first (a stat each), then the hashes (about 2 GB/s a core, the parts
    side by side).

    IndexError_ naming the first part that is missing or differs. A version written before
    parts were recorded has nothing to check against (its next build records them).
    """
    parts = manifest.get("parts")
    if parts is None:
        return
    unlisted = [name for name in PARTS if name not in parts]
    if unlisted:
        raise IndexError_(f"index manifest in {folder} has no checksum for {unlisted[0]}; "
                          "rebuild it")
    for name, entry in parts.items():  # a stat each first: a truncated part costs no hashing
        _check_part(folder, name, entry, hashed=False)
    # hashlib lets go of the GIL on large blocks: the parts are hashed side by side, biggest
    # first (the first damaged part in manifest order is the one reported)
    order = sorted(parts, key=lambda name: -parts[name]["size"])
    with ThreadPoolExecutor(min(len(order), os.cpu_count() or 1, 4) or 1) as pool:
        done = dict(zip(order, pool.map(lambda name: _failure(folder, name, parts[name]), order),
                        strict=True))
    for name in parts:
        if done[name] is not None:
            raise done[name]


def _failure(folder: Path, name: str, entry: dict) -> IndexError_ | None:
    try:
        _check_part(folder, name, entry, hashed=True)
    except IndexError_ as exc:
        return exc
    return None


def _check_part(folder: Path, name: str, entry: dict, hashed: bool) -> None:
    try:
        if hashed:
            sha, size = digest(folder / name)
        else:
            sha, size = entry["sha256"], (folder / name).stat().st_size
    except (OSError, ReadError) as exc:
        raise IndexError_(f"index part {name} in {folder} is missing or unreadable: "
                          f"{_first_line(exc)}; rebuild the index") from exc
    if size != entry["size"] or sha != entry["sha256"]:
        what = "size" if size != entry["size"] else "SHA-256"
        raise IndexError_(f"index part {name} in {folder} is damaged (its {what} is not the one "
                          "recorded when it was built); rebuild the index")


def _loaded(what: str, folder: Path, load: Callable[[], _T]) -> _T:
    """`load()`, any error it raises an IndexError_ of one line naming `what`."""
    try:
        return load()
    except IndexError_:
        raise
    except Exception as exc:  # a parser's own error on bytes it cannot read
        raise IndexError_(f"{what} in {folder} is corrupt: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
        # the parts are hashed while the paragraphs' metadata is read (both let go of the GIL);
        # nothing else is loaded before they pass, and a damaged part is the error reported
        with ThreadPoolExecutor(1) as pool:
            checked = pool.submit(verify, folder, self.manifest)
            try:
                self.db = sqlite3.connect(f"file:{folder / 'archive.sqlite'}?mode=ro", uri=True,
                                          check_same_thread=False)
                dates, papers, self.hashes = self._metadata()
            except sqlite3.Error as exc:
                checked.result()
                raise IndexError_(f"index database in {folder} is corrupt: {exc}") from exc
            checked.result()
        self.size = len(self.hashes)
        if self.size != self.manifest["paragraphs"]:
            raise IndexError_(f"index in {folder} is inconsistent (paragraph count); rebuild it")
        self.dates, self.newspapers = np.array(dates, dtype="U10"), np.array(papers, dtype=object)
        first: dict[str, int] = {}
        # paragraphs of the same text share the id of the first of them
        self.copy_group = np.array([first.setdefault(h, i) for i, h in enumerate(self.hashes)],
                                   dtype=np.int64)
        # the paragraphs whose text is also elsewhere, by id (searched per question, not all)
        sizes = np.bincount(self.copy_group, minlength=self.size) if self.size else np.zeros(0, int)
        self.repeated = np.flatnonzero(sizes[self.copy_group] > 1)
        self.duplicated = len(self.repeated) > 0
        self.vectors = self._load_vectors()
        self.faiss = _loaded(vectors_.FILE, folder, lambda: vectors_.load(
            folder, self.manifest.get("faiss", {}), self.vectors))
        self.bm25 = _loaded("BM25 index", folder, lambda: BM25.load(folder))
        if self.bm25.n_docs != self.size:
            raise IndexError_(f"index in {folder} is inconsistent (BM25 size); rebuild it")

    def _metadata(self) -> tuple[list[str], list[str], list[str]]:
        """Each paragraph's date, paper and text hash, by id (two scans: a join per row is
        slower at a million paragraphs)."""
        articles = {aid: (date or "", paper or "") for aid, date, paper in
                    self.db.execute("SELECT id, date, newspaper FROM articles")}
        rows = self.db.execute("SELECT article_id, hash FROM paragraphs ORDER BY id").fetchall()
        of = [articles.get(aid, ("", "")) for aid, _ in rows]
        return [d for d, _ in of], [n for _, n in of], [h for _, h in rows]

    @classmethod
    def open(cls, index_dir: Path) -> Store:
        """Open the live version of the index in `index_dir`.

        A live version that cannot be opened (a part that fails its checksum, a file that does
        not load) gives way to the newest complete one that can, with a warning; IndexError_
        (the live version's) when none can.
        """
        folder = current_version(index_dir)
        if folder is None:
            raise IndexError_(missing_index(index_dir))
        try:
            return cls(folder)
        except IndexError_ as exc:
            for other in complete_versions(index_dir):
                if other != folder:
                    with suppress(IndexError_):
                        store = cls(other)
                        log.warning("%s; using the older version %s", exc, other.name)
                        return store
            raise

    def _load_vectors(self) -> np.ndarray:
        try:
            vectors = np.load(self.folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexError_(f"vectors in {self.folder} are missing or corrupt: "
                              f"{_first_line(exc)}") from exc
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
        rows = self._query(f"SELECT {PAGE_COLS} FROM pages WHERE source = ? AND page = ?",
                           (source, number))
        return page_from_row(rows[0]) if rows else None

    def lines(self, source: str, first: int, last: int) -> list[LineBox]:
        """The printed lines `first`..`last` of a PDF or scan (none for a text source)."""
        return [line_from_row(r) for r in self._query(
            f"SELECT {LINE_COLS} FROM lines WHERE source = ? AND line BETWEEN ? AND ? ORDER BY line", (source, first, last))]

    def file_hash(self, source: str) -> str | None:
        """The SHA-256 the source file had when it was indexed."""
        rows = self._query("SELECT sha256 FROM files WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    @cached_property
    def article_numbers(self) -> np.ndarray:
        """Paragraph id -> a number per article (0, 1, …): counts the articles behind a mask."""
        rows = self._query("SELECT article_id FROM paragraphs ORDER BY id")
        return np.unique(np.array([r[0] for r in rows], dtype=str), return_inverse=True)[1]

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
    previous = index_dir / (_pointed(index_dir) or "none")
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
    collect_garbage(index_dir, protect=(folder, previous))


def collect_garbage(index_dir: Path, keep: int = KEEP_VERSIONS,
                    protect: tuple[Path | None, ...] = ()) -> None:
    """Delete old versions and abandoned partial builds, keeping the live version and the
    newest `keep` complete ones (by when they were written, not by name), and `protect`.

    So the version that was live before a build stays on disk after it, and is deleted by
    the build after that (two builds after it was published, with `keep` 2).
    """
    live = current_version(index_dir)
    keepers = {live, *protect, *complete_versions(index_dir)[:keep]}
    for path in index_dir.glob("v-*"):
        if path.is_dir() and path not in keepers:
            shutil.rmtree(path, ignore_errors=True)
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)

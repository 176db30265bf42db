"""PDFs and page images read in a process of their own, within a memory limit and a time budget.

A file can ask a reader library (pdfium, Pillow, OCR) for more than the machine has, or for
minutes of work: a tiny PDF with a huge page, a content stream that inflates to gigabytes,
hundreds of pages of OCR. Read here, such a file costs only its own read: the reading process
has an address-space limit (`QA_READER_MEMORY_MB`), each page of OCR a deadline
(`QA_MAX_OCR_PAGE_SECONDS`) and the whole file one (`QA_MAX_FILE_SECONDS`); past one of them,
or when the library crashes, the process is ended and restarted for the next file, and the file
gets a one-line error naming what it ran out of. The process starts on the first file (about
half a second) and serves every later one; it ends when this process does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from qa.errors import ReadError
from qa.settings import Settings

_GRACE_S = 5.0  # beyond the file's own budget, for the process to answer


class Sandbox:
    """One reading process, started when first needed and restarted after a failure."""

    def __init__(self, grace_s: float = _GRACE_S) -> None:
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._memory_mb = 0

    def read(self, kind: str, path: Path, settings: Settings):
        """The Document of `path` read by reader `kind` ("pdf", "image") in the process. A file
        the process ran out of memory on after reading others is read once more in a new one:
        what the libraries kept from earlier files (their buffers, a fragmented heap) counts
        against the same limit."""
        status, value, used = self._read(kind, path, settings)
        if status == "memory" and used:
            status, value, _ = self._read(kind, path, settings)
        if status == "ok":
            return value
        raise ReadError(value)

    def _read(self, kind: str, path: Path, settings: Settings):
        """(status, Document or why not, whether the process had read files before this one)."""
        with self._lock:
            used = self._process is not None
            self._start(settings.reader_memory_mb)
            assert self._send is not None and self._recv is not None
            try:
                self._send.send((kind, str(path), settings))
                if not self._recv.poll(settings.max_file_seconds + self._grace_s):
                    self.close()
                    raise ReadError(f"not read within {settings.max_file_seconds:g} s, the time "
                                    "a file may take (QA_MAX_FILE_SECONDS)")
                status, value, fresh = self._recv.recv()
            except (EOFError, OSError):
                raise ReadError(self._stopped(settings)) from None
            if not fresh:
                self.close()
        return status, value, used

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        for end in (self._send, self._recv):
            if end is not None:
                end.close()
        self._process = self._send = self._recv = None

    def _start(self, memory_mb: int) -> None:
        if self._process is not None and self._process.poll() is None and memory_mb == self._memory_mb:
            return
        self.close()
        child_in, parent_out = os.pipe()
        parent_in, child_out = os.pipe()
        root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from qa.ingest.formats.worker import serve; serve()",
             str(child_in), str(child_out), str(memory_mb)],
            pass_fds=(child_in, child_out), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_in)
        os.close(child_out)
        self._send = Connection(parent_out, readable=False)
        self._recv = Connection(parent_in, writable=False)
        self._memory_mb = memory_mb

    def _stopped(self, settings: Settings) -> str:
        """Why the process ended without an answer (it is restarted for the next file)."""
        assert self._process is not None
        try:
            code = self._process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        return (f"the reader stopped ({how}): out of the {settings.reader_memory_mb} MB a file "
                "may use (QA_READER_MEMORY_MB), or a file the library cannot read")


_sandbox = Sandbox()


def read_isolated(kind: str, path: Path, settings: Settings):
    """`path` read by reader `kind` in the sandbox process (see the module's docstring)."""
    return _sandbox.read(kind, path, settings)


@contextmanager
def deadline(seconds: float, what: str):
    """ReadError when the block uses more than `seconds` of the process's CPU time; only in
    the reading process's main thread, where a timer signal can interrupt it (elsewhere the block
    runs unbounded). CPU time, not wall time: on a machine busy with other work (a training run,
    a second index build) a page's OCR takes several times as long by the clock, and a wall-clock
    limit dropped whole pages that would have been read."""
    if not IN_SANDBOX or seconds <= 0:
        yield
        return

    def expired(signum, frame):
        raise Expired(f"{what} took more than {seconds:g} s of CPU time (QA_MAX_OCR_PAGE_SECONDS)")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


IN_SANDBOX = False  # set in the reading process (qa.ingest.formats.worker)


class Expired(ReadError):
    """A deadline interrupted the reader wherever it was (an import, a library's state): the
    process is not trusted with another file."""

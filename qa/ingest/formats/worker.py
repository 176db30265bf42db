"""The reading process of qa.ingest.formats.sandbox: Documents for (kind, path, settings)
requests on one pipe, answers on another, within the address space it was started with."""

from __future__ import annotations

import resource
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from qa.errors import ReadError
from qa.ingest.formats import document, sandbox
from qa.ingest.formats.sandbox import Expired


def serve() -> None:
    """The reading process: Documents for (kind, path, settings) requests until the pipe ends."""
    recv = Connection(int(sys.argv[1]), writable=False)
    send = Connection(int(sys.argv[2]), readable=False)
    memory = int(sys.argv[3]) * 1024 * 1024
    import numpy  # noqa: F401 - libraries mapped before the limit: a file's read is what it bounds
    import PIL.Image  # noqa: F401
    import pypdfium2  # noqa: F401
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    sandbox.IN_SANDBOX = True
    while True:
        try:
            kind, path, settings = recv.recv()
        except (EOFError, OSError):
            return
        fresh = True  # whether the process is fit for the next file
        try:
            reply = ("ok", document.HERE[kind](Path(path), settings))
        except Expired as exc:
            reply, fresh = ("error", str(exc)), False
        except ReadError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply, fresh = ("memory", _short_of_memory(settings)), False
        except Exception as exc:  # noqa: BLE001 - the library's own failure is this file's error
            said = [line for line in str(exc).splitlines() if line.strip()]
            last = said[-1].strip()[:300] if said else ""
            if "bad_alloc" in last or "Failed to allocate" in last:  # onnxruntime's MemoryError
                reply = ("memory", _short_of_memory(settings))
            else:
                reply = ("error", f"cannot ingest: {type(exc).__name__}: {last}")
            fresh = False
        try:
            send.send((*reply, fresh))
        except MemoryError:
            send.send(("error", "not enough memory to hand the pages back (QA_READER_MEMORY_MB)",
                       False))
        if not fresh:
            return  # the next file gets a new process


def _short_of_memory(settings) -> str:
    return (f"not enough memory to read it: more than the {settings.reader_memory_mb} MB a file may "
            "use (QA_READER_MEMORY_MB)")

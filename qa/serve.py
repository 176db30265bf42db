"""Start the web app: build the index on first start, open the archive, serve the UI."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import ipaddress
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qa.errors import QAError
from qa.jobs import Background
from qa.settings import Settings


class _NoGradioStubs(importlib.abc.MetaPathFinder):
    """Loads gradio.component_meta with its `create_or_modify_pyi` turned off.

    On every import Gradio regenerates the .pyi type stubs of its ~80 components inside
    site-packages (parsing their sources and rendering templates): about 3 s of the 5 s that
    `import gradio` costs on a 2-core machine, and nothing the app uses.
    """

    def find_spec(self, name, path, target=None):
        if name != "gradio.component_meta":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_without_stubs(module) -> None:
            exec_module(module)
            module.create_or_modify_pyi = lambda *args, **kwargs: None

        spec.loader.exec_module = exec_without_stubs
        return spec


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """"user:password" as a pair; None when no login is asked for."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not (user and sep and password):
        raise QAError("--auth must look like user:password")
    return user, password


def check_binding(host: str, auth: tuple[str, str] | None, insecure_no_auth: bool) -> None:
    """Refuse to serve beyond this machine without a login, unless told to explicitly."""
    if auth is not None or insecure_no_auth or is_loopback(host):
        return
    raise QAError(
        f"refusing to serve on {host} without a login: anyone who reaches the port could use "
        "the app. Add --auth user:password (or QA_AUTH), or --insecure-no-auth if that is "
        "what you want"
    )


def uploads_allowed(host: str, auth: tuple[str, str] | None) -> bool:
    """Whether the app takes pages from the browser: on loopback, or beyond it with a login
    (never with --insecure-no-auth)."""
    return auth is not None or is_loopback(host)


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def ensure_index(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Build the index from settings.corpus_dir when settings.index_dir has none."""
    from qa.index.build import build_index
    from qa.index.store import current_version
    from qa.model.embed import load_embedder

    if current_version(settings.index_dir) is not None:
        return
    if not settings.corpus_dir.exists():
        raise QAError(
            f"no index in {settings.index_dir} and no corpus at {settings.corpus_dir} "
            "to build one from (set --corpus or QA_CORPUS_DIR)"
        )
    log(f"no index in {settings.index_dir}: indexing {settings.corpus_dir} first …")
    report = build_index([settings.corpus_dir], settings.index_dir,
                         load_embedder(settings, "index", log=log), settings=settings,
                         batch_size=settings.batch_size, log=log)
    for source, why in report.failed:
        log(f"  skipped {source}: {why}")
    log(f"indexed {report.paragraphs} paragraphs from {len(report.added)} files "
        f"in {report.seconds:.1f} s")


def serve(settings: Settings, auth: tuple[str, str] | None = None,
          log: Callable[[str], None] = print, insecure_no_auth: bool = False) -> None:
    """Serve the archive on settings.host:settings.port until interrupted.

    Beyond loopback only with a login, or with `insecure_no_auth` said explicitly.
    """
    started = time.perf_counter()
    check_binding(settings.host, auth, insecure_no_auth)
    with _interruptible():
        _serve(settings, auth, log, insecure_no_auth, started)


def _serve(settings: Settings, auth: tuple[str, str] | None, log: Callable[[str], None],
           insecure_no_auth: bool, started: float) -> None:
    ensure_index(settings, log)
    from qa.answer.pipeline import Archive

    # The archive (index, query engine, reader: ~1.5 s, mostly the encoder's 250k-piece
    # tokenizer) opens while Gradio imports and the page is built; a question asked before
    # waits for it.
    archive = Background(lambda: Archive.open(settings, log=log), "open-archive")
    if "gradio" not in sys.modules:
        sys.meta_path.insert(0, _NoGradioStubs())
    from qa.web import build_ui, launch

    # Pages are added from the browser only where a stranger cannot reach the app unseen.
    warm_up = threading.Event()
    demo = build_ui(archive.get, settings, warm_up=warm_up,
                    allow_uploads=uploads_allowed(settings.host, auth))
    try:
        launch(demo, settings, auth=auth, prevent_thread_lock=True, quiet=True)
    except OSError as exc:  # e.g. the port is taken
        raise QAError(f"cannot serve on {settings.host}:{settings.port}: {exc}") from exc
    log(f"serving in {time.perf_counter() - started:.1f} s: http://{settings.host}:"
        f"{settings.port}" + (" (login required)" if auth else "")
        + (" WITHOUT A LOGIN: anyone who reaches this port can use the app"
           if insecure_no_auth and not auth else ""))
    try:
        archive.get()  # an archive that cannot open fails at startup, not at the first question
        try:
            log(f"ready in {time.perf_counter() - started:.1f} s")
            warm_up.set()
            while demo.is_running:
                time.sleep(0.1)
        except KeyboardInterrupt:
            log("stopping (interrupted) …")
    finally:
        stopping = time.perf_counter()
        demo.close(verbose=False)
    log(f"stopped in {time.perf_counter() - stopping:.1f} s")


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT (Ctrl-C, `kill -INT`) raises KeyboardInterrupt while the app starts and serves,
    even when it was started with SIGINT ignored (as a shell starts `qa serve &`): serving
    stops, and work on the index stops with it, its new version never published (builds are
    atomic: see qa.index.build). SIGTERM keeps its default: the process ends at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

"""Start the web app: `python app.py [--host] [--port] [--index-dir] [--corpus] [--auth user:pass]`.

Settings come from QA_* environment variables (see README), then these flags; QA_AUTH keeps
the password out of the process list. When the index
folder holds no index yet, one is built from the corpus first, with a progress bar.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import logging
import os
import sys
import time
from pathlib import Path

from qa.errors import QAError
from qa.settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the newspaper archive in a browser.")
    parser.add_argument("--host", help="address to listen on (QA_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (QA_PORT, default 7860)")
    parser.add_argument("--index-dir", type=Path, help="index folder (QA_INDEX_DIR, default index)")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="archive to index when there is no index yet (QA_CORPUS_DIR, default corpus)",
    )
    parser.add_argument(
        "--auth",
        metavar="USER:PASS",
        default=os.environ.get("QA_AUTH") or None,
        help="require this login when serving beyond localhost (QA_AUTH)",
    )
    return parser.parse_args(argv)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not (user and sep and password):
        raise QAError("--auth must look like user:password")
    return user, password


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


def ensure_index(settings: Settings) -> None:
    """Build the index from settings.corpus_dir when settings.index_dir has none."""
    from qa.embed import load_embedder
    from qa.indexer import build_index
    from qa.store import current_version

    if current_version(settings.index_dir) is not None:
        return
    if not settings.corpus_dir.exists():
        raise QAError(
            f"no index in {settings.index_dir} and no corpus at {settings.corpus_dir} "
            "to build one from (set --corpus or QA_CORPUS_DIR)"
        )
    print(f"no index in {settings.index_dir}: indexing {settings.corpus_dir} first …", flush=True)
    report = build_index(
        [settings.corpus_dir],
        settings.index_dir,
        load_embedder(settings, "index"),
        batch_size=settings.batch_size,
    )
    for source, why in report.failed:
        print(f"  skipped {source}: {why}", flush=True)
    print(
        f"indexed {report.paragraphs} paragraphs from {len(report.added)} files "
        f"in {report.seconds:.1f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        auth = parse_auth(args.auth)
        settings = Settings.from_env(
            host=args.host, port=args.port, index_dir=args.index_dir, corpus_dir=args.corpus
        )
    except (QAError, ValueError) as exc:  # ValueError: a QA_* variable that is not a number
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        ensure_index(settings)
        if "gradio" not in sys.modules:
            sys.meta_path.insert(0, _NoGradioStubs())
        from qa.pipeline import Archive
        from qa.web import build_ui, launch

        archive = Archive.open(settings)
        demo = build_ui(lambda: archive, settings, warm_up=True)
        launch(demo, settings, auth=auth, prevent_thread_lock=True, quiet=True)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken
        print(f"error: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2
    print(
        f"ready in {time.perf_counter() - started:.1f} s: http://{settings.host}:{settings.port}"
        + (" (login required)" if auth else ""),
        flush=True,
    )
    demo.block_thread()  # until Ctrl-C, which closes the server
    return 0


if __name__ == "__main__":
    sys.exit(main())

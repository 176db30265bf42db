"""Startup time and per-question latency of the web app, measured from outside like a user.

    python benchmarks/bench_app.py [--index-dir index] [--runs 3] [--repeat 2]

Startup: `python app.py` in a fresh process until its page answers HTTP 200 and until it logs
"ready" (page served and archive open: index, question encoder, reader), with an existing index
(built first from corpus/ when missing, not timed) and built model caches. Latency: headless
Chromium types each example question, clicks Ask and waits for the reply and the opened
article; the server's own time for `Archive.ask` is read from the details fold. The first
question is reported apart: it may wait for the app's warm-up (jieba's dictionary, the first
read), which starts when the app is ready.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.testing.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(index_dir: Path, corpus: Path, timeout: float = 600, root: Path = ROOT):
    """Run root/app.py on a free port; yield (url, seconds until the page answered, seconds
    until the app logged that it is ready)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(root / "app.py"),
            "--port",
            str(port),
            "--index-dir",
            str(index_dir),
            "--corpus",
            str(corpus),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready: list[float] = []

    def read_log() -> None:
        for line in proc.stdout:
            output.append(line)
            if line.startswith("ready in"):
                ready.append(time.perf_counter() - start)

    threading.Thread(target=read_log, daemon=True).start()
    page = None
    try:
        while page is None or not ready:
            if proc.poll() is not None:
                time.sleep(0.5)  # the rest of its output
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{''.join(output)}")
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"app.py not ready after {timeout} s")
            if page is None:
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            page = time.perf_counter() - start
                except OSError:
                    pass
            time.sleep(0.02)
        yield url, page, ready[0]
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def browser_page(url: str, width: int = 1400, height: int = 1000, details: bool = True):
    """The app in headless Chromium (a Chinese locale); with `details`, the experts' fold open
    (where the server's time is read)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
        page.set_default_timeout(60_000)
        page.goto(url)
        page.locator("#archive-info").filter(has_text="paragraphs").wait_for()
        if details:
            page.locator("#details-fold").get_by_text("详细信息").click()
            page.locator("#details p").wait_for()
        yield page
        browser.close()


def ask_in_browser(page, question: str) -> float:
    """Type and send a question; seconds until the reply and its article are shown."""
    replies = page.locator("#chat .message.bot")
    before = replies.count()
    page.locator("#question textarea").fill(question)
    start = time.perf_counter()
    page.locator("#ask").click()
    replies.nth(before).wait_for()
    page.locator("#citations a.qa-cite").first.wait_for()
    page.locator("#inspector .qa-article").wait_for()
    page.wait_for_function("() => !document.querySelector('#question textarea').value")
    return time.perf_counter() - start


def server_seconds(page) -> float:
    match = re.search(r"([\d.]+) s\b", page.locator("#details p").first.inner_text())
    return float(match.group(1)) if match else float("nan")


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{statistics.median(ms):8.0f} {p90:8.0f} {ms[-1]:8.0f}"


def main() -> None:
    from qa.web import EXAMPLES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--runs", type=int, default=3, help="app starts to time")
    parser.add_argument("--repeat", type=int, default=2, help="times each example is asked")
    args = parser.parse_args()

    from qa.index.store import current_version

    if current_version(args.index_dir) is None:
        print(f"building {args.index_dir} from {args.corpus} first (not timed) …", flush=True)
        with running_app(args.index_dir, args.corpus):
            pass

    pages, readies = [], []
    for _ in range(args.runs):
        with running_app(args.index_dir, args.corpus) as (_, page, ready):
            pages.append(page)
            readies.append(ready)

    ui, server = [], []
    with running_app(args.index_dir, args.corpus) as (url, *_), browser_page(url) as page:
        first = ask_in_browser(page, EXAMPLES[0])  # may wait for the app's warm-up to finish
        for _ in range(args.repeat):
            for question in EXAMPLES:
                ui.append(ask_in_browser(page, question))
                server.append(server_seconds(page))

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nindex: {current_version(args.index_dir)}   cpu cores: {os.cpu_count()}   "
        f"load average: {load} (other work on the machine slows every figure)"
    )
    print(f"{'measure':44} {'n':>3} {'median':>8} {'p90':>8} {'max':>8}  (ms)")
    print(f"{'startup to page (python app.py → HTTP 200)':44} {len(pages):3} {summary(pages)}")
    print(f"{'startup to ready (page and archive: log)':44} {len(readies):3} {summary(readies)}")
    print(f"{'first question after the page opened':44} {1:3} {summary([first])}")
    print(f"{'question → reply + article shown (browser)':44} {len(ui):3} {summary(ui)}")
    print(f"{'  of which Archive.ask on the server':44} {len(server):3} {summary(server)}")


if __name__ == "__main__":
    main()

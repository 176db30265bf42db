"""Save docs/screenshot.png: an answered question with its cited article open.

    python benchmarks/screenshot.py [--index-dir index] [--question "…"] [--out docs/screenshot.png]

Runs `python app.py` (indexing corpus/ first when there is no index) and Debian's headless
Chromium; install fonts-noto-cjk first or the Chinese text renders as boxes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_app import ROOT, ask_in_browser, browser_page, running_app


def main() -> None:
    from qa.web import EXAMPLES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--question", default=EXAMPLES[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with (
        running_app(args.index_dir, args.corpus) as (url, _),
        browser_page(url, width=1440, height=960, details=False) as page,
    ):
        ask_in_browser(page, args.question)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(args.out))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()

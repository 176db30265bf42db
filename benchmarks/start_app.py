"""Start a checkout's app.py and exit once it is ready: one start-up, for timing with farm-bench.

    python benchmarks/start_app.py [--root CHECKOUT] [--index-dir index] [--corpus corpus]

Prints the seconds until the page answered and until the app logged "ready". To compare two
commits side by side (each with its own QA_CACHE_DIR, since each removes the other's builds):

    farm-bench -n 6 --vs 'env QA_CACHE_DIR=/tmp/cache-old python benchmarks/start_app.py
        --root /path/to/old-checkout' -- python benchmarks/start_app.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_app import ROOT, running_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py runs")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    with running_app(args.index_dir, args.corpus, root=args.root.resolve()) as (_, page, ready):
        print(f"page {page:.2f} s, ready {ready:.2f} s")


if __name__ == "__main__":
    main()

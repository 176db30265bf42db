"""Segmentation is linear in a file's size: N short paragraphs with no sentence end
("0\\n\\n1\\n\\n2…", the worst case: every one continues the last), ingested whole.

    python benchmarks/bench_segment.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.ingest.articles import ingest_file  # noqa: E402
from qa.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print("| paragraphs | file MB | seconds | µs per paragraph |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"n{n}.txt"
            path.write_text("\n\n".join(str(i) for i in range(n)), "utf-8")
            start = time.perf_counter()
            result = ingest_file(path, settings=Settings())
            seconds = time.perf_counter() - start
            assert result.error is None, result.error
            print(f"| {n:,} | {path.stat().st_size / 1e6:.1f} | {seconds:.2f} | "
                  f"{1e6 * seconds / n:.1f} |", flush=True)


if __name__ == "__main__":
    main()

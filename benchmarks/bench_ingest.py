"""Ingest speed and memory on a whole archive, one core, streamed file by file.

    python benchmarks/bench_ingest.py ../shared/corpora/xwlb

Nothing is kept between files except counters, so peak memory is bounded by the largest file.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.ingest.articles import ingest_paths  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        sys.exit(f"no such file or folder: {', '.join(missing)}")

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts: Counter = Counter()
    start, cpu_start = time.perf_counter(), time.process_time()
    for result in ingest_paths(args.paths):
        counts["files"] += 1
        counts["failed"] += result.error is not None
        counts["bytes"] += Path(result.source).stat().st_size
        counts["articles"] += len(result.articles)
        for article in result.articles:
            counts["paragraphs"] += len(article.paragraphs)
            counts["chars"] += sum(len(p.text) for p in article.paragraphs)
            counts["untitled"] += article.title is None
            counts["dated"] += article.date is not None
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    rows = [
        ("files", f"{counts['files']:,} ({counts['failed']} failed)"),
        ("input", f"{counts['bytes'] / 1e6:.1f} MB"),
        ("seconds", f"{seconds:.2f} wall, {cpu:.2f} CPU (one core)"),
        ("files/s", f"{counts['files'] / seconds:,.0f} wall, {counts['files'] / cpu:,.0f} CPU"),
        ("MB/s", f"{counts['bytes'] / 1e6 / seconds:.2f} wall, {counts['bytes'] / 1e6 / cpu:.2f} CPU"),
        ("articles", f"{counts['articles']:,} ({counts['untitled']} without headline, "
                     f"{counts['dated']} dated)"),
        ("paragraphs", f"{counts['paragraphs']:,}"),
        ("paragraph chars", f"{counts['chars']:,}"),
        ("peak RSS", f"{rss_peak / 1024:.0f} MiB (at start {rss_start / 1024:.0f} MiB)"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()

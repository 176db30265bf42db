"""How fast `qa ask` answers from a cold start, one process per question, and where the time
goes (imports, opening the index, the question encoder, the reader, the question itself).

    python benchmarks/bench_cli.py [--index-dir DIR] [--runs 7]

DIR defaults to a fresh index of corpus/ (built first, not timed). Each run is a new process, as
a script calling `qa ask` per question would start one; the breakdown is measured in one more.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "全市有多少家大型家政企业加入了家政服务行业协会？"
BREAKDOWN = r"""
import sys, time
t0 = time.perf_counter()
from qa.cli import main  # noqa: F401 - what `python -m qa` imports first
t1 = time.perf_counter()
from pathlib import Path
from qa.answer.pipeline import Archive
from qa.index.store import Store
from qa.model.embed import load_embedder
from qa.reader import load_answerer
from qa.settings import Settings
t2 = time.perf_counter()
s = Settings.from_env(index_dir=Path(sys.argv[1]))
store = Store.open(s.index_dir)
t3 = time.perf_counter()
embedder = load_embedder(s, "query")
embedder.embed_queries(["warm"])
t4 = time.perf_counter()
answerer = load_answerer(s.answerer, s.cache_dir, s.device, runtime=s.reader_runtime)
t5 = time.perf_counter()
archive = Archive.open(s, embedder=embedder, answerer=answerer)
answer = archive.ask(sys.argv[2])
t6 = time.perf_counter()
for name, a, b in (("import qa.cli", t0, t1), ("import the answer stage", t1, t2),
                   ("open the index", t2, t3), ("question encoder, first use", t3, t4),
                   ("answerer", t4, t5), ("the question (first)", t5, t6)):
    print(f"{name}\t{1000 * (b - a):.0f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index_dir or Path(tmp) / "index"
        if args.index_dir is None:
            subprocess.run([sys.executable, "-m", "qa", "index", "--quiet", "--index-dir",
                            str(index), "corpus"], cwd=ROOT, check=True, capture_output=True)
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "qa", "ask", "--json", "--index-dir",
                            str(index), QUESTION], cwd=ROOT, check=True, capture_output=True)
            seconds.append(time.perf_counter() - start)
        seconds.sort()
        print(f"`qa ask` cold, {args.runs} runs: p50 {statistics.median(seconds):.2f} s, "
              f"min {seconds[0]:.2f} s, max {seconds[-1]:.2f} s\n")
        out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(index), QUESTION], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
        print("| step | ms |\n|---|---:|")
        for line in out.splitlines():
            name, ms = line.split("\t")
            print(f"| {name} | {ms} |")


if __name__ == "__main__":
    main()

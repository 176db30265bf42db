"""ONNX fp32 against int8 with the gold passage: do the reader's spans and accuracy hold?

    python benchmarks/reader_precision.py [--limit 400] [--reader qa/data/reader]
    python benchmarks/reader_precision.py --against OTHER_READER [--precision fp32]

Each CMRC 2018 trial question is read with its own passage by both precisions (or, with
`--against`, by both reader folders at one precision: e.g. an adapter stored another way);
prints EM/F1 of the best span (no abstention), how many answers each would give at its
threshold, and the share of best spans that are identical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.eval import metrics  # noqa: E402
from qa.reader.bundle import READER_DIR  # noqa: E402
from qa.reader.e5 import E5Reader  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.train.data import load_validation  # noqa: E402

TRIAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cmrc2018_trial.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reader", type=Path, default=READER_DIR)
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--against", type=Path, help="a second reader folder, read alike")
    ap.add_argument("--precision", default="fp32", help="with --against: fp32 or int8")
    args = ap.parse_args()
    cache = Settings.from_env().cache_dir
    if args.against:
        readers = {str(f): E5Reader(f, cache_dir=cache, runtime="onnx", precision=args.precision)
                   for f in (args.reader, args.against)}
    else:
        readers = {p: E5Reader(args.reader, cache_dir=cache, runtime="onnx", precision=p)
                   for p in ("fp32", "int8")}
    items = load_validation(TRIAL, args.limit)
    em = dict.fromkeys(readers, 0.0)
    f1 = dict.fromkeys(readers, 0.0)
    answered = dict.fromkeys(readers, 0)
    same = 0
    for it in items:
        best = {}
        for p, reader in readers.items():
            spans = reader.extract(it.question, [it.context])
            best[p] = spans[0] if spans else None
            text = spans[0].text if spans else ""
            em[p] += metrics.exact_match(text, it.answers)
            f1[p] += metrics.f1(text, it.answers)
            answered[p] += bool(spans) and spans[0].score >= reader.threshold
        a, b = best.values()
        same += bool(a and b and (a.start, a.end) == (b.start, b.end))
    n = len(items)
    print(f"{n} CMRC trial questions with the gold passage, best span\n")
    print("| reader | EM | F1 | answered at its threshold |")
    print("|---|---:|---:|---:|")
    for p in readers:
        print(f"| {p} | {em[p] / n:.3f} | {f1[p] / n:.3f} | {answered[p] / n:.3f} |")
    print(f"\nidentical best spans: {same / n:.3f}")


if __name__ == "__main__":
    main()

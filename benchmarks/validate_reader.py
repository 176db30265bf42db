"""EM/F1 of a reader (or a training checkpoint) on validation questions with their gold passage.

    python benchmarks/validate_reader.py DIR [DIR ...] [--eval-file F] [--limit 200]
        [--max-answer-tokens N] [--tokenization chars|sentencepiece]
        [--runtime onnx|torch] [--precision fp32|bf16|int8] [--rivals N]

The same measure as training's validation (`qa.train.loop.validate`), so that runtime settings
(span length cap, window, precision) can be compared on one adapter without retraining. DIR
holds an adapter and a head (a reader folder or OUT/checkpoint); settings it lacks come from
the flags, then from its reader.json.

`--rivals N` reads each question's gold passage together with the N other passages of the file
that BM25 ranks first for it and that lack its answer (`qa.train.negatives`), no retrieval
scores: the best span must come from the right passage, as when the reader compares the
passages retrieval found.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.datasets import Example  # noqa: E402
from qa.reader.bundle import CONFIG  # noqa: E402
from qa.reader.e5 import E5Reader  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.train.data import load_validation  # noqa: E402
from qa.train.loop import validate  # noqa: E402
from qa.train.negatives import hard_negatives  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("readers", nargs="+", type=Path)
    ap.add_argument("--eval-file", type=Path, default=SHARED / "eval" / "cmrc2018_trial.json")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--max-answer-tokens", type=int, nargs="*", default=[None])
    ap.add_argument("--tokenization", choices=["chars", "sentencepiece"])
    ap.add_argument("--runtime", choices=["auto", "onnx", "torch"], default="torch")
    ap.add_argument("--precision", choices=["fp32", "bf16", "int8"],
                    help="fp32/bf16 (torch), fp32/int8 (onnx) [the runtime's default]")
    ap.add_argument("--rivals", type=int, default=0,
                    help="other passages of the file read with the gold one (BM25's first "
                         "that lack the answer)")
    args = ap.parse_args()
    items = load_validation(args.eval_file, args.limit)
    rivals: list[list[str]] = [[] for _ in items]
    for owner, e in hard_negatives([Example(i.question, i.context, 0, i.answers[0])
                                    for i in items], args.rivals):
        rivals[owner].append(e.context)
    cache_dir = Settings.from_env().cache_dir
    read = (f"gold passage and up to {args.rivals} rivals "
            f"({sum(map(len, rivals)) / max(len(items), 1):.1f} a question)"
            if args.rivals else "gold passage")
    print(f"{len(items)} questions of {args.eval_file.name}, {read}\n")
    print("| reader | runtime | span cap | EM | F1 | s/question |\n|---|---|---:|---:|---:|---:|")
    for folder in args.readers:
        runtime = {}
        if (folder / CONFIG).is_file():
            runtime = json.loads((folder / CONFIG).read_text("utf-8")).get("runtime", {})
        if args.tokenization:
            runtime["tokenization"] = args.tokenization
        reader = None
        for cap in args.max_answer_tokens:
            settings = {**runtime, **({"max_answer_tokens": cap} if cap else {})}
            if reader is None:
                reader = E5Reader(folder, cache_dir=cache_dir, config=settings,
                                  runtime=args.runtime, precision=args.precision)
            reader.max_answer_tokens = settings.get("max_answer_tokens", 30)
            start = time.perf_counter()
            scores = validate(reader, items, rivals)
            per = (time.perf_counter() - start) / len(items)
            print(f"| {folder} | {reader.runtime} | {reader.max_answer_tokens} | {scores['em']:.3f} | "
                  f"{scores['f1']:.3f} | {per:.2f} |", flush=True)


if __name__ == "__main__":
    main()

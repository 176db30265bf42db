"""Reader training recipes side by side in one run: seconds a step and windows per second.

    python benchmarks/bench_train.py [--data ../shared/train/cmrc2018_train.json]
        [--questions 300] [--steps 6] [--threads 1]

Each recipe is a real `Trainer` (the bundled encoder, LoRA, the span head) on the same
questions; the recipes take their timed steps in turns (round-robin, after one warm-up step
each), so a busy machine slows them alike. Windows of 384 tokens cover more of a passage per
window, so the table also gives windows per question and passage-questions per second: the
cost of one pass over the data. Prints a Markdown table with the machine's CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.settings import Settings  # noqa: E402
from qa.train.config import TrainConfig, hardware  # noqa: E402
from qa.train.features import batches  # noqa: E402
from qa.train.loop import Trainer  # noqa: E402


class Recipe(NamedTuple):
    name: str
    bf16: bool
    dropout: float
    max_length: int
    stride: int


RECIPES = [
    Recipe("fp32, LoRA dropout 0.1 (the old recipe)", False, 0.1, 256, 96),
    Recipe("bf16, LoRA dropout 0.1", True, 0.1, 256, 96),
    Recipe("bf16, no dropout, 256-token windows (shipped)", True, 0.0, 256, 96),
    Recipe("bf16, no dropout, 384-token windows", True, 0.0, 384, 128),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/train/cmrc2018_train.json"))
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per recipe")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    cache_dir = Settings.from_env().cache_dir
    trainers, plans = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(RECIPES):
            cfg = TrainConfig(data=[args.data], out=Path(tmp) / str(i), limit=args.questions,
                              rank=32, alpha=64, bf16=r.bf16, dropout=r.dropout,
                              max_length=r.max_length, stride=r.stride, eval_file=None,
                              batch_size=args.batch_size, threads=args.threads, steps=1000)
            t = Trainer(cfg, cache_dir, log=lambda _: None)
            t.model.train()
            lengths = [len(x) for x in t.features.input_ids]
            plans.append(batches(lengths, args.batch_size, 13, 0))
            trainers.append(t)
        seconds: list[list[float]] = [[] for _ in RECIPES]
        tokens: list[int] = [0] * len(RECIPES)
        for step in range(args.steps + 1):
            for i, t in enumerate(trainers):
                batch = plans[i][step % len(plans[i])]
                t0 = time.perf_counter()
                t.step(batch)
                if step:  # the first step of each warms its kernels up
                    seconds[i].append(time.perf_counter() - t0)
                    tokens[i] += sum(len(t.features.input_ids[j]) for j in batch)
        print(f"Machine: {hardware()}; {args.threads} torch thread(s); batch {args.batch_size}; "
              f"{args.questions} questions of {args.data.name}; {args.steps} timed steps each\n")
        print("| recipe | s/step (median) | windows/s | tokens/s | training windows/question | "
              "questions/s |")
        print("|---|---:|---:|---:|---:|---:|")
        for i, (r, t) in enumerate(zip(RECIPES, trainers, strict=True)):
            med = statistics.median(seconds[i])
            per_q = len(t.features.starts) / max(len(t.examples), 1)
            wps = args.batch_size / med
            print(f"| {r.name} | {med:.2f} | {wps:.1f} | {tokens[i] / sum(seconds[i]):,.0f} | "
                  f"{per_q:.2f} | {wps / per_q:.1f} |")


if __name__ == "__main__":
    main()

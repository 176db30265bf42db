"""Does the answer fit the question? Per question kind, from `qa eval --predictions` files.

    python -m qa eval DATASET --answerer rules --predictions rules.jsonl
    python -m qa eval DATASET --answerer reader --predictions reader.jsonl
    python benchmarks/answer_types.py rules.jsonl reader.jsonl

A short question answered by a whole sentence, or a name answered by a date, is a defect even
when the span overlaps the gold answer. For each answerer and each kind of question (as the
rules' question analysis sees it: number, time, person, ...) this prints how many answers
are of the kind asked for (a numeral for a number, a date for a time, no digits in a name),
how long they are against the gold answers, and EM/F1.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.reader.question import analyse, fits  # noqa: E402


def main(paths: list[Path]) -> None:
    print("| answerer | kind | questions | answered | of the kind asked | median length "
          "(gold) | EM | F1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        by_kind = defaultdict(list)
        for r in rows:
            if r["gold"]:
                by_kind[analyse(r["question"]).kind].append(r)
        for kind, rs in sorted(by_kind.items(), key=lambda x: -len(x[1])):
            answered = [r for r in rs if r["answer"]]
            fit = sum(fits(r["question"], r["answer"]) for r in answered)
            length = median(len(r["answer"]) for r in answered) if answered else 0
            gold = median(min(len(g) for g in r["gold"]) for r in rs)
            print(f"| {path.stem} | {kind} | {len(rs)} | {len(answered)} | "
                  f"{fit / max(len(answered), 1):.2f} | {length:.0f} ({gold:.0f}) | "
                  f"{sum(r['em'] for r in rs) / len(rs):.3f} | "
                  f"{sum(r['f1'] for r in rs) / len(rs):.3f} |")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])

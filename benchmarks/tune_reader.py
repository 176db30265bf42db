"""The reader's retrieval weight, chosen on validation questions with open retrieval.

    python benchmarks/tune_reader.py [--reader DIR] [--limit 300] [--weights 0 1 2 4 8 16]

Each question's top k passages are retrieved and read once; the spans are then decoded with
each retrieval weight (how much a passage's retrieval score, relative to the best passage,
adds to its spans' logits), so every weight is compared on the same logits. Prints EM/F1 of
the best span (no abstention) per weight. Use a validation set (CMRC 2018 trial), never a
test set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.datasets import load_dataset  # noqa: E402
from qa.eval import metrics  # noqa: E402
from qa.eval.run import squad_archive  # noqa: E402
from qa.index.search import Retriever  # noqa: E402
from qa.index.store import Store  # noqa: E402
from qa.model.embed import load_embedder  # noqa: E402
from qa.reader.base import best_first  # noqa: E402
from qa.reader.bundle import READER_DIR  # noqa: E402
from qa.reader.decode import decode  # noqa: E402
from qa.reader.e5 import E5Reader  # noqa: E402
from qa.reader.measure import complete_count  # noqa: E402
from qa.settings import Settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reader", type=Path, default=READER_DIR)
    ap.add_argument("--dataset", type=Path, default=SHARED / "cmrc2018_trial.json")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--weights", type=float, nargs="+", default=[0, 1, 2, 4, 8, 16])
    args = ap.parse_args()
    settings = Settings.from_env()
    reader = E5Reader(args.reader, cache_dir=settings.cache_dir, runtime=settings.reader_runtime)
    _, items, contexts = load_dataset(args.dataset)
    items = [it for it in items if it.answers and it.question.strip()][: args.limit]
    scores = {w: [0.0, 0.0] for w in args.weights}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, _ = squad_archive(contexts, Path(tmp), load_embedder(settings, "index"),
                                     settings)
        retriever = Retriever(Store.open(index_dir), load_embedder(settings, "query"))
        for item in items:
            hits = retriever.search(item.question, settings.k)
            passages = [h.paragraph.text for h in hits]
            windows = reader.windower.batch(item.question, passages)
            starts, ends = reader.logits(windows)
            for w in args.weights:
                spans = decode(windows, starts, ends, passages, [h.score for h in hits],
                               max_answer_tokens=reader.max_answer_tokens, top_n=reader.top_n,
                               retrieval_weight=w)
                spans = best_first(complete_count(item.question, passages[s.passage_index], s)
                                   for s in spans)
                pred = spans[0].text if spans else ""
                scores[w][0] += metrics.exact_match(pred, item.answers)
                scores[w][1] += metrics.f1(pred, item.answers)
    print(f"{args.reader} ({reader.runtime}), {len(items)} questions of {args.dataset.name}, "
          f"open retrieval, k = {settings.k}, no abstention\n")
    print("| retrieval weight | EM | F1 |\n|---:|---:|---:|")
    for w, (em, f1) in scores.items():
        print(f"| {w:g} | {em / len(items):.3f} | {f1 / len(items):.3f} |")


if __name__ == "__main__":
    main()

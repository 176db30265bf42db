"""The trained reader on each runtime, side by side in one run: accuracy and latency.

    python benchmarks/bench_reader.py [--reader qa/data/reader] [--limit 300]
        [--runtimes rules torch-fp32 torch-bf16 onnx-fp32 onnx-int8 onnx-int8+rules]

Every question is asked through `Archive.ask` (k = 5) of each answerer in turn, in a shuffled
order per question, so that a busy machine slows them alike. `onnx-int8+rules` is the default
answerer. Two archives:

- CMRC 2018 trial: its passages indexed as articles (open retrieval, as `qa eval` does);
  EM/F1 over the answerable questions, the reader's own time and the whole `qa ask` time.
- the sample archive in corpus/ (news paragraphs, what users ask about): `qa ask` latency on
  the public seed questions.

Prints a Markdown table with the machine's CPU and thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.answer.pipeline import Archive  # noqa: E402
from qa.datasets import load_dataset  # noqa: E402
from qa.errors import QueryError  # noqa: E402
from qa.eval import metrics  # noqa: E402
from qa.eval.run import squad_archive  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.store import Store  # noqa: E402
from qa.model.embed import load_embedder  # noqa: E402
from qa.reader.bundle import READER_DIR  # noqa: E402
from qa.reader.e5 import E5Reader  # noqa: E402
from qa.reader.ensemble import Ensemble  # noqa: E402
from qa.reader.rules import RuleAnswerer  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.train.config import hardware  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"


class Timed:
    """An answerer that records how long each `extract` took."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, []
        self.name, self.threshold, self.scale = inner.name, inner.threshold, inner.scale

    def confidence(self, score: float) -> float:
        return self.inner.confidence(score)

    def extract(self, *args, **kwargs):
        start = time.perf_counter()
        out = self.inner.extract(*args, **kwargs)
        self.seconds.append(time.perf_counter() - start)
        return out


def answerers(names: list[str], reader: Path, cache_dir: Path) -> dict[str, Timed]:
    out = {}
    for name in names:
        if name == "rules":
            out[name] = Timed(RuleAnswerer())
            continue
        runtime, precision = name.removesuffix("+rules").split("-")
        r = E5Reader(reader, cache_dir=cache_dir, runtime=runtime, precision=precision,
                     log=print)
        # onnx-int8+rules: the default answerer (QA_ANSWERER=auto)
        out[name] = Timed(Ensemble(r, RuleAnswerer()) if name.endswith("+rules") else r)
    return out


def ask_all(questions, archives: dict[str, Archive], seed: int = 0) -> dict[str, list]:
    """Each question through every archive (shuffled order): (answer, seconds) per name."""
    rng = random.Random(seed)
    results: dict[str, list] = {name: [] for name in archives}
    for question in questions:
        names = list(archives)
        rng.shuffle(names)
        for name in names:
            start = time.perf_counter()
            try:
                answer = archives[name].ask(question)
            except QueryError:
                answer = None
            results[name].append((answer, time.perf_counter() - start))
    return results


def ms(values, p) -> str:
    return f"{1000 * metrics.percentile(values, p):.0f}" if values else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reader", type=Path, default=READER_DIR)
    ap.add_argument("--limit", type=int, default=300, help="CMRC trial questions")
    ap.add_argument("--runtimes", nargs="+",
                    default=["rules", "torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"])
    args = ap.parse_args()
    settings = Settings.from_env()
    timed = answerers(args.runtimes, args.reader, settings.cache_dir)
    embedder = load_embedder(settings, "index")
    query_embedder = load_embedder(settings, "query")
    rows = {name: {} for name in timed}
    with tempfile.TemporaryDirectory() as tmp:
        _, items, contexts = load_dataset(SHARED / "cmrc2018_trial.json")
        items = [it for it in items if it.answers][: args.limit]
        (Path(tmp) / "cmrc").mkdir()
        index_dir, _ = squad_archive(contexts, Path(tmp) / "cmrc", embedder, settings)
        store = Store.open(index_dir)
        archives = {n: Archive(settings, store, query_embedder, a) for n, a in timed.items()}
        results = ask_all([it.question for it in items], archives)
        for name, got in results.items():
            texts = [(a.text or "") if a else "" for a, _ in got]
            rows[name]["em"] = sum(metrics.exact_match(t, it.answers)
                                   for t, it in zip(texts, items, strict=True)) / len(items)
            rows[name]["f1"] = sum(metrics.f1(t, it.answers)
                                   for t, it in zip(texts, items, strict=True)) / len(items)
            rows[name]["texts"] = texts
            rows[name]["ask"] = [s for _, s in got]
            rows[name]["read"] = list(timed[name].seconds)
            timed[name].seconds.clear()

        seed_index = Path(tmp) / "seed"
        build_index([ROOT / "corpus"], seed_index, embedder, settings=settings, progress=False,
                    log=lambda _: None)
        store = Store.open(seed_index)
        archives = {n: Archive(settings, store, query_embedder, a) for n, a in timed.items()}
        questions = [json.loads(line)["question"] for line in
                     (SHARED / "seed_qa_public.jsonl").read_text("utf-8").splitlines()
                     if line.strip()]
        for name, got in ask_all(questions, archives).items():
            rows[name]["seed_ask"] = [s for _, s in got]
            rows[name]["seed_read"] = list(timed[name].seconds)

    print(f"\n{hardware()}, torch/ORT threads: {os.environ.get('OMP_NUM_THREADS', 'default')}; "
          f"CMRC 2018 trial, first {len(items)} answerable questions, open retrieval, k = "
          f"{settings.k}; seed archive: {len(questions)} public questions\n")
    # answers (or abstentions) identical to PyTorch fp32's, the reference runtime
    ref = rows.get("torch-fp32", {}).get("texts")
    print("| answerer | EM | F1 | same as torch fp32 | CMRC read p50 ms | CMRC ask p50 / p95 ms | "
          "seed read p50 ms | seed ask p50 / p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        same = (f"{sum(a == b for a, b in zip(r['texts'], ref, strict=True)) / len(ref):.3f}"
                if ref else "-")
        print(f"| {timed[name].name} | {r['em']:.3f} | {r['f1']:.3f} | {same} | "
              f"{ms(r['read'], 50)} | {ms(r['ask'], 50)} / {ms(r['ask'], 95)} | "
              f"{ms(r['seed_read'], 50)} | {ms(r['seed_ask'], 50)} / {ms(r['seed_ask'], 95)} |")


if __name__ == "__main__":
    main()

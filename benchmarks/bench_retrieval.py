"""Retrieval benchmarks: recall on CMRC 2018 (BM25 / dense / fused) and latency at archive scale.

    python benchmarks/bench_retrieval.py recall ../shared/eval/cmrc2018_trial.json
    python benchmarks/bench_retrieval.py latency ../shared/corpora/xwlb --embed 3000 [--keep DIR]

`latency` ingests the whole archive (BM25 over all real text) but embeds only the first
--embed paragraphs with the real model; the remaining rows reuse those real vectors
cyclically, so FAISS searches an index of the full size.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.answer.pipeline import Archive  # noqa: E402
from qa.datasets import load_dataset  # noqa: E402
from qa.eval.run import squad_archive  # noqa: E402
from qa.index.build import build_index  # noqa: E402
from qa.index.search import Fusion, Retriever  # noqa: E402
from qa.index.store import Store  # noqa: E402
from qa.model.embed import load_embedder  # noqa: E402
from qa.settings import Settings  # noqa: E402


def _ranks(ranked_ids, gold_of, item) -> int | None:
    for rank, pid in enumerate(ranked_ids, 1):
        if gold_of(pid) == item.gold:
            return rank
    return None


def _row(name: str, ranks: list[int | None]) -> str:
    n = len(ranks)
    cells = [sum(r is not None and r <= k for r in ranks) / n for k in (1, 5, 10)]
    mrr = sum(1 / r for r in ranks if r) / n
    return f"| {name:<32} | {cells[0]:.3f} | {cells[1]:.3f} | {cells[2]:.3f} | {mrr:.3f} |"


def recall(dataset: Path, settings: Settings) -> None:
    _, items, contexts = load_dataset(dataset)
    embedder = load_embedder(settings, "index")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index_dir, ids = squad_archive(contexts, Path(tmp), embedder, settings)
        built = time.perf_counter() - t0
        archive = Archive.open(settings.with_(index_dir=index_dir))
        store, retriever = archive.store, archive.retriever
        ordinals = {aid: str(i) for i, aid in enumerate(ids)}
        article_of = {pid: article.id for pid, (_, article)
                      in enumerate(store.paragraphs(list(range(store.size))))}

        def gold_of(pid):
            return ordinals[article_of[pid]]

        lexical, dense, per_item = [], [], []
        for item in items:
            lx = [pid for pid, _ in retriever.lexical(item.question, 100)]
            dn = [pid for pid, _ in retriever.dense(item.question, 100)]
            per_item.append((lx, dn))
            lexical.append(_ranks(lx, gold_of, item))
            dense.append(_ranks(dn, gold_of, item))
        print(f"{len(items)} questions, {len(contexts)} passages, {store.size} paragraphs; "
              f"index built in {built:.0f} s with {embedder.info()['runtime']}\n")
        print("| retrieval                        | R@1   | R@5   | R@10  | MRR   |")
        print("|----------------------------------|-------|-------|-------|-------|")
        print(_row("BM25 (jieba)", lexical))
        print(_row("dense (multilingual-e5-small)", dense))
        for fusion in (Fusion(60, 1, 1), Fusion(20, 1, 1), Fusion(60, 1.5, 1), Fusion(60, 1, 1.5),
                       Fusion(10, 1, 1.5)):
            fused = []
            for item, (lx, dn) in zip(items, per_item, strict=True):
                score: dict[int, float] = {}
                for w, ranked in ((fusion.dense_weight, dn), (fusion.lexical_weight, lx)):
                    for r, pid in enumerate(ranked, 1):
                        score[pid] = score.get(pid, 0) + w / (fusion.k + r)
                fused.append(_ranks(sorted(score, key=lambda p: -score[p]), gold_of, item))
            name = f"RRF k={fusion.k} dense {fusion.dense_weight} bm25 {fusion.lexical_weight}"
            print(_row(name, fused))
        # the shipped path end to end (includes near-duplicate collapsing)
        shipped = []
        for item in items:
            hits = retriever.search(item.question, 10)
            shipped.append(next((r for r, h in enumerate(hits, 1)
                                 if ordinals[h.article.id] == item.gold), None))
        print(_row(f"Retriever.search (default {retriever.fusion.k})", shipped))


class CyclingEmbedder:
    """Real vectors for the first `limit` passages (embedded in batches by `bulk`), then the
    same vectors again; queries go to `real`."""

    def __init__(self, real, bulk, limit: int):
        self.real, self.bulk, self.limit, self.cache, self.done = real, bulk, limit, [], 0
        self.name, self.dim = real.name, real.dim

    def info(self) -> dict:
        return self.real.info()

    def embed_queries(self, texts):
        return self.real.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        start = self.done
        fresh = list(texts[: max(0, self.limit - len(self.cache))])
        if fresh:
            self.cache.extend(self.bulk.embed_passages(fresh))
        self.done += len(texts)
        out = [self.cache[(start + i) % self.limit] for i in range(len(texts))]
        return np.asarray(out, dtype=np.float32)


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def latency(archive_dir: Path, settings: Settings, embed: int, queries: int,
            keep: Path | None = None) -> None:
    real = load_embedder(settings, "query")
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = keep or Path(tmp) / "index"
        t0 = time.perf_counter()
        build_index([archive_dir], index_dir,
                    CyclingEmbedder(real, load_embedder(settings, "index"), embed),
                    batch_size=64, progress=False, log=lambda _: None)
        built = time.perf_counter() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        store = Store.open(index_dir)
        retriever = Retriever(store, real)
        opened = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        ids = rng.choice(store.size, size=queries, replace=False).tolist()
        texts = [p.text for p, _ in store.paragraphs(ids)]
        # questions are short: take a clause from a random paragraph
        qs = [t[: 12 + i % 20] for i, t in enumerate(texts)]
        for q in qs[:5]:
            retriever.search(q, 10)  # warm up
        parts = {"embed": [], "bm25": [], "faiss": [], "total": []}
        for q in qs:
            t = time.perf_counter()
            qv = real.embed_queries([q])
            t1 = time.perf_counter()
            retriever.lexical(q, 100)
            t2 = time.perf_counter()
            store.faiss.search(np.asarray(qv, dtype=np.float32), 100)
            t3 = time.perf_counter()
            retriever.search(q, 10)
            t4 = time.perf_counter()
            for key, value in zip(parts, (t1 - t, t2 - t1, t3 - t2, t4 - t3), strict=True):
                parts[key].append(1000 * value)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        manifest = store.manifest
        print(f"archive: {store.size} paragraphs from {manifest['files']} files; "
              f"{embed} embedded with the real model, the rest reuse those vectors")
        print(f"FAISS: {manifest['faiss']['type']}; built in {built:.0f} s; opened in {opened:.2f} s; "
              f"index on disk {_du(index_dir) / 2**20:.0f} MiB; peak RSS {rss / 1024:.0f} MiB "
              f"({rss_before / 1024:.0f} MiB before opening)\n")
        print("| step (warm, ms)                 | p50   | p95   |")
        print("|---------------------------------|-------|-------|")
        for key, label in (("embed", "query embedding"), ("bm25", "BM25 (100 candidates)"),
                           ("faiss", "FAISS (100 candidates)"),
                           ("total", "Retriever.search k=10 (all)")):
            values = sorted(parts[key])
            p95 = values[int(0.95 * (len(values) - 1))]
            print(f"| {label:<31} | {statistics.median(values):5.1f} | {p95:5.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("what", choices=["recall", "latency"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--embed", type=int, default=4000, help="latency: paragraphs really embedded")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", type=Path,
                        help="latency: build the index here and keep it; a second run only times")
    args = parser.parse_args()
    settings = Settings.from_env()
    if args.what == "recall":
        recall(args.path, settings)
    else:
        latency(args.path, settings, args.embed, args.queries, args.keep)


if __name__ == "__main__":
    main()

"""Dense search over the paragraph vectors: which FAISS index, building it, loading it.

Exact search scans every vector: ~0.35 ms per 1,000 on one core here, so above
`EXACT_SEARCH_MAX` it would eat the 30 ms query budget and an HNSW graph is built instead
(~1 ms at 90k paragraphs, benchmarks/bench_retrieval.py). Vectors are unit length, so inner
product is cosine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.errors import IndexError_

FILE = "faiss.index"
EXACT_SEARCH_MAX = 20_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128


RECALL_TARGET = 0.99  # recall@10 of the graph against exact search, on a sample of queries
RECALL_SAMPLE = 200
EF_SEARCH_STEPS = (HNSW_EF_SEARCH, 256, 512, 1024, 2048)


def build(vectors: np.ndarray, folder: Path) -> dict:
    """Write the FAISS index over `vectors` (n, dim) into `folder`; its manifest entry.

    A graph is checked against exact search on sampled queries (paragraph vectors moved off
    themselves, as a question lies near but not on its paragraph) and searched wider until its
    recall@10 reaches RECALL_TARGET; a graph that cannot reach it gives way to exact search
    (a batch of near-identical paragraphs once hid a known answer from efSearch 128)."""
    import faiss

    n, dim = vectors.shape
    exact = faiss.IndexFlatIP(dim)
    if n <= EXACT_SEARCH_MAX:
        index, info = exact, {"type": "IndexFlatIP", "exact": True}
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        info = {"type": "IndexHNSWFlat", "exact": False, "M": HNSW_M,
                "ef_construction": HNSW_EF_CONSTRUCTION}
    for lo in range(0, n, 65536):
        index.add(np.ascontiguousarray(vectors[lo : lo + 65536]))
    if not info["exact"]:
        ef, recall = _widen(index, vectors)
        if ef is None:  # the graph cannot find what exact search finds: search exactly
            for lo in range(0, n, 65536):
                exact.add(np.ascontiguousarray(vectors[lo : lo + 65536]))
            index, info = exact, {"type": "IndexFlatIP", "exact": True,
                                  "graph_recall_at_10": round(recall, 4)}
        else:
            info.update(ef_search=ef, recall_at_10=round(recall, 4))
    faiss.write_index(index, str(folder / FILE))
    return info


def _widen(index, vectors: np.ndarray) -> tuple[int | None, float]:
    """The smallest efSearch whose recall@10 on sampled queries reaches RECALL_TARGET (None
    when none does), and that recall (or the best seen)."""
    rng = np.random.default_rng(0)
    rows = rng.choice(len(vectors), min(RECALL_SAMPLE, len(vectors)), replace=False)
    queries = np.asarray(vectors[rows], dtype=np.float32)
    queries = queries + rng.normal(0, 0.03, queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.zeros((len(queries), 10), dtype=np.int64)
    for lo in range(0, len(queries), 50):  # exact top 10, in blocks of queries
        scores = np.asarray(vectors, dtype=np.float32) @ queries[lo : lo + 50].T
        truth[lo : lo + 50] = np.argpartition(-scores, 9, axis=0)[:10].T  # as sets
    best = 0.0
    for ef in EF_SEARCH_STEPS:
        index.hnsw.efSearch = ef
        _, found = index.search(queries, 10)
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth,
                                                                          strict=True)]))
        best = max(best, recall)
        if recall >= RECALL_TARGET:
            return ef, recall
    return None, best


def load(folder: Path, info: dict, size: int):
    """The FAISS index in `folder`, checked against the paragraph count; IndexError_ if not."""
    import faiss

    try:
        index = faiss.read_index(str(folder / FILE))
    except RuntimeError as exc:
        raise IndexError_(f"FAISS index in {folder} is missing or corrupt") from exc
    if index.ntotal != size:
        raise IndexError_(f"FAISS index in {folder} is inconsistent; rebuild it")
    if info.get("ef_search"):
        index.hnsw.efSearch = info["ef_search"]
    return index

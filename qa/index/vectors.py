"""Dense search over the paragraph vectors: which FAISS index, building it, loading it.

The index is chosen by the archive's size and the memory it may take (`memory_mb`,
QA_INDEX_MEMORY_MB):

- up to `EXACT_SEARCH_MAX` paragraphs, exact search (~0.35 ms per 1,000 vectors on one core);
- then an HNSW graph over the float vectors (~1 ms at 90k paragraphs) while graph and vectors
  fit the budget (~1.8 kB a paragraph: 600k in the default 1 GB);
- beyond, compressed codes (IVF lists of PQ codes, 48 bytes a paragraph) whose candidates are
  re-ranked on the exact vectors, read from the memory-mapped vectors.npy: the RAM is the codes'
  and the pages of vectors a question touches.

Graphs and codes are checked against exact search on sampled queries and searched wider
until their recall@10 reaches their target; a graph that cannot reach it gives way to exact
search. Vectors are unit length, so inner product is cosine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.errors import IndexError_

FILE = "faiss.index"
EXACT_SEARCH_MAX = 20_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
RECALL_TARGET = 0.99  # recall@10 of the graph against exact search, on a sample of queries
RECALL_SAMPLE = 200
EF_SEARCH_STEPS = (HNSW_EF_SEARCH, 256, 512, 1024, 2048)

MEMORY_MB = 1024  # what the vector index may hold in RAM, by default
PQ_BYTES = 48  # code bytes per vector (8 dimensions a byte at 384)
PQ_MIN = 10_000  # fewer vectors cannot train 256 centroids per code byte well
# faiss.index_factory; an OPQ rotation in front gained no recall on xwlb vectors (1.6x the
# training time; benchmarks/bench_scale.py)
CODES = "IVF{lists},PQ{m}"
KMEANS_ITERATIONS = 10
PQ_RECALL_TARGET = 0.97
PQ_TRAIN_PER_LIST, PQ_TRAIN_MAX = 64, 262_144  # training sample: vectors per list, at most
# Sampled queries reach 0.98 at nprobe 32 where real questions over a million xwlb-like
# paragraphs reach 0.94 (they crowd where the copies of reports do), and the codes rank the
# best 10 of near-copies loosely: so nprobe from 64, and 800 candidates re-ranked (real
# questions 0.957 at a million; benchmarks/bench_scale.py).
NPROBE_STEPS = (64, 128, 256, 512)
RERANK = 800  # candidates from the codes re-ranked on the exact vectors
BLOCK = 65_536  # vectors per block when adding or scanning


class Kind(NamedTuple):
    type: str  # "IndexFlatIP", "IndexHNSWFlat" or "IVFPQ"
    ram_mb: float  # what it holds in RAM, estimated


def choose(n: int, dim: int, memory_mb: int = MEMORY_MB) -> Kind:
    """The index for `n` vectors of `dim` floats within `memory_mb`."""
    flat = n * dim * 4 / 2**20
    if n <= EXACT_SEARCH_MAX:
        return Kind("IndexFlatIP", flat)
    graph = flat + n * HNSW_M * 2 * 4 * 1.1 / 2**20  # level 0 holds 2M neighbours; upper levels
    if graph <= memory_mb or n < PQ_MIN:
        return Kind("IndexHNSWFlat", graph)
    lists = _lists(n)
    return Kind("IVFPQ", (n * (PQ_BYTES + 8) + lists * dim * 4 + dim * dim * 4) / 2**20)


def _lists(n: int) -> int:
    """IVF lists: about 4·√n, a multiple of 256 (4,096 at a million)."""
    return max(256, int(round(4 * math.sqrt(n) / 256)) * 256)


class Dense:
    """A version's FAISS index, searched as its manifest says: exactly, as a graph, or as codes
    whose candidates are re-ranked on the exact vectors."""

    def __init__(self, index, vectors: np.ndarray, info: dict):
        self.index, self.vectors, self.info = index, vectors, info
        self.rerank = info["type"] == "IVFPQ"

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), k), best first; ids -1 past the end. `allowed`:
        the only ids that may be returned."""
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        sel = faiss.IDSelectorBatch(allowed.astype(np.int64)) if allowed is not None else None
        if not self.rerank:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
            return self.index.search(queries, k, params=params)
        params = faiss.SearchParametersIVF(nprobe=self.info["nprobe"])
        if sel is not None:
            params.sel = sel
        if isinstance(self.index, faiss.IndexPreTransform):  # the OPQ rotation in front
            params = faiss.SearchParametersPreTransform(index_params=params)
        _, candidates = self.index.search(queries, max(k, self.info.get("rerank", RERANK)),
                                          params=params)
        return _rerank(self.vectors, queries, candidates, k)


def _rerank(vectors: np.ndarray, queries: np.ndarray, candidates: np.ndarray,
            k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
        found = found[found >= 0]
        if not len(found):
            continue
        order = np.argsort(found)  # memory-mapped rows are read in file order
        exact = np.asarray(vectors[found[order]]) @ query
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)], ids[row, : len(best)] = exact[best], found[order][best]
    return scores, ids


def build(vectors: np.ndarray, folder: Path, memory_mb: int = MEMORY_MB) -> dict:
    """Write the FAISS index over `vectors` (n, dim) into `folder`; its manifest entry.

    A graph or codes are checked against exact search on sampled queries (paragraph vectors
    moved off themselves, as a question lies near but not on its paragraph) and searched wider
    until recall@10 reaches the target; a graph that cannot reach it gives way to exact search
    (a batch of near-identical paragraphs once hid a known answer from efSearch 128)."""
    import faiss

    n, dim = vectors.shape
    kind = choose(n, dim, memory_mb)
    info: dict = {"type": kind.type, "exact": kind.type == "IndexFlatIP",
                  "ram_mb": round(kind.ram_mb, 1), "memory_mb": memory_mb}
    if kind.type == "IndexFlatIP":
        index = faiss.IndexFlatIP(dim)
    elif kind.type == "IndexHNSWFlat":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        info.update(M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION)
    else:
        index = _trained_codes(vectors)
        info.update(lists=_lists(n), code_bytes=PQ_BYTES, rerank=RERANK, trained_on=n)
    add(index, vectors, 0)
    if kind.type == "IndexHNSWFlat":
        ef, recall = _widen(Dense(index, vectors, info), vectors, EF_SEARCH_STEPS, RECALL_TARGET,
                            lambda ef: setattr(index.hnsw, "efSearch", ef))
        if ef is None:  # the graph cannot find what exact search finds: search exactly
            index = faiss.IndexFlatIP(dim)
            add(index, vectors, 0)
            info = {"type": "IndexFlatIP", "exact": True, "ram_mb": info["ram_mb"],
                    "memory_mb": memory_mb, "graph_recall_at_10": round(recall, 4)}
        else:
            info.update(ef_search=ef, recall_at_10=round(recall, 4))
    elif kind.type == "IVFPQ":
        dense = Dense(index, vectors, info)
        nprobe, recall = _widen(dense, vectors, NPROBE_STEPS, PQ_RECALL_TARGET,
                                lambda p: info.update(nprobe=p))
        info.update(nprobe=nprobe or NPROBE_STEPS[-1], recall_at_10=round(recall, 4))
    faiss.write_index(index, str(folder / FILE))
    return info


def extend(old: Path, info: dict, vectors: np.ndarray, start: int, folder: Path,
           memory_mb: int = MEMORY_MB) -> dict | None:
    """The index of the version in `old` (built over `vectors[:start]`) with `vectors[start:]`
    added, written into `folder`; its manifest entry. None when the archive has outgrown it
    (another kind is due for the new size, or codes trained on less than half the vectors):
    then `build` a new one."""
    import faiss

    n, dim = vectors.shape
    due = choose(n, dim, memory_mb).type
    fallback = info.get("type") == "IndexFlatIP" and "graph_recall_at_10" in info
    if (due != info.get("type") and not fallback) or n < start or \
            (due == "IVFPQ" and n > 2 * info.get("trained_on", 0)):
        return None
    try:
        index = faiss.read_index(str(old / FILE))
    except RuntimeError:
        return None
    if index.ntotal != start:
        return None
    add(index, vectors, start)
    faiss.write_index(index, str(folder / FILE))
    return {**info, "added_since_built": info.get("added_since_built", 0) + n - start}


def _trained_codes(vectors: np.ndarray):
    """IVF lists of PQ codes, trained on an even sample of the vectors."""
    import faiss

    n, dim = vectors.shape
    lists = _lists(n)
    index = faiss.index_factory(dim, CODES.format(m=PQ_BYTES, lists=lists),
                                faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    ivf.cp.niter = KMEANS_ITERATIONS
    ivf.do_polysemous_training = False  # for Hamming filtering, which is not used: 10x the time
    size = min(n, max(lists * PQ_TRAIN_PER_LIST, 4 * BLOCK), PQ_TRAIN_MAX)
    rows = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
    index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    return index


def add(index, vectors: np.ndarray, start: int) -> None:
    """Add `vectors[start:]` to `index` in blocks (its ids follow on from `start`)."""
    for lo in range(start, len(vectors), BLOCK):
        index.add(np.ascontiguousarray(vectors[lo : lo + BLOCK], dtype=np.float32))


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The ids of each query's k nearest vectors (as sets), scanning `vectors` in blocks."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for lo in range(0, len(vectors), BLOCK):
        scores = queries @ np.asarray(vectors[lo : lo + BLOCK], dtype=np.float32).T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], axis=1)
        cand_i = np.concatenate([best_i, top + lo], axis=1)
        keep = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_i, keep, 1)
    return best_i


def sample_queries(vectors: np.ndarray, count: int = RECALL_SAMPLE) -> np.ndarray:
    """Paragraph vectors moved off themselves: questions lie near, not on, their paragraph."""
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(vectors), min(count, len(vectors)), replace=False))
    queries = np.asarray(vectors[rows], dtype=np.float32)
    queries = queries + rng.normal(0, 0.03, queries.shape).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def recall_at_10(dense: Dense, queries: np.ndarray, truth: np.ndarray) -> float:
    _, found = dense.search(queries, 10)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def _widen(dense: Dense, vectors: np.ndarray, steps, target: float, set_width):
    """The smallest search width in `steps` whose recall@10 on sampled queries reaches
    `target` (None when none does), and that recall (or the best seen)."""
    queries = sample_queries(vectors)
    truth = exact_top(vectors, queries, 10)
    best = 0.0
    for width in steps:
        set_width(width)
        recall = recall_at_10(dense, queries, truth)
        best = max(best, recall)
        if recall >= target:
            return width, recall
    return None, best


def load(folder: Path, info: dict, vectors: np.ndarray) -> Dense:
    """The FAISS index in `folder` over `vectors`, checked against their count; IndexError_
    if it is missing, corrupt or of another size."""
    import faiss

    try:
        index = faiss.read_index(str(folder / FILE))
    except RuntimeError as exc:
        raise IndexError_(f"FAISS index in {folder} is missing or corrupt") from exc
    if index.ntotal != len(vectors):
        raise IndexError_(f"FAISS index in {folder} is inconsistent; rebuild it")
    if info.get("ef_search"):
        index.hnsw.efSearch = info["ef_search"]
    return Dense(index, vectors, {"type": info.get("type", "IndexFlatIP"), **info})

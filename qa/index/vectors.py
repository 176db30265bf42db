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


def build(vectors: np.ndarray, folder: Path) -> dict:
    """Write the FAISS index over `vectors` (n, dim) into `folder`; its manifest entry."""
    import faiss

    n, dim = vectors.shape
    if n <= EXACT_SEARCH_MAX:
        index, info = faiss.IndexFlatIP(dim), {"type": "IndexFlatIP", "exact": True}
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        info = {"type": "IndexHNSWFlat", "exact": False, "M": HNSW_M,
                "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH}
    for lo in range(0, n, 65536):
        index.add(np.ascontiguousarray(vectors[lo : lo + 65536]))
    faiss.write_index(index, str(folder / FILE))
    return info


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

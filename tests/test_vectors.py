"""The vector index chosen by size and memory budget, and each kind searched right."""

import numpy as np
import pytest

from qa.errors import IndexError_
from qa.index import vectors as vectors_


def _clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors in 300 loose clusters, as paragraphs of one archive are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(300, dim)).astype(np.float32)
    x = centres[rng.integers(0, 300, n)] + rng.normal(0, 0.5, (n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_index_follows_size_and_memory_budget():
    assert vectors_.choose(20_000, 384).type == "IndexFlatIP"
    assert vectors_.choose(100_000, 384).type == "IndexHNSWFlat"  # 180 MB: within 1 GB
    million = vectors_.choose(1_000_000, 384)
    assert million.type == "IVFPQ" and million.ram_mb < 100  # codes, not 1.5 GB of floats
    assert vectors_.choose(1_000_000, 384, memory_mb=4096).type == "IndexHNSWFlat"
    assert vectors_.choose(5_000, 384, memory_mb=0).type == "IndexFlatIP"
    assert vectors_.choose(25_000, 384, memory_mb=0).type == "IVFPQ"


def test_codes_are_reranked_on_the_exact_vectors_and_keep_a_mask(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors_, "EXACT_SEARCH_MAX", 100)
    monkeypatch.setattr(vectors_, "PQ_MIN", 1_000)
    monkeypatch.setattr(vectors_, "PQ_BYTES", 16)
    x = _clustered(12_000)
    info = vectors_.build(x, tmp_path, memory_mb=0)
    assert info["type"] == "IVFPQ" and info["recall_at_10"] >= vectors_.PQ_RECALL_TARGET
    dense = vectors_.load(tmp_path, info, x)
    queries = vectors_.sample_queries(x, 50)
    truth = vectors_.exact_top(x, queries, 10)
    assert vectors_.recall_at_10(dense, queries, truth) >= 0.9
    scores, ids = dense.search(queries[:1], 5)
    assert np.allclose(scores[0], x[ids[0]] @ queries[0], atol=1e-6)  # exact, not PQ, scores
    assert list(scores[0]) == sorted(scores[0], reverse=True)
    allowed = np.arange(0, len(x), 7)
    _, ids = dense.search(queries[:5], 10, allowed=allowed)
    assert (ids % 7 == 0).all()
    with pytest.raises(IndexError_, match="inconsistent"):
        vectors_.load(tmp_path, info, x[:-1])


def test_exact_top_matches_a_full_sort(monkeypatch):
    x = _clustered(3_000, seed=1)
    q = vectors_.sample_queries(x, 20)
    full = np.argsort(-(q @ x.T), axis=1)[:, :10]
    monkeypatch.setattr(vectors_, "BLOCK", 700)  # several blocks, the last short
    found = vectors_.exact_top(x, q, 10)
    assert [set(r) for r in found] == [set(r) for r in full]

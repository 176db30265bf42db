"""BM25 (Lucene variant) over pre-tokenised documents, stored as plain .npy/.json files.

Like bm25s, scores are computed at build time: one posting list per term holding each
document's final BM25 contribution, so a query is a few vector additions.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.errors import IndexError_


class BM25Params(NamedTuple):
    k1: float = 1.2
    b: float = 0.75


DEFAULT_PARAMS = BM25Params()


class BM25:
    """Term -> (doc ids, scores) postings in CSC layout."""

    FILES = ("bm25_vocab.json", "bm25_indptr.npy", "bm25_indices.npy", "bm25_data.npy")

    def __init__(
        self,
        vocab: dict[str, int],
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        n_docs: int,
        params: BM25Params,
    ):
        self.vocab = vocab
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.n_docs = n_docs
        self.params = params

    @classmethod
    def build(cls, docs: Iterable[Sequence[str]], params: BM25Params = DEFAULT_PARAMS) -> BM25:
        """Index tokenised documents; document i gets id i. Memory: 12 bytes per posting."""
        vocab: dict[str, int] = {}
        term_ids, doc_ids, tfs, lengths = array("i"), array("i"), array("f"), array("i")
        for doc_id, terms in enumerate(docs):
            lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                term_ids.append(vocab.setdefault(term, len(vocab)))
                doc_ids.append(doc_id)
                tfs.append(tf)
        n = len(lengths)
        t = np.frombuffer(term_ids, dtype=np.int32)
        order = np.argsort(t, kind="stable")
        indices = np.frombuffer(doc_ids, dtype=np.int32)[order]
        tf = np.frombuffer(tfs, dtype=np.float32)[order]
        df = np.bincount(t, minlength=len(vocab))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        dl = np.frombuffer(lengths, dtype=np.int32).astype(np.float32)
        avgdl = float(dl.mean()) if n else 1.0
        norm = params.k1 * (1 - params.b + params.b * dl / max(avgdl, 1e-9))
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        per_posting_idf = np.repeat(idf, df)
        data = (per_posting_idf * tf * (params.k1 + 1) / (tf + norm[indices])).astype(np.float32)
        return cls(vocab, indptr, indices.copy(), data, n, params)

    def scores(self, query_terms: Iterable[str]) -> np.ndarray:
        """BM25 score of every document for the query (each distinct term counted once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in dict.fromkeys(query_terms):
            tid = self.vocab.get(term)
            if tid is None:
                continue
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            out[self.indices[lo:hi]] += self.data[lo:hi]
        return out

    def save(self, folder: Path) -> None:
        meta = {"n_docs": self.n_docs, "params": self.params._asdict(), "vocab": self.vocab}
        (folder / "bm25_vocab.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        np.save(folder / "bm25_indptr.npy", self.indptr)
        np.save(folder / "bm25_indices.npy", self.indices)
        np.save(folder / "bm25_data.npy", self.data)

    @classmethod
    def load(cls, folder: Path) -> BM25:
        try:
            meta = json.loads((folder / "bm25_vocab.json").read_text("utf-8"))
            arrays = [
                np.load(folder / name, allow_pickle=False, mmap_mode="r")
                for name in cls.FILES[1:]
            ]
            bm25 = cls(meta["vocab"], *arrays, int(meta["n_docs"]), BM25Params(**meta["params"]))
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise IndexError_(f"BM25 index in {folder} is missing or corrupt: {first}") from exc
        if not bm25._consistent():
            raise IndexError_(f"BM25 index in {folder} is inconsistent; rebuild the index")
        return bm25

    def _consistent(self) -> bool:
        """Whether the postings fit together: one list per term, in order, of documents that
        exist (one pass over the arrays; a damaged file fails it instead of a question)."""
        indptr, indices = self.indptr, self.indices
        if (not isinstance(self.vocab, dict) or indptr.ndim != 1 or indices.ndim != 1 or self.data.ndim != 1
                or indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu"
                or self.data.dtype.kind != "f"
                or len(indptr) != len(self.vocab) + 1 or len(indices) != len(self.data)
                or indptr[0] != 0 or indptr[-1] != len(indices)):
            return False
        if len(indptr) > 1 and np.any(np.diff(indptr) < 0):
            return False
        return not len(indices) or (indices.min() >= 0 and indices.max() < self.n_docs)

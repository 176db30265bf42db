"""Hybrid retrieval: FAISS (dense) and BM25 (lexical) candidates, fused by reciprocal rank."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qa.index.lexical import fold, tokenize
from qa.index.store import Store, check_embedder
from qa.model.embed import Embedder
from qa.types import Hit

BRUTE_FORCE_MAX = 50_000  # filtered searches over at most this many rows skip FAISS
MAX_COPIES = 50  # copies of one text named on its hit


class Filters(NamedTuple):
    date_from: str | None = None  # ISO dates, inclusive
    date_to: str | None = None
    newspaper: str | None = None

    def mask(self, store: Store) -> np.ndarray | None:
        """Boolean mask over paragraph ids, or None when nothing is filtered."""
        if not any(self):
            return None
        mask = np.ones(store.size, dtype=bool)
        if self.date_from:
            mask &= store.dates >= self.date_from
        if self.date_to:
            mask &= store.dates <= self.date_to
        if self.date_from or self.date_to:
            mask &= store.dates != ""
        if self.newspaper:
            mask &= store.newspapers == self.newspaper
        return mask


class Fusion(NamedTuple):
    """Weighted reciprocal-rank fusion: score = sum(w / (k + rank))."""

    k: int = 20  # best R@5/R@10 on CMRC trial (benchmarks/bench_retrieval.py recall)
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    pool: int = 100  # candidates taken from each side
    # BM25 counts fully when the archive's vocabulary knows at least this share of the query's
    # terms (by characters), and proportionally less below: English words asked of a Chinese
    # archive match little but noise, so the dense side must decide.
    full_coverage: float = 0.5


DEFAULT_FUSION = Fusion()


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Ids of the n highest positive scores, best first."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > n:
        candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def _bigrams(text: str) -> set[str]:
    kept = "".join(ch for ch in fold(text) if ch.isalnum())
    return {kept[i : i + 2] for i in range(len(kept) - 1)}


NEAR_DUPLICATE = 0.85  # character-bigram Jaccard of two copies of one text


def _jaccard(x: set[str], y: set[str]) -> float:
    return len(x & y) / len(x | y) if x and y else 0.0


class Retriever:
    """Finds the paragraphs closest to a query in one index version."""

    def __init__(self, store: Store, embedder: Embedder, fusion: Fusion = DEFAULT_FUSION):
        check_embedder(store.manifest, embedder.identity(), store.folder)
        self.store = store
        self.embedder = embedder
        self.fusion = fusion

    def coverage(self, query: str | list[str]) -> float:
        """The share of the query's BM25 terms (by characters) that the archive's vocabulary
        holds: 1.0 for a query of no terms. `query` may be given as its terms."""
        terms = tokenize(query) if isinstance(query, str) else query
        total = sum(len(term) for term in terms)
        known = sum(len(term) for term in terms if term in self.store.bm25.vocab)
        return known / total if total else 1.0

    def lexical(self, query: str | list[str], n: int,
                mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """BM25 candidates as (paragraph id, score), best first; `query` may be its terms."""
        scores = self.store.bm25.scores(tokenize(query) if isinstance(query, str) else query)
        if mask is not None:
            scores[~mask] = 0
        ids = _top(scores, n)
        return [(int(i), float(scores[i])) for i in ids]

    def dense(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Embedding candidates as (paragraph id, cosine), best first."""
        if self.store.size == 0:
            return []
        qv = np.asarray(self.embedder.embed_queries([query]), dtype=np.float32).reshape(1, -1)
        if mask is None:
            scores, ids = self.store.faiss.search(qv, min(n, self.store.size))
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        allowed = np.flatnonzero(mask)
        if len(allowed) <= BRUTE_FORCE_MAX:
            sims = np.asarray(self.store.vectors[allowed]) @ qv[0]
            order = np.argsort(-sims, kind="stable")[:n]
            return [(int(allowed[i]), float(sims[i])) for i in order]
        scores, ids = self.store.faiss.search(qv, n, allowed=allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k best paragraphs for `query`, near-duplicates collapsed into one hit.

        `query` is taken as typed-and-checked (qa.text.check_question does that at the edge).
        """
        return self.search_within(query, k, (filters or Filters()).mask(self.store))

    def search_within(self, query: str, k: int, mask: np.ndarray | None) -> list[Hit]:
        """`search` over the paragraphs `mask` admits (all when None), for a caller that
        needs the mask too (the answer stage reports how many articles it admitted)."""
        if not any(ch.isalnum() for ch in query) or k <= 0:
            return []
        f = self.fusion
        admitted, mask = mask, self._one_of_each_text(mask)
        pool = min(max(f.pool, 3 * k), max(self.store.size, 1))
        terms = tokenize(query)  # once: BM25 and its weight both read them
        lexical = self.lexical(terms, pool, mask)
        dense = self.dense(query, pool, mask)
        lexical_weight = f.lexical_weight * min(1.0, self.coverage(terms) / f.full_coverage)
        fused: dict[int, float] = {}
        for weight, ranked in ((f.dense_weight, dense), (lexical_weight, lexical)):
            for rank, (pid, _) in enumerate(ranked, 1):
                fused[pid] = fused.get(pid, 0.0) + weight / (f.k + rank)
        order = sorted(fused, key=lambda pid: (-fused[pid], pid))
        return self._hits(order, fused, dense, lexical, k, admitted)

    def _one_of_each_text(self, mask: np.ndarray | None) -> np.ndarray | None:
        """`mask` with one paragraph of each text left (the first it admits): a text copied
        hundreds of times (a page uploaded again and again, a boilerplate line) would else
        fill the candidate pools and crowd out every other paragraph."""
        store = self.store
        if not store.duplicated:
            return mask
        kept = np.ones(store.size, dtype=bool) if mask is None else mask.copy()
        repeated = store.repeated if mask is None else store.repeated[mask[store.repeated]]
        kept[repeated] = False
        _, first = np.unique(store.copy_group[repeated], return_index=True)  # ids ascending
        kept[repeated[first]] = True
        return kept

    def _copies_of(self, pid: int, mask: np.ndarray | None) -> list[int]:
        """Other paragraphs of the same text as `pid` (that `mask` admits), at most MAX_COPIES."""
        store = self.store
        if not store.duplicated:
            return []
        same = store.repeated[store.copy_group[store.repeated] == store.copy_group[pid]]
        if mask is not None:
            same = same[mask[same]]
        return [int(i) for i in same if i != pid][:MAX_COPIES]

    def _hits(self, order, fused, dense, lexical, k, admitted) -> list[Hit]:
        """Collapse near-copies of one text, then load the k best hits with their copies."""
        dense_rank = {pid: (r, s) for r, (pid, s) in enumerate(dense, 1)}
        lexical_rank = {pid: (r, s) for r, (pid, s) in enumerate(lexical, 1)}
        rows = dict(zip(order[: 4 * k], self.store.paragraphs(order[: 4 * k]), strict=True))
        heads: list[int] = []
        copies: dict[int, list[int]] = {}
        grams: dict[int, set[str]] = {}

        def copy_of(h: int, pid: int) -> bool:
            if self.store.hashes[h] == self.store.hashes[pid]:
                return True
            a, b = len(rows[h][0].text), len(rows[pid][0].text)
            if min(a, b) < NEAR_DUPLICATE * max(a, b):
                return False  # lengths too far apart for the Jaccard to reach the threshold
            for i in (h, pid):
                if i not in grams:
                    grams[i] = _bigrams(rows[i][0].text)
            return _jaccard(grams[h], grams[pid]) >= NEAR_DUPLICATE

        for pid in order[: 4 * k]:
            same = next((h for h in heads if copy_of(h, pid)), None)
            if same is None:
                if len(heads) == k:
                    continue
                heads.append(pid)
                copies[pid] = []
            else:
                copies[same].append(pid)
        hits = []
        for pid in heads:
            paragraph, article = rows[pid]
            d, lx = dense_rank.get(pid, (None, None)), lexical_rank.get(pid, (None, None))
            same = [c for c in self._copies_of(pid, admitted) if c not in copies[pid]]
            hits.append(Hit(pid, fused[pid], paragraph, article, d[0], lx[0], d[1], lx[1],
                            tuple(copies[pid] + same)))
        return hits

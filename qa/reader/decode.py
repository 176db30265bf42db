"""Start/end logits to scored spans (NumPy only): the decoder every span reader shares, whatever
runtime produced the logits."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qa.reader.base import best_first, relative, sentences, tidy
from qa.reader.windows import Windows
from qa.types import Span


def decode(windows: Windows, starts: np.ndarray, ends: np.ndarray, passages: Sequence[str],
           retrieval_scores: Sequence[float] | None = None, *, max_answer_tokens: int = 30,
           top_n: int = 20, retrieval_weight: float = 1.0) -> list[Span]:
    """Spans from start/end logits (windows x tokens), scored by softmax against no answer.

    A span's logit is its start + end logit plus `retrieval_weight` times its passage's
    retrieval score relative to the best passage (so the top passage keeps its logit). The
    no-answer logit is the [CLS] start + end of the window that believes in an answer most.
    Every pair of a window's `top_n` starts and ends counts in the softmax; the `top_n` best
    of each passage become spans.
    """
    starts, ends = np.asarray(starts, dtype=np.float32), np.asarray(ends, dtype=np.float32)
    rel = relative(retrieval_scores, len(passages)) if retrieval_scores is not None else None
    parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # logits, passage, a, b
    null = math.inf
    for f, p in enumerate(windows.owners):
        lo, hi = windows.context[f]
        if lo < 0:
            continue
        null = min(null, float(starts[f, 0] + ends[f, 0]))
        bonus = retrieval_weight * (rel[p] - 1) if rel else 0.0
        n = min(top_n, hi - lo + 1)
        s_top = _top(starts[f, lo : hi + 1], n) + lo
        e_top = _top(ends[f, lo : hi + 1], n) + lo
        si, ei = np.meshgrid(s_top, e_top, indexing="ij")
        si, ei = si.ravel(), ei.ravel()
        offsets = np.asarray(windows.offsets[f])
        a, b = offsets[si, 0], offsets[ei, 1]
        ok = (si <= ei) & (ei < si + max_answer_tokens) & (b > a)
        logits = (starts[f, si[ok]] + ends[f, ei[ok]]).astype(np.float64) + bonus
        parts.append((logits, p, a[ok], b[ok]))
    return _softmax_spans(parts, null, passages, top_n)


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest values, largest first."""
    idx = np.argpartition(-values, n - 1)[:n] if n < len(values) else np.arange(len(values))
    return idx[np.argsort(-values[idx], kind="stable")]


def _softmax_spans(parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]], null: float,
                   passages: Sequence[str], per_passage: int) -> list[Span]:
    """Spans from (logits, passage, starts, ends), scored by their share of the softmax mass
    over all candidates and the no-answer logit `null`; the `per_passage` best of each passage
    tidied, deduplicated, best first."""
    logits = np.concatenate([x[0] for x in parts]) if parts else np.empty(0)
    if not len(logits):
        return []
    top = max(float(logits.max()), null if null < math.inf else -math.inf)
    norm = (math.exp(null - top) if null < math.inf else 0.0) + float(np.exp(logits - top).sum())
    out: list[Span] = []
    for logit_p, p, a_p, b_p in _per_passage(parts, per_passage):
        bounds = sentences(passages[p])
        for logit, a, b in zip(logit_p.tolist(), a_p.tolist(), b_p.tolist(), strict=True):
            a, b = tidy(passages[p], a, b)
            if b <= a:
                continue
            ss = next((s for s, e in bounds if s <= a < e), a)
            se = next((e for s, e in bounds if s < b <= e), b)
            out.append(Span(p, a, b, passages[p][a:b], ss, se, math.exp(logit - top) / norm))
    return best_first(out)


def _per_passage(parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]], n: int
                 ) -> list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]:
    """Each passage's `n` highest logits (over all its windows), with their character bounds."""
    out = []
    for p in dict.fromkeys(x[1] for x in parts):
        mine = [x for x in parts if x[1] == p]
        logits = np.concatenate([x[0] for x in mine])
        a, b = np.concatenate([x[2] for x in mine]), np.concatenate([x[3] for x in mine])
        keep = _top(logits, n) if len(logits) else np.empty(0, int)
        out.append((logits[keep], p, a[keep], b[keep]))
    return out

"""Span readers in the Hugging Face format: windows in, start/end logits, spans out.

`HFReader` runs any extractive-QA model (a name in the local cache, or a folder), offline. The
work is split so that another runtime can stand in for PyTorch: `encode` cuts each passage
into overlapping windows of the question and the passage (with character offsets), a runtime
turns them into start/end logits, and `decode` (NumPy only) turns logits into scored spans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qa.errors import INSTALL_HINT, ModelError
from qa.reader.base import best_first, relative, sentences, tidy
from qa.reader.windows import Windower, Windows
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


class HFReader:
    """Any Hugging Face extractive-QA model, behind the `Answerer` interface (PyTorch)."""

    scale = "softmax share of the span against all candidate spans and no answer"

    def __init__(self, name: str, max_length: int = 384, stride: int = 128,
                 max_answer_tokens: int = 30, top_n: int = 20, device: str | None = None,
                 retrieval_weight: float = 1.0, threshold: float = 0.125):
        try:
            import torch
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             f"missing): {INSTALL_HINT}") from exc
        self.torch = torch
        self.name = f"hf {name}"
        self.tokenizer, self.model = self._load(name)
        if not self.tokenizer.is_fast:
            raise ModelError(f"reader {name!r} has no fast tokenizer; character offsets need one")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.windower = Windower(self.tokenizer.backend_tokenizer, max_length, stride,
                                 self.tokenizer.pad_token_id)
        self.max_answer_tokens, self.top_n = max_answer_tokens, top_n
        self.retrieval_weight = retrieval_weight
        self.threshold = threshold

    def _load(self, name: str):
        """(fast tokenizer, model whose output has start_logits and end_logits)."""
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             f"missing): {INSTALL_HINT}") from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, use_fast=True)
            model = AutoModelForQuestionAnswering.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"reader model {name!r} is not available offline (a local folder, or a model "
                f"already in the Hugging Face cache): {exc}"
            ) from exc
        return tokenizer, model

    def confidence(self, score: float) -> float:
        return score  # uncalibrated: the softmax share stands in for it

    def logits(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits, (windows, tokens) each, as float32."""
        torch = self.torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(windows.input_ids).to(self.device),
                             attention_mask=torch.from_numpy(windows.attention_mask).to(self.device))
        return (out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy())

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """All passages (and their overlapping windows) go through the model as one batch."""
        if not passages:
            return []
        windows = self.windower.batch(question, passages)
        starts, ends = self.logits(windows)
        return decode(windows, starts, ends, passages, retrieval_scores,
                      max_answer_tokens=self.max_answer_tokens, top_n=self.top_n,
                      retrieval_weight=self.retrieval_weight)
